/**
 * What every page gets from the shell (app.ts): its route, the run's domains, its root element, an abort
 * signal that fires when the reader navigates away, and a way to keep the URL in step with its state.
 */
import type { DomainsResponse } from "../api.js";
import { h } from "./dom.js";
import { href, type Route } from "./route.js";

export type DomainInfo = DomainsResponse["domains"][number];

export interface PageContext {
  route: Route;
  /** The domain shown (from `?d=`, else the run's first). */
  domain: DomainInfo;
  domains: DomainInfo[];
  root: HTMLElement;
  /** Aborted when the page is left: pass it to every request. */
  signal: AbortSignal;
  /** Put the page's state in the URL without re-rendering the page (push: a new history entry). */
  updateUrl(hash: string, push?: boolean): void;
  /** Show problems with the URL's state (malformed or unknown pieces the page dropped) above the page. */
  reportProblems(problems: readonly string[]): void;
}

export type Page = (ctx: PageContext) => Promise<void>;

/** A link to a feature page: "#12 label" (the label, or "unlabelled"). */
export function featureLink(domain: string, feature: number, label: string | null | undefined): HTMLAnchorElement {
  return h(
    "a",
    { class: "feature-link", href: href("feature", feature, { d: domain }), title: label ?? `feature ${feature} (no label)` },
    h("span", { class: "fid" }, `#${feature}`),
    " ",
    label ? label : h("span", { class: "muted" }, "unlabelled"),
  );
}

/** A link to a family page. */
export function familyLink(domain: string, id: number, label: string | null | undefined): HTMLAnchorElement {
  return h(
    "a",
    { class: "family-link", href: href("family", id, { d: domain }) },
    h("span", { class: "fid" }, `family ${id}`),
    " ",
    label ? label : h("span", { class: "muted" }, "unlabelled"),
  );
}

/** The `missing` notes of a domain that mention one of `words` (e.g. "families"), for a page's own notice. */
export function missingAbout(domain: DomainInfo, ...words: string[]): string[] {
  return domain.missing.filter((m) => words.some((w) => m.toLowerCase().includes(w)));
}

/** A section with a heading. */
export function section(title: string, ...children: Parameters<typeof h>[2][]): HTMLElement {
  return h("section", { class: "card" }, h("h2", null, title), ...children);
}
