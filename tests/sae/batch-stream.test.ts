/**
 * Tests for the batch stream (src/sae/batch-stream.ts) with a scripted engine whose steps finish only when the
 * test says so: batch t + 1 is read and staged after step t is submitted and before it completes; nothing is
 * read past the last step; every step gets exactly its own batch; `overlap: false` is the sequential loop; a
 * failed read of batch t + 1 surfaces at step t + 1, a failed stage is left to the engine's step.
 */
import { describe, expect, it } from "vitest";
import { type BatchStreamEvent, BatchStream } from "../../src/sae/batch-stream.js";
import type { StepStats, TrainState, TrainStep } from "../../src/sae/train-step.js";

const STATS: StepStats = { loss: 1, nmse: 1, auxk: 0, deadFraction: 0, gradNorm: 1 };

/** An engine that records its calls and completes each step when `finish()` is called. */
class ScriptedEngine implements TrainStep {
  readonly engine = "scripted";
  readonly log: string[] = [];
  /** The arrays `step` was called with, in order. */
  readonly stepped: Float32Array[] = [];
  readonly staged: Float32Array[] = [];
  private pending: (() => void) | undefined;

  constructor(
    private readonly withStage: boolean,
    private readonly badStage?: (xBD: Float32Array) => boolean,
  ) {}

  step(xBD: Float32Array): Promise<StepStats> {
    if (this.badStage?.(xBD)) return Promise.reject(new Error(`bad batch ${xBD[0]}`));
    this.stepped.push(xBD);
    this.log.push(`engine step ${xBD[0]}`);
    return new Promise((res) => (this.pending = () => res(STATS)));
  }

  get stage(): ((xBD: Float32Array) => void) | undefined {
    if (!this.withStage) return undefined;
    return (xBD) => {
      if (this.badStage?.(xBD)) throw new Error(`bad batch ${xBD[0]}`);
      this.staged.push(xBD);
      this.log.push(`engine stage ${xBD[0]}`);
    };
  }

  /** Complete the running step (after the stream's synchronous read-ahead has run). */
  finish(): void {
    const done = this.pending;
    this.pending = undefined;
    this.log.push("engine done");
    done?.();
  }

  state(): Promise<TrainState> {
    throw new Error("not used");
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Batch of step s: one row of two values, the first s (so a batch names its step). */
const batchOf = (s: number): Float32Array => Float32Array.of(s, -s);

/** Run steps [0, end) through a stream, completing each step on the next macrotask. */
async function runAll(engine: ScriptedEngine, end: number, opts: { overlap?: boolean; batchAt?: (s: number) => Float32Array } = {}): Promise<BatchStreamEvent[]> {
  const events: BatchStreamEvent[] = [];
  const stream = new BatchStream(engine, opts.batchAt ?? batchOf, end, { overlap: opts.overlap, onEvent: (e) => events.push(e) });
  for (let s = 0; s < end; s++) {
    const running = stream.run(s);
    setTimeout(() => engine.finish(), 0);
    await running;
  }
  return events;
}

const at = (events: BatchStreamEvent[], kind: BatchStreamEvent["kind"], step: number): number =>
  events.findIndex((e) => e.kind === kind && e.step === step);

describe("BatchStream", () => {
  it("reads and stages batch t + 1 after step t is submitted and before it completes; nothing past the last step", async () => {
    const engine = new ScriptedEngine(true);
    const events = await runAll(engine, 4);
    for (let s = 0; s < 3; s++) {
      expect(at(events, "read", s + 1), `read ${s + 1}`).toBeGreaterThan(at(events, "submit", s));
      expect(at(events, "stage", s + 1), `stage ${s + 1}`).toBeLessThan(at(events, "complete", s));
    }
    expect(events.filter((e) => e.kind === "read").map((e) => e.step)).toEqual([0, 1, 2, 3]);
    expect(at(events, "read", 4)).toBe(-1);
    // The engine saw each stage before its step's completion of the previous one, and no stage after the last step.
    expect(engine.log).toEqual([
      "engine step 0",
      "engine stage 1",
      "engine done",
      "engine step 1",
      "engine stage 2",
      "engine done",
      "engine step 2",
      "engine stage 3",
      "engine done",
      "engine step 3",
      "engine done",
    ]);
  });

  it("steps each batch exactly once, in order, passing the staged array itself", async () => {
    const engine = new ScriptedEngine(true);
    await runAll(engine, 5);
    expect(engine.stepped.map((x) => Array.from(x))).toEqual([0, 1, 2, 3, 4].map((s) => Array.from(batchOf(s))));
    // Steps 1..4 ran on the very arrays that were staged (identity: the engine's upload is used, not redone).
    expect(engine.stepped.slice(1)).toEqual(engine.staged);
    for (const [i, x] of engine.staged.entries()) expect(engine.stepped[i + 1]).toBe(x);
  });

  it("reads ahead for an engine without stage too, and overlap: false reads each batch after the previous step", async () => {
    const plain = await runAll(new ScriptedEngine(false), 3);
    expect(at(plain, "read", 1)).toBeLessThan(at(plain, "complete", 0));
    expect(plain.some((e) => e.kind === "stage")).toBe(false);
    const sequential = await runAll(new ScriptedEngine(true), 3, { overlap: false });
    expect(sequential.map((e) => `${e.kind} ${e.step}`)).toEqual([
      "read 0",
      "submit 0",
      "complete 0",
      "read 1",
      "submit 1",
      "complete 1",
      "read 2",
      "submit 2",
      "complete 2",
    ]);
  });

  it("a failed read of batch t + 1 is raised by step t + 1, after step t completed", async () => {
    const engine = new ScriptedEngine(true);
    const failingAt2 = (s: number): Float32Array => {
      if (s === 2) throw new Error("store read failed");
      return batchOf(s);
    };
    const stream = new BatchStream(engine, failingAt2, 4);
    for (const s of [0, 1]) {
      const running = stream.run(s);
      setTimeout(() => engine.finish(), 0);
      await expect(running).resolves.toEqual(STATS);
    }
    await expect(stream.run(2)).rejects.toThrow(/store read failed/);
    expect(engine.stepped).toHaveLength(2);
  });

  it("a batch the engine refuses to stage fails at its own step, through engine.step", async () => {
    const engine = new ScriptedEngine(true, (x) => x[0] === 1);
    const stream = new BatchStream(engine, batchOf, 3);
    const first = stream.run(0);
    setTimeout(() => engine.finish(), 0);
    await expect(first).resolves.toEqual(STATS);
    expect(engine.staged).toHaveLength(0);
    await expect(stream.run(1)).rejects.toThrow(/bad batch 1/);
  });
});
