/**
 * Tests for src/sae/tfjs-step.ts (the autograd step) and src/sae/tfjs-backend.ts: the tfjs engine against the
 * plain-JS spec (src/sae/naive.ts) on loss, nmse, auxk, gradNorm, every parameter, both Adam moments and the dead
 * counters — awkward sizes, k = 1, dead latents (from a short window and pre-set counters, fewer dead than kAux),
 * kAux = 0, a batch size that changes, exactly tied pre-activations, real embeddings — on wasm and the pure-JS
 * cpu backend; then resident memory, state copies and input errors.
 */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { normalizeRowsInPlace } from "../../src/core/vector.js";
import { readNpyRows } from "../../src/io/npy.js";
import { sharedPath } from "../../src/io/paths.js";
import { resolveSaeConfig, type ResolvedSaeConfig, type SaeConfigInput } from "../../src/sae/config.js";
import { NaiveTrainStep } from "../../src/sae/naive.js";
import { cloneAdamState, cloneParams, initSaeParams, type SaeParams, zeroAdamState } from "../../src/sae/params.js";
import { loadTfjs } from "../../src/sae/tfjs-backend.js";
import { TfjsTrainStep } from "../../src/sae/tfjs-step.js";
import type { StepStats, TrainState } from "../../src/sae/train-step.js";

/** Relative tolerance between the float32 tfjs step and the float64-intermediate reference (observed ~1e-6). */
const REL_TOL = 1e-4;
const PARAM_NAMES = ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const;
const BACKENDS = ["wasm", "cpu"] as const;

/** A config for tests: steps and trainRows only matter for defaults these tests override. */
function config(input: Omit<SaeConfigInput, "steps">): ResolvedSaeConfig {
  return resolveSaeConfig({ steps: 100, ...input }, 1000);
}

/**
 * A resumed-looking state: untied random encoder, small latent biases, non-zero Adam moments at t = 3, and
 * the given dead counters. The learning rate in the tests is large (1e-2) so parameters move visibly.
 */
function someState(d: number, n: number, seed: number, sinceFiredF = new Float64Array(n)): TrainState {
  const rng = new Rng(seed);
  const sampleRD = new Float32Array(16 * d);
  rng.fillNormalInPlace(sampleRD);
  const params = initSaeParams(d, n, sampleRD, seed);
  rng.fillNormalInPlace(params.wEncFD, 0, 1 / Math.sqrt(d));
  rng.fillNormalInPlace(params.bLatF, 0, 0.1);
  const adam = zeroAdamState(d, n);
  adam.t = 3;
  for (const name of PARAM_NAMES) {
    rng.fillNormalInPlace(adam.m[name], 0, 0.01);
    adam.v[name].set(adam.m[name].map((x) => x * x + 1e-6));
  }
  return { params, adam, sinceFiredF };
}

function randomBatches(d: number, sizes: number[], seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return sizes.map((b) => rng.fillNormalInPlace(new Float32Array(b * d)));
}

/** max |got − want| ≤ tol · max |want| (arrays), or |got − want| ≤ tol · max(|want|, 1e-12) (scalars). */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = REL_TOL): void {
  expect(got.length, what).toBe(want.length);
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  expect(maxDiff, `${what}: max diff ${maxDiff} vs scale ${scale}`).toBeLessThanOrEqual(tol * Math.max(scale, 1e-12));
}

function expectSameStats(got: StepStats[], want: StepStats[]): void {
  expect(got.length).toBe(want.length);
  want.forEach((w, s) => {
    const g = got[s]!;
    for (const key of ["loss", "nmse", "auxk", "gradNorm"] as const) expectClose([g[key]], [w[key]], `step ${s} ${key}`);
    expect(g.deadFraction, `step ${s} deadFraction`).toBe(w.deadFraction);
  });
}

function expectSameState(got: TrainState, want: TrainState): void {
  expect(got.adam.t).toBe(want.adam.t);
  for (const name of PARAM_NAMES) {
    expectClose(got.params[name], want.params[name], `params.${name}`);
    expectClose(got.adam.m[name], want.adam.m[name], `adam.m.${name}`);
    expectClose(got.adam.v[name], want.adam.v[name], `adam.v.${name}`);
  }
  expect(Array.from(got.sinceFiredF)).toEqual(Array.from(want.sinceFiredF));
}

/** Run the same batches through the naive reference and the tfjs engine from the same initial state. */
async function runBoth(
  cfg: ResolvedSaeConfig,
  init: TrainState,
  batches: Float32Array[],
  backend: (typeof BACKENDS)[number],
): Promise<{ naive: StepStats[]; tfjs: StepStats[]; naiveState: TrainState; tfjsState: TrainState }> {
  const ref = new NaiveTrainStep(cfg, init);
  const eng = await TfjsTrainStep.create(cfg, init, { backend });
  const naive: StepStats[] = [];
  const tfjs: StepStats[] = [];
  for (const x of batches) {
    naive.push(await ref.step(x));
    tfjs.push(await eng.step(x));
  }
  const out = { naive, tfjs, naiveState: await ref.state(), tfjsState: await eng.state() };
  await eng.close();
  return out;
}

describe.each(BACKENDS)("tfjs step (%s) matches the naive reference", (backend) => {
  it("awkward sizes (d 7, n 13, k 3, kAux 5, B 6) over 6 steps, latents dying on a 12-example window", async () => {
    const cfg = config({ d: 7, n: 13, k: 3, kAux: 5, batch: 6, deadWindow: 12, lr: 1e-2 });
    const init = someState(7, 13, 1);
    const r = await runBoth(cfg, init, randomBatches(7, [6, 6, 6, 6, 6, 6], 2), backend);
    expectSameStats(r.tfjs, r.naive);
    expectSameState(r.tfjsState, r.naiveState);
    // The case must exercise AuxK: some step with dead latents and a non-zero aux term.
    expect(r.naive.some((s) => s.deadFraction > 0 && s.auxk > 0)).toBe(true);
  });

  it("k = 1, kAux = 2", async () => {
    const cfg = config({ d: 7, n: 13, k: 1, kAux: 2, batch: 6, deadWindow: 6, lr: 1e-2 });
    const r = await runBoth(cfg, someState(7, 13, 3), randomBatches(7, [6, 6, 6, 6], 4), backend);
    expectSameStats(r.tfjs, r.naive);
    expectSameState(r.tfjsState, r.naiveState);
    expect(r.naive.some((s) => s.auxk > 0)).toBe(true);
  });

  it("pre-set dead counters with fewer dead latents (2) than kAux (5), and a batch size that changes", async () => {
    const sinceFiredF = new Float64Array(13);
    sinceFiredF[4] = 1e6;
    sinceFiredF[11] = 1e6;
    const cfg = config({ d: 7, n: 13, k: 3, kAux: 5, batch: 6, deadWindow: 1000, lr: 1e-2 });
    const r = await runBoth(cfg, someState(7, 13, 5, sinceFiredF), randomBatches(7, [6, 5, 9, 2], 6), backend);
    expectSameStats(r.tfjs, r.naive);
    expectSameState(r.tfjsState, r.naiveState);
    expect(r.naive[0]!.deadFraction).toBeCloseTo(2 / 13, 12);
  });

  it("kAux = 0: dead latents but no AuxK term", async () => {
    const sinceFiredF = new Float64Array(13).fill(1e6);
    const cfg = config({ d: 7, n: 13, k: 3, kAux: 0, batch: 6, deadWindow: 1000, lr: 1e-2 });
    const r = await runBoth(cfg, someState(7, 13, 7, sinceFiredF), randomBatches(7, [6, 6, 6], 8), backend);
    expectSameStats(r.tfjs, r.naive);
    expectSameState(r.tfjsState, r.naiveState);
    expect(r.tfjs.map((s) => s.auxk)).toEqual([0, 0, 0]);
    expect(r.tfjs[0]!.deadFraction).toBe(1);
  });

  it("exact ties in h go to the lower latent index, in the main and the AuxK selection", async () => {
    // Integer inputs, bPre = 0, bLat = 0 and 0/1 encoder rows make every h an exact small integer.
    // Encoder rows (n = 8): e0 e1 e0 e1 e2 e2 e3 e0; dead counters [0,0,0,3,0,0,0,7] with window 3 → 3, 7 dead.
    //   x0 = [1, 1, 0, 0] → h = [1, 1, 1, 1, 0, 0, 0, 1]: top-3 = 0, 1, 2 (five-way tie at 1);
    //                        AuxK (kAux 1) over dead {3, 7}, both h = 1: picks 3.
    //   x1 = [0, 0, 1, 1] → h = [0, 0, 0, 0, 1, 1, 1, 0]: top-3 = 4, 5, 6; AuxK picks 3 (h = 0, z = 0).
    // Counters after the step (B = 2): 3 → 5, 7 → 9, all others 0. Picking 7 in AuxK would move wDec[7].
    const d = 4;
    const n = 8;
    const unit = [0, 1, 0, 1, 2, 2, 3, 0];
    const wEncFD = new Float32Array(n * d);
    unit.forEach((axis, j) => (wEncFD[j * d + axis] = 1));
    const wDecFD = new Rng(9).fillNormalInPlace(new Float32Array(n * d));
    normalizeRowsInPlace(wDecFD, n, d);
    const params: SaeParams = { d, n, wEncFD, bLatF: new Float32Array(n), wDecFD, bPreD: new Float32Array(d) };
    const sinceFiredF = Float64Array.from([0, 0, 0, 3, 0, 0, 0, 7]);
    const init: TrainState = { params, adam: zeroAdamState(d, n), sinceFiredF };
    const cfg = config({ d, n, k: 3, kAux: 1, batch: 2, deadWindow: 3, lr: 1e-2 });
    const x = Float32Array.from([1, 1, 0, 0, 0, 0, 1, 1]);
    const r = await runBoth(cfg, init, [x], backend);
    expect(Array.from(r.tfjsState.sinceFiredF)).toEqual([0, 0, 0, 5, 0, 0, 0, 9]);
    expect(r.tfjs[0]!.deadFraction).toBe(2 / 8);
    expect(r.tfjs[0]!.auxk).toBeGreaterThan(0);
    expectSameStats(r.tfjs, r.naive);
    expectSameState(r.tfjsState, r.naiveState);
  });
});

const EMBEDDINGS = sharedPath("embeddings", "use-lite-512", "embeddings.npy");

it.skipIf(!existsSync(EMBEDDINGS))("matches the naive reference on real embeddings (d 512, n 1024, k 32, B 128)", async () => {
  const [d, n, b] = [512, 1024, 128];
  const rows = readNpyRows(EMBEDDINGS, 0, 4 * b).data as Float32Array;
  const params = initSaeParams(d, n, rows.subarray(0, b * d), 0);
  // A third of the latents dead, so AuxK (kAux 64) runs at a realistic size.
  const sinceFiredF = Float64Array.from({ length: n }, (_, j) => (j % 3 === 0 ? 1e6 : 0));
  const init: TrainState = { params, adam: zeroAdamState(d, n), sinceFiredF };
  const cfg = config({ d, n, k: 32, kAux: 64, batch: b, deadWindow: 1e5, lr: 1e-3 });
  const batches = [1, 2, 3].map((i) => rows.slice(i * b * d, (i + 1) * b * d));
  const r = await runBoth(cfg, init, batches, "wasm");
  expectSameStats(r.tfjs, r.naive);
  expectSameState(r.tfjsState, r.naiveState);
  expect(r.naive[0]!.auxk).toBeGreaterThan(0);
});

describe("tfjs step engine", () => {
  const cfg = config({ d: 7, n: 13, k: 3, kAux: 5, batch: 6, deadWindow: 1000 });
  const deadHalf = Float64Array.from({ length: 13 }, (_, j) => (j % 2 ? 1e6 : 0));

  it("keeps the tensor count constant across steps (AuxK on) and frees its variables on close", async () => {
    const { tf } = await loadTfjs("wasm");
    const before = tf.memory().numTensors;
    // A one-batch window: latents left out of one step are dead (AuxK on) in the next.
    const shortWindow = { ...cfg, deadWindow: 6 };
    const eng = await TfjsTrainStep.create(shortWindow, someState(7, 13, 11, deadHalf), { backend: "wasm" });
    const [x0, x1, x2, x3] = randomBatches(7, [6, 6, 5, 6], 12);
    await eng.step(x0!);
    await eng.step(x1!);
    const warm = tf.memory().numTensors;
    expect(warm - before).toBe(12); // 4 parameters + 8 moments
    const later = [await eng.step(x2!), await eng.step(x3!)];
    expect(later.every((s) => s.auxk > 0)).toBe(true);
    await eng.state();
    expect(tf.memory().numTensors).toBe(warm);
    await eng.close();
    expect(tf.memory().numTensors).toBe(before);
    await expect(eng.step(x0!)).rejects.toThrow(/after close/);
  });

  it("copies its initial state in and its state out; never mutates the caller's buffers", async () => {
    const init = someState(7, 13, 13, deadHalf);
    const params0 = cloneParams(init.params);
    const adam0 = cloneAdamState(init.adam);
    const since0 = init.sinceFiredF.slice();
    const eng = await TfjsTrainStep.create(cfg, init, { backend: "cpu" });
    const [x] = randomBatches(7, [6], 14);
    const x0 = x!.slice();
    await eng.step(x!);
    expect(init.params).toEqual(params0);
    expect(init.adam).toEqual(adam0);
    expect(init.sinceFiredF).toEqual(since0);
    expect(x).toEqual(x0);
    const s1 = await eng.state();
    s1.params.wDecFD.fill(7);
    s1.adam.m.bPreD.fill(7);
    s1.sinceFiredF.fill(7);
    const s2 = await eng.state();
    expect(s2.params.wDecFD.some((v) => v === 7)).toBe(false);
    expect(s2.adam.m.bPreD.some((v) => v === 7)).toBe(false);
    expect(s2.adam.t).toBe(4);
    // Decoder rows are unit norm after the step.
    for (let j = 0; j < 13; j++) {
      const row = s2.params.wDecFD.subarray(j * 7, (j + 1) * 7);
      expect(Math.hypot(...row)).toBeCloseTo(1, 5);
    }
    await eng.close();
  });

  it("rejects bad batches and mismatched states with a message naming the problem", async () => {
    const eng = await TfjsTrainStep.create(cfg, someState(7, 13, 15), { backend: "wasm" });
    await expect(eng.step(new Float32Array(7))).rejects.toThrow(/at least 2 rows/);
    await expect(eng.step(new Float32Array(15))).rejects.toThrow(/whole number of rows of D = 7/);
    const nan = new Float32Array(14);
    nan[9] = Number.NaN;
    await expect(eng.step(nan)).rejects.toThrow(/row 1 has a non-finite value/);
    await expect(eng.step(new Float32Array(14).fill(0.5))).rejects.toThrow(/identical/);
    // A failed step changes nothing: t is still the initial 3.
    expect((await eng.state()).adam.t).toBe(3);
    await eng.close();
    const wrong = someState(7, 12, 16);
    await expect(TfjsTrainStep.create(cfg, wrong, { backend: "wasm" })).rejects.toThrow(SaerchError);
    const shortV = someState(7, 13, 17);
    shortV.adam.v.bLatF = new Float32Array(12);
    await expect(TfjsTrainStep.create(cfg, shortV, { backend: "wasm" })).rejects.toThrow(/adam\.v\.bLatF/);
  });

  it('"auto" picks tfjs-node-gpu when it loads, else wasm; an explicit missing "tensorflow" says how to fix it', async () => {
    const auto = await TfjsTrainStep.create(cfg, someState(7, 13, 18), { backend: "auto" });
    expect(["tfjs wasm", "tfjs-node-gpu"]).toContain(auto.engine);
    await auto.close();
    if (auto.engine === "tfjs wasm") {
      await expect(loadTfjs("tensorflow")).rejects.toThrow(/tfjs-node-gpu/);
    }
  });
});
