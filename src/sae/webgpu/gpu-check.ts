/**
 * The GPU node check (`npm run bundle:gpu-check` bundles this into one folder that runs with nothing but
 * node ≥ 20): the adapter, the webgpu engine against the naive reference on the awkward sizes the tests use
 * (METHOD.md §2's step; k = 1, dead latents, short and long batches, sizes past one workgroup) and the
 * benchmark — one JSON record per check. Data is synthetic and seeded, generated in-process.
 */
import { describeError } from "../../core/errors.js";
import { Rng } from "../../core/rng.js";
import { normalizeRowsInPlace } from "../../core/vector.js";
import { resolveSaeConfig, type ResolvedSaeConfig, type SaeConfigInput } from "../config.js";
import { NaiveTrainStep } from "../naive.js";
import { initSaeParams, zeroAdamState } from "../params.js";
import type { TrainState } from "../train-step.js";
import { adapterLabel, openWebGpuDevice, type WebGpuContext } from "./adapter.js";
import { webGpuGemmSeconds } from "./gemm.js";
import { WebGpuTrainStep } from "./step.js";

/** One check's JSON record. */
export interface GpuCheckRecord {
  check: string;
  ok: boolean;
  [key: string]: unknown;
}

/** Relative tolerance of the equivalence checks (as in the tests). */
const REL_TOL = 1e-4;
const KEYS = ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const;

function rows(d: number, b: number, seed: number): Float32Array {
  const x = new Rng(seed).fillNormalInPlace(new Float32Array(b * d));
  normalizeRowsInPlace(x, b, d);
  return x.map((v) => v + 0.1);
}

function initState(c: ResolvedSaeConfig, deadEvery: number): TrainState {
  const params = initSaeParams(c.d, c.n, rows(c.d, 16, 99), 7);
  const rng = new Rng(5);
  for (let i = 0; i < params.wEncFD.length; i++) params.wEncFD[i]! += 0.3 * rng.normal();
  for (let j = 0; j < c.n; j++) params.bLatF[j] = 0.05 * rng.normal();
  const sinceFiredF = Float64Array.from({ length: c.n }, (_, j) => (deadEvery > 0 && j % deadEvery === 0 ? c.deadWindow : 0));
  return { params, adam: zeroAdamState(c.d, c.n), sinceFiredF };
}

/** The equivalence cases: name, config, dead-latent spacing, batch sizes. */
const CASES: { name: string; config: SaeConfigInput; deadEvery: number; batches: number[] }[] = [
  { name: "d7 n13 k3 kAux5, latents dying", config: { d: 7, n: 13, k: 3, kAux: 5, batch: 6, deadWindow: 12, steps: 1 }, deadEvery: 0, batches: [6, 6, 6, 6, 6] },
  { name: "k = 1", config: { d: 7, n: 13, k: 1, kAux: 2, batch: 6, deadWindow: 12, steps: 1 }, deadEvery: 0, batches: [6, 6, 6, 6] },
  { name: "dead from the start, short and long batches", config: { d: 9, n: 17, k: 3, kAux: 4, batch: 6, deadWindow: 1000, steps: 1 }, deadEvery: 2, batches: [6, 3, 11, 6] },
  { name: "past one workgroup and GEMM tile", config: { d: 70, n: 150, k: 5, kAux: 9, batch: 67, deadWindow: 134, steps: 1 }, deadEvery: 3, batches: [67, 130] },
];

async function equivalence(ctx: WebGpuContext, spec: (typeof CASES)[number]): Promise<GpuCheckRecord> {
  const c = resolveSaeConfig({ lr: 1e-2, ...spec.config }, 1000);
  const init = initState(c, spec.deadEvery);
  const naive = new NaiveTrainStep(c, init);
  const gpu = await WebGpuTrainStep.create(c, init, { context: ctx });
  let statsErr = 0;
  try {
    for (const [i, b] of spec.batches.entries()) {
      const x = rows(c.d, b, 100 + i);
      const [want, got] = [await naive.step(x), await gpu.step(x)];
      for (const key of ["loss", "nmse", "auxk", "gradNorm", "deadFraction"] as const) {
        statsErr = Math.max(statsErr, Math.abs(got[key] - want[key]) / Math.max(Math.abs(want[key]), 1e-6));
      }
    }
    const [a, b] = [await gpu.state(), await naive.state()];
    let stateErr = 0;
    for (const key of KEYS) {
      for (const [ga, gb] of [[a.params[key], b.params[key]], [a.adam.m[key], b.adam.m[key]], [a.adam.v[key], b.adam.v[key]]] as const) {
        let diff = 0;
        let scale = 1e-12;
        for (let i = 0; i < gb.length; i++) {
          diff = Math.max(diff, Math.abs(ga[i]! - gb[i]!));
          scale = Math.max(scale, Math.abs(gb[i]!));
        }
        stateErr = Math.max(stateErr, diff / scale);
      }
    }
    const countersEqual = a.sinceFiredF.every((v, j) => v === b.sinceFiredF[j]);
    return { check: `equivalence: ${spec.name}`, ok: statsErr < REL_TOL && stateErr < REL_TOL && countersEqual, statsRelErr: statsErr, stateRelErr: stateErr, countersEqual };
  } finally {
    await gpu.close();
  }
}

/** Options of runGpuChecks. */
export interface GpuCheckOptions {
  /** Benchmark shape; default the paper's (d 1536, n 9216, k 64, B 1024). */
  bench?: { d: number; n: number; k: number; batch: number; steps: number };
  /** Called with each record as it is made. */
  onRecord?: (r: GpuCheckRecord) => void;
}

/** Run every check; resolves to the records (also handed to `onRecord` one by one). */
export async function runGpuChecks(opts: GpuCheckOptions = {}): Promise<GpuCheckRecord[]> {
  const out: GpuCheckRecord[] = [];
  const emit = (r: GpuCheckRecord): void => {
    out.push(r);
    opts.onRecord?.(r);
  };
  let ctx: WebGpuContext;
  try {
    ctx = await openWebGpuDevice();
  } catch (err) {
    emit({ check: "adapter", ok: false, error: describeError(err) });
    return out;
  }
  try {
    emit({ check: "adapter", ok: true, label: adapterLabel(ctx.adapter), ...ctx.adapter, node: process.versions.node });
    for (const spec of CASES) {
      try {
        emit(await equivalence(ctx, spec));
      } catch (err) {
        emit({ check: `equivalence: ${spec.name}`, ok: false, error: describeError(err) });
      }
    }
    const bench = opts.bench ?? { d: 1536, n: 9216, k: 64, batch: 1024, steps: 5 };
    try {
      const c = resolveSaeConfig({ d: bench.d, n: bench.n, k: bench.k, batch: bench.batch, steps: bench.steps + 1 }, bench.batch * 4);
      const init = initState(c, 10);
      const step = await WebGpuTrainStep.create(c, init, { context: ctx });
      const xs = [0, 1, 2, 3].map((i) => rows(c.d, c.batch, 200 + i));
      let seconds = 0;
      try {
        await step.step(xs[0]!);
        const t0 = performance.now();
        for (let s = 0; s < bench.steps; s++) await step.step(xs[(s + 1) % 4]!);
        seconds = (performance.now() - t0) / 1000 / bench.steps;
      } finally {
        await step.close();
      }
      const gemm = await webGpuGemmSeconds(ctx, { b: c.batch, d: c.d, n: c.n });
      const flops = 2 * c.batch * c.d * c.n;
      emit({
        check: "bench",
        ok: true,
        ...bench,
        stepsPerSecond: 1 / seconds,
        samplesPerSecond: c.batch / seconds,
        encoderGemmSeconds: gemm,
        encoderGemmGflops: flops / gemm / 1e9,
        stepOverGemm: seconds / gemm,
        ...(ctx.adapter.software ? { note: "software adapter: a correctness run, not a speed figure" } : {}),
      });
    } catch (err) {
      emit({ check: "bench", ok: false, error: describeError(err) });
    }
  } finally {
    ctx.device.destroy();
  }
  return out;
}
