/**
 * Tests for the webgpu engine (src/sae/webgpu/step.ts, kernels.ts) on whatever adapter this machine has (CI:
 * Mesa's software Vulkan adapter): naive-vs-webgpu on the awkward sizes the other engines are tested on — loss,
 * nmse, auxk, gradNorm, dead fraction every step, and every parameter, Adam moment and dead counter at the end —
 * k = 1, dead latents (more and fewer than kAux), kAux = 0, short and long batches, n and d not multiples of the
 * workgroup (64) or GEMM tile (64) sizes; determinism; the double-buffered batch upload (`stage`: batch t + 1
 * written to the other input slot while step t runs, the same bits as unstaged steps, short and growing batches,
 * a step on another array than the staged one); and the engine's contracts.
 */
import { describe, expect, it } from "vitest";
import { relErr, tensorRelErr } from "../../helpers/compare.js";
import { SaerchError } from "../../../src/core/errors.js";
import { Rng } from "../../../src/core/rng.js";
import { normalizeRowsInPlace, rowNorms } from "../../../src/core/vector.js";
import { resolveSaeConfig, type ResolvedSaeConfig, type SaeConfigInput } from "../../../src/sae/config.js";
import { NaiveTrainStep } from "../../../src/sae/naive.js";
import { initSaeParams, zeroAdamState } from "../../../src/sae/params.js";
import type { StepStats, TrainState, TrainStep } from "../../../src/sae/train-step.js";
import { type WebGpuStepEvent, WebGpuTrainStep } from "../../../src/sae/webgpu/step.js";
import { GPU_TEST_TIMEOUT_MS, gpuContext, noAdapter } from "./gpu-available.js";

const KEYS = ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const;
/** Relative tolerance against the float64-intermediate reference (float32 sums in another order). */
const REL_TOL = 1e-4;

function config(c: Partial<SaeConfigInput> & { d: number; n: number; k: number }): ResolvedSaeConfig {
  // A large lr makes the parameters move far from the init, so disagreements would show.
  return resolveSaeConfig({ steps: 10, batch: 6, lr: 1e-2, deadWindow: 1_000_000, ...c }, 1000);
}

/** Unit-norm rows plus an offset (like embeddings), seeded. */
function batches(d: number, b: number, count: number, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const x = new Float32Array(b * d);
    rng.fillNormalInPlace(x);
    normalizeRowsInPlace(x, b, d);
    for (let i = 0; i < x.length; i++) x[i]! += 0.1;
    return x;
  });
}

function initState(c: ResolvedSaeConfig, sinceFired?: (j: number) => number): TrainState {
  const params = initSaeParams(c.d, c.n, batches(c.d, 16, 1, 99)[0]!, 7);
  // Encoder ≠ decoder and a non-zero latent bias, so every gradient path matters.
  const rng = new Rng(5);
  for (let i = 0; i < params.wEncFD.length; i++) params.wEncFD[i]! += 0.3 * rng.normal();
  for (let j = 0; j < c.n; j++) params.bLatF[j] = 0.05 * rng.normal();
  const sinceFiredF = Float64Array.from({ length: c.n }, (_, j) => sinceFired?.(j) ?? 0);
  return { params, adam: zeroAdamState(c.d, c.n), sinceFiredF };
}

function expectStatsClose(got: StepStats, want: StepStats, where: string): void {
  for (const key of ["loss", "nmse", "auxk", "gradNorm", "deadFraction"] as const) {
    expect(relErr(got[key], want[key]), `${where} ${key}: ${got[key]} vs ${want[key]}`).toBeLessThan(REL_TOL);
  }
}

async function expectStatesClose(a: TrainStep, b: TrainStep, where: string): Promise<void> {
  const [sa, sb] = [await a.state(), await b.state()];
  expect(sa.adam.t).toBe(sb.adam.t);
  expect(Array.from(sa.sinceFiredF), `${where} sinceFiredF`).toEqual(Array.from(sb.sinceFiredF));
  for (const key of KEYS) {
    expect(tensorRelErr(sa.params[key], sb.params[key]), `${where} params.${key}`).toBeLessThan(REL_TOL);
    expect(tensorRelErr(sa.adam.m[key], sb.adam.m[key]), `${where} adam.m.${key}`).toBeLessThan(REL_TOL);
    expect(tensorRelErr(sa.adam.v[key], sb.adam.v[key]), `${where} adam.v.${key}`).toBeLessThan(REL_TOL);
  }
}

/** Run both engines over the batches, comparing stats every step and the full state at the end. */
async function compareWithNaive(c: ResolvedSaeConfig, init: TrainState, xs: Float32Array[]): Promise<StepStats[]> {
  const naive = new NaiveTrainStep(c, init);
  const gpu = await WebGpuTrainStep.create(c, init, { context: gpuContext! });
  const stats: StepStats[] = [];
  try {
    for (const [i, x] of xs.entries()) {
      const want = await naive.step(x);
      const got = await gpu.step(x);
      expectStatsClose(got, want, `step ${i}`);
      stats.push(got);
    }
    await expectStatesClose(gpu, naive, "final");
  } finally {
    await gpu.close();
  }
  return stats;
}

describe.skipIf(noAdapter !== undefined)("WebGpuTrainStep matches the naive reference", { timeout: GPU_TEST_TIMEOUT_MS }, () => {
  it("d = 7, n = 13, k = 3, kAux = 5, B = 6: five steps, latents dying along the way", async () => {
    const c = config({ d: 7, n: 13, k: 3, kAux: 5, deadWindow: 12 });
    const stats = await compareWithNaive(c, initState(c), batches(7, 6, 5, 1));
    expect(stats.some((s) => s.auxk > 0), "AuxK ran").toBe(true);
  });

  it("k = 1", async () => {
    const c = config({ d: 7, n: 13, k: 1, kAux: 2, deadWindow: 12 });
    await compareWithNaive(c, initState(c), batches(7, 6, 4, 2));
  });

  it("dead latents from the start: more than kAux, and fewer than kAux", async () => {
    const many = config({ d: 9, n: 17, k: 3, kAux: 4 });
    const s1 = await compareWithNaive(many, initState(many, (j) => (j % 2 ? many.deadWindow : 0)), batches(9, 6, 3, 3));
    expect(s1[0]!.deadFraction).toBeCloseTo(8 / 17, 12);
    expect(s1[0]!.auxk).toBeGreaterThan(0);
    const few = config({ d: 9, n: 17, k: 3, kAux: 6 });
    const s2 = await compareWithNaive(few, initState(few, (j) => (j < 2 ? few.deadWindow : 0)), batches(9, 6, 3, 4));
    expect(s2[0]!.deadFraction).toBeCloseTo(2 / 17, 12);
    expect(s2[0]!.auxk).toBeGreaterThan(0);
  });

  it("a short last batch, a batch bigger than config.batch, and kAux = 0", async () => {
    const c = config({ d: 7, n: 13, k: 3, kAux: 0 });
    const [x0, x1] = batches(7, 6, 2, 5);
    const short = batches(7, 3, 1, 6)[0]!;
    const long = batches(7, 11, 1, 7)[0]!;
    const stats = await compareWithNaive(c, initState(c, (j) => (j < 4 ? c.deadWindow : 0)), [x0!, short, long, x1!]);
    for (const s of stats) expect(s.auxk).toBe(0);
  });

  it("dead counters past 2³² (64-bit on the device): a window of 2³² + 1, a counter crossing 2³² mid-run", async () => {
    // Latent 0 starts at 2⁴⁰ + 3 (dead), latent 1 at 2³² − 2 (alive; 2³² + 4 after one batch of 6 if it
    // does not fire, and then dead), the rest at 0.
    const c = config({ d: 7, n: 13, k: 3, kAux: 4, deadWindow: 2 ** 32 + 1 });
    const init = initState(c, (j) => (j === 0 ? 2 ** 40 + 3 : j === 1 ? 2 ** 32 - 2 : 0));
    const stats = await compareWithNaive(c, init, batches(7, 6, 3, 21));
    expect(stats[0]!.deadFraction).toBeCloseTo(1 / 13, 12);
  });

  it("sizes past one workgroup and one GEMM tile: d = 70, n = 150, k = 5, kAux = 9, B = 67 then 130", async () => {
    // 150 latents = 2 GEMM tiles + 22, 70 dims = 64 + 6, 130 rows > 2 × 64 (three compaction chunks per latent).
    const c = config({ d: 70, n: 150, k: 5, kAux: 9, batch: 67, deadWindow: 134, lr: 3e-3 });
    const xs = [...batches(70, 67, 2, 11), ...batches(70, 130, 2, 12)];
    const stats = await compareWithNaive(c, initState(c, (j) => (j % 3 === 0 ? c.deadWindow : 0)), xs);
    expect(stats.every((s) => s.auxk > 0)).toBe(true);
  });
});

const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Expect two states equal bit for bit. */
function expectSameBits(a: TrainState, b: TrainState, where: string): void {
  expect(a.adam.t).toBe(b.adam.t);
  expect(Array.from(a.sinceFiredF), `${where} sinceFiredF`).toEqual(Array.from(b.sinceFiredF));
  for (const key of KEYS) {
    expect(bytes(a.params[key]).equals(bytes(b.params[key])), `${where} params.${key}`).toBe(true);
    expect(bytes(a.adam.m[key]).equals(bytes(b.adam.m[key])), `${where} adam.m.${key}`).toBe(true);
    expect(bytes(a.adam.v[key]).equals(bytes(b.adam.v[key])), `${where} adam.v.${key}`).toBe(true);
  }
}

/** Step through `xs` staging each next batch while the current step runs (as the trainer's batch stream does). */
async function streamed(engine: WebGpuTrainStep, xs: Float32Array[]): Promise<StepStats[]> {
  const out: StepStats[] = [];
  for (const [i, x] of xs.entries()) {
    const running = engine.step(x);
    if (i + 1 < xs.length) engine.stage(xs[i + 1]!);
    out.push(await running);
  }
  return out;
}

/** One engine event as a short string: "upload 1 (4 rows) while a step runs". */
const show = (e: WebGpuStepEvent): string => `${e.kind} ${e.slot} (${e.rows} rows)${e.whileStepRuns ? " while a step runs" : ""}`;

describe.skipIf(noAdapter !== undefined)("WebGpuTrainStep double-buffered input", { timeout: GPU_TEST_TIMEOUT_MS }, () => {
  it("uploads batch t + 1 into the other input slot while step t runs, with the bits of unstaged steps", async () => {
    const c = config({ d: 70, n: 150, k: 5, kAux: 9, batch: 67, deadWindow: 134, lr: 3e-3 });
    const init = initState(c, (j) => (j % 3 === 0 ? c.deadWindow : 0));
    const xs = batches(70, 67, 5, 31);
    const events: WebGpuStepEvent[] = [];
    const a = await WebGpuTrainStep.create(c, init, { context: gpuContext!, onEvent: (e) => events.push(e) });
    const b = await WebGpuTrainStep.create(c, init, { context: gpuContext! });
    try {
      const got = await streamed(a, xs);
      const want: StepStats[] = [];
      for (const x of xs) want.push(await b.step(x));
      expect(got).toEqual(want);
      expectSameBits(await a.state(), await b.state(), "streamed vs unstaged");
    } finally {
      await a.close();
      await b.close();
    }
    const rows = "(67 rows)";
    expect(events.map(show)).toEqual([
      `upload 0 ${rows}`,
      `submit 0 ${rows}`,
      `upload 1 ${rows} while a step runs`,
      `complete 0 ${rows}`,
      `submit 1 ${rows}`,
      `upload 0 ${rows} while a step runs`,
      `complete 1 ${rows}`,
      `submit 0 ${rows}`,
      `upload 1 ${rows} while a step runs`,
      `complete 0 ${rows}`,
      `submit 1 ${rows}`,
      `upload 0 ${rows} while a step runs`,
      `complete 1 ${rows}`,
      // The last batch: nothing is staged after it.
      `submit 0 ${rows}`,
      `complete 0 ${rows}`,
    ]);
  });

  it("a short batch uploads while the step before it runs; a bigger one waits for its own step (the buffers grow)", async () => {
    const c = config({ d: 7, n: 13, k: 3, kAux: 2, deadWindow: 12 });
    const init = initState(c, (j) => (j < 4 ? c.deadWindow : 0));
    const [x0, x1] = batches(7, 6, 2, 32);
    const xs = [x0!, batches(7, 3, 1, 33)[0]!, batches(7, 11, 1, 34)[0]!, x1!, batches(7, 2, 1, 35)[0]!];
    const events: WebGpuStepEvent[] = [];
    const gpu = await WebGpuTrainStep.create(c, init, { context: gpuContext!, onEvent: (e) => events.push(e) });
    const plain = await WebGpuTrainStep.create(c, init, { context: gpuContext! });
    const naive = new NaiveTrainStep(c, init);
    try {
      const got = await streamed(gpu, xs);
      for (const [i, x] of xs.entries()) {
        expect(await plain.step(x), `step ${i} vs unstaged`).toEqual(got[i]);
        expectStatsClose(got[i]!, await naive.step(x), `step ${i} vs naive`);
      }
      expectSameBits(await gpu.state(), await plain.state(), "streamed vs unstaged");
      await expectStatesClose(gpu, naive, "final");
    } finally {
      await gpu.close();
      await plain.close();
    }
    expect(events.filter((e) => e.kind === "upload").map(show)).toEqual([
      "upload 0 (6 rows)",
      "upload 1 (3 rows) while a step runs",
      // 11 rows > the 6 the buffers hold: uploaded when its step starts, into the slot it was staged for.
      "upload 0 (11 rows)",
      "upload 1 (6 rows) while a step runs",
      "upload 0 (2 rows) while a step runs",
    ]);
    expect(events.filter((e) => e.kind === "submit").map((e) => `${e.slot}:${e.rows}`)).toEqual(["0:6", "1:3", "0:11", "1:6", "0:2"]);
  });

  it("a step on another array than the staged one trains on that array; stage checks the batch at once", async () => {
    const c = config({ d: 7, n: 13, k: 3 });
    const init = initState(c);
    const [staged, other] = batches(7, 6, 2, 36);
    const a = await WebGpuTrainStep.create(c, init, { context: gpuContext! });
    const b = await WebGpuTrainStep.create(c, init, { context: gpuContext! });
    try {
      a.stage(staged!);
      expect(await a.step(other!)).toEqual(await b.step(other!));
      expectSameBits(await a.state(), await b.state(), "after the other array");
      expect(() => a.stage(new Float32Array(7))).toThrow(/at least 2 rows/);
      expect(() => a.stage(new Float32Array(14).fill(0.5))).toThrow(/identical/);
      expect((await a.state()).adam.t).toBe(1);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe.skipIf(noAdapter !== undefined)("WebGpuTrainStep contracts", { timeout: GPU_TEST_TIMEOUT_MS }, () => {
  it("is deterministic: two engines from the same state agree bit for bit", async () => {
    const c = config({ d: 70, n: 150, k: 5, kAux: 9, batch: 67, deadWindow: 67 });
    const init = initState(c);
    const xs = batches(70, 67, 3, 13);
    const run = async (): Promise<TrainState> => {
      const e = await WebGpuTrainStep.create(c, init, { context: gpuContext! });
      for (const x of xs) await e.step(x);
      const s = await e.state();
      await e.close();
      return s;
    };
    const [a, b] = [await run(), await run()];
    for (const key of KEYS) {
      expect(a.params[key]).toEqual(b.params[key]);
      expect(a.adam.m[key]).toEqual(b.adam.m[key]);
    }
  });

  it("copies its initial state, returns copies, names its adapter, keeps decoder rows unit-norm", async () => {
    const c = config({ d: 7, n: 13, k: 3 });
    const init = initState(c);
    const before = init.params.wEncFD.slice();
    const step = await WebGpuTrainStep.create(c, init);
    try {
      expect(step.engine).toMatch(/^webgpu \(.+\)$/);
      expect(step.threads).toBeUndefined();
      await step.step(batches(7, 6, 1, 8)[0]!);
      expect(init.params.wEncFD).toEqual(before);
      const s1 = await step.state();
      s1.params.wEncFD.fill(0);
      const s2 = await step.state();
      expect(s2.params.wEncFD.some((v) => v !== 0)).toBe(true);
      expect(s2.adam.t).toBe(1);
      for (const norm of rowNorms(s2.params.wDecFD, c.n, c.d)) expect(norm).toBeCloseTo(1, 5);
    } finally {
      await step.close();
    }
  });

  it("rejects a one-row batch, a ragged batch, identical rows, non-finite values, and use after close", async () => {
    const c = config({ d: 7, n: 13, k: 3 });
    const step = await WebGpuTrainStep.create(c, initState(c), { context: gpuContext! });
    await expect(step.step(new Float32Array(7))).rejects.toThrow(/at least 2 rows/);
    await expect(step.step(new Float32Array(10))).rejects.toThrow(/whole number of rows/);
    await expect(step.step(new Float32Array(14).fill(0.5))).rejects.toThrow(/identical/);
    const bad = batches(7, 2, 1, 9)[0]!;
    bad[3] = Number.NaN;
    await expect(step.step(bad)).rejects.toThrow(SaerchError);
    expect((await step.state()).adam.t).toBe(0);
    await step.close();
    await expect(step.step(batches(7, 2, 1, 9)[0]!)).rejects.toThrow(/closed/);
  });

  it("rejects an initial state whose shapes disagree with the config", async () => {
    const c = config({ d: 7, n: 13, k: 3 });
    await expect(WebGpuTrainStep.create(c, initState(config({ d: 7, n: 12, k: 3 })))).rejects.toThrow(/config says/);
  });
});
