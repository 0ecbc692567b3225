/**
 * The one interface both compute engines implement: a training step of the top-k SAE with AuxK, decoder-
 * gradient projection, global clipping, Adam and decoder renormalisation (METHOD.md §2). The exact
 * semantics every engine must match are those of `naive.ts`, the plain-JS reference.
 */
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
   * One optimisation step.
   * @param xBD row-major batch `[B, D]` (B may differ between calls, e.g. a short last batch)
   */
  step(xBD: Float32Array): Promise<StepStats>;
  /** Copies of the current parameters, Adam state and dead counters (for checkpoints and tests). */
  state(): Promise<TrainState>;
  /** Release sessions and memory. */
  close(): Promise<void>;
}
