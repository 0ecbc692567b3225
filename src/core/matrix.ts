/**
 * Dense row-major float32 matrices: a `Matrix` is `{ rows, cols, data }` with element (i, j) at
 * `data[i * cols + j]`. Naive reference kernels sit beside the fast ones so tests can compare them.
 * Dot products accumulate in float64 (JS numbers) and are rounded to float32 once, on store.
 */
import { SaerchError } from "./errors.js";
import { selectInPlace } from "./stats.js";

/** Row-major matrix: `data.length === rows * cols`. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** Shape as "[rows, cols]" for error messages. */
export function shapeOf(m: Matrix): string {
  return `[${m.rows}, ${m.cols}]`;
}

/** Throw unless `m` has non-negative integer dims and `data.length === rows * cols`. */
export function checkMatrix(m: Matrix, name = "matrix"): void {
  const ok = Number.isInteger(m.rows) && Number.isInteger(m.cols) && m.rows >= 0 && m.cols >= 0;
  if (!ok || m.data.length !== m.rows * m.cols) {
    throw new SaerchError(`${name}: shape ${shapeOf(m)} does not match data length ${m.data.length}`);
  }
}

/** A `[rows, cols]` matrix of zeros. */
export function zeros(rows: number, cols: number): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new SaerchError(`zeros: dims must be non-negative integers, got [${rows}, ${cols}]`);
  }
  const data: Float32Array = new Float32Array(rows * cols);
  return { rows, cols, data };
}

/** Matrix `[rows.length, rows[0].length]` from nested arrays (values rounded to float32); rows must agree. */
export function fromRows(rows: readonly (readonly number[])[]): Matrix {
  const n = rows.length;
  const d = rows[0]?.length ?? 0;
  const out = zeros(n, d);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    if (r.length !== d) {
      throw new SaerchError(`fromRows: row ${i} has ${r.length} values but row 0 has ${d}`);
    }
    out.data.set(r, i * d);
  }
  return out;
}

/** Row i of `mND` as a `[D]` view (subarray: shares memory with `m.data`). */
export function row(mND: Matrix, i: number): Float32Array {
  if (!Number.isInteger(i) || i < 0 || i >= mND.rows) {
    throw new SaerchError(`row: index ${i} out of range for shape ${shapeOf(mND)}`);
  }
  return mND.data.subarray(i * mND.cols, (i + 1) * mND.cols);
}

/** Transpose: `[N, D]` → `[D, N]` (new matrix; tiled 32×32 for cache locality). */
export function transpose(mND: Matrix): Matrix {
  checkMatrix(mND, "transpose");
  const n = mND.rows;
  const d = mND.cols;
  const out = zeros(d, n);
  const src = mND.data;
  const dst = out.data;
  const tile = 32;
  for (let i0 = 0; i0 < n; i0 += tile) {
    const i1 = Math.min(i0 + tile, n);
    for (let j0 = 0; j0 < d; j0 += tile) {
      const j1 = Math.min(j0 + tile, d);
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) dst[j * n + i] = src[i * d + j]!;
      }
    }
  }
  return out;
}

function checkMatmul(fn: string, a: Matrix, b: Matrix, transB: boolean): void {
  checkMatrix(a, `${fn} (a)`);
  checkMatrix(b, `${fn} (b)`);
  const bInner = transB ? b.cols : b.rows;
  if (a.cols !== bInner) {
    const need = transB ? "a.cols === b.cols" : "a.cols === b.rows";
    throw new SaerchError(`${fn}: inner dimensions differ (${need}): a is ${shapeOf(a)}, b is ${shapeOf(b)}`);
  }
}

/** Reference a·b by the textbook triple loop. `[N, K]` · `[K, M]` → `[N, M]`. */
export function matmulNaive(aNK: Matrix, bKM: Matrix): Matrix {
  checkMatmul("matmulNaive", aNK, bKM, false);
  const n = aNK.rows;
  const k = aNK.cols;
  const m = bKM.cols;
  const outNM = zeros(n, m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += aNK.data[i * k + p]! * bKM.data[p * m + j]!;
      outNM.data[i * m + j] = acc;
    }
  }
  return outNM;
}

/**
 * Fast a·b: `[N, K]` · `[K, M]` → `[N, M]`. i-k-j loop order: for each row i of a, add a[i, p] · (row p of b)
 * into a float64 scratch row, four rows of b per pass, so b is streamed row by row with no strided access.
 */
export function matmul(aNK: Matrix, bKM: Matrix): Matrix {
  checkMatmul("matmul", aNK, bKM, false);
  const n = aNK.rows;
  const k = aNK.cols;
  const m = bKM.cols;
  const outNM = zeros(n, m);
  const a = aNK.data;
  const b = bKM.data;
  const out = outNM.data;
  const accM = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    accM.fill(0);
    const aRow = i * k;
    let p = 0;
    for (; p + 4 <= k; p += 4) {
      const x0 = a[aRow + p]!;
      const x1 = a[aRow + p + 1]!;
      const x2 = a[aRow + p + 2]!;
      const x3 = a[aRow + p + 3]!;
      const b0 = p * m;
      const b1 = b0 + m;
      const b2 = b1 + m;
      const b3 = b2 + m;
      for (let j = 0; j < m; j++) {
        accM[j]! += x0 * b[b0 + j]! + x1 * b[b1 + j]! + x2 * b[b2 + j]! + x3 * b[b3 + j]!;
      }
    }
    for (; p < k; p++) {
      const x = a[aRow + p]!;
      const bRow = p * m;
      for (let j = 0; j < m; j++) accM[j]! += x * b[bRow + j]!;
    }
    const outRow = i * m;
    for (let j = 0; j < m; j++) out[outRow + j] = accM[j]!;
  }
  return outNM;
}

/** Reference a·bᵀ by the triple loop. `[N, D]` · `[M, D]`ᵀ → `[N, M]`. */
export function matmulTransBNaive(aND: Matrix, bMD: Matrix): Matrix {
  checkMatmul("matmulTransBNaive", aND, bMD, true);
  const n = aND.rows;
  const d = aND.cols;
  const m = bMD.rows;
  const outNM = zeros(n, m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let acc = 0;
      for (let p = 0; p < d; p++) acc += aND.data[i * d + p]! * bMD.data[j * d + p]!;
      outNM.data[i * m + j] = acc;
    }
  }
  return outNM;
}

/** Rows of b per cache block in matmulTransB (64 rows × 512 dims × 4 bytes = 128 KiB). */
const TRANS_B_BLOCK = 64;

/** Dot product of rows starting at `x` in `a` and `y` in `b`, over `d` elements. */
function rowDot(a: Float32Array, x: number, b: Float32Array, y: number, d: number): number {
  let s = 0;
  for (let p = 0; p < d; p++) s += a[x + p]! * b[y + p]!;
  return s;
}

/**
 * Fast a·bᵀ: `[N, D]` · `[M, D]`ᵀ → `[N, M]`, i.e. out[i, j] = dot(a_i, b_j). Rows of b are taken in blocks
 * of 64 (reused across all rows of a while cached); within a block, 2×2 tiles (two rows of a against two
 * rows of b) share each load between two dot products. Leftover rows fall back to single dot products.
 */
export function matmulTransB(aND: Matrix, bMD: Matrix): Matrix {
  checkMatmul("matmulTransB", aND, bMD, true);
  const n = aND.rows;
  const d = aND.cols;
  const m = bMD.rows;
  const outNM = zeros(n, m);
  const a = aND.data;
  const b = bMD.data;
  const out = outNM.data;
  const nEven = n - (n % 2);
  for (let j0 = 0; j0 < m; j0 += TRANS_B_BLOCK) {
    const j1 = Math.min(j0 + TRANS_B_BLOCK, m);
    const j1Even = j0 + ((j1 - j0) & ~1);
    for (let i = 0; i < nEven; i += 2) {
      const a0 = i * d;
      const a1 = a0 + d;
      const o0 = i * m;
      const o1 = o0 + m;
      for (let j = j0; j < j1Even; j += 2) {
        const b0 = j * d;
        const b1 = b0 + d;
        let s00 = 0;
        let s01 = 0;
        let s10 = 0;
        let s11 = 0;
        for (let p = 0; p < d; p++) {
          const x0 = a[a0 + p]!;
          const x1 = a[a1 + p]!;
          const y0 = b[b0 + p]!;
          const y1 = b[b1 + p]!;
          s00 += x0 * y0;
          s01 += x0 * y1;
          s10 += x1 * y0;
          s11 += x1 * y1;
        }
        out[o0 + j] = s00;
        out[o0 + j + 1] = s01;
        out[o1 + j] = s10;
        out[o1 + j + 1] = s11;
      }
      if (j1Even < j1) {
        out[o0 + j1Even] = rowDot(a, a0, b, j1Even * d, d);
        out[o1 + j1Even] = rowDot(a, a1, b, j1Even * d, d);
      }
    }
    if (nEven < n) {
      const aLast = nEven * d;
      for (let j = j0; j < j1; j++) out[nEven * m + j] = rowDot(a, aLast, b, j * d, d);
    }
  }
  return outNM;
}

/** Matrix-vector product: `[N, D]` · `[D]` → `[N]`. */
export function matVec(mND: Matrix, xD: Float32Array): Float32Array {
  checkMatrix(mND, "matVec");
  if (xD.length !== mND.cols) {
    throw new SaerchError(`matVec: matrix is ${shapeOf(mND)} but vector has length ${xD.length}`);
  }
  const n = mND.rows;
  const d = mND.cols;
  const outN: Float32Array = new Float32Array(n);
  const data = mND.data;
  for (let i = 0; i < n; i++) {
    const base = i * d;
    let acc = 0;
    for (let p = 0; p < d; p++) acc += data[base + p]! * xD[p]!;
    outN[i] = acc;
  }
  return outN;
}

/** Add `vD` to every row of `mND` (`[N, D]` += `[D]` broadcast). Mutates `mND`. */
export function addRowVectorInPlace(mND: Matrix, vD: Float32Array): void {
  checkMatrix(mND, "addRowVectorInPlace");
  if (vD.length !== mND.cols) {
    throw new SaerchError(
      `addRowVectorInPlace: matrix is ${shapeOf(mND)} but vector has length ${vD.length}`,
    );
  }
  const n = mND.rows;
  const d = mND.cols;
  const data = mND.data;
  for (let i = 0; i < n; i++) {
    const base = i * d;
    for (let p = 0; p < d; p++) data[base + p]! += vD[p]!;
  }
}

/** Multiply every element of `mND` (`[N, D]`) by `s`. Mutates `mND`. */
export function scaleInPlace(mND: Matrix, s: number): void {
  checkMatrix(mND, "scaleInPlace");
  const data = mND.data;
  for (let i = 0; i < data.length; i++) data[i]! *= s;
}

/**
 * Coordinate-wise median over rows: `[N, D]` → `[D]` (the paper's pre-encoder bias initialisation).
 * Even N averages the two middle values (as numpy.median); a column containing NaN gives NaN. N must be ≥ 1.
 * Quickselect per column: O(N·D).
 */
export function columnMedian(mND: Matrix): Float32Array {
  checkMatrix(mND, "columnMedian");
  const n = mND.rows;
  const d = mND.cols;
  if (n === 0) throw new SaerchError(`columnMedian: matrix has no rows (shape ${shapeOf(mND)})`);
  const outD: Float32Array = new Float32Array(d);
  const colN = new Float64Array(n);
  const data = mND.data;
  const mid = n >> 1;
  for (let j = 0; j < d; j++) {
    let hasNaN = false;
    for (let i = 0; i < n; i++) {
      const v = data[i * d + j]!;
      if (Number.isNaN(v)) hasNaN = true;
      colN[i] = v;
    }
    if (hasNaN) {
      outD[j] = Number.NaN;
      continue;
    }
    const upper = selectInPlace(colN, mid);
    if (n % 2 === 1) {
      outD[j] = upper;
      continue;
    }
    // Everything before `mid` is ≤ upper; the lower middle value is their maximum.
    let lower = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < mid; i++) if (colN[i]! > lower) lower = colN[i]!;
    outD[j] = (lower + upper) / 2;
  }
  return outD;
}

/** Column means: `[N, D]` → `[D]`, accumulated in float64. N must be ≥ 1. */
export function columnMean(mND: Matrix): Float32Array {
  checkMatrix(mND, "columnMean");
  const n = mND.rows;
  const d = mND.cols;
  if (n === 0) throw new SaerchError(`columnMean: matrix has no rows (shape ${shapeOf(mND)})`);
  const sumD = new Float64Array(d);
  const data = mND.data;
  for (let i = 0; i < n; i++) {
    const base = i * d;
    for (let p = 0; p < d; p++) sumD[p]! += data[base + p]!;
  }
  const outD: Float32Array = new Float32Array(d);
  for (let p = 0; p < d; p++) outD[p] = sumD[p]! / n;
  return outD;
}
