/**
 * Figures of stage 6 (steering semantic search, METHOD.md §7): the paper's steering figure — up and down
 * accuracy against cos(q, q'), one point per strength, the rewrite baselines as separate markers, chance
 * as a line — with bootstrap 95 % intervals, for one judge; and the family-versus-parent comparison.
 */
import type { FamilySteerPoint, PointResult } from "../steer/evaluate.js";
import { baseLayout, type FigureSpec } from "./spec.js";

const METHOD_STYLE: Record<string, { color: string; symbol: string; label: string }> = {
  add: { color: "#1f77b4", symbol: "circle", label: "add decoder directions" },
  clamp: { color: "#ff7f0e", symbol: "square", label: "clamp latents (no error)" },
  family: { color: "#2ca02c", symbol: "diamond", label: "family (up) + add (down)" },
  random: { color: "#7f7f7f", symbol: "x", label: "random direction (control)" },
  "diff-means": { color: "#9467bd", symbol: "triangle-up", label: "difference of means" },
  "rewrite-llm": { color: "#d62728", symbol: "star", label: "LLM rewrite" },
  "rewrite-offline": { color: "#8c564b", symbol: "star-diamond", label: "“query and <up label>”" },
};

/** Marker size of the rewrite baselines (single points). */
const REWRITE_MARKER_SIZE = 14;

/** Options of {@link steeringFigure}. */
export interface SteeringFigureOptions {
  title: string;
  /** The s_down whose grid points are drawn for the grid methods (the artefact control, s_down = 0, is drawn apart). */
  down: number;
  /** Chance accuracy, 1 / candidates. */
  chance: number;
}

/** Points of one judge and variant, as a figure: two panels (up, down) against mean cos(q, q'). */
export function steeringFigure(points: readonly PointResult[], opts: SteeringFigureOptions): FigureSpec {
  const data: Array<Record<string, unknown>> = [];
  const methods = [...new Set(points.map((p) => p.method))];
  const panel = (p: readonly PointResult[], which: "up" | "down", axis: "" | "2", name: string, style: { color: string; symbol: string }, showLegend: boolean, extra: Record<string, unknown> = {}): void => {
    const sorted = [...p].sort((a, b) => b.meanCos - a.meanCos);
    const acc = sorted.map((x) => (which === "up" ? x.upAccuracy : x.downAccuracy));
    const ci = sorted.map((x) => (which === "up" ? x.upCi : x.downCi));
    data.push({
      type: "scatter",
      mode: sorted.length > 1 ? "lines+markers" : "markers",
      name,
      legendgroup: name,
      showlegend: showLegend,
      x: sorted.map((x) => Number(x.meanCos.toFixed(4))),
      y: acc.map((v) => Number(v.toFixed(4))),
      error_y: { type: "data", symmetric: false, array: ci.map((c, i) => Number((c[1] - acc[i]!).toFixed(4))), arrayminus: ci.map((c, i) => Number((acc[i]! - c[0]).toFixed(4))), thickness: 1, width: 3 },
      text: sorted.map((x) => (x.up === null ? name : `s_up ${x.up}, s_down ${x.down}, n ${x.n}`)),
      hovertemplate: "%{text}<br>cos %{x:.3f}, accuracy %{y:.2f}<extra></extra>",
      marker: { color: style.color, symbol: style.symbol, size: sorted.length > 1 ? 8 : REWRITE_MARKER_SIZE },
      line: { color: style.color, width: 1.5 },
      xaxis: `x${axis}`,
      yaxis: `y${axis}`,
      ...extra,
    });
  };
  for (const m of methods) {
    const style = METHOD_STYLE[m] ?? { color: "#333", symbol: "circle", label: m };
    const rows = points.filter((p) => p.method === m && (p.down === null || p.down === opts.down));
    if (rows.length === 0) continue;
    const name = rows[0]!.up === null ? style.label : `${style.label}, s_down ${opts.down}`;
    panel(rows, "up", "", name, style, true);
    panel(rows, "down", "2", name, style, false);
  }
  const control = points.filter((p) => p.method === "add" && p.down === 0);
  if (control.length > 0 && opts.down !== 0) {
    const style = { color: "#1f77b4", symbol: "circle-open" };
    panel(control, "down", "2", "add, s_down 0: down untouched (artefact control)", style, true, { line: { color: style.color, width: 1.5, dash: "dot" } });
  }
  const layout = baseLayout(opts.title, { width: 1100, height: 520, showLegend: true });
  const axis = (title: string, domain: [number, number], anchor: string): Record<string, unknown> => ({
    ...(layout.xaxis as Record<string, unknown>),
    title: { text: title },
    domain,
    anchor,
    range: [Math.min(0, ...points.map((p) => p.meanCos)) - 0.02, 1.02],
  });
  const yAxis = (title: string, anchor: string): Record<string, unknown> => ({ ...(layout.yaxis as Record<string, unknown>), title: { text: title }, range: [0, 1.02], anchor });
  return {
    data,
    layout: {
      ...layout,
      xaxis: axis("mean cos(q, q′)", [0, 0.45], "y"),
      xaxis2: axis("mean cos(q, q′)", [0.55, 1], "y2"),
      yaxis: yAxis("up accuracy (added topic named)", "x"),
      yaxis2: yAxis("down accuracy (removed topic named)", "x2"),
      shapes: ["", "2"].map((a) => ({ type: "line", xref: `x${a} domain`, yref: `y${a}`, x0: 0, x1: 1, y0: opts.chance, y1: opts.chance, line: { color: "#999", dash: "dash", width: 1 } })),
      annotations: ["", "2"].map((a) => ({ xref: `x${a} domain`, yref: `y${a}`, x: 0.01, y: opts.chance, yshift: 8, text: `chance ${opts.chance.toFixed(2)}`, showarrow: false, xanchor: "left", font: { size: 11, color: "#777" } })),
      legend: { orientation: "h", y: -0.18, x: 0, font: { size: 11 } },
      margin: { l: 70, r: 30, t: 60, b: 130 },
    },
  };
}

/** Family-level against single-feature steering: coverage of the family in the top-k against mean cos(q, q'). */
export function familySteeringFigure(series: Record<string, readonly FamilySteerPoint[]>, opts: { title: string }): FigureSpec {
  const palette = ["#2ca02c", "#1f77b4", "#d62728", "#9467bd"];
  const data: Array<Record<string, unknown>> = [];
  Object.entries(series).forEach(([name, pts], i) => {
    const color = palette[i % palette.length]!;
    for (const kind of ["family", "parent"] as const) {
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name: `${name}: ${kind === "family" ? "whole family up" : "parent only up"}`,
        x: pts.map((p) => Number(p[kind].cos.toFixed(4))),
        y: pts.map((p) => Number(p[kind].coverage.toFixed(4))),
        text: pts.map((p) => `strength ${p.strength}, n ${p.n}`),
        hovertemplate: "%{text}<br>cos %{x:.3f}, coverage %{y:.2f}<extra></extra>",
        marker: { color, symbol: kind === "family" ? "diamond" : "circle-open", size: 9 },
        line: { color, dash: kind === "family" ? "solid" : "dot", width: 1.5 },
      });
    }
  });
  const layout = baseLayout(opts.title, { xTitle: "mean cos(q, q′)", yTitle: "fraction of top-10 where a family member fires", showLegend: true });
  return { data, layout: { ...layout, xaxis: { ...(layout.xaxis as Record<string, unknown>), autorange: "reversed" }, yaxis: { ...(layout.yaxis as Record<string, unknown>), range: [0, 1.02] }, legend: { x: 0.99, xanchor: "right", y: 0.03, yanchor: "bottom" } } };
}
