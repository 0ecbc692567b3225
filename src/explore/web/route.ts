/**
 * The explorer's routes live in the URL's hash, so any static server can serve the page and a copied link
 * reopens the same view: `#/<page>[/<id>]?d=<domain>&…`. Pure functions (no DOM), unit-tested in node.
 */
import { MAX_ID } from "./limits.js";

/** Pages of the explorer. */
export const PAGES = ["search", "feature", "families", "family", "maps", "lists"] as const;
export type PageName = (typeof PAGES)[number];


/** A parsed hash: the page, its id (feature and family pages), its parameters, and what was wrong with it. */
export interface Route {
  page: PageName;
  /** Feature or family id; null on pages without one or when the id was malformed (see `problems`). */
  id: number | null;
  params: URLSearchParams;
  /** Human-readable problems with the URL (an unknown page, a malformed id); empty when it was fine. */
  problems: string[];
}

/** Pages that need an id after the page name. */
const WITH_ID: ReadonlySet<PageName> = new Set(["feature", "family"]);

/** Parse `location.hash` ("" and "#/" are the search page). */
export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#/, "");
  const q = text.indexOf("?");
  const path = q < 0 ? text : text.slice(0, q);
  const params = new URLSearchParams(q < 0 ? "" : text.slice(q + 1));
  const parts = path.split("/").filter((p) => p.length > 0);
  const problems: string[] = [];
  const name = parts[0] ?? "search";
  if (!(PAGES as readonly string[]).includes(name)) {
    problems.push(`there is no page "${safeText(name)}" (pages: ${PAGES.join(", ")}); showing the search page`);
    return { page: "search", id: null, params, problems };
  }
  const page = name as PageName;
  let id: number | null = null;
  if (WITH_ID.has(page)) {
    const raw = parts[1];
    if (raw === undefined) {
      problems.push(`the ${page} page needs an id: #/${page}/<id>`);
    } else if (!/^\d{1,8}$/.test(raw) || Number(raw) > MAX_ID) {
      problems.push(`"${safeText(raw)}" is not a ${page} id (a whole number from 0 to ${MAX_ID})`);
    } else {
      id = Number(raw);
    }
  }
  return { page, id, params, problems };
}

/** Build a hash for a page: `href("feature", 12, { d: "cs.LG" })` → `#/feature/12?d=cs.LG`. */
export function href(page: PageName, id?: number | null, params?: URLSearchParams | Record<string, string>): string {
  const search = params instanceof URLSearchParams ? params : new URLSearchParams(params ?? {});
  const query = search.toString();
  return `#/${page}${id === null || id === undefined ? "" : `/${id}`}${query ? `?${query}` : ""}`;
}

/** A URL fragment quoted back to the reader: decoded where possible and cut short. */
export function safeText(text: string, maxChars = 60): string {
  let decoded = text;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    // keep the raw text: it was not valid percent-encoding
  }
  return decoded.length > maxChars ? `${decoded.slice(0, maxChars - 1)}…` : decoded;
}
