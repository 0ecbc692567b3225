/**
 * Reading an embedding store (layout in manifest.ts): row ranges, lookups by document id, and seeded
 * shuffled mini-batches for SAE training (paper §2: batch 1024, shuffled, fp32, 50 epochs) — all with
 * positioned reads, never loading the whole `[N, D]` matrix.
 *
 * Memory: `ids` (one string per row) and an id → row map built on first lookup are O(N); a batch needs
 * one `[N]` Int32Array permutation per epoch (4 bytes per row) plus its `[B, D]` output and a read buffer
 * of at most `[B, D]`. Nothing is O(N·D) except `readAll()`, which is guarded by a size limit.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { FormatError, SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { float16ToFloat32, readNpyHeader } from "../io/npy.js";
import {
  dtypeBytes,
  EmbeddingManifest,
  formatZodIssues,
  MANIFEST_FILE,
  npyDescr,
  ShardIds,
  type StoreDtype,
} from "./manifest.js";

/** Default limit of `readAll()`: 1 GiB of float32 (≈ 175k × 1536 rows); larger stores go through `batches`. */
const READ_ALL_MAX_BYTES = 1 << 30;
/** Rows per chunk when `storeStats` scans a store. */
const STATS_CHUNK_ROWS = 4096;
/** Largest single readSync (Node rejects lengths ≥ 2 GiB). */
const READ_CHUNK_BYTES = 1 << 30;

const REBUILD_FIX = "rebuild the store (delete its directory and rerun embedToStore or adoptNpy)";

/**
 * Read and validate `dir/manifest.json`.
 * @throws SaerchError when it is missing, FormatError when it is not valid JSON or not a manifest
 */
export function readManifest(dir: string): EmbeddingManifest {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) {
    throw new SaerchError(
      `no embedding store at ${dir} (${MANIFEST_FILE} is missing)`,
      "build it with embedToStore or adoptNpy, or check the path",
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new FormatError(path, `not valid JSON (${(err as Error).message})`, REBUILD_FIX);
  }
  const parsed = EmbeddingManifest.safeParse(json);
  if (!parsed.success) {
    throw new FormatError(path, `not an embedding-store manifest: ${formatZodIssues(parsed.error)}`, REBUILD_FIX);
  }
  return parsed.data;
}

/**
 * Read and validate a shard id file.
 * @throws FormatError when it is not valid JSON or not a ShardIds object
 */
export function readShardIds(path: string): ShardIds {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new FormatError(path, `not a readable JSON shard id file (${(err as Error).message})`, REBUILD_FIX);
  }
  const parsed = ShardIds.safeParse(json);
  if (!parsed.success) {
    throw new FormatError(path, `not a shard id file: ${formatZodIssues(parsed.error)}`, REBUILD_FIX);
  }
  return parsed.data;
}

/**
 * Whose `.npy` a reader opens, which decides the fix its errors give: a store's own "shard" (rebuild the
 * store) or a user's "input" file being adopted (re-save it with numpy).
 */
export type NpyFileRole = "shard" | "input";

/** Fixes for a user's vectors file, by what is wrong. */
const INPUT_FIX = {
  shape: "save the vectors as one [N, D] matrix, e.g. np.save(path, np.asarray(vectors, dtype=np.float32).reshape(N, D))",
  dtype: "convert with numpy: np.save(path, a.astype(np.float32))",
  size: "the file is shorter than its header says (an interrupted copy or save?): copy or save it again",
} as const;

/**
 * Positioned reads of whole rows from one `[R, D]` float32/float16 `.npy` (a store shard, or a user's file
 * being adopted), returned as float32. Keeps one file descriptor open until `close()`.
 */
export class NpyRowReader {
  readonly path: string;
  readonly rows: number;
  readonly dim: number;
  readonly dtype: StoreDtype;
  private readonly dataOffset: number;
  private fd: number | undefined;

  /**
   * Open `path` and check its header: 2-D, float32 or float16, and as many bytes as the shape needs.
   * @param expected when given, the shape and dtype the shard must have (else FormatError)
   * @param role a store's "shard" (default; errors say to rebuild the store) or a user's "input" file
   */
  constructor(path: string, expected?: { rows: number; dim: number; dtype: StoreDtype }, role: NpyFileRole = "shard") {
    const shard = role === "shard";
    if (!existsSync(path)) {
      throw shard ? new SaerchError(`embedding shard ${path} is missing`, REBUILD_FIX) : new SaerchError(`embeddings file ${path} not found`, "check the path");
    }
    let header: ReturnType<typeof readNpyHeader>;
    try {
      header = readNpyHeader(path);
    } catch (err) {
      // npy.ts's fixes fit a user's file; a store shard is rebuilt instead.
      if (shard && err instanceof FormatError) throw new FormatError(err.file, `embedding-store shard: ${err.detail}`, REBUILD_FIX);
      throw err;
    }
    if (header.shape.length !== 2) {
      throw new FormatError(path, `expected a 2-D [rows, D] array, got shape (${header.shape.join(", ")})`, shard ? REBUILD_FIX : INPUT_FIX.shape);
    }
    if (header.dtype !== "<f4" && header.dtype !== "<f2") {
      throw new FormatError(path, `expected float32 or float16 vectors, got ${header.dtype}`, shard ? REBUILD_FIX : INPUT_FIX.dtype);
    }
    const [rows, dim] = header.shape as [number, number];
    this.path = path;
    this.rows = rows;
    this.dim = dim;
    this.dtype = header.dtype === "<f4" ? "float32" : "float16";
    this.dataOffset = header.headerBytes;
    if (expected) {
      if (rows !== expected.rows || dim !== expected.dim || header.dtype !== npyDescr(expected.dtype)) {
        throw new FormatError(
          path,
          `shard has shape [${rows}, ${dim}] ${this.dtype}; the manifest says [${expected.rows}, ${expected.dim}] ${expected.dtype}`,
          REBUILD_FIX,
        );
      }
    }
    const fd = openSync(path, "r");
    const size = fstatSync(fd).size;
    const needed = this.dataOffset + rows * dim * dtypeBytes(this.dtype);
    if (size < needed) {
      closeSync(fd);
      throw shard
        ? new FormatError(path, `truncated shard: [${rows}, ${dim}] ${this.dtype} needs ${needed} bytes, file has ${size}`, REBUILD_FIX)
        : new FormatError(path, `truncated .npy data: shape (${rows}, ${dim}) ${this.dtype} needs ${needed} bytes, file has ${size}`, INPUT_FIX.size);
    }
    this.fd = fd;
  }

  /**
   * Read rows `[first, first + count)` into `outF32` starting at element `outOffset` (float16 → float32).
   * Mutates `outF32`.
   */
  readRowsInto(first: number, count: number, outF32: Float32Array, outOffset: number): void {
    if (this.fd === undefined) throw new SaerchError(`NpyRowReader(${this.path}) is closed`);
    if (first < 0 || count < 0 || first + count > this.rows) {
      throw new SaerchError(`${this.path}: rows [${first}, ${first + count}) out of bounds for ${this.rows} rows`);
    }
    const elems = count * this.dim;
    const itemBytes = dtypeBytes(this.dtype);
    const position = this.dataOffset + first * this.dim * itemBytes;
    if (this.dtype === "float32") {
      const target = new Uint8Array(outF32.buffer, outF32.byteOffset + outOffset * 4, elems * 4);
      this.readFully(target, position);
    } else {
      const halfE = new Uint16Array(elems);
      this.readFully(new Uint8Array(halfE.buffer), position);
      outF32.set(float16ToFloat32(halfE), outOffset);
    }
  }

  /** Close the file descriptor (safe to call twice). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private readFully(target: Uint8Array, position: number): void {
    let got = 0;
    while (got < target.byteLength) {
      const n = readSync(this.fd!, target, got, Math.min(target.byteLength - got, READ_CHUNK_BYTES), position + got);
      if (n === 0) throw new FormatError(this.path, `unexpected end of file at byte ${position + got}`, REBUILD_FIX);
      got += n;
    }
  }
}

/** Options of `batchAt` and `batches`. */
export interface BatchOptions {
  /** Rows per batch B (the paper uses 1024). */
  batchSize: number;
  /** Seed of the shuffle; epoch e uses the stream `new Rng(seed).fork("epoch:" + e)`. */
  seed: number | string;
  /** Drop the last, smaller batch of each epoch (default false: every row is seen every epoch). */
  dropLast?: boolean;
}

/** Options of `batches`: which epochs, and where to resume. */
export interface BatchesOptions extends BatchOptions {
  /** Number of epochs (default 1); epochs are numbered 0 … epochs − 1. */
  epochs?: number;
  /** Resume position: start at this epoch and batch (default `{ epoch: 0, batch: 0 }`). */
  start?: { epoch: number; batch: number };
}

/** One shuffled mini-batch. */
export interface EmbeddingBatch {
  /** Epoch it belongs to. */
  epoch: number;
  /** Batch number j within the epoch. */
  batch: number;
  /** `[B]` store row of each batch row. */
  indices: Int32Array;
  /** `[B, D]` the rows' vectors, in `indices` order. */
  embBD: Float32Array;
}

/** Per-row norm statistics of a store. */
export interface StoreStats {
  /** Rows N. */
  count: number;
  /** Dimension D. */
  dim: number;
  /** Smallest row L2 norm. */
  normMin: number;
  /** Mean row L2 norm. */
  normMean: number;
  /** Largest row L2 norm. */
  normMax: number;
  /** `[N]` every row's L2 norm (4 bytes per row), for histograms. */
  norms: Float32Array;
}

/** Options of `EmbeddingStore.open`. */
export interface StoreOpenOptions {
  /**
   * Largest `readAll()` in bytes (default 1 GiB ≈ 175k × 1536 float32 rows): a whole-store read past it is
   * refused, naming the streaming calls instead. Set it low to prove a code path never loads the store.
   */
  readAllMaxBytes?: number;
}

/** A validated, opened embedding store. See the module header for what it keeps in memory. */
export class EmbeddingStore {
  /** Store directory. */
  readonly dir: string;
  /** The validated manifest. */
  readonly manifest: EmbeddingManifest;
  /** Rows N. */
  readonly count: number;
  /** Dimension D. */
  readonly dim: number;
  /** On-disk precision (reads always return float32). */
  readonly dtype: StoreDtype;
  /** `[N]` document id of every row. */
  readonly ids: string[];
  /** `[N]` text hash of every row (null where the text was unknown). */
  readonly textHashes: Array<string | null>;
  private readonly shardStarts: number[];
  private readonly shardPaths: string[];
  private readonly readers: Array<NpyRowReader | undefined>;
  private readonly readAllMaxBytes: number;
  private idIndex: Map<string, number> | undefined;
  private cachedPerm: { seed: number | string; epoch: number; permN: Int32Array } | undefined;

  private constructor(dir: string, manifest: EmbeddingManifest, ids: string[], hashes: Array<string | null>, readAllMaxBytes: number) {
    this.dir = dir;
    this.readAllMaxBytes = readAllMaxBytes;
    this.manifest = manifest;
    this.count = manifest.count;
    this.dim = manifest.dim;
    this.dtype = manifest.dtype;
    this.ids = ids;
    this.textHashes = hashes;
    this.shardStarts = manifest.shards.map((s) => s.start);
    this.shardPaths = manifest.shards.map((s) => join(dir, s.file));
    this.readers = manifest.shards.map(() => undefined);
  }

  /**
   * Open and validate a store: the manifest (zod), completeness, every shard present with shape
   * `[rows, D]` and the manifest's dtype and enough bytes, id files matching their shards, ids unique.
   * @throws SaerchError / FormatError naming the file and the fix
   */
  static open(dir: string, options: StoreOpenOptions = {}): EmbeddingStore {
    const readAllMaxBytes = options.readAllMaxBytes ?? READ_ALL_MAX_BYTES;
    if (!(readAllMaxBytes >= 0)) throw new SaerchError(`readAllMaxBytes must be a non-negative number of bytes, got ${readAllMaxBytes}`);
    const m = readManifest(dir);
    const manifestPath = join(dir, MANIFEST_FILE);
    if (!m.complete) {
      throw new SaerchError(
        `embedding store ${dir} is incomplete (${m.shards.length} shards written so far; a writer was stopped or is still running)`,
        "rerun embedToStore with the same arguments: it resumes from the last completed shard",
      );
    }
    const ids: string[] = [];
    const hashes: Array<string | null> = [];
    let expectedStart = 0;
    m.shards.forEach((s, i) => {
      if (s.index !== i || s.start !== expectedStart) {
        throw new FormatError(
          manifestPath,
          `shard ${i} (${s.file}) has index ${s.index} and start ${s.start}; expected index ${i} and start ${expectedStart}`,
          REBUILD_FIX,
        );
      }
      new NpyRowReader(join(dir, s.file), { rows: s.rows, dim: m.dim, dtype: m.dtype }).close();
      const idsPath = join(dir, s.idsFile);
      if (!existsSync(idsPath)) throw new SaerchError(`shard id file ${idsPath} is missing`, REBUILD_FIX);
      const sid = readShardIds(idsPath);
      if (sid.ids.length !== s.rows) {
        throw new FormatError(idsPath, `lists ${sid.ids.length} ids but its shard ${s.file} has ${s.rows} rows`, REBUILD_FIX);
      }
      if (sid.embedderId !== m.embedderId || sid.dim !== m.dim || sid.dtype !== m.dtype) {
        throw new FormatError(
          idsPath,
          `was written for ${sid.embedderId} [${sid.dim}] ${sid.dtype}, the manifest says ${m.embedderId} [${m.dim}] ${m.dtype}`,
          REBUILD_FIX,
        );
      }
      for (let r = 0; r < sid.ids.length; r++) {
        ids.push(sid.ids[r]!);
        hashes.push(sid.textHashes[r]!);
      }
      expectedStart += s.rows;
    });
    if (expectedStart !== m.count) {
      throw new FormatError(manifestPath, `shards hold ${expectedStart} rows but count is ${m.count}`, REBUILD_FIX);
    }
    const store = new EmbeddingStore(dir, m, ids, hashes, readAllMaxBytes);
    store.buildIdIndex();
    return store;
  }

  /** Number of batches per epoch: ⌈N / B⌉, or ⌊N / B⌋ with `dropLast`. */
  batchesPerEpoch(batchSize: number, dropLast = false): number {
    checkBatchSize(batchSize);
    return dropLast ? Math.floor(this.count / batchSize) : Math.ceil(this.count / batchSize);
  }

  /**
   * Rows `[start, end)` as one `[end − start, D]` float32 matrix, read shard by shard straight into the
   * result (positioned reads of only those bytes, across shard boundaries; no intermediate copy).
   */
  rows(start: number, end: number): Float32Array {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > this.count) {
      throw new SaerchError(`rows(${start}, ${end}) is out of bounds for a store of ${this.count} rows`);
    }
    // Every element is overwritten below, so skip zero-filling: an uninitialised buffer of the exact size.
    const bytes = (end - start) * this.dim * 4;
    const outRD: Float32Array = new Float32Array(Buffer.allocUnsafeSlow(bytes).buffer, 0, bytes / 4);
    let row = start;
    while (row < end) {
      const s = this.shardOf(row);
      const first = row - this.shardStarts[s]!;
      const take = Math.min(end - row, this.manifest.shards[s]!.rows - first);
      this.reader(s).readRowsInto(first, take, outRD, (row - start) * this.dim);
      row += take;
    }
    return outRD;
  }

  /** Row index of document `id`, or −1 when the store does not hold it. */
  indexOf(id: string): number {
    return this.buildIdIndex().get(id) ?? -1;
  }

  /** `[D]` vector of document `id`, or undefined when the store does not hold it. */
  getById(id: string): Float32Array | undefined {
    const i = this.indexOf(id);
    return i < 0 ? undefined : this.rows(i, i + 1);
  }

  /**
   * Gather arbitrary rows into a `[B, D]` matrix in the given order. Reads go in file order (the indices
   * sorted by row, runs of consecutive rows read at once), then scatter to their batch positions.
   * @param indices `[B]` store rows (repeats allowed)
   */
  gather(indices: ArrayLike<number>): Float32Array {
    const b = indices.length;
    const d = this.dim;
    const outBD: Float32Array = new Float32Array(b * d);
    const order = Array.from({ length: b }, (_, p) => p);
    for (let p = 0; p < b; p++) {
      const r = indices[p]!;
      if (!Number.isInteger(r) || r < 0 || r >= this.count) {
        throw new SaerchError(`gather: row ${r} (position ${p}) is out of bounds for a store of ${this.count} rows`);
      }
    }
    order.sort((x, y) => indices[x]! - indices[y]!);
    let scratch: Float32Array = new Float32Array(0);
    let k = 0;
    while (k < b) {
      const first = indices[order[k]!]!;
      const s = this.shardOf(first);
      const shardEnd = this.shardStarts[s]! + this.manifest.shards[s]!.rows;
      // extend the run while rows repeat or follow on within the same shard
      let last = first;
      let kEnd = k + 1;
      while (kEnd < b) {
        const r = indices[order[kEnd]!]!;
        if (r !== last && (r !== last + 1 || r >= shardEnd)) break;
        last = r;
        kEnd++;
      }
      const runRows = last - first + 1;
      if (scratch.length < runRows * d) scratch = new Float32Array(runRows * d);
      this.reader(s).readRowsInto(first - this.shardStarts[s]!, runRows, scratch, 0);
      for (let q = k; q < kEnd; q++) {
        const p = order[q]!;
        const off = (indices[p]! - first) * d;
        outBD.set(scratch.subarray(off, off + d), p * d);
      }
      k = kEnd;
    }
    return outBD;
  }

  /**
   * The shuffled row order of one epoch: `new Rng(seed).fork("epoch:" + epoch).permutation(N)`.
   * Depends only on (seed, epoch), so training can resume at any epoch. The last one is cached.
   * @returns `[N]` row indices
   */
  epochPermutation(seed: number | string, epoch: number): Int32Array {
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new SaerchError(`epoch must be a non-negative integer, got ${epoch}`);
    const c = this.cachedPerm;
    if (c && c.seed === seed && c.epoch === epoch) return c.permN;
    const permN = new Rng(seed).fork(`epoch:${epoch}`).permutation(this.count);
    this.cachedPerm = { seed, epoch, permN };
    return permN;
  }

  /**
   * Batch `batch` of epoch `epoch`: rows `perm[j·B, min((j+1)·B, N))` of that epoch's permutation.
   * Exactly what `batches` yields at that position, so a resumed run continues identically.
   */
  batchAt(options: BatchOptions, epoch: number, batch: number): EmbeddingBatch {
    const { batchSize, seed, dropLast = false } = options;
    const perEpoch = this.batchesPerEpoch(batchSize, dropLast);
    if (!Number.isSafeInteger(batch) || batch < 0 || batch >= perEpoch) {
      throw new SaerchError(`batch ${batch} is out of range: an epoch has ${perEpoch} batches of ${batchSize}`);
    }
    const permN = this.epochPermutation(seed, epoch);
    const indices = permN.slice(batch * batchSize, Math.min((batch + 1) * batchSize, this.count));
    return { epoch, batch, indices, embBD: this.gather(indices) };
  }

  /**
   * Shuffled `[B, D]` mini-batches, epoch after epoch; every row exactly once per epoch (unless `dropLast`
   * drops the remainder). Deterministic in `seed`; each epoch has its own permutation.
   */
  async *batches(options: BatchesOptions): AsyncGenerator<EmbeddingBatch> {
    const { epochs = 1, start = { epoch: 0, batch: 0 } } = options;
    const perEpoch = this.batchesPerEpoch(options.batchSize, options.dropLast);
    if (!Number.isSafeInteger(epochs) || epochs < 0) throw new SaerchError(`epochs must be a non-negative integer, got ${epochs}`);
    if (!Number.isSafeInteger(start.epoch) || start.epoch < 0 || !Number.isSafeInteger(start.batch) || start.batch < 0) {
      throw new SaerchError(`start must be non-negative integers, got epoch ${start.epoch}, batch ${start.batch}`);
    }
    for (let e = start.epoch; e < epochs; e++) {
      for (let j = e === start.epoch ? start.batch : 0; j < perEpoch; j++) {
        yield this.batchAt(options, e, j);
      }
    }
  }

  /**
   * The whole store as one `[N, D]` float32 matrix — for small stores only.
   * @param maxBytes refuse when N·D·4 exceeds this (default: the store's `readAllMaxBytes`, 1 GiB unless opened otherwise)
   */
  readAll(maxBytes = this.readAllMaxBytes): Float32Array {
    const bytes = this.count * this.dim * 4;
    if (bytes > maxBytes) {
      throw new SaerchError(
        `readAll would allocate ${(bytes / 2 ** 20).toFixed(0)} MiB (limit ${(maxBytes / 2 ** 20).toFixed(0)} MiB)`,
        "stream it (storeStats, storeDomainCosines, rows(start, end), gather of a sample, batches()), or pass a larger maxBytes",
      );
    }
    return this.rows(0, this.count);
  }

  /** Close the shard file descriptors that gather/batches opened (the store stays usable; they reopen). */
  close(): void {
    this.readers.forEach((r, i) => {
      r?.close();
      this.readers[i] = undefined;
    });
  }

  /** Index of the shard holding `row` (binary search over shard starts). */
  private shardOf(row: number): number {
    let lo = 0;
    let hi = this.shardStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.shardStarts[mid]! <= row) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private reader(s: number): NpyRowReader {
    let r = this.readers[s];
    if (!r) {
      r = new NpyRowReader(this.shardPaths[s]!);
      this.readers[s] = r;
    }
    return r;
  }

  private buildIdIndex(): Map<string, number> {
    if (this.idIndex) return this.idIndex;
    const index = new Map<string, number>();
    this.ids.forEach((id, i) => {
      const prev = index.get(id);
      if (prev !== undefined) {
        throw new FormatError(
          join(this.dir, MANIFEST_FILE),
          `document id "${id}" appears twice (rows ${prev} and ${i})`,
          REBUILD_FIX,
        );
      }
      index.set(id, i);
    });
    this.idIndex = index;
    return index;
  }
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new SaerchError(`batchSize must be a positive integer, got ${batchSize}`);
  }
}

/**
 * Per-row L2 norms of a store, scanned in chunks of 4096 rows (memory O(chunk·D) plus the `[N]` norms).
 * @returns min / mean / max norm and every row's norm
 */
export function storeStats(store: EmbeddingStore, chunkRows = STATS_CHUNK_ROWS): StoreStats {
  const d = store.dim;
  const norms: Float32Array = new Float32Array(store.count);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let start = 0; start < store.count; start += chunkRows) {
    const end = Math.min(store.count, start + chunkRows);
    const chunkCD = store.rows(start, end);
    for (let i = 0; i < end - start; i++) {
      let acc = 0;
      for (let p = i * d; p < (i + 1) * d; p++) acc += chunkCD[p]! * chunkCD[p]!;
      const n = Math.sqrt(acc);
      norms[start + i] = n;
      if (n < min) min = n;
      if (n > max) max = n;
      sum += n;
    }
  }
  const empty = store.count === 0;
  return {
    count: store.count,
    dim: d,
    normMin: empty ? NaN : min,
    normMean: empty ? NaN : sum / store.count,
    normMax: empty ? NaN : max,
    norms,
  };
}
