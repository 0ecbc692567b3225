import { describe, expect, it } from "vitest";
import { logDensityFigure, trainingCurvesFigure } from "../../src/plot/sae-figures.js";

describe("trainingCurvesFigure", () => {
  it("draws one line per run, log y on request", () => {
    const spec = trainingCurvesFigure(
      [
        { name: "a", x: [1, 2], y: [0.5, 0.25] },
        { name: "b", x: [1, 2], y: [0.4, 0.2] },
      ],
      { title: "t", xTitle: "step", yTitle: "NMSE", logY: true },
    );
    expect(spec.data.map((t) => t.name)).toEqual(["a", "b"]);
    expect(spec.data[0]).toMatchObject({ x: [1, 2], y: [0.5, 0.25] });
    expect((spec.layout.yaxis as { type?: string }).type).toBe("log");
  });
});

describe("logDensityFigure", () => {
  it("bins log10 densities and counts features that never fire in the legend", () => {
    // log10 of 0.001, 0.01, 0.1 → -3, -2, -1 over 2 bins of width 1: [-3, -2) holds 1, [-2, -1] holds 2.
    const spec = logDensityFigure({ run: [0.001, 0.01, 0.1, 0, 0] }, { title: "t", bins: 2 });
    expect(spec.data[0]).toMatchObject({ name: "run (2 never fire)", x: [-2.5, -1.5], y: [1, 2] });
  });
});
