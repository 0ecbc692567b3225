/**
 * Stress harness for the onnx engine's kernel threads (METHOD.md §2 training; `kernel-pool.ts` the handoff):
 * many short trainings on two threads, optionally beside busy-looping processes and with random delays in
 * the workers, each checked three ways:
 * - repeat: the same seed and thread count trained again must give bit-identical weights and Adam moments;
 * - one thread: the same seed on one thread must agree within `oneThreadTolerance` (only the cross-thread
 *   sums — the decoder's column sum, the pre-bias product, the norms — round differently);
 * - kernel passes: one step's row-local outputs (decode rows and pairs, accumulated gradients, projected and
 *   updated rows) on `threads` and on one thread must be bit-identical, which the kernels promise.
 * A training that throws is a failure. `npm run stress:sae -- --runs N [--load] [--json]` (stress-cli.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { z } from "zod";
import { describeError, SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { normalizeRowsInPlace } from "../core/vector.js";
import { resolveSaeConfig, type ResolvedSaeConfig } from "./config.js";
import { CpuKernels } from "./cpu-step.js";
import type { KernelPoolTiming } from "./kernel-pool.js";
import { OnnxTrainStep } from "./onnx-step.js";
import { initSaeParams, zeroAdamState } from "./params.js";
import type { TrainState } from "./train-step.js";

/** Hex digits of the report's state hash (64 bits: enough to tell runs apart, short enough to read). */
const STATE_HASH_HEX = 16;

/** The harness's settings. */
export const StressConfig = z.object({
  runs: z.number().int().min(1).default(100).describe("trainings to check (each: two on `threads`, one on one thread)"),
  d: z.number().int().min(1).default(30).describe("input dimension; 30 exercises both the f32x4 loops and the d mod 4 tail"),
  n: z.number().int().min(2).default(128).describe("latents: small, so that one training takes well under a second"),
  k: z.number().int().min(1).default(8).describe("active latents per row"),
  batch: z.number().int().min(2).default(64).describe("rows per step"),
  steps: z.number().int().min(1).default(30).describe("steps per training: enough for latents to die and AuxK to run"),
  rows: z.number().int().min(2).default(512).describe("synthetic training rows (ignored when data is given)"),
  threads: z.number().int().min(2).default(2).describe("kernel threads under test (the default profile's count on 2 cores)"),
  stateEvery: z.number().int().min(1).default(10).describe("steps between state() copies, as the trainer's checkpoints make"),
  seed: z.number().int().default(0).describe("seed of run 0; run i uses seed + i"),
  load: z.number().int().min(0).default(0).describe("busy-looping processes competing for the cores (0: none)"),
  jitterMs: z.number().min(0).default(0).describe("random delay, up to this, before every kernel in every worker"),
  lateNotifyMs: z.number().min(0).default(0).describe("after every pass, wake the idle workers again after this pause (a preempted caller's late notify; 0: off)"),
  oneThreadTolerance: z
    .number()
    .positive()
    .nullable()
    .default(1e-3)
    .describe("largest |Δ| / max|w| allowed against the one-thread run; null: report the difference only (long trainings, where thread-split sums change top-k choices and the runs diverge by design)"),
});
/** Parsed harness settings. */
export type StressConfig = z.infer<typeof StressConfig>;

/** What the harness found. */
export interface StressReport {
  /** Trainings checked. */
  runs: number;
  /** Runs in which a training threw (the first errors are in `errors`). */
  failures: number;
  /** Runs with any mismatch below. */
  mismatches: number;
  /** Runs whose repeat on the same seed and thread count was not bit-identical. */
  repeatMismatches: number;
  /** Runs whose one-thread weights differed by more than the tolerance. */
  oneThreadMismatches: number;
  /** Runs whose kernel passes on `threads` and on one thread differed in a row-local output. */
  kernelMismatches: number;
  /** Largest relative difference to the one-thread weights over all runs. */
  maxOneThreadDiff: number;
  /** Up to five distinct error and mismatch descriptions. */
  errors: string[];
  /**
   * SHA-256 (16 hex digits) of every run's first `threads`-thread state, in run order: equal across processes
   * for the same settings, so runs under other V8 flags (`node --liftoff-only`, `--no-liftoff`) can be compared.
   */
  stateHash: string;
  /** Median and largest seconds of one `threads`-thread training. */
  trainSecondsMedian: number;
  trainSecondsMax: number;
  /** Wall seconds of the whole harness. */
  seconds: number;
  threads: number;
  load: number;
  jitterMs: number;
  lateNotifyMs: number;
  shape: { d: number; n: number; k: number; batch: number; steps: number; rows: number };
}

/** The SAE config one stress training uses. */
export function stressSaeConfig(cfg: StressConfig, seed: number, threads: number, rows: number, d: number): ResolvedSaeConfig {
  return resolveSaeConfig(
    { d, n: cfg.n, k: cfg.k, batch: cfg.batch, steps: cfg.steps, seed, threads, checkpointEvery: cfg.stateEvery, logEvery: cfg.stateEvery },
    rows,
  );
}

/** Unit-norm Gaussian rows `[M, D]` from `seed`. */
export function syntheticRows(m: number, d: number, seed: number): Float32Array {
  const rowsMD = new Rng(seed).fork("stress-rows").fillNormalInPlace(new Float32Array(m * d));
  normalizeRowsInPlace(rowsMD, m, d);
  return rowsMD;
}

/**
 * Train `config.steps` steps on `dataMD` `[M, D]` with the onnx engine, batches drawn as the trainer draws
 * them (a permutation per epoch, the partial last batch dropped), copying the state every `stateEvery` steps.
 * @returns the final state
 */
export async function trainForStress(config: ResolvedSaeConfig, dataMD: Float32Array, stateEvery: number, timing: KernelPoolTiming = {}): Promise<TrainState> {
  const { d, n, batch, seed } = config;
  const m = dataMD.length / d;
  const rng = new Rng(seed);
  const sample = rng.fork("init-sample").sample(m, Math.min(config.initSampleRows, m));
  const sampleRD = new Float32Array(sample.length * d);
  sample.forEach((r, i) => sampleRD.set(dataMD.subarray(r * d, (r + 1) * d), i * d));
  const init: TrainState = { params: initSaeParams(d, n, sampleRD, seed), adam: zeroAdamState(d, n), sinceFiredF: new Float64Array(n) };
  const engine = await OnnxTrainStep.create(config, init, { threads: config.threads, poolTiming: timing });
  try {
    const perEpoch = Math.floor(m / batch);
    let order = new Int32Array(0);
    const xBD = new Float32Array(batch * d);
    for (let step = 0; step < config.steps; step++) {
      const epoch = Math.floor(step / perEpoch);
      const b = step % perEpoch;
      if (b === 0) order = rng.fork(`epoch:${epoch}`).permutation(m);
      for (let r = 0; r < batch; r++) {
        const row = order[b * batch + r]!;
        xBD.set(dataMD.subarray(row * d, (row + 1) * d), r * d);
      }
      const stats = await engine.step(xBD);
      if (!Number.isFinite(stats.loss)) throw new SaerchError(`stress training (seed ${seed}) diverged at step ${step + 1}: loss ${stats.loss}`);
      if ((step + 1) % stateEvery === 0) await engine.state();
    }
    return await engine.state();
  } finally {
    await engine.close();
  }
}

/** The float32 tensors of a state that must repeat bit for bit, by name. */
function stateTensors(s: TrainState): [string, Float32Array][] {
  const out: [string, Float32Array][] = [];
  for (const key of ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const) {
    out.push([key, s.params[key]], [`m.${key}`, s.adam.m[key]], [`v.${key}`, s.adam.v[key]]);
  }
  return out;
}

/** Names of the tensors of `a` and `b` whose bits differ (sinceFired included); empty when identical. */
export function bitDifferences(a: TrainState, b: TrainState): string[] {
  const tb = new Map(stateTensors(b));
  const diff = stateTensors(a)
    .filter(([name, x]) => !sameBits(x, tb.get(name)!))
    .map(([name]) => name);
  if (!sameBits(a.sinceFiredF, b.sinceFiredF)) diff.push("sinceFiredF");
  return diff;
}

/** True when both arrays hold the same bytes (NaN payloads and −0 included). */
export function sameBits(a: Float32Array | Float64Array, b: Float32Array | Float64Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const ua = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const ub = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

/** Largest |a − b| over the weights, relative to the largest |b| of the same tensor. */
export function relativeWeightDiff(a: TrainState, b: TrainState): number {
  let worst = 0;
  for (const key of ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const) {
    const x = a.params[key];
    const y = b.params[key];
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < y.length; i++) {
      scale = Math.max(scale, Math.abs(y[i]!));
      diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
    }
    // NaN anywhere counts as a total mismatch.
    const rel = Number.isNaN(diff) ? Infinity : scale > 0 ? diff / scale : diff;
    worst = Math.max(worst, rel);
  }
  return worst;
}

/**
 * One step's kernel passes on `threads` threads and on one thread from the same random state; returns the
 * names of the row-local outputs whose bits differ (empty when the kernels kept their promise).
 */
export async function kernelPassDifferences(
  seed: number,
  shape: { d: number; n: number; k: number; batch: number },
  threads: number,
  timing: KernelPoolTiming = {},
): Promise<string[]> {
  const { d, n, k, batch: b } = shape;
  const ka = Math.min(2 * k, n);
  const base = { n, d, k, kAux: ka, batchCapacity: b };
  const many = new CpuKernels({ ...base, threads }, "wasm", timing);
  const one = new CpuKernels({ ...base, threads: 1 }, "wasm");
  try {
    const rng = new Rng(seed).fork("stress-kernels");
    for (const mat of ["enc", "dec"] as const) {
      for (const slot of ["p", "m", "v", "g"] as const) rng.fillNormalInPlace(many[mat][slot]);
      many[mat].v.forEach((x, i, a) => (a[i] = x * x));
    }
    normalizeRowsInPlace(many.dec.p, n, d);
    const st = many.staging;
    rng.fillNormalInPlace(st.x);
    // Distinct latents per row: the main selection, then AuxK's from the rest.
    for (let r = 0; r < b; r++) {
      const perm = rng.permutation(n);
      for (let q = 0; q < k; q++) st.indices[r * k + q] = perm[q]!;
      for (let q = 0; q < ka; q++) st.auxIndices[r * ka + q] = perm[(k + q) % n]!;
    }
    rng.fillNormalInPlace(st.values.subarray(0, b * k));
    rng.fillNormalInPlace(st.auxValues.subarray(0, b * ka));
    for (const mat of ["enc", "dec"] as const) for (const slot of ["p", "m", "v", "g"] as const) one[mat][slot].set(many[mat][slot]);
    for (const key of ["x", "indices", "values", "auxIndices", "auxValues"] as const) one.staging[key].set(st[key] as never);
    const bPreD = rng.fillNormalInPlace(new Float32Array(d), 0, 0.1);
    const adam = { beta1: 0.9, beta2: 0.999, eps: 1e-8, stepSize: 1e-3, sqrtBc2: 0.05 };
    for (const kernels of [many, one]) {
      kernels.decode(b, ka, 0.01, bPreD);
      kernels.accumulateGradients(b, k + ka, k);
      kernels.decoderProjectedNormSq();
      kernels.adamInPlace(0.5, adam);
    }
    const diff: string[] = [];
    const rowsOf = (a: Float32Array | Int32Array | Float64Array, per: number): Float32Array | Float64Array =>
      a instanceof Float64Array ? a.subarray(0, b * per) : new Float32Array(a.buffer, a.byteOffset, b * per);
    for (const key of ["xc", "r", "rA"] as const) if (!sameBits(rowsOf(st[key], d), rowsOf(one.staging[key], d))) diff.push(key);
    for (const key of ["pairIdx", "pairDec", "pairEnc"] as const) if (!sameBits(rowsOf(st[key], k + ka), rowsOf(one.staging[key], k + ka))) diff.push(key);
    for (const key of ["sse", "auxSse"] as const) if (!sameBits(rowsOf(st[key], 1), rowsOf(one.staging[key], 1))) diff.push(key);
    for (const mat of ["enc", "dec"] as const) {
      for (const slot of ["p", "m", "v", "g"] as const) if (!sameBits(many[mat][slot], one[mat][slot])) diff.push(`${mat}.${slot}`);
    }
    return diff;
  } finally {
    await many.close();
    await one.close();
  }
}

/** Busy-looping child processes (the competing load); `stop` ends exactly those. */
export function startCpuLoad(processes: number): { stop: () => void } {
  const children: ChildProcess[] = [];
  for (let i = 0; i < processes; i++) {
    children.push(spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
  }
  return { stop: () => children.forEach((c) => c.kill("SIGKILL")) };
}

/**
 * Run the harness (see the module comment).
 * @param dataMD training rows `[M, D]` for every run (default: `cfg.rows` synthetic rows per seed)
 * @param onRun called after each run with its index and whether it was clean
 */
export async function runStress(input: z.input<typeof StressConfig>, dataMD?: { rowsMD: Float32Array; d: number }, onRun?: (i: number, ok: boolean) => void): Promise<StressReport> {
  const cfg = StressConfig.parse(input);
  if (cfg.threads > availableParallelism()) {
    throw new SaerchError(`stress: ${cfg.threads} threads asked but this machine has ${availableParallelism()} cores (the engine would use fewer)`);
  }
  const d = dataMD?.d ?? cfg.d;
  const rows = dataMD ? dataMD.rowsMD.length / d : cfg.rows;
  const timing: KernelPoolTiming = { jitterMs: cfg.jitterMs, lateNotifyMs: cfg.lateNotifyMs };
  const load = cfg.load > 0 ? startCpuLoad(cfg.load) : undefined;
  const t0 = performance.now();
  const report: StressReport = {
    runs: 0, failures: 0, mismatches: 0, repeatMismatches: 0, oneThreadMismatches: 0, kernelMismatches: 0, maxOneThreadDiff: 0,
    errors: [], stateHash: "", trainSecondsMedian: 0, trainSecondsMax: 0, seconds: 0, threads: cfg.threads, load: cfg.load, jitterMs: cfg.jitterMs, lateNotifyMs: cfg.lateNotifyMs,
    shape: { d, n: cfg.n, k: cfg.k, batch: cfg.batch, steps: cfg.steps, rows },
  };
  const note = (text: string): void => {
    if (report.errors.length < 5 && !report.errors.includes(text)) report.errors.push(text);
  };
  const times: number[] = [];
  const hash = createHash("sha256");
  try {
    for (let i = 0; i < cfg.runs; i++) {
      const seed = cfg.seed + i;
      const data = dataMD?.rowsMD ?? syntheticRows(rows, d, seed);
      let ok = true;
      try {
        const tA = performance.now();
        const a = await trainForStress(stressSaeConfig(cfg, seed, cfg.threads, rows, d), data, cfg.stateEvery, timing);
        times.push((performance.now() - tA) / 1000);
        for (const [, t] of stateTensors(a)) hash.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
        const b = await trainForStress(stressSaeConfig(cfg, seed, cfg.threads, rows, d), data, cfg.stateEvery, timing);
        const one = await trainForStress(stressSaeConfig(cfg, seed, 1, rows, d), data, cfg.stateEvery);
        const repeat = bitDifferences(a, b);
        if (repeat.length > 0) {
          report.repeatMismatches++;
          note(`seed ${seed}: the repeat on ${cfg.threads} threads differs in ${repeat.join(", ")}`);
          ok = false;
        }
        const rel = relativeWeightDiff(a, one);
        report.maxOneThreadDiff = Math.max(report.maxOneThreadDiff, rel);
        if (cfg.oneThreadTolerance !== null && !(rel <= cfg.oneThreadTolerance)) {
          report.oneThreadMismatches++;
          note(`seed ${seed}: ${cfg.threads} threads against one differ by ${rel.toExponential(2)} (tolerance ${cfg.oneThreadTolerance})`);
          ok = false;
        }
        const passes = await kernelPassDifferences(seed, { d, n: cfg.n, k: cfg.k, batch: cfg.batch }, cfg.threads, timing);
        if (passes.length > 0) {
          report.kernelMismatches++;
          note(`seed ${seed}: kernel passes on ${cfg.threads} threads and on one differ in ${passes.join(", ")}`);
          ok = false;
        }
        if (!ok) report.mismatches++;
      } catch (err) {
        report.failures++;
        note(`seed ${seed}: ${describeError(err).split("\n")[0]}`);
        ok = false;
      }
      report.runs++;
      onRun?.(i, ok);
    }
  } finally {
    load?.stop();
  }
  report.stateHash = hash.digest("hex").slice(0, STATE_HASH_HEX);
  times.sort((x, y) => x - y);
  report.trainSecondsMedian = times.length ? times[Math.floor(times.length / 2)]! : 0;
  report.trainSecondsMax = times.length ? times[times.length - 1]! : 0;
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}
