/**
 * Principal component analysis by subspace (block power) iteration: the top C directions of an `[N, D]`
 * matrix without forming the `[D, D]` covariance. Used for 2-D maps of embeddings (notebook 01), where C
 * is 2–3 and D a few hundred to a few thousand.
 */
import { SaerchError } from "./errors.js";
import { Rng } from "./rng.js";

/** A fitted PCA. */
export interface Pca {
  /** Number of components C. */
  components: number;
  /** Input dimension D. */
  dim: number;
  /** Column means `[D]` subtracted before projecting. */
  meanD: Float32Array;
  /** Unit-norm principal directions, row-major `[C, D]`, by decreasing variance. */
  componentsCD: Float32Array;
  /** Variance along each component `[C]` (population variance of the projections). */
  varianceC: Float64Array;
  /** Total variance of the data (sum of per-column variances), for explained-variance ratios. */
  totalVariance: number;
}

/** Options for {@link pcaFit}. */
export interface PcaOptions {
  /** Components to find (default 2). */
  components?: number;
  /** Subspace iterations (default 60: ample for the well-separated top components of embeddings). */
  iterations?: number;
  /** Seed of the random start (default 0). */
  seed?: number;
}

/** Orthonormalise the C columns of `vDC` (row-major `[D, C]`) in place by modified Gram–Schmidt. */
function orthonormalizeColumnsInPlace(vDC: Float64Array, d: number, c: number): void {
  for (let j = 0; j < c; j++) {
    for (let p = 0; p < j; p++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += vDC[i * c + j]! * vDC[i * c + p]!;
      for (let i = 0; i < d; i++) vDC[i * c + j]! -= dot * vDC[i * c + p]!;
    }
    let norm = 0;
    for (let i = 0; i < d; i++) norm += vDC[i * c + j]! ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < d; i++) vDC[i * c + j]! /= norm;
  }
}

/**
 * Fit the top principal components of `xND`.
 * @param xND row-major data `[N, D]`
 * @param n rows N (≥ 2)
 * @param d columns D (≥ components)
 */
export function pcaFit(xND: Float32Array, n: number, d: number, opts: PcaOptions = {}): Pca {
  const c = opts.components ?? 2;
  const iterations = opts.iterations ?? 60;
  if (n < 2 || d < c || xND.length !== n * d) {
    throw new SaerchError(`pcaFit needs N ≥ 2 rows and D ≥ ${c} columns in a [N, D] buffer (got N=${n}, D=${d}, length ${xND.length})`);
  }
  const meanD = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) meanD[i]! += xND[r * d + i]!;
  for (let i = 0; i < d; i++) meanD[i]! /= n;
  let totalVariance = 0;
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) totalVariance += (xND[r * d + i]! - meanD[i]!) ** 2;
  totalVariance /= n;

  const rng = new Rng(opts.seed ?? 0);
  let vDC = new Float64Array(d * c);
  for (let i = 0; i < vDC.length; i++) vDC[i] = rng.normal();
  orthonormalizeColumnsInPlace(vDC, d, c);
  const projC = new Float64Array(c);
  for (let it = 0; it < iterations; it++) {
    // W = Xcᵀ (Xc V), one row of X at a time: p = (x − μ)·V, W += (x − μ)ᵀ p.
    const wDC = new Float64Array(d * c);
    for (let r = 0; r < n; r++) {
      projC.fill(0);
      const off = r * d;
      for (let i = 0; i < d; i++) {
        const xi = xND[off + i]! - meanD[i]!;
        for (let j = 0; j < c; j++) projC[j]! += xi * vDC[i * c + j]!;
      }
      for (let i = 0; i < d; i++) {
        const xi = xND[off + i]! - meanD[i]!;
        for (let j = 0; j < c; j++) wDC[i * c + j]! += xi * projC[j]!;
      }
    }
    orthonormalizeColumnsInPlace(wDC, d, c);
    vDC = wDC;
  }
  // Variance along each direction, then order components by it.
  const varianceC = new Float64Array(c);
  for (let r = 0; r < n; r++) {
    projC.fill(0);
    for (let i = 0; i < d; i++) {
      const xi = xND[r * d + i]! - meanD[i]!;
      for (let j = 0; j < c; j++) projC[j]! += xi * vDC[i * c + j]!;
    }
    for (let j = 0; j < c; j++) varianceC[j]! += projC[j]! ** 2 / n;
  }
  const order = Array.from({ length: c }, (_, j) => j).sort((a, b) => varianceC[b]! - varianceC[a]!);
  const componentsCD = new Float32Array(c * d);
  order.forEach((j, rank) => {
    for (let i = 0; i < d; i++) componentsCD[rank * d + i] = vDC[i * c + j]!;
  });
  return {
    components: c,
    dim: d,
    meanD: Float32Array.from(meanD),
    componentsCD,
    varianceC: Float64Array.from(order.map((j) => varianceC[j]!)),
    totalVariance,
  };
}

/**
 * Project rows onto a fitted PCA.
 * @param xND row-major data `[N, D]` with D = pca.dim
 * @returns coordinates `[N, C]`
 */
export function pcaProject(xND: Float32Array, n: number, pca: Pca): Float32Array {
  const { dim: d, components: c } = pca;
  if (xND.length !== n * d) throw new SaerchError(`pcaProject: expected a [${n}, ${d}] buffer, got length ${xND.length}`);
  const outNC = new Float32Array(n * c);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += (xND[r * d + i]! - pca.meanD[i]!) * pca.componentsCD[j * d + i]!;
      outNC[r * c + j] = s;
    }
  }
  return outNC;
}
