/**
 * Tests for src/plot/interpret-figures.ts (METHOD.md §4, the paper's Figure 3): Pearson and F1 histograms
 * of labelled features, one outline pair per SAE, as fractions per bin drawn edge to edge, in a plain-JSON spec.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { SCORE_BIN_WIDTH, scoreHistogramsFigure } from "../../src/plot/interpret-figures.js";
import { assertFigureSpec } from "../../src/plot/spec.js";

const sum = (xs: unknown): number => (xs as number[]).reduce((a, b) => a + b, 0);

describe("scoreHistogramsFigure", () => {
  const series = [
    { name: "n 1024, k 16", pearson: [-1, -0.95, 0.05, 0.55, 0.55, 1], f1: [0, 0.35, 0.8, 1] },
    { name: "n 2048, k 32", pearson: [0.2, 0.4], f1: [0.5, 0.5, 0.5] },
    { name: "n 4096, k 64", pearson: [], f1: [] },
  ];
  const spec = scoreHistogramsFigure("astro-ph: label scores by SAE size (baseline scorer)", series);

  it("draws two traces per SAE: Pearson on x/y, F1 on x2/y2, in the series' colour and legend group", () => {
    assertFigureSpec(spec);
    expect(spec.data).toHaveLength(6);
    spec.data.forEach((t, i) => {
      const pearson = i % 2 === 0;
      expect(t).toMatchObject({ type: "scatter", mode: "lines", xaxis: pearson ? "x" : "x2", yaxis: pearson ? "y" : "y2", showlegend: pearson });
    });
    for (let s = 0; s < 3; s++) {
      const [p, f] = [spec.data[2 * s]!, spec.data[2 * s + 1]!];
      expect(f.name).toBe(p.name);
      expect(f.legendgroup).toBe(p.name);
      expect((f.line as { color: string }).color).toBe((p.line as { color: string }).color);
    }
    const colours = new Set([0, 2, 4].map((i) => (spec.data[i]!.line as { color: string }).color));
    expect(colours.size).toBe(3);
    const layout = spec.layout as Record<string, { range?: number[]; anchor?: string; domain?: number[] }>;
    expect(layout.xaxis!.range).toEqual([-1, 1]);
    expect(layout.xaxis2!.range).toEqual([0, 1]);
    expect(layout.xaxis2!.anchor).toBe("y2");
    expect(layout.yaxis2!.anchor).toBe("x2");
    expect(layout.xaxis!.domain![1]!).toBeLessThan(layout.xaxis2!.domain![0]!);
    expect((spec.layout.title as { text: string }).text).toBe("astro-ph: label scores by SAE size (baseline scorer)");
  });

  it("puts 20 Pearson bins of width 0.1 on edges −1 … 1 and 10 F1 bins on edges 0 … 1, the last fraction repeated", () => {
    expect(SCORE_BIN_WIDTH).toBe(0.1);
    const pearsonEdges = Array.from({ length: 21 }, (_, i) => Number((-1 + i * 0.1).toFixed(4)));
    const f1Edges = Array.from({ length: 11 }, (_, i) => Number((i * 0.1).toFixed(4)));
    for (let s = 0; s < 3; s++) {
      expect(spec.data[2 * s]!.x).toEqual(pearsonEdges);
      expect(spec.data[2 * s + 1]!.x).toEqual(f1Edges);
      const [py, fy] = [spec.data[2 * s]!.y as number[], spec.data[2 * s + 1]!.y as number[]];
      expect(py).toHaveLength(21);
      expect(fy).toHaveLength(11);
      expect(py[20]).toBe(py[19]);
      expect(fy[10]).toBe(fy[9]);
      expect(spec.data[2 * s]!.line).toMatchObject({ shape: "hv" });
    }
  });

  it("plots fractions of the series' features that sum to 1, end points in the end bins", () => {
    const bars = (t: { y?: unknown }): number[] => (t.y as number[]).slice(0, -1);
    const [p, f] = [{ y: bars(spec.data[0]!) }, { y: bars(spec.data[1]!) }];
    expect(sum(p.y)).toBeCloseTo(1, 4);
    expect(sum(f.y)).toBeCloseTo(1, 4);
    // Pearson [-1, -0.95, 0.05, 0.55, 0.55, 1]: bins [-1, -0.9) ×2, [0, 0.1) ×1, [0.5, 0.6) ×2, [0.9, 1] ×1.
    const py = p.y as number[];
    expect(py[0]).toBeCloseTo(2 / 6, 5);
    expect(py[10]).toBeCloseTo(1 / 6, 5);
    expect(py[15]).toBeCloseTo(2 / 6, 5);
    expect(py[19]).toBeCloseTo(1 / 6, 5);
    expect(py.filter((v) => v > 0)).toHaveLength(4);
    // F1 [0, 0.35, 0.8, 1]: bins 0, 3, 8, 9 (1 is in the closed last bin).
    expect(f.y).toEqual([0.25, 0, 0, 0.25, 0, 0, 0, 0, 0.25, 0.25]);
    const f2 = bars(spec.data[3]!);
    expect(f2[5]).toBe(1);
    expect(sum(bars(spec.data[2]!))).toBeCloseTo(1, 4);
    // An empty series plots zeros, not NaN.
    expect(spec.data[4]!.y).toEqual(new Array(21).fill(0));
    expect(spec.data[5]!.y).toEqual(new Array(11).fill(0));
  });

  it("shows each SAE's mean Pearson in the legend", () => {
    expect(spec.data[0]!.name).toBe("n 1024, k 16 (mean r 0.03)"); // (−1 − 0.95 + 0.05 + 0.55 + 0.55 + 1) / 6 = 0.0333
    expect(spec.data[2]!.name).toBe("n 2048, k 32 (mean r 0.30)");
    expect(spec.data[4]!.name).toBe("n 4096, k 64 (mean r –)");
  });

  it("is plain JSON: no typed arrays, and a JSON round trip changes nothing", () => {
    for (const t of spec.data) {
      expect(Array.isArray(t.x)).toBe(true);
      expect(Array.isArray(t.y)).toBe(true);
    }
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
  });

  it("throws a SaerchError on an empty series list", () => {
    expect(() => scoreHistogramsFigure("t", [])).toThrow(SaerchError);
    expect(() => scoreHistogramsFigure("t", [])).toThrow(/no series to plot/);
  });
});
