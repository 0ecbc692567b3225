/**
 * Training batches streamed to an engine (METHOD.md §2: one shuffled mini-batch per step) with the host side of
 * batch t + 1 done while step t computes: the store read and, for an engine with `TrainStep.stage` (webgpu), the
 * batch's checks and its upload into the engine's other input buffer. Then the device never waits for the host
 * between steps except for the step's own metrics (32 bytes on webgpu), which the trainer needs every step.
 *
 * The stream changes when a batch is read, never which: step s trains on `batchAt(s)` exactly as a sequential
 * loop would, so results are bit-identical. An error reading batch t + 1 is raised when step t + 1 runs (after
 * step t's metrics, logging and checkpoint), as it would be in the sequential loop.
 */
import type { StepStats, TrainStep } from "./train-step.js";

/** Reads the `[B, D]` batch of a step (0-based); the stream never mutates what it returns. */
export type BatchAt = (step: number) => Float32Array;

/**
 * What the stream did, in order: `read` (batch of `step` read from the source), `stage` (handed to
 * `engine.stage`), `submit` (`engine.step` called on it), `complete` (that step's promise settled).
 */
export interface BatchStreamEvent {
  kind: "read" | "stage" | "submit" | "complete";
  step: number;
}

/** Options of a BatchStream. */
export interface BatchStreamOptions {
  /** false: read each batch only after the previous step completed (the sequential loop, for measurements). Default true. */
  overlap?: boolean;
  /** Called with every event (tests and the benchmark check the overlap with it). */
  onEvent?: (event: BatchStreamEvent) => void;
}

/** The next step's batch, read ahead (or the error reading it, raised when that step runs). */
type Ahead = { step: number; xBD: Float32Array } | { step: number; error: unknown };

/** Runs an engine's steps over a batch source, reading and staging each next batch while the current step runs. */
export class BatchStream {
  /** Milliseconds of host work (reads and stages of the next batch) done while a step was running. */
  overlappedMs = 0;
  private ahead: Ahead | undefined;
  private readonly overlap: boolean;

  /**
   * @param engine the training step
   * @param batchAt the batch of each step
   * @param end steps [0, end) exist: no batch is read ahead past `end − 1`
   */
  constructor(
    private readonly engine: TrainStep,
    private readonly batchAt: BatchAt,
    private readonly end: number,
    private readonly opts: BatchStreamOptions = {},
  ) {
    this.overlap = opts.overlap ?? true;
  }

  /** Run step `step` on its batch and, while it computes, read and stage the batch of `step + 1` (when below `end`). */
  async run(step: number): Promise<StepStats> {
    const xBD = this.take(step);
    this.opts.onEvent?.({ kind: "submit", step });
    const pending = this.engine.step(xBD);
    if (this.overlap && step + 1 < this.end) this.readAhead(step + 1);
    try {
      return await pending;
    } finally {
      this.opts.onEvent?.({ kind: "complete", step });
    }
  }

  /** The batch of `step`: the one read ahead when it is for this step, else read now (the engine stages it itself). */
  private take(step: number): Float32Array {
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead?.step === step) {
      if ("error" in ahead) throw ahead.error;
      return ahead.xBD;
    }
    const xBD = this.batchAt(step);
    this.opts.onEvent?.({ kind: "read", step });
    return xBD;
  }

  /** Read the batch of `step` and stage it; a failed read is kept for `run(step)`, a failed stage left to `engine.step`. */
  private readAhead(step: number): void {
    const t0 = performance.now();
    let xBD: Float32Array;
    try {
      xBD = this.batchAt(step);
    } catch (error) {
      this.ahead = { step, error };
      return;
    }
    this.opts.onEvent?.({ kind: "read", step });
    this.ahead = { step, xBD };
    if (this.engine.stage) {
      try {
        this.engine.stage(xBD);
        this.opts.onEvent?.({ kind: "stage", step });
      } catch {
        // engine.step(xBD) checks the batch again when step `step` runs and throws there, in order.
      }
    }
    this.overlappedMs += performance.now() - t0;
  }
}
