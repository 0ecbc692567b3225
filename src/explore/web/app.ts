/**
 * The explorer's shell: reads the route from the URL hash, fetches the run's domains once, draws the
 * navigation, the domain switch and the domain's "missing" notes, and renders one page at a time. A page
 * that fails shows its error in place (never a blank screen); leaving a page aborts its requests.
 * When a page has drawn, `<html data-ready>` is set and a performance mark "explorer-ready" is made (the
 * browser tests and `npm run bench:explore` wait for them).
 */
import { ApiFailure, api, isAbort } from "./api-client.js";
import type { DomainInfo, Page, PageContext } from "./context.js";
import { h, message, replaceChildren } from "./dom.js";
import { renderFamilies, renderFamily } from "./pages/families.js";
import { renderFeature } from "./pages/feature.js";
import { renderLists } from "./pages/lists.js";
import { renderSearch } from "./pages/search.js";
import { href, type PageName, parseRoute, type Route, safeText } from "./route.js";

const NAV: Array<{ page: PageName; text: string }> = [
  { page: "search", text: "Search" },
  { page: "families", text: "Families" },
  { page: "maps", text: "Maps" },
  { page: "lists", text: "Lists" },
];

/** The maps page carries WebGL code: loaded on first visit (a separate chunk). */
const renderMaps: Page = async (ctx) => (await import("./pages/maps.js")).renderMaps(ctx);

const PAGES: Record<PageName, Page> = {
  search: renderSearch,
  feature: renderFeature,
  families: renderFamilies,
  family: renderFamily,
  maps: renderMaps,
  lists: renderLists,
};

const root = document.getElementById("page")!;
const notices = document.getElementById("notices")!;
const nav = document.getElementById("nav")!;
const domainSelect = document.getElementById("domain") as HTMLSelectElement;

let domains: DomainInfo[] | null = null;
let current: AbortController | null = null;
/** The hash the shown page was rendered for (or last put in the URL by it): no re-render for it. */
let shownHash: string | null = null;
let readyMarked = false;

function markReady(state: "ready" | "error"): void {
  document.documentElement.dataset.ready = state;
  if (!readyMarked) {
    readyMarked = true;
    performance.mark("explorer-ready");
  }
}

function errorText(err: unknown): { text: string; fix?: string } {
  if (err instanceof ApiFailure) return { text: err.message, ...(err.fix ? { fix: err.fix } : {}) };
  if (err instanceof Error) return { text: `Something went wrong: ${err.message}` };
  return { text: `Something went wrong: ${String(err)}` };
}

function showError(err: unknown): void {
  const { text, fix } = errorText(err);
  root.prepend(message("error", text, fix));
  markReady("error");
}

/** Navigation bar with the current page marked, each link keeping the domain. */
function drawNav(route: Route, domain: string): void {
  const active = route.page === "feature" ? "search" : route.page === "family" ? "families" : route.page;
  replaceChildren(
    nav,
    NAV.map((n) => h("a", { href: href(n.page, null, { d: domain }), class: n.page === active ? "active" : null, "aria-current": n.page === active ? "page" : null }, n.text)),
  );
}

function drawDomainSwitch(all: DomainInfo[], domain: string, route: Route): void {
  replaceChildren(
    domainSelect,
    all.map((d) => h("option", { value: d.domain, selected: d.domain === domain }, `${d.domain} · ${d.sae}`)),
  );
  domainSelect.onchange = () => {
    const next = domainSelect.value;
    // Feature and family ids belong to one SAE: switching domain goes to the other domain's search page,
    // keeping only the query; the other pages keep their view.
    const params = new URLSearchParams();
    params.set("d", next);
    let page: PageName = route.page;
    if (page === "feature" || page === "family" || page === "search") {
      page = "search";
      const q = route.params.get("q");
      if (q) params.set("q", q);
    } else if (page === "maps") {
      for (const key of ["kind", "color"]) {
        const v = route.params.get(key);
        if (v) params.set(key, v);
      }
    }
    location.hash = href(page, null, params);
  };
}

function drawNotices(domain: DomainInfo, problems: string[]): void {
  replaceChildren(
    notices,
    problems.length > 0
      ? h(
          "div",
          { class: "message warn url-problems", role: "alert" },
          h("p", null, "This link's state could not be read in full:"),
          h("ul", null, problems.map((p) => h("li", null, p))),
        )
      : null,
    domain.missing.length > 0
      ? h(
          "div",
          { class: "message info missing" },
          h("p", null, `Not in this run for ${domain.domain}:`),
          h("ul", null, domain.missing.map((m) => h("li", null, m))),
        )
      : null,
  );
}

async function render(): Promise<void> {
  const hash = location.hash;
  if (hash === shownHash) return;
  shownHash = hash;
  current?.abort();
  const controller = new AbortController();
  current = controller;
  document.documentElement.dataset.ready = "0";
  const route = parseRoute(hash);
  try {
    domains ??= (await api.domains()).domains;
  } catch (err) {
    replaceChildren(root);
    showError(err);
    return;
  }
  if (controller.signal.aborted) return;
  if (domains.length === 0) {
    replaceChildren(root, message("error", "This run has no domains to explore.", "build the explorer database from a run with trained SAEs (notebooks/02-train-sae.ipynb, then `npm run explore:build`)"));
    markReady("error");
    return;
  }
  const problems = [...route.problems];
  const wanted = route.params.get("d");
  const found = domains.find((d) => d.domain === wanted);
  const domain = found ?? domains[0]!;
  if (!found && wanted) problems.push(`this run has no domain "${safeText(wanted)}" (it has ${domains.map((d) => d.domain).join(", ")}); showing ${domain.domain}`);
  drawNav(route, domain.domain);
  drawDomainSwitch(domains, domain.domain, route);
  drawNotices(domain, problems);
  replaceChildren(root, h("p", { class: "loading" }, "Loading…"));
  const ctx: PageContext = {
    route,
    domain,
    domains,
    root,
    signal: controller.signal,
    updateUrl(next, push = false) {
      if (controller.signal.aborted || next === location.hash) return;
      shownHash = next;
      if (push) history.pushState(null, "", next);
      else history.replaceState(null, "", next);
    },
    reportProblems(more) {
      if (controller.signal.aborted || more.length === 0) return;
      problems.push(...more);
      drawNotices(domain, problems);
    },
  };
  try {
    await PAGES[route.page](ctx);
    if (!controller.signal.aborted) markReady("ready");
  } catch (err) {
    if (isAbort(err) || controller.signal.aborted) return;
    console.error(err);
    showError(err);
  }
}

window.addEventListener("hashchange", () => void render());
window.addEventListener("popstate", () => void render());
window.addEventListener("unhandledrejection", (e) => {
  if (isAbort(e.reason)) {
    e.preventDefault();
    return;
  }
  const { text, fix } = errorText(e.reason);
  root.prepend(message("error", text, fix));
});
window.addEventListener("error", (e) => {
  root.prepend(message("error", `Something went wrong: ${e.message}`));
});
void render();
