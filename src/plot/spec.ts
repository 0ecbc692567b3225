/**
 * Figure specifications: plain plotly.js JSON (data + layout + config), so a figure can be saved, diffed,
 * re-rendered and embedded in a web page without any code. `baseLayout` gives every figure the same look.
 */
import { SaerchError } from "../core/errors.js";

/** A plotly.js figure as plain JSON: traces, layout and optional config. */
export interface FigureSpec {
  /** Plotly traces, e.g. `{ type: "bar", x: [...], y: [...] }`. */
  data: Array<Record<string, unknown>>;
  /** Plotly layout (title, axes, size, ...). */
  layout: Record<string, unknown>;
  /** Plotly config (interactive-only options such as `displaylogo`). */
  config?: Record<string, unknown>;
}

/** Options for {@link baseLayout}. */
export interface BaseLayoutOptions {
  /** X-axis title. */
  xTitle?: string;
  /** Y-axis title. */
  yTitle?: string;
  /** Figure width in CSS pixels (default 800). */
  width?: number;
  /** Figure height in CSS pixels (default 500). */
  height?: number;
  /** Show the legend (default: plotly decides). */
  showLegend?: boolean;
}

/** Default figure width in CSS pixels. */
export const DEFAULT_WIDTH = 800;
/** Default figure height in CSS pixels. */
export const DEFAULT_HEIGHT = 500;

/**
 * The project's common layout: a white, "plotly_white"-like style (plotly.js has no named templates), one
 * sans-serif font, compact margins, 800×500 by default.
 * Merge figure-specific keys over the result (`{ ...baseLayout(...), barmode: "stack" }`).
 */
export function baseLayout(title: string, opts: BaseLayoutOptions = {}): Record<string, unknown> {
  const axis = (text: string | undefined): Record<string, unknown> => ({
    ...(text !== undefined ? { title: { text } } : {}),
    automargin: true,
    zeroline: false,
    showline: true,
    linecolor: "#444",
    ticks: "outside",
    gridcolor: "#e5e5e5",
  });
  return {
    title: { text: title, x: 0.02, xanchor: "left" },
    font: { family: "Helvetica, Arial, sans-serif", size: 13, color: "#222" },
    paper_bgcolor: "white",
    plot_bgcolor: "white",
    margin: { l: 70, r: 30, t: 60, b: 60 },
    width: opts.width ?? DEFAULT_WIDTH,
    height: opts.height ?? DEFAULT_HEIGHT,
    xaxis: axis(opts.xTitle),
    yaxis: axis(opts.yTitle),
    ...(opts.showLegend !== undefined ? { showlegend: opts.showLegend } : {}),
  };
}

/**
 * Throw unless `spec` has the shape plotly needs. plotly itself tolerates some broken specs silently
 * (it draws an empty figure for `data: "oops"`), so this catches them first.
 * @throws SaerchError naming what is wrong
 */
export function assertFigureSpec(spec: unknown): asserts spec is FigureSpec {
  const isObject = (v: unknown): boolean => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject(spec)) throw new SaerchError("figure spec must be an object { data, layout }");
  const { data, layout, config } = spec as Record<string, unknown>;
  if (!Array.isArray(data) || !data.every(isObject)) {
    throw new SaerchError("figure spec `data` must be an array of trace objects");
  }
  if (!isObject(layout)) throw new SaerchError("figure spec `layout` must be an object");
  if (config !== undefined && !isObject(config))
    throw new SaerchError("figure spec `config` must be an object");
}
