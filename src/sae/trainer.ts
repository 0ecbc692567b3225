/**
 * The SAE training loop (METHOD.md §2: batch 1024, shuffled, fp32, constant lr, a fixed number of steps),
 * resumable bit for bit after a crash.
 *
 * - Data: `rows` (a training subset of the store, default all rows) is shuffled per epoch with
 *   `new Rng(seed).fork("epoch:" + e).permutation(M)` (for the whole store this is `store.batchAt`'s order);
 *   every batch holds exactly B rows, so the last partial batch of each epoch is dropped (a short batch would
 *   weigh its rows more, and a one-row batch has zero variance: its NMSE is undefined). Each epoch drops
 *   different rows. The position (epoch, batch) of step s is (⌊s / P⌋, s mod P), P = ⌊M / B⌋.
 * - Init: `initSaeParams` on `initSampleRows` training rows drawn with `fork("init-sample")` of the seed.
 * - Engine: any `TrainStep`, built by the `createStep` factory from the resolved config and the state. Batches
 *   stream to it (batch-stream.ts): batch t + 1 is read, checked and (webgpu) uploaded while step t computes.
 * - Metrics: every `logEvery` steps one line in `<dir>/metrics.jsonl` with the window's means.
 * - Checkpoints (checkpoint.ts): every `checkpointEvery` steps and at the end; a rerun resumes from the
 *   newest one (dropping metric lines past it); a finished run returns its weights without training.
 * - A NaN/Inf loss or gradient norm stops training with a SaerchError; no checkpoint is written after it.
 * - A lost GPU device (DeviceLostError from the engine) stops training with a SaerchError naming the step and the
 *   last checkpoint, which is left as it was (a checkpoint is written only from a state read back whole).
 * - At the end the final weights are also written to `<dir>/sae.safetensors` (what later stages load) and
 *   their SHA-256 to `<dir>/weights.json` (weights-hash.ts); reopening a finished run checks the file.
 * - One process per run directory: training holds the directory's run lock (src/io/run-lock.ts).
 * - Threads: the engine's resolved thread count (`TrainStep.threads`) is recorded in every checkpoint; a
 *   resume with `threads: 0` ("one per core") uses the recorded count, and a resume on another count is
 *   refused (sums split per thread round differently, so the weights would no longer be those of one run).
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { SaerchError } from "../core/errors.js";
import { progress as startProgress } from "../core/progress.js";
import { Rng } from "../core/rng.js";
import type { EmbeddingStore } from "../embed/store-reader.js";
import { writeFileAtomic } from "../io/atomic.js";
import { JsonlAppender, readJsonlLog } from "../io/jsonl.js";
import { withRunLock } from "../io/run-lock.js";
import {
  type Checkpoint,
  configDifferences,
  loadCheckpoint,
  rowsDigest,
  saeConfigHash,
  saveCheckpoint,
  saveSaeWeights,
  type TrainDataId,
  type TrainPosition,
} from "./checkpoint.js";
import { BatchStream } from "./batch-stream.js";
import { type ResolvedSaeConfig, resolveSaeConfig, type SaeConfigInput } from "./config.js";
import { initSaeParams, type SaeParams, zeroAdamState } from "./params.js";
import { DeviceLostError, type StepStats, type TrainState, type TrainStep } from "./train-step.js";
import { checkFinishedWeights, recordWeightsHash, SAE_WEIGHTS_FILE } from "./weights-hash.js";

/** Metrics log of a run directory. */
export const METRICS_FILE = "metrics.jsonl";
/** Final weights of a run directory (released tensor names, see checkpoint.ts). */
export const WEIGHTS_FILE = SAE_WEIGHTS_FILE;
/** Milliseconds per second. */
const MS_PER_S = 1000;

/** Builds an engine from the resolved config and the initial state (copied in, never aliased). */
export type CreateTrainStep = (config: ResolvedSaeConfig, init: TrainState) => Promise<TrainStep>;

/** One line of `metrics.jsonl`: means over the steps of one logging window. */
export interface TrainMetrics {
  /** Steps completed at the end of the window. */
  step: number;
  /** Epoch of the window's last batch. */
  epoch: number;
  /** Training examples seen at the end of the window. */
  examples: number;
  /** Mean loss (nmse + auxCoef · auxk) over the window. */
  loss: number;
  /** Mean NMSE over the window. */
  nmse: number;
  /** Mean AuxK over the window. */
  auxk: number;
  /** Mean dead fraction over the window. */
  deadFraction: number;
  /** Mean gradient norm (before clipping) over the window. */
  gradNorm: number;
  /** Steps per second over the window (batch reading and stepping only; checkpoint writes excluded). */
  stepsPerSecond: number;
  /** Seconds of training so far, summed over resumed sessions. */
  elapsed: number;
}

/** Arguments of trainSae. */
export interface TrainSaeArgs {
  /** SAE config (validated and resolved against the number of training rows). */
  config: SaeConfigInput;
  /** Embedding store with the training vectors; its dimension must equal `config.d`. */
  store: EmbeddingStore;
  /** `[M]` store rows to train on (e.g. one domain); default every row. */
  rows?: Int32Array;
  /** Run directory: checkpoints, metrics.jsonl, sae.safetensors. */
  dir: string;
  /** Engine factory (see src/sae/engines.ts). */
  createStep: CreateTrainStep;
  /** Called with every metrics line as it is logged. */
  onLog?: (metrics: TrainMetrics) => void;
  /** No progress report on stderr (default false). */
  quiet?: boolean;
}

/** What trainSae returns. */
export interface TrainSaeResult {
  /** Final weights. */
  params: SaeParams;
  /** The resolved config. */
  config: ResolvedSaeConfig;
  /** The last logged window (undefined only when metrics.jsonl has no line, e.g. it was deleted). */
  stats: TrainMetrics | undefined;
  /** Steps completed (= config.steps). */
  steps: number;
  /** Run directory. */
  dir: string;
  /** Path of the final `sae.safetensors`. */
  weightsPath: string;
  /** Whether training started from a checkpoint (a finished run counts as resumed). */
  resumed: boolean;
}

/**
 * Seeded, resumable mini-batches over a subset of a store's rows (see the module header): epoch e is the
 * permutation `new Rng(seed).fork("epoch:" + e)` of the subset, cut into ⌊M / B⌋ batches of exactly B rows.
 */
export class SubsetBatcher {
  /** Training rows M. */
  readonly count: number;
  /** Batches per epoch P = ⌊M / B⌋. */
  readonly perEpoch: number;
  private cached: { epoch: number; permM: Int32Array } | undefined;

  /**
   * @param store the store to gather from
   * @param rowsM `[M]` store rows of the subset
   * @param batchSize B (at most M)
   * @param seed shuffle seed
   */
  constructor(
    private readonly store: EmbeddingStore,
    /** `[M]` store rows of the subset. */
    readonly rowsM: Int32Array,
    readonly batchSize: number,
    private readonly seed: number,
  ) {
    this.count = rowsM.length;
    this.perEpoch = Math.floor(rowsM.length / batchSize);
    if (this.perEpoch < 1) {
      throw new SaerchError(
        `batch ${batchSize} is larger than the ${rowsM.length} training rows`,
        "lower config.batch, or train on more rows",
      );
    }
  }

  /** Position (epoch, batch) of the batch that step `step` (0-based) trains on. */
  positionOf(step: number): { epoch: number; batch: number } {
    return { epoch: Math.floor(step / this.perEpoch), batch: step % this.perEpoch };
  }

  /** Batch `batch` of epoch `epoch`: `[B]` store rows and their `[B, D]` vectors. */
  batchAt(epoch: number, batch: number): { indices: Int32Array; embBD: Float32Array } {
    if (!this.cached || this.cached.epoch !== epoch) {
      this.cached = { epoch, permM: new Rng(this.seed).fork(`epoch:${epoch}`).permutation(this.count) };
    }
    const b = this.batchSize;
    const permB = this.cached.permM.subarray(batch * b, (batch + 1) * b);
    const indices: Int32Array = Int32Array.from(permB, (p) => this.rowsM[p]!);
    return { indices, embBD: this.store.gather(indices) };
  }
}

/** Check the subset and return it (default: every row). */
function trainingRows(store: EmbeddingStore, rows: Int32Array | undefined): Int32Array {
  if (!rows) return Int32Array.from({ length: store.count }, (_, i) => i);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r < 0 || r >= store.count) {
      throw new SaerchError(`training row ${r} (position ${i}) is out of bounds for the store ${store.dir} of ${store.count} rows`);
    }
  }
  return rows;
}

/** Sum of step stats over a logging window. */
class Window {
  steps = 0;
  loss = 0;
  nmse = 0;
  auxk = 0;
  deadFraction = 0;
  gradNorm = 0;
  /** Milliseconds spent reading batches and stepping (checkpoints and logging excluded). */
  ms = 0;

  add(s: StepStats, ms: number): void {
    this.steps++;
    this.ms += ms;
    this.loss += s.loss;
    this.nmse += s.nmse;
    this.auxk += s.auxk;
    this.deadFraction += s.deadFraction;
    this.gradNorm += s.gradNorm;
  }

  metrics(step: number, epoch: number, examples: number, elapsed: number): TrainMetrics {
    const n = Math.max(this.steps, 1);
    const secs = this.ms / MS_PER_S;
    return {
      step,
      epoch,
      examples,
      loss: this.loss / n,
      nmse: this.nmse / n,
      auxk: this.auxk / n,
      deadFraction: this.deadFraction / n,
      gradNorm: this.gradNorm / n,
      stepsPerSecond: this.steps / Math.max(secs, Number.EPSILON),
      elapsed,
    };
  }
}

/** Keep only the metric lines up to `step` (rewritten atomically when something is dropped). */
function truncateMetrics(path: string, step: number): TrainMetrics[] {
  if (!existsSync(path)) return [];
  const lines = readJsonlLog<TrainMetrics>(path);
  const kept = lines.filter((m) => m.step <= step);
  if (kept.length !== lines.length || kept.length === 0) {
    writeFileAtomic(path, kept.map((m) => `${JSON.stringify(m)}\n`).join(""));
  }
  return kept;
}

/** Check a checkpoint against this run: dimension, config, data. */
function checkResume(ckpt: Checkpoint, config: ResolvedSaeConfig, store: EmbeddingStore, data: TrainDataId, dir: string): void {
  const where = ckpt.dir ?? join(dir, "checkpoints");
  const fix = `train into another run directory, or delete ${dir} to start over`;
  if (ckpt.config.d !== store.dim) {
    throw new SaerchError(
      `the checkpoint ${where} is for d = ${ckpt.config.d} embeddings but the store ${store.dir} has d = ${store.dim}`,
      fix,
    );
  }
  const diffs = configDifferences(ckpt.config, config);
  if (diffs.length > 0 || ckpt.configHash !== saeConfigHash(config)) {
    throw new SaerchError(
      `the checkpoint ${where} was trained with another config (checkpoint vs now: ${diffs.join("; ") || "config hash differs"})`,
      fix,
    );
  }
  const dataDiffs = (Object.keys(data) as Array<keyof TrainDataId>)
    .filter((key) => ckpt.data[key] !== data[key])
    .map((key) => `${key}: ${JSON.stringify(ckpt.data[key])} vs ${JSON.stringify(data[key])}`);
  if (dataDiffs.length > 0) {
    throw new SaerchError(
      `the checkpoint ${where} was trained on other data (checkpoint vs now: ${dataDiffs.join("; ")})`,
      fix,
    );
  }
  if (ckpt.position.step > config.steps) {
    throw new SaerchError(
      `the checkpoint ${where} is at step ${ckpt.position.step}, past the configured ${config.steps} steps`,
      `raise steps (or epochs) to at least ${ckpt.position.step}, or ${fix}`,
    );
  }
}

/** The config the engine is built from on a resume: `threads: 0` ("one per core") becomes the checkpoint's count. */
function resumeConfig(ckpt: Checkpoint | undefined, config: ResolvedSaeConfig, quiet: boolean | undefined): ResolvedSaeConfig {
  const recorded = ckpt?.threads;
  if (recorded === undefined || config.threads !== 0) return config;
  if (!quiet && recorded !== availableParallelism()) {
    process.stderr.write(`note: resuming on the checkpoint's ${recorded} thread(s) (threads: 0 would be ${availableParallelism()} here)\n`);
  }
  return { ...config, threads: recorded };
}

/**
 * Refuse an engine whose thread count is not the checkpoint's.
 * @param asked the config's `threads` (0: one per core, already replaced by the recorded count)
 */
function checkThreads(ckpt: Checkpoint, engine: TrainStep, dir: string, asked: number): void {
  const recorded = ckpt.threads;
  if (recorded === undefined || engine.threads === undefined || engine.threads === recorded) return;
  const cores = availableParallelism();
  const onCores = recorded > cores ? `resume on a machine with at least ${recorded} cores (this one has ${cores})` : undefined;
  const how = asked === 0 ? (onCores ?? `set threads: ${recorded}`) : [`set threads: ${recorded} in the SAE config`, onCores].filter(Boolean).join(" and ");
  throw new SaerchError(
    `the checkpoint ${ckpt.dir ?? join(dir, "checkpoints")} was trained on ${recorded} thread(s) but this engine (${engine.engine}) runs on ${engine.threads}: ` +
      "sums split per thread round differently, so the resumed weights would differ from an uninterrupted run's",
    `${how}, or delete ${dir} to start over`,
  );
}

/**
 * The trainer's message for a lost device: the step, what is kept on disk and what a rerun does.
 * @param completed steps completed when the device was lost
 * @param lastSaved step of the last checkpoint (0: none was written)
 */
function deviceLost(err: DeviceLostError, engine: TrainStep, completed: number, lastSaved: number, steps: number, dir: string): SaerchError {
  const where = join(dir, "checkpoints");
  const kept = lastSaved > 0 ? `the last checkpoint (step ${lastSaved}, in ${where}) is intact` : "no checkpoint had been written yet";
  const rerun = lastSaved > 0 ? `rerun the same training: it resumes from the checkpoint at step ${lastSaved}` : "rerun the same training: it starts over";
  return new SaerchError(
    `SAE training stopped after ${completed} of ${steps} steps: the GPU device of the ${engine.engine} engine was lost (${err.reason}); ` +
      `its state is gone and nothing was written from it; ${kept}`,
    `${rerun} on a fresh device (a webgpu checkpoint also resumes on engine "onnx" with the same config)`,
  );
}

/** The initial state of a fresh run (METHOD.md §2 initialisation). */
function freshState(config: ResolvedSaeConfig, store: EmbeddingStore, rowsM: Int32Array): TrainState {
  const { d, n, seed } = config;
  const picks = new Rng(seed).fork("init-sample").sample(rowsM.length, Math.min(config.initSampleRows, rowsM.length));
  const sampleRD = store.gather(Int32Array.from(picks, (p) => rowsM[p]!));
  return { params: initSaeParams(d, n, sampleRD, seed), adam: zeroAdamState(d, n), sinceFiredF: new Float64Array(n) };
}

/**
 * Train a top-k SAE (or resume, or return a finished run) in `dir`; see the module header.
 * @returns final weights, the last logged window, steps, and whether it resumed
 * @throws SaerchError on a bad config, a checkpoint from another dimension/config/data/thread count, or a NaN/Inf
 *   loss; RunInUseError when another process is using `dir`
 */
export async function trainSae(args: TrainSaeArgs): Promise<TrainSaeResult> {
  const { store, dir } = args;
  const rowsM = trainingRows(store, args.rows);
  const config = resolveSaeConfig(args.config, rowsM.length);
  if (config.d !== store.dim) {
    throw new SaerchError(
      `config.d is ${config.d} but the store ${store.dir} has d = ${store.dim}`,
      `set d: ${store.dim} in the SAE config, or train on another store`,
    );
  }
  const batcher = new SubsetBatcher(store, rowsM, config.batch, config.seed);
  const data: TrainDataId = {
    embedderId: store.manifest.embedderId,
    storeCount: store.count,
    dim: store.dim,
    rows: rowsM.length,
    rowsDigest: rowsDigest(rowsM),
  };
  const configHash = saeConfigHash(config);
  return withRunLock(dir, "SAE training", () => trainLocked(args, config, batcher, data, configHash));
}

/** trainSae's work, holding the run directory's lock. */
async function trainLocked(
  args: TrainSaeArgs,
  config: ResolvedSaeConfig,
  batcher: SubsetBatcher,
  data: TrainDataId,
  configHash: string,
): Promise<TrainSaeResult> {
  const { store, dir } = args;
  const rowsM = batcher.rowsM;
  const metricsPath = join(dir, METRICS_FILE);
  const weightsPath = join(dir, WEIGHTS_FILE);

  const ckpt = loadCheckpoint(dir);
  if (ckpt) checkResume(ckpt, config, store, data, dir);
  const logged = truncateMetrics(metricsPath, ckpt?.position.step ?? 0);
  const startStep = ckpt?.position.step ?? 0;
  const elapsedBefore = ckpt?.position.elapsedSeconds ?? 0;

  if (ckpt && startStep === config.steps) {
    if (!existsSync(weightsPath)) {
      saveSaeWeights(weightsPath, ckpt.state.params, { k: config.k, config });
      recordWeightsHash(dir);
    } else checkFinishedWeights(dir, ckpt.state.params);
    return { params: ckpt.state.params, config, stats: logged.at(-1), steps: startStep, dir, weightsPath, resumed: true };
  }

  const init = ckpt ? ckpt.state : freshState(config, store, rowsM);
  const engine = await args.createStep(resumeConfig(ckpt, config, args.quiet), init);
  if (ckpt) {
    try {
      checkThreads(ckpt, engine, dir, config.threads);
    } catch (err) {
      await engine.close();
      throw err;
    }
  }
  let appender: JsonlAppender | undefined;
  const bar = args.quiet ? undefined : startProgress(config.steps - startStep, startStep > 0 ? `SAE training (from step ${startStep})` : "SAE training", { unit: "steps" });
  const t0 = performance.now();
  const elapsed = (): number => elapsedBefore + (performance.now() - t0) / MS_PER_S;
  let window = new Window();
  let last: TrainMetrics | undefined = logged.at(-1);
  let lastSaved = startStep;
  /** Steps completed so far in this session (for the lost-device message). */
  let completed = startStep;

  const save = async (step: number): Promise<void> => {
    const next = batcher.positionOf(step);
    const position: TrainPosition = { step, ...next, examples: step * config.batch, elapsedSeconds: elapsed() };
    saveCheckpoint(dir, { config, state: await engine.state(), position, data, configHash, threads: engine.threads });
    lastSaved = step;
  };

  const batchOf = (step: number): Float32Array => {
    const { epoch, batch } = batcher.positionOf(step);
    return batcher.batchAt(epoch, batch).embBD;
  };
  const stream = new BatchStream(engine, batchOf, config.steps);

  try {
    appender = new JsonlAppender(metricsPath);
    for (let step = startStep; step < config.steps; ) {
      const tStep = performance.now();
      const { epoch, batch } = batcher.positionOf(step);
      const stats = await stream.run(step);
      step++;
      completed = step;
      if (!Number.isFinite(stats.loss) || !Number.isFinite(stats.gradNorm)) {
        throw new SaerchError(
          `training diverged at step ${step} (epoch ${epoch}, batch ${batch}): loss ${stats.loss}, nmse ${stats.nmse}, ` +
            `auxk ${stats.auxk}, gradNorm ${stats.gradNorm}; ` +
            (lastSaved > 0 ? `the last good checkpoint (step ${lastSaved}) in ${dir} is kept` : "no checkpoint was written"),
          "lower lr, check the embeddings for NaN/Inf or zero-variance batches (a larger batch), then rerun to resume " +
            "from that checkpoint — or delete the run directory to start over",
        );
      }
      window.add(stats, performance.now() - tStep);
      if (step % config.logEvery === 0 || step === config.steps) {
        last = window.metrics(step, epoch, step * config.batch, elapsed());
        appender.append(last);
        args.onLog?.(last);
        window = new Window();
      }
      if (step % config.checkpointEvery === 0 || step === config.steps) await save(step);
      bar?.update(step - startStep);
    }
    bar?.finish();
    const final = await engine.state();
    saveSaeWeights(weightsPath, final.params, { k: config.k, config });
    recordWeightsHash(dir);
    return { params: final.params, config, stats: last, steps: config.steps, dir, weightsPath, resumed: ckpt !== undefined };
  } catch (err) {
    if (err instanceof DeviceLostError) throw deviceLost(err, engine, completed, lastSaved, config.steps, dir);
    throw err;
  } finally {
    appender?.close();
    await engine.close();
  }
}

