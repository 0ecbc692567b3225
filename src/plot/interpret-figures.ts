/**
 * Figures of stage 4 (automated interpretability, METHOD.md §4): the distribution of each SAE's label
 * scores — Pearson between predicted and true activation on the held-out examples (the paper's Figure 3)
 * beside F1 — one outline histogram per SAE size, so sizes compare at a glance. Pure builders.
 */
import { SaerchError } from "../core/errors.js";
import { histogram } from "../core/stats.js";
import { baseLayout, type FigureSpec } from "./spec.js";

/** Colours per SAE in the order given (plotly's default qualitative palette). */
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

/** Bin width of both histograms: Pearson on [−1, 1] in 20 bins, F1 on [0, 1] in 10 (six held-out points give coarse values). */
export const SCORE_BIN_WIDTH = 0.1;

/** One SAE's scores. */
export interface ScoreSeries {
  /** Legend name, e.g. "n 1024, k 16". */
  name: string;
  /** Pearson of each labelled feature whose Pearson is defined. */
  pearson: readonly number[];
  /** F1 of each labelled feature. */
  f1: readonly number[];
}

/**
 * Histogram as fractions of the series' features, drawn as a step outline: x the `[bins + 1]` edges, y each
 * bin's fraction with the last repeated, so with shape "hv" every bin is a flat segment edge to edge.
 */
function fractionTrace(values: readonly number[], min: number, max: number, name: string, color: string, axis: "" | "2", showLegend: boolean): Record<string, unknown> {
  const bins = Math.round((max - min) / SCORE_BIN_WIDTH);
  const h = histogram(values, { bins, min, max });
  const total = Math.max(1, values.length);
  const fractions = Array.from(h.counts, (c) => Number((c / total).toFixed(5)));
  return {
    type: "scatter",
    mode: "lines",
    line: { shape: "hv", color, width: 2 },
    x: Array.from(h.edges, (e) => Number(e.toFixed(4))),
    y: [...fractions, fractions[bins - 1]!],
    name,
    legendgroup: name,
    showlegend: showLegend,
    xaxis: `x${axis}`,
    yaxis: `y${axis}`,
  };
}

/**
 * Pearson (left) and F1 (right) histograms of labelled features, one outline per SAE (Figure 3).
 * @param title figure title, e.g. "astro-ph: label scores by SAE size (baseline scorer)"
 * @param series one entry per SAE, in legend order
 */
export function scoreHistogramsFigure(title: string, series: readonly ScoreSeries[]): FigureSpec {
  if (series.length === 0) throw new SaerchError("scoreHistogramsFigure: no series to plot");
  const data = series.flatMap((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const mp = s.pearson.length > 0 ? s.pearson.reduce((a, b) => a + b, 0) / s.pearson.length : Number.NaN;
    const name = `${s.name} (mean r ${Number.isNaN(mp) ? "–" : mp.toFixed(2)})`;
    return [fractionTrace(s.pearson, -1, 1, name, color, "", true), fractionTrace(s.f1, 0, 1, name, color, "2", false)];
  });
  const layout = baseLayout(title, { width: 1000, height: 500, showLegend: true });
  const axis = layout.xaxis as Record<string, unknown>;
  return {
    data,
    layout: {
      ...layout,
      xaxis: { ...axis, domain: [0, 0.46], range: [-1, 1], title: { text: "Pearson r (predicted vs true activation)" } },
      yaxis: { ...axis, title: { text: "fraction of labelled features" }, rangemode: "tozero" },
      xaxis2: { ...axis, domain: [0.56, 1], range: [0, 1], anchor: "y2", title: { text: "F1 (prediction > 0 = fires)" } },
      yaxis2: { ...axis, anchor: "x2", rangemode: "tozero" },
      legend: { orientation: "h", x: 0, xanchor: "left", y: -0.22, yanchor: "top" },
      margin: { ...(layout.margin as Record<string, unknown>), b: 110 },
    },
  };
}
