import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import {
  deadFractionFigure,
  MAX_CURVE_POINTS,
  maxCosineHistogramFigure,
  nmseVsFlopsFigure,
  nmseVsSizeFigure,
  sizeFitLabel,
} from "../../src/plot/scaling-figures.js";
import { assertFigureSpec } from "../../src/plot/spec.js";

const axisType = (layout: Record<string, unknown>, axis: string): unknown => (layout[axis] as { type?: string }).type;

describe("nmseVsSizeFigure", () => {
  // The paper's astro k16 and k32 end points (METHOD.md §3); k32 is given first to check the k ordering.
  const points = [
    { n: 12288, k: 32, nmse: 0.146 },
    { n: 3072, k: 32, nmse: 0.175 },
    { n: 3072, k: 16, nmse: 0.23 },
    { n: 6144, k: 16, nmse: 0.211 },
    { n: 12288, k: 16, nmse: 0.194 },
  ];
  const fits = [
    { k: 16, c: 0.8, alpha: 0.123 },
    { k: 32, c: 0.6, alpha: 0.15, ci: { alpha: [0.12, 0.18] as [number, number] } },
  ];

  it("draws markers and a fit line per k, in increasing k, on log-log axes", () => {
    const spec = nmseVsSizeFigure(points, fits);
    assertFigureSpec(spec);
    expect(spec.data.map((t) => [t.mode, t.name])).toEqual([
      ["markers", "k = 16"],
      ["lines", "k = 16: α = 0.12"],
      ["markers", "k = 32"],
      ["lines", "k = 32: α = 0.15 [0.12, 0.18]"],
    ]);
    expect(spec.data[0]).toMatchObject({ x: [3072, 6144, 12288], y: [0.23, 0.211, 0.194], showlegend: false });
    expect(spec.data[2]).toMatchObject({ x: [3072, 12288], y: [0.175, 0.146] });
    expect((spec.data[0]!.marker as { color: string }).color).toBe((spec.data[1]!.line as { color: string }).color);
    expect(axisType(spec.layout, "xaxis")).toBe("log");
    expect(axisType(spec.layout, "yaxis")).toBe("log");
  });

  it("evaluates each fit at the ends of its k's n range: c·n^(−α)", () => {
    const spec = nmseVsSizeFigure(points, fits);
    const line = spec.data[3]!;
    expect(line.x).toEqual([3072, 12288]);
    const y = line.y as number[];
    expect(y[0]).toBeCloseTo(0.6 * 3072 ** -0.15, 6);
    expect(y[1]).toBeCloseTo(0.6 * 12288 ** -0.15, 6);
  });

  it("labels fits, keeps a fit without points over the whole n range, refuses NMSE ≤ 0", () => {
    expect(sizeFitLabel({ k: 64, c: 1, alpha: 0.1449, ci: { alpha: [0.1, 0.2] } })).toBe("k = 64: α = 0.14 [0.10, 0.20]");
    const spec = nmseVsSizeFigure(points.slice(2), [{ k: 128, c: 1, alpha: 0.1 }]);
    expect(spec.data.map((t) => t.name)).toEqual(["k = 16", "k = 128: α = 0.10"]);
    expect(spec.data[0]!.showlegend).toBe(true);
    expect(spec.data[1]!.x).toEqual([3072, 12288]);
    expect(() => nmseVsSizeFigure([{ n: 3072, k: 16, nmse: 0 }], [])).toThrow(SaerchError);
  });
});

describe("nmseVsFlopsFigure", () => {
  const curves = [
    { k: 16, n: 8, flops: [0, 10, 100], nmse: [1, 0.5, 0.25] },
    { k: 16, n: 4, flops: [0, 10, 1000], nmse: [1, 0.6, 0.3] },
    { k: 8, n: 4, flops: [10, 100], nmse: [0.7, 0.4] },
  ];
  const laws = [{ k: 16, a: 2, beta: 0.5 }];

  it("draws a line per run coloured by k with opacity rising with n, and a dashed law over the final points", () => {
    const spec = nmseVsFlopsFigure(curves, laws);
    assertFigureSpec(spec);
    expect(spec.data.map((t) => t.name)).toEqual(["k = 8, n = 4", "k = 16, n = 4", "k = 16, n = 8", "k = 16: NMSE = 2.00·C^−0.50"]);
    // FLOPs = 0 cannot sit on a log axis: the step-0 points are dropped.
    expect(spec.data[1]).toMatchObject({ x: [10, 1000], y: [0.6, 0.3], opacity: 0.35 });
    expect(spec.data[2]).toMatchObject({ x: [10, 100], y: [0.5, 0.25], opacity: 1 });
    expect(spec.data[0]!.opacity).toBe(1);
    const law = spec.data[3]!;
    expect(law.line).toMatchObject({ dash: "dash" });
    expect(law.x).toEqual([100, 1000]);
    const y = law.y as number[];
    expect(y[0]).toBeCloseTo(2 * 100 ** -0.5, 6); // 0.2
    expect(y[1]).toBeCloseTo(2 * 1000 ** -0.5, 6); // 0.0632…
    const color = (i: number): string => (spec.data[i]!.line as { color: string }).color;
    expect(color(1)).toBe(color(3));
    expect(color(0)).not.toBe(color(1));
    expect(axisType(spec.layout, "xaxis")).toBe("log");
    expect(axisType(spec.layout, "yaxis")).toBe("log");
  });

  it("thins long curves to log-spaced points, keeping the first and last", () => {
    const len = 5000;
    const flops = Array.from({ length: len }, (_, i) => (i + 1) * 1e6);
    const nmse = Array.from({ length: len }, (_, i) => 1 / (i + 2));
    const trace = nmseVsFlopsFigure([{ k: 32, n: 64, flops, nmse }], []).data[0]!;
    const x = trace.x as number[];
    expect(x.length).toBeLessThanOrEqual(MAX_CURVE_POINTS);
    expect(x.length).toBeGreaterThan(MAX_CURVE_POINTS / 2);
    expect(x[0]).toBe(1e6);
    expect(x[x.length - 1]).toBe(len * 1e6);
    expect(x.every((v, i) => i === 0 || v > x[i - 1]!)).toBe(true);
  });

  it("refuses a run whose FLOPs and NMSE differ in length", () => {
    expect(() => nmseVsFlopsFigure([{ k: 16, n: 4, flops: [1, 2], nmse: [1] }], [])).toThrow(/2 FLOPs values but 1 NMSE/);
  });
});

describe("maxCosineHistogramFigure", () => {
  it("bins each group on fixed [0, 1] bins as fractions, mean and values below 0 in the legend", () => {
    // 4 bins of width 0.25: a = [0.1, 0.6, 0.9, 1.0000001] → [1, 0, 1, 2]/4 (1.0000001 counts as 1);
    // b = [0.3, −0.2] → [0, 1, 0, 0]/2, the −0.2 counted in the legend only.
    const spec = maxCosineHistogramFigure({ "n=1024 → n=2048": [0.1, 0.6, 0.9, 1.0000001], b: Float32Array.of(0.3, -0.2) }, { bins: 4 });
    assertFigureSpec(spec);
    expect(spec.data.map((t) => t.name)).toEqual(["n=1024 → n=2048 (mean 0.65, n=4)", "b (mean 0.05, n=2, 1 below 0)"]);
    expect(spec.data[0]!.x).toEqual([0.125, 0.375, 0.625, 0.875]);
    expect(spec.data[0]!.y).toEqual([0.25, 0, 0.25, 0.5]);
    expect(spec.data[1]!.y).toEqual([0, 0.5, 0, 0]);
    expect(spec.data[0]).toMatchObject({ mode: "lines", line: { shape: "hvh" } });
    expect((spec.layout.xaxis as { range: number[] }).range).toEqual([0, 1]);
  });

  it("uses 50 bins by default", () => {
    expect((maxCosineHistogramFigure({ a: [0.5] }).data[0]!.x as number[]).length).toBe(50);
  });
});

describe("deadFractionFigure", () => {
  it("draws one markers+lines trace per k, sorted by n, on a log x axis", () => {
    const spec = deadFractionFigure([
      { n: 4096, k: 32, deadFraction: 0.1 },
      { n: 2048, k: 32, deadFraction: 0.05 },
      { n: 2048, k: 16, deadFraction: 0.2 },
    ]);
    assertFigureSpec(spec);
    expect(spec.data.map((t) => [t.name, t.mode])).toEqual([
      ["k = 16", "lines+markers"],
      ["k = 32", "lines+markers"],
    ]);
    expect(spec.data[1]).toMatchObject({ x: [2048, 4096], y: [0.05, 0.1] });
    expect(axisType(spec.layout, "xaxis")).toBe("log");
    expect(axisType(spec.layout, "yaxis")).toBeUndefined();
  });
});
