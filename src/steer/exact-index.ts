/**
 * Exact top-k search by dot product over every indexed document (METHOD.md §7: "rank all abstracts by dot
 * product; show top 10"). Store vectors are unit-norm, so the dot product is the cosine:
 *
 *   score[b, n] = q_b · x_n  (float32 accumulation),   hits_b = the k largest scores, ties → lower store row
 *
 * Built once per store (all rows, or a subset such as every row but the held-out queries) and reused; rows
 * are stored as float32 or float16 (half the memory and bandwidth; scores still float32).
 *
 * Engine, chosen by measurement (`npm run bench:steer` times both candidates): a WebAssembly SIMD scan on
 * worker threads (src/steer/index-wasm.ts), each thread streaming its own slice of the rows and keeping its own
 * top-k, merged here. Search is synchronous.
 */
import { availableParallelism } from "node:os";
import { SaerchError } from "../core/errors.js";
import type { EmbeddingStore } from "../embed/store-reader.js";
import { float32ToFloat16 } from "../io/npy.js";
import {
  DIM_ALIGN,
  DTYPE_BYTES,
  f16QueryExponent,
  F16_QUERY_SCALE,
  MAX_PASS_QUERIES,
  ShardPool,
  type IndexDtype,
} from "./index-wasm.js";

export type { IndexDtype } from "./index-wasm.js";

/** Rows read from the source and written into the shards at a time while building. */
const BUILD_CHUNK_ROWS = 8192;
/**
 * Magnitudes below this (≈ 9.1e-13) are stored, and read from queries, as 0: no product in the scan can then
 * be subnormal (subnormal operands slow x86 SIMD ~100×; a test query with 1 % tiny values ran 2× slower),
 * and what is dropped is below float32 resolution of any score of unit vectors.
 */
const TINY = 2 ** -40;
/** float16 exponent bits; all set = inf/nan, all clear = zero or subnormal (stored as signed zero). */
const F16_EXP_MASK = 0x7c00;
const F16_SIGN = 0x8000;
/** Largest finite float16. */
const F16_MAX = 65504;

/** One search result. */
export interface SearchHit {
  /** Row in the source (the store row, whatever subset was indexed). */
  row: number;
  /** The document id of that row. */
  id: string;
  /** q · x in float32. */
  score: number;
}

/** Top-k of a batch as flat typed arrays: query b's hits at `[b·k, (b+1)·k)`, best first. */
export interface TopKResult {
  /** Queries B. */
  b: number;
  k: number;
  /** `[B, K]` source rows. */
  rowsBK: Int32Array;
  /** `[B, K]` scores. */
  scoresBK: Float32Array;
}

/** Rows the index reads while it is built: `read(start, end)` returns `[end − start, D]` float32. */
export interface RowSource {
  /** Rows N of the source. */
  count: number;
  /** Dimension D. */
  dim: number;
  /** `[N]` document ids (default: the row number as a string). */
  ids?: readonly string[];
  /** Rows `[start, end)` as a row-major `[end − start, D]` matrix. */
  read(start: number, end: number): Float32Array;
}

/** How an index is built. */
export interface ExactIndexOptions {
  /** Stored precision: "float32" (default, exact) or "float16" (half the bytes; scores still float32). */
  dtype?: IndexDtype;
  /** Threads = shards (default: one per core). */
  threads?: number;
  /** Index only these source rows (distinct, any order; e.g. every row but the held-out queries). */
  rows?: ArrayLike<number>;
}

/** Validate and sort a subset of rows of a source of `count`. */
function subsetRows(rows: ArrayLike<number>, count: number): Int32Array {
  const out = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (!Number.isInteger(r) || r < 0 || r >= count) {
      throw new SaerchError(`exact index: subset row ${r} (position ${i}) is outside the source's rows [0, ${count})`);
    }
    out[i] = r;
  }
  out.sort();
  for (let i = 1; i < out.length; i++) {
    if (out[i] === out[i - 1]) throw new SaerchError(`exact index: subset row ${out[i]} is listed twice`, "pass each row once");
  }
  if (out.length === 0) throw new SaerchError("exact index: the subset of rows is empty", "index at least one row");
  return out;
}

/** An in-memory exact top-k index. Call `close()` when done (it stops the worker threads). */
export class ExactIndex {
  /** Indexed rows M. */
  readonly count: number;
  /** Dimension D. */
  readonly dim: number;
  readonly dtype: IndexDtype;
  /** `[M]` the source row of each indexed position (ascending), or undefined when every row is indexed. */
  readonly rowsM: Int32Array | undefined;
  /** Bytes of the stored rows (padded to a multiple of 8 elements). */
  readonly bytes: number;
  private readonly ids: readonly string[] | undefined;
  private readonly dPad: number;
  private readonly pool: ShardPool;

  private constructor(source: RowSource, options: ExactIndexOptions) {
    const { count, dim } = source;
    const dtype = options.dtype ?? "float32";
    if (dtype !== "float32" && dtype !== "float16") throw new SaerchError(`exact index: dtype must be "float32" or "float16", got ${String(dtype)}`);
    if (!Number.isInteger(dim) || dim < 1) throw new SaerchError(`exact index: dimension must be a positive integer, got ${dim}`);
    if (!Number.isInteger(count) || count < 1) throw new SaerchError(`exact index: the source has ${count} rows`, "index at least one row");
    if (source.ids !== undefined && source.ids.length !== count) {
      throw new SaerchError(`exact index: ${source.ids.length} ids for ${count} rows`);
    }
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new SaerchError(`exact index: threads must be a positive integer, got ${threads}`);
    this.rowsM = options.rows === undefined ? undefined : subsetRows(options.rows, count);
    this.count = this.rowsM?.length ?? count;
    this.dim = dim;
    this.dtype = dtype;
    this.ids = source.ids;
    this.dPad = Math.ceil(dim / DIM_ALIGN) * DIM_ALIGN;
    this.bytes = this.count * this.dPad * DTYPE_BYTES[dtype];
    this.pool = new ShardPool(this.count, this.dPad, dtype, threads);
    try {
      this.fill(source);
    } catch (err) {
      void this.pool.close();
      throw err;
    }
    this.pool.start();
  }

  /**
   * Index an embedding store (every row, or `options.rows`).
   * @param store an opened store; its vectors are read once, in row order
   */
  static fromStore(store: EmbeddingStore, options: ExactIndexOptions = {}): ExactIndex {
    return new ExactIndex({ count: store.count, dim: store.dim, ids: store.ids, read: (s, e) => store.rows(s, e) }, options);
  }

  /**
   * Index a row-major matrix.
   * @param embND `[N, D]` rows (copied; not kept)
   * @param ids `[N]` document ids (default: the row number as a string)
   */
  static fromMatrix(embND: Float32Array, d: number, options: ExactIndexOptions & { ids?: readonly string[] } = {}): ExactIndex {
    if (!Number.isInteger(d) || d < 1 || embND.length % d !== 0) {
      throw new SaerchError(`exact index: a buffer of ${embND.length} values is not an [N, ${d}] matrix`);
    }
    const { ids, ...rest } = options;
    return new ExactIndex({ count: embND.length / d, dim: d, ...(ids ? { ids } : {}), read: (s, e) => embND.subarray(s * d, e * d) }, rest);
  }

  /** Index any row source (e.g. rows generated chunk by chunk, never held whole). */
  static fromSource(source: RowSource, options: ExactIndexOptions = {}): ExactIndex {
    return new ExactIndex(source, options);
  }

  /** Worker threads + the calling thread: one shard each. */
  get threads(): number {
    return this.pool.threads;
  }

  /** Copy the rows into the shards (checking every value), chunk by chunk. */
  private fill(source: RowSource): void {
    const { dim: d, dPad } = this;
    for (const shard of this.pool.shards) {
      for (let p0 = 0; p0 < shard.lay.rows; p0 += BUILD_CHUNK_ROWS) {
        const p1 = Math.min(shard.lay.rows, p0 + BUILD_CHUNK_ROWS);
        const chunkRD = this.readPositions(source, shard.start + p0, shard.start + p1);
        const rows = p1 - p0;
        for (let i = 0; i < chunkRD.length; i++) {
          const v = chunkRD[i]!;
          if (v - v !== 0) {
            const pos = shard.start + p0 + Math.floor(i / d);
            throw new SaerchError(`exact index: row ${this.rowsM ? this.rowsM[pos] : pos} holds ${v} at column ${i % d}`, "index finite vectors only");
          }
        }
        if (this.dtype === "float32") {
          for (let r = 0; r < rows; r++) {
            const o = (p0 + r) * dPad;
            for (let c = 0; c < d; c++) {
              const v = chunkRD[r * d + c]!;
              shard.f32[o + c] = Math.abs(v) < TINY ? 0 : v;
            }
          }
        } else {
          const halves = float32ToFloat16(chunkRD);
          for (let r = 0; r < rows; r++) {
            const o = (p0 + r) * dPad;
            for (let c = 0; c < d; c++) {
              let h = halves[r * d + c]!;
              const e = h & F16_EXP_MASK;
              if (e === F16_EXP_MASK) {
                const pos = shard.start + p0 + r;
                throw new SaerchError(
                  `exact index: row ${this.rowsM ? this.rowsM[pos] : pos} holds ${chunkRD[r * d + c]} at column ${c}, beyond float16's ±${F16_MAX}`,
                  'use dtype "float32"',
                );
              }
              if (e === 0) h &= F16_SIGN;
              shard.u16[o + c] = h;
            }
          }
        }
      }
    }
  }

  /** Rows of positions [p0, p1) as `[p1 − p0, D]`, read from the source in contiguous runs. */
  private readPositions(source: RowSource, p0: number, p1: number): Float32Array {
    const d = this.dim;
    const check = (m: Float32Array, rows: number, what: string): Float32Array => {
      if (m.length !== rows * d) throw new SaerchError(`exact index: the source returned ${m.length} values for ${what} (${rows * d} expected)`);
      return m;
    };
    const rowsM = this.rowsM;
    if (!rowsM) return check(source.read(p0, p1), p1 - p0, `rows [${p0}, ${p1})`);
    const out = new Float32Array((p1 - p0) * d);
    let p = p0;
    while (p < p1) {
      let q = p + 1;
      while (q < p1 && rowsM[q] === rowsM[q - 1]! + 1) q++;
      const run = check(source.read(rowsM[p]!, rowsM[q - 1]! + 1), q - p, `rows [${rowsM[p]}, ${rowsM[q - 1]! + 1})`);
      out.set(run, (p - p0) * d);
      p = q;
    }
    return out;
  }

  /** Throw unless `queriesBD` is a non-empty `[B, D]` matrix of finite values and 1 ≤ k ≤ M. */
  private check(queriesBD: Float32Array, k: number): number {
    const d = this.dim;
    if (!(queriesBD instanceof Float32Array)) throw new SaerchError("exact index: queries must be a Float32Array [B, D]");
    if (queriesBD.length === 0 || queriesBD.length % d !== 0) {
      throw new SaerchError(
        `exact index: a query buffer of ${queriesBD.length} values is not [B, ${d}] (the index holds ${d}-dimensional vectors)`,
        "embed the query with the model that made the index's vectors",
      );
    }
    if (!Number.isInteger(k) || k < 1 || k > this.count) {
      throw new SaerchError(`exact index: k must be an integer in [1, ${this.count}] (the indexed rows), got ${k}`);
    }
    for (let i = 0; i < queriesBD.length; i++) {
      const v = queriesBD[i]!;
      if (v - v !== 0) throw new SaerchError(`exact index: query ${Math.floor(i / d)} holds ${v} at column ${i % d}`, "search with finite query vectors");
    }
    return queriesBD.length / d;
  }

  /**
   * Exact top-k of a batch as typed arrays (the fast path; `search` wraps it).
   * @param queriesBD `[B, D]` row-major queries (not mutated)
   * @param k hits per query, 1 ≤ k ≤ count
   * @throws SaerchError on a dimension mismatch, k out of range, a non-finite query value or a score overflow
   */
  topK(queriesBD: Float32Array, k: number): TopKResult {
    const b = this.check(queriesBD, k);
    const { dim: d, dPad, pool } = this;
    const shards = pool.shards;
    const rowsBK = new Int32Array(b * k);
    const scoresBK = new Float32Array(b * k);
    const kks = shards.map((s) => Math.min(k, s.lay.rows));
    const perPass = Math.max(1, Math.min(MAX_PASS_QUERIES, ...shards.map((s, t) => Math.floor(s.lay.heapEntries / kks[t]!))));
    const unscale = new Float64Array(perPass);
    const heads = new Int32Array(shards.length);
    for (let b0 = 0; b0 < b; b0 += perPass) {
      const nq = Math.min(perPass, b - b0);
      for (let j = 0; j < nq; j++) {
        const qD = queriesBD.subarray((b0 + j) * d, (b0 + j + 1) * d);
        let scale = 1;
        unscale[j] = 1;
        if (this.dtype === "float16") {
          let maxAbs = 0;
          for (let i = 0; i < d; i++) maxAbs = Math.max(maxAbs, Math.abs(qD[i]!));
          const e = f16QueryExponent(maxAbs);
          scale = F16_QUERY_SCALE * 2 ** -e;
          unscale[j] = 2 ** e;
        }
        for (const s of shards) {
          const base = s.lay.queries / 4 + j * dPad;
          for (let i = 0; i < d; i++) {
            const v = qD[i]!;
            s.f32[base + i] = Math.abs(v) < TINY ? 0 : v * scale;
          }
        }
      }
      pool.scan(nq, k);
      // Merge the shards' sorted lists: higher score first; on a tie the lower shard (lower rows) first.
      for (let j = 0; j < nq; j++) {
        heads.fill(0);
        const out = (b0 + j) * k;
        for (let h = 0; h < k; h++) {
          let best = -1;
          let bestScore = 0;
          for (let t = 0; t < shards.length; t++) {
            if (heads[t]! >= kks[t]!) continue;
            const s = shards[t]!;
            const sc = s.f32[s.lay.heapScores / 4 + j * kks[t]! + heads[t]!]!;
            if (best < 0 || sc > bestScore) {
              best = t;
              bestScore = sc;
            }
          }
          const s = shards[best]!;
          const pos = s.start + s.i32[s.lay.heapRows / 4 + j * kks[best]! + heads[best]!]!;
          heads[best]!++;
          const score = bestScore * unscale[j]!;
          if (!Number.isFinite(score)) {
            throw new SaerchError(`exact index: query ${b0 + j} overflows float32 scores (${score})`, "search with a query of reasonable norm");
          }
          rowsBK[out + h] = this.rowsM ? this.rowsM[pos]! : pos;
          scoresBK[out + h] = score;
        }
      }
    }
    return { b, k, rowsBK, scoresBK };
  }

  /**
   * Exact top-k hits per query.
   * @param queriesBD `[B, D]` queries (a single `[D]` query is B = 1)
   * @returns B lists of k hits, best first (score desc, ties → lower row)
   */
  search(queriesBD: Float32Array, k: number): SearchHit[][] {
    const r = this.topK(queriesBD, k);
    const out: SearchHit[][] = [];
    for (let q = 0; q < r.b; q++) {
      const hits: SearchHit[] = [];
      for (let h = q * k; h < (q + 1) * k; h++) {
        const row = r.rowsBK[h]!;
        hits.push({ row, id: this.ids ? this.ids[row]! : String(row), score: r.scoresBK[h]! });
      }
      out.push(hits);
    }
    return out;
  }

  /** The k best hits of one `[D]` query. */
  searchOne(queryD: Float32Array, k: number): SearchHit[] {
    if (queryD.length !== this.dim) {
      throw new SaerchError(`exact index: the query has ${queryD.length} dimensions, the index ${this.dim}`, "embed the query with the model that made the index's vectors");
    }
    return this.search(queryD, k)[0]!;
  }

  /**
   * Read every stored byte once, all shards at once, in the same engine and threads as a search: the
   * memory-bandwidth bound of one search (time it; best of several). Returns a meaningless checksum.
   */
  streamPass(): number {
    return this.pool.stream();
  }

  /** Stop the worker threads; the index cannot search afterwards. */
  async close(): Promise<void> {
    await this.pool.close();
  }
}

/**
 * Reference top-k (float64 dot products, full sort by score desc then row asc), for tests and checks.
 * @param embND `[N, D]` rows
 * @param queriesBD `[B, D]` queries
 * @param rows optional subset of rows to rank (default all)
 */
export function exactTopKNaive(embND: Float32Array, d: number, queriesBD: Float32Array, k: number, rows?: ArrayLike<number>): TopKResult {
  const n = embND.length / d;
  const b = queriesBD.length / d;
  const cand = rows ? Array.from(rows) : Array.from({ length: n }, (_, i) => i);
  if (!Number.isInteger(k) || k < 1 || k > cand.length) throw new SaerchError(`exactTopKNaive: k must be in [1, ${cand.length}], got ${k}`);
  const rowsBK = new Int32Array(b * k);
  const scoresBK = new Float32Array(b * k);
  for (let q = 0; q < b; q++) {
    const scored = cand.map((r) => {
      let s = 0;
      for (let i = 0; i < d; i++) s += queriesBD[q * d + i]! * embND[r * d + i]!;
      return { r, s };
    });
    scored.sort((x, y) => y.s - x.s || x.r - y.r);
    for (let h = 0; h < k; h++) {
      rowsBK[q * k + h] = scored[h]!.r;
      scoresBK[q * k + h] = scored[h]!.s;
    }
  }
  return { b, k, rowsBK, scoresBK };
}
