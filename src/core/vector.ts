/**
 * Vector and row-wise helpers: dot products, norms, cosine similarity (one pair, all pairs, best match per
 * row). Convention: the cosine with a zero vector is 0 (not NaN), so zero rows never win a max.
 */
import { SaerchError } from "./errors.js";
import { checkMatrix, type Matrix, matmulTransB, shapeOf, zeros } from "./matrix.js";

function checkSameLength(fn: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) {
    throw new SaerchError(`${fn}: vectors differ in length (${a.length} vs ${b.length})`);
  }
}

function checkRows(fn: string, xND: Float32Array, n: number, d: number): void {
  if (!Number.isInteger(n) || !Number.isInteger(d) || n < 0 || d < 0 || xND.length !== n * d) {
    throw new SaerchError(`${fn}: buffer length ${xND.length} does not match [${n}, ${d}]`);
  }
}

/** Dot product of two `[D]` vectors (float64 accumulation). */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSameLength("dot", a, b);
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc += a[i]! * b[i]!;
  return acc;
}

/** Euclidean norm of a `[D]` vector. */
export function norm(a: ArrayLike<number>): number {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc += a[i]! * a[i]!;
  return Math.sqrt(acc);
}

/** Cosine similarity of two `[D]` vectors; 0 when either has zero norm. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSameLength("cosine", a, b);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  if (aa === 0 || bb === 0) return 0;
  return ab / Math.sqrt(aa * bb);
}

/** Euclidean norm of each row: `[N, D]` → `[N]`. */
export function rowNorms(xND: Float32Array, n: number, d: number): Float32Array {
  checkRows("rowNorms", xND, n, d);
  const outN: Float32Array = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * d;
    let acc = 0;
    for (let p = 0; p < d; p++) {
      const v = xND[base + p]!;
      acc += v * v;
    }
    outN[i] = Math.sqrt(acc);
  }
  return outN;
}

/** Scale each row of `[N, D]` to unit norm; zero rows stay zero. Mutates `xND`. */
export function normalizeRowsInPlace(xND: Float32Array, n: number, d: number): void {
  checkRows("normalizeRowsInPlace", xND, n, d);
  for (let i = 0; i < n; i++) {
    const base = i * d;
    let acc = 0;
    for (let p = 0; p < d; p++) {
      const v = xND[base + p]!;
      acc += v * v;
    }
    if (acc === 0) continue;
    const inv = 1 / Math.sqrt(acc);
    for (let p = 0; p < d; p++) xND[base + p]! *= inv;
  }
}

function checkPair(fn: string, aND: Matrix, bMD: Matrix): void {
  checkMatrix(aND, `${fn} (a)`);
  checkMatrix(bMD, `${fn} (b)`);
  if (aND.cols !== bMD.cols) {
    throw new SaerchError(`${fn}: a is ${shapeOf(aND)} and b is ${shapeOf(bMD)}; they need the same D`);
  }
}

/** Unit-norm copy of a matrix (zero rows stay zero). */
function normalizedCopy(mND: Matrix): Matrix {
  const data: Float32Array = mND.data.slice();
  normalizeRowsInPlace(data, mND.rows, mND.cols);
  return { rows: mND.rows, cols: mND.cols, data };
}

/** Reference all-pairs cosine: `[N, D]`, `[M, D]` → `[N, M]` with out[i, j] = cosine(a_i, b_j). */
export function cosineMatrixNaive(aND: Matrix, bMD: Matrix): Matrix {
  checkPair("cosineMatrixNaive", aND, bMD);
  const n = aND.rows;
  const m = bMD.rows;
  const d = aND.cols;
  const outNM = zeros(n, m);
  for (let i = 0; i < n; i++) {
    const ai = aND.data.subarray(i * d, (i + 1) * d);
    for (let j = 0; j < m; j++) outNM.data[i * m + j] = cosine(ai, bMD.data.subarray(j * d, (j + 1) * d));
  }
  return outNM;
}

/** Fast all-pairs cosine: `[N, D]`, `[M, D]` → `[N, M]`, via normalised copies and `matmulTransB`. */
export function cosineMatrix(aND: Matrix, bMD: Matrix): Matrix {
  checkPair("cosineMatrix", aND, bMD);
  return matmulTransB(normalizedCopy(aND), normalizedCopy(bMD));
}

/** Best match in b for each row of a. */
export interface MaxCosine {
  /** `[N]` row of b with the highest cosine (lowest index on ties). */
  indexN: Int32Array;
  /** `[N]` that cosine. */
  valueN: Float32Array;
}

/**
 * For each row of a, the row of b with the highest cosine similarity: `[N, D]`, `[M, D]` → `[N]`, `[N]`.
 * Works through a in row blocks so at most about `blockElements` cosines (default 4M, 16 MiB) exist at once.
 * M must be ≥ 1. Copies of a and b are normalised; the inputs are not mutated.
 */
export function maxCosinePerRow(aND: Matrix, bMD: Matrix, blockElements = 1 << 22): MaxCosine {
  checkPair("maxCosinePerRow", aND, bMD);
  const n = aND.rows;
  const m = bMD.rows;
  const d = aND.cols;
  if (m === 0) throw new SaerchError(`maxCosinePerRow: b is ${shapeOf(bMD)}; need at least one row to match`);
  const a = normalizedCopy(aND);
  const b = normalizedCopy(bMD);
  const indexN: Int32Array = new Int32Array(n);
  const valueN: Float32Array = new Float32Array(n);
  const blockRows = Math.max(1, Math.floor(blockElements / m));
  for (let i0 = 0; i0 < n; i0 += blockRows) {
    const rows = Math.min(blockRows, n - i0);
    const block: Matrix = { rows, cols: d, data: a.data.subarray(i0 * d, (i0 + rows) * d) };
    const cosBM = matmulTransB(block, b).data;
    for (let r = 0; r < rows; r++) {
      const base = r * m;
      let best = 0;
      let bestValue = cosBM[base]!;
      for (let j = 1; j < m; j++) {
        const v = cosBM[base + j]!;
        if (v > bestValue) {
          bestValue = v;
          best = j;
        }
      }
      indexN[i0 + r] = best;
      valueN[i0 + r] = bestValue;
    }
  }
  return { indexN, valueN };
}
