/**
 * The webgpu engine under the trainer (src/sae/trainer.ts) on a 300-row synthetic store (d = 16, n = 48,
 * k = 4): checkpoints interchangeable with the onnx engine in both directions (train on one, resume on the
 * other, end equal to the naive reference run to 1e-4); a kill -9 of a webgpu training process resumed
 * bit-identically to an uninterrupted webgpu run; batches streamed with the next one uploaded while a step
 * runs (every step on its own batch, the bits of an unstreamed run, a resumed run starting on input slot 0);
 * and a device lost mid-run (`device.destroy()` during a step, and while a checkpoint is read back): a
 * SaerchError naming the step, the intact last checkpoint and the fix, the checkpoint byte-identical to what
 * was written before the loss, and a rerun resuming from it (on a fresh device, or on the naive engine).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensorRelErr } from "../../helpers/compare.js";
import type { EmbeddingStore } from "../../../src/embed/store-reader.js";
import { repoPath } from "../../../src/io/paths.js";
import { SaerchError } from "../../../src/core/errors.js";
import { CHECKPOINTS_DIR, listCheckpoints, loadCheckpoint } from "../../../src/sae/checkpoint.js";
import type { SaeConfigInput } from "../../../src/sae/config.js";
import { NaiveTrainStep } from "../../../src/sae/naive.js";
import { OnnxTrainStep } from "../../../src/sae/onnx-step.js";
import type { SaeParams } from "../../../src/sae/params.js";
import type { TrainStep } from "../../../src/sae/train-step.js";
import { type CreateTrainStep, SubsetBatcher, trainSae, WEIGHTS_FILE } from "../../../src/sae/trainer.js";
import { openWebGpuDevice, type WebGpuContext } from "../../../src/sae/webgpu/adapter.js";
import { type WebGpuStepEvent, WebGpuTrainStep } from "../../../src/sae/webgpu/step.js";
import { writeSyntheticStore } from "../../fixtures/sae/synthetic-store.js";
import { GPU_TEST_TIMEOUT_MS, gpuContext, noAdapter } from "./gpu-available.js";

const CONFIG: SaeConfigInput = {
  d: 16,
  n: 48,
  k: 4,
  batch: 32,
  steps: 40,
  lr: 3e-3,
  deadWindow: 64,
  checkpointEvery: 10,
  logEvery: 5,
  initSampleRows: 100,
  seed: 3,
};
const KEYS = ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const;

const naive: CreateTrainStep = async (c, init) => new NaiveTrainStep(c, init);
const onnx: CreateTrainStep = (c, init) => OnnxTrainStep.create(c, init, { threads: 1 });
const webgpu: CreateTrainStep = (c, init) => WebGpuTrainStep.create(c, init, { context: gpuContext! });

let tmp: string;
let store: EmbeddingStore;
let runs = 0;
const runDir = (label: string): string => join(tmp, `run-${label}-${runs++}`);
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "saerch-webgpu-trainer-"));
  store = writeSyntheticStore(join(tmp, "store"));
});
afterAll(() => {
  store.close();
  rmSync(tmp, { recursive: true, force: true });
});

const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Train `steps` steps with `first`, then resume the same run to CONFIG.steps with `second`. */
async function trainThenResume(first: CreateTrainStep, second: CreateTrainStep, steps: number): Promise<SaeParams> {
  const dir = runDir("switch");
  await trainSae({ config: { ...CONFIG, steps }, store, dir, createStep: first, quiet: true });
  expect(loadCheckpoint(dir)!.position.step).toBe(steps);
  const res = await trainSae({ config: CONFIG, store, dir, createStep: second, quiet: true });
  expect(res.resumed).toBe(true);
  return res.params;
}

describe.skipIf(noAdapter !== undefined)("webgpu checkpoints", { timeout: GPU_TEST_TIMEOUT_MS }, () => {
  it("are interchangeable with the onnx engine's, both ways, ending where the naive run ends", async () => {
    const ref = await trainSae({ config: CONFIG, store, dir: runDir("naive"), createStep: naive, quiet: true });
    for (const [name, params] of [
      ["onnx → webgpu", await trainThenResume(onnx, webgpu, 20)],
      ["webgpu → onnx", await trainThenResume(webgpu, onnx, 20)],
    ] as const) {
      for (const key of KEYS) expect(tensorRelErr(params[key], ref.params[key]), `${name} ${key}`).toBeLessThan(1e-4);
    }
  });

  it("a webgpu run killed with -9 resumes bit-identically to an uninterrupted webgpu run", async () => {
    const dist = repoPath("dist");
    if (!existsSync(join(dist, "sae", "webgpu", "step.js"))) throw new Error("dist/ is missing the webgpu engine: run `npm run build` first");
    const dir = runDir("killed");
    const child = spawn(
      process.execPath,
      [repoPath("tests", "fixtures", "sae", "train-child.mjs"), dist, store.dir, dir, JSON.stringify(CONFIG), "-", "60", "webgpu"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on("exit", (_code, signal) => res(signal)));
    const deadline = Date.now() + GPU_TEST_TIMEOUT_MS / 2;
    let stepAtKill = 0;
    while (Date.now() < deadline) {
      stepAtKill = listCheckpoints(dir).at(-1)?.step ?? 0;
      if (stepAtKill >= 10) break;
      if (child.exitCode !== null) throw new Error(`training child exited early (${child.exitCode}): ${stderr}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    expect(stdout, "the killed run staged batch t + 1 during step t").toContain("staged");
    expect(stepAtKill).toBeGreaterThanOrEqual(10);
    expect(loadCheckpoint(dir)!.position.step).toBeLessThan(40);

    const resumed = await trainSae({ config: CONFIG, store, dir, createStep: webgpu, quiet: true });
    expect(resumed.resumed).toBe(true);
    const straight = await trainSae({ config: CONFIG, store, dir: runDir("straight"), createStep: webgpu, quiet: true });
    for (const key of KEYS) expect(bytes(resumed.params[key]).equals(bytes(straight.params[key])), key).toBe(true);
    const [a, b] = [loadCheckpoint(dir)!.state, loadCheckpoint(straight.dir)!.state];
    for (const key of KEYS) expect(bytes(a.adam.v[key]).equals(bytes(b.adam.v[key])), `adam.v.${key}`).toBe(true);
    expect(Array.from(a.sinceFiredF)).toEqual(Array.from(b.sinceFiredF));
  });
});

/** A webgpu engine on the shared device whose input-slot events go to `events`. */
const recorded =
  (events: WebGpuStepEvent[]): CreateTrainStep =>
  (c, init) =>
    WebGpuTrainStep.create(c, init, { context: gpuContext!, onEvent: (e) => events.push(e) });

/** The engine `inner` makes, seen only through step/state/close (no stage: every batch uploads at its own step). */
const unstaged =
  (inner: CreateTrainStep, stepped?: Float32Array[]): CreateTrainStep =>
  async (c, init) => {
    const e = await inner(c, init);
    return {
      engine: e.engine,
      threads: e.threads,
      step: (x) => {
        stepped?.push(x);
        return e.step(x);
      },
      state: () => e.state(),
      close: () => e.close(),
    };
  };

/** One uninterrupted webgpu run of CONFIG (shared by the tests that compare against it). */
let straightRun: Promise<SaeParams> | undefined;
const straight = (): Promise<SaeParams> =>
  (straightRun ??= trainSae({ config: CONFIG, store, dir: runDir("straight-streamed"), createStep: webgpu, quiet: true }).then((r) => r.params));

const expectSameBits = (a: SaeParams, b: SaeParams, where: string): void => {
  for (const key of KEYS) expect(bytes(a[key]).equals(bytes(b[key])), `${where} ${key}`).toBe(true);
};

describe.skipIf(noAdapter !== undefined)("webgpu training streams its batches", { timeout: GPU_TEST_TIMEOUT_MS }, () => {
  it("uploads batch t + 1 while step t runs, nothing after the last step, with the bits of an unstreamed run", async () => {
    const events: WebGpuStepEvent[] = [];
    const res = await trainSae({ config: CONFIG, store, dir: runDir("streamed"), createStep: recorded(events), quiet: true });
    const uploads = events.filter((e) => e.kind === "upload");
    expect(uploads).toHaveLength(CONFIG.steps!);
    // The first batch uploads before any step runs; each later one while the step before it runs.
    expect(uploads.map((e) => e.whileStepRuns)).toEqual([false, ...Array<boolean>(CONFIG.steps! - 1).fill(true)]);
    const submits = events.filter((e) => e.kind === "submit").map((e) => e.slot);
    expect(submits).toEqual(Array.from({ length: CONFIG.steps! }, (_, s) => s % 2));
    // Every upload but the first sits between the previous step's submit and its completion; the run ends on a completion.
    for (const [i, e] of events.entries()) {
      if (e.kind === "upload" && e.whileStepRuns) expect(events.slice(0, i).findLast((p) => p.kind !== "upload")?.kind, `event ${i}`).toBe("submit");
    }
    expect(events.at(-1)!.kind).toBe("complete");

    const stepped: Float32Array[] = [];
    const plain = await trainSae({ config: CONFIG, store, dir: runDir("unstaged"), createStep: unstaged(webgpu, stepped), quiet: true });
    expectSameBits(res.params, plain.params, "streamed vs unstaged");
    expectSameBits(res.params, await straight(), "streamed vs the straight run");
    // Each step trained on its own batch of the seeded order.
    const batcher = new SubsetBatcher(store, Int32Array.from({ length: store.count }, (_, i) => i), CONFIG.batch!, CONFIG.seed!);
    expect(stepped).toHaveLength(CONFIG.steps!);
    for (const [s, x] of stepped.entries()) {
      const { epoch, batch } = batcher.positionOf(s);
      expect(bytes(x).equals(bytes(batcher.batchAt(epoch, batch).embBD)), `batch of step ${s}`).toBe(true);
    }
  });

  it("a run resumed from a checkpoint starts on input slot 0 and ends with the uninterrupted run's bits", async () => {
    const dir = runDir("resumed-streamed");
    await trainSae({ config: { ...CONFIG, steps: 20 }, store, dir, createStep: webgpu, quiet: true });
    const events: WebGpuStepEvent[] = [];
    const res = await trainSae({ config: CONFIG, store, dir, createStep: recorded(events), quiet: true });
    expect(res.resumed).toBe(true);
    expect(events.slice(0, 3).map((e) => `${e.kind} ${e.slot} ${e.whileStepRuns}`)).toEqual(["upload 0 false", "submit 0 false", "upload 1 true"]);
    expect(events.filter((e) => e.kind === "submit")).toHaveLength(20);
    expectSameBits(res.params, await straight(), "resumed vs straight");
  });
});

/** Every file under `root` (relative path → bytes). */
function snapshot(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const rel of readdirSync(root, { recursive: true, encoding: "utf8" }).sort()) {
    const path = join(root, rel);
    if (statSync(path).isFile()) out.set(rel, readFileSync(path));
  }
  return out;
}

/**
 * A webgpu engine on its own device `ctx` that destroys that device at the `atStep`-th step call (after the step is
 * submitted, so the loss hits it on the device) or at the `atState`-th state read (a checkpoint being read back),
 * calling `before()` first.
 */
function losingDevice(ctx: WebGpuContext, at: { atStep?: number; atState?: number }, before: () => void): CreateTrainStep {
  return async (c, init) => {
    const inner = await WebGpuTrainStep.create(c, init, { context: ctx });
    let steps = 0;
    let states = 0;
    const lose = (): void => {
      before();
      ctx.device.destroy();
    };
    const engine: TrainStep = {
      engine: inner.engine,
      threads: inner.threads,
      step: (x) => {
        const running = inner.step(x);
        if (++steps === at.atStep) lose();
        return running;
      },
      stage: (x) => inner.stage(x),
      state: () => {
        if (++states === at.atState) lose();
        return inner.state();
      },
      close: () => inner.close(),
    };
    return engine;
  };
}

/** Train CONFIG in `dir` on `createStep`, expecting the lost-device error; returns it. */
async function trainExpectingLoss(dir: string, createStep: CreateTrainStep): Promise<SaerchError> {
  const err = await trainSae({ config: CONFIG, store, dir, createStep, quiet: true }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SaerchError);
  return err as SaerchError;
}

describe.skipIf(noAdapter !== undefined)("a webgpu device lost mid-run", { timeout: GPU_TEST_TIMEOUT_MS }, () => {
  it("during a step: a clear error and fix, the last checkpoint untouched, a rerun on a fresh device resumes bit-identically", async () => {
    const dir = runDir("lost-step");
    const ctx = await openWebGpuDevice();
    let before: Map<string, Buffer> | undefined;
    // Checkpoints every 10 steps: at the 25th step call the newest is step 20.
    const err = await trainExpectingLoss(dir, losingDevice(ctx, { atStep: 25 }, () => (before = snapshot(join(dir, CHECKPOINTS_DIR)))));
    expect(err.message).toMatch(/SAE training stopped after 24 of 40 steps: the GPU device of the webgpu \(.+\) engine was lost \(destroyed/);
    expect(err.message).toMatch(/the last checkpoint \(step 20, in .+\) is intact/);
    expect(err.fix).toMatch(/rerun the same training: it resumes from the checkpoint at step 20 on a fresh device/);
    expect(before!.size).toBeGreaterThan(0);
    expect(snapshot(join(dir, CHECKPOINTS_DIR))).toEqual(before);
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([20]);
    expect(loadCheckpoint(dir)!.position.step).toBe(20);
    expect(existsSync(join(dir, WEIGHTS_FILE))).toBe(false);

    const resumed = await trainSae({ config: CONFIG, store, dir, createStep: webgpu, quiet: true });
    expect(resumed.resumed).toBe(true);
    expectSameBits(resumed.params, await straight(), "resumed after the loss vs straight");
  });

  it("while a checkpoint is read back: nothing is written from the lost device, and the naive engine resumes the previous one", async () => {
    const dir = runDir("lost-checkpoint");
    const ctx = await openWebGpuDevice();
    let before: Map<string, Buffer> | undefined;
    // The third state read is the checkpoint of step 30; step 20's is the newest on disk.
    const err = await trainExpectingLoss(dir, losingDevice(ctx, { atState: 3 }, () => (before = snapshot(join(dir, CHECKPOINTS_DIR)))));
    expect(err.message).toMatch(/stopped after 30 of 40 steps: the GPU device .* was lost \(destroyed/);
    expect(err.message).toMatch(/the last checkpoint \(step 20, in .+\) is intact/);
    expect(err.fix).toMatch(/resumes from the checkpoint at step 20/);
    expect(snapshot(join(dir, CHECKPOINTS_DIR))).toEqual(before);
    expect(readdirSync(join(dir, CHECKPOINTS_DIR))).toEqual(["step-000000020"]);

    const resumed = await trainSae({ config: CONFIG, store, dir, createStep: naive, quiet: true });
    expect(resumed.resumed).toBe(true);
    const ref = await trainSae({ config: CONFIG, store, dir: runDir("naive-ref"), createStep: naive, quiet: true });
    for (const key of KEYS) expect(tensorRelErr(resumed.params[key], ref.params[key]), key).toBeLessThan(1e-4);
  });
});
