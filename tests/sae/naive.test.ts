/**
 * Tests for the reference SAE step (src/sae/naive.ts): a hand-derived tiny case (forward, gradients, one
 * Adam step), finite-difference checks of every gradient on awkward sizes with AuxK active, the step's
 * invariants (unit-norm decoder, Adam bookkeeping, clipping, moment decay, tracker) and AuxK edge cases.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { rowNorms } from "../../src/core/vector.js";
import { resolveSaeConfig, type ResolvedSaeConfig, type SaeConfigInput } from "../../src/sae/config.js";
import {
  NaiveTrainStep,
  naiveGradients,
  naiveLoss,
  naiveStepInPlace,
  type SaeGradients,
} from "../../src/sae/naive.js";
import { cloneAdamState, cloneParams, type SaeParams, zeroAdamState } from "../../src/sae/params.js";
import type { TrainState } from "../../src/sae/train-step.js";

const PARAM_NAMES = ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const;

/** A resolved config with test-friendly defaults (one step, deadWindow 10). */
function config(c: Partial<SaeConfigInput> & { d: number; n: number; k: number }): ResolvedSaeConfig {
  return resolveSaeConfig({ steps: 1, batch: 4, deadWindow: 10, ...c }, 100);
}

function f32(xs: number[]): Float32Array {
  return Float32Array.from(xs);
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[], digits = 6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i]!, `index ${i}`).toBeCloseTo(expected[i]!, digits);
}

// ---------------------------------------------------------------------------------------------------------
// (a) The hand-set case: d = 2, n = 3, k = 1, B = 2.
//
//   wEnc rows (2,0) (0,1) (1,1)   bLat (0, 0, −2)   wDec rows (1,0) (0,1) (0.6,0.8)   bPre (0.5, 0.5)
//   x0 = (3.5, 1.5) → xc0 = (3, 1) → h0 = (6, 1, 2) → top-1 latent 0, z = 6 → x̂0 = (6.5, 0.5)
//   x1 = (0.5, 4.5) → xc1 = (0, 4) → h1 = (0, 4, 2) → top-1 latent 1, z = 4 → x̂1 = (0.5, 4.5) = x1
//   x̄ = (2, 3); (x − x̄)² sums to 4·2.25 → denom = 2.25; (x̂ − x)² = 9 + 1 → nmse = 2.5 / 2.25 = 10/9.
// Backward (nmse only): dL/dx̂ = 2(x̂ − x)/(B·D·denom) = (x̂ − x)/4.5 → row 0 (2/3, −2/9), row 1 0.
//   gwDec[0] = z0·(2/3, −2/9) = (4, −4/3);  gz0 = (2/3, −2/9)·wDec[0] = 2/3 (h0 = 6 > 0 so ReLU' = 1)
//   gwEnc[0] = 2/3·xc0 = (2, 2/3);  gbLat[0] = 2/3;  gxc0 = 2/3·wEnc[0] = (4/3, 0)
//   gbPre = Σ dL/dx̂ − Σ gxc = (2/3, −2/9) − (4/3, 0) = (−2/3, −2/9)
// Projection: gwDec[0] −= (gwDec[0]·wDec[0])·wDec[0] = (4, −4/3) − 4·(1, 0) = (0, −4/3).
// gradNorm² = (4 + 4/9) + 4/9 + 16/9 + (4/9 + 4/81) = 580/81.
// Adam, t = 1: m = 0.1·g, v = 0.001·g², so the update is lr·g/(|g| + ε) ≈ lr·sign(g) whatever the clip:
//   wEnc[0] = (2 − lr, −lr), bLat[0] = −lr, bPre = (0.5 + lr, 0.5 + lr), wDec[0] = (1, lr)/√(1 + lr²).
//
// With latent 2 dead (kAux = 1): h[·, 2] = 2 in both rows → za = 2, ê = 2·(0.6, 0.8) = (1.2, 1.6) per row.
//   e = x − x̂ = (−3, 1), (0, 0); ē = (−1.5, 0.5); denomA = (2.25 + 0.25)·2/4 = 1.25
//   (ê − e) = (4.2, 0.6), (1.2, 1.6) → mean square 22/4 = 5.5 → auxk = 5.5/1.25 = 4.4; loss = 10/9 + 4.4/32.
//   dL/dê = (1/32)·2(ê − e)/(4·1.25) = 0.0125·(ê − e) = (0.0525, 0.0075), (0.015, 0.02)
//   gwDec[2] = 2·Σ_rows = (0.135, 0.055) → projected: minus 0.125·(0.6, 0.8) = (0.06, −0.045)
//   gza = dL/dê·wDec[2] = 0.0375, 0.025 → gwEnc[2] = 0.0375·(3,1) + 0.025·(0,4) = (0.1125, 0.1375),
//   gbLat[2] = 0.0625, gbPre gets −(0.0375 + 0.025)·wEnc[2] = (−0.0625, −0.0625).
// ---------------------------------------------------------------------------------------------------------

function handParams(): SaeParams {
  return {
    d: 2,
    n: 3,
    wEncFD: f32([2, 0, 0, 1, 1, 1]),
    bLatF: f32([0, 0, -2]),
    wDecFD: f32([1, 0, 0, 1, 0.6, 0.8]),
    bPreD: f32([0.5, 0.5]),
  };
}
const HAND_X = f32([3.5, 1.5, 0.5, 4.5]);
const HAND_LR = 0.01;
const HAND_WINDOW = 10;

function handState(sinceFired: number[]): TrainState {
  return { params: handParams(), adam: zeroAdamState(2, 3), sinceFiredF: Float64Array.from(sinceFired) };
}

function handConfig(): ResolvedSaeConfig {
  return config({ d: 2, n: 3, k: 1, kAux: 1, lr: HAND_LR, deadWindow: HAND_WINDOW, batch: 2 });
}

describe("naive step: hand-set case", () => {
  it("forward and raw gradients with no dead latents", () => {
    const g = naiveGradients(handConfig(), handParams(), new Uint8Array(3), HAND_X);
    expect(g.nmse).toBeCloseTo(10 / 9, 12);
    expect(g.auxk).toBe(0);
    expect(g.loss).toBeCloseTo(10 / 9, 12);
    expect(Array.from(g.indicesBK)).toEqual([0, 1]);
    expect(g.auxIndicesBK).toBeUndefined();
    expectClose(g.grads.wEncFD, [2, 2 / 3, 0, 0, 0, 0]);
    expectClose(g.grads.bLatF, [2 / 3, 0, 0]);
    expectClose(g.grads.wDecFD, [4, -4 / 3, 0, 0, 0, 0]);
    expectClose(g.grads.bPreD, [-2 / 3, -2 / 9]);
  });

  it("one step: projected gradients, gradNorm, Adam update, renormalised decoder, tracker", () => {
    const state = handState([0, 0, 0]);
    const { stats, grads } = naiveStepInPlace(handConfig(), state, HAND_X);
    expect(stats.loss).toBeCloseTo(10 / 9, 12);
    expect(stats.nmse).toBeCloseTo(10 / 9, 12);
    expect(stats.auxk).toBe(0);
    expect(stats.deadFraction).toBe(0);
    expect(stats.gradNorm).toBeCloseTo(Math.sqrt(580) / 9, 6);
    // Returned gradients are after projection and before clipping (gradNorm ≈ 2.68 > gradClip = 1).
    expectClose(grads.wDecFD, [0, -4 / 3, 0, 0, 0, 0]);
    expectClose(grads.wEncFD, [2, 2 / 3, 0, 0, 0, 0]);

    const p = state.params;
    const lr = HAND_LR;
    expectClose(p.wEncFD, [2 - lr, -lr, 0, 1, 1, 1]);
    expectClose(p.bLatF, [-lr, 0, -2]);
    expectClose(p.bPreD, [0.5 + lr, 0.5 + lr]);
    const s = Math.sqrt(1 + lr * lr);
    expectClose(p.wDecFD, [1 / s, lr / s, 0, 1, 0.6, 0.8]);
    // m = (1 − β1)·coef·g with coef = 1/(gradNorm + 1e-6).
    const coef = 1 / (Math.sqrt(580) / 9 + 1e-6);
    expectClose(state.adam.m.wEncFD, [0.1 * coef * 2, (0.1 * coef * 2) / 3, 0, 0, 0, 0]);
    expectClose(state.adam.v.bLatF, [0.001 * (coef * (2 / 3)) ** 2, 0, 0], 9);
    expect(state.adam.t).toBe(1);
    expect(Array.from(state.sinceFiredF)).toEqual([0, 0, 2]);
  });

  it("with latent 2 dead: AuxK value and its gradients", () => {
    const dead = Uint8Array.from([0, 0, 1]);
    const g = naiveGradients(handConfig(), handParams(), dead, HAND_X);
    expect(g.nmse).toBeCloseTo(10 / 9, 12);
    expect(g.auxk).toBeCloseTo(4.4, 6);
    expect(g.loss).toBeCloseTo(10 / 9 + 4.4 / 32, 6);
    expect(g.nDead).toBe(1);
    expect(Array.from(g.auxIndicesBK!)).toEqual([2, 2]);
    expectClose(g.grads.wEncFD, [2, 2 / 3, 0, 0, 0.1125, 0.1375]);
    expectClose(g.grads.bLatF, [2 / 3, 0, 0.0625]);
    expectClose(g.grads.wDecFD, [4, -4 / 3, 0, 0, 0.135, 0.055]);
    expectClose(g.grads.bPreD, [-2 / 3 - 0.0625, -2 / 9 - 0.0625]);

    const state = handState([0, 0, HAND_WINDOW]);
    const { stats, grads } = naiveStepInPlace(handConfig(), state, HAND_X);
    expect(stats.deadFraction).toBeCloseTo(1 / 3, 12);
    expect(stats.auxk).toBeCloseTo(4.4, 6);
    expectClose(grads.wDecFD, [0, -4 / 3, 0, 0, 0.06, -0.045]);
    // The dead latent was not in the main top-k, so it keeps ageing.
    expect(Array.from(state.sinceFiredF)).toEqual([0, 0, HAND_WINDOW + 2]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// (b) Finite differences. Within a region where no top-k selection changes and no selected pre-activation
// crosses 0, the loss (with the AuxK residual held fixed, as detaching means) is a quadratic function of any
// single parameter, so central differences are exact up to rounding, in float64. Parameters are float32, so
// the step is the float32-rounded p ± ε and the difference quotient divides by the actual step.
// ---------------------------------------------------------------------------------------------------------

interface FdCase {
  name: string;
  d: number;
  n: number;
  k: number;
  kAux: number;
  b: number;
  dead: number[];
}

const FD_CASES: FdCase[] = [
  { name: "d=5 n=7 k=2 kAux=3, 4 dead (aux top-k selects)", d: 5, n: 7, k: 2, kAux: 3, b: 4, dead: [1, 3, 4, 6] },
  { name: "d=5 n=7 k=2 kAux=3, 2 dead (fewer than kAux)", d: 5, n: 7, k: 2, kAux: 3, b: 4, dead: [2, 5] },
  { name: "k=1 kAux=2 odd B, 1 dead", d: 5, n: 7, k: 1, kAux: 2, b: 5, dead: [4] },
  { name: "k=2 no dead latents", d: 3, n: 6, k: 2, kAux: 4, b: 3, dead: [] },
];

/** Perturbation of one parameter; h moves by at most ε·max(|xc|, |wEnc|, 1) ≪ MARGIN. */
const FD_EPS = 1e-3;
/** Every top-k boundary gap and every selected |h| must exceed this for the selection to be stable. */
const MARGIN = 0.05;

function randomParams(rng: Rng, d: number, n: number): SaeParams {
  const wDecFD = rng.fillNormalInPlace(new Float32Array(n * d));
  const norms = rowNorms(wDecFD, n, d);
  for (let j = 0; j < n; j++) for (let i = 0; i < d; i++) wDecFD[j * d + i]! /= norms[j]!;
  return {
    d,
    n,
    wEncFD: rng.fillNormalInPlace(new Float32Array(n * d), 0, 0.7),
    bLatF: rng.fillNormalInPlace(new Float32Array(n), 0, 0.3),
    wDecFD,
    bPreD: rng.fillNormalInPlace(new Float32Array(d), 0, 0.2),
  };
}

/** Independent float64 pre-activations, to check the margins before trusting finite differences. */
function preActs(p: SaeParams, xBD: Float32Array, b: number): number[][] {
  const rows: number[][] = [];
  for (let r = 0; r < b; r++) {
    const h: number[] = [];
    for (let j = 0; j < p.n; j++) {
      let acc = p.bLatF[j]!;
      for (let i = 0; i < p.d; i++) acc += (xBD[r * p.d + i]! - p.bPreD[i]!) * p.wEncFD[j * p.d + i]!;
      h.push(acc);
    }
    rows.push(h);
  }
  return rows;
}

/** True when a top-`k` of `values` has a clear boundary and no chosen value near 0. */
function stableTopK(values: number[], k: number): boolean {
  const sorted = [...values].sort((a, b) => b - a);
  if (sorted.length > k && sorted[k - 1]! - sorted[k]! < MARGIN) return false;
  return sorted.slice(0, k).every((v) => Math.abs(v) > MARGIN);
}

/** First seed whose random setup has stable selections (deterministic). */
function stableSetup(c: FdCase): { params: SaeParams; xBD: Float32Array } {
  for (let seed = 0; seed < 1000; seed++) {
    const rng = new Rng(seed);
    const params = randomParams(rng, c.d, c.n);
    const xBD = rng.fillNormalInPlace(new Float32Array(c.b * c.d));
    const ok = preActs(params, xBD, c.b).every(
      (h) =>
        stableTopK(h, c.k) &&
        (c.dead.length === 0 || stableTopK(c.dead.map((j) => h[j]!), Math.min(c.kAux, c.dead.length))),
    );
    if (ok) return { params, xBD };
  }
  throw new Error(`no stable seed for ${c.name}`);
}

describe("naive gradients match finite differences", () => {
  it.each(FD_CASES)("$name", (c) => {
    const cfg = config({ d: c.d, n: c.n, k: c.k, kAux: c.kAux, batch: c.b });
    const { params, xBD } = stableSetup(c);
    const deadMaskF = new Uint8Array(c.n);
    for (const j of c.dead) deadMaskF[j] = 1;
    const g = naiveGradients(cfg, params, deadMaskF, xBD);
    if (c.dead.length > 0) expect(g.auxk).toBeGreaterThan(0);
    const base = cloneParams(params);
    let checked = 0;
    for (const name of PARAM_NAMES) {
      const buf = params[name];
      const grad = g.grads[name];
      let scale = 0;
      for (const v of grad) scale = Math.max(scale, Math.abs(v));
      for (let q = 0; q < buf.length; q++) {
        const orig = buf[q]!;
        buf[q] = orig + FD_EPS;
        const up = buf[q]!;
        const lossUp = naiveLoss(cfg, params, deadMaskF, xBD, base).loss;
        buf[q] = orig - FD_EPS;
        const down = buf[q]!;
        const lossDown = naiveLoss(cfg, params, deadMaskF, xBD, base).loss;
        buf[q] = orig;
        const fd = (lossUp - lossDown) / (up - down);
        expect(Math.abs(fd - grad[q]!), `${name}[${q}]: fd ${fd} vs backprop ${grad[q]}`).toBeLessThan(
          1e-5 * Math.abs(grad[q]!) + 1e-6 * scale + 1e-9,
        );
        checked++;
      }
    }
    expect(checked).toBe(2 * c.n * c.d + c.n + c.d);
    // The check perturbed and restored every value: the parameters are bit-identical again.
    for (const name of PARAM_NAMES) expect(params[name]).toEqual(base[name]);
  });

  it("without holding e fixed, finite differences would see the (detached) AuxK residual", () => {
    // Guards the test's premise: detaching matters, so a check that ignored it could not pass.
    const c = FD_CASES[0]!;
    const cfg = config({ d: c.d, n: c.n, k: c.k, kAux: c.kAux, batch: c.b });
    const { params, xBD } = stableSetup(c);
    const deadMaskF = new Uint8Array(c.n);
    for (const j of c.dead) deadMaskF[j] = 1;
    const base = cloneParams(params);
    params.bPreD[0] = params.bPreD[0]! + FD_EPS;
    const held = naiveLoss(cfg, params, deadMaskF, xBD, base).auxk;
    const moved = naiveLoss(cfg, params, deadMaskF, xBD).auxk;
    expect(Math.abs(held - moved)).toBeGreaterThan(1e-8);
  });
});

// ---------------------------------------------------------------------------------------------------------
// (c) Invariants of a step, and (d) AuxK edge cases, on random data.
// ---------------------------------------------------------------------------------------------------------

function randomState(seed: number, d: number, n: number, b: number): { state: TrainState; xBD: Float32Array } {
  const rng = new Rng(seed);
  const params = randomParams(rng, d, n);
  const xBD = rng.fillNormalInPlace(new Float32Array(b * d));
  return { state: { params, adam: zeroAdamState(d, n), sinceFiredF: new Float64Array(n) }, xBD };
}

function cloneState(s: TrainState): TrainState {
  return { params: cloneParams(s.params), adam: cloneAdamState(s.adam), sinceFiredF: s.sinceFiredF.slice() };
}

function sumSquares(g: SaeGradients): number {
  let acc = 0;
  for (const name of PARAM_NAMES) for (const v of g[name]) acc += v * v;
  return acc;
}

describe("naive step invariants", () => {
  const d = 6;
  const n = 10;
  const b = 8;

  it("decoder rows are unit norm, t increments, the batch is not mutated", () => {
    const { state, xBD } = randomState(1, d, n, b);
    const xCopy = xBD.slice();
    const cfg = config({ d, n, k: 3, batch: b, lr: 0.05 });
    for (let s = 1; s <= 3; s++) {
      naiveStepInPlace(cfg, state, xBD);
      expect(state.adam.t).toBe(s);
      for (const r of rowNorms(state.params.wDecFD, n, d)) expect(r).toBeCloseTo(1, 6);
    }
    expect(xBD).toEqual(xCopy);
  });

  it("the returned decoder gradient is orthogonal to each decoder row it was projected against", () => {
    const { state, xBD } = randomState(2, d, n, b);
    const before = state.params.wDecFD.slice();
    const { grads } = naiveStepInPlace(config({ d, n, k: 3, batch: b }), state, xBD);
    for (let j = 0; j < n; j++) {
      let along = 0;
      for (let i = 0; i < d; i++) along += grads.wDecFD[j * d + i]! * before[j * d + i]!;
      expect(Math.abs(along)).toBeLessThan(1e-6);
    }
  });

  it("stats.gradNorm is the norm of the returned (projected, unclipped) gradients", () => {
    const { state, xBD } = randomState(3, d, n, b);
    const { stats, grads } = naiveStepInPlace(config({ d, n, k: 3, batch: b }), state, xBD);
    expect(stats.gradNorm).toBeCloseTo(Math.sqrt(sumSquares(grads)), 6);
  });

  it("clips: the first moment after one step has norm (1 − β1)·min(gradNorm, gradClip)", () => {
    for (const gradClip of [1e-3, 1e3]) {
      const { state, xBD } = randomState(4, d, n, b);
      const { stats } = naiveStepInPlace(config({ d, n, k: 3, batch: b, gradClip }), state, xBD);
      expect(stats.gradNorm).toBeGreaterThan(1e-3);
      expect(stats.gradNorm).toBeLessThan(1e3);
      const mNorm = Math.sqrt(sumSquares(state.adam.m));
      const clipped = Math.min(stats.gradNorm, (gradClip * stats.gradNorm) / (stats.gradNorm + 1e-6));
      expect(mNorm / (0.1 * clipped)).toBeCloseTo(1, 5);
    }
  });

  it("a tiny clip shrinks the step below lr (the gradient falls under Adam's ε)", () => {
    const lr = 0.01;
    const moved = (gradClip: number): number => {
      const { state, xBD } = randomState(5, d, n, b);
      const before = state.params.wEncFD.slice();
      naiveStepInPlace(config({ d, n, k: 3, batch: b, lr, gradClip }), state, xBD);
      let max = 0;
      for (let q = 0; q < before.length; q++) max = Math.max(max, Math.abs(state.params.wEncFD[q]! - before[q]!));
      return max;
    };
    expect(moved(1)).toBeCloseTo(lr, 6); // first Adam step: |Δp| = lr·|g|/(|g| + ε) ≈ lr
    expect(moved(1e-12)).toBeLessThan(lr * 1e-2);
  });

  it("a parameter with zero gradient still moves when its moments are non-zero (Adam decay)", () => {
    const { state, xBD } = randomState(6, d, n, b);
    const cfg = config({ d, n, k: 3, batch: b, lr: 0.01 });
    // Latent j's bias is so low that it is in nobody's top-k: its latent-bias gradient is exactly 0.
    const j = 4;
    state.params.bLatF[j] = -100;
    const probe = naiveGradients(cfg, state.params, new Uint8Array(n), xBD);
    expect(probe.indicesBK).not.toContain(j);
    expect(probe.grads.bLatF[j]).toBe(0);
    state.adam.t = 4;
    state.adam.m.bLatF[j] = 0.02;
    state.adam.v.bLatF[j] = 1e-4;
    const p0 = state.params.bLatF[j]!;
    naiveStepInPlace(cfg, state, xBD);
    const t = 5;
    const m = Math.fround(0.9 * Math.fround(0.02));
    const v = Math.fround(0.999 * Math.fround(1e-4));
    expect(state.adam.m.bLatF[j]).toBe(m);
    expect(state.adam.v.bLatF[j]).toBe(v);
    const expected = p0 - ((0.01 / (1 - 0.9 ** t)) * m) / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** t) + 1e-8);
    expect(state.params.bLatF[j]).toBe(Math.fround(expected)); // the same float64 formula, stored as float32
    expect(state.params.bLatF[j]).not.toBe(p0);
  });

  it("tracker: fired latents reset to 0, the others age by B; deadFraction is read before the update", () => {
    const { state, xBD } = randomState(7, d, n, b);
    const window = 20;
    const cfg = config({ d, n, k: 2, kAux: 3, batch: b, deadWindow: window });
    state.sinceFiredF.set([0, 5, window, window + 3, 0, 19, 1, window, 2, 0]);
    const before = state.sinceFiredF.slice();
    const mask = Uint8Array.from(before, (s) => (s >= window ? 1 : 0));
    const fired = new Set(naiveGradients(cfg, state.params, mask, xBD).indicesBK);
    const { stats } = naiveStepInPlace(cfg, state, xBD);
    expect(stats.deadFraction).toBeCloseTo(3 / n, 12);
    for (let j = 0; j < n; j++) {
      expect(state.sinceFiredF[j]).toBe(fired.has(j) ? 0 : before[j]! + b);
    }
  });

  it("rejects a one-row batch, a ragged batch and mismatched shapes with clear messages", () => {
    const { state, xBD } = randomState(8, d, n, b);
    const cfg = config({ d, n, k: 3, batch: b });
    expect(() => naiveStepInPlace(cfg, state, xBD.slice(0, d))).toThrow(/at least 2 rows/);
    expect(() => naiveStepInPlace(cfg, state, xBD.slice(0, d + 1))).toThrow(SaerchError);
    expect(() => naiveStepInPlace(config({ d, n: n + 1, k: 3 }), state, xBD)).toThrow(/config says/);
    const nan = xBD.slice();
    nan[d + 2] = Number.NaN;
    expect(() => naiveStepInPlace(cfg, state, nan)).toThrow(/row 1 has a non-finite value/);
    expect(state.adam.t).toBe(0); // nothing was applied
  });
});

describe("AuxK", () => {
  const d = 6;
  const n = 12;
  const b = 8;

  it("is exactly 0 with no dead latents, and with kAux = 0", () => {
    const { state, xBD } = randomState(10, d, n, b);
    expect(naiveLoss(config({ d, n, k: 2 }), state.params, new Uint8Array(n), xBD).auxk).toBe(0);
    const allDead = new Uint8Array(n).fill(1);
    const off = naiveLoss(config({ d, n, k: 2, kAux: 0 }), state.params, allDead, xBD);
    expect(off.auxk).toBe(0);
    expect(off.loss).toBe(off.nmse);
  });

  it("is positive with dead latents and enters the loss with weight auxCoef", () => {
    const { state, xBD } = randomState(11, d, n, b);
    const dead = new Uint8Array(n);
    dead.set([1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1]);
    const l = naiveLoss(config({ d, n, k: 2, kAux: 4, auxCoef: 0.25 }), state.params, dead, xBD);
    expect(l.auxk).toBeGreaterThan(0);
    expect(l.loss).toBeCloseTo(l.nmse + 0.25 * l.auxk, 12);
  });

  it("with fewer dead latents than kAux it equals kAux = nDead (the −∞ padding contributes nothing)", () => {
    const { state, xBD } = randomState(12, d, n, b);
    const dead = new Uint8Array(n);
    dead[3] = 1;
    dead[9] = 1;
    const wide = naiveGradients(config({ d, n, k: 2, kAux: 5 }), state.params, dead, xBD);
    const exact = naiveGradients(config({ d, n, k: 2, kAux: 2 }), state.params, dead, xBD);
    expect(wide.auxk).toBeGreaterThan(0);
    expect(wide.auxk).toBe(exact.auxk);
    for (const name of PARAM_NAMES) expect(wide.grads[name]).toEqual(exact.grads[name]);
    // Only dead latents (3 and 9) and the main selection receive encoder gradient.
    const main = new Set(wide.indicesBK);
    for (let j = 0; j < n; j++) {
      if (!main.has(j) && j !== 3 && j !== 9) expect(wide.grads.bLatF[j]).toBe(0);
    }
  });
});

describe("NaiveTrainStep", () => {
  it("matches naiveStepInPlace, never aliases the caller's state, and returns copies", async () => {
    const d = 5;
    const n = 9;
    const b = 6;
    const { state, xBD } = randomState(20, d, n, b);
    const cfg = config({ d, n, k: 2, kAux: 3, batch: b, deadWindow: 6 });
    const initial = cloneState(state);
    const engine = new NaiveTrainStep(cfg, state);
    expect(engine.engine).toBe("naive");
    const reference = cloneState(state);
    for (let s = 0; s < 3; s++) {
      const stats = await engine.step(xBD);
      expect(stats).toEqual(naiveStepInPlace(cfg, reference, xBD).stats);
    }
    const out = await engine.state();
    expect(out).toEqual(reference);
    expect(state).toEqual(initial); // the constructor copied its input
    out.params.wEncFD.fill(0);
    out.sinceFiredF.fill(0);
    expect(await engine.state()).toEqual(reference);
    await engine.close();
  });

  it("rejects a state whose shapes disagree with the config", () => {
    const { state } = randomState(21, 4, 6, 2);
    expect(() => new NaiveTrainStep(config({ d: 4, n: 7, k: 2 }), state)).toThrow(/config says/);
    state.sinceFiredF = new Float64Array(5);
    expect(() => new NaiveTrainStep(config({ d: 4, n: 6, k: 2 }), state)).toThrow(/sinceFiredF/);
  });
});
