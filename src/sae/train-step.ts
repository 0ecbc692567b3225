/**
 * The one interface both compute engines implement: a training step of the top-k SAE with AuxK, decoder-
 * gradient projection, global clipping, Adam and decoder renormalisation (METHOD.md §2). The exact
 * semantics every engine must match are those of `naive.ts`, the plain-JS reference.
 */
import { SaerchError } from "../core/errors.js";
import type { ResolvedSaeConfig } from "./config.js";
import { checkSaeParams } from "./model.js";
import type { AdamState, SaeParams } from "./params.js";

/** What one step measured (all on the batch it trained on, before the update). */
export interface StepStats {
  /** nmse + auxCoef · auxk. */
  loss: number;
  /** Normalised MSE of the reconstruction: mean((x̂ − x)²) / mean((x̄ − x)²). */
  nmse: number;
  /** AuxK normalised MSE of the dead-latent reconstruction of the residual (0 when no latent is dead). */
  auxk: number;
  /** Fraction of latents dead at this step (the ones AuxK used). */
  deadFraction: number;
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
}

/** The state that makes training resumable: parameters, Adam state, dead-latent counters. */
export interface TrainState {
  params: SaeParams;
  adam: AdamState;
  /** Examples since each latent last fired `[F]`. */
  sinceFiredF: Float64Array;
}

/** One engine's training step, holding the parameters and optimiser state resident between steps. */
export interface TrainStep {
  /** Engine name, e.g. "onnx cpu (2 threads)". */
  readonly engine: string;
  /**
   * Threads whose count the arithmetic depends on (sums split per thread change in the last bits), as
   * resolved on this machine; undefined for an engine whose results do not depend on one. Recorded in
   * checkpoints so that a resume on another count is refused.
   */
  readonly threads?: number | undefined;
  /**
   * One optimisation step.
   * @param xBD row-major batch `[B, D]` (B may differ between calls, e.g. a short last batch)
   */
  step(xBD: Float32Array): Promise<StepStats>;
  /**
   * Optional: check the batch the next `step` will train on and start its upload while the running step is still
   * computing (an engine with a device-side input buffer double-buffers it; see batch-stream.ts). The next `step`
   * call must pass the same array, unchanged; a `step` on another array stages that one instead.
   * @param xBD row-major batch `[B, D]`
   */
  stage?(xBD: Float32Array): void;
  /** Copies of the current parameters, Adam state and dead counters (for checkpoints and tests). */
  state(): Promise<TrainState>;
  /** Release sessions and memory. */
  close(): Promise<void>;
}

/**
 * The engine's device was lost mid-run (a GPU reset, a driver crash, `GPUDevice.destroy()`): the state resident on
 * it is gone, and no state read from it after the loss is returned. The trainer restates it with the step and the
 * last checkpoint (trainer.ts).
 */
export class DeviceLostError extends SaerchError {
  /** The device's own reason, e.g. "destroyed: device was destroyed". */
  readonly reason: string;

  /** @param who the engine, named in the message */
  constructor(who: string, reason: string) {
    super(
      `${who}: the GPU device was lost (${reason}); the state on it is gone, checkpoints on disk are untouched`,
      "rerun: training resumes from the last checkpoint",
    );
    this.name = "DeviceLostError";
    this.reason = reason;
  }
}

/**
 * Throw unless `params` are well-formed and sized (d, n) as `config` says.
 * @param who the engine, named in messages (e.g. "onnx SAE step")
 */
export function checkParamsForConfig(config: ResolvedSaeConfig, params: SaeParams, who: string): void {
  checkSaeParams(params, who);
  if (params.d !== config.d || params.n !== config.n) {
    throw new SaerchError(
      `${who}: params are (d = ${params.d}, n = ${params.n}) but the config says (d = ${config.d}, n = ${config.n})`,
      "load parameters and config from the same run",
    );
  }
}

/** Throw unless every buffer of a training state has the shape `config` implies. */
export function checkTrainState(config: ResolvedSaeConfig, state: TrainState, who: string): void {
  const { d, n } = config;
  checkParamsForConfig(config, state.params, who);
  const sizes = { wEncFD: n * d, bLatF: n, wDecFD: n * d, bPreD: d };
  for (const moment of ["m", "v"] as const) {
    for (const [name, len] of Object.entries(sizes)) {
      const buf = state.adam[moment][name as keyof typeof sizes];
      if (buf.length !== len) throw new SaerchError(`${who}: adam.${moment}.${name} has ${buf.length} values, expected ${len}`);
    }
  }
  if (!Number.isInteger(state.adam.t) || state.adam.t < 0) {
    throw new SaerchError(`${who}: adam.t must be a non-negative integer, got ${state.adam.t}`);
  }
  if (state.sinceFiredF.length !== n) {
    throw new SaerchError(`${who}: sinceFiredF has ${state.sinceFiredF.length} entries, expected n = ${n}`);
  }
}

/**
 * Validate a training batch `[B, D]`: whole rows, at least 2 of them (NMSE divides by the batch variance),
 * all values finite.
 * @returns B
 */
export function checkTrainBatch(xBD: Float32Array, d: number, who: string): number {
  if (xBD.length % d !== 0) {
    throw new SaerchError(`${who}: batch has ${xBD.length} values, not a whole number of rows of D = ${d}`);
  }
  const b = xBD.length / d;
  if (b < 2) {
    throw new SaerchError(
      `${who}: batch has ${b} row(s); NMSE divides by the batch variance, which needs at least 2 rows`,
      "drop (or merge) a last batch shorter than 2 rows",
    );
  }
  for (let p = 0; p < xBD.length; p++) {
    if (!Number.isFinite(xBD[p]!)) throw new SaerchError(`${who}: input row ${Math.floor(p / d)} has a non-finite value (${xBD[p]})`);
  }
  return b;
}

/**
 * The NMSE denominator of a batch: mean_{b,i}((x̄_i − x[b, i])²) with x̄ the `[D]` column means of the
 * `[B, D]` batch, accumulated in float64 so every engine divides by the same value.
 */
export function batchVariance(xBD: ArrayLike<number>, b: number, d: number): number {
  const meanD = new Float64Array(d);
  for (let r = 0; r < b; r++) for (let i = 0; i < d; i++) meanD[i]! += xBD[r * d + i]!;
  for (let i = 0; i < d; i++) meanD[i]! /= b;
  let acc = 0;
  for (let r = 0; r < b; r++) for (let i = 0; i < d; i++) acc += (meanD[i]! - xBD[r * d + i]!) ** 2;
  return acc / (b * d);
}
