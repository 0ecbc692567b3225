/**
 * Scores of one feature's label (METHOD.md §4): the Pearson correlation between the held-out ground truth
 * (1 for a top-activating document, 0 for a zero-activating one; the paper: 1,1,1,0,0,0) and the predictor's
 * confidences in [−1, 1], undefined when the predictions are constant; and F1 with a prediction > 0 as a
 * positive. Plus the mean of a score over features, counting the undefined ones separately.
 */
import { SaerchError } from "../core/errors.js";
import { pearson } from "../core/stats.js";
import type { Prediction } from "./types.js";

/** A feature's scores. */
export interface FeatureScore {
  /** Pearson(truth, prediction values); undefined when the predictions (or the truth) are constant. */
  pearson: number | undefined;
  /** 2·TP / (2·TP + FP + FN) with prediction > 0 as positive; 0 when nothing is predicted positive. */
  f1: number;
  /** TP / (TP + FP); undefined when nothing is predicted positive. */
  precision: number | undefined;
  /** TP / (TP + FN); 0 when the truth holds no positive. */
  recall: number;
  /** Predictions whose reply could not be parsed (each counted as 0). */
  unparsed: number;
}

/**
 * Whether every value is exactly the same. Checked here rather than left to `pearson`: the floating-point
 * mean of six 0.7s is 0.7000000000000001, so the deviations are not exactly 0 and `pearson` would return 0.
 */
function isConstant(values: readonly number[]): boolean {
  return values.every((v) => v === values[0]);
}

/**
 * Score one feature's held-out predictions.
 * @param truth `[H]` ground truth, each 1 (top-activating) or 0 (zero-activating)
 * @param predictions `[H]` the predictor's outputs, aligned with `truth`
 * @throws SaerchError when the lengths differ, a truth value is not 0 or 1, or a value is not finite
 */
export function scorePredictions(truth: readonly number[], predictions: readonly Prediction[]): FeatureScore {
  if (truth.length !== predictions.length) {
    throw new SaerchError(`scorePredictions: ${truth.length} truth values but ${predictions.length} predictions`, "predict every held-out document once");
  }
  const values: number[] = [];
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let unparsed = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    const { value, parsed } = predictions[i]!;
    if (t !== 0 && t !== 1) throw new SaerchError(`scorePredictions: truth[${i}] is ${t}, expected 0 or 1`);
    if (!Number.isFinite(value)) throw new SaerchError(`scorePredictions: prediction ${i} is ${value}, expected a finite value in [−1, 1]`, "count an unparseable reply as 0");
    if (!parsed) unparsed++;
    values.push(value);
    const positive = value > 0;
    if (positive && t === 1) tp++;
    else if (positive) fp++;
    else if (t === 1) fn++;
  }
  return {
    pearson: isConstant(values) || isConstant(truth) ? undefined : pearson(truth, values),
    f1: tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn),
    precision: tp + fp === 0 ? undefined : tp / (tp + fp),
    recall: tp + fn === 0 ? 0 : tp / (tp + fn),
    unparsed,
  };
}

/** The mean of the defined values and how many were (un)defined. */
export interface DefinedMean {
  /** Mean of the defined values; undefined when none is defined. */
  mean: number | undefined;
  /** Values that were finite numbers. */
  defined: number;
  /** Values that were null, undefined or not finite (e.g. a Pearson over constant predictions). */
  undefinedCount: number;
}

/**
 * Mean over the defined values only (finite numbers), for summaries such as the mean Pearson over features:
 * an undefined score is reported as a count, never averaged in as 0.
 * @param values `[M]` scores, null / undefined (or NaN) where undefined
 */
export function meanDefined(values: ReadonlyArray<number | null | undefined>): DefinedMean {
  let sum = 0;
  let defined = 0;
  for (const v of values) {
    if (typeof v === "number" && Number.isFinite(v)) {
      sum += v;
      defined++;
    }
  }
  return { mean: defined > 0 ? sum / defined : undefined, defined, undefinedCount: values.length - defined };
}
