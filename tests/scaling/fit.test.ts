/**
 * Tests for the scaling-law fits (METHOD.md §3): exact synthetic power laws with known exponents, a hand-derived
 * 3-point example, seeded noisy data with golden bootstrap intervals, the joint (n, k) model, and bad input.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { fitComputeLaw, fitJoint, fitPowerLaw, predict, predictJoint } from "../../src/scaling/fit.js";

/** x = 1024 … 8192 in steps of 2^(1/2): 7 points. */
const X_EXACT = Array.from({ length: 7 }, (_, i) => 1024 * 2 ** (i / 2));
const C_TRUE = 3;
const ALPHA_TRUE = 0.15;
/** Multiplicative noise: y · exp(σ · N(0, 1)). */
const NOISE_SIGMA = 0.02;

/** x = 1024 · 2^(i/3), i = 0..p−1, y = c·x^(−α)·exp(σ·z) with z from `rng`. */
function noisyPowerLaw(rng: Rng, p: number): { x: number[]; y: number[] } {
  const x = Array.from({ length: p }, (_, i) => 1024 * 2 ** (i / 3));
  const y = x.map((xi) => C_TRUE * xi ** -ALPHA_TRUE * Math.exp(NOISE_SIGMA * rng.normal()));
  return { x, y };
}

describe("fitPowerLaw", () => {
  it("recovers c and α exactly from y = 3·x^−0.15 on x = 1024 … 8192", () => {
    const y = X_EXACT.map((x) => C_TRUE * x ** -ALPHA_TRUE);
    const fit = fitPowerLaw(X_EXACT, y);
    expect(Math.abs(fit.c - C_TRUE)).toBeLessThan(1e-9);
    expect(Math.abs(fit.alpha - ALPHA_TRUE)).toBeLessThan(1e-9);
    expect(fit.r2).toBeCloseTo(1, 12);
    expect(fit.n).toBe(7);
    for (const r of fit.residuals) expect(Math.abs(r)).toBeLessThan(1e-12);
    // Every resample of exact data lies on the same line, so the interval collapses onto the truth.
    expect(fit.ci!.alpha[0]).toBeCloseTo(ALPHA_TRUE, 9);
    expect(fit.ci!.alpha[1]).toBeCloseTo(ALPHA_TRUE, 9);
    expect(predict(fit, 2048)).toBeCloseTo(C_TRUE * 2048 ** -ALPHA_TRUE, 12);
    expect(Array.from(predict(fit, [1024, 4096]))).toEqual([
      expect.closeTo(C_TRUE * 1024 ** -ALPHA_TRUE, 12),
      expect.closeTo(C_TRUE * 4096 ** -ALPHA_TRUE, 12),
    ]);
  });

  it("hand-checked 3-point fit", () => {
    // x = 1, 2, 4 and y = 2, 1, 1. With L = ln 2: u = ln x = 0, L, 2L and v = ln y = L, 0, 0.
    // ū = L, v̄ = L/3; Suu = L² + 0 + L² = 2L²; Suv = (−L)(2L/3) + 0 + (L)(−L/3) = −L².
    // slope = Suv/Suu = −1/2 → α = 1/2; intercept = v̄ − slope·ū = L/3 + L/2 = 5L/6 → c = 2^(5/6).
    // fitted v = 5L/6, L/3, −L/6 → residuals L/6, −L/3, L/6; RSS = L²(1 + 4 + 1)/36 = L²/6;
    // TSS = (2L/3)² + 2(L/3)² = 2L²/3 → r2 = 1 − (L²/6)/(2L²/3) = 1 − 1/4 = 3/4.
    const fit = fitPowerLaw([1, 2, 4], [2, 1, 1], { bootstrap: 200, seed: 1 });
    const L = Math.LN2;
    expect(fit.alpha).toBeCloseTo(0.5, 14);
    expect(fit.c).toBeCloseTo(2 ** (5 / 6), 14);
    expect(fit.r2).toBeCloseTo(0.75, 14);
    expect(Array.from(fit.residuals)).toEqual([
      expect.closeTo(L / 6, 14),
      expect.closeTo(-L / 3, 14),
      expect.closeTo(L / 6, 14),
    ]);
    // 3 distinct x: a draw repeats one point with probability 3·(1/3)^3 = 1/9, so some draws are skipped.
    expect(fit.ci!.resamples).toBe(200);
    expect(fit.ci!.skipped).toBeGreaterThan(0);
    expect(fit.ci!.level).toBe(0.95);
  });

  it("noisy data: true α inside the 95 % bootstrap CI, golden interval for a fixed seed", () => {
    const { x, y } = noisyPowerLaw(new Rng(7), 12);
    const xF32 = Float32Array.from(x);
    const before = Array.from(xF32);
    const fit = fitPowerLaw(xF32, y, { seed: 11 });
    expect(Array.from(xF32)).toEqual(before);
    const ci = fit.ci!;
    expect(ci.alpha[0]).toBeLessThan(ALPHA_TRUE);
    expect(ci.alpha[1]).toBeGreaterThan(ALPHA_TRUE);
    expect(ci.c[0]).toBeLessThan(C_TRUE);
    expect(ci.c[1]).toBeGreaterThan(C_TRUE);
    // Golden values for noise Rng(7) and bootstrap seed 11 (recorded from this implementation; they depend only on
    // the seeded Rng stream and float64 log/exp, so they hold to ~1e-12 on any Node).
    expect(fit.alpha).toBeCloseTo(0.14152726252763703, 12);
    expect(fit.c).toBeCloseTo(2.8107282913859213, 12);
    expect(fit.r2).toBeCloseTo(0.9787777493496568, 12);
    expect(ci.alpha[0]).toBeCloseTo(0.1296772907192661, 12);
    expect(ci.alpha[1]).toBeCloseTo(0.15446216169513058, 12);
    expect(ci.c[0]).toBeCloseTo(2.558763262898001, 12);
    expect(ci.c[1]).toBeCloseTo(3.110720134856781, 12);
    expect(ci.resamples).toBe(1000);
    expect(ci.skipped).toBe(0);
    // Same seed → the same interval; another seed → a different one.
    const again = fitPowerLaw(xF32, y, { seed: 11 });
    expect(again.ci).toEqual(ci);
    expect(fitPowerLaw(xF32, y, { seed: 12 }).ci!.alpha).not.toEqual(ci.alpha);
    // A 50 % interval is nested inside the 95 % one.
    const narrow = fitPowerLaw(xF32, y, { seed: 11, ci: 0.5 }).ci!;
    expect(narrow.alpha[0]).toBeGreaterThan(ci.alpha[0]);
    expect(narrow.alpha[1]).toBeLessThan(ci.alpha[1]);
  });

  it("95 % intervals cover the true α in most of 200 seeded noisy data sets", () => {
    const rng = new Rng("coverage");
    let covered = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      const { x, y } = noisyPowerLaw(rng, 12);
      const ci = fitPowerLaw(x, y, { bootstrap: 400, seed: t }).ci!;
      if (ci.alpha[0] <= ALPHA_TRUE && ALPHA_TRUE <= ci.alpha[1]) covered++;
    }
    // Measured 0.91 (percentile intervals from 12 points run a little narrow).
    expect(covered / trials).toBeGreaterThan(0.85);
  });

  it("2 points: exact line, no CI; bootstrap 0: no CI", () => {
    const fit = fitPowerLaw([1000, 4000], [0.2, 0.1]);
    expect(fit.alpha).toBeCloseTo(0.5, 14); // 0.1/0.2 = (4000/1000)^−α → α = ln 2 / ln 4
    expect(fit.ci).toBeUndefined();
    expect(fit.r2).toBe(1);
    expect(fitPowerLaw(X_EXACT, X_EXACT, { bootstrap: 0 }).ci).toBeUndefined();
  });

  it("constant y fits α = 0 with r2 = 1", () => {
    const fit = fitPowerLaw([1, 2, 3], [5, 5, 5], { bootstrap: 0 });
    expect(Object.is(fit.alpha, 0)).toBe(true);
    expect(fit.c).toBeCloseTo(5, 14);
    expect(fit.r2).toBe(1);
  });
});

describe("fitComputeLaw", () => {
  it("is fitPowerLaw with the compute law's names", () => {
    const flops = [1e12, 3e12, 1e13, 3e13, 1e14];
    const y = flops.map((f) => 40 * f ** -0.13);
    const fit = fitComputeLaw(flops, y, { seed: 3, bootstrap: 100 });
    expect(fit.beta).toBeCloseTo(0.13, 12);
    expect(fit.a).toBeCloseTo(40, 9);
    const base = fitPowerLaw(flops, y, { seed: 3, bootstrap: 100 });
    expect(fit.ci!.beta).toEqual(base.ci!.alpha);
    expect(fit.ci!.a).toEqual(base.ci!.c);
    expect(predict(fit, 2e13)).toBeCloseTo(40 * 2e13 ** -0.13, 12);
  });

  it("errors name flops", () => {
    expect(() => fitComputeLaw([1e12, 0], [0.2, 0.1])).toThrow("fitComputeLaw: flops[1] = 0");
    expect(() => fitComputeLaw([1e12, 1e12], [0.2, 0.1])).toThrow("all flops values are equal");
  });
});

describe("fitPowerLaw bad input", () => {
  const cases: [string, () => unknown, string][] = [
    ["one point", () => fitPowerLaw([1], [1]), "fitPowerLaw: needs at least 2 points, got 1"],
    ["no points", () => fitPowerLaw([], []), "needs at least 2 points, got 0"],
    ["length mismatch", () => fitPowerLaw([1, 2, 3], [1, 2]), "length mismatch, x has 3 values but y has 2"],
    ["zero x", () => fitPowerLaw([1, 0, 3], [1, 2, 3]), "x[1] = 0 is not a finite positive number"],
    ["negative y", () => fitPowerLaw([1, 2, 3], [1, 2, -3]), "y[2] = -3 is not a finite positive number"],
    ["NaN y", () => fitPowerLaw([1, 2], [Number.NaN, 1]), "y[0] = NaN is not a finite positive number"],
    ["infinite x", () => fitPowerLaw([1, Infinity], [1, 1]), "x[1] = Infinity is not a finite positive"],
    ["all x equal", () => fitPowerLaw([5, 5, 5], [1, 2, 3]), "all x values are equal (5)"],
    ["bad bootstrap", () => fitPowerLaw([1, 2], [1, 2], { bootstrap: 1.5 }), "bootstrap must be"],
    ["bad ci", () => fitPowerLaw([1, 2], [1, 2], { ci: 95 }), "ci must be a confidence level in (0, 1)"],
  ];
  it.each(cases)("%s", (_name, call, message) => {
    expect(call).toThrow(SaerchError);
    expect(call).toThrow(message);
  });
});

describe("fitJoint", () => {
  const K_GRID = [16, 32, 64, 128];
  const N_GRID = [2, 3, 4, 6, 8].map((m) => m * 512);
  const B_TRUE = [1.2, -0.25, -0.4, 0.015] as const;
  const nP = K_GRID.flatMap(() => N_GRID);
  const kP = K_GRID.flatMap((k) => N_GRID.map(() => k));
  const logModel = (n: number, k: number): number =>
    B_TRUE[0] + B_TRUE[1] * Math.log(n) + B_TRUE[2] * Math.log(k) + B_TRUE[3] * Math.log(n) * Math.log(k);

  it("recovers b0..b3 exactly on exact data over the 4 × 5 grid", () => {
    const yP = nP.map((n, i) => Math.exp(logModel(n, kP[i]!)));
    const fit = fitJoint(nP, kP, yP);
    for (let j = 0; j < 4; j++) expect(Math.abs(fit.coef[j]! - B_TRUE[j]!)).toBeLessThan(1e-9);
    expect(fit.r2).toBeCloseTo(1, 12);
    expect(fit.n).toBe(20);
    expect(fit.dof).toBe(16);
    expect(fit.sigma).toBeLessThan(1e-12);
    expect(predictJoint(fit, 5000, 48)).toBeCloseTo(Math.exp(logModel(5000, 48)), 10);
  });

  it("noisy data: standard errors match the spread of the estimates over 300 seeded replicates", () => {
    const rng = new Rng(2024);
    const replicates = 300;
    const sigma = 0.01;
    const estimates: number[][] = [[], [], [], []];
    const ses: number[][] = [[], [], [], []];
    let within2se = 0;
    for (let r = 0; r < replicates; r++) {
      const yP = nP.map((n, i) => Math.exp(logModel(n, kP[i]!) + sigma * rng.normal()));
      const fit = fitJoint(nP, kP, yP);
      for (let j = 0; j < 4; j++) {
        estimates[j]!.push(fit.coef[j]!);
        ses[j]!.push(fit.se[j]!);
        if (Math.abs(fit.coef[j]! - B_TRUE[j]!) < 2 * fit.se[j]!) within2se++;
      }
    }
    for (let j = 0; j < 4; j++) {
      const est = estimates[j]!;
      const m = est.reduce((a, b) => a + b, 0) / replicates;
      const sd = Math.sqrt(est.reduce((a, b) => a + (b - m) ** 2, 0) / (replicates - 1));
      const meanSe = ses[j]!.reduce((a, b) => a + b, 0) / replicates;
      // Measured meanSe / sd ≈ 0.94 for every coefficient (E[σ̂] < σ and 300 replicates of sampling error).
      expect(Math.abs(m - B_TRUE[j]!)).toBeLessThan(4 * sd / Math.sqrt(replicates));
      expect(meanSe / sd).toBeGreaterThan(0.85);
      expect(meanSe / sd).toBeLessThan(1.15);
    }
    // |b̂ − b| < 2·se holds with probability ≈ 0.94 for t with 16 degrees of freedom; measured 0.926.
    expect(within2se / (4 * replicates)).toBeGreaterThan(0.9);
  });

  const cases: [string, () => unknown, string][] = [
    ["4 points", () => fitJoint([1, 2, 1, 2], [1, 1, 2, 2], [1, 2, 3, 4]), "needs at least 5 points"],
    ["length mismatch", () => fitJoint([1, 2, 3, 4, 5], [1, 2, 3, 4], [1, 2, 3, 4, 5]), "n has 5 values but k has 4"],
    ["one n", () => fitJoint([8, 8, 8, 8, 8], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]), "2 distinct n values, got only n = 8"],
    ["one k", () => fitJoint([1, 2, 3, 4, 5], [4, 4, 4, 4, 4], [1, 2, 3, 4, 5]), "2 distinct k values, got only k = 4"],
    ["zero y", () => fitJoint([1, 2, 3, 4, 5], [1, 2, 1, 2, 1], [1, 2, 0, 4, 5]), "y[2] = 0 is not"],
    [
      "interaction not identifiable (an L of 3 grid cells)",
      () => fitJoint([2, 2, 4, 2, 4], [2, 4, 2, 2, 2], [1, 2, 3, 4, 5]),
      "rank-deficient, the log n · log k column",
    ],
  ];
  it.each(cases)("bad input: %s", (_name, call, message) => {
    expect(call).toThrow(SaerchError);
    expect(call).toThrow(message);
  });
});
