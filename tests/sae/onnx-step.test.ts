/**
 * Tests for the onnx engine (src/sae/onnx-step.ts, src/sae/onnx-graph.ts): naive-vs-fast on awkward sizes —
 * loss, nmse, auxk, gradNorm and every parameter and Adam moment after several steps from the same init — for
 * every variant (WebAssembly kernels on 1 and 2 threads, plain-JS kernels, the whole step as one ONNX graph);
 * dead latents (fewer and more than kAux); short and long batches; the onnxruntime features the graphs rely
 * on; and the engine's contracts (copies, rejected inputs).
 */
import { describe, expect, it } from "vitest";
import { relErr, tensorRelErr } from "../helpers/compare.js";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { normalizeRowsInPlace, rowNorms } from "../../src/core/vector.js";
import { buildOnnxModel } from "../../src/compute/onnx-model.js";
import { resolveSaeConfig, type ResolvedSaeConfig, type SaeConfigInput } from "../../src/sae/config.js";
import { NaiveTrainStep } from "../../src/sae/naive.js";
import { checkSelectionIndices, OnnxTrainStep, type OnnxUpdate } from "../../src/sae/onnx-step.js";
import { initSaeParams, zeroAdamState } from "../../src/sae/params.js";
import type { StepStats, TrainState, TrainStep } from "../../src/sae/train-step.js";

const KEYS = ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const;
/** Relative tolerance of the engine comparison (float32 sums in a different order). */
const REL_TOL = 1e-4;

function config(c: Partial<SaeConfigInput> & { d: number; n: number; k: number }): ResolvedSaeConfig {
  // A large lr makes the parameters move far from the init, so disagreements would show.
  return resolveSaeConfig({ steps: 10, batch: 6, lr: 1e-2, deadWindow: 1_000_000, ...c }, 1000);
}

/** Unit-norm-ish rows plus an offset (like embeddings), seeded. */
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
  const sample = batches(c.d, 16, 1, 99)[0]!;
  const params = initSaeParams(c.d, c.n, sample, 7);
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

/** An onnx engine variant under test. */
interface Engine {
  update: OnnxUpdate;
  threads: number;
}

/** Run both engines over the batches, comparing stats every step and the full state at the end. */
async function compareWithNaive(
  c: ResolvedSaeConfig,
  init: TrainState,
  xs: Float32Array[],
  engine: Engine,
): Promise<StepStats[]> {
  const { update, threads } = engine;
  const naive = new NaiveTrainStep(c, init);
  const onnx = await OnnxTrainStep.create(c, init, { threads, update });
  const stats: StepStats[] = [];
  try {
    for (const [i, x] of xs.entries()) {
      const want = await naive.step(x);
      const got = await onnx.step(x);
      expectStatsClose(got, want, `${update}/${threads} step ${i}`);
      stats.push(got);
    }
    await expectStatesClose(onnx, naive, `${update}/${threads}`);
  } finally {
    await onnx.close();
  }
  return stats;
}

const ENGINES: Engine[] = [
  { update: "wasm", threads: 1 },
  { update: "wasm", threads: 2 },
  { update: "js", threads: 1 },
  { update: "graph", threads: 1 },
];

describe.each(ENGINES)("OnnxTrainStep (update in $update, $threads thread(s)) matches the naive reference", (update) => {
  it("d = 7, n = 13, k = 3, kAux = 5, B = 6: five steps, latents dying along the way", async () => {
    // deadWindow 12 = two batches: latents that miss two batches in a row turn dead and AuxK starts.
    const c = config({ d: 7, n: 13, k: 3, kAux: 5, deadWindow: 12 });
    const stats = await compareWithNaive(c, initState(c), batches(7, 6, 5, 1), update);
    expect(stats.some((s) => s.auxk > 0), "AuxK ran").toBe(true);
  });

  it("k = 1", async () => {
    const c = config({ d: 7, n: 13, k: 1, kAux: 2, deadWindow: 12 });
    await compareWithNaive(c, initState(c), batches(7, 6, 4, 2), update);
  });

  it("dead latents from the start: more than kAux, and fewer than kAux", async () => {
    const many = config({ d: 9, n: 17, k: 3, kAux: 4 });
    const s1 = await compareWithNaive(many, initState(many, (j) => (j % 2 ? many.deadWindow : 0)), batches(9, 6, 3, 3), update);
    expect(s1[0]!.deadFraction).toBeCloseTo(8 / 17, 12);
    expect(s1[0]!.auxk).toBeGreaterThan(0);
    const few = config({ d: 9, n: 17, k: 3, kAux: 6 });
    const s2 = await compareWithNaive(few, initState(few, (j) => (j < 2 ? few.deadWindow : 0)), batches(9, 6, 3, 4), update);
    expect(s2[0]!.deadFraction).toBeCloseTo(2 / 17, 12);
    expect(s2[0]!.auxk).toBeGreaterThan(0);
  });

  it("a short last batch, a batch bigger than config.batch, and kAux = 0", async () => {
    const c = config({ d: 7, n: 13, k: 3, kAux: 0 });
    const [x0, x1] = batches(7, 6, 2, 5);
    const short = batches(7, 3, 1, 6)[0]!;
    const long = batches(7, 11, 1, 7)[0]!;
    const stats = await compareWithNaive(c, initState(c, (j) => (j < 4 ? c.deadWindow : 0)), [x0!, short, long, x1!], update);
    for (const s of stats) expect(s.auxk).toBe(0);
  });
});

describe("onnxruntime-node features the graphs rely on", () => {
  it("ScatterND add (string attribute), TopK with k = 0, Gather of no columns, initializers, float64 outputs", async () => {
    const ort = await import("onnxruntime-node");
    const model = buildOnnxModel({
      name: "features",
      inputs: [
        { name: "H", type: "float32", shape: [2, 4] },
        { name: "cols", type: "int64", shape: ["c"] },
        { name: "k", type: "int64", shape: [1] },
      ],
      outputs: [
        { name: "S", type: "float32", shape: [3] },
        { name: "V", type: "float32", shape: [2, "k"] },
        { name: "T", type: "float64", shape: [] },
      ],
      initializers: [
        { name: "idx", type: "int64", dims: [4, 1], data: [0, 2, 0, 0] },
        { name: "upd", type: "float32", dims: [4], data: [1, 2, 3, 4] },
      ],
      nodes: [
        { op: "Constant", inputs: [], outputs: ["three"], attrs: { value: { t: { type: "int64", dims: [1], data: [3] } } } },
        { op: "ConstantOfShape", inputs: ["three"], outputs: ["zeros"], attrs: { value: { t: { type: "float32", dims: [1], data: [0] } } } },
        { op: "ScatterND", inputs: ["zeros", "idx", "upd"], outputs: ["S"], attrs: { reduction: { s: "add" } } },
        { op: "Gather", inputs: ["H", "cols"], outputs: ["HC"], attrs: { axis: 1 } },
        { op: "TopK", inputs: ["HC", "k"], outputs: ["V", "I"], attrs: { axis: -1 } },
        { op: "Cast", inputs: ["S"], outputs: ["S64"], attrs: { to: 11 } },
        { op: "ReduceSum", inputs: ["S64"], outputs: ["T"], attrs: { keepdims: 0 } },
      ],
    });
    const session = await ort.InferenceSession.create(model);
    const h = new ort.Tensor("float32", Float32Array.from([1, 5, 3, 2, 0, 1, 4, 7]), [2, 4]);
    const run = (cols: number[], k: number): Promise<Record<string, { data: unknown; dims: readonly number[] }>> =>
      session.run({
        H: h,
        cols: new ort.Tensor("int64", BigInt64Array.from(cols.map(BigInt)), [cols.length]),
        k: new ort.Tensor("int64", BigInt64Array.of(BigInt(k)), [1]),
      });
    const a = await run([1, 3], 1);
    expect(Array.from(a.S!.data as Float32Array)).toEqual([8, 0, 2]);
    expect(Array.from(a.V!.data as Float32Array)).toEqual([5, 7]);
    expect(Number((a.T!.data as Float64Array)[0])).toBe(10);
    const none = await run([], 0);
    expect(none.V!.dims).toEqual([2, 0]);
    await session.release();
  });
});

describe("OnnxTrainStep contracts", () => {
  it("copies its initial state, returns copies, and names its engine", async () => {
    const c = config({ d: 7, n: 13, k: 3 });
    const init = initState(c);
    const before = init.params.wEncFD.slice();
    const step = await OnnxTrainStep.create(c, init, { threads: 1 });
    try {
      expect(step.engine).toBe("onnx cpu (1 threads, update in wasm)");
      expect(step.threads).toBe(1); // what checkpoints record
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

  it("rejects a one-row batch, a ragged batch, identical rows and non-finite values", async () => {
    const c = config({ d: 7, n: 13, k: 3 });
    const step = await OnnxTrainStep.create(c, initState(c), { threads: 1 });
    try {
      await expect(step.step(new Float32Array(7))).rejects.toThrow(/at least 2 rows/);
      await expect(step.step(new Float32Array(10))).rejects.toThrow(/whole number of rows/);
      await expect(step.step(new Float32Array(14).fill(0.5))).rejects.toThrow(/identical/);
      const bad = batches(7, 2, 1, 9)[0]!;
      bad[3] = Number.NaN;
      await expect(step.step(bad)).rejects.toThrow(SaerchError);
      expect((await step.state()).adam.t).toBe(0);
    } finally {
      await step.close();
    }
  });

  it("rejects an initial state whose shapes disagree with the config", async () => {
    const c = config({ d: 7, n: 13, k: 3 });
    const other = initState(config({ d: 7, n: 12, k: 3 }));
    await expect(OnnxTrainStep.create(c, other)).rejects.toThrow(/config says/);
  });
});

describe("checkSelectionIndices", () => {
  it("passes ids in [0, n) and names the first one outside with its row and slot", () => {
    expect(() => checkSelectionIndices(Int32Array.of(0, 3, 2, 1), 2, 4, "top-k")).not.toThrow();
    expect(() => checkSelectionIndices(new Int32Array(0), 0, 4, "AuxK")).not.toThrow();
    expect(() => checkSelectionIndices(Int32Array.of(0, 3, 4, 1), 2, 4, "top-k")).toThrow(
      /the top-k selection gave latent 4 \(row 1, slot 0\), outside \[0, 4\)/,
    );
    expect(() => checkSelectionIndices(Int32Array.of(1, 2, 0, -1), 2, 4, "AuxK")).toThrow(/AuxK selection gave latent -1 \(row 1, slot 1\)/);
  });
});
