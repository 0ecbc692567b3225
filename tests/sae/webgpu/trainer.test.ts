/**
 * The webgpu engine under the trainer (src/sae/trainer.ts) on a 300-row synthetic store (d = 16, n = 48,
 * k = 4): checkpoints interchangeable with the onnx engine in both directions (train on one, resume on the
 * other, end equal to the naive reference run to 1e-4), and a kill -9 of a webgpu training process resumed
 * bit-identically to an uninterrupted webgpu run.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tensorRelErr } from "../../helpers/compare.js";
import type { EmbeddingStore } from "../../../src/embed/store-reader.js";
import { repoPath } from "../../../src/io/paths.js";
import { listCheckpoints, loadCheckpoint } from "../../../src/sae/checkpoint.js";
import type { SaeConfigInput } from "../../../src/sae/config.js";
import { NaiveTrainStep } from "../../../src/sae/naive.js";
import { OnnxTrainStep } from "../../../src/sae/onnx-step.js";
import type { SaeParams } from "../../../src/sae/params.js";
import { type CreateTrainStep, trainSae } from "../../../src/sae/trainer.js";
import { WebGpuTrainStep } from "../../../src/sae/webgpu/step.js";
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
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
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
