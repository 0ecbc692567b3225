/**
 * Tests for src/sae/trainer.ts with the naive reference engine on a 300-row synthetic store (d = 16, n = 48,
 * k = 4): the batch order, metrics and checkpoints of a run, resuming after kill -9 (a real child process
 * running dist/) bit-identical to an uninterrupted run, a finished run doing nothing, NaN stops, the
 * errors for a checkpoint of another dimension, config, data or thread count, and a second trainer on a run
 * directory in use refused.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { rowNorms } from "../../src/core/vector.js";
import type { EmbeddingStore } from "../../src/embed/store-reader.js";
import { readJsonlLog } from "../../src/io/jsonl.js";
import { repoPath } from "../../src/io/paths.js";
import { readRunLock, RunInUseError } from "../../src/io/run-lock.js";
import { listCheckpoints, loadCheckpoint, loadSaeWeights } from "../../src/sae/checkpoint.js";
import { resolveSaeConfig, type ResolvedSaeConfig, type SaeConfigInput } from "../../src/sae/config.js";
import { NaiveTrainStep } from "../../src/sae/naive.js";
import type { SaeParams } from "../../src/sae/params.js";
import type { TrainState, TrainStep } from "../../src/sae/train-step.js";
import { type CreateTrainStep, METRICS_FILE, SubsetBatcher, type TrainMetrics, trainSae } from "../../src/sae/trainer.js";
import { writeSyntheticStore } from "../fixtures/sae/synthetic-store.js";

const D = 16;
const CONFIG: SaeConfigInput = {
  d: D,
  n: 48,
  k: 4,
  batch: 32,
  steps: 60,
  lr: 3e-3,
  deadWindow: 64,
  checkpointEvery: 10,
  logEvery: 5,
  initSampleRows: 100,
  seed: 3,
};
/** Training subset: every row but each 10th (270 of 300 rows → 8 batches of 32 per epoch, 14 rows dropped). */
const ROWS = Int32Array.from({ length: 300 }, (_, i) => i).filter((i) => i % 10 !== 9);

const naive: CreateTrainStep = async (config, init) => new NaiveTrainStep(config, init);

let tmp: string;
let store: EmbeddingStore;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "saerch-trainer-"));
  store = writeSyntheticStore(join(tmp, "store"));
});
afterAll(() => {
  store.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** A fresh run directory. */
let runs = 0;
const runDir = (label: string): string => join(tmp, `run-${label}-${runs++}`);

const bytes = (a: Float32Array | Float64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Expect two training states to be equal bit for bit. */
function expectSameState(a: TrainState, b: TrainState): void {
  for (const key of ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const) {
    expect(bytes(a.params[key]).equals(bytes(b.params[key])), `params.${key}`).toBe(true);
    expect(bytes(a.adam.m[key]).equals(bytes(b.adam.m[key])), `adam.m.${key}`).toBe(true);
    expect(bytes(a.adam.v[key]).equals(bytes(b.adam.v[key])), `adam.v.${key}`).toBe(true);
  }
  expect(a.adam.t).toBe(b.adam.t);
  expect(Array.from(a.sinceFiredF)).toEqual(Array.from(b.sinceFiredF));
}

const sameParams = (a: SaeParams, b: SaeParams): boolean =>
  (["wEncFD", "bLatF", "wDecFD", "bPreD"] as const).every((key) => bytes(a[key]).equals(bytes(b[key])));

/** The numbers of a metrics line that do not depend on wall time. */
const mathOf = (m: TrainMetrics): unknown => ({ ...m, stepsPerSecond: 0, elapsed: 0 });

/** Wrap an engine factory: count creations, and let `onStep` alter the stats of step s (1-based). */
function instrumented(onStep?: (s: number, stats: Awaited<ReturnType<TrainStep["step"]>>) => void): {
  create: CreateTrainStep;
  created: number;
} {
  const out = {
    created: 0,
    create: async (config: ResolvedSaeConfig, init: TrainState): Promise<TrainStep> => {
      out.created++;
      const inner = new NaiveTrainStep(config, init);
      let s = init.adam.t;
      return {
        engine: "naive (instrumented)",
        async step(x: Float32Array) {
          const stats = await inner.step(x);
          s++;
          onStep?.(s, stats);
          return stats;
        },
        state: () => inner.state(),
        close: () => inner.close(),
      };
    },
  };
  return out;
}

/** The uninterrupted reference run (trained once, shared by several tests). */
let reference: { dir: string; result: Awaited<ReturnType<typeof trainSae>>; logs: TrainMetrics[] } | undefined;
async function referenceRun(): Promise<NonNullable<typeof reference>> {
  if (!reference) {
    const dir = runDir("reference");
    const logs: TrainMetrics[] = [];
    const result = await trainSae({ config: CONFIG, store, rows: ROWS, dir, createStep: naive, onLog: (m) => logs.push(m), quiet: true });
    reference = { dir, result, logs };
  }
  return reference;
}

describe("SubsetBatcher", () => {
  it("shuffles the subset per epoch with fork('epoch:e') and cuts full batches; the whole store matches store.batchAt", () => {
    const b = new SubsetBatcher(store, ROWS, 32, 5);
    expect(b.perEpoch).toBe(8);
    expect(b.positionOf(0)).toEqual({ epoch: 0, batch: 0 });
    expect(b.positionOf(17)).toEqual({ epoch: 2, batch: 1 });
    const permM = new Rng(5).fork("epoch:2").permutation(ROWS.length);
    const got = b.batchAt(2, 1);
    const want = Int32Array.from(permM.subarray(32, 64), (p) => ROWS[p]!);
    expect(Array.from(got.indices)).toEqual(Array.from(want));
    expect(got.embBD).toEqual(store.gather(want));
    // one epoch covers 256 distinct subset rows
    const seen = new Set<number>();
    for (let j = 0; j < b.perEpoch; j++) b.batchAt(0, j).indices.forEach((r) => seen.add(r));
    expect(seen.size).toBe(256);
    for (const r of seen) expect(r % 10).not.toBe(9);

    const all = new SubsetBatcher(store, Int32Array.from({ length: store.count }, (_, i) => i), 64, 9);
    const ref = store.batchAt({ batchSize: 64, seed: 9, dropLast: true }, 1, 3);
    expect(Array.from(all.batchAt(1, 3).indices)).toEqual(Array.from(ref.indices));
  });

  it("refuses a batch larger than the subset", () => {
    expect(() => new SubsetBatcher(store, ROWS.subarray(0, 10), 32, 0)).toThrow(/batch 32 is larger than the 10 training rows/);
  });
});

describe("trainSae", () => {
  it("trains: metrics every logEvery steps, the newest checkpoint only, final weights, loss going down", async () => {
    const { dir, result, logs } = await referenceRun();
    expect(result).toMatchObject({ steps: 60, dir, resumed: false });
    expect(result.config).toEqual(resolveSaeConfig(CONFIG, ROWS.length));
    const lines = readJsonlLog<TrainMetrics>(join(dir, METRICS_FILE));
    expect(lines.map((m) => m.step)).toEqual([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]);
    expect(lines).toEqual(logs);
    expect(result.stats).toEqual(lines.at(-1));
    const last = lines.at(-1)!;
    expect(last).toMatchObject({ step: 60, epoch: 7, examples: 60 * 32 });
    expect(last.nmse).toBeLessThan(lines[0]!.nmse * 0.7);
    for (const m of lines) {
      expect(m.loss).toBeCloseTo(m.nmse + m.auxk / 32, 10);
      expect(m.stepsPerSecond).toBeGreaterThan(0);
      expect(m.deadFraction).toBeGreaterThanOrEqual(0);
    }
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([60]);
    const ckpt = loadCheckpoint(dir)!;
    expect(ckpt.position).toMatchObject({ step: 60, epoch: 7, batch: 4, examples: 1920 });
    expect(sameParams(ckpt.state.params, result.params)).toBe(true);
    expect(ckpt.state.adam.t).toBe(60);
    const weights = loadSaeWeights(result.weightsPath);
    expect(sameParams(weights.params, result.params)).toBe(true);
    expect(weights.k).toBe(4);
    for (const norm of rowNorms(result.params.wDecFD, 48, D)) expect(norm).toBeCloseTo(1, 5);
  });

  it("is the naive engine stepped by hand over the specified batches", async () => {
    const { result } = await referenceRun();
    const config = resolveSaeConfig({ ...CONFIG, steps: 60 }, ROWS.length);
    const sample = new Rng(config.seed).fork("init-sample").sample(ROWS.length, 100);
    const { initSaeParams, zeroAdamState } = await import("../../src/sae/params.js");
    const init = initSaeParams(D, 48, store.gather(Int32Array.from(sample, (p) => ROWS[p]!)), config.seed);
    const step = new NaiveTrainStep(config, { params: init, adam: zeroAdamState(D, 48), sinceFiredF: new Float64Array(48) });
    const batcher = new SubsetBatcher(store, ROWS, 32, config.seed);
    for (let s = 0; s < 60; s++) {
      const { epoch, batch } = batcher.positionOf(s);
      await step.step(batcher.batchAt(epoch, batch).embBD);
    }
    expect(sameParams((await step.state()).params, result.params)).toBe(true);
  });

  it("rerunning a finished run does nothing and returns the final weights", async () => {
    const { dir, result } = await referenceRun();
    const metricsBefore = readFileSync(join(dir, METRICS_FILE));
    const listing = readdirSync(join(dir, "checkpoints"));
    const probe = instrumented();
    const again = await trainSae({ config: CONFIG, store, rows: ROWS, dir, createStep: probe.create, quiet: true });
    expect(probe.created).toBe(0);
    expect(again.resumed).toBe(true);
    expect(again.steps).toBe(60);
    expect(sameParams(again.params, result.params)).toBe(true);
    expect(again.stats).toEqual(result.stats);
    expect(readFileSync(join(dir, METRICS_FILE)).equals(metricsBefore)).toBe(true);
    expect(readdirSync(join(dir, "checkpoints"))).toEqual(listing);
  });

  it("resumes after kill -9 bit-identically to an uninterrupted run, with no duplicate metric lines", async () => {
    const DIST = repoPath("dist");
    for (const p of ["sae/trainer", "sae/naive", "sae/checkpoint", "embed/store-reader"]) {
      const js = join(DIST, `${p}.js`);
      if (!existsSync(js)) throw new Error(`${js} is missing: run \`npm run build\` before this test`);
    }
    const dir = runDir("killed");
    const child = spawn(
      process.execPath,
      [repoPath("tests", "fixtures", "sae", "train-child.mjs"), DIST, store.dir, dir, JSON.stringify(CONFIG), JSON.stringify(Array.from(ROWS)), "40"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on("exit", (_code, signal) => res(signal)));
    const deadline = Date.now() + 20_000;
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
    const atKill = loadCheckpoint(dir)!;
    expect(atKill.position.step).toBeLessThan(60);

    const logs: TrainMetrics[] = [];
    const resumed = await trainSae({ config: CONFIG, store, rows: ROWS, dir, createStep: naive, onLog: (m) => logs.push(m), quiet: true });
    expect(resumed.resumed).toBe(true);
    expect(logs[0]!.step).toBe(atKill.position.step + 5);
    const ref = await referenceRun();
    expectSameState(loadCheckpoint(dir)!.state, loadCheckpoint(ref.dir)!.state);
    expect(sameParams(resumed.params, ref.result.params)).toBe(true);
    const lines = readJsonlLog<TrainMetrics>(join(dir, METRICS_FILE));
    expect(lines.map((m) => m.step)).toEqual([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]);
    expect(lines.map(mathOf)).toEqual(ref.logs.map(mathOf));
    expect(readdirSync(join(dir, "checkpoints"))).toEqual(["step-000000060"]);
  });

  it("a crash between checkpoints loses only the steps since the last one; metric lines past it are dropped", async () => {
    const dir = runDir("crash");
    const boom = instrumented((s) => {
      if (s === 27) throw new Error("simulated crash");
    });
    await expect(trainSae({ config: CONFIG, store, rows: ROWS, dir, createStep: boom.create, quiet: true })).rejects.toThrow(/simulated crash/);
    expect(readJsonlLog<TrainMetrics>(join(dir, METRICS_FILE)).map((m) => m.step)).toEqual([5, 10, 15, 20, 25]);
    expect(loadCheckpoint(dir)!.position.step).toBe(20);
    const probe = instrumented();
    const res = await trainSae({ config: CONFIG, store, rows: ROWS, dir, createStep: probe.create, quiet: true });
    expect(probe.created).toBe(1);
    expect(sameParams(res.params, (await referenceRun()).result.params)).toBe(true);
    expect(readJsonlLog<TrainMetrics>(join(dir, METRICS_FILE)).map((m) => m.step)).toEqual([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]);
  });

  it("stops on a NaN loss naming the step, keeping the last good checkpoint", async () => {
    const dir = runDir("nan");
    const bad = instrumented((s, stats) => {
      if (s === 17) stats.loss = Number.NaN;
    });
    const err = await trainSae({ config: CONFIG, store, rows: ROWS, dir, createStep: bad.create, quiet: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SaerchError);
    expect((err as Error).message).toMatch(/diverged at step 17 .*loss NaN.*last good checkpoint \(step 10\)/s);
    expect((err as SaerchError).fix).toMatch(/lower lr/);
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([10]);
    expect(readJsonlLog<TrainMetrics>(join(dir, METRICS_FILE)).map((m) => m.step)).toEqual([5, 10, 15]);
    // Infinity in the gradient norm stops too
    const dir2 = runDir("inf");
    const inf = instrumented((s, stats) => {
      if (s === 3) stats.gradNorm = Number.POSITIVE_INFINITY;
    });
    await expect(trainSae({ config: CONFIG, store, rows: ROWS, dir: dir2, createStep: inf.create, quiet: true })).rejects.toThrow(
      /diverged at step 3 .*gradNorm Infinity; no checkpoint was written/s,
    );
    expect(listCheckpoints(dir2)).toEqual([]);
  });

  it("refuses a checkpoint of another dimension, config or training data", async () => {
    const dir = runDir("mismatch");
    await trainSae({ config: { ...CONFIG, steps: 10 }, store, rows: ROWS, dir, createStep: naive, quiet: true });
    const small = writeSyntheticStore(join(tmp, "store-d8"), { dim: 8, rows: 100 });
    try {
      const err = await trainSae({ config: { ...CONFIG, d: 8 }, store: small, dir, createStep: naive, quiet: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SaerchError);
      expect((err as Error).message).toContain(`the checkpoint ${join(dir, "checkpoints", "step-000000010")} is for d = 16 embeddings`);
      expect((err as Error).message).toContain("has d = 8");
      expect((err as SaerchError).fix).toMatch(/another run directory, or delete/);
    } finally {
      small.close();
    }
    await expect(trainSae({ config: { ...CONFIG, d: 8 }, store, rows: ROWS, dir, createStep: naive, quiet: true })).rejects.toThrow(
      /config.d is 8 but the store .* has d = 16/,
    );
    await expect(trainSae({ config: { ...CONFIG, lr: 1e-4 }, store, rows: ROWS, dir, createStep: naive, quiet: true })).rejects.toThrow(
      /another config \(checkpoint vs now: lr: 0.003 vs 0.0001\)/,
    );
    await expect(trainSae({ config: CONFIG, store, rows: ROWS.subarray(1), dir, createStep: naive, quiet: true })).rejects.toThrow(
      /other data \(checkpoint vs now: rows: 270 vs 269; rowsDigest/,
    );
    await expect(trainSae({ config: { ...CONFIG, steps: 5 }, store, rows: ROWS, dir, createStep: naive, quiet: true })).rejects.toThrow(
      /at step 10, past the configured 5 steps/,
    );
    // more steps continues the same run (steps and logging fields are not part of the config hash)
    const longer = await trainSae({ config: { ...CONFIG, steps: 15, logEvery: 3 }, store, rows: ROWS, dir, createStep: naive, quiet: true });
    expect(longer).toMatchObject({ resumed: true, steps: 15 });
  });

  it("a second trainer on a run directory in use gets 'in use by process N', and the first's metrics stay whole", async () => {
    const DIST = repoPath("dist");
    if (!existsSync(join(DIST, "io", "run-lock.js"))) throw new Error("dist/ is stale: run `npm run build` before this test");
    const dir = runDir("two-trainers");
    const child = spawn(
      process.execPath,
      [repoPath("tests", "fixtures", "sae", "train-child.mjs"), DIST, store.dir, dir, JSON.stringify(CONFIG), JSON.stringify(Array.from(ROWS)), "20"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    const deadline = Date.now() + 20_000;
    while (readRunLock(dir)?.pid !== child.pid) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`training child never locked ${dir} (${child.exitCode}): ${stderr}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const err = await trainSae({ config: CONFIG, store, rows: ROWS, dir, createStep: naive, quiet: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunInUseError);
    expect((err as Error).message).toContain(`is in use by process ${child.pid} on `);
    expect((err as Error).message).toContain("SAE training");
    expect(await exited).toBe(0);
    expect(readJsonlLog<TrainMetrics>(join(dir, METRICS_FILE)).map((m) => m.step)).toEqual([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]);
    expect(readRunLock(dir)).toBeUndefined();
    const again = await trainSae({ config: CONFIG, store, rows: ROWS, dir, createStep: naive, quiet: true });
    expect(again.resumed).toBe(true);
  });

  it("records the engine's thread count in checkpoints; a resume on another count is refused, threads: 0 takes the recorded one", async () => {
    /** The naive engine, reporting the thread count it was configured with (`perCore` for threads: 0). */
    const threaded = (perCore: number, seen: number[] = [], cores = Infinity): CreateTrainStep => async (config, init) => {
      const inner = new NaiveTrainStep(config, init);
      const threads = Math.min(config.threads || perCore, cores); // as the onnx engine: no more kernel threads than cores
      seen.push(threads);
      return { engine: `naive (${threads} threads)`, threads, step: (x) => inner.step(x), state: () => inner.state(), close: () => inner.close() };
    };
    const dir = runDir("threads");
    await trainSae({ config: { ...CONFIG, steps: 10, threads: 1 }, store, rows: ROWS, dir, createStep: threaded(4), quiet: true });
    expect(loadCheckpoint(dir)!.threads).toBe(1);
    const err = await trainSae({ config: { ...CONFIG, steps: 20, threads: 2 }, store, rows: ROWS, dir, createStep: threaded(4), quiet: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SaerchError);
    expect((err as Error).message).toMatch(/was trained on 1 thread\(s\) but this engine \(naive \(2 threads\)\) runs on 2/);
    expect((err as SaerchError).fix).toContain("set threads: 1 in the SAE config");
    // "one per core" on a machine with another core count: the checkpoint's count is used
    const seen: number[] = [];
    const resumed = await trainSae({ config: { ...CONFIG, steps: 20, threads: 0 }, store, rows: ROWS, dir, createStep: threaded(4, seen), quiet: true });
    expect(seen).toEqual([1]);
    expect(loadCheckpoint(dir)!.threads).toBe(1);
    const straight = await trainSae({ config: { ...CONFIG, steps: 20, threads: 1 }, store, rows: ROWS, dir: runDir("threads-straight"), createStep: threaded(4), quiet: true });
    expect(sameParams(resumed.params, straight.params)).toBe(true);
    // threads: 0 on a machine with fewer cores than the checkpoint used: refused, the fix names the cores needed
    const many = availableParallelism() + 1;
    const wide = runDir("threads-wide");
    await trainSae({ config: { ...CONFIG, steps: 10, threads: many }, store, rows: ROWS, dir: wide, createStep: threaded(4), quiet: true });
    const fewer = await trainSae({ config: { ...CONFIG, steps: 20, threads: 0 }, store, rows: ROWS, dir: wide, createStep: threaded(4, [], availableParallelism()), quiet: true }).catch((e: unknown) => e);
    expect((fewer as Error).message).toMatch(new RegExp(`trained on ${many} thread\\(s\\) but this engine .* runs on ${availableParallelism()}`));
    expect((fewer as SaerchError).fix).toContain(`resume on a machine with at least ${many} cores`);
    // an engine whose results do not depend on a thread count records none
    const plain = runDir("threads-none");
    await trainSae({ config: { ...CONFIG, steps: 10 }, store, rows: ROWS, dir: plain, createStep: naive, quiet: true });
    expect(loadCheckpoint(plain)!.threads).toBeUndefined();
  });

  it("rejects rows outside the store", async () => {
    await expect(
      trainSae({ config: CONFIG, store, rows: Int32Array.of(0, 1, 300), dir: runDir("rows"), createStep: naive, quiet: true }),
    ).rejects.toThrow(/training row 300 \(position 2\) is out of bounds/);
  });
});
