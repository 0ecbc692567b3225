/**
 * Page state ⇄ URL parameters, so that a steered search (query, intervention form, feature and family
 * edits, density threshold, domain), a feature list or a map view can be shared and reloaded. Parsing never
 * throws: a malformed piece is dropped and named in `problems`, which the page shows. Bounds are the API's
 * (src/explore/api.ts, restated in limits.ts), so a state that parses is a request the server accepts. Pure (no DOM).
 *
 * Search: `d=astro-ph&q=dark+matter&form=add&f=12:0.5,40:-1&fam=3:0.2&t=0.05`
 * (`f`/`fam`: comma-separated `id:value` edits; `t`: hide active features denser than this).
 */
import { MAX_EDIT_VALUE, MAX_EDITS, MAX_ID, MAX_LIST_FEATURES, MAX_LIST_NAME, MAX_TEXT_CHARS } from "./limits.js";
import { safeText } from "./route.js";

export type Form = "clamp" | "add";

/** One slider edit: a feature (or family) id and its value (clamp: activation; add: strength). */
export interface Edit {
  id: number;
  value: number;
}

export interface SearchState {
  /** Null: the first domain of the run. */
  domain: string | null;
  query: string;
  form: Form;
  features: Edit[];
  families: Edit[];
  /** Active features denser than this are hidden from the sliders (1: none hidden). */
  maxDensity: number;
}

export interface Parsed<T> {
  state: T;
  /** What was wrong with the URL, one sentence each; empty when nothing was. */
  problems: string[];
}

const DOMAIN_RE = /^[A-Za-z0-9._-]{1,64}$/;
const ID_RE = /^\d{1,8}$/;
/** Significant digits kept for slider values in the URL (sliders have ≤ 1000 steps). */
const VALUE_DIGITS = 4;

export const DEFAULT_SEARCH: SearchState = { domain: null, query: "", form: "clamp", features: [], families: [], maxDensity: 1 };

function parseDomain(params: URLSearchParams, problems: string[]): string | null {
  const d = params.get("d");
  if (d === null || d === "") return null;
  if (!DOMAIN_RE.test(d)) {
    problems.push(`"${safeText(d)}" is not a domain name (letters, digits, '.', '_', '-'); using the first domain`);
    return null;
  }
  return d;
}

function parseText(params: URLSearchParams, key: string, what: string, maxChars: number, problems: string[]): string {
  const text = params.get(key) ?? "";
  if (text.length > maxChars) {
    problems.push(`the ${what} is ${text.length} characters long; only the first ${maxChars} are kept`);
    return text.slice(0, maxChars);
  }
  return text;
}

function parseId(text: string): number | null {
  return ID_RE.test(text) && Number(text) <= MAX_ID ? Number(text) : null;
}

/** Parse `id:value,id:value`; `what` names the edits in messages ("feature", "family"). */
export function parseEdits(text: string | null, what: string, problems: string[]): Edit[] {
  if (text === null || text.trim() === "") return [];
  const byId = new Map<number, number>();
  const bad: string[] = [];
  for (const item of text.split(",")) {
    if (item.trim() === "") continue;
    const m = /^\s*([^:]+):([^:]+)\s*$/.exec(item);
    const id = m ? parseId(m[1]!.trim()) : null;
    const value = m ? Number(m[2]!.trim()) : Number.NaN;
    if (id === null || !Number.isFinite(value) || Math.abs(value) > MAX_EDIT_VALUE) {
      bad.push(safeText(item, 30));
      continue;
    }
    byId.set(id, value);
  }
  if (bad.length > 0) {
    problems.push(
      `ignored ${bad.length} malformed ${what} edit${bad.length > 1 ? "s" : ""} (${bad.map((b) => `"${b}"`).join(", ")}): ` +
        `each must be <${what} id>:<value> with |value| ≤ ${MAX_EDIT_VALUE}`,
    );
  }
  const edits = [...byId].map(([id, value]) => ({ id, value }));
  if (edits.length > MAX_EDITS) {
    problems.push(`${edits.length} ${what} edits is more than the ${MAX_EDITS} a search accepts; the first ${MAX_EDITS} are kept`);
    return edits.slice(0, MAX_EDITS);
  }
  return edits;
}

/** Parse the search page's parameters. */
export function parseSearchState(params: URLSearchParams): Parsed<SearchState> {
  const problems: string[] = [];
  const domain = parseDomain(params, problems);
  const query = parseText(params, "q", "query", MAX_TEXT_CHARS, problems);
  let form: Form = "clamp";
  const f = params.get("form");
  if (f === "add" || f === "clamp") form = f;
  else if (f !== null && f !== "") problems.push(`"${safeText(f)}" is not an intervention form (clamp or add); using clamp`);
  const features = parseEdits(params.get("f"), "feature", problems);
  const families = parseEdits(params.get("fam"), "family", problems);
  let maxDensity = 1;
  const t = params.get("t");
  if (t !== null && t !== "") {
    const v = Number(t);
    if (Number.isFinite(v) && v >= 0 && v <= 1) maxDensity = v;
    else problems.push(`the density threshold "${safeText(t)}" is not a number from 0 to 1; showing every feature`);
  }
  return { state: { domain, query, form, features, families, maxDensity }, problems };
}

function formatValue(v: number): string {
  return String(Number(v.toPrecision(VALUE_DIGITS)));
}

/** Round a slider value the way the URL stores it, so a reloaded state is exactly the shared one. */
export function roundValue(v: number): number {
  return Number(formatValue(v));
}

function editsParam(edits: readonly Edit[]): string {
  return edits.map((e) => `${e.id}:${formatValue(e.value)}`).join(",");
}

/** Serialise a search state (defaults left out). */
export function searchParams(state: SearchState): URLSearchParams {
  const p = new URLSearchParams();
  if (state.domain) p.set("d", state.domain);
  if (state.query) p.set("q", state.query);
  if (state.form !== "clamp") p.set("form", state.form);
  if (state.features.length > 0) p.set("f", editsParam(state.features));
  if (state.families.length > 0) p.set("fam", editsParam(state.families));
  if (state.maxDensity < 1) p.set("t", formatValue(state.maxDensity));
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// Lists: a named set of features and a test text.

export interface ListState {
  domain: string | null;
  name: string;
  features: number[];
  text: string;
}

export function parseListState(params: URLSearchParams): Parsed<ListState> {
  const problems: string[] = [];
  const domain = parseDomain(params, problems);
  const name = parseText(params, "name", "list name", MAX_LIST_NAME, problems);
  const text = parseText(params, "text", "test text", MAX_TEXT_CHARS, problems);
  const features: number[] = [];
  const bad: string[] = [];
  for (const item of (params.get("f") ?? "").split(",")) {
    if (item.trim() === "") continue;
    const id = parseId(item.trim());
    if (id === null) bad.push(safeText(item, 20));
    else if (!features.includes(id)) features.push(id);
  }
  if (bad.length > 0) problems.push(`ignored ${bad.length} malformed feature id${bad.length > 1 ? "s" : ""} (${bad.map((b) => `"${b}"`).join(", ")})`);
  if (features.length > MAX_LIST_FEATURES) {
    problems.push(`a list holds at most ${MAX_LIST_FEATURES} features; the first ${MAX_LIST_FEATURES} are kept`);
    features.length = MAX_LIST_FEATURES;
  }
  return { state: { domain, name, features, text }, problems };
}

export function listParams(state: ListState): URLSearchParams {
  const p = new URLSearchParams();
  if (state.domain) p.set("d", state.domain);
  if (state.name) p.set("name", state.name);
  if (state.features.length > 0) p.set("f", state.features.join(","));
  if (state.text) p.set("text", state.text);
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// Maps: which map, how it is coloured, and the search whose results it highlights.

export type MapKind = "features" | "documents";
export type MapColour = "density" | "family" | "domain";

export interface MapState {
  kind: MapKind;
  colour: MapColour;
  /** The search highlighted on the documents map (its query empty: nothing highlighted). */
  search: SearchState;
}

export function parseMapState(params: URLSearchParams): Parsed<MapState> {
  const { state: search, problems } = parseSearchState(params);
  const k = params.get("kind");
  let kind: MapKind = search.query ? "documents" : "features";
  if (k === "features" || k === "documents") kind = k;
  else if (k !== null && k !== "") problems.push(`"${safeText(k)}" is not a map (features or documents); showing the ${kind} map`);
  const c = params.get("color");
  let colour: MapColour = "density";
  if (c === "density" || c === "family" || c === "domain") colour = c;
  else if (c !== null && c !== "") problems.push(`"${safeText(c)}" is not a colouring (density, family or domain); colouring by density`);
  return { state: { kind, colour, search }, problems };
}

export function mapParams(state: MapState): URLSearchParams {
  const p = searchParams(state.search);
  p.set("kind", state.kind);
  if (state.colour !== "density") p.set("color", state.colour);
  return p;
}
