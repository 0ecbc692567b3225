/**
 * Tests for summary statistics against hand derivations and numpy's defaults.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { histogram, mean, median, pearson, quantile, selectInPlace, variance } from "../../src/core/stats.js";

describe("mean, variance, median", () => {
  it("hand-set values", () => {
    // mean([2,4,4,4,5,5,7,9]) = 40/8 = 5; squared deviations 9,1,1,1,0,0,4,16 sum 32 → population var 4
    const x = [2, 4, 4, 4, 5, 5, 7, 9];
    expect(mean(x)).toBe(5);
    expect(variance(x)).toBe(4);
    expect(variance(Float32Array.from([3, 3, 3]))).toBe(0);
    // median of odd count is the middle; of even count the mean of the two middle values
    expect(median([5, 1, 3])).toBe(3);
    expect(median([1, 3, 2, 4])).toBe(2.5);
    expect(Number.isNaN(median([1, Number.NaN, 3]))).toBe(true);
  });

  it("does not mutate its input", () => {
    const x = [3, 1, 2];
    median(x);
    quantile(x, 0.3);
    expect(x).toEqual([3, 1, 2]);
  });

  it("empty input is an error", () => {
    expect(() => mean([])).toThrow(SaerchError);
    expect(() => variance([])).toThrow(SaerchError);
    expect(() => median([])).toThrow(SaerchError);
  });
});

describe("quantile (numpy linear)", () => {
  it("matches numpy.quantile defaults", () => {
    // h = q·(N−1): [1,2,3,4], q=0.25 → h=0.75 → 1 + 0.75·(2−1) = 1.75
    expect(quantile([1, 2, 3, 4], 0.25)).toBe(1.75);
    // sorted [1..5], q=0.9 → h=3.6 → 4 + 0.6·1 = 4.6
    expect(quantile([3, 1, 2, 4, 5], 0.9)).toBeCloseTo(4.6, 12);
    expect(quantile([10, 20], 0)).toBe(10);
    expect(quantile([10, 20], 1)).toBe(20);
    expect(quantile([7], 0.3)).toBe(7);
  });

  it("rejects q outside [0, 1]", () => {
    expect(() => quantile([1, 2], 1.5)).toThrow(/q must be in \[0, 1\]/);
    expect(() => quantile([1, 2], Number.NaN)).toThrow(SaerchError);
  });
});

describe("selectInPlace and sort-free quantiles", () => {
  it("selects the k-th smallest on random and tie-heavy data", () => {
    const rng = new Rng("select");
    for (const n of [1, 2, 3, 10, 101, 1000]) {
      for (const ties of [false, true]) {
        const x = new Float64Array(n);
        for (let i = 0; i < n; i++) x[i] = ties ? rng.int(4) : rng.normal();
        const sorted = x.slice().sort();
        for (const k of [0, n >> 1, n - 1, rng.int(n)]) {
          const work = x.slice();
          expect(selectInPlace(work, k)).toBe(sorted[k]);
          for (let i = 0; i < k; i++) expect(work[i]! <= work[k]!).toBe(true);
          for (let i = k + 1; i < n; i++) expect(work[i]! >= work[k]!).toBe(true);
        }
      }
    }
    expect(() => selectInPlace(new Float64Array(3), 3)).toThrow(SaerchError);
  });

  it("quantile matches a sort-based reference on random data", () => {
    const rng = new Rng("quantile");
    for (const n of [1, 2, 7, 64, 501]) {
      const x = Array.from({ length: n }, () => rng.normal());
      const s = [...x].sort((p, q) => p - q);
      for (const q of [0, 0.1, 0.25, 0.5, 0.77, 1]) {
        const h = q * (n - 1);
        const lo = Math.floor(h);
        const ref = lo + 1 < n ? s[lo]! + (h - lo) * (s[lo + 1]! - s[lo]!) : s[lo]!;
        expect(quantile(x, q)).toBeCloseTo(ref, 12);
      }
    }
  });
});

describe("pearson", () => {
  it("golden values", () => {
    // x=[1..5], y=[2,4,5,4,5]: dx=[-2,-1,0,1,2], dy=[-2,0,1,0,1]; sxy=6, sxx=10, syy=6 → r = 6/√60
    expect(pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])).toBeCloseTo(6 / Math.sqrt(60), 12);
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(pearson(Float32Array.from([1, 2, 3, 4]), [1, 3, 2, 4])).toBeCloseTo(0.8, 12);
  });

  it("is undefined (not 0) for constant input or fewer than two points", () => {
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeUndefined();
    expect(pearson([1, 2, 3], [5, 5, 5])).toBeUndefined();
    expect(pearson([1], [2])).toBeUndefined();
    // Six 0.7s average to 0.7000000000000001, so the deviations are not exactly 0: still constant.
    expect(pearson([0.7, 0.7, 0.7, 0.7, 0.7, 0.7], [1, 1, 1, 0, 0, 0])).toBeUndefined();
    expect(() => pearson([1, 2], [1])).toThrow(SaerchError);
  });
});

describe("histogram", () => {
  it("matches numpy.histogram on a hand case", () => {
    // np.histogram([1,2,2,3,4], bins=3): edges [1,2,3,4]; bins [1,2) [2,3) [3,4] → counts [1,2,2]
    const h = histogram([1, 2, 2, 3, 4], { bins: 3 });
    expect(Array.from(h.edges)).toEqual([1, 2, 3, 4]);
    expect(Array.from(h.counts)).toEqual([1, 2, 2]);
  });

  it("explicit range ignores out-of-range values and NaN", () => {
    // edges [0, 0.5, 1]: -1 and 2 outside, NaN ignored; 0 → bin 0, 0.5 → bin 1, 1 → bin 1 (closed top)
    const h = histogram([-1, 0, 0.5, 1, 2, Number.NaN], { bins: 2, min: 0, max: 1 });
    expect(Array.from(h.edges)).toEqual([0, 0.5, 1]);
    expect(Array.from(h.counts)).toEqual([1, 2]);
  });

  it("log bins", () => {
    // edges 1, 10, 100, 1000: 0 and -5 not counted (≤ 0); 1,5 → bin 0; 10,50 → bin 1; 1000 → bin 2
    const h = histogram([0, -5, 1, 5, 10, 50, 1000], { bins: 3, min: 1, max: 1000, log: true });
    expect(h.edges[0]).toBe(1);
    expect(h.edges[1]).toBeCloseTo(10, 9);
    expect(h.edges[2]).toBeCloseTo(100, 9);
    expect(h.edges[3]).toBe(1000);
    expect(Array.from(h.counts)).toEqual([2, 2, 1]);
    expect(() => histogram([1], { bins: 2, min: 0, max: 1, log: true })).toThrow(/min > 0/);
  });

  it("degenerate and empty ranges follow numpy", () => {
    // all values equal 3 → range [2.5, 3.5]
    const h = histogram([3, 3, 3], { bins: 2 });
    expect(Array.from(h.edges)).toEqual([2.5, 3, 3.5]);
    expect(Array.from(h.counts)).toEqual([0, 3]);
    const empty = histogram([], { bins: 4 });
    expect(Array.from(empty.edges)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(Array.from(empty.counts)).toEqual([0, 0, 0, 0]);
  });

  it("counts every in-range value exactly once", () => {
    const values = Array.from({ length: 1000 }, (_, i) => (i * 0.37) % 10);
    const h = histogram(values, { bins: 7 });
    expect(h.counts.reduce((acc, c) => acc + c, 0)).toBe(1000);
    expect(() => histogram(values, { bins: 0 })).toThrow(SaerchError);
    expect(() => histogram(values, { bins: 2, min: 3, max: 1 })).toThrow(SaerchError);
  });
});
