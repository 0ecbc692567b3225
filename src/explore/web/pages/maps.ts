/**
 * The maps (new in this reproduction): the features (decoder directions) and the documents in 2-D, from
 * coordinates computed once offline, drawn with regl-scatterplot (WebGL) so tens of thousands of points pan
 * and zoom smoothly. Coloured by density, family or domain; hovering shows the label or title; a click
 * opens the feature's page (or the document on arXiv). A search given in the URL (the search page's "Show
 * on the map") has its results highlighted on the documents map.
 */
import createScatterplot from "regl-scatterplot";
import type { MapResponse, SearchResponse } from "../../api.js";
import { api, ApiFailure, isAbort } from "../api-client.js";
import type { PageContext } from "../context.js";
import { h, message, pct, replaceChildren } from "../dom.js";
import { href } from "../route.js";
import { type MapColour, type MapKind, mapParams, parseMapState, type SearchState } from "../url-state.js";

/** Categorical palette (Tableau 10): families and domains cycle through it; grey for "none". */
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#79706e"];
const NONE_COLOUR = "#d3d7dc";
/** Highlighted (search results) and hovered points. */
const HIGHLIGHT_COLOUR = "#e11d48";
const HOVER_COLOUR = "#111827";
/** Every point when the map has nothing to colour by. */
const PLAIN_COLOUR = "#5b7fb8";
/** Density colour ramp (viridis, 8 steps), sparse → dense. */
const RAMP = ["#440154", "#46327e", "#365c8d", "#277f8e", "#1fa187", "#4ac16d", "#a0da39", "#fde725"];
/** Search results highlighted on the documents map. */
const HIGHLIGHTS = 10;

/** Test hook: where a map point is on the page, so a browser test can click it. */
declare global {
  interface Window {
    explorerMap?: { count: number; pagePosition(i: number): [number, number] | null };
  }
}

export function arxivUrl(id: string): string {
  return `https://arxiv.org/abs/${id.split("/").map(encodeURIComponent).join("/")}`;
}

/** Per point [x, y, category, value]: category picks a palette colour, value ∈ [0, 1] the ramp. */
function pointsOf(map: MapResponse, colour: MapColour): { points: number[][]; colours: string[]; legend: HTMLElement | null; by: "valueA" | "valueB" } {
  const n = map.ids.length;
  const xy = (i: number): [number, number] => [map.points[2 * i]!, map.points[2 * i + 1]!];
  if (colour === "density" && map.density) {
    const logs = map.density.map((d) => Math.log10(Math.max(d, 1e-6)));
    const lo = Math.min(...logs);
    const hi = Math.max(...logs);
    const span = hi - lo || 1;
    const points = Array.from({ length: n }, (_, i) => [...xy(i), 0, (logs[i]! - lo) / span]);
    const legend = h(
      "div",
      { class: "legend ramp" },
      h("span", null, `${pct(10 ** lo)}`),
      h("span", { class: "ramp-bar", style: `background: linear-gradient(to right, ${RAMP.join(", ")})` }),
      h("span", null, `${pct(10 ** hi)} of documents`),
    );
    return { points, colours: RAMP, legend, by: "valueB" };
  }
  if (colour === "density" || (colour === "family" && !map.family) || (colour === "domain" && !map.domainOf)) {
    return { points: Array.from({ length: n }, (_, i) => [...xy(i), 0, 0]), colours: [PLAIN_COLOUR], legend: null, by: "valueA" };
  }
  const keys: Array<string | null> = colour === "family" ? map.family!.map((f) => (f === null ? null : String(f))) : map.domainOf!;
  const distinct = [...new Set(keys.filter((k): k is string => k !== null))];
  const index = new Map(distinct.map((k, i) => [k, i + 1]));
  const points = Array.from({ length: n }, (_, i) => [...xy(i), index.get(keys[i] ?? "") ?? 0, 0]);
  const colours = [NONE_COLOUR, ...distinct.map((_, i) => PALETTE[i % PALETTE.length]!)];
  const legend =
    colour === "domain"
      ? h("div", { class: "legend" }, distinct.map((k, i) => h("span", { class: "swatch-item" }, h("span", { class: "swatch", style: `background:${colours[i + 1]}` }), k)))
      : h("div", { class: "legend" }, `${distinct.length} families (colours repeat); grey: in no family`);
  return { points, colours, legend, by: "valueA" };
}

export async function renderMaps(ctx: PageContext): Promise<void> {
  const domain = ctx.domain.domain;
  const parsed = parseMapState(ctx.route.params);
  ctx.reportProblems(parsed.problems);
  const state = { ...parsed.state, search: { ...parsed.state.search, domain } as SearchState };
  const go = (next: { kind?: MapKind; colour?: MapColour }): void => {
    location.hash = href("maps", null, mapParams({ ...state, ...next }));
  };

  const kindSelect = h(
    "select",
    { "aria-label": "map", class: "map-kind" },
    h("option", { value: "features", selected: state.kind === "features" }, "features"),
    h("option", { value: "documents", selected: state.kind === "documents" }, "documents"),
  );
  kindSelect.addEventListener("change", () => go({ kind: kindSelect.value as MapKind }));
  const colourSelect = h(
    "select",
    { "aria-label": "colour", class: "map-colour" },
    (["density", "family", "domain"] as const).map((c) => h("option", { value: c, selected: state.colour === c }, c)),
  );
  colourSelect.addEventListener("change", () => go({ colour: colourSelect.value as MapColour }));
  const queryInput = h("input", { type: "search", class: "map-query", placeholder: "highlight a search's results…", "aria-label": "highlight query", value: state.search.query });
  const queryForm = h("form", { class: "row map-query-form" }, queryInput, h("button", { type: "submit" }, "Highlight"));
  queryForm.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = href("maps", null, mapParams({ ...state, kind: "documents", search: { ...state.search, query: queryInput.value.trim() } }));
  });

  const info = h("p", { class: "muted small map-info" });
  const legendBox = h("div", { class: "legend-box" });
  const tooltip = h("div", { class: "map-tooltip", hidden: true });
  const canvas = h("canvas", { class: "map-canvas", "aria-label": `${state.kind} map` });
  const frame = h("div", { class: "map-frame" }, canvas, tooltip);
  const side = h("div", { class: "map-side" });
  replaceChildren(
    ctx.root,
    h(
      "div",
      { class: "maps-page" },
      h("div", { class: "card map-controls" }, h("label", null, "map ", kindSelect), h("label", null, "colour by ", colourSelect), queryForm, legendBox),
      h("div", { class: "map-columns" }, h("div", { class: "card map-card" }, frame, info), side),
    ),
  );

  const searching = state.kind === "documents" && state.search.query ? startSearch(ctx, state.search) : null;
  let map: MapResponse;
  try {
    map = await api.map(domain, state.kind, ctx.signal);
  } catch (err) {
    if (isAbort(err)) throw err;
    const note = ctx.domain.missing.find((m) => m.toLowerCase().includes("map"));
    replaceChildren(frame, message("warn", note ?? (err instanceof Error ? err.message : String(err)), err instanceof ApiFailure && !note ? err.fix : undefined));
    return;
  }
  const n = map.ids.length;
  if (n === 0) {
    replaceChildren(frame, message("info", `the ${state.kind} map of ${domain} has no points`));
    return;
  }
  // Colour by what this map holds: the chosen key, else the first one it has.
  const has: Record<MapColour, boolean> = { density: map.density !== undefined, family: map.family !== undefined, domain: map.domainOf !== undefined };
  for (const option of colourSelect.options) option.disabled = !has[option.value as MapColour];
  const colour = has[state.colour] ? state.colour : ((["density", "family", "domain"] as const).find((c) => has[c]) ?? null);
  const { points, colours, legend, by } = pointsOf(map, colour ?? "density");
  if (colour !== null) colourSelect.value = colour;
  replaceChildren(
    legendBox,
    colour !== state.colour && ctx.route.params.has("color") ? h("span", null, `the ${state.kind} map holds no ${state.colour}${colour ? `; coloured by ${colour}` : ""}. `) : null,
    legend,
  );

  const { width, height } = frame.getBoundingClientRect();
  const plot = createScatterplot({
    canvas,
    width: Math.max(200, Math.floor(width)),
    height: Math.max(200, Math.floor(height)),
    pointSize: n > 20_000 ? 2 : n > 5_000 ? 3 : n > 500 ? 5 : 8,
    cameraDistance: 1.08,
    pointSizeSelected: 7,
    pointOutlineWidth: 3,
    opacityInactiveMax: 0.35,
    pointColor: colours,
    // One active/hover colour per point colour: regl-scatterplot otherwise draws selected points in their own colour.
    pointColorActive: colours.map(() => HIGHLIGHT_COLOUR),
    pointColorHover: colours.map(() => HOVER_COLOUR),
    colorBy: by,
    opacity: n > 20_000 ? 0.6 : 0.85,
    backgroundColor: "#ffffff",
    lassoInitiator: false,
    deselectOnDblClick: false,
  });
  ctx.signal.addEventListener("abort", () => plot.destroy(), { once: true });
  const resize = (): void => {
    const r = frame.getBoundingClientRect();
    plot.set({ width: Math.max(200, Math.floor(r.width)), height: Math.max(200, Math.floor(r.height)) });
  };
  window.addEventListener("resize", resize);
  ctx.signal.addEventListener("abort", () => window.removeEventListener("resize", resize), { once: true });

  let mouse: [number, number] = [0, 0];
  canvas.addEventListener("mousemove", (e) => {
    const r = frame.getBoundingClientRect();
    mouse = [e.clientX - r.left, e.clientY - r.top];
  });
  plot.subscribe("pointOver", (i: number) => {
    const id = map.ids[i];
    tooltip.textContent = map.kind === "features" ? `#${id} ${map.names[i] || "unlabelled"}` : map.names[i] || String(id);
    tooltip.style.left = `${mouse[0] + 12}px`;
    tooltip.style.top = `${mouse[1] + 12}px`;
    tooltip.hidden = false;
    canvas.style.cursor = "pointer";
  });
  plot.subscribe("pointOut", () => {
    tooltip.hidden = true;
    canvas.style.cursor = "";
  });
  plot.subscribe("select", ({ points: picked }: { points: number[] }) => {
    const i = picked[0];
    if (i === undefined || picked.length !== 1) return;
    const id = map.ids[i];
    if (map.kind === "features" && typeof id === "number") location.hash = href("feature", id, { d: domain });
    else if (id !== undefined) window.open(arxivUrl(String(id)), "_blank", "noopener");
  });

  await plot.draw(points);
  window.explorerMap = {
    count: n,
    pagePosition(i) {
      const p = plot.getScreenPosition(i);
      if (!p) return null;
      const r = canvas.getBoundingClientRect();
      return [r.left + p[0], r.top + p[1]];
    },
  };
  ctx.signal.addEventListener("abort", () => delete window.explorerMap, { once: true });
  info.textContent = `${n.toLocaleString()} ${state.kind} · scroll to zoom, drag to pan, click a point to open it`;

  if (searching) await highlight(ctx, plot, map, searching, state.search, side);
  else if (state.kind === "features") replaceChildren(side, h("div", { class: "card" }, h("h2", null, "Features map"), h("p", { class: "muted small" }, "each point is one feature's decoder direction; nearby features point in similar directions. Hover for the label, click for the feature's page.")));
  else replaceChildren(side, h("div", { class: "card" }, h("h2", null, "Documents map"), h("p", { class: "muted small" }, "each point is one abstract's embedding. Highlight a search's results with the box above, or use “Show on the map” on the search page.")));
}

/** The search whose results the documents map highlights; started before the map is fetched, so the two overlap. */
function startSearch(ctx: PageContext, search: SearchState): Promise<SearchResponse> {
  const pending = api.search(
    {
      domain: ctx.domain.domain,
      query: search.query,
      form: search.form,
      features: search.features.map((e) => ({ feature: e.id, value: e.value })),
      families: search.families.map((e) => ({ id: e.id, value: e.value })),
      maxDensity: search.maxDensity,
      k: HIGHLIGHTS,
    },
    ctx.signal,
  );
  pending.catch(() => undefined); // awaited (and its error shown) in highlight(); never an unhandled rejection when the map fails first
  return pending;
}

async function highlight(ctx: PageContext, plot: ReturnType<typeof createScatterplot>, map: MapResponse, pending: Promise<SearchResponse>, search: SearchState, side: HTMLElement): Promise<void> {
  try {
    const res = await pending;
    const indexOf = new Map(map.ids.map((id, i) => [String(id), i]));
    const found = res.hits.map((hit) => indexOf.get(hit.id)).filter((i): i is number => i !== undefined);
    plot.select(found, { preventEvent: true });
    const steered = search.features.length + search.families.length > 0;
    replaceChildren(
      side,
      h(
        "div",
        { class: "card highlights" },
        h("h2", null, `Results for “${search.query}”${steered ? " (steered)" : ""}`),
        h("p", { class: "muted small" }, `${found.length} of ${res.hits.length} results are on this map (highlighted in red)`),
        h("ol", { class: "hits compact" }, res.hits.map((hit) => h("li", { class: indexOf.has(hit.id) ? "on-map" : "off-map" }, h("a", { href: hit.url, target: "_blank", rel: "noopener noreferrer" }, hit.title)))),
        h("a", { class: "button secondary", href: href("search", null, ctx.route.params) }, "Back to the search"),
      ),
    );
  } catch (err) {
    if (isAbort(err)) throw err;
    replaceChildren(side, message("error", `cannot highlight the search: ${err instanceof Error ? err.message : String(err)}`, err instanceof ApiFailure ? err.fix : undefined));
  }
}
