/**
 * Interventions on hand-set tiny weights (METHOD.md §7), every expected vector derived in a comment:
 * d = 2, n = 3, decoder (and encoder) rows f0 = (1, 0), f1 = (0, 1), f2 = (0.6, 0.8), no biases, k = 1.
 * Query x = (0.9, 0.1): pre-activations (0.9, 0.1, 0.62) → the code keeps f0 at 0.9; x̂ = (0.9, 0); error (0, 0.1).
 */
import { describe, expect, it } from "vitest";
import type { SaeParams } from "../../src/sae/params.js";
import { activeFeatures, addDirection, addDirections, clampQuery, cosineOf, encodeQuery, familyEdits } from "../../src/steer/interventions.js";

const W = Float32Array.from([1, 0, 0, 1, 0.6, 0.8]);
const params: SaeParams = { d: 2, n: 3, wEncFD: W, wDecFD: W, bLatF: new Float32Array(3), bPreD: new Float32Array(2) };
const x = Float32Array.from([0.9, 0.1]);
const close = (a: ArrayLike<number>, b: number[]) => b.forEach((v, i) => expect(a[i]).toBeCloseTo(v, 6));

describe("interventions", () => {
  const code = encodeQuery(params, x, 1);

  it("encodeQuery keeps the top latent and the SAE error", () => {
    expect(Array.from(code.indicesK)).toEqual([0]);
    close(code.valuesK, [0.9]);
    close(code.errorD, [0, 0.1]);
    expect(activeFeatures(code)).toEqual(new Map([[0, code.valuesK[0]!]]));
  });

  it("clamp decodes the edited code without the error (the app), or with it", () => {
    // z = {f0: 0.9, f1: 0.5} → (0.9, 0.5); with the error (0.9, 0.6).
    close(clampQuery(params, code, [{ feature: 1, value: 0.5 }]), [0.9, 0.5]);
    close(clampQuery(params, code, [{ feature: 1, value: 0.5 }], { keepError: true }), [0.9, 0.6]);
    // Unedited with the error: exactly the raw query; without: its reconstruction.
    close(clampQuery(params, code, [], { keepError: true }), [0.9, 0.1]);
    close(clampQuery(params, code, []), [0.9, 0]);
    // Clamping the active feature to 0 removes it.
    close(clampQuery(params, code, [{ feature: 0, value: 0 }]), [0, 0]);
  });

  it("add moves q along unit decoder directions, error kept", () => {
    // q + 1·f2 − 0.5·f0 = (0.9 + 0.6 − 0.5, 0.1 + 0.8) = (1.0, 0.9).
    close(addDirections(params, x, [{ feature: 2, value: 1 }, { feature: 0, value: -0.5 }]), [1.0, 0.9]);
    close(addDirection(x, Float32Array.from([3, 4]), 5), [3.9, 4.1]);
    expect(cosineOf([1, 0], [0, 2])).toBe(0);
    expect(cosineOf([1, 1], [2, 2])).toBeCloseTo(1, 12);
  });

  it("a family strength is spread by P(member | parent), or equally, summing or peaking at the strength", () => {
    const fam = { root: 0, members: [{ feature: 1, givenParent: 0.5 }] };
    // Weights 1 and 0.5: sum 1.5 → 3·(1, 0.5)/1.5 = (2, 1); max 1 → (3, 1.5); equal and sum → (1.5, 1.5).
    expect(familyEdits(fam, 3, "cooccurrence", "sum")).toEqual([{ feature: 0, value: 2 }, { feature: 1, value: 1 }]);
    expect(familyEdits(fam, 3, "cooccurrence", "max")).toEqual([{ feature: 0, value: 3 }, { feature: 1, value: 1.5 }]);
    expect(familyEdits(fam, 3, "equal", "sum")).toEqual([{ feature: 0, value: 1.5 }, { feature: 1, value: 1.5 }]);
  });

  it("bad input is an error, never a silent zero vector", () => {
    expect(() => addDirections(params, x, [{ feature: 3, value: 1 }])).toThrow(/feature 3 is outside the SAE's dictionary \[0, 3\)/);
    expect(() => clampQuery(params, code, [{ feature: -1, value: 1 }])).toThrow(/outside the SAE's dictionary/);
    expect(() => addDirections(params, x, [{ feature: 1, value: Number.NaN }])).toThrow(/not a finite number/);
    expect(() => addDirection(x, Float32Array.from([0, 0]), 1)).toThrow(/zero direction/);
    expect(() => familyEdits({ root: 0, members: [] }, Infinity, "equal", "sum")).toThrow(/not a finite number/);
    expect(() => encodeQuery(params, Float32Array.from([1, 2, 3]), 1)).toThrow(/query embedding has 3 dimensions but the SAE expects 2/);
    expect(() => encodeQuery(params, Float32Array.from([1, Number.NaN]), 1)).toThrow(/non-finite/);
  });
});
