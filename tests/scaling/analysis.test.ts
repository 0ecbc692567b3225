import { describe, expect, it } from "vitest";
import { fitSweep, paperAlphas, standardSplittingPairs } from "../../src/scaling/analysis.js";
import type { SweepRecord } from "../../src/scaling/sweep.js";

/** A grid cell with NMSE = 2 · n^(−0.2) · k^(−0.1) exactly, FLOPs = 1000 · n. */
function cell(domain: string, n: number, k: number): SweepRecord {
  const nmse = 2 * n ** -0.2 * k ** -0.1;
  return {
    domain, n, k, d: 8, runDir: "", trainRows: 10, heldOutRows: 2, nmseTrain: nmse, nmseHeldOut: nmse, cosineHeldOut: 1,
    deadFraction: 0, steps: 1, examples: 1, flopsPaper: 1000 * n, flopsEngine: 0, seconds: 0, density: [],
    curve: { step: [], examples: [], nmse: [] },
  };
}
const grid = (domain: string) => [16, 32, 64].flatMap((n) => [2, 4].map((k) => cell(domain, n, k)));

describe("fitSweep", () => {
  it("recovers the exponent per k, the joint coefficients and the compute law on exact data", () => {
    const [f] = fitSweep(grid("a"), { bootstrap: 50, seed: 0 });
    expect(f!.domain).toBe("a");
    expect(f!.size.map((s) => s.k)).toEqual([2, 4]);
    for (const s of f!.size) expect(s.fit.alpha).toBeCloseTo(0.2, 9);
    // log y = log 2 − 0.2 log n − 0.1 log k + 0 · log n log k
    expect(f!.joint!.coef[0]).toBeCloseTo(Math.log(2), 9);
    expect(f!.joint!.coef[1]).toBeCloseTo(-0.2, 9);
    expect(f!.joint!.coef[2]).toBeCloseTo(-0.1, 9);
    expect(f!.joint!.coef[3]).toBeCloseTo(0, 9);
    for (const c of f!.compute) expect(c.fit.beta).toBeCloseTo(0.2, 9);
  });

  it("skips the joint fit below 5 cells and k values with a single size", () => {
    const [f] = fitSweep([cell("a", 16, 2), cell("a", 32, 2), cell("a", 16, 4)], { bootstrap: 0 });
    expect(f!.joint).toBeUndefined();
    expect(f!.size.map((s) => s.k)).toEqual([2]);
  });
});

describe("paperAlphas", () => {
  it("fits the paper's own numbers (k = 32 from its end points: ln(0.175/0.146)/ln 4)", () => {
    const k32 = paperAlphas().find((p) => p.k === 32)!;
    expect(k32.alpha).toBeCloseTo(Math.log(0.175 / 0.146) / Math.log(4), 9);
    expect(k32.points).toBe(2);
  });
});

describe("standardSplittingPairs", () => {
  it("pairs the diagonal, neighbouring sizes at the middle k and neighbouring k at the middle n", () => {
    const rs = [16, 32, 64].flatMap((n) => [2, 4, 8].map((k) => cell("a", n, k)));
    expect(standardSplittingPairs(rs, "a").map((p) => p.label)).toEqual([
      "diagonal: n=16, k=2 → n=32, k=4",
      "diagonal: n=16, k=2 → n=64, k=8",
      "diagonal: n=32, k=4 → n=64, k=8",
      "same k: n=16, k=4 → n=32, k=4",
      "same k: n=32, k=4 → n=64, k=4",
      "same n: n=32, k=2 → n=32, k=4",
      "same n: n=32, k=4 → n=32, k=8",
    ]);
  });
});
