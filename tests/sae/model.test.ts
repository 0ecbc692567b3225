/**
 * Tests for SAE inference (src/sae/model.ts): encode/decode on hand-set weights with exact outputs, agreement
 * with the reference step's forward pass across the row-block boundary, exact reconstruction where the
 * dictionary allows it, and NMSE.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { normalizeRowsInPlace } from "../../src/core/vector.js";
import { resolveSaeConfig } from "../../src/sae/config.js";
import { decodeSparse, encodeTopK, nmse, reconstruct } from "../../src/sae/model.js";
import { naiveGradients, naiveLoss } from "../../src/sae/naive.js";
import type { SaeParams } from "../../src/sae/params.js";

/**
 * d = 2, n = 3: wEnc rows (2,0) (0,1) (1,1), bLat (0, 0, −2), wDec rows (1,0) (0,1) (0.6,0.8), bPre (0.5, 0.5).
 *   x = (3.5, 1.5) → xc = (3, 1) → h = (6, 1, 2)
 *   x = (0.5, 4.5) → xc = (0, 4) → h = (0, 4, 2)
 *   x = (0.5, 0.5) → xc = (0, 0) → h = (0, 0, −2)   (a tie at 0: the lower index wins; ReLU(−2) = 0)
 */
function handParams(): SaeParams {
  return {
    d: 2,
    n: 3,
    wEncFD: Float32Array.from([2, 0, 0, 1, 1, 1]),
    bLatF: Float32Array.from([0, 0, -2]),
    wDecFD: Float32Array.from([1, 0, 0, 1, 0.6, 0.8]),
    bPreD: Float32Array.from([0.5, 0.5]),
  };
}
const HAND_X = Float32Array.from([3.5, 1.5, 0.5, 4.5, 0.5, 0.5]);

function randomParams(rng: Rng, d: number, n: number): SaeParams {
  const wDecFD = rng.fillNormalInPlace(new Float32Array(n * d));
  normalizeRowsInPlace(wDecFD, n, d);
  return {
    d,
    n,
    wEncFD: rng.fillNormalInPlace(new Float32Array(n * d), 0, 0.5),
    bLatF: rng.fillNormalInPlace(new Float32Array(n), 0, 0.2),
    wDecFD,
    bPreD: rng.fillNormalInPlace(new Float32Array(d), 0, 0.1),
  };
}

describe("encodeTopK / decodeSparse on hand-set weights", () => {
  it("k = 1", () => {
    const { indicesBK, valuesBK } = encodeTopK(handParams(), HAND_X, 3, 1);
    expect(Array.from(indicesBK)).toEqual([0, 1, 0]);
    expect(Array.from(valuesBK)).toEqual([6, 4, 0]);
    // x̂ = bPre + z·wDec[idx]: (0.5 + 6, 0.5), (0.5, 0.5 + 4), bPre.
    expect(Array.from(reconstruct(handParams(), HAND_X, 3, 1))).toEqual([6.5, 0.5, 0.5, 4.5, 0.5, 0.5]);
  });

  it("k = 3 keeps the order by pre-activation and zeroes negatives", () => {
    const { indicesBK, valuesBK } = encodeTopK(handParams(), HAND_X, 3, 3);
    expect(Array.from(indicesBK)).toEqual([0, 2, 1, 1, 2, 0, 0, 1, 2]);
    expect(Array.from(valuesBK)).toEqual([6, 2, 1, 4, 2, 0, 0, 0, 0]);
  });

  it("decodes arbitrary codes: x̂ = bPre + Σ z·wDec[idx]", () => {
    // Row 0: 6·(1,0) + 2·(0.6,0.8) + bPre = (7.7, 2.1); row 1: only zeros → bPre.
    const out = decodeSparse(handParams(), Int32Array.from([0, 2, 1, 0]), Float32Array.from([6, 2, 0, 0]), 2, 2);
    expect(out[0]).toBeCloseTo(7.7, 6);
    expect(out[1]).toBeCloseTo(2.1, 6);
    expect(Array.from(out.subarray(2))).toEqual([0.5, 0.5]);
  });

  it("rejects bad k, bad shapes and out-of-range indices", () => {
    expect(() => encodeTopK(handParams(), HAND_X, 3, 4)).toThrow(/k must be an integer in \[1, n = 3\]/);
    expect(() => encodeTopK(handParams(), HAND_X, 2, 1)).toThrow(SaerchError);
    expect(() => decodeSparse(handParams(), Int32Array.from([3]), Float32Array.from([1]), 1, 1)).toThrow(
      /latent index 3 at row 0 is outside \[0, 3\)/,
    );
    const bad = { ...handParams(), bLatF: new Float32Array(2) };
    expect(() => encodeTopK(bad, HAND_X, 3, 1)).toThrow(/params.bLatF has 2 values/);
  });
});

describe("encodeTopK agrees with the reference forward pass", () => {
  it("on 300 rows (across the 256-row block boundary)", () => {
    const d = 16;
    const n = 40;
    const k = 5;
    const b = 300;
    const rng = new Rng(3);
    const params = randomParams(rng, d, n);
    const xBD = rng.fillNormalInPlace(new Float32Array(b * d));
    const xCopy = xBD.slice();
    const codes = encodeTopK(params, xBD, b, k);
    expect(xBD).toEqual(xCopy);
    const config = resolveSaeConfig({ d, n, k, steps: 1, batch: b }, b);
    const none = new Uint8Array(n);
    expect(codes.indicesBK).toEqual(naiveGradients(config, params, none, xBD).indicesBK);
    const xHat = decodeSparse(params, codes.indicesBK, codes.valuesBK, b, k);
    expect(nmse(xBD, xHat, b, d)).toBeCloseTo(naiveLoss(config, params, none, xBD).nmse, 6);
    // Blocks are independent: encoding the rows one block at a time gives the same codes.
    const tail = encodeTopK(params, xBD.subarray(256 * d), b - 256, k);
    expect(tail.indicesBK).toEqual(codes.indicesBK.subarray(256 * k));
    expect(tail.valuesBK).toEqual(codes.valuesBK.subarray(256 * k));
  });
});

describe("decode ∘ encode", () => {
  it("reconstructs exactly when the dictionary is ±the axes and k = d", () => {
    // Rows e1, e2, −e1, −e2: xc = (a, b) gives h = (a, b, −a, −b), whose top-2 are |a| on ±e1 and |b| on ±e2,
    // so x̂ = bPre + |a|·sign(a)e1 + |b|·sign(b)e2 = x.
    const axes = Float32Array.from([1, 0, 0, 1, -1, 0, 0, -1]);
    const params: SaeParams = {
      d: 2,
      n: 4,
      wEncFD: axes.slice(),
      bLatF: new Float32Array(4),
      wDecFD: axes.slice(),
      bPreD: Float32Array.from([0.25, -0.5]),
    };
    const b = 50;
    const xBD = new Rng(4).fillNormalInPlace(new Float32Array(b * 2));
    const xHat = reconstruct(params, xBD, b, 2);
    for (let p = 0; p < xBD.length; p++) expect(xHat[p]).toBeCloseTo(xBD[p]!, 6);
    expect(nmse(xBD, xHat, b, 2)).toBeLessThan(1e-12);
  });
});

describe("nmse", () => {
  it("is mean squared error over the batch variance", () => {
    // x̄ = (2, 0); (x − x̄)² = 1, 0, 1, 0 → denom 0.5; (x̂ − x)² = 0, 1, 0, 0 → 0.25; nmse = 0.5.
    expect(nmse([1, 0, 3, 0], [1, 1, 3, 0], 2, 2)).toBe(0.5);
    // Predicting the batch mean scores exactly 1.
    expect(nmse([1, 0, 3, 0], [2, 0, 2, 0], 2, 2)).toBe(1);
  });

  it("rejects rows that do not vary and mismatched shapes", () => {
    expect(() => nmse([1, 2], [1, 2], 1, 2)).toThrow(/do not vary/);
    expect(() => nmse([1, 2, 1, 2], [0, 0, 0, 0], 2, 2)).toThrow(/do not vary/);
    expect(() => nmse([1, 2, 3], [1, 2, 3, 4], 2, 2)).toThrow(SaerchError);
  });
});
