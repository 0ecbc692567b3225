/**
 * Power-law fits for the scaling-law stage (paper §3 "Scaling laws"; METHOD.md §3).
 *
 *   per k:     NMSE = c · n^(−α)        fitted as  log y = log c − α · log x   (ordinary least squares)
 *   compute:   NMSE = a · FLOPs^(−β)    the same fit with the compute axis as x
 *   joint:     log y = b0 + b1·log n + b2·log k + b3·log n·log k
 *
 * Logs are natural. All arithmetic is float64. Points carry the letter P (`logXP`, `designP4`). Confidence
 * intervals are percentile bootstraps over points, seeded with `Rng` so a seed gives the same interval everywhere.
 */
import { SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { quantile } from "../core/stats.js";

/** Bootstrap resamples when the caller does not say. */
const DEFAULT_BOOTSTRAP = 1000;
/** Two-sided confidence level of the percentile intervals. */
const DEFAULT_CI = 0.95;
/** Bootstrap seed when the caller does not give one, so an unseeded call is still reproducible. */
const DEFAULT_SEED = 0;
/**
 * Degenerate bootstrap draws (all resampled x equal) tolerated per requested resample before giving up. With ≥ 2
 * distinct x among P ≥ 3 points a draw is degenerate with probability ≤ ((P − 1)/P)^P + P^−P < 0.37, so 10 per
 * resample is never reached in practice.
 */
const MAX_DEGENERATE_PER_RESAMPLE = 10;
/** Points the joint fit needs: 4 coefficients plus at least one residual degree of freedom. */
const JOINT_MIN_POINTS = 5;
/** Coefficients of the joint model: b0, b1 (log n), b2 (log k), b3 (log n · log k). */
const JOINT_COEFS = 4;
/**
 * A design column whose component orthogonal to the earlier columns is below this fraction of its own norm is
 * treated as a linear combination of them (the design is rank-deficient).
 */
const RANK_TOL = 1e-10;

const LOG_FIX = "a power law is fitted in log-log, so every value must be finite and > 0; drop or repair that point";

/** Options of {@link fitPowerLaw} and {@link fitComputeLaw}. */
export interface PowerLawOptions {
  /** Bootstrap resamples for the confidence intervals (default 1000); 0 skips the bootstrap (`ci` undefined). */
  bootstrap?: number;
  /** Seed of the bootstrap `Rng` (default 0). */
  seed?: number | string;
  /** Two-sided confidence level in (0, 1) (default 0.95: the 2.5 % and 97.5 % percentiles). */
  ci?: number;
}

/** Percentile bootstrap intervals of a power-law fit. */
export interface PowerLawCi {
  /** [lo, hi] of the exponent α. */
  alpha: [number, number];
  /** [lo, hi] of the prefactor c. */
  c: [number, number];
  /** Confidence level the interval was asked for, e.g. 0.95. */
  level: number;
  /** Non-degenerate resamples the percentiles were taken over (= the requested `bootstrap`). */
  resamples: number;
  /** Degenerate resamples (all x equal, slope undefined) that were drawn again. */
  skipped: number;
}

/** Result of {@link fitPowerLaw}: `y ≈ c · x^(−α)`. */
export interface PowerLawFit {
  /** Prefactor c = exp(intercept of the log-log line). */
  c: number;
  /** Exponent α = −(slope of the log-log line); positive when y falls with x. */
  alpha: number;
  /** Coefficient of determination of the log-log fit (1 when log y is constant and so fitted exactly). */
  r2: number;
  /** Number of points P. */
  n: number;
  /** Bootstrap intervals; undefined with 2 points (see {@link fitPowerLaw}) or `bootstrap: 0`. */
  ci: PowerLawCi | undefined;
  /** `[P]` log-space residuals `log y − (log c − α · log x)`, in input order. */
  residuals: Float64Array;
}

/** Intervals of {@link fitComputeLaw}, with the compute law's names. */
export interface ComputeLawCi {
  /** [lo, hi] of the exponent β. */
  beta: [number, number];
  /** [lo, hi] of the prefactor a. */
  a: [number, number];
  /** Confidence level, e.g. 0.95. */
  level: number;
  /** Non-degenerate resamples used. */
  resamples: number;
  /** Degenerate resamples drawn again. */
  skipped: number;
}

/** Result of {@link fitComputeLaw}: `y ≈ a · FLOPs^(−β)`. */
export interface ComputeLawFit {
  /** Prefactor a. */
  a: number;
  /** Exponent β (positive when y falls with compute). */
  beta: number;
  /** R² of the log-log fit. */
  r2: number;
  /** Number of points P. */
  n: number;
  /** Bootstrap intervals; undefined with 2 points or `bootstrap: 0`. */
  ci: ComputeLawCi | undefined;
  /** `[P]` log-space residuals. */
  residuals: Float64Array;
}

/** The four joint-model coefficients or their standard errors, in the order b0, b1, b2, b3. */
export type JointCoefficients = [number, number, number, number];

/** Result of {@link fitJoint}: `log y = b0 + b1·log n + b2·log k + b3·log n·log k`. */
export interface JointFit {
  /** [b0, b1, b2, b3]. */
  coef: JointCoefficients;
  /** Standard errors of [b0, b1, b2, b3] (classical OLS: σ̂ · sqrt(diag (XᵀX)⁻¹)). */
  se: JointCoefficients;
  /** R² in log space. */
  r2: number;
  /** Number of points P. */
  n: number;
  /** Residual degrees of freedom P − 4. */
  dof: number;
  /** Residual standard error σ̂ = sqrt(RSS / (P − 4)), in log units. */
  sigma: number;
  /** `[P]` log-space residuals, in input order. */
  residuals: Float64Array;
}

/** Natural logs of `[P]` values, each checked finite and > 0 (the error names the array and index). */
function checkedLogs(fn: string, name: string, values: ArrayLike<number>): Float64Array {
  const logP = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v) || !(v > 0)) {
      throw new SaerchError(`${fn}: ${name}[${i}] = ${v} is not a finite positive number`, LOG_FIX);
    }
    logP[i] = Math.log(v);
  }
  return logP;
}

function checkLengths(fn: string, names: readonly string[], arrays: readonly ArrayLike<number>[]): void {
  const p = arrays[0]!.length;
  for (let a = 1; a < arrays.length; a++) {
    if (arrays[a]!.length !== p) {
      throw new SaerchError(
        `${fn}: length mismatch, ${names[0]} has ${p} values but ${names[a]} has ${arrays[a]!.length}`,
        "pass one value per point in every array",
      );
    }
  }
}

/** Number of distinct values in `[P]`. */
function distinctCount(valuesP: Float64Array): number {
  return new Set(valuesP).size;
}

/** Slope and intercept of the OLS line through (u_i, v_i) for indices `idx` (centred sums, Sxx > 0 assumed). */
interface Line {
  slope: number;
  intercept: number;
}

function olsLine(uP: Float64Array, vP: Float64Array, idx: ArrayLike<number>): Line {
  const m = idx.length;
  let su = 0;
  let sv = 0;
  for (let i = 0; i < m; i++) {
    su += uP[idx[i]!]!;
    sv += vP[idx[i]!]!;
  }
  const uBar = su / m;
  const vBar = sv / m;
  let suu = 0;
  let suv = 0;
  for (let i = 0; i < m; i++) {
    const du = uP[idx[i]!]! - uBar;
    suu += du * du;
    suv += du * (vP[idx[i]!]! - vBar);
  }
  const slope = suv / suu;
  return { slope, intercept: vBar - slope * uBar };
}

/** 1 − RSS/TSS of log-space residuals; 1 when TSS = 0 (then the fit is exact: the slope is 0 and RSS = 0). */
function rSquared(logYP: Float64Array, residualsP: Float64Array): number {
  let mean = 0;
  for (let i = 0; i < logYP.length; i++) mean += logYP[i]!;
  mean /= logYP.length;
  let tss = 0;
  let rss = 0;
  for (let i = 0; i < logYP.length; i++) {
    const d = logYP[i]! - mean;
    tss += d * d;
    rss += residualsP[i]! * residualsP[i]!;
  }
  return tss === 0 ? 1 : 1 - rss / tss;
}

interface ResolvedOptions {
  bootstrap: number;
  seed: number | string;
  level: number;
}

function resolveOptions(fn: string, opts: PowerLawOptions): ResolvedOptions {
  const bootstrap = opts.bootstrap ?? DEFAULT_BOOTSTRAP;
  const level = opts.ci ?? DEFAULT_CI;
  if (!Number.isSafeInteger(bootstrap) || bootstrap < 0) {
    throw new SaerchError(`${fn}: bootstrap must be a non-negative integer, got ${bootstrap}`);
  }
  if (!(level > 0 && level < 1)) {
    throw new SaerchError(`${fn}: ci must be a confidence level in (0, 1), got ${level}`, "e.g. ci: 0.95");
  }
  return { bootstrap, seed: opts.seed ?? DEFAULT_SEED, level };
}

/** The shared log-log fit, with error messages in the caller's names. */
function fitLogLog(
  fn: string,
  xName: string,
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  opts: PowerLawOptions,
): PowerLawFit {
  checkLengths(fn, [xName, "y"], [x, y]);
  const p = x.length;
  if (p < 2) throw new SaerchError(`${fn}: needs at least 2 points, got ${p}`, "add more points");
  const { bootstrap, seed, level } = resolveOptions(fn, opts);
  const logXP = checkedLogs(fn, xName, x);
  const logYP = checkedLogs(fn, "y", y);
  if (distinctCount(logXP) < 2) {
    throw new SaerchError(
      `${fn}: all ${xName} values are equal (${x[0]}), so the exponent is undefined`,
      `fit over at least 2 distinct ${xName} values`,
    );
  }

  const allP = new Int32Array(p);
  for (let i = 0; i < p; i++) allP[i] = i;
  const line = olsLine(logXP, logYP, allP);
  const residualsP = new Float64Array(p);
  for (let i = 0; i < p; i++) residualsP[i] = logYP[i]! - (line.intercept + line.slope * logXP[i]!);

  return {
    c: Math.exp(line.intercept),
    alpha: 0 - line.slope, // 0 − slope, not −slope: a flat line gives α = 0, not −0
    r2: rSquared(logYP, residualsP),
    n: p,
    ci: p > 2 && bootstrap > 0 ? bootstrapCi(logXP, logYP, bootstrap, seed, level, fn) : undefined,
    residuals: residualsP,
  };
}

/** Percentile bootstrap over points; degenerate draws (all x equal) are drawn again, up to the documented cap. */
function bootstrapCi(
  logXP: Float64Array,
  logYP: Float64Array,
  bootstrap: number,
  seed: number | string,
  level: number,
  fn: string,
): PowerLawCi {
  const p = logXP.length;
  const rng = new Rng(seed);
  const idxP = new Int32Array(p);
  const alphaB = new Float64Array(bootstrap);
  const cB = new Float64Array(bootstrap);
  const maxSkipped = MAX_DEGENERATE_PER_RESAMPLE * bootstrap;
  let skipped = 0;
  for (let b = 0; b < bootstrap; ) {
    let degenerate = true;
    for (let i = 0; i < p; i++) {
      idxP[i] = rng.int(p);
      if (logXP[idxP[i]!] !== logXP[idxP[0]!]) degenerate = false;
    }
    if (degenerate) {
      skipped++;
      if (skipped > maxSkipped) {
        throw new SaerchError(
          `${fn}: more than ${maxSkipped} bootstrap resamples had all x equal; the x values are too concentrated`,
          "fit over more distinct x values, or pass bootstrap: 0",
        );
      }
      continue;
    }
    const line = olsLine(logXP, logYP, idxP);
    alphaB[b] = 0 - line.slope;
    cB[b] = Math.exp(line.intercept);
    b++;
  }
  const tail = (1 - level) / 2;
  return {
    alpha: [quantile(alphaB, tail), quantile(alphaB, 1 - tail)],
    c: [quantile(cB, tail), quantile(cB, 1 - tail)],
    level,
    resamples: bootstrap,
    skipped,
  };
}

/**
 * Fit `y = c · x^(−α)` by ordinary least squares on `log y = log c − α · log x` (paper §3: per k, NMSE against
 * dictionary size n). `x`, `y`: `[P]`, P ≥ 2, every value finite and > 0, at least 2 distinct x. Inputs are not
 * mutated.
 *
 * Confidence intervals: percentile bootstrap. Each of `bootstrap` resamples draws P points with replacement
 * (`Rng(seed)`, so a seed gives the same interval on every platform), refits, and the interval is the
 * ((1 − ci)/2, (1 + ci)/2) quantiles (linear interpolation) of the refitted α and c. A resample whose x are all
 * equal has no slope; it is skipped and drawn again, up to 10 × `bootstrap` skipped draws in total (then a
 * SaerchError — unreachable unless nearly all points share one x). The count is reported in `ci.skipped`.
 *
 * With exactly 2 points `ci` is undefined: a resample of 2 points is either degenerate (one point twice) or the
 * same two points again, so every usable resample reproduces the original fit and the "interval" would have zero
 * width — false certainty from a line through 2 points with no residual degrees of freedom.
 *
 * @throws SaerchError on a length mismatch, fewer than 2 points, a non-finite or non-positive value (named by
 *   array and index), all x equal, or bad options.
 */
export function fitPowerLaw(x: ArrayLike<number>, y: ArrayLike<number>, opts: PowerLawOptions = {}): PowerLawFit {
  return fitLogLog("fitPowerLaw", "x", x, y, opts);
}

/**
 * Compute law `y = a · FLOPs^(−β)` (paper §3: final NMSE against training compute, x = steps · 2·d·(n + k)).
 * Exactly {@link fitPowerLaw} with `a = c`, `beta = α`, and errors naming `flops`. `flops`, `y`: `[P]`.
 */
export function fitComputeLaw(
  flops: ArrayLike<number>,
  y: ArrayLike<number>,
  opts: PowerLawOptions = {},
): ComputeLawFit {
  const fit = fitLogLog("fitComputeLaw", "flops", flops, y, opts);
  const ci = fit.ci;
  return {
    a: fit.c,
    beta: fit.alpha,
    r2: fit.r2,
    n: fit.n,
    ci: ci && { beta: ci.alpha, a: ci.c, level: ci.level, resamples: ci.resamples, skipped: ci.skipped },
    residuals: fit.residuals,
  };
}

/** The parameters a prediction needs: a power law `{c, alpha}` or a compute law `{a, beta}`. */
export type PowerLawParams = Pick<PowerLawFit, "c" | "alpha"> | Pick<ComputeLawFit, "a" | "beta">;

/** Evaluate a fitted law `c · x^(−α)` (or `a · x^(−β)`) at one x. */
export function predict(fit: PowerLawParams, x: number): number;
/** Evaluate a fitted law at `[M]` x values; returns `[M]`. */
export function predict(fit: PowerLawParams, x: ArrayLike<number>): Float64Array;
export function predict(fit: PowerLawParams, x: number | ArrayLike<number>): number | Float64Array {
  const [c, alpha] = "alpha" in fit ? [fit.c, fit.alpha] : [fit.a, fit.beta];
  if (typeof x === "number") return c * Math.pow(x, -alpha);
  const outM = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) outM[i] = c * Math.pow(x[i]!, -alpha);
  return outM;
}

/**
 * Householder QR least squares of a `[P, 4]` row-major design against `[P]` targets. Returns the coefficients
 * and R⁻¹ (`[4, 4]`, upper triangular), or throws when a column lies in the span of the earlier ones.
 */
function householderLeastSquares(
  designP4: Float64Array,
  targetP: Float64Array,
  p: number,
): { coef: Float64Array; rInv44: Float64Array } {
  const q = JOINT_COEFS;
  const a = Float64Array.from(designP4);
  const b = Float64Array.from(targetP);
  const colNorm = new Float64Array(q);
  for (let j = 0; j < q; j++) {
    let s = 0;
    for (let i = 0; i < p; i++) s += a[i * q + j]! ** 2;
    colNorm[j] = Math.sqrt(s);
  }
  const v = new Float64Array(p);
  for (let j = 0; j < q; j++) {
    let s = 0;
    for (let i = j; i < p; i++) s += a[i * q + j]! ** 2;
    const norm = Math.sqrt(s);
    if (!(norm > RANK_TOL * colNorm[j]!)) {
      const names = ["intercept", "log n", "log k", "log n · log k"];
      throw new SaerchError(
        `fitJoint: the design is rank-deficient, the ${names[j]} column is a combination of the earlier ones`,
        "use points at 4 or more (n, k) combinations that do not all lie on one row or column of the grid",
      );
    }
    const ajj = a[j * q + j]!;
    const diag = ajj >= 0 ? -norm : norm;
    let vNorm2 = 0;
    for (let i = j; i < p; i++) {
      v[i] = a[i * q + j]! - (i === j ? diag : 0);
      vNorm2 += v[i]! ** 2;
    }
    // Apply H = I − 2 v vᵀ / (vᵀv) to the remaining columns and to the target.
    for (let col = j; col < q; col++) {
      let dot = 0;
      for (let i = j; i < p; i++) dot += v[i]! * a[i * q + col]!;
      const f = (2 * dot) / vNorm2;
      for (let i = j; i < p; i++) a[i * q + col] = a[i * q + col]! - f * v[i]!;
    }
    let dotB = 0;
    for (let i = j; i < p; i++) dotB += v[i]! * b[i]!;
    const fB = (2 * dotB) / vNorm2;
    for (let i = j; i < p; i++) b[i] = b[i]! - fB * v[i]!;
  }
  // Back substitution R·coef = (Qᵀb)[0:4], and R⁻¹ column by column.
  const coef = new Float64Array(q);
  for (let j = q - 1; j >= 0; j--) {
    let s = b[j]!;
    for (let l = j + 1; l < q; l++) s -= a[j * q + l]! * coef[l]!;
    coef[j] = s / a[j * q + j]!;
  }
  const rInv44 = new Float64Array(q * q);
  for (let col = 0; col < q; col++) {
    for (let j = col; j >= 0; j--) {
      let s = j === col ? 1 : 0;
      for (let l = j + 1; l <= col; l++) s -= a[j * q + l]! * rInv44[l * q + col]!;
      rInv44[j * q + col] = s / a[j * q + j]!;
    }
  }
  return { coef, rInv44 };
}

/**
 * Joint scaling law over dictionary size n and sparsity k (paper §3 grid): ordinary least squares on
 * `log y = b0 + b1·log n + b2·log k + b3·log n·log k`, solved by Householder QR (no normal equations, so the
 * correlated log columns lose no precision). The interaction lets the per-k exponent vary:
 * `y ∝ n^(−α(k))` with `α(k) = −(b1 + b3·log k)` and prefactor `exp(b0 + b2·log k)`.
 *
 * `n`, `k`, `y`: `[P]`, P ≥ 5 (4 coefficients and at least one residual degree of freedom), every value finite
 * and > 0, at least 2 distinct n and 2 distinct k, and points at enough (n, k) combinations for the interaction
 * to be identifiable (a full 2 × 2 grid suffices). Standard errors are the classical OLS ones,
 * `σ̂ · sqrt(diag (XᵀX)⁻¹)` with `σ̂² = RSS / (P − 4)` (computed from R⁻¹, never by inverting XᵀX).
 *
 * @throws SaerchError on a length mismatch, fewer than 5 points, a non-finite or non-positive value (named by
 *   array and index), fewer than 2 distinct n or k, or a rank-deficient design.
 */
export function fitJoint(n: ArrayLike<number>, k: ArrayLike<number>, y: ArrayLike<number>): JointFit {
  const fn = "fitJoint";
  checkLengths(fn, ["n", "k", "y"], [n, k, y]);
  const p = n.length;
  if (p < JOINT_MIN_POINTS) {
    throw new SaerchError(
      `${fn}: needs at least ${JOINT_MIN_POINTS} points (4 coefficients + 1 residual degree of freedom), got ${p}`,
      "add more (n, k) points",
    );
  }
  const logNP = checkedLogs(fn, "n", n);
  const logKP = checkedLogs(fn, "k", k);
  const logYP = checkedLogs(fn, "y", y);
  for (const [name, values, logs] of [["n", n, logNP], ["k", k, logKP]] as const) {
    if (distinctCount(logs) < 2) {
      throw new SaerchError(
        `${fn}: needs at least 2 distinct ${name} values, got only ${name} = ${values[0]}`,
        `add points at a second ${name}, or fit the single-variable law with fitPowerLaw`,
      );
    }
  }

  const designP4 = new Float64Array(p * JOINT_COEFS);
  for (let i = 0; i < p; i++) {
    designP4[i * JOINT_COEFS] = 1;
    designP4[i * JOINT_COEFS + 1] = logNP[i]!;
    designP4[i * JOINT_COEFS + 2] = logKP[i]!;
    designP4[i * JOINT_COEFS + 3] = logNP[i]! * logKP[i]!;
  }
  const { coef, rInv44 } = householderLeastSquares(designP4, logYP, p);

  const residualsP = new Float64Array(p);
  let rss = 0;
  for (let i = 0; i < p; i++) {
    let fitted = 0;
    for (let j = 0; j < JOINT_COEFS; j++) fitted += designP4[i * JOINT_COEFS + j]! * coef[j]!;
    residualsP[i] = logYP[i]! - fitted;
    rss += residualsP[i]! ** 2;
  }
  const dof = p - JOINT_COEFS;
  const sigma = Math.sqrt(rss / dof);
  // (XᵀX)⁻¹ = R⁻¹ R⁻ᵀ, so its diagonal entry j is the squared norm of row j of R⁻¹.
  const se: JointCoefficients = [0, 0, 0, 0];
  for (let j = 0; j < JOINT_COEFS; j++) {
    let s = 0;
    for (let l = j; l < JOINT_COEFS; l++) s += rInv44[j * JOINT_COEFS + l]! ** 2;
    se[j] = sigma * Math.sqrt(s);
  }
  return {
    coef: [coef[0]!, coef[1]!, coef[2]!, coef[3]!],
    se,
    r2: rSquared(logYP, residualsP),
    n: p,
    dof,
    sigma,
    residuals: residualsP,
  };
}

/** Evaluate a joint fit at one (n, k): `exp(b0 + b1·log n + b2·log k + b3·log n·log k)`. */
export function predictJoint(fit: Pick<JointFit, "coef">, n: number, k: number): number {
  const [b0, b1, b2, b3] = fit.coef;
  const ln = Math.log(n);
  const lk = Math.log(k);
  return Math.exp(b0 + b1 * ln + b2 * lk + b3 * ln * lk);
}
