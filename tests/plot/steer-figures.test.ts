/** The steering figures (METHOD.md §7): trace structure, intervals, the artefact control and chance lines. */
import { describe, expect, it } from "vitest";
import { familySteeringFigure, steeringFigure } from "../../src/plot/steer-figures.js";
import { assertFigureSpec } from "../../src/plot/spec.js";
import type { PointResult } from "../../src/steer/evaluate.js";

const point = (over: Partial<PointResult>): PointResult => ({
  method: "add", up: 1, down: 1, judge: "activation", variant: "standard", n: 10,
  upAccuracy: 0.5, upCi: [0.4, 0.6], downAccuracy: 0.3, downCi: [0.2, 0.4], meanCos: 0.8, meanSurvive: 3, unanswered: 0, ...over,
});

describe("steeringFigure", () => {
  it("two panels per method at the chosen s_down, rewrites as single markers, the s_down = 0 control, chance lines", () => {
    const pts = [
      point({ up: 0.5, meanCos: 0.9, upAccuracy: 0.3, upCi: [0.2, 0.4] }),
      point({ up: 2, meanCos: 0.5, upAccuracy: 0.9, upCi: [0.8, 1] }),
      point({ up: 2, down: 0, meanCos: 0.6 }),
      point({ method: "rewrite-offline", up: null, down: null, meanCos: 0.92 }),
    ];
    const spec = steeringFigure(pts, { title: "t", down: 1, chance: 0.2 });
    assertFigureSpec(spec);
    // add (up, down), rewrite (up, down), the control (down panel only).
    expect(spec.data).toHaveLength(5);
    const addUp = spec.data[0]!;
    expect(addUp.x).toEqual([0.9, 0.5]);
    expect(addUp.y).toEqual([0.3, 0.9]);
    expect((addUp.error_y as { array: number[]; arrayminus: number[] }).array).toEqual([0.1, 0.1]);
    expect(spec.data[1]!.xaxis).toBe("x2");
    expect(spec.data[2]!.mode).toBe("markers");
    expect(spec.data[4]!.name).toMatch(/s_down 0: down untouched/);
    expect((spec.layout.shapes as Array<{ y0: number }>).map((s) => s.y0)).toEqual([0.2, 0.2]);
  });
});

describe("familySteeringFigure", () => {
  it("a family and a parent curve per domain", () => {
    const spec = familySteeringFigure({ a: [{ strength: 1, n: 5, family: { cos: 0.8, coverage: 0.7 }, parent: { cos: 0.7, coverage: 0.8 } }] }, { title: "f" });
    assertFigureSpec(spec);
    expect(spec.data.map((t) => t.name)).toEqual(["a: whole family up", "a: parent only up"]);
    expect(spec.data[0]!.x).toEqual([0.8]);
    expect(spec.data[1]!.y).toEqual([0.8]);
  });
});
