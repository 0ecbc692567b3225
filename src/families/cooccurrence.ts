/**
 * Feature co-occurrence from sparse top-k codes (METHOD.md §5), without the one-hot matrix A [N, F]:
 * C = AᵀA restricted to a feature subset of size M, counted pair by pair from each document's K latents,
 * streamed over row blocks so memory is O(M²) whatever N is. C's diagonal is the firing count n_i.
 *
 * Derived measures: the conditional W[i, j] = C[i, j] / (n_i + 1) ≈ P(j | i) (the paper's normalisation)
 * and the overlap coefficient C[i, j] / min(n_i, n_j) (for display and statistics).
 */
import { SaerchError } from "../core/errors.js";
import { readNpyHeader, readNpyRows } from "../io/npy.js";

/** Largest number of stored pairs M·(M−1)/2: one Uint32Array. */
const MAX_PAIRS = 2 ** 31;

/** Co-occurrence counts over a feature subset. */
export interface Cooccurrence {
  /** `[M]` feature ids of the subset, ascending; local index a ↔ feature `featuresM[a]`. */
  featuresM: Int32Array;
  /** Documents counted. */
  docs: number;
  /** `[M]` firing counts n_a: documents whose top-k holds feature a. */
  countM: Uint32Array;
  /** `[M·(M−1)/2]` packed upper triangle: C[a, b] for a < b at `rowStartM[a] + b`. */
  pairs: Uint32Array;
  /** `[M]` offset of row a in `pairs`, minus a + 1 (so C[a, b] = pairs[rowStartM[a] + b] for b > a). */
  rowStartM: Float64Array;
}

/** C[a, b] by local indices (symmetric; the diagonal is the firing count). */
export function pairCount(c: Cooccurrence, a: number, b: number): number {
  if (a === b) return c.countM[a]!;
  return a < b ? c.pairs[c.rowStartM[a]! + b]! : c.pairs[c.rowStartM[b]! + a]!;
}

/** W[a, b] = C[a, b] / (n_a + 1) ≈ P(b | a), the paper's normalisation (METHOD.md §5); 0 on the diagonal. */
export function conditional(c: Cooccurrence, a: number, b: number): number {
  return a === b ? 0 : pairCount(c, a, b) / (c.countM[a]! + 1);
}

/** Overlap coefficient C[a, b] / min(n_a, n_b) (0 when either never fires); 1 on the diagonal of a firing feature. */
export function overlap(c: Cooccurrence, a: number, b: number): number {
  const m = Math.min(c.countM[a]!, c.countM[b]!);
  return m === 0 ? 0 : pairCount(c, a, b) / m;
}

/** Local index of each feature id: `[F]`, −1 outside the subset. */
export function localIndex(featuresM: Int32Array, n: number): Int32Array {
  const localF = new Int32Array(n).fill(-1);
  featuresM.forEach((f, a) => {
    if (f < 0 || f >= n) throw new SaerchError(`feature ${f} is outside the dictionary [0, ${n})`);
    if (localF[f] !== -1) throw new SaerchError(`feature ${f} appears twice in the feature set`);
    localF[f] = a;
  });
  return localF;
}

/**
 * Rows counted at a time inside `add`: enough documents that a row of C, once in cache, takes many
 * increments before it leaves (on the bench's 100k case, ~1.4x faster than document by document at 2,048
 * rows, ~2x at 8,192–16,384), and a bounded index (3 int32 per entry: ~12 MB at K = 64) whatever N is.
 */
const INNER_BLOCK_ROWS = 16_384;

/**
 * Accumulates co-occurrence counts block by block (`add`), so codes can be streamed from disk.
 * Each document's latents are counted once each (a repeated index within a row is counted once).
 *
 * A block is counted row of C by row of C (Gustavson's order for sparse AᵀA): the block's documents become
 * sorted lists of local indices, an index from feature a to the documents holding it is built by counting
 * sort, and then, for a = 0 … M−1, every document holding a adds 1 to C[a, b] for each of its b > a. All of
 * row a's increments land while that row (≤ 4·M bytes) is in cache, instead of every document touching ~K
 * rows spread over the whole triangle. The counts are integers, so the order changes nothing but speed.
 * Blocks too small to repay the O(M) pass (B·K < M) are counted document by document.
 */
export class CooccurrenceCounter {
  private readonly featuresM: Int32Array;
  private readonly localF: Int32Array;
  private readonly k: number;
  private readonly countM: Uint32Array;
  private readonly pairs: Uint32Array;
  private readonly rowStartM: Float64Array;
  private readonly scratchK: Int32Array;
  /** `[M + 1]` start of each feature's entries in `posE` (per block). */
  private readonly startM1: Int32Array;
  /** `[M]` placement cursor of the counting sort. */
  private readonly cursorM: Int32Array;
  /** `[≤ B·K]` the block's distinct local indices, document after document, ascending within a document. */
  private localsE = new Int32Array(0);
  /** `[≤ B·K]` end (exclusive, in `localsE`) of the document each entry belongs to. */
  private docEndE = new Int32Array(0);
  /** `[≤ B·K]` positions in `localsE`, grouped by feature, in document order within a feature. */
  private posE = new Int32Array(0);
  private docs = 0;

  /**
   * @param featuresM `[M]` distinct feature ids in [0, n) (sorted here)
   * @param n dictionary size F
   * @param k latents per document K
   */
  constructor(featuresM: ArrayLike<number>, n: number, k: number) {
    this.featuresM = Int32Array.from(featuresM).sort();
    const m = this.featuresM.length;
    if ((m * (m - 1)) / 2 > MAX_PAIRS) {
      throw new SaerchError(`a feature set of ${m} features needs ${((m * (m - 1)) / 2).toExponential(2)} pair counts`, "restrict the feature set (a narrower density band or the clean set)");
    }
    this.localF = localIndex(this.featuresM, n);
    this.k = k;
    this.countM = new Uint32Array(m);
    this.pairs = new Uint32Array(Math.max(0, (m * (m - 1)) / 2));
    this.rowStartM = new Float64Array(m);
    for (let a = 0; a < m; a++) this.rowStartM[a] = a * m - (a * (a + 1)) / 2 - a - 1;
    this.scratchK = new Int32Array(k);
    this.startM1 = new Int32Array(m + 1);
    this.cursorM = new Int32Array(m);
  }

  /** Count a block of documents: `indicesBK` is `[B, K]` latent ids (row-major). */
  add(indicesBK: Int32Array): void {
    const { k } = this;
    if (indicesBK.length % k !== 0) throw new SaerchError(`a codes block of ${indicesBK.length} entries is not a whole number of rows of K = ${k}`);
    const rows = indicesBK.length / k;
    for (let s = 0; s < rows; s += INNER_BLOCK_ROWS) {
      const block = indicesBK.subarray(s * k, Math.min(rows, s + INNER_BLOCK_ROWS) * k);
      if (block.length < this.featuresM.length) this.addByDocument(block);
      else this.addByFeature(block);
    }
    this.docs += rows;
  }

  /** The sorted distinct local indices of row `r` of `indicesBK` into `scratchK`; returns how many. */
  private rowLocals(indicesBK: Int32Array, r: number): number {
    const { k, localF, scratchK } = this;
    let len = 0;
    const base = r * k;
    for (let j = 0; j < k; j++) {
      const f = indicesBK[base + j]!;
      const a = f >= 0 && f < localF.length ? localF[f]! : -1;
      if (a >= 0) scratchK[len++] = a;
    }
    scratchK.subarray(0, len).sort();
    let out = 0;
    for (let x = 0; x < len; x++) {
      const a = scratchK[x]!;
      if (out > 0 && scratchK[out - 1] === a) continue; // a repeated latent counts once
      scratchK[out++] = a;
    }
    return out;
  }

  /** Count a block row of C by row of C (see the class comment). */
  private addByFeature(indicesBK: Int32Array): void {
    const { k, countM, pairs, rowStartM, scratchK, startM1, cursorM } = this;
    const m = countM.length;
    const rows = indicesBK.length / k;
    if (this.localsE.length < indicesBK.length) {
      this.localsE = new Int32Array(indicesBK.length);
      this.docEndE = new Int32Array(indicesBK.length);
      this.posE = new Int32Array(indicesBK.length);
    }
    const { localsE, docEndE, posE } = this;
    // 1. The block's documents as sorted local-index lists; each feature's entry count.
    startM1.fill(0);
    let len = 0;
    for (let r = 0; r < rows; r++) {
      const l = this.rowLocals(indicesBK, r);
      const end = len + l;
      for (let x = 0; x < l; x++) {
        const a = scratchK[x]!;
        localsE[len + x] = a;
        docEndE[len + x] = end;
        startM1[a + 1]!++;
      }
      len = end;
    }
    // 2. Counting sort of the entries by feature.
    for (let a = 0; a < m; a++) {
      countM[a]! += startM1[a + 1]!;
      startM1[a + 1]! += startM1[a]!;
      cursorM[a] = startM1[a]!;
    }
    for (let q = 0; q < len; q++) posE[cursorM[localsE[q]!]!++] = q;
    // 3. Row a of C: every document holding a adds its later (larger) indices.
    for (let a = 0; a < m; a++) {
      const p1 = startM1[a + 1]!;
      const rs = rowStartM[a]!;
      for (let p = startM1[a]!; p < p1; p++) {
        const q = posE[p]!;
        const end = docEndE[q]!;
        for (let t = q + 1; t < end; t++) pairs[rs + localsE[t]!]!++;
      }
    }
  }

  /** Count a (small) block document by document. */
  private addByDocument(indicesBK: Int32Array): void {
    const { k, countM, pairs, rowStartM, scratchK } = this;
    const rows = indicesBK.length / k;
    for (let r = 0; r < rows; r++) {
      const len = this.rowLocals(indicesBK, r);
      for (let x = 0; x < len; x++) {
        const a = scratchK[x]!;
        countM[a]!++;
        const rs = rowStartM[a]!;
        for (let y = x + 1; y < len; y++) pairs[rs + scratchK[y]!]!++;
      }
    }
  }

  /** The counts so far. */
  result(): Cooccurrence {
    return { featuresM: this.featuresM, docs: this.docs, countM: this.countM, pairs: this.pairs, rowStartM: this.rowStartM };
  }
}

/**
 * Co-occurrence of a feature subset over in-memory codes.
 * @param indicesNK `[N, K]` latent ids
 */
export function cooccurrence(indicesNK: Int32Array, k: number, featuresM: ArrayLike<number>, n: number): Cooccurrence {
  const counter = new CooccurrenceCounter(featuresM, n, k);
  counter.add(indicesNK);
  return counter.result();
}

/** Rows per block when streaming codes from disk. */
export const COOC_BLOCK_ROWS = 16_384;

/**
 * Co-occurrence of a feature subset streamed from a `[N, K]` int32 `.npy` (stage 2's `codes.indices.npy`),
 * `blockRows` rows at a time: memory holds one block and the counts, never the whole file.
 */
export function cooccurrenceFromNpy(indicesPath: string, featuresM: ArrayLike<number>, n: number, blockRows = COOC_BLOCK_ROWS): Cooccurrence {
  const header = readNpyHeader(indicesPath);
  if (header.dtype !== "<i4" || header.shape.length !== 2) {
    throw new SaerchError(`${indicesPath} is not an [N, K] int32 array (${header.dtype} [${header.shape.join(", ")}])`, "point at an SAE run's codes.indices.npy");
  }
  const [rows, k] = header.shape as [number, number];
  const counter = new CooccurrenceCounter(featuresM, n, k);
  for (let start = 0; start < rows; start += blockRows) {
    counter.add(readNpyRows(indicesPath, start, Math.min(rows, start + blockRows)).data as Int32Array);
  }
  return counter.result();
}
