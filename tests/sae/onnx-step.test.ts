/**
 * Tests for the onnx engine (src/sae/onnx-step.ts, src/sae/onnx-graph.ts): naive-vs-fast on awkward sizes —
 * loss, nmse, auxk, gradNorm and every parameter and Adam moment after several steps from the same init — with
 * the dense update in JS (the CPU default) and in the graph; dead latents (fewer and more than kAux); a short
 * last batch; the fused JS update kernels against the reference formulas; and the engine's contracts (copies,
 * rejected inputs).
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { normalizeRowsInPlace, rowNorms } from "../../src/core/vector.js";
import { resolveSaeConfig, type ResolvedSaeConfig, type SaeConfigInput } from "../../src/sae/config.js";
import { NaiveTrainStep } from "../../src/sae/naive.js";
import { adamRowsInPlace, projectedNormSq, sumSquares } from "../../src/sae/cpu-kernels.js";
import { CpuKernels } from "../../src/sae/cpu-step.js";
import { OnnxTrainStep, type OnnxUpdate } from "../../src/sae/onnx-step.js";
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

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);
}

/** max_i |a_i − b_i| / max(max_i |b_i|, tiny): relative to the tensor's scale. */
function tensorRelErr(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
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

describe("the dense update kernels", () => {
  it.each([
    [7, 2, 1],
    [13, 0, 1],
    [16, 2, 1],
    [7, 2, 2],
    [16, 2, 3],
  ])("WebAssembly SIMD and plain JS agree on every pass (d = %i, kAux = %i, %i thread(s))", async (d, ka, threads) => {
    const shape = { n: 5, d, k: 2, kAux: 2, batchCapacity: 4, threads };
    const { n, k } = shape;
    expect(CpuKernels.wasmSupported(shape)).toBe(true);
    const wasm = new CpuKernels(shape, "wasm");
    const js = new CpuKernels(shape, "js");
    const rng = new Rng(d);
    for (const slot of ["p", "m", "v"] as const) {
      for (const mat of ["enc", "dec"] as const) {
        rng.fillNormalInPlace(wasm[mat][slot]);
        if (slot === "v") wasm[mat].v.forEach((x, i, a) => (a[i] = x * x));
      }
    }
    normalizeRowsInPlace(wasm.dec.p, n, d);
    // Three rows; latent 4 never selected, latent 1 several times, one negative pre-activation (z = 0).
    const b = 3;
    const st = wasm.staging;
    rng.fillNormalInPlace(st.x);
    st.indices.set([1, 0, 2, 1, 3, 1]);
    st.values.set([0.9, 0.4, 0.7, -0.2, 1.1, 0.3]);
    st.auxIndices.set([3, 2, 0, 3, 2, 0]);
    st.auxValues.set([0.5, 0.1, 0.8, -0.3, 0.2, 0.05]);
    for (const mat of ["enc", "dec"] as const) for (const slot of ["p", "m", "v"] as const) js[mat][slot].set(wasm[mat][slot]);
    for (const key of ["x", "indices", "values", "auxIndices", "auxValues"] as const) js.staging[key].set(st[key] as never);
    const bPre = Float32Array.from({ length: d }, (_, i) => 0.1 * Math.cos(i));
    const sw = wasm.decode(b, ka, 0.37, bPre);
    const sj = js.decode(b, ka, 0.37, bPre);
    expect(relErr(sw.sse, sj.sse)).toBeLessThan(1e-6);
    if (ka > 0) expect(relErr(sw.auxSse, sj.auxSse)).toBeLessThan(1e-6);
    else expect(sw.auxSse).toBe(0);
    const kk = k + ka;
    expect(Array.from(st.pairIdx.subarray(0, b * kk))).toEqual(Array.from(js.staging.pairIdx.subarray(0, b * kk)));
    for (const key of ["pairDec", "pairEnc"] as const) {
      expect(tensorRelErr(st[key].subarray(0, b * kk), js.staging[key].subarray(0, b * kk)), key).toBeLessThan(1e-5);
    }
    for (const key of ka > 0 ? (["xc", "r", "rA"] as const) : (["xc", "r"] as const)) {
      expect(tensorRelErr(st[key].subarray(0, b * d), js.staging[key].subarray(0, b * d)), key).toBeLessThan(1e-5);
    }
    expect(tensorRelErr(Float32Array.from(st.colSum), Float32Array.from(js.staging.colSum))).toBeLessThan(1e-5);
    // The pair with a negative pre-activation has z = 0 and no encoder gradient.
    expect(st.pairDec[1 * kk + 1]).toBe(0);
    expect(st.pairEnc[1 * kk + 1]).toBe(0);

    wasm.enc.g.fill(7); // stale values must be overwritten, rows without pairs zeroed
    wasm.accumulateGradients(b, kk, k);
    js.accumulateGradients(b, kk, k);
    // Direct accumulation from the pairs.
    const want = { dec: new Float64Array(n * d), enc: new Float64Array(n * d) };
    const jst = js.staging;
    for (let p = 0; p < b * kk; p++) {
      const row = Math.floor(p / kk);
      const j = jst.pairIdx[p]!;
      for (let i = 0; i < d; i++) {
        want.dec[j * d + i]! += jst.pairDec[p]! * (p % kk < k ? jst.r : jst.rA)[row * d + i]!;
        want.enc[j * d + i]! += jst.pairEnc[p]! * jst.xc[row * d + i]!;
      }
    }
    for (const mat of ["enc", "dec"] as const) {
      expect(tensorRelErr(js[mat].g, Float32Array.from(want[mat])), `js ${mat}.g`).toBeLessThan(1e-6);
      expect(tensorRelErr(wasm[mat].g, js[mat].g), `wasm ${mat}.g`).toBeLessThan(1e-5);
    }
    expect(Array.from(wasm.enc.g.subarray(4 * d))).toEqual(new Array(d).fill(0));

    expect(relErr(wasm.encoderNormSq(), js.encoderNormSq())).toBeLessThan(1e-5);
    expect(relErr(wasm.encoderNormSq(), sumSquares(js.enc.g))).toBeLessThan(1e-5);
    expect(relErr(wasm.decoderProjectedNormSq(), js.decoderProjectedNormSq())).toBeLessThan(1e-5);
    const coefF = Float32Array.from({ length: n }, (_, j) => (j === 2 ? 0 : j - 1.5));
    const [ow, oj] = [new Float32Array(d), new Float32Array(d)];
    wasm.encoderWeightedRowSum(coefF, ow);
    js.encoderWeightedRowSum(coefF, oj);
    expect(tensorRelErr(ow, oj)).toBeLessThan(1e-5);
    const s = { beta1: 0.9, beta2: 0.999, eps: 1e-8, stepSize: 0.01 / (1 - 0.9 ** 3), sqrtBc2: Math.sqrt(1 - 0.999 ** 3) };
    wasm.adamInPlace(0.3, s);
    js.adamInPlace(0.3, s);
    for (const mat of ["enc", "dec"] as const) {
      for (const slot of ["p", "m", "v"] as const) {
        expect(tensorRelErr(wasm[mat][slot], js[mat][slot]), `${mat}.${slot}`).toBeLessThan(1e-4);
      }
    }
    for (const norm of rowNorms(wasm.dec.p, n, d)) expect(norm).toBeCloseTo(1, 6);
    expect(wasm.encoderForOrt()).toEqual(wasm.enc.p);
    await wasm.close();
  });

  it("grows for a bigger batch, keeping the resident values", () => {
    for (const backend of ["wasm", "js"] as const) {
      const u = new CpuKernels({ n: 3, d: 5, k: 1, kAux: 1, batchCapacity: 2, threads: 1 }, backend);
      u.enc.p.fill(1.5);
      u.dec.v.fill(2.5);
      expect(u.ensureBatch(2)).toBe(false);
      expect(u.ensureBatch(50)).toBe(true);
      expect(u.staging.r.length).toBe(50 * 5);
      expect(u.staging.pairIdx.length).toBe(100);
      expect(Array.from(u.enc.p)).toEqual(new Array(15).fill(1.5));
      expect(Array.from(u.dec.v)).toEqual(new Array(15).fill(2.5));
    }
  });

  it("projectedNormSq and adamRowsInPlace follow the reference formulas", () => {
    const [n, d] = [3, 4];
    const rng = new Rng(11);
    const w = new Float32Array(n * d);
    const g = new Float32Array(n * d);
    rng.fillNormalInPlace(w);
    rng.fillNormalInPlace(g);
    normalizeRowsInPlace(w, n, d);
    const along = new Float64Array(n);
    const normSq = projectedNormSq(g, w, along, n, d);
    let want = 0;
    const gp = new Float64Array(n * d);
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += g[j * d + i]! * w[j * d + i]!;
      expect(along[j]).toBeCloseTo(dot, 12);
      for (let i = 0; i < d; i++) {
        gp[j * d + i] = g[j * d + i]! - dot * w[j * d + i]!;
        want += gp[j * d + i]! ** 2;
      }
    }
    expect(Math.abs(normSq - want) / want).toBeLessThan(1e-6);
    // One Adam step from zero moments at t = 1 moves each entry by ≈ −lr·sign(g) (then rows renormalised).
    const p = w.slice();
    const s = { beta1: 0.9, beta2: 0.999, eps: 1e-8, stepSize: 0.01 / (1 - 0.9), sqrtBc2: Math.sqrt(1 - 0.999) };
    adamRowsInPlace(p, new Float32Array(n * d), new Float32Array(n * d), g, n, d, 0.5, s, along, true);
    const moved = w.map((x, i) => x - 0.01 * Math.sign(gp[i]!));
    normalizeRowsInPlace(moved, n, d);
    for (let i = 0; i < n * d; i++) expect(p[i]).toBeCloseTo(moved[i]!, 5);
    for (const norm of rowNorms(p, n, d)) expect(norm).toBeCloseTo(1, 6);
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
