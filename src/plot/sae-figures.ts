/**
 * Figures of stage 2 (training the top-k SAE, METHOD.md §2): training curves per run, and per-feature
 * log-density histograms. Pure builders: data in → FigureSpec out.
 */
import { baseLayout, type FigureSpec } from "./spec.js";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

/** One run's logged curve. */
export interface CurveSeries {
  /** Legend name, e.g. "astro-ph (n=4096, k=32)". */
  name: string;
  /** x values, e.g. steps. */
  x: ArrayLike<number>;
  /** y values, same length. */
  y: ArrayLike<number>;
}

/**
 * Lines of one metric against steps for several runs.
 * @param opts.logY log-scale y (NMSE curves)
 */
export function trainingCurvesFigure(
  series: CurveSeries[],
  opts: { title: string; xTitle: string; yTitle: string; logY?: boolean },
): FigureSpec {
  const layout = baseLayout(opts.title, { xTitle: opts.xTitle, yTitle: opts.yTitle, showLegend: true });
  return {
    data: series.map((s, i) => ({
      type: "scatter",
      mode: "lines",
      name: s.name,
      x: Array.from(s.x),
      y: Array.from(s.y, (v) => Number(v.toPrecision(5))),
      line: { width: 2, color: PALETTE[i % PALETTE.length] },
    })),
    layout: {
      ...layout,
      yaxis: { ...(layout.yaxis as Record<string, unknown>), ...(opts.logY ? { type: "log" } : {}) },
      legend: { x: 0.99, xanchor: "right", y: 0.99 },
    },
  };
}

/**
 * Histogram of log10 feature density (fraction of documents whose top-k holds the feature), one step line
 * per run; features that never fire are counted in the legend rather than drawn (their log is −∞).
 * @param densities run name → `[F]` densities
 */
export function logDensityFigure(densities: Record<string, ArrayLike<number>>, opts: { title: string; bins?: number }): FigureSpec {
  const bins = opts.bins ?? 50;
  const logs: Record<string, number[]> = {};
  const never: Record<string, number> = {};
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const [name, dens] of Object.entries(densities)) {
    logs[name] = [];
    never[name] = 0;
    for (const v of Array.from(dens)) {
      if (v > 0) {
        const l = Math.log10(v);
        logs[name]!.push(l);
        min = Math.min(min, l);
        max = Math.max(max, l);
      } else never[name]! += 1;
    }
  }
  if (!Number.isFinite(min)) {
    min = -1;
    max = 0;
  }
  const width = (max - min) / bins || 1;
  const data = Object.keys(logs).map((name, g) => {
    const counts = new Array<number>(bins).fill(0);
    for (const l of logs[name]!) counts[Math.min(bins - 1, Math.floor((l - min) / width))]! += 1;
    return {
      type: "scatter",
      mode: "lines",
      name: `${name} (${never[name]} never fire)`,
      x: counts.map((_, i) => Number((min + (i + 0.5) * width).toPrecision(4))),
      y: counts,
      line: { shape: "hvh", width: 2, color: PALETTE[g % PALETTE.length] },
    };
  });
  return {
    data,
    layout: {
      ...baseLayout(opts.title, { xTitle: "log10 feature density", yTitle: "features", showLegend: true }),
      legend: { x: 0.01, xanchor: "left", y: 0.99 },
    },
  };
}
