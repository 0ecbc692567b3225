/**
 * Row-wise top-k over a row-major `[N, F]` float32 buffer (the TopK activation of the SAE).
 * Order: value descending, ties broken by the lower index. The naive and fast versions return identical
 * outputs. NaN in the input is an error (it has no place in a ranking), not silently treated as -Infinity.
 */
import { SaerchError } from "./errors.js";

/** Per-row top-k: row i's picks are at `[i * k, (i + 1) * k)`, best first. */
export interface TopK {
  /** `[N, K]` column indices into the `[N, F]` input. */
  indicesNK: Int32Array;
  /** `[N, K]` the values at those indices. */
  valuesNK: Float32Array;
}

function checkArgs(fn: string, xNF: Float32Array, n: number, f: number, k: number): void {
  if (!Number.isInteger(n) || !Number.isInteger(f) || n < 0 || f < 0) {
    throw new SaerchError(`${fn}: dims must be non-negative integers, got n = ${n}, f = ${f}`);
  }
  if (xNF.length !== n * f) {
    throw new SaerchError(`${fn}: buffer length ${xNF.length} does not match [${n}, ${f}]`);
  }
  if (!Number.isInteger(k) || k < 1 || k > f) {
    throw new SaerchError(`${fn}: k must be an integer in [1, f] for input [${n}, ${f}], got k = ${k}`);
  }
}

function nanError(fn: string, n: number, f: number, i: number, j: number): SaerchError {
  return new SaerchError(
    `${fn}: NaN at row ${i}, column ${j} of the [${n}, ${f}] input; top-k needs comparable values`,
    "find where the NaN comes from (diverged training? 0/0 in a normalisation?) and fix it upstream",
  );
}

/**
 * Reference top-k: per row, sort all F indices by (value desc, index asc) and keep the first k.
 * @param xNF `[N, F]` row-major input (not mutated)
 * @returns `[N, K]` indices and values, best first
 */
export function rowTopKNaive(xNF: Float32Array, n: number, f: number, k: number): TopK {
  checkArgs("rowTopKNaive", xNF, n, f, k);
  const indicesNK: Int32Array = new Int32Array(n * k);
  const valuesNK: Float32Array = new Float32Array(n * k);
  const orderF: number[] = new Array<number>(f);
  for (let i = 0; i < n; i++) {
    const base = i * f;
    for (let j = 0; j < f; j++) {
      if (Number.isNaN(xNF[base + j])) throw nanError("rowTopKNaive", n, f, i, j);
      orderF[j] = j;
    }
    orderF.sort((p, q) => {
      const vp = xNF[base + p]!;
      const vq = xNF[base + q]!;
      if (vp > vq) return -1;
      if (vp < vq) return 1;
      return p - q;
    });
    for (let r = 0; r < k; r++) {
      const j = orderF[r]!;
      indicesNK[i * k + r] = j;
      valuesNK[i * k + r] = xNF[base + j]!;
    }
  }
  return { indicesNK, valuesNK };
}

/**
 * Fast top-k, O(N·F·log k): per row, a size-k heap whose root is the worst kept entry, stored directly in
 * that row's slice of the output arrays (no scratch allocation); each new value only needs one comparison
 * against the root unless it enters. A final in-place heapsort orders the slice best first.
 * @param xNF `[N, F]` row-major input (not mutated)
 * @returns `[N, K]` indices and values, best first; identical to `rowTopKNaive`
 */
export function rowTopK(xNF: Float32Array, n: number, f: number, k: number): TopK {
  checkArgs("rowTopK", xNF, n, f, k);
  const indicesNK: Int32Array = new Int32Array(n * k);
  const valuesNK: Float32Array = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const base = i * f;
    const o = i * k;
    // Fill the heap with the first k entries, then heapify.
    for (let j = 0; j < k; j++) {
      const v = xNF[base + j]!;
      if (Number.isNaN(v)) throw nanError("rowTopK", n, f, i, j);
      valuesNK[o + j] = v;
      indicesNK[o + j] = j;
    }
    for (let h = (k >> 1) - 1; h >= 0; h--) siftDown(valuesNK, indicesNK, o, k, h);
    // Later columns have higher indices, so they lose ties: enter only when strictly greater than the root.
    for (let j = k; j < f; j++) {
      const v = xNF[base + j]!;
      if (v > valuesNK[o]!) {
        valuesNK[o] = v;
        indicesNK[o] = j;
        siftDown(valuesNK, indicesNK, o, k, 0);
      } else if (Number.isNaN(v)) {
        throw nanError("rowTopK", n, f, i, j);
      }
    }
    // Heapsort: move the worst to the end repeatedly, leaving the best at position 0.
    for (let end = k - 1; end > 0; end--) {
      swap(valuesNK, indicesNK, o, o + end);
      siftDown(valuesNK, indicesNK, o, end, 0);
    }
  }
  return { indicesNK, valuesNK };
}

/** True when entry a ranks below entry b: smaller value, or equal value and higher index. */
function worse(va: number, ia: number, vb: number, ib: number): boolean {
  return va < vb || (va === vb && ia > ib);
}

function swap(values: Float32Array, indices: Int32Array, a: number, b: number): void {
  const v = values[a]!;
  values[a] = values[b]!;
  values[b] = v;
  const t = indices[a]!;
  indices[a] = indices[b]!;
  indices[b] = t;
}

/** Restore the "root is worst" heap property below position h of the heap at [o, o + size). */
function siftDown(values: Float32Array, indices: Int32Array, o: number, size: number, h: number): void {
  const v = values[o + h]!;
  const idx = indices[o + h]!;
  let pos = h;
  for (;;) {
    let child = 2 * pos + 1;
    if (child >= size) break;
    const right = child + 1;
    if (
      right < size &&
      worse(values[o + right]!, indices[o + right]!, values[o + child]!, indices[o + child]!)
    ) {
      child = right;
    }
    if (!worse(values[o + child]!, indices[o + child]!, v, idx)) break;
    values[o + pos] = values[o + child]!;
    indices[o + pos] = indices[o + child]!;
    pos = child;
  }
  values[o + pos] = v;
  indices[o + pos] = idx;
}
