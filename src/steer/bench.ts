/**
 * `npm run bench:steer` (METHOD.md §7): latency of one steered query end to end, the way the explorer serves
 * it — SAE-encode the query embedding (`encodeTopK`, an SAE of n = 8·d, k = 32 with random `initSaeParams`:
 * timing does not depend on trained weights), intervene (q' = q + s·d_f, d_f a unit decoder direction of a
 * latent not active on the query), rank every indexed document exactly (`ExactIndex`) and return the top 10
 * — on
 *
 * 1. the real shared store (../shared/embeddings/use-lite-512: 25,662 × 512), indexing every row except the
 *    held-out query documents, whose own embeddings are the queries;
 * 2. seeded synthetic unit rows at N = 100k and 1M, d = 512 and 1536, generated chunk by chunk straight into
 *    the index (1M × 1536 float32 is 6.1 GB: two shards of 3.1 GB; float16 halves it).
 *
 * Alongside, in the same process and engine, the memory-bandwidth bound: the best of several reads of every
 * stored byte (`ExactIndex.streamPass`); we report p95 / bound. Where the matrix fits one ONNX initializer
 * (< 2 GB) the float32 cases also time the onnxruntime candidates (MatMul with the matrix as an initializer,
 * or Gemm with it as a reused input, then TopK in the graph) on the same steered queries: the measurement
 * behind the engine choice in exact-index.ts. Each case runs in its own child process, so its peak RSS is its
 * own. Measurements only; nothing here gates CI.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { z } from "zod";
import { SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { readIdList } from "../embed/adopt-npy.js";
import { float16ToFloat32, readNpyHeader, readNpyRows } from "../io/npy.js";
import { repoPath, sharedPath } from "../io/paths.js";
import { buildOnnxModel } from "../compute/onnx-model.js";
import { encodeTopK } from "../sae/model.js";
import { initSaeParams } from "../sae/params.js";
import { ExactIndex, type RowSource } from "./exact-index.js";

/** Target: p95 of a steered query ≤ this many times the bound (one read of the matrix). */
export const STEER_P95_OVER_BOUND_TARGET = 2;
/** Target: p95 ≤ this many ms at the headline case (N = 100k, d = 512) on the 2-core dev machine. */
export const STEER_P95_TARGET_MS = 25;
/** The headline case of the JSON line and the targets. */
export const HEADLINE_CASE = { source: "synthetic", n: 100_000, d: 512, dtype: "float32" } as const;
/** Rows per block of the synthetic generator: each block has its own forked RNG stream, so any range is reproducible. */
export const SYNTHETIC_BLOCK_ROWS = 4096;
/** The shared store the real case reads (folder under ../shared). */
export const REAL_STORE = ["embeddings", "use-lite-512"] as const;
/** Largest ONNX initializer protobuf can carry (2 GiB): bigger matrices only time the input-tensor candidate. */
const ONNX_INITIALIZER_MAX_BYTES = 2 ** 31 - 2 ** 24;
/** Untimed runs of each onnxruntime session first. */
const ONNX_WARMUP_RUNS = 10;
/** Rows of the SAE's pre-bias sample (the median of these rows; any sample works for timing). */
const SAE_SAMPLE_ROWS = 1024;

// ---------------------------------------------------------------------------------------------------------
// Pure parts: synthetic rows, percentiles
// ---------------------------------------------------------------------------------------------------------

/**
 * Rows [start, end) of a seeded synthetic matrix of unit vectors: each coordinate uniform in [−0.5, 0.5),
 * then the row scaled to unit L2 norm (near-isotropic in high d; search time does not depend on the
 * distribution beyond a few heap updates). Block b of SYNTHETIC_BLOCK_ROWS rows draws from
 * `new Rng(seed).fork("rows:" + b)`, so a range is the same however the matrix is chunked.
 * @returns `[end − start, D]`
 */
export function syntheticRows(seed: number | string, d: number, start: number, end: number): Float32Array {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new SaerchError(`syntheticRows: bad range [${start}, ${end})`);
  }
  const outRD = new Float32Array((end - start) * d);
  const root = new Rng(seed);
  for (let b = Math.floor(start / SYNTHETIC_BLOCK_ROWS); b * SYNTHETIC_BLOCK_ROWS < end; b++) {
    const rng = root.fork(`rows:${b}`);
    const b0 = b * SYNTHETIC_BLOCK_ROWS;
    const first = Math.max(start, b0);
    // Skip the draws of the block's rows before `first`, then fill its rows in range.
    for (let i = 0; i < (first - b0) * d; i++) rng.nextUint32();
    const last = Math.min(end, b0 + SYNTHETIC_BLOCK_ROWS);
    for (let r = first; r < last; r++) {
      const o = (r - start) * d;
      let ss = 0;
      for (let i = 0; i < d; i++) {
        const v = rng.float() - 0.5;
        outRD[o + i] = v;
        ss += v * v;
      }
      const inv = 1 / Math.sqrt(ss);
      for (let i = 0; i < d; i++) outRD[o + i]! *= inv;
    }
  }
  return outRD;
}

/**
 * The p-th percentile (0 < p ≤ 100) by nearest rank: the ⌈p/100 · n⌉-th smallest value.
 * @param values samples (not mutated)
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) throw new SaerchError("percentile of no values");
  if (!(p > 0 && p <= 100)) throw new SaerchError(`percentile: p must be in (0, 100], got ${p}`);
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Latency summary of a list of milliseconds. */
export interface LatencyStats {
  p50: number;
  p95: number;
  mean: number;
  min: number;
  max: number;
}

/** p50 / p95 / mean / min / max of `ms`. */
export function latencyStats(ms: ArrayLike<number>): LatencyStats {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < ms.length; i++) {
    sum += ms[i]!;
    min = Math.min(min, ms[i]!);
    max = Math.max(max, ms[i]!);
  }
  return { p50: percentile(ms, 50), p95: percentile(ms, 95), mean: sum / ms.length, min, max };
}

// ---------------------------------------------------------------------------------------------------------
// One case (run in a child process by the command)
// ---------------------------------------------------------------------------------------------------------

/** What one child process times. */
export const SteerCaseSpec = z.strictObject({
  label: z.string().describe("the case's row name in the table"),
  source: z.enum(["real", "synthetic"]).describe("the shared use-lite-512 store, or seeded synthetic unit rows"),
  n: z.number().int().min(0).describe("synthetic rows N (ignored for the real store, whose N is its row count minus the held-out queries)"),
  d: z.number().int().min(1).describe("dimension D (the real store's is 512)"),
  dtype: z.enum(["float32", "float16"]).describe("the index's stored precision"),
  queries: z.number().int().min(1).describe("timed queries (≥ 200 for a stable p95)"),
  warmup: z.number().int().min(0).describe("untimed queries first (JIT, caches)"),
  k: z.number().int().min(1).describe("hits returned (the explorer shows 10)"),
  saeK: z.number().int().min(1).describe("active latents of the SAE (32, the paper's default)"),
  expansion: z.number().int().min(1).describe("SAE latents n = expansion · d (8, as in the brief)"),
  strength: z.number().describe("s in q' = q + s·d_f (within the paper's grid 0.1 … 10)"),
  seed: z.number().int().describe("seeds the data, the SAE, the queries and the steered features"),
  threads: z.number().int().min(1).describe("index threads (one shard each)"),
  streamRepeats: z.number().int().min(1).describe("reads of the matrix for the bound; the best counts"),
  onnx: z.boolean().describe("also time the onnxruntime candidates (float32, N·D·4 < 2 GiB only)"),
});
/** One case to time. */
export type SteerCaseSpec = z.infer<typeof SteerCaseSpec>;

/** The onnxruntime candidate's latency on the same steered queries. */
export interface OnnxCandidateResult {
  /** MatMul(q [1, D], Wᵀ [D, N] initializer) → TopK; absent when the matrix exceeds an initializer. */
  initializer?: LatencyStats;
  /** Gemm(q, W [N, D] as a reused input, transB) → TopK. */
  input: LatencyStats;
  /** Fraction of queries whose top-k rows equal the index's. */
  agreement: number;
}

/** One measured case. */
export interface SteerCaseResult {
  label: string;
  source: "real" | "synthetic";
  /** Indexed rows. */
  n: number;
  d: number;
  dtype: "float32" | "float16";
  threads: number;
  /** Bytes of the stored matrix, MB (10⁶). */
  indexMB: number;
  /** Seconds to read or generate the rows and build the index. */
  buildSeconds: number;
  queries: number;
  k: number;
  /** The SAE: latents n and active k. */
  sae: { n: number; k: number };
  strength: number;
  /** Encode + intervene + rank + hits, per query. */
  totalMs: LatencyStats;
  encodeMs: LatencyStats;
  interveneMs: LatencyStats;
  /** `ExactIndex.searchOne` alone (includes building the k hit objects). */
  rankMs: LatencyStats;
  /** Best of `streamRepeats` reads of every stored byte, same engine and threads. */
  boundMs: number;
  /** indexMB / boundMs: the bandwidth the bound reached, GB/s. */
  boundGBs: number;
  /** totalMs.p95 / boundMs. */
  p95OverBound: number;
  /** rankMs.p95 / boundMs. */
  rankP95OverBound: number;
  /** `ExactIndex.topK` on the same steered queries back to back (no encode in between): the engine alone, timed like the onnx candidates. */
  rankAloneMs: LatencyStats;
  onnx?: OnnxCandidateResult;
  /** Peak resident memory of the process that ran the case, before the onnxruntime candidates, MB (2²⁰). */
  peakRssMB: number;
  /** Peak resident memory including the onnxruntime candidates (their sessions copy the matrix). */
  peakRssWithOnnxMB?: number;
  /** 1-minute load average before and after the case (other jobs make times noisy). */
  load: [number, number];
}

const now = (): number => performance.now();

/** The real store's rows as a row source (streamed from its .npy) plus its ids. */
function realSource(): RowSource {
  const dir = sharedPath(...REAL_STORE);
  const npy = `${dir}/embeddings.npy`;
  const header = readNpyHeader(npy);
  if (header.shape.length !== 2 || (header.dtype !== "<f4" && header.dtype !== "<f2")) {
    throw new SaerchError(`${npy} is not an [N, D] float32/float16 matrix`);
  }
  const [count, dim] = header.shape as [number, number];
  const ids = readIdList(`${dir}/ids.json`);
  const read = (start: number, end: number): Float32Array => {
    const a = readNpyRows(npy, start, end);
    return a.data instanceof Float32Array ? a.data : float16ToFloat32(a.data as Uint16Array);
  };
  return { count, dim, ids, read };
}

/** The onnxruntime candidates: build the graphs, time the same steered queries one by one. */
async function timeOnnxCandidates(
  embND: Float32Array,
  d: number,
  steeredBD: Float32Array,
  k: number,
  threads: number,
  expectRowsBK: Int32Array,
): Promise<OnnxCandidateResult> {
  const ort = await import("onnxruntime-node");
  const n = embND.length / d;
  const b = steeredBD.length / d;
  const opts = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential" as const,
    graphOptimizationLevel: "all" as const,
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  };
  const kT = new ort.Tensor("int64", BigInt64Array.of(BigInt(k)), [1]);
  const outputs = [
    { name: "values", type: "float32" as const, shape: [1, k] },
    { name: "indices", type: "int64" as const, shape: [1, k] },
  ];
  const topK = { op: "TopK", inputs: ["S", "K"], outputs: ["values", "indices"], attrs: { axis: -1, largest: 1, sorted: 1 } };
  let agreeing = 0;
  const time = async (session: Awaited<ReturnType<typeof ort.InferenceSession.create>>, feeds: (qD: Float32Array) => Record<string, unknown>): Promise<LatencyStats> => {
    const ms: number[] = [];
    agreeing = 0;
    for (let w = 0; w < ONNX_WARMUP_RUNS; w++) await session.run(feeds(steeredBD.subarray(0, d)) as never);
    for (let q = 0; q < b; q++) {
      const qD = steeredBD.subarray(q * d, (q + 1) * d);
      const t0 = now();
      const out = await session.run(feeds(qD) as never);
      ms.push(now() - t0);
      const idx = out.indices!.data as BigInt64Array;
      let same = true;
      for (let h = 0; h < k; h++) same &&= Number(idx[h]!) === expectRowsBK[q * k + h];
      if (same) agreeing++;
    }
    await session.release();
    return latencyStats(ms);
  };
  let initializer: LatencyStats | undefined;
  if (embND.byteLength < ONNX_INITIALIZER_MAX_BYTES) {
    const wDN = new Float32Array(d * n);
    for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) wDN[i * n + r] = embND[r * d + i]!;
    const model = buildOnnxModel({
      name: "steer-topk-initializer",
      inputs: [
        { name: "Q", type: "float32", shape: [1, d] },
        { name: "K", type: "int64", shape: [1] },
      ],
      outputs,
      initializers: [{ name: "W", type: "float32", dims: [d, n], data: wDN }],
      nodes: [{ op: "MatMul", inputs: ["Q", "W"], outputs: ["S"] }, topK],
    });
    const session = await ort.InferenceSession.create(model, opts);
    initializer = await time(session, (qD) => ({ Q: new ort.Tensor("float32", qD, [1, d]), K: kT }));
  }
  const model = buildOnnxModel({
    name: "steer-topk-input",
    inputs: [
      { name: "Q", type: "float32", shape: [1, d] },
      { name: "W", type: "float32", shape: [n, d] },
      { name: "K", type: "int64", shape: [1] },
    ],
    outputs,
    nodes: [{ op: "Gemm", inputs: ["Q", "W"], outputs: ["S"], attrs: { transB: 1 } }, topK],
  });
  const session = await ort.InferenceSession.create(model, opts);
  const wT = new ort.Tensor("float32", embND, [n, d]);
  const input = await time(session, (qD) => ({ Q: new ort.Tensor("float32", qD, [1, d]), W: wT, K: kT }));
  return { ...(initializer ? { initializer } : {}), input, agreement: agreeing / b };
}

/** Time one case in this process (the command runs it in a child so the peak RSS is this case's). */
export async function runSteerCase(spec: SteerCaseSpec): Promise<SteerCaseResult> {
  const load0 = loadavg()[0]!;
  const rng = new Rng(spec.seed);
  const total = spec.warmup + spec.queries;
  let index: ExactIndex;
  let queriesBD: Float32Array;
  let d = spec.d;
  let sampleRD: Float32Array;
  let matrixForOnnx: (() => Float32Array) | undefined;
  const t0 = now();
  if (spec.source === "real") {
    const src = realSource();
    d = src.dim;
    if (total >= src.count) throw new SaerchError(`the real store has ${src.count} rows: too few for ${total} held-out queries`);
    const held = Array.from(rng.fork("held-out").permutation(src.count).subarray(0, total)).sort((a, b) => a - b);
    const heldSet = new Set(held);
    const rows = Array.from({ length: src.count }, (_, i) => i).filter((i) => !heldSet.has(i));
    index = ExactIndex.fromSource(src, { rows, dtype: spec.dtype, threads: spec.threads });
    queriesBD = new Float32Array(total * d);
    // Shuffle the held-out rows' order so warm-up and timed queries are not sorted by id.
    const order = rng.fork("query-order").permutation(total);
    for (let q = 0; q < total; q++) queriesBD.set(src.read(held[order[q]!]!, held[order[q]!]! + 1), q * d);
    sampleRD = src.read(0, Math.min(src.count, SAE_SAMPLE_ROWS));
    matrixForOnnx = () => {
      const all = src.read(0, src.count);
      const out = new Float32Array(rows.length * d);
      rows.forEach((r, p) => out.set(all.subarray(r * d, (r + 1) * d), p * d));
      return out;
    };
  } else {
    const seed = `${spec.seed}:matrix`;
    index = ExactIndex.fromSource({ count: spec.n, dim: d, read: (s, e) => syntheticRows(seed, d, s, e) }, { dtype: spec.dtype, threads: spec.threads });
    queriesBD = syntheticRows(`${spec.seed}:queries`, d, 0, total);
    sampleRD = syntheticRows(seed, d, 0, Math.min(spec.n, SAE_SAMPLE_ROWS));
    matrixForOnnx = () => syntheticRows(seed, d, 0, spec.n);
  }
  const buildSeconds = (now() - t0) / 1000;
  try {
    const saeN = spec.expansion * d;
    const params = initSaeParams(d, saeN, sampleRD, spec.seed);
    const pick = rng.fork("features");
    const steeredBD = new Float32Array(total * d);
    const totalMs: number[] = [];
    const encodeMs: number[] = [];
    const interveneMs: number[] = [];
    const rankMs: number[] = [];
    const rowsBK = new Int32Array(spec.queries * spec.k);
    for (let q = 0; q < total; q++) {
      const qD = queriesBD.subarray(q * d, (q + 1) * d);
      const a = now();
      const code = encodeTopK(params, qD, 1, spec.saeK);
      const b = now();
      // Steer towards a latent the query does not use ("up" in the paper's evaluation).
      let f = pick.int(saeN);
      while (code.indicesBK.includes(f)) f = pick.int(saeN);
      const steered = steeredBD.subarray(q * d, (q + 1) * d);
      for (let i = 0; i < d; i++) steered[i] = qD[i]! + spec.strength * params.wDecFD[f * d + i]!;
      const c = now();
      const hits = index.searchOne(steered, spec.k);
      const e = now();
      if (q < spec.warmup) continue;
      totalMs.push(e - a);
      encodeMs.push(b - a);
      interveneMs.push(c - b);
      rankMs.push(e - c);
      hits.forEach((h, i) => (rowsBK[(q - spec.warmup) * spec.k + i] = h.row));
    }
    // The same steered queries again, back to back: the engine alone, timed as the onnxruntime candidates are.
    const aloneMs: number[] = [];
    for (let q = spec.warmup; q < total; q++) {
      const t = now();
      index.topK(steeredBD.subarray(q * d, (q + 1) * d), spec.k);
      aloneMs.push(now() - t);
    }
    const peakRssMB = process.resourceUsage().maxRSS / 1024;
    let boundMs = Infinity;
    for (let r = 0; r < spec.streamRepeats; r++) {
      const s = now();
      index.streamPass();
      boundMs = Math.min(boundMs, now() - s);
    }
    const n = index.count;
    const indexMB = index.bytes / 1e6;
    const threads = index.threads;
    await index.close();
    let onnx: OnnxCandidateResult | undefined;
    if (spec.onnx && spec.dtype === "float32") {
      const embND = matrixForOnnx();
      // Index positions are source rows for synthetic cases; for the real one, rows are mapped back below.
      const rowOfPosition = spec.source === "real" ? index.rowsM : undefined;
      const expect = rowOfPosition ? Int32Array.from(rowsBK, (row) => binarySearch(rowOfPosition, row)) : rowsBK;
      onnx = await timeOnnxCandidates(embND, d, steeredBD.subarray(spec.warmup * d), spec.k, spec.threads, expect);
    }
    const totals = latencyStats(totalMs);
    const ranks = latencyStats(rankMs);
    return {
      label: spec.label,
      source: spec.source,
      n,
      d,
      dtype: spec.dtype,
      threads,
      indexMB,
      buildSeconds,
      queries: spec.queries,
      k: spec.k,
      sae: { n: saeN, k: spec.saeK },
      strength: spec.strength,
      totalMs: totals,
      encodeMs: latencyStats(encodeMs),
      interveneMs: latencyStats(interveneMs),
      rankMs: ranks,
      boundMs,
      boundGBs: indexMB / boundMs,
      p95OverBound: totals.p95 / boundMs,
      rankP95OverBound: ranks.p95 / boundMs,
      rankAloneMs: latencyStats(aloneMs),
      ...(onnx ? { onnx } : {}),
      peakRssMB,
      ...(onnx ? { peakRssWithOnnxMB: process.resourceUsage().maxRSS / 1024 } : {}),
      load: [load0, loadavg()[0]!],
    };
  } finally {
    await index.close();
  }
}

/** Position of `value` in an ascending array (it must be there). */
function binarySearch(sorted: Int32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Run one case in a fresh Node process and parse the JSON line it prints.
 * @param script the command that times one case given `--case <json>` (default scripts/bench-steer.mjs)
 */
export function runSteerCaseInChild(spec: SteerCaseSpec, script = repoPath("scripts", "bench-steer.mjs")): SteerCaseResult {
  const r = spawnSync(process.execPath, [script, "--case", JSON.stringify(spec)], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  const line = r.stdout?.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || line === "") {
    throw new SaerchError(`the ${spec.label} case failed (exit ${r.status}): ${(r.stderr || r.stdout || "").trim().split("\n").slice(-5).join(" ")}`);
  }
  return JSON.parse(line) as SteerCaseResult;
}

// ---------------------------------------------------------------------------------------------------------
// The whole bench
// ---------------------------------------------------------------------------------------------------------

/** Settings of the bench (the command line fills them). */
export const SteerBenchConfig = z.strictObject({
  queries: z.number().int().min(1).default(256).describe("timed queries per case (≥ 200, the brief's floor for a p95)"),
  warmup: z.number().int().min(0).default(20).describe("untimed queries first"),
  k: z.number().int().min(1).default(10).describe("hits per query: the explorer's top 10 (METHOD.md §7)"),
  saeK: z.number().int().min(1).default(32).describe("SAE active latents (the paper's k = 32)"),
  expansion: z.number().int().min(1).default(8).describe("SAE latents n = 8·d"),
  strength: z.number().default(2.5).describe("steering strength s (a middle value of the paper's s_up grid)"),
  seed: z.number().int().default(0).describe("seeds everything"),
  threads: z.number().int().min(1).default(availableParallelism()).describe("index threads (default: one per core)"),
  streamRepeats: z.number().int().min(1).default(20).describe("reads of the matrix for the bound; the best counts"),
  real: z.boolean().default(true).describe("time the real shared store (25k × 512)"),
  large: z.boolean().default(true).describe("time the 1M-row cases (≈ 2–6 GB each; minutes)"),
  float16: z.boolean().default(true).describe("also time float16 storage for every case"),
  onnx: z.boolean().default(true).describe("time the onnxruntime candidates on the float32 cases that fit an initializer"),
  only: z.string().optional().describe("run only the cases whose label contains this text"),
  inProcess: z.boolean().default(false).describe("run every case in this process (peak RSS is then cumulative): for debugging"),
});
/** Parsed bench settings. */
export type SteerBenchConfig = z.infer<typeof SteerBenchConfig>;
/** Bench settings as written. */
export type SteerBenchConfigInput = z.input<typeof SteerBenchConfig>;

/** The cases the settings ask for, headline first. */
export function steerBenchCases(settings: SteerBenchConfig): SteerCaseSpec[] {
  const common = {
    queries: settings.queries,
    warmup: settings.warmup,
    k: settings.k,
    saeK: settings.saeK,
    expansion: settings.expansion,
    strength: settings.strength,
    seed: settings.seed,
    threads: settings.threads,
    streamRepeats: settings.streamRepeats,
  };
  const shapes: Array<{ source: "real" | "synthetic"; n: number; d: number; dtypes: Array<"float32" | "float16"> }> = [
    { source: "synthetic", n: 100_000, d: 512, dtypes: ["float32", "float16"] },
    { source: "real", n: 0, d: 512, dtypes: ["float32", "float16"] },
    { source: "synthetic", n: 100_000, d: 1536, dtypes: ["float32", "float16"] },
    { source: "synthetic", n: 1_000_000, d: 512, dtypes: ["float32", "float16"] },
    { source: "synthetic", n: 1_000_000, d: 1536, dtypes: ["float32", "float16"] },
  ];
  const out: SteerCaseSpec[] = [];
  for (const s of shapes) {
    if (s.source === "real" && !settings.real) continue;
    if (s.n >= 1_000_000 && !settings.large) continue;
    for (const dtype of s.dtypes) {
      if (dtype === "float16" && !settings.float16) continue;
      const size = s.source === "real" ? "use-lite-512 (real)" : `synthetic ${s.n >= 1e6 ? `${s.n / 1e6}M` : `${s.n / 1e3}k`} × ${s.d}`;
      const label = `${size} ${dtype}`;
      if (settings.only !== undefined && !label.includes(settings.only)) continue;
      out.push({ label, source: s.source, n: s.n, d: s.d, dtype, ...common, onnx: settings.onnx && dtype === "float32" && s.n <= 100_000 });
    }
  }
  return out;
}

/** The full record of one bench run. */
export interface SteerBenchReport {
  startedAt: string;
  machine: { cpus: number; cpuModel: string; node: string; loadBefore: number; loadAfter: number; totalMemGB: number };
  settings: SteerBenchConfig;
  targets: { p95OverBound: number; p95Ms: number; headline: typeof HEADLINE_CASE };
  /** The headline case (N = 100k, d = 512, float32), when it ran. */
  headline?: SteerCaseResult;
  /** Headline p95 ≤ 2 × bound and ≤ 25 ms. */
  meetsTargets?: boolean;
  cases: SteerCaseResult[];
  isolation: string;
}

/** Run every case the settings ask for (each in a child process unless `inProcess`). */
export async function runSteerBench(input: SteerBenchConfigInput = {}, onCase?: (r: SteerCaseResult) => void): Promise<SteerBenchReport> {
  const settings = SteerBenchConfig.parse(input);
  const startedAt = new Date().toISOString();
  const loadBefore = loadavg()[0]!;
  const cases: SteerCaseResult[] = [];
  for (const spec of steerBenchCases(settings)) {
    const r = settings.inProcess ? await runSteerCase(spec) : runSteerCaseInChild(spec);
    onCase?.(r);
    cases.push(r);
  }
  const headline = cases.find((c) => c.source === HEADLINE_CASE.source && c.n === HEADLINE_CASE.n && c.d === HEADLINE_CASE.d && c.dtype === HEADLINE_CASE.dtype);
  return {
    startedAt,
    machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? "unknown", node: process.version, loadBefore, loadAfter: loadavg()[0]!, totalMemGB: totalmem() / 2 ** 30 },
    settings,
    targets: { p95OverBound: STEER_P95_OVER_BOUND_TARGET, p95Ms: STEER_P95_TARGET_MS, headline: HEADLINE_CASE },
    ...(headline
      ? { headline, meetsTargets: headline.p95OverBound <= STEER_P95_OVER_BOUND_TARGET && headline.totalMs.p95 <= STEER_P95_TARGET_MS }
      : {}),
    cases,
    isolation: settings.inProcess
      ? "in process: peak RSS is cumulative over the cases so far"
      : "each case in its own child Node process (scripts/bench-steer.mjs --case): peak RSS is that case's alone",
  };
}
