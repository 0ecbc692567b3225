/**
 * Figures of stage 5 (feature families, METHOD.md §5) besides the family graph (family-graph-figure.ts): the
 * overlap-coefficient matrix of several families ordered family by family (the paper's Figure 5: its block
 * structure), the distribution of children per family, and overlaid histograms of P(parent | child) for
 * parent–child pairs against random pairs (or of decoder cosines); and the helpers the family graph shares.
 * Pure builders: plain data in → FigureSpec out; matrices capped and histograms binned here so the JSON stays
 * small.
 */
import { SaerchError } from "../core/errors.js";
import { histogram } from "../core/stats.js";
import { type Cooccurrence, localIndex, overlap } from "../families/cooccurrence.js";
import { baseLayout, type FigureSpec } from "./spec.js";

/** Colours per series in the order given (plotly's default qualitative palette). */
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

/** Significant digits kept for plotted values (plenty for a figure, small JSON). */
const DIGITS = 4;
/** `v` rounded to DIGITS significant digits, for a plotted value. */
export const round = (v: number): number => Number(v.toPrecision(DIGITS));

/** Escape plotly's HTML-like text markup in a label. */
export const escapeText = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * Local index of every feature of `features` in `cooc`, or a SaerchError naming the first one outside it.
 * @param fn the calling figure builder, named in the error
 */
export function localOf(cooc: Cooccurrence, features: readonly number[], fn: string): number[] {
  const n = cooc.featuresM.length === 0 ? 0 : Math.max(...cooc.featuresM) + 1;
  const localF = localIndex(cooc.featuresM, n);
  return features.map((f) => {
    const a = f >= 0 && f < n ? localF[f]! : -1;
    if (a < 0) {
      throw new SaerchError(`${fn}: feature ${f} is not in the co-occurrence's feature set`, "count co-occurrence over the feature set the families were built from");
    }
    return a;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Figure 5: the co-occurrence matrix ordered family by family.

/** At most this many features in {@link cooccurrenceBlocksFigure} (a 300 × 300 matrix is ~120 kB of JSON). */
export const MAX_BLOCK_FEATURES = 300;

/** One family as a block of the matrix: a display name and its features (root first, e.g. `familyFeatures(f)`). */
export interface FamilyBlock {
  /** Shown on the y axis beside the block, e.g. the family's label. */
  name: string;
  /** `[members + 1]` feature ids, root first. */
  features: readonly number[];
}

/** The matrix order of {@link blockOrder}. */
export interface BlockOrder {
  /** `[M']` feature ids in matrix order. */
  features: number[];
  /** The blocks shown: rows/columns [start, end) of the matrix, in order, each non-empty. */
  blocks: Array<{ name: string; start: number; end: number }>;
  /** Families given that add no block because every feature of theirs is already shown (e.g. nested families). */
  repeated: number;
  /** Families given that are not shown (or, for the first, shown cut) because of the feature cap. */
  overCap: number;
}

/**
 * The features of several families in matrix order: family by family, each feature once, in the first
 * family that holds it (a feature shared by two families counts to the earlier). A family with no new
 * feature adds no block. Whole families are added while they fit in `maxFeatures`; the first family is
 * cut to the cap when it alone exceeds it, and the families from the first that does not fit on are left out
 * (counted in `overCap`).
 */
export function blockOrder(families: readonly FamilyBlock[], maxFeatures = MAX_BLOCK_FEATURES): BlockOrder {
  const seen = new Set<number>();
  const features: number[] = [];
  const blocks: BlockOrder["blocks"] = [];
  let repeated = 0;
  let overCap = 0;
  for (const [i, fam] of families.entries()) {
    const fresh = [...new Set(fam.features)].filter((f) => !seen.has(f));
    if (fresh.length === 0) {
      repeated++;
      continue;
    }
    if (features.length + fresh.length > maxFeatures) {
      if (features.length > 0) {
        overCap += families.length - i;
        break;
      }
      fresh.length = maxFeatures;
      overCap = 1;
    }
    for (const f of fresh) seen.add(f);
    blocks.push({ name: fam.name, start: features.length, end: features.length + fresh.length });
    features.push(...fresh);
  }
  return { features, blocks, repeated, overCap };
}

/** The matrix stores the overlap coefficient in whole percent (0 … 100), one byte per cell. */
const PERCENT = 100;
/** White → dark blue: the overlap coefficient on [0, 1] (the colour scale's own 0 … 1 positions). */
const OVERLAP_COLORSCALE = [
  [0, "#ffffff"],
  [0.1, "#deebf7"],
  [0.3, "#9ecae1"],
  [0.6, "#3182bd"],
  [1, "#08306b"],
];
/** Outline colour of the family blocks. */
const BLOCK_LINE_COLOR = "#e6550d";
/** Side of the square heatmap in CSS pixels; the figure adds room for names, title and colour bar. */
const HEATMAP_PX = 620;
/** A block's name is shown on the y axis only when the block is at least this many pixels tall. */
const MIN_BLOCK_LABEL_PX = 13;
/** Block names on the axis are cut to this many characters. */
const BLOCK_NAME_MAX_CHARS = 28;

/** Options of {@link cooccurrenceBlocksFigure}. */
export interface CooccurrenceBlocksOptions {
  /** Feature cap (default {@link MAX_BLOCK_FEATURES}). */
  maxFeatures?: number;
  /** Figure title. */
  title?: string;
}

/**
 * Paper Figure 5: the overlap-coefficient matrix C[i, j] / min(n_i, n_j) of the features of several
 * families, in {@link blockOrder} order, as a heatmap on a fixed 0–100 % scale; each family's diagonal
 * block outlined, family names at their blocks on the y axis (blocks too small to hold a name stay
 * unnamed). Row 0 at the top. The matrix is `z: { dtype: "u1", bdata, shape: "M,M" }`, whole percent
 * row-major (plotly.js ≥ 2.28 decodes it), and the trace's `meta.features` lists the feature ids in matrix
 * order. The diagonal (1 by definition for a firing feature) is drawn as 0 — white, blank — so it does
 * not read as co-occurrence.
 * @param cooc co-occurrence over a feature set holding every feature of the families
 */
export function cooccurrenceBlocksFigure(families: readonly FamilyBlock[], cooc: Cooccurrence, opts: CooccurrenceBlocksOptions = {}): FigureSpec {
  const order = blockOrder(families, opts.maxFeatures ?? MAX_BLOCK_FEATURES);
  const m = order.features.length;
  const local = localOf(cooc, order.features, "cooccurrenceBlocksFigure");
  // Percent as one byte per cell, base64-encoded (plotly's typed-array JSON): a 300 × 300 matrix is ~120 kB
  // where plain JSON arrays, pretty-printed by saveFigure, would take ~1.8 MB.
  const percentMM = new Uint8Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) if (i !== j) percentMM[i * m + j] = Math.round(overlap(cooc, local[i]!, local[j]!) * PERCENT);
  }
  const pxPerFeature = HEATMAP_PX / Math.max(1, m);
  const named = order.blocks.filter((b) => (b.end - b.start) * pxPerFeature >= MIN_BLOCK_LABEL_PX);
  const shapes = order.blocks.map((b) => ({
    type: "rect",
    xref: "x",
    yref: "y",
    x0: b.start - 0.5,
    x1: b.end - 0.5,
    y0: b.start - 0.5,
    y1: b.end - 0.5,
    line: { color: BLOCK_LINE_COLOR, width: 1.2 },
  }));
  const capNote = order.overCap > 0 ? `, cut at ${m} features` : "";
  const nb = order.blocks.length;
  const title = opts.title ?? `Overlap coefficient of ${m} features in ${nb} famil${nb === 1 ? "y" : "ies"}, ordered family by family${capNote}`;
  const layout = baseLayout(title, { width: HEATMAP_PX + 300, height: HEATMAP_PX + 140, showLegend: false });
  const axis = layout.xaxis as Record<string, unknown>;
  const range = [-0.5, m - 0.5];
  return {
    data: [
      {
        type: "heatmap",
        z: { dtype: "u1", bdata: Buffer.from(percentMM.buffer, percentMM.byteOffset, percentMM.byteLength).toString("base64"), shape: `${m},${m}` },
        zmin: 0,
        zmax: PERCENT,
        colorscale: OVERLAP_COLORSCALE,
        colorbar: { title: { text: "overlap C<sub>ij</sub> / min(n<sub>i</sub>, n<sub>j</sub>)", side: "right" }, ticksuffix: "%", thickness: 14, len: 0.8 },
        hovertemplate: "row %{y}, column %{x}: overlap %{z}%<extra></extra>",
        meta: { features: order.features },
      },
    ],
    layout: {
      ...layout,
      xaxis: { ...axis, range, showgrid: false, ticks: "", showticklabels: false, title: { text: "features (root first, then members), family by family" }, constrain: "domain" },
      yaxis: {
        ...axis,
        range: [m - 0.5, -0.5],
        showgrid: false,
        ticks: "",
        tickmode: "array",
        tickvals: named.map((b) => (b.start + b.end - 1) / 2),
        ticktext: named.map((b) => escapeText(b.name.length > BLOCK_NAME_MAX_CHARS ? `${b.name.slice(0, BLOCK_NAME_MAX_CHARS - 1).trimEnd()}…` : b.name)),
        tickfont: { size: 11 },
        scaleanchor: "x",
        scaleratio: 1,
        constrain: "domain",
      },
      shapes,
      plot_bgcolor: "white",
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Children per family.

/**
 * Integer bin edges for children counts: 1, 2, 3, 4, then alternately ×1.5 and ×4/3 (6, 8, 12, 16, 24, 32,
 * …), roughly log-spaced so a long tail (4 … 473 children, METHOD.md §5) reads on one axis, and every bin
 * an integer range. Bin b is [edges[b], edges[b+1]).
 * @returns edges up to the first one above `maxCount`
 */
export function childrenBinEdges(maxCount: number): number[] {
  const edges = [1, 2, 3, 4];
  while (edges[edges.length - 1]! <= maxCount) {
    const last = edges[edges.length - 1]!;
    edges.push(Math.log2(last) % 1 === 0 ? last * 1.5 : (last * 4) / 3);
  }
  return edges;
}

/** Options of {@link childrenHistogramFigure}. */
export interface ChildrenHistogramOptions {
  /** Figure title. */
  title?: string;
}

/**
 * The distribution of children per family, one bar series per SAE (grouped): bins of
 * {@link childrenBinEdges} (labelled "4–5", "6–7", …) from the smallest to the largest count seen, each bar
 * the fraction of that SAE's families, so SAEs with different numbers of families compare. The legend
 * gives each SAE's family count, median and mean.
 * @param groups SAE name → `[families]` children (members besides the root) of each family
 * @throws SaerchError for a count that is not a positive integer
 */
export function childrenHistogramFigure(groups: Record<string, readonly number[]>, opts: ChildrenHistogramOptions = {}): FigureSpec {
  const all = Object.values(groups).flat();
  for (const [name, counts] of Object.entries(groups)) {
    const bad = counts.find((c) => !Number.isInteger(c) || c < 1);
    if (bad !== undefined) throw new SaerchError(`childrenHistogramFigure: series ${JSON.stringify(name)} has a children count of ${bad}`, "pass each family's members.length");
  }
  const edges = childrenBinEdges(all.length > 0 ? Math.max(...all) : 1);
  const binOf = (c: number): number => edges.findIndex((e, b) => c >= e && c < edges[b + 1]!);
  const first = all.length > 0 ? Math.min(...all.map(binOf)) : 0;
  const last = all.length > 0 ? Math.max(...all.map(binOf)) : 0;
  const labels = Array.from({ length: last - first + 1 }, (_, i) => {
    const [lo, hi] = [edges[first + i]!, edges[first + i + 1]! - 1];
    return lo === hi ? `${lo}` : `${lo}–${hi}`;
  });
  const data = Object.entries(groups).map(([name, counts], g) => {
    const bins = new Array<number>(labels.length).fill(0);
    for (const c of counts) bins[binOf(c) - first]!++;
    const sorted = [...counts].sort((a, b) => a - b);
    const mid = sorted.length / 2;
    const median = sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    const mean = sorted.length === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length;
    const stats = sorted.length === 0 ? "no families" : `${sorted.length} families, median ${median}, mean ${mean.toFixed(1)}`;
    return {
      type: "bar",
      name: `${name} (${stats})`,
      x: labels,
      y: bins.map((b) => round(b / Math.max(1, counts.length))),
      customdata: bins,
      marker: { color: PALETTE[g % PALETTE.length] },
      hovertemplate: `${name}: %{x} children → %{y:.1%} (%{customdata} families)<extra></extra>`,
    };
  });
  const layout = baseLayout(opts.title ?? "Children per family", { xTitle: "children (members besides the root)", yTitle: "fraction of families", showLegend: true });
  return {
    data,
    layout: {
      ...layout,
      barmode: "group",
      bargap: 0.15,
      xaxis: { ...(layout.xaxis as Record<string, unknown>), type: "category", showgrid: false },
      yaxis: { ...(layout.yaxis as Record<string, unknown>), tickformat: ".0%", rangemode: "tozero" },
      legend: { x: 0.99, xanchor: "right", y: 0.99 },
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// P(parent | child) against random pairs.

/** Default number of bins of {@link conditionalVsRandomFigure} (width 0.05 on [0, 1]). */
export const CONDITIONAL_BINS = 20;
/** Opacity of the overlaid bars, so both series show where they overlap. */
const OVERLAY_OPACITY = 0.55;

/** Options of {@link conditionalVsRandomFigure}. */
export interface ConditionalVsRandomOptions {
  /** Figure title. */
  title?: string;
  /** X-axis title (default "P(parent | child)"). */
  xTitle?: string;
  /** Bin range (default [0, 1]; [−1, 1] for decoder cosines). */
  range?: readonly [number, number];
  /** Number of equal bins over the range (default {@link CONDITIONAL_BINS}). */
  bins?: number;
}

/**
 * Overlaid histograms on shared bins, each as the fraction of its series' values per bin (summing to 1),
 * so a few hundred parent–child pairs compare with any number of random pairs: P(parent | child) for
 * parent–child pairs against random feature pairs of matched density, or (with `range: [-1, 1]` and an
 * `xTitle`) decoder cosines of the same pairs. Values outside the range count in the end bins; NaN is
 * dropped. The legend gives each series' mean and size, and a dashed line marks each mean.
 * @param series series name (e.g. "parent–child", "random, matched density") → values
 */
export function conditionalVsRandomFigure(series: Record<string, ArrayLike<number>>, opts: ConditionalVsRandomOptions = {}): FigureSpec {
  const [lo, hi] = opts.range ?? [0, 1];
  if (!(lo < hi)) throw new SaerchError(`conditionalVsRandomFigure: range must be [min, max] with min < max, got [${lo}, ${hi}]`);
  const bins = opts.bins ?? CONDITIONAL_BINS;
  const shapes: Array<Record<string, unknown>> = [];
  const data = Object.entries(series).map(([name, values], g) => {
    const color = PALETTE[g % PALETTE.length]!;
    const finite = Array.from(values).filter((v) => !Number.isNaN(v));
    const clipped = finite.map((v) => Math.min(hi, Math.max(lo, v)));
    const { edges, counts } = histogram(clipped, { bins, min: lo, max: hi });
    const mean = finite.length > 0 ? finite.reduce((a, b) => a + b, 0) / finite.length : Number.NaN;
    if (finite.length > 0) {
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: round(mean), x1: round(mean), y0: 0, y1: 1, line: { color, width: 1.5, dash: "dash" } });
    }
    return {
      type: "bar",
      name: `${name} (mean ${Number.isNaN(mean) ? "–" : mean.toFixed(2)}, n=${finite.length.toLocaleString("en-US")})`,
      x: Array.from(counts, (_, i) => round((edges[i]! + edges[i + 1]!) / 2)),
      y: Array.from(counts, (c) => round(c / Math.max(1, finite.length))),
      width: round((hi - lo) / bins),
      opacity: OVERLAY_OPACITY,
      marker: { color, line: { color, width: 1 } },
      hovertemplate: `${name}: %{x:.3f} → %{y:.1%}<extra></extra>`,
    };
  });
  const layout = baseLayout(opts.title ?? "P(parent | child): parent–child pairs against random pairs", {
    xTitle: opts.xTitle ?? "P(parent | child)",
    yTitle: "fraction of pairs",
    showLegend: true,
  });
  return {
    data,
    layout: {
      ...layout,
      barmode: "overlay",
      xaxis: { ...(layout.xaxis as Record<string, unknown>), range: [lo, hi] },
      yaxis: { ...(layout.yaxis as Record<string, unknown>), tickformat: ".0%", rangemode: "tozero" },
      legend: { x: 0.99, xanchor: "right", y: 0.99 },
      shapes,
    },
  };
}
