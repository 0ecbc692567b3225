/**
 * Plotly, loaded on first use from ./plotly.min.js (copied from node_modules by scripts/build-web.mjs), so
 * the pages without charts never parse it. It is plotly's cartesian bundle (1.4 MB: bar, scatter, heatmap, …),
 * not the full 4.8 MB one: the pages draw nothing else. Only the few calls the pages make are typed here.
 */

/** A plotly trace or layout: plain JSON-like objects. */
export type PlotlyObject = Record<string, unknown>;

export interface PlotlyClickEvent {
  points: Array<{ pointIndex: number; customdata?: unknown; x?: unknown; y?: unknown }>;
}

/** A div plotly has drawn into. */
export interface PlotlyElement extends HTMLElement {
  on(event: "plotly_click", handler: (event: PlotlyClickEvent) => void): void;
}

interface PlotlyGlobal {
  newPlot(el: HTMLElement, data: PlotlyObject[], layout: PlotlyObject, config: PlotlyObject): Promise<PlotlyElement>;
  purge(el: HTMLElement): void;
}

declare global {
  interface Window {
    Plotly?: PlotlyGlobal;
  }
}

let loading: Promise<PlotlyGlobal> | undefined;

/** Load plotly once; a failed load can be retried. */
export function loadPlotly(): Promise<PlotlyGlobal> {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  loading ??= new Promise<PlotlyGlobal>((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "plotly.min.js";
    script.async = true;
    script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error("plotly.min.js loaded but defined no Plotly")));
    script.onerror = () => {
      loading = undefined;
      script.remove();
      reject(new Error("cannot load plotly.min.js (run `npm run build:web`)"));
    };
    document.head.appendChild(script);
  });
  return loading;
}

/** Common layout: the page's font, tight margins, transparent background. */
export function chartLayout(extra: PlotlyObject): PlotlyObject {
  return {
    font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1f2933" },
    margin: { l: 56, r: 16, t: 28, b: 44 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "#ffffff",
    ...extra,
  };
}

/** Common config: no plotly logo, no editing, responsive. */
export const CHART_CONFIG: PlotlyObject = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

/** Draw a chart; plotly's own errors become a message in the element. */
export async function drawChart(el: HTMLElement, data: PlotlyObject[], layout: PlotlyObject): Promise<PlotlyElement> {
  const plotly = await loadPlotly();
  return plotly.newPlot(el, data, chartLayout(layout), CHART_CONFIG);
}
