/**
 * Which compute engines load on this machine, and how fast each multiplies matrices. The SAE engines
 * (onnxruntime-node, tfjs, webgpu) are only as good as what loads here; this probe is the first thing a new user
 * runs (notebook 00) and what the benchmarks print beside their numbers.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { matmulModel } from "./onnx-model.js";

/** Result of probing one engine. */
export interface EngineProbe {
  /** Engine name, e.g. "onnxruntime-node cpu (2 threads)". */
  engine: string;
  /** True when it loaded, ran the GEMM and its product matched a plain-JS reference (`gemmMaxError`). */
  ok: boolean;
  /** Best-of-reps fp32 GEMM throughput, GFLOP/s (0 when not ok). */
  gflops: number;
  /** Version or backend detail when ok; the reason when not. */
  detail: string;
}

/** GEMM size for the probe: [M, K]·[K, N] — 2·M·K·N ≈ 0.54 GFLOP, a fraction of a second everywhere. */
const PROBE_GEMM = { m: 256, k: 512, n: 2048 } as const;
/** Timed repetitions after one warm-up; the best is reported (least disturbed by other load). */
const PROBE_REPS = 3;

function gemmFlops(shape: { m: number; k: number; n: number }): number {
  return 2 * shape.m * shape.k * shape.n;
}

function probeInputs(shape: { m: number; k: number; n: number }): { aMK: Float32Array; bKN: Float32Array } {
  const aMK = new Float32Array(shape.m * shape.k);
  const bKN = new Float32Array(shape.k * shape.n);
  for (let i = 0; i < aMK.length; i++) aMK[i] = ((i * 7919) % 1000) / 1000 - 0.5;
  for (let i = 0; i < bKN.length; i++) bKN[i] = ((i * 104729) % 1000) / 1000 - 0.5;
  return { aMK, bKN };
}

/** Product entries checked against the plain-JS dot product (a deterministic spread over [M, N]). */
const PROBE_CHECKED_ENTRIES = 97;
/** Largest error allowed per checked entry, relative to the sum of |a·b| terms (fp32 accumulation). */
const PROBE_REL_TOL = 1e-4;

/**
 * How far a computed `cMN` = `aMK`·`bKN` is from the exact product on `PROBE_CHECKED_ENTRIES` entries:
 * the largest |c − Σ a·b| / Σ |a·b| (float64 reference). A fast engine that is wrong is not an engine.
 */
export function gemmMaxError(aMK: Float32Array, bKN: Float32Array, cMN: ArrayLike<number>, shape: { m: number; k: number; n: number }): number {
  const { m, k, n } = shape;
  if (cMN.length !== m * n) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let e = 0; e < PROBE_CHECKED_ENTRIES; e++) {
    const idx = Math.floor(((e + 0.5) * m * n) / PROBE_CHECKED_ENTRIES);
    const i = Math.floor(idx / n);
    const j = idx % n;
    let sum = 0;
    let mag = 0;
    for (let p = 0; p < k; p++) {
      const t = aMK[i * k + p]! * bKN[p * n + j]!;
      sum += t;
      mag += Math.abs(t);
    }
    const err = Math.abs(cMN[idx]! - sum) / Math.max(mag, Number.MIN_VALUE);
    if (!(err <= worst)) worst = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err;
  }
  return worst;
}

/** Throw when a probe's product is wrong (see `gemmMaxError`). */
function checkProduct(aMK: Float32Array, bKN: Float32Array, cMN: ArrayLike<number>, shape: { m: number; k: number; n: number }): void {
  const err = gemmMaxError(aMK, bKN, cMN, shape);
  if (!(err <= PROBE_REL_TOL)) throw new Error(`wrong GEMM product: relative error ${err.toExponential(2)} > ${PROBE_REL_TOL}`);
}

/** Best wall time in seconds of `reps` runs of `fn` after one warm-up run. */
export async function bestTimeSeconds(fn: () => Promise<unknown>, reps: number = PROBE_REPS): Promise<number> {
  await fn();
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

function failure(engine: string, err: unknown): EngineProbe {
  const msg = err instanceof Error ? err.message : String(err);
  return { engine, ok: false, gflops: 0, detail: msg.split("\n")[0] ?? msg };
}

/** GPUs visible through nvidia-smi (empty when there is none or no driver). */
export function listGpus(): string[] {
  const r = spawnSync("nvidia-smi", ["-L"], { encoding: "utf8" });
  if (r.status !== 0 || !r.stdout) return [];
  return r.stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("GPU"));
}

/** onnxruntime-node's execution providers: the ones bundled with this install. */
export async function onnxExecutionProviders(): Promise<string[]> {
  const ort = await import("onnxruntime-node");
  return ort.listSupportedBackends().map((b) => `${b.name}${b.bundled ? "" : " (not bundled)"}`);
}

/** Probe onnxruntime-node with one execution provider. */
export async function probeOnnx(provider: "cpu" | "cuda", threads: number = availableParallelism()): Promise<EngineProbe> {
  const engine = provider === "cpu" ? `onnxruntime-node cpu (${threads} threads)` : "onnxruntime-node cuda";
  try {
    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(matmulModel(), {
      executionProviders: [provider],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
    const { m, k, n } = PROBE_GEMM;
    const { aMK, bKN } = probeInputs(PROBE_GEMM);
    const feeds = { A: new ort.Tensor("float32", aMK, [m, k]), B: new ort.Tensor("float32", bKN, [k, n]) };
    const seconds = await bestTimeSeconds(() => session.run(feeds));
    checkProduct(aMK, bKN, (await session.run(feeds)).C!.data as Float32Array, PROBE_GEMM);
    await session.release();
    return { engine, ok: true, gflops: gemmFlops(PROBE_GEMM) / seconds / 1e9, detail: `EP ${provider}` };
  } catch (err) {
    return failure(engine, err);
  }
}

/** Optional package: a variable specifier, so type-checking does not require it to be installed. */
const TFJS_NODE_GPU: string = "@tensorflow/tfjs-node-gpu";

/** Probe a tfjs backend: "wasm" (SIMD), "cpu" (pure JS), or "tensorflow" (tfjs-node-gpu, when it loads). */
export async function probeTfjs(backend: "wasm" | "cpu" | "tensorflow"): Promise<EngineProbe> {
  const engine = backend === "tensorflow" ? "tfjs-node-gpu" : `tfjs ${backend}`;
  try {
    const tf = await import("@tensorflow/tfjs");
    tf.enableProdMode(); // silences tfjs's "install the node backend" banner; no debug checks needed here
    if (backend === "wasm") await import("@tensorflow/tfjs-backend-wasm");
    if (backend === "tensorflow") await import(TFJS_NODE_GPU);
    if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend "${backend}" failed to initialise`);
    await tf.ready();
    // The pure-JS backend is ~100x slower: time a smaller product so the probe stays quick.
    const shape = backend === "cpu" ? { m: 64, k: 256, n: 512 } : PROBE_GEMM;
    const { aMK, bKN } = probeInputs(shape);
    const a = tf.tensor2d(aMK, [shape.m, shape.k]);
    const b = tf.tensor2d(bKN, [shape.k, shape.n]);
    const seconds = await bestTimeSeconds(async () => {
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
    });
    const c = tf.matMul(a, b);
    checkProduct(aMK, bKN, await c.data(), shape);
    c.dispose();
    a.dispose();
    b.dispose();
    return { engine, ok: true, gflops: gemmFlops(shape) / seconds / 1e9, detail: `tfjs ${tf.version.tfjs}` };
  } catch (err) {
    const e = err as { code?: string };
    if (backend === "tensorflow" && (e.code === "ERR_MODULE_NOT_FOUND" || e.code === "MODULE_NOT_FOUND")) {
      return {
        engine,
        ok: false,
        gflops: 0,
        detail: "not installed (optional: its install downloads libtensorflow, which needs internet)",
      };
    }
    return failure(engine, err);
  }
}

/**
 * Probe the WebGPU adapter (npm `webgpu`, Dawn over Vulkan) with the webgpu SAE engine's own encoder GEMM on
 * the probe shape. `detail` names the adapter (vendor, architecture, driver; "software adapter" for a CPU
 * rasteriser) and its storage-buffer limit; when there is no adapter it says what to install.
 */
export async function probeWebGpu(): Promise<EngineProbe> {
  try {
    const { adapterLabel, openWebGpuDevice } = await import("../sae/webgpu/adapter.js");
    const { webGpuGemmSeconds } = await import("../sae/webgpu/gemm.js");
    const ctx = await openWebGpuDevice();
    try {
      const { m, k, n } = PROBE_GEMM;
      const seconds = await webGpuGemmSeconds(ctx, { b: m, d: k, n });
      const a = ctx.adapter;
      return {
        engine: `webgpu (${adapterLabel(a)})`,
        ok: true,
        gflops: gemmFlops(PROBE_GEMM) / seconds / 1e9,
        detail: `Dawn; vendor ${a.vendor}, architecture ${a.architecture}, ${a.software ? "software" : "hardware"} adapter; ` +
          `maxStorageBufferBindingSize ${(a.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB, ` +
          `maxBufferSize ${(a.maxBufferSize / 2 ** 20).toFixed(0)} MiB, ${a.maxStorageBuffersPerShaderStage} storage buffers per shader`,
      };
    } finally {
      ctx.device.destroy();
    }
  } catch (err) {
    const probe = failure("webgpu", err);
    const fix = (err as { fix?: unknown }).fix;
    return typeof fix === "string" ? { ...probe, detail: `${probe.detail}; fix: ${fix}` } : probe;
  }
}

/** Probe every engine the project can use; CUDA only when a GPU is visible. */
export async function probeEngines(): Promise<EngineProbe[]> {
  const out: EngineProbe[] = [await probeOnnx("cpu")];
  if (listGpus().length > 0) out.push(await probeOnnx("cuda"));
  out.push(await probeTfjs("wasm"), await probeTfjs("cpu"), await probeTfjs("tensorflow"), await probeWebGpu());
  return out;
}
