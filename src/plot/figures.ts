/**
 * Figure builders: one named, pure function per figure (data in → FigureSpec out). They do no I/O and
 * depend on nothing but their arguments, so the same data always gives byte-identical JSON.
 */
import { histogram } from "../core/stats.js";
import { baseLayout, type FigureSpec } from "./spec.js";

/** Bar colour for measured values. */
const BLUE = "#1f77b4";
/** Bar colour for things that could not be measured. */
const GREY = "#bdbdbd";

/** One compute engine's GEMM measurement, as the environment check records it. */
export interface EngineCheckRow {
  /** Engine name, e.g. "tfjs-node-gpu" or "wasm". */
  engine: string;
  /** Measured fp32 GEMM throughput in GFLOP/s (ignored when `ok` is false). */
  gflops: number;
  /** Whether the engine ran. */
  ok: boolean;
}

/** A throughput as bar text: one decimal below 100, whole numbers above. */
function formatGflops(g: number): string {
  return g >= 100 ? Math.round(g).toString() : g.toFixed(1);
}

/**
 * Horizontal bar chart of measured GEMM throughput per compute engine, in the given order from the top.
 * Engines that failed are drawn grey at 0 with the text "unavailable".
 */
export function engineCheckFigure(rows: EngineCheckRow[]): FigureSpec {
  const ok = rows.map((r) => r.ok && Number.isFinite(r.gflops));
  const layout = baseLayout("Compute engines on this machine", {
    xTitle: "GFLOP/s (fp32 GEMM)",
    showLegend: false,
  });
  return {
    data: [
      {
        type: "bar",
        orientation: "h",
        name: "fp32 GEMM",
        y: rows.map((r) => r.engine),
        x: rows.map((r, i) => (ok[i] ? r.gflops : 0)),
        text: rows.map((r, i) => (ok[i] ? formatGflops(r.gflops) : "unavailable")),
        textposition: "outside",
        textfont: { color: rows.map((_, i) => (ok[i] ? "#222" : "#888")) },
        cliponaxis: false,
        marker: { color: rows.map((_, i) => (ok[i] ? BLUE : GREY)) },
        hovertemplate: "%{y}: %{text}<extra></extra>",
      },
    ],
    layout: {
      ...layout,
      xaxis: { ...(layout.xaxis as Record<string, unknown>), rangemode: "tozero" },
      yaxis: { ...(layout.yaxis as Record<string, unknown>), autorange: "reversed", type: "category" },
    },
  };
}

/** Options for {@link histogramFigure}. */
export interface HistogramFigureOptions {
  /** Figure title. */
  title: string;
  /** X-axis title (what the values are). */
  xTitle: string;
  /** Number of equal-width bins (default 50). */
  bins?: number;
  /** Log-scale count axis (empty bins then vanish). */
  logY?: boolean;
  /** Trace name (legend / hover). */
  name?: string;
}

/**
 * A histogram of `values`, binned here (not by plotly) and drawn as one bar trace, so the JSON holds only
 * bin centres and counts however many values there are. Binning follows `histogram` (core/stats: numpy's
 * conventions, equal-width bins over [min, max]); non-finite values are left out.
 */
export function histogramFigure(values: ArrayLike<number>, opts: HistogramFigureOptions): FigureSpec {
  const { edges, counts } = histogram(values, { bins: opts.bins ?? 50 });
  const x = Array.from(counts, (_, i) => (edges[i]! + edges[i + 1]!) / 2);
  const width = Array.from(counts, (_, i) => edges[i + 1]! - edges[i]!);
  const layout = baseLayout(opts.title, { xTitle: opts.xTitle, yTitle: "count", showLegend: false });
  return {
    data: [
      {
        type: "bar",
        name: opts.name ?? opts.xTitle,
        x,
        y: Array.from(counts),
        width,
        marker: { color: BLUE, line: { color: "white", width: 0.5 } },
        hovertemplate: "%{x:.4g}: %{y}<extra></extra>",
      },
    ],
    layout: {
      ...layout,
      bargap: 0,
      yaxis: { ...(layout.yaxis as Record<string, unknown>), ...(opts.logY ? { type: "log" } : {}) },
    },
  };
}
