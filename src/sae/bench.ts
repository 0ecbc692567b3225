/**
 * `npm run bench:sae`: training-step throughput of each engine, the encoder GEMM alone at the same shape
 * (the one dense product a step cannot avoid), peak memory, and the PyTorch peer when Debian's
 * python3-torch is installed. With `stream`, batches are gathered from shuffled rows as training reads them and go
 * through the trainer's batch stream (batch-stream.ts), the next batch's read and upload overlapped with the step
 * ("overlap") or done after it ("sequential"), to measure what the overlap saves. Measurements only; nothing
 * here gates CI.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { normalizeRowsInPlace } from "../core/vector.js";
import { repoPath } from "../io/paths.js";
import { bestTimeSeconds } from "../compute/engines.js";
import { buildOnnxModel } from "../compute/onnx-model.js";
import { resolveSaeConfig } from "./config.js";
import { BatchStream } from "./batch-stream.js";
import { createTrainStep, type EngineName } from "./engines.js";
import { DeadLatentTracker, initSaeParams, zeroAdamState } from "./params.js";

/** One benchmark measurement. */
export interface SaeBenchResult {
  engine: string;
  d: number;
  n: number;
  k: number;
  batch: number;
  stepsPerSecond: number;
  samplesPerSecond: number;
  /**
   * Seconds of one `[B, D]·[D, F]` encoder product: on onnxruntime with the same threads, or (engine webgpu)
   * the engine's own GEMM kernel on the same device.
   */
  encoderGemmSeconds: number;
  /** Step time / encoder GEMM time (target ≤ 2 for the onnx engine). */
  stepOverGemm: number;
  /** Peak resident memory of this process so far, MB. */
  peakRssMB: number;
  /** webgpu only: the adapter the step ran on. */
  adapter?: string;
  /** webgpu only: true on a CPU rasteriser (llvmpipe): the run checks the full-size step works, its speed means nothing. */
  softwareAdapter?: boolean;
  /** With `stream`: how the batches were streamed. */
  stream?: BenchStream;
  /** With `stream`: mean milliseconds to gather one `[B, D]` batch from the rows. */
  gatherMsPerBatch?: number;
  /** With `stream: "overlap"`: mean milliseconds per timed step of host work (read and stage) done while a step ran. */
  overlappedMsPerStep?: number;
}

/** How the benchmark streams batches: next batch read and staged while the step runs, or after it. */
export type BenchStream = "overlap" | "sequential";
/** Warm-up steps before the timed ones (kernel compiles, first allocations). */
const WARMUP_STEPS = 2;
/** Seed of the row order the streamed batches are gathered in. */
const STREAM_SEED = 2;
/** Milliseconds per second. */
const MS_PER_S = 1000;

/** `[R, D]` Gaussian rows normalised to unit length (embedding-like synthetic data). */
function syntheticUnitRows(rows: number, d: number): Float32Array {
  const out = new Float32Array(rows * d);
  new Rng(0).fillNormalInPlace(out);
  normalizeRowsInPlace(out, rows, d);
  return out;
}

/** Time the encoder product alone: `[B, D]·[F, D]ᵀ` as one Gemm on onnxruntime's CPU provider. */
export async function encoderGemmSeconds(d: number, n: number, batch: number, threads: number): Promise<number> {
  const ort = await import("onnxruntime-node");
  const model = buildOnnxModel({
    name: "encoder-gemm",
    inputs: [
      { name: "X", type: "float32", shape: ["B", d] },
      { name: "W", type: "float32", shape: [n, d] },
    ],
    outputs: [{ name: "H", type: "float32", shape: ["B", n] }],
    nodes: [{ op: "Gemm", inputs: ["X", "W"], outputs: ["H"], attrs: { transB: 1 } }],
  });
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const rng = new Rng(1);
  const x = new Float32Array(batch * d);
  const w = new Float32Array(n * d);
  rng.fillNormalInPlace(x);
  rng.fillNormalInPlace(w);
  const feeds = { X: new ort.Tensor("float32", x, [batch, d]), W: new ort.Tensor("float32", w, [n, d]) };
  const seconds = await bestTimeSeconds(() => session.run(feeds), 3);
  await session.release();
  return seconds;
}

/**
 * Time `steps` training steps (after 2 warm-up steps) of `engine` on the given unit-norm rows `[R, D]`,
 * cycling through them in batches.
 */
export async function benchSaeEngine(args: {
  engine: EngineName;
  d: number;
  n: number;
  k: number;
  batch: number;
  steps: number;
  dataRD?: Float32Array;
  threads?: number;
  /** Gather batches from shuffled rows and stream them (see the module header); default: slices of the rows, stepped in turn. */
  stream?: BenchStream;
}): Promise<SaeBenchResult> {
  const { engine, d, n, k, batch, steps } = args;
  const threads = args.threads ?? availableParallelism();
  const dataRD: Float32Array = args.dataRD ?? syntheticUnitRows(batch * 4, d);
  const rows = dataRD.length / d;
  if (rows < batch) throw new SaerchError(`benchmark data has ${rows} rows, fewer than one batch of ${batch}`);
  const config = resolveSaeConfig({ d, n, k, batch, steps: steps + WARMUP_STEPS, engine: engine === "naive" ? "onnx" : engine, threads }, rows);
  const params = initSaeParams(d, n, dataRD.subarray(0, Math.min(rows, 4096) * d), 0);
  // A tenth of the latents dead, so AuxK runs as it does early in training.
  const tracker = new DeadLatentTracker(n, config.deadWindow);
  for (let j = 0; j < n; j += 10) tracker.sinceFiredF[j] = config.deadWindow;
  const init = { params, adam: zeroAdamState(d, n), sinceFiredF: tracker.sinceFiredF };
  // webgpu: one device for the step and the GEMM timing, so the ratio compares work on the same adapter.
  const gpu = engine === "webgpu" ? await import("./webgpu/bench-device.js").then((m) => m.openBenchDevice()) : undefined;
  const step = gpu ? await gpu.createStep(config, init) : await createTrainStep(config, init, engine);
  const batches = Math.floor(rows / batch);
  const batchAt = (i: number): Float32Array => dataRD.subarray((i % batches) * batch * d, ((i % batches) + 1) * batch * d);
  try {
    let stepSeconds: number;
    let streamed: Pick<SaeBenchResult, "stream" | "gatherMsPerBatch" | "overlappedMsPerStep"> = {};
    if (args.stream) {
      const permR = new Rng(STREAM_SEED).permutation(rows);
      let gatherMs = 0;
      /** Batch i: rows permR[i·B …] (cycling), copied into a fresh `[B, D]` array as the store's gather does. */
      const gatherAt = (i: number): Float32Array => {
        const t = performance.now();
        const xBD = new Float32Array(batch * d);
        for (let r = 0; r < batch; r++) {
          const row = permR[(i * batch + r) % rows]!;
          xBD.set(dataRD.subarray(row * d, (row + 1) * d), r * d);
        }
        gatherMs += performance.now() - t;
        return xBD;
      };
      const total = steps + WARMUP_STEPS;
      const stream = new BatchStream(step, gatherAt, total, { overlap: args.stream === "overlap" });
      for (let i = 0; i < WARMUP_STEPS; i++) await stream.run(i);
      const overlappedBefore = stream.overlappedMs;
      const t0 = performance.now();
      for (let i = WARMUP_STEPS; i < total; i++) await stream.run(i);
      stepSeconds = (performance.now() - t0) / MS_PER_S / steps;
      streamed = {
        stream: args.stream,
        gatherMsPerBatch: gatherMs / total,
        ...(args.stream === "overlap" ? { overlappedMsPerStep: (stream.overlappedMs - overlappedBefore) / steps } : {}),
      };
    } else {
      for (let i = 0; i < WARMUP_STEPS; i++) await step.step(batchAt(i));
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) await step.step(batchAt(i + WARMUP_STEPS));
      stepSeconds = (performance.now() - t0) / MS_PER_S / steps;
    }
    const gemm = gpu ? await gpu.gemmSeconds({ b: batch, d, n }) : await encoderGemmSeconds(d, n, batch, threads);
    return {
      ...(gpu ? { adapter: gpu.adapter, softwareAdapter: gpu.software } : {}),
      engine: step.engine,
      d,
      n,
      k,
      batch,
      stepsPerSecond: 1 / stepSeconds,
      samplesPerSecond: batch / stepSeconds,
      encoderGemmSeconds: gemm,
      stepOverGemm: stepSeconds / gemm,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
      ...streamed,
    };
  } finally {
    await step.close();
    gpu?.close();
  }
}

/** The PyTorch peer's result, or a reason it could not run. */
export type TorchPeer = { ok: true; stepsPerSecond: number; encoderGemmSeconds: number; engine: string } | { ok: false; reason: string };

/** Run scripts/bench_sae_torch.py with /usr/bin/python3 (2 threads) when torch is installed there. */
export function benchTorchPeer(args: { d: number; n: number; k: number; batch: number; steps: number; threads?: number }): TorchPeer {
  const python = "/usr/bin/python3";
  if (!existsSync(python)) return { ok: false, reason: `${python} not found` };
  const probe = spawnSync(python, ["-c", "import torch"], { encoding: "utf8" });
  if (probe.status !== 0) return { ok: false, reason: "torch is not installed (apt-get install python3-torch libopenblas0-pthread)" };
  const r = spawnSync(
    python,
    [
      repoPath("scripts", "bench_sae_torch.py"),
      ...["--d", args.d, "--n", args.n, "--k", args.k, "--batch", args.batch, "--steps", args.steps, "--threads", args.threads ?? 2].map(String),
    ],
    { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 },
  );
  const line = r.stdout?.trim().split("\n").pop() ?? "";
  try {
    const j = JSON.parse(line) as { stepsPerSecond: number; encoderGemmSeconds: number; engine: string };
    return { ok: true, ...j };
  } catch {
    return { ok: false, reason: `the PyTorch peer failed: ${(r.stderr || r.stdout || "").trim().split("\n").slice(-3).join(" ")}` };
  }
}
