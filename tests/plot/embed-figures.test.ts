import { describe, expect, it } from "vitest";
import { categoryCountsFigure, embeddingMapFigure, overlaidHistogramsFigure } from "../../src/plot/embed-figures.js";

describe("categoryCountsFigure", () => {
  it("draws the largest categories first, ties by name, limited to top", () => {
    const spec = categoryCountsFigure({ "cs.CV": 5, "astro-ph.GA": 9, "cs.AI": 5, "cs.CL": 1 }, { title: "t", top: 3 });
    const trace = spec.data[0]!;
    expect(trace.y).toEqual(["astro-ph.GA", "cs.AI", "cs.CV"]);
    expect(trace.x).toEqual([9, 5, 5]);
    expect(spec.layout.height).toBe(120 + 22 * 3);
  });
});

describe("overlaidHistogramsFigure", () => {
  it("bins every group on the same edges and normalises to a density", () => {
    // Values in [0, 4] with 4 bins of width 1: a → [1, 1, 0, 0]·(1/2), b → [0, 0, 1, 1]·(1/2).
    const spec = overlaidHistogramsFigure({ a: [0, 1.5], b: [2.5, 4] }, { title: "t", xTitle: "x", bins: 4, density: true });
    expect(spec.data.map((t) => t.x)).toEqual([
      [0.5, 1.5, 2.5, 3.5],
      [0.5, 1.5, 2.5, 3.5],
    ]);
    expect(spec.data[0]!.y).toEqual([0.5, 0.5, 0, 0]);
    expect(spec.data[1]!.y).toEqual([0, 0, 0.5, 0.5]);
    expect(spec.data[0]!.name).toBe("a (n=2)");
    expect(spec.data[0]).toMatchObject({ type: "scatter", mode: "lines", line: { shape: "hvh" } });
  });
});

describe("embeddingMapFigure", () => {
  it("splits points into one trace per group, in sorted group order", () => {
    const coords = new Float32Array([0, 1, 2, 3, 4, 5]);
    const spec = embeddingMapFigure(coords, ["b", "a", "b"], { title: "t", axisTitles: ["PC1", "PC2"] });
    expect(spec.data.map((t) => t.name)).toEqual(["a (n=1)", "b (n=2)"]);
    expect(spec.data[0]).toMatchObject({ x: [2], y: [3] });
    expect(spec.data[1]).toMatchObject({ x: [0, 4], y: [1, 5] });
  });
});
