import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { engineCheckFigure, histogramFigure } from "../../src/plot/figures.js";
import { assertFigureSpec, baseLayout } from "../../src/plot/spec.js";

const dir = mkdtempSync(join(tmpdir(), "saerch-figures-test-"));
process.env.SAERCH_FIGURES = dir;

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("baseLayout", () => {
  it("gives the default size, title and axis titles", () => {
    const layout = baseLayout("T", { xTitle: "x", yTitle: "y" });
    expect(layout.width).toBe(800);
    expect(layout.height).toBe(500);
    expect(layout.title).toMatchObject({ text: "T" });
    expect(layout.xaxis).toMatchObject({ title: { text: "x" } });
    expect(layout.yaxis).toMatchObject({ title: { text: "y" } });
    expect(layout.plot_bgcolor).toBe("white");
  });
});

describe("engineCheckFigure", () => {
  const rows = [
    { engine: "tfjs-node-gpu", gflops: 1234.4, ok: true },
    { engine: "onnxruntime", gflops: 56.78, ok: true },
    { engine: "webgpu", gflops: 999, ok: false },
  ];

  it("draws one horizontal bar per engine, failed ones grey at 0", () => {
    const fig = engineCheckFigure(rows);
    assertFigureSpec(fig);
    expect(fig.data).toHaveLength(1);
    const trace = fig.data[0]!;
    expect(trace.type).toBe("bar");
    expect(trace.orientation).toBe("h");
    expect(trace.y).toEqual(["tfjs-node-gpu", "onnxruntime", "webgpu"]);
    expect(trace.x).toEqual([1234.4, 56.78, 0]);
    expect(trace.text).toEqual(["1234", "56.8", "unavailable"]);
    const colors = (trace.marker as { color: string[] }).color;
    expect(colors[0]).toBe(colors[1]);
    expect(colors[2]).not.toBe(colors[0]);
    expect(fig.layout.title).toMatchObject({ text: "Compute engines on this machine" });
    expect(fig.layout.xaxis).toMatchObject({ title: { text: "GFLOP/s (fp32 GEMM)" } });
    expect(fig.layout.yaxis).toMatchObject({ autorange: "reversed" });
  });

  it("is deterministic", () => {
    expect(JSON.stringify(engineCheckFigure(rows))).toBe(JSON.stringify(engineCheckFigure(rows)));
  });
});

describe("histogramFigure", () => {
  it("draws pre-binned counts as one bar trace", () => {
    const fig = histogramFigure(new Float32Array([0, 1, 2, 3, 4, 0.5, Number.NaN]), {
      title: "Hist",
      xTitle: "value",
      bins: 4,
      logY: true,
      name: "v",
    });
    assertFigureSpec(fig);
    const trace = fig.data[0]!;
    expect(trace.type).toBe("bar");
    expect(trace.name).toBe("v");
    expect(trace.x).toEqual([0.5, 1.5, 2.5, 3.5]);
    expect(trace.y).toEqual([2, 1, 1, 2]);
    expect(trace.width).toEqual([1, 1, 1, 1]);
    expect(fig.layout.title).toMatchObject({ text: "Hist" });
    expect(fig.layout.xaxis).toMatchObject({ title: { text: "value" } });
    expect(fig.layout.yaxis).toMatchObject({ type: "log", title: { text: "count" } });
    expect(fig.layout.bargap).toBe(0);
  });

  it("stays small for 1e5 values (50 bins by default)", () => {
    const values = Float64Array.from({ length: 100_000 }, (_, i) => Math.sin(i) * Math.sqrt(i));
    const fig = histogramFigure(values, { title: "big", xTitle: "x" });
    const y = fig.data[0]!.y as number[];
    expect(y).toHaveLength(50);
    expect(y.reduce((a, b) => a + b, 0)).toBe(100_000);
    expect(JSON.stringify(fig).length).toBeLessThan(10_000);
  });
});
