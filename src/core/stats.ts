/**
 * Summary statistics over plain or typed arrays of numbers, computed in float64 and matching numpy's
 * defaults where numpy has one (population variance, linear-interpolation quantiles, histogram edges).
 * Empty inputs are errors; a correlation that is undefined is reported as `undefined`, never as 0.
 */
import { SaerchError } from "./errors.js";

function checkNonEmpty(fn: string, x: ArrayLike<number>): void {
  if (x.length === 0) throw new SaerchError(`${fn}: input is empty`);
}

/** Arithmetic mean of `[N]` values (N ≥ 1). */
export function mean(x: ArrayLike<number>): number {
  checkNonEmpty("mean", x);
  let acc = 0;
  for (let i = 0; i < x.length; i++) acc += x[i]!;
  return acc / x.length;
}

/** Population variance (divides by N, numpy's `ddof=0`) of `[N]` values, N ≥ 1; two-pass for accuracy. */
export function variance(x: ArrayLike<number>): number {
  const mu = mean(x);
  let acc = 0;
  for (let i = 0; i < x.length; i++) {
    const dev = x[i]! - mu;
    acc += dev * dev;
  }
  return acc / x.length;
}

/**
 * Quickselect (Hoare partition, median-of-three pivot): reorder `x` (`[N]`, no NaN) so that `x[k]` holds the
 * k-th smallest value (0-based), everything before it is ≤ and everything after it is ≥. Average O(N).
 * Mutates `x`; returns `x[k]`.
 */
export function selectInPlace(x: Float64Array, k: number): number {
  if (!Number.isInteger(k) || k < 0 || k >= x.length) {
    throw new SaerchError(`selectInPlace: k = ${k} out of range for length ${x.length}`);
  }
  let lo = 0;
  let hi = x.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    const pa = x[lo]!;
    const pb = x[mid]!;
    const pc = x[hi]!;
    const pivot = Math.max(Math.min(pa, pb), Math.min(Math.max(pa, pb), pc)); // median of the three
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (x[i]! < pivot) i++;
      while (x[j]! > pivot) j--;
      if (i <= j) {
        const t = x[i]!;
        x[i] = x[j]!;
        x[j] = t;
        i++;
        j--;
      }
    }
    // Now x[lo..j] ≤ pivot, x[i..hi] ≥ pivot and anything between equals the pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return x[k]!;
}

/** Median of `[N]` values (N ≥ 1); even N averages the two middle values. NaN in the input gives NaN. */
export function median(x: ArrayLike<number>): number {
  return quantile(x, 0.5);
}

/**
 * Quantile q ∈ [0, 1] of `[N]` values (N ≥ 1) by linear interpolation between order statistics: numpy's
 * default (`method="linear"`): position h = q·(N−1), result s[⌊h⌋] + (h − ⌊h⌋)·(s[⌊h⌋+1] − s[⌊h⌋]).
 * NaN in the input gives NaN (as numpy). Uses quickselect on a copy: O(N), input not mutated.
 */
export function quantile(x: ArrayLike<number>, q: number): number {
  checkNonEmpty("quantile", x);
  if (!(q >= 0 && q <= 1)) throw new SaerchError(`quantile: q must be in [0, 1], got ${q}`);
  const n = x.length;
  const copyN = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    if (Number.isNaN(v)) return Number.NaN;
    copyN[i] = v;
  }
  const h = q * (n - 1);
  const lo = Math.floor(h);
  const frac = h - lo;
  const vLo = selectInPlace(copyN, lo);
  if (frac === 0) return vLo;
  // After selection everything past `lo` is ≥ vLo; the next order statistic is their minimum.
  let vHi = Number.POSITIVE_INFINITY;
  for (let i = lo + 1; i < n; i++) if (copyN[i]! < vHi) vHi = copyN[i]!;
  return vLo + frac * (vHi - vLo);
}

/** True when every value equals the first (exactly: the mean of equal floats can differ from them by rounding). */
function isConstant(x: ArrayLike<number>): boolean {
  for (let i = 1; i < x.length; i++) if (x[i] !== x[0]) return false;
  return true;
}

/**
 * Pearson correlation of two `[N]` series. Returns `undefined` when it is not defined: N < 2 or either
 * side constant (zero variance). Callers must report that as undefined, not as 0. NaN inputs give NaN.
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number | undefined {
  if (x.length !== y.length) {
    throw new SaerchError(`pearson: series differ in length (${x.length} vs ${y.length})`);
  }
  const n = x.length;
  if (n < 2 || isConstant(x) || isConstant(y)) return undefined;
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return undefined;
  const r = sxy / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r));
}

/** Options for `histogram`. */
export interface HistogramOptions {
  /** Number of equal-width bins (in log space when `log`), an integer ≥ 1. */
  bins: number;
  /** Lower edge; default the smallest counted value. */
  min?: number;
  /** Upper edge; default the largest counted value. */
  max?: number;
  /** Logarithmically spaced edges; values ≤ 0 are not counted and min, max must be > 0. */
  log?: boolean;
}

/** Histogram counts with their bin edges. */
export interface Histogram {
  /** `[bins + 1]` increasing edges; bin b is [edges[b], edges[b+1]), the last bin also includes its top. */
  edges: Float64Array;
  /** `[bins]` number of values in each bin. */
  counts: Int32Array;
}

/**
 * Histogram of `[N]` values with numpy's conventions: bins half-open except the last, which is closed;
 * values outside [min, max] and NaN are ignored. With no explicit range and no countable values the range
 * is [0, 1] ([1, 10] for log); a degenerate range min = max widens to [min − 0.5, max + 0.5] (numpy) or, for
 * log, [min / 2, max · 2].
 */
export function histogram(values: ArrayLike<number>, options: HistogramOptions): Histogram {
  const { bins, log = false } = options;
  if (!Number.isInteger(bins) || bins < 1)
    throw new SaerchError(`histogram: bins must be an integer ≥ 1, got ${bins}`);
  const counted = (v: number): boolean => Number.isFinite(v) && (!log || v > 0);
  let lo = options.min;
  let hi = options.max;
  if (lo === undefined || hi === undefined) {
    let dataMin = Number.POSITIVE_INFINITY;
    let dataMax = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!counted(v)) continue;
      if (v < dataMin) dataMin = v;
      if (v > dataMax) dataMax = v;
    }
    if (dataMin > dataMax) {
      dataMin = log ? 1 : 0;
      dataMax = log ? 10 : 1;
    }
    lo ??= dataMin;
    hi ??= dataMax;
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi) {
    throw new SaerchError(`histogram: need finite min ≤ max, got min = ${lo}, max = ${hi}`);
  }
  if (log && lo <= 0) throw new SaerchError(`histogram: log bins need min > 0, got min = ${lo}`);
  if (lo === hi) {
    lo = log ? lo / 2 : lo - 0.5;
    hi = log ? hi * 2 : hi + 0.5;
  }
  // Edges as numpy.linspace (in log space for log bins), with the end points exact.
  const edges: Float64Array = new Float64Array(bins + 1);
  const start = log ? Math.log(lo) : lo;
  const stop = log ? Math.log(hi) : hi;
  const step = (stop - start) / bins;
  for (let b = 0; b <= bins; b++) edges[b] = log ? Math.exp(start + b * step) : start + b * step;
  edges[0] = lo;
  edges[bins] = hi;

  const counts: Int32Array = new Int32Array(bins);
  const scale = bins / (stop - start);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!counted(v) || v < lo || v > hi) continue;
    let b = Math.floor(((log ? Math.log(v) : v) - start) * scale);
    if (b >= bins) b = bins - 1;
    if (b < 0) b = 0;
    // Correct float rounding against the stored edges, as numpy does.
    if (v < edges[b]!) b--;
    else if (b < bins - 1 && v >= edges[b + 1]!) b++;
    counts[b]!++;
  }
  return { edges, counts };
}
