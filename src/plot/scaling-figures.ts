/**
 * Figures of stage 3 (scaling laws and feature splitting, METHOD.md §3 and §6): NMSE against dictionary
 * size with a power law per k (the paper's Figure 2 left), training curves against FLOPs with the per-k
 * compute law (Figure 2 right), histograms of decoder max cosine between SAE pairs (Figure 3), and the
 * dead-latent fraction per size. Pure builders: data in → FigureSpec out; curves thinned and histograms
 * binned here so the JSON stays small.
 */
import { SaerchError } from "../core/errors.js";
import { histogram } from "../core/stats.js";
import { baseLayout, type FigureSpec } from "./spec.js";

/** Colours for the k values in increasing order (plotly's default qualitative palette). */
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

/** Default number of bins of {@link maxCosineHistogramFigure} over [0, 1] (width 0.02). */
export const MAX_COSINE_BINS = 50;

/** At most this many points per training curve are kept, log-spaced along the run (the x axis is log). */
export const MAX_CURVE_POINTS = 200;

/** Opacity of the smallest-n run of a k in {@link nmseVsFlopsFigure}; the largest n is opaque. */
const MIN_RUN_OPACITY = 0.35;

/** Significant digits kept for plotted values (plenty for a figure, small JSON). */
const DIGITS = 6;

const round = (v: number): number => Number(v.toPrecision(DIGITS));

/** A colour per distinct k, in increasing k order. */
function kColors(ks: Iterable<number>): Map<number, string> {
  const sorted = [...new Set(ks)].sort((a, b) => a - b);
  return new Map(sorted.map((k, i) => [k, PALETTE[i % PALETTE.length]!]));
}

function axisWith(layout: Record<string, unknown>, axis: "xaxis" | "yaxis", extra: Record<string, unknown>): Record<string, unknown> {
  return { ...(layout[axis] as Record<string, unknown>), ...extra };
}

function requirePositive(fn: string, what: string, v: number): void {
  if (!(v > 0) || !Number.isFinite(v)) {
    throw new SaerchError(`${fn}: ${what} must be a positive finite number on a log axis, got ${v}`, "drop or fix that run's entry");
  }
}

/**
 * The layout of both NMSE plots: log-log axes, NMSE on y; the legend bottom left inside the plot (the
 * curves fall to the right), or to the right of it when it is long (`legendOutside`, a wider figure).
 */
function logLogNmseLayout(title: string, xTitle: string, legendOutside = false): Record<string, unknown> {
  const layout = baseLayout(title, { xTitle, yTitle: "normalised MSE", showLegend: true, ...(legendOutside ? { width: 1050 } : {}) });
  return {
    ...layout,
    xaxis: axisWith(layout, "xaxis", { type: "log" }),
    yaxis: axisWith(layout, "yaxis", { type: "log" }),
    legend: legendOutside ? { x: 1.02, xanchor: "left", y: 1, yanchor: "top" } : { x: 0.01, xanchor: "left", y: 0.01, yanchor: "bottom" },
  };
}

/** One trained SAE's final NMSE. */
export interface SizePoint {
  /** Latents n. */
  n: number;
  /** Active latents k. */
  k: number;
  /** Normalised MSE on held-out data. */
  nmse: number;
}

/** A fitted power law NMSE = c · n^(−α) for one k (see src/scaling fits). */
export interface SizeFit {
  /** Active latents k. */
  k: number;
  /** Prefactor c. */
  c: number;
  /** Exponent α (NMSE falls as n^(−α)). */
  alpha: number;
  /** Optional confidence interval of α, shown in the legend. */
  ci?: { alpha: [number, number] };
}

/** Legend text of a size fit, e.g. "k = 32: α = 0.15 [0.12, 0.18]". */
export function sizeFitLabel(fit: SizeFit): string {
  const ci = fit.ci ? ` [${fit.ci.alpha[0].toFixed(2)}, ${fit.ci.alpha[1].toFixed(2)}]` : "";
  return `k = ${fit.k}: α = ${fit.alpha.toFixed(2)}${ci}`;
}

/**
 * NMSE against dictionary size n, log-log: markers per SAE coloured by k, and per fit the line c·n^(−α)
 * over the n range of that k's points (all points' range when it has none). A power law is straight on
 * log-log axes, so the line is drawn through its two end points. Traces: per k in increasing order, the
 * markers (when that k has points) then the fit line (when it has a fit); the legend names the fit lines.
 */
export function nmseVsSizeFigure(points: SizePoint[], fits: SizeFit[], opts: { title?: string } = {}): FigureSpec {
  for (const p of points) {
    requirePositive("nmseVsSizeFigure", `n of the k=${p.k} point`, p.n);
    requirePositive("nmseVsSizeFigure", `NMSE of the (n=${p.n}, k=${p.k}) point`, p.nmse);
  }
  const colors = kColors([...points.map((p) => p.k), ...fits.map((f) => f.k)]);
  const allN = points.map((p) => p.n);
  const data: Array<Record<string, unknown>> = [];
  for (const [k, color] of colors) {
    const own = points.filter((p) => p.k === k).sort((a, b) => a.n - b.n);
    const fit = fits.find((f) => f.k === k);
    if (own.length > 0) {
      data.push({
        type: "scatter",
        mode: "markers",
        name: `k = ${k}`,
        legendgroup: `k=${k}`,
        showlegend: fit === undefined,
        x: own.map((p) => p.n),
        y: own.map((p) => round(p.nmse)),
        marker: { size: 8, color },
        hovertemplate: `k = ${k}, n = %{x}: NMSE %{y:.4f}<extra></extra>`,
      });
    }
    if (fit !== undefined) {
      const range = own.length > 0 ? own.map((p) => p.n) : allN;
      if (range.length === 0) continue;
      const xs = [Math.min(...range), Math.max(...range)];
      data.push({
        type: "scatter",
        mode: "lines",
        name: sizeFitLabel(fit),
        legendgroup: `k=${k}`,
        x: xs,
        y: xs.map((n) => round(fit.c * n ** -fit.alpha)),
        line: { width: 2, color },
        hoverinfo: "skip",
      });
    }
  }
  return { data, layout: logLogNmseLayout(opts.title ?? "NMSE against dictionary size", "latents n") };
}

/** One run's NMSE training curve against cumulative FLOPs (METHOD.md §3: steps · 2·d·(n + k)). */
export interface FlopsCurve {
  /** Active latents k. */
  k: number;
  /** Latents n. */
  n: number;
  /** Cumulative FLOPs at each logged step. */
  flops: number[];
  /** NMSE at each logged step, same length. */
  nmse: number[];
}

/** A fitted compute law final-NMSE = a · C^(−β) for one k. */
export interface FlopsLaw {
  /** Active latents k. */
  k: number;
  /** Prefactor a. */
  a: number;
  /** Exponent β. */
  beta: number;
}

/** Up to `max` indices into a series of `len`, spaced evenly in log(index + 1); always first and last. */
function logSpacedIndices(len: number, max: number): number[] {
  if (len <= max) return Array.from({ length: len }, (_, i) => i);
  const out = new Set<number>();
  const top = Math.log(len);
  for (let i = 0; i < max; i++) out.add(Math.min(len - 1, Math.round(Math.exp((top * i) / (max - 1))) - 1));
  out.add(len - 1);
  return [...out].sort((a, b) => a - b);
}

/**
 * Training curves (NMSE against FLOPs, log-log), one line per run coloured by k, opacity rising with n
 * within a k; per law a dashed line a·C^(−β) over the FLOPs range of that k's final points. Points with
 * FLOPs ≤ 0 (step 0) cannot sit on a log axis and are left out; each curve keeps at most
 * {@link MAX_CURVE_POINTS} points. Traces: per k in increasing order, its runs by increasing n, then its law.
 */
export function nmseVsFlopsFigure(curves: FlopsCurve[], laws: FlopsLaw[], opts: { title?: string } = {}): FigureSpec {
  const colors = kColors([...curves.map((c) => c.k), ...laws.map((l) => l.k)]);
  const data: Array<Record<string, unknown>> = [];
  for (const [k, color] of colors) {
    const runs = curves.filter((c) => c.k === k).sort((a, b) => a.n - b.n);
    const ns = [...new Set(runs.map((r) => r.n))];
    const finals: number[] = [];
    for (const run of runs) {
      if (run.flops.length !== run.nmse.length) {
        throw new SaerchError(
          `nmseVsFlopsFigure: run (n=${run.n}, k=${k}) has ${run.flops.length} FLOPs values but ${run.nmse.length} NMSE values`,
          "log FLOPs and NMSE at the same steps",
        );
      }
      const keep = run.flops.map((_, i) => i).filter((i) => run.flops[i]! > 0 && run.nmse[i]! > 0);
      const idx = logSpacedIndices(keep.length, MAX_CURVE_POINTS).map((i) => keep[i]!);
      if (idx.length === 0) continue;
      finals.push(run.flops[idx[idx.length - 1]!]!);
      const rank = ns.indexOf(run.n);
      const opacity = ns.length > 1 ? MIN_RUN_OPACITY + ((1 - MIN_RUN_OPACITY) * rank) / (ns.length - 1) : 1;
      data.push({
        type: "scatter",
        mode: "lines",
        name: `k = ${k}, n = ${run.n}`,
        legendgroup: `k=${k}`,
        x: idx.map((i) => round(run.flops[i]!)),
        y: idx.map((i) => round(run.nmse[i]!)),
        opacity: round(opacity),
        line: { width: 1.5, color },
        hovertemplate: `k = ${k}, n = ${run.n}: %{x:.3g} FLOPs → NMSE %{y:.4f}<extra></extra>`,
      });
    }
    const law = laws.find((l) => l.k === k);
    if (law === undefined || finals.length === 0) continue;
    const xs = [...new Set([Math.min(...finals), Math.max(...finals)])];
    data.push({
      type: "scatter",
      mode: "lines",
      name: `k = ${k}: NMSE = ${law.a.toPrecision(3)}·C^−${law.beta.toFixed(2)}`,
      legendgroup: `k=${k}`,
      x: xs.map(round),
      y: xs.map((x) => round(law.a * x ** -law.beta)),
      line: { width: 2, color, dash: "dash" },
      hoverinfo: "skip",
    });
  }
  return {
    data,
    layout: logLogNmseLayout(opts.title ?? "NMSE against training compute", "FLOPs (examples · 2·d·(n + k))", true),
  };
}

/**
 * Overlaid step-line histograms of decoder max cosine on fixed bins over [0, 1], as the fraction of each
 * group's features per bin so SAE pairs of different sizes compare. Values above 1 (rounding) count as 1;
 * values below 0 (a feature whose best match points away) are not drawn but counted in the legend, which
 * also gives the group's mean.
 * @param groups pair name (e.g. "SAE n=1024 → n=2048") → `[L]` max cosines
 */
export function maxCosineHistogramFigure(
  groups: Record<string, ArrayLike<number>>,
  opts: { title?: string; bins?: number } = {},
): FigureSpec {
  const bins = opts.bins ?? MAX_COSINE_BINS;
  const data = Object.entries(groups).map(([name, values], g) => {
    // Float32 rounding can put an exact match a hair above 1; it belongs in the top bin.
    const clipped = Float64Array.from(values, (v) => Math.min(v, 1));
    const { edges, counts } = histogram(clipped, { bins, min: 0, max: 1 });
    let sum = 0;
    let below = 0;
    for (const v of clipped) {
      sum += v;
      if (v < 0) below++;
    }
    const total = values.length || 1;
    const mean = values.length > 0 ? (sum / values.length).toFixed(2) : "–";
    const negatives = below > 0 ? `, ${below} below 0` : "";
    return {
      type: "scatter",
      mode: "lines",
      name: `${name} (mean ${mean}, n=${values.length.toLocaleString("en-US")}${negatives})`,
      x: Array.from(counts, (_, i) => round((edges[i]! + edges[i + 1]!) / 2)),
      y: Array.from(counts, (c) => round(c / total)),
      line: { shape: "hvh", width: 2, color: PALETTE[g % PALETTE.length] },
      hovertemplate: `${name}: %{x:.2f} → %{y:.3f}<extra></extra>`,
    };
  });
  const layout = baseLayout(opts.title ?? "Max decoder cosine between SAE pairs", {
    xTitle: "max cosine similarity",
    yTitle: "fraction of features",
    showLegend: true,
  });
  return {
    data,
    layout: { ...layout, xaxis: axisWith(layout, "xaxis", { range: [0, 1] }), legend: { x: 0.01, xanchor: "left", y: 0.99 } },
  };
}

/** One trained SAE's fraction of dead latents. */
export interface DeadPoint {
  /** Latents n. */
  n: number;
  /** Active latents k. */
  k: number;
  /** Dead latents / n, in [0, 1]. */
  deadFraction: number;
}

/** Dead-latent fraction against n (log x), one markers+lines trace per k in increasing k. */
export function deadFractionFigure(points: DeadPoint[], opts: { title?: string } = {}): FigureSpec {
  for (const p of points) requirePositive("deadFractionFigure", `n of the k=${p.k} point`, p.n);
  const data = [...kColors(points.map((p) => p.k))].map(([k, color]) => {
    const own = points.filter((p) => p.k === k).sort((a, b) => a.n - b.n);
    return {
      type: "scatter",
      mode: "lines+markers",
      name: `k = ${k}`,
      x: own.map((p) => p.n),
      y: own.map((p) => round(p.deadFraction)),
      marker: { size: 8, color },
      line: { width: 2, color },
      hovertemplate: `k = ${k}, n = %{x}: %{y:.2%} dead<extra></extra>`,
    };
  });
  const layout = baseLayout(opts.title ?? "Dead latents against dictionary size", {
    xTitle: "latents n",
    yTitle: "dead fraction",
    showLegend: true,
  });
  return {
    data,
    layout: {
      ...layout,
      xaxis: axisWith(layout, "xaxis", { type: "log" }),
      yaxis: axisWith(layout, "yaxis", { tickformat: ".0%", rangemode: "tozero" }),
      legend: { x: 0.99, xanchor: "right", y: 0.99 },
    },
  };
}
