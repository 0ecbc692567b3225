/**
 * Encoding a corpus with a trained SAE, and the SAE's corpus-level metrics (METHOD.md §2, "Metrics": NMSE,
 * L0 = k with the fraction of exact zeros among the k, dead fraction, per-feature density).
 *
 * `encodeStore` streams the store in row blocks through `encodeTopK` (model.ts) and writes, atomically,
 * `codes.indices.npy` `[N, K]` int32 and `codes.values.npy` `[N, K]` float32: each file's npy header (with
 * the final shape, known in advance) goes first, then the blocks, then a rename into place. The pair is
 * complete-or-redo: `codes.json` is deleted before the two files are replaced and written after both are
 * committed, so a crash between the two renames (one file new, the other missing or old) leaves no marker,
 * and `codesProblem` tells the stage to encode again. It holds the run directory's lock while it writes.
 */
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { SaerchError } from "../core/errors.js";
import { progress as startProgress } from "../core/progress.js";
import type { EmbeddingStore } from "../embed/store-reader.js";
import { AtomicFileWriter, fsyncDir, writeJsonAtomic } from "../io/atomic.js";
import { encodeNpyHeader, type NpyArray, readNpy, readNpyHeader } from "../io/npy.js";
import { withRunLock } from "../io/run-lock.js";
import { checkSaeParams, decodeSparse } from "./model.js";
import { createSaeEncoder, type SaeEncoder } from "./onnx-encode.js";
import type { SaeParams } from "./params.js";

/** File of the `[N, K]` int32 latent indices. */
export const CODES_INDICES_FILE = "codes.indices.npy";
/** File of the `[N, K]` float32 activations. */
export const CODES_VALUES_FILE = "codes.values.npy";
/** Completion marker of the two codes files, written after both (see the module header). */
export const CODES_MARKER_FILE = "codes.json";
/** `format` field of the marker. */
export const CODES_FORMAT = "saerch-sae-codes";
/** Bytes per stored index (int32) and value (float32). */
const CODE_BYTES = 4;
/** Default rows per block when streaming a store. */
export const DEFAULT_ENCODE_BLOCK_ROWS = 1024;
/** Where encoding runs: onnxruntime on the CPU, or the webgpu engine's kernels on a WebGPU device. */
export type EncodeEngine = "onnx" | "webgpu";

/** The encoder that goes with a training engine: webgpu encodes on the device, every other engine on onnxruntime. */
export function encodeEngine(trainEngine: string): EncodeEngine {
  return trainEngine === "webgpu" ? "webgpu" : "onnx";
}

/** Open the encoder of `engine` for `params`, keeping `k` latents per row. */
export async function openSaeEncoder(params: SaeParams, k: number, engine: EncodeEngine = "onnx"): Promise<SaeEncoder> {
  if (engine === "onnx") return createSaeEncoder(params, k);
  const { createWebGpuEncoder } = await import("./webgpu/encode.js");
  return createWebGpuEncoder(params, k);
}

/** Sparse codes of N documents: document i's K latents at `[i·K, (i + 1)·K)`, largest pre-activation first. */
export interface SparseCodes {
  /** `[N, K]` latent indices. */
  indices: Int32Array;
  /** `[N, K]` activations (ReLU'd; 0 where the pre-activation was ≤ 0). */
  values: Float32Array;
  /** K, active latents per document. */
  k: number;
}

/** Per-feature statistics of a corpus's codes. */
export interface FeatureStats {
  /** Documents N. */
  count: number;
  /** Features F. */
  n: number;
  /** K. */
  k: number;
  /** `[F]` documents whose top-k contains the feature. */
  countF: Int32Array;
  /** `[F]` density: countF / N, the fraction of documents whose top-k contains the feature (METHOD.md §2). */
  densityF: Float64Array;
  /** `[F]` mean activation over the documents where the feature is active (in the top-k with a value > 0); 0 if never. */
  meanActivationF: Float64Array;
  /** `[F]` largest activation (0 if never active). */
  maxActivationF: Float32Array;
  /** Features in no document's top-k. */
  neverActive: number;
  /** Exact zeros among the N·K kept values (top-k entries whose pre-activation was ≤ 0). */
  zeroCount: number;
  /** zeroCount / (N·K). */
  zeroFraction: number;
}

/** Arguments of encodeStore. */
export interface EncodeStoreArgs {
  /** Trained SAE weights. */
  params: SaeParams;
  /** Active latents per document K. */
  k: number;
  /** Store to encode; its dimension must be params.d. */
  store: EmbeddingStore;
  /** `[N]` store rows to encode, in output order (default every row, in store order). */
  rows?: Int32Array;
  /** Output directory for codes.indices.npy and codes.values.npy. */
  dir: string;
  /** Rows per block (default 1024): memory is O(batch·(D + F)). */
  batch?: number;
  /** No progress report on stderr (default false). */
  quiet?: boolean;
  /** SHA-256 of the `sae.safetensors` holding `params` (weights-hash.ts), recorded in codes.json so codes of other weights are re-encoded. */
  weightsSha256?: string;
  /** Where the encoder runs (default "onnx"); "webgpu" for a run trained with the webgpu engine. */
  engine?: EncodeEngine;
}

/** What encodeStore wrote. */
export interface EncodeStoreResult {
  /** Path of codes.indices.npy. */
  indicesPath: string;
  /** Path of codes.values.npy. */
  valuesPath: string;
  /** Documents encoded N. */
  count: number;
  /** K. */
  k: number;
  /** Feature statistics of the codes (accumulated while streaming). */
  stats: FeatureStats;
}

/** Reconstruction quality of an SAE on a set of rows. */
export interface ReconstructionReport {
  /** Rows evaluated. */
  count: number;
  /** Σ‖x̂ − x‖² / Σ‖x − x̄‖² over the rows (x̄ their mean): the fraction of variance unexplained. */
  nmse: number;
  /** Mean over rows of cosine(x, x̂). */
  meanCosine: number;
}

/** Streaming accumulator behind `featureStats` and `encodeStore`. */
class FeatureStatsAccumulator {
  private count = 0;
  private zeros = 0;
  private readonly countF: Int32Array;
  private readonly activeF: Float64Array;
  private readonly sumF: Float64Array;
  private readonly maxF: Float32Array;

  constructor(
    private readonly n: number,
    private readonly k: number,
  ) {
    this.countF = new Int32Array(n);
    this.activeF = new Float64Array(n);
    this.sumF = new Float64Array(n);
    this.maxF = new Float32Array(n);
  }

  /** Add a block of `[B, K]` codes. */
  add(indicesBK: Int32Array, valuesBK: Float32Array): void {
    const { n, k } = this;
    if (indicesBK.length !== valuesBK.length || indicesBK.length % k !== 0) {
      throw new SaerchError(`featureStats: indices (${indicesBK.length}) and values (${valuesBK.length}) are not both [N, K = ${k}]`);
    }
    for (let p = 0; p < indicesBK.length; p++) {
      const j = indicesBK[p]!;
      if (!(j >= 0 && j < n)) throw new SaerchError(`featureStats: latent index ${j} at entry ${p} is outside [0, ${n})`);
      const v = valuesBK[p]!;
      this.countF[j]!++;
      if (v > 0) {
        this.activeF[j]!++;
        this.sumF[j]! += v;
        if (v > this.maxF[j]!) this.maxF[j] = v;
      } else if (v === 0) {
        this.zeros++;
      }
    }
    this.count += indicesBK.length / k;
  }

  result(): FeatureStats {
    const { n, k, count } = this;
    const densityF = new Float64Array(n);
    const meanActivationF = new Float64Array(n);
    let neverActive = 0;
    for (let j = 0; j < n; j++) {
      densityF[j] = count > 0 ? this.countF[j]! / count : 0;
      meanActivationF[j] = this.activeF[j]! > 0 ? this.sumF[j]! / this.activeF[j]! : 0;
      if (this.countF[j] === 0) neverActive++;
    }
    const kept = count * k;
    return {
      count,
      n,
      k,
      countF: this.countF.slice(),
      densityF,
      meanActivationF,
      maxActivationF: this.maxF.slice(),
      neverActive,
      zeroCount: this.zeros,
      zeroFraction: kept > 0 ? this.zeros / kept : 0,
    };
  }
}

/**
 * Per-feature density (fraction of documents whose top-k holds the feature), mean and max activation when
 * active, features never in any top-k, and the exact zeros among the kept values.
 * @param codes `[N, K]` codes
 * @param n features F
 */
export function featureStats(codes: SparseCodes, n: number): FeatureStats {
  const acc = new FeatureStatsAccumulator(n, codes.k);
  acc.add(codes.indices, codes.values);
  return acc.result();
}

const bytesOf = (a: Int32Array | Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Check the rows and return a block reader: block [s, e) of the output order as `[e − s, D]`. */
function blockReader(store: EmbeddingStore, rows: Int32Array | undefined): { count: number; read: (s: number, e: number) => Float32Array } {
  if (!rows) return { count: store.count, read: (s, e) => store.rows(s, e) };
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (!(r >= 0 && r < store.count)) throw new SaerchError(`row ${r} (position ${i}) is out of bounds for the store ${store.dir} of ${store.count} rows`);
  }
  return { count: rows.length, read: (s, e) => store.gather(rows.subarray(s, e)) };
}

function checkBlock(batch: number): void {
  if (!Number.isSafeInteger(batch) || batch < 1) throw new SaerchError(`batch must be a positive integer, got ${batch}`);
}

/**
 * Encode a store (or some of its rows) to `[N, K]` top-k codes in row blocks; writes codes.indices.npy and
 * codes.values.npy into `dir` (see the module header) and returns them with their feature statistics.
 * @throws SaerchError when the store's dimension is not params.d
 */
export async function encodeStore(args: EncodeStoreArgs): Promise<EncodeStoreResult> {
  const { params, k, store, dir } = args;
  const batch = args.batch ?? DEFAULT_ENCODE_BLOCK_ROWS;
  checkBlock(batch);
  checkSaeParams(params, "encodeStore");
  if (store.dim !== params.d) {
    throw new SaerchError(`the SAE takes d = ${params.d} inputs but the store ${store.dir} has d = ${store.dim}`, "encode a store of the embeddings the SAE was trained on");
  }
  if (!Number.isInteger(k) || k < 1 || k > params.n) throw new SaerchError(`k must be an integer in [1, n = ${params.n}], got ${k}`);
  const { count, read } = blockReader(store, args.rows);
  return withRunLock(dir, "SAE encoding", () => encodeLocked(args, count, read, batch));
}

/** encodeStore's writing, holding the run directory's lock. */
async function encodeLocked(args: EncodeStoreArgs, count: number, read: (s: number, e: number) => Float32Array, batch: number): Promise<EncodeStoreResult> {
  const { params, k, dir } = args;
  const indicesPath = join(dir, CODES_INDICES_FILE);
  const valuesPath = join(dir, CODES_VALUES_FILE);
  const markerPath = join(dir, CODES_MARKER_FILE);
  // From here until the new marker, the pair is not complete.
  rmSync(markerPath, { force: true });
  fsyncDir(dir);
  const indices = new AtomicFileWriter(indicesPath);
  const values = new AtomicFileWriter(valuesPath);
  const acc = new FeatureStatsAccumulator(params.n, k);
  const bar = args.quiet ? undefined : startProgress(count, "SAE encoding", { unit: "docs" });
  const encoder = await openSaeEncoder(params, k, args.engine);
  try {
    indices.write(encodeNpyHeader("<i4", [count, k]));
    values.write(encodeNpyHeader("<f4", [count, k]));
    for (let s = 0; s < count; s += batch) {
      const e = Math.min(count, s + batch);
      const { indicesBK, valuesBK } = await encoder.encode(read(s, e), e - s);
      indices.write(bytesOf(indicesBK));
      values.write(bytesOf(valuesBK));
      acc.add(indicesBK, valuesBK);
      bar?.update(e);
    }
    indices.commit();
    values.commit();
    writeJsonAtomic(markerPath, { format: CODES_FORMAT, count, k, n: params.n, ...(args.weightsSha256 !== undefined ? { weights: args.weightsSha256 } : {}) });
  } catch (err) {
    indices.abort();
    values.abort();
    throw err;
  } finally {
    await encoder.close();
  }
  bar?.finish();
  return { indicesPath, valuesPath, count, k, stats: acc.result() };
}

/**
 * Why the codes in `dir` are not one complete encoding of `count` documents with `k` latents each, or
 * undefined when they are: both files present with their marker, int32/float32 `[count, k]`, full length.
 */
export function codesProblem(dir: string, expected: { count: number; k: number; weightsSha256?: string }): string | undefined {
  const markerPath = join(dir, CODES_MARKER_FILE);
  for (const f of [CODES_INDICES_FILE, CODES_VALUES_FILE]) if (!existsSync(join(dir, f))) return `${f} is missing`;
  if (!existsSync(markerPath)) return `${CODES_MARKER_FILE} is missing (the encoding did not finish)`;
  let marker: { format?: unknown; count?: unknown; k?: unknown; weights?: unknown };
  try {
    marker = JSON.parse(readFileSync(markerPath, "utf8")) as typeof marker;
  } catch {
    return `${CODES_MARKER_FILE} is not valid JSON`;
  }
  if (marker.format !== CODES_FORMAT || marker.count !== expected.count || marker.k !== expected.k) {
    return `${CODES_MARKER_FILE} says ${JSON.stringify(marker.count)} × ${JSON.stringify(marker.k)}, expected ${expected.count} × ${expected.k}`;
  }
  if (expected.weightsSha256 !== undefined && marker.weights !== expected.weightsSha256) {
    return `${CODES_MARKER_FILE} says the codes were made by ${typeof marker.weights === "string" ? `weights ${marker.weights.slice(0, 16)}…` : "unrecorded weights"}, not the run's ${expected.weightsSha256.slice(0, 16)}…`;
  }
  for (const [f, dtype] of [[CODES_INDICES_FILE, "<i4"], [CODES_VALUES_FILE, "<f4"]] as const) {
    const path = join(dir, f);
    let header: ReturnType<typeof readNpyHeader>;
    try {
      header = readNpyHeader(path);
    } catch (err) {
      return `${f} is unreadable (${(err as Error).message.split("\n")[0]})`;
    }
    const [rows, k] = header.shape;
    if (header.dtype !== dtype || header.shape.length !== 2 || rows !== expected.count || k !== expected.k) {
      return `${f} is ${header.dtype} (${header.shape.join(", ")}), expected ${dtype} (${expected.count}, ${expected.k})`;
    }
    const size = statSync(path).size;
    if (size !== header.headerBytes + expected.count * expected.k * CODE_BYTES) return `${f} has ${size} bytes, not the ${header.headerBytes + expected.count * expected.k * CODE_BYTES} its shape needs`;
  }
  return undefined;
}

/** Read one codes file, turning a missing file into the fix that re-encodes. */
function readCodesFile(path: string, fix: string): NpyArray {
  if (!existsSync(path)) throw new SaerchError(`${path} is missing: the SAE's codes are incomplete (an encoding was interrupted, or never ran)`, fix);
  return readNpy(path);
}

/**
 * Read the codes that encodeStore wrote into `dir`.
 * @throws SaerchError when a file is missing or the two files disagree
 */
export function loadCodes(dir: string): SparseCodes {
  const indicesPath = join(dir, CODES_INDICES_FILE);
  const valuesPath = join(dir, CODES_VALUES_FILE);
  const fix = "rerun the SAE stage (runSaeStage re-encodes incomplete codes), or encodeStore";
  const idx = readCodesFile(indicesPath, fix);
  const val = readCodesFile(valuesPath, fix);
  if (idx.dtype !== "<i4" || idx.shape.length !== 2) throw new SaerchError(`${indicesPath} is not an [N, K] int32 array`, fix);
  if (val.dtype !== "<f4" || val.shape.length !== 2) throw new SaerchError(`${valuesPath} is not an [N, K] float32 array`, fix);
  if (idx.shape[0] !== val.shape[0] || idx.shape[1] !== val.shape[1]) {
    throw new SaerchError(`${indicesPath} is [${idx.shape.join(", ")}] but ${valuesPath} is [${val.shape.join(", ")}]`, fix);
  }
  return { indices: idx.data as Int32Array, values: val.data as Float32Array, k: idx.shape[1]! };
}

/**
 * Reconstruction quality on store rows, streamed in blocks: the fraction of variance unexplained over the
 * whole set (one denominator, as NMSE with the set as the batch) and the mean cosine(x, x̂).
 * @param rows `[R]` store rows (default every row); R ≥ 2
 * @param batch rows per block (default 1024)
 * @param engine where the encoder runs (default "onnx")
 */
export async function reconstructionReport(
  params: SaeParams,
  store: EmbeddingStore,
  rows: Int32Array | undefined,
  k: number,
  batch = DEFAULT_ENCODE_BLOCK_ROWS,
  engine: EncodeEngine = "onnx",
): Promise<ReconstructionReport> {
  checkBlock(batch);
  checkSaeParams(params, "reconstructionReport");
  const d = params.d;
  if (store.dim !== d) throw new SaerchError(`the SAE takes d = ${d} inputs but the store ${store.dir} has d = ${store.dim}`);
  const { count, read } = blockReader(store, rows);
  if (count < 2) throw new SaerchError(`reconstructionReport needs at least 2 rows, got ${count}`, "evaluate on more rows");
  const sumD = new Float64Array(d);
  const sumSqD = new Float64Array(d);
  let err = 0;
  let cosSum = 0;
  const encoder = await openSaeEncoder(params, k, engine);
  for (let s = 0; s < count; s += batch) {
    const e = Math.min(count, s + batch);
    const b = e - s;
    const xBD = read(s, e);
    const { indicesBK, valuesBK } = await encoder.encode(xBD, b);
    const xHatBD = decodeSparse(params, indicesBK, valuesBK, b, k);
    for (let r = 0; r < b; r++) {
      let dotXY = 0;
      let xx = 0;
      let yy = 0;
      for (let i = 0; i < d; i++) {
        const x = xBD[r * d + i]!;
        const y = xHatBD[r * d + i]!;
        err += (y - x) ** 2;
        sumD[i]! += x;
        sumSqD[i]! += x * x;
        dotXY += x * y;
        xx += x * x;
        yy += y * y;
      }
      cosSum += xx > 0 && yy > 0 ? dotXY / Math.sqrt(xx * yy) : 0;
    }
  }
  await encoder.close();
  let variance = 0;
  for (let i = 0; i < d; i++) variance += sumSqD[i]! - (sumD[i]! * sumD[i]!) / count;
  if (!(variance > 0)) throw new SaerchError(`reconstructionReport: the ${count} rows do not vary (zero variance)`);
  return { count, nmse: err / variance, meanCosine: cosSum / count };
}
