/**
 * Figures of stage 1 (corpus and embeddings, METHOD.md §1): category counts, overlaid per-group histograms
 * (abstract lengths, within- vs between-domain cosine), and a 2-D map of the embeddings coloured by domain.
 * Pure builders: data in → FigureSpec out.
 */
import { histogram } from "../core/stats.js";
import { baseLayout, type FigureSpec } from "./spec.js";

/** Colours for groups, in order (plotly's default qualitative palette). */
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

/**
 * Horizontal bars of document counts per category, largest at the top.
 * @param counts category → count (only the `top` largest are drawn)
 */
export function categoryCountsFigure(counts: Record<string, number>, opts: { title: string; top?: number }): FigureSpec {
  const rows = Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, opts.top ?? 20);
  const layout = baseLayout(opts.title, { xTitle: "documents", showLegend: false, height: 120 + 22 * rows.length });
  return {
    data: [
      {
        type: "bar",
        orientation: "h",
        y: rows.map((r) => r[0]),
        x: rows.map((r) => r[1]),
        text: rows.map((r) => r[1].toLocaleString("en-US")),
        textposition: "outside",
        cliponaxis: false,
        marker: { color: PALETTE[0] },
        hovertemplate: "%{y}: %{x}<extra></extra>",
      },
    ],
    layout: {
      ...layout,
      yaxis: { ...(layout.yaxis as Record<string, unknown>), autorange: "reversed", type: "category" },
    },
  };
}

/**
 * Overlaid histograms of several groups on shared bins, drawn as step lines (binned here, so the JSON stays small), each
 * normalised to a probability density when `density` is set so groups of different sizes compare.
 * @param groups group name → values
 */
export function overlaidHistogramsFigure(
  groups: Record<string, ArrayLike<number>>,
  opts: { title: string; xTitle: string; bins?: number; density?: boolean },
): FigureSpec {
  const names = Object.keys(groups);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const name of names) {
    for (const v of Array.from(groups[name]!)) {
      if (!Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  const bins = opts.bins ?? 60;
  const data = names.map((name, g) => {
    const { edges, counts } = histogram(groups[name]!, { bins, min, max });
    const total = counts.reduce((a, b) => a + b, 0) || 1;
    const width = (edges[1]! - edges[0]!) || 1;
    return {
      type: "scatter",
      mode: "lines",
      name: `${name} (n=${total.toLocaleString("en-US")})`,
      x: Array.from(counts, (_, i) => (edges[i]! + edges[i + 1]!) / 2),
      y: Array.from(counts, (c) => (opts.density ? c / total / width : c)),
      line: { shape: "hvh", width: 2, color: PALETTE[g % PALETTE.length] },
      hovertemplate: `${name}: %{x:.3g} → %{y:.3g}<extra></extra>`,
    };
  });
  return {
    data,
    layout: {
      ...baseLayout(opts.title, { xTitle: opts.xTitle, yTitle: opts.density ? "density" : "count", showLegend: true }),
      legend: { x: 0.01, xanchor: "left", y: 0.99 },
    },
  };
}

/**
 * A 2-D map (e.g. the first two principal components) of documents coloured by group.
 * @param coordsN2 row-major `[N, 2]` coordinates
 * @param labels N group labels
 * @param opts.axisTitles the two axis titles, e.g. ["PC1 (4.1%)", "PC2 (3.2%)"]
 */
export function embeddingMapFigure(
  coordsN2: Float32Array,
  labels: string[],
  opts: { title: string; axisTitles: [string, string] },
): FigureSpec {
  const groups = [...new Set(labels)].sort();
  const data = groups.map((group, g) => {
    const x: number[] = [];
    const y: number[] = [];
    labels.forEach((l, i) => {
      if (l !== group) return;
      x.push(Number(coordsN2[2 * i]!.toPrecision(4)));
      y.push(Number(coordsN2[2 * i + 1]!.toPrecision(4)));
    });
    return {
      type: "scatter",
      mode: "markers",
      name: `${group} (n=${x.length.toLocaleString("en-US")})`,
      x,
      y,
      marker: { size: 3, opacity: 0.5, color: PALETTE[g % PALETTE.length] },
      hoverinfo: "skip",
    };
  });
  return {
    data,
    layout: {
      ...baseLayout(opts.title, { xTitle: opts.axisTitles[0], yTitle: opts.axisTitles[1], showLegend: true, height: 650 }),
      legend: { x: 0.99, xanchor: "right", y: 0.99, itemsizing: "constant" },
    },
  };
}
