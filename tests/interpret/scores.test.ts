/**
 * Tests for src/interpret/scores.ts: worked examples of Pearson and F1, constant predictions (Pearson
 * undefined, never 0 or NaN), nothing predicted positive (F1 0, precision undefined), unparsed replies,
 * bad input, and the mean over defined scores.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { meanDefined, scorePredictions } from "../../src/interpret/scores.js";
import type { Prediction } from "../../src/interpret/types.js";

const TRUTH = [1, 1, 1, 0, 0, 0];
const preds = (values: number[], unparsedAt: number[] = []): Prediction[] => values.map((value, i) => ({ value, parsed: !unparsedAt.includes(i) }));

describe("scorePredictions", () => {
  it("worked example: truth 1,1,1,0,0,0 and predictions 0.9, 0.5, −0.2, 0.1, −0.8, −1", () => {
    // Pearson: mean t = 0.5, deviations ±0.5 → Σdt² = 6 · 0.25 = 1.5.
    //   mean p = (0.9 + 0.5 − 0.2 + 0.1 − 0.8 − 1) / 6 = −0.5 / 6 = −1/12.
    //   Σ dt·dp = 0.5 · (1.2 + 3/12) − 0.5 · (−1.7 + 3/12) = 0.5 · 1.45 + 0.5 · 1.45 = 1.45.
    //   Σ dp² = Σ p² − 6 · (1/12)² = (0.81 + 0.25 + 0.04 + 0.01 + 0.64 + 1) − 1/24 = 2.75 − 1/24 = 65/24.
    //   r = 1.45 / √(1.5 · 65/24) = 1.45 / √(65/16) = 5.8 / √65 ≈ 0.719401.
    // F1: positives predicted (> 0): 0.9, 0.5 (truth 1) and 0.1 (truth 0) → TP 2, FP 1; −0.2 at truth 1 → FN 1.
    //   precision 2/3, recall 2/3, F1 = 2·2 / (2·2 + 1 + 1) = 2/3.
    const s = scorePredictions(TRUTH, preds([0.9, 0.5, -0.2, 0.1, -0.8, -1]));
    expect(s.pearson).toBeCloseTo(5.8 / Math.sqrt(65), 12);
    expect(s.pearson).toBeCloseTo(0.719401, 6);
    expect(s.f1).toBeCloseTo(2 / 3, 12);
    expect(s.precision).toBeCloseTo(2 / 3, 12);
    expect(s.recall).toBeCloseTo(2 / 3, 12);
    expect(s.unparsed).toBe(0);
  });

  it("perfect separation: pearson 1 for a ±1 answer, F1 1", () => {
    const s = scorePredictions(TRUTH, preds([1, 1, 1, -1, -1, -1]));
    expect(s.pearson).toBeCloseTo(1, 12);
    expect(s).toMatchObject({ f1: 1, precision: 1, recall: 1 });
  });

  it("constant predictions: pearson undefined, never 0 or NaN", () => {
    // every reply unparseable → all 0: nothing predicted positive → F1 0, precision undefined, recall 0
    const allZero = scorePredictions(TRUTH, preds([0, 0, 0, 0, 0, 0], [0, 1, 2, 3, 4, 5]));
    expect(allZero).toEqual({ pearson: undefined, f1: 0, precision: undefined, recall: 0, unparsed: 6 });
    // constant positive: TP 3, FP 3 (a constant 0.7 has a floating-point mean of 0.7000000000000001: still undefined) → precision 1/2, recall 1, F1 = 6 / (6 + 3) = 2/3, pearson still undefined
    const allYes = scorePredictions(TRUTH, preds([0.7, 0.7, 0.7, 0.7, 0.7, 0.7]));
    expect(allYes.pearson).toBeUndefined();
    expect(allYes.f1).toBeCloseTo(2 / 3, 12);
    expect(allYes.precision).toBe(0.5);
    expect(allYes.recall).toBe(1);
  });

  it("0 is not a positive prediction; unparsed replies are counted", () => {
    // 0.5 (truth 1) positive; 0 at truth 1 is a miss; −0.3 and 0 at truth 0 negatives → TP 1, FP 0, FN 2.
    // F1 = 2 / (2 + 0 + 2) = 0.5, precision 1, recall 1/3.
    const s = scorePredictions(TRUTH, preds([0.5, 0, -0.1, -0.3, 0, -0.2], [1, 4]));
    expect(s.f1).toBe(0.5);
    expect(s.precision).toBe(1);
    expect(s.recall).toBeCloseTo(1 / 3, 12);
    expect(s.unparsed).toBe(2);
    expect(s.pearson).toBeGreaterThan(0);
  });

  it("rejects mismatched lengths, non-binary truth and non-finite values", () => {
    expect(() => scorePredictions([1, 0], preds([0.5]))).toThrow(/2 truth values but 1 predictions/);
    expect(() => scorePredictions([1, 0.5], preds([0.5, 0.1]))).toThrow(/truth\[1\] is 0.5/);
    expect(() => scorePredictions([1, 0], preds([Number.NaN, 0.1]))).toThrow(SaerchError);
  });
});

describe("meanDefined", () => {
  it("averages the defined values and counts the undefined ones", () => {
    // (0.5 + 0.7 + 0.9) / 3 = 0.7; null, undefined and NaN are undefined
    const m = meanDefined([0.5, null, 0.7, undefined, 0.9, Number.NaN]);
    expect(m.mean).toBeCloseTo(0.7, 12);
    expect(m.defined).toBe(3);
    expect(m.undefinedCount).toBe(3);
  });

  it("nothing defined: mean undefined", () => {
    expect(meanDefined([])).toEqual({ mean: undefined, defined: 0, undefinedCount: 0 });
    expect(meanDefined([null, undefined])).toEqual({ mean: undefined, defined: 0, undefinedCount: 2 });
  });
});
