import { describe, expect, it } from "vitest";
import { pcaFit, pcaProject } from "../../src/core/pca.js";
import { Rng } from "../../src/core/rng.js";

/**
 * Data with known principal axes: x = 3·a·u + 2·b·v + 0.3·e + offset, a, b, e standard normal, u ⟂ v unit.
 * The top components are ±u (variance 9 + 0.09) and ±v (variance 4 + 0.09).
 */
function synthetic(n: number, d: number, seed: number): { xND: Float32Array; u: Float64Array; v: Float64Array } {
  const rng = new Rng(seed);
  const u = new Float64Array(d);
  const v = new Float64Array(d);
  u[0] = Math.SQRT1_2;
  u[1] = Math.SQRT1_2;
  v[2] = 1;
  const xND = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    const a = rng.normal();
    const b = rng.normal();
    for (let i = 0; i < d; i++) xND[r * d + i] = 3 * a * u[i]! + 2 * b * v[i]! + 0.3 * rng.normal() + 5;
  }
  return { xND, u, v };
}

const absCos = (row: Float32Array, dir: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < dir.length; i++) s += row[i]! * dir[i]!;
  return Math.abs(s);
};

describe("pcaFit", () => {
  it("recovers known principal directions and variances on an awkward size", () => {
    const n = 4001;
    const d = 7;
    const { xND, u, v } = synthetic(n, d, 11);
    const pca = pcaFit(xND, n, d, { components: 2, seed: 1 });
    expect(absCos(pca.componentsCD.subarray(0, d), u)).toBeGreaterThan(0.999);
    expect(absCos(pca.componentsCD.subarray(d, 2 * d), v)).toBeGreaterThan(0.999);
    expect(pca.varianceC[0]).toBeCloseTo(9.09, 0);
    expect(pca.varianceC[1]).toBeCloseTo(4.09, 0);
    expect(pca.totalVariance).toBeCloseTo(9 + 4 + 7 * 0.09, 0);
    for (let i = 0; i < d; i++) expect(pca.meanD[i]).toBeCloseTo(5, 0);
  });

  it("is deterministic for a seed and does not mutate its input", () => {
    const { xND } = synthetic(300, 5, 2);
    const copy = xND.slice();
    const a = pcaFit(xND, 300, 5, { seed: 3 });
    const b = pcaFit(xND, 300, 5, { seed: 3 });
    expect(Array.from(a.componentsCD)).toEqual(Array.from(b.componentsCD));
    expect(xND).toEqual(copy);
  });

  it("rejects too few rows or columns", () => {
    expect(() => pcaFit(new Float32Array(3), 1, 3)).toThrow(/N ≥ 2/);
    expect(() => pcaFit(new Float32Array(4), 4, 1)).toThrow(/D ≥ 2/);
  });
});

describe("pcaProject", () => {
  it("centres, then takes dot products with the components (hand-set case)", () => {
    // Components e1 and e2 in 3-D, mean (1, 1, 1): (2, 3, 4) → (1, 2).
    const pca = {
      components: 2,
      dim: 3,
      meanD: new Float32Array([1, 1, 1]),
      componentsCD: new Float32Array([1, 0, 0, 0, 1, 0]),
      varianceC: new Float64Array([1, 1]),
      totalVariance: 2,
    };
    expect(Array.from(pcaProject(new Float32Array([2, 3, 4, 1, 1, 1]), 2, pca))).toEqual([1, 2, 0, 0]);
  });
});
