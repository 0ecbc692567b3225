/**
 * Tests for row top-k: hand-set cases with ties, naive-vs-fast equality on random and tie-heavy data,
 * edge values of k, and the NaN error.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { rowTopK, rowTopKNaive } from "../../src/core/topk.js";

const both = [
  ["naive", rowTopKNaive],
  ["fast", rowTopK],
] as const;

describe.each(both)("%s row top-k", (_name, topk) => {
  it("hand-set case with ties broken by the lower index", () => {
    // Row 0: [1, 5, 3, 5, -2]: 5 at index 1 and 3 → index 1 first, then 3; next 3 at index 2.
    // Row 1: [0, 0, 0, 0, 0]: all tied → indices 0, 1, 2.
    const x = Float32Array.from([1, 5, 3, 5, -2, 0, 0, 0, 0, 0]);
    const { indicesNK, valuesNK } = topk(x, 2, 5, 3);
    expect(Array.from(indicesNK)).toEqual([1, 3, 2, 0, 1, 2]);
    expect(Array.from(valuesNK)).toEqual([5, 5, 3, 0, 0, 0]);
  });

  it("k = 1 and k = f", () => {
    // Row [2, -1, 7, 7]: top-1 is 7 at index 2; full order 7(2), 7(3), 2(0), -1(1).
    const x = Float32Array.from([2, -1, 7, 7]);
    expect(Array.from(topk(x, 1, 4, 1).indicesNK)).toEqual([2]);
    const all = topk(x, 1, 4, 4);
    expect(Array.from(all.indicesNK)).toEqual([2, 3, 0, 1]);
    expect(Array.from(all.valuesNK)).toEqual([7, 7, 2, -1]);
  });

  it("handles infinities and signed zeros", () => {
    // -0 and 0 compare equal, so the lower index wins; -Infinity ranks last, Infinity first.
    const x = Float32Array.from([-0, Number.NEGATIVE_INFINITY, 0, Number.POSITIVE_INFINITY]);
    expect(Array.from(topk(x, 1, 4, 4).indicesNK)).toEqual([3, 0, 2, 1]);
  });

  it("rejects bad k, bad shapes and NaN with clear errors", () => {
    const x = new Float32Array(6);
    expect(() => topk(x, 2, 3, 4)).toThrow(/k must be an integer in \[1, f\]/);
    expect(() => topk(x, 2, 3, 0)).toThrow(SaerchError);
    expect(() => topk(x, 2, 4, 1)).toThrow(/does not match \[2, 4\]/);
    const withNaN = Float32Array.from([1, 2, 3, 4, Number.NaN, 6]);
    expect(() => topk(withNaN, 2, 3, 1)).toThrow(/NaN at row 1, column 1/);
  });

  it("handles zero rows", () => {
    const out = topk(new Float32Array(0), 0, 5, 2);
    expect(out.indicesNK.length).toBe(0);
    expect(out.valuesNK.length).toBe(0);
  });
});

describe("rowTopK vs rowTopKNaive", () => {
  it("identical outputs on random data of awkward sizes, inputs untouched", () => {
    const rng = new Rng("topk");
    for (const [n, f, k] of [
      [37, 129, 1],
      [37, 129, 7],
      [37, 129, 64],
      [37, 129, 129],
      [1, 1, 1],
      [13, 2, 2],
      [8, 300, 32],
    ] as const) {
      const x = rng.fillNormalInPlace(new Float32Array(n * f));
      const copy = x.slice();
      const fast = rowTopK(x, n, f, k);
      const naive = rowTopKNaive(x, n, f, k);
      expect(fast.indicesNK).toEqual(naive.indicesNK);
      expect(fast.valuesNK).toEqual(naive.valuesNK);
      expect(x).toEqual(copy);
    }
  });

  it("identical outputs on tie-heavy data (values from {-1, 0, 1, 2})", () => {
    const rng = new Rng("ties");
    const n = 41;
    const f = 57;
    const x = new Float32Array(n * f);
    for (let i = 0; i < x.length; i++) x[i] = rng.int(4) - 1;
    for (const k of [1, 3, 20, 56, 57]) {
      const fast = rowTopK(x, n, f, k);
      const naive = rowTopKNaive(x, n, f, k);
      expect(fast.indicesNK).toEqual(naive.indicesNK);
      expect(fast.valuesNK).toEqual(naive.valuesNK);
    }
  });
});
