/**
 * A feature's page (METHOD.md §8, the authors' feature tab, extended after Neuronpedia): label with its
 * scorer and scores, density, the activation histogram (log y), top documents and documents from lower
 * quantiles, the 5 most and least similar features by decoder cosine, the top co-occurring features by the
 * overlap coefficient (not raw counts), its families, its nearest features in the other SAE sizes
 * (feature splitting), and a "test your text" box.
 */
import type { FeatureResponse } from "../../api.js";
import { api, ApiFailure, isAbort } from "../api-client.js";
import { familyLink, featureLink, missingAbout, type PageContext, section } from "../context.js";
import { fixed, fmt, h, message, pct, replaceChildren } from "../dom.js";
import { drawChart, loadPlotly } from "../plotly.js";
import { href } from "../route.js";

type Doc = FeatureResponse["top"][number];

function arxivUrl(id: string): string {
  return `https://arxiv.org/abs/${id.split("/").map(encodeURIComponent).join("/")}`;
}

function docTable(docs: readonly Doc[]): HTMLElement {
  if (docs.length === 0) return h("p", { class: "muted" }, "no documents");
  return h(
    "table",
    { class: "docs" },
    h("thead", null, h("tr", null, h("th", { class: "num" }, "activation"), h("th", null, "title"))),
    h(
      "tbody",
      null,
      docs.map((d) =>
        h(
          "tr",
          null,
          h("td", { class: "num" }, fixed(d.activation)),
          h("td", null, h("a", { href: arxivUrl(d.id), target: "_blank", rel: "noopener noreferrer" }, d.title), h("span", { class: "muted small" }, ` ${d.id}`)),
        ),
      ),
    ),
  );
}

function neighbourList<T extends { feature: number; label: string | null }>(domain: string, items: readonly T[], value: (x: T) => string, empty: string): HTMLElement {
  if (items.length === 0) return h("p", { class: "muted" }, empty);
  return h(
    "ol",
    { class: "neighbours" },
    items.map((x) => h("li", null, h("span", { class: "num value" }, value(x)), " ", featureLink(domain, x.feature, x.label))),
  );
}

function stat(name: string, value: string, title?: string): HTMLElement {
  return h("div", { class: "stat", title: title ?? null }, h("div", { class: "stat-value" }, value), h("div", { class: "stat-name" }, name));
}

function testBox(ctx: PageContext, feature: number): HTMLElement {
  const text = h("textarea", { class: "test-text", rows: 4, maxlength: 1000, placeholder: "Paste a title or an abstract: the feature's activation on it appears here.", "aria-label": "test text" });
  const out = h("div", { class: "test-result", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Test");
  const form = h("form", { class: "test-form" }, text, h("div", { class: "row" }, button));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const t = text.value.trim();
    if (!t) return;
    button.disabled = true;
    try {
      const res = await api.activation(ctx.domain.domain, feature, t, ctx.signal);
      replaceChildren(
        out,
        h(
          "p",
          { class: "activation" },
          "activation ",
          h("strong", null, fixed(res.activation)),
          res.activation === 0 ? h("span", { class: "muted" }, ` (not among the text's top ${ctx.domain.k}; before the top-k it reached ${fixed(res.preActivation)})`) : null,
        ),
        res.active.length > 0
          ? h(
              "details",
              null,
              h("summary", null, `the text's ${res.active.length} active features`),
              neighbourList(ctx.domain.domain, res.active, (a) => fixed(a.activation), ""),
            )
          : null,
      );
    } catch (err) {
      if (isAbort(err)) return;
      replaceChildren(out, message("error", err instanceof Error ? err.message : String(err), err instanceof ApiFailure ? err.fix : undefined));
    } finally {
      button.disabled = false;
    }
  });
  return h("div", null, form, out);
}

export async function renderFeature(ctx: PageContext): Promise<void> {
  const domain = ctx.domain.domain;
  const id = ctx.route.id;
  if (id === null) {
    replaceChildren(ctx.root, message("error", "No feature to show: the link has no valid feature id.", `open a feature from a search result or the families page, e.g. ${href("feature", 0, { d: domain })}`));
    return;
  }
  void loadPlotly().catch(() => undefined); // fetched while the feature is: the histogram needs it
  let f: FeatureResponse;
  try {
    f = await api.feature(domain, id, ctx.signal);
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 404) {
      replaceChildren(ctx.root, message("error", `Feature ${id} is not in this SAE (${ctx.domain.sae}, ${ctx.domain.n} features: ids 0–${ctx.domain.n - 1}).`, err.fix ?? "open a feature from a search result or a map"));
      return;
    }
    throw err;
  }
  const histogramEl = h("div", { class: "chart histogram" });
  const missingLabel = f.label === null ? (missingAbout(ctx.domain, "label")[0] ?? "this feature has no label") : null;
  replaceChildren(
    ctx.root,
    h(
      "div",
      { class: "feature-page" },
      h(
        "header",
        { class: "page-head" },
        h("p", { class: "kicker" }, `${domain} · ${ctx.domain.sae} · feature ${f.feature}`),
        h("h1", { class: "feature-label" }, f.label ?? h("span", { class: "muted" }, "unlabelled feature")),
        missingLabel ? message("info", missingLabel) : null,
        h(
          "div",
          { class: "stats" },
          stat("density", pct(f.density), "fraction of documents on which the feature is among the top-k"),
          stat("F1", fmt(f.f1), "label scored as a predictor of activation: F1"),
          stat("Pearson", fmt(f.pearson), "label scored as a predictor of activation: Pearson correlation"),
          stat("scorer", f.scorer ?? "—", "what produced the scores"),
        ),
        h("div", { class: "toolbar" }, h("a", { class: "button secondary", href: href("search", null, { d: domain, q: f.label ?? "", f: `${f.feature}:${fmt(f.top[0]?.activation ?? 0.1)}` }) }, "Steer a search with it")),
      ),
      h(
        "div",
        { class: "grid two" },
        section("Activation histogram", h("p", { class: "muted small" }, "over the documents where it fires (log scale)"), histogramEl),
        section("Test your text", testBox(ctx, f.feature)),
      ),
      section("Top documents", docTable(f.top)),
      f.quantiles.length > 0
        ? section(
            "Documents from lower quantiles",
            f.quantiles.map((q) => h("div", { class: "quantile" }, h("h3", null, `around the ${Math.round(q.quantile * 100)}th percentile of its activations`), docTable(q.docs))),
          )
        : null,
      h(
        "div",
        { class: "grid three" },
        section("Most similar (decoder cosine)", neighbourList(domain, f.similar, (x) => fixed(x.cosine), "no neighbours")),
        section("Least similar (decoder cosine)", neighbourList(domain, f.dissimilar, (x) => fixed(x.cosine), "no neighbours")),
        section("Co-occurring (overlap coefficient)", neighbourList(domain, f.cooccurring, (x) => fixed(x.overlap), "fires with no other feature")),
      ),
      h(
        "div",
        { class: "grid two" },
        section(
          "Families",
          f.families.length > 0
            ? h("ul", { class: "families-of" }, f.families.map((x) => h("li", null, familyLink(domain, x.id, x.label ?? (x.role === "root" ? f.label : null)), h("span", { class: "muted small" }, ` · ${x.role === "root" ? "its parent" : "a member"} · ${x.size} features`))))
            : message("info", missingAbout(ctx.domain, "famil")[0] ?? "in no family"),
        ),
        section(
          "Feature splitting",
          f.splitting.length > 0
            ? h(
                "table",
                { class: "splitting" },
                h("thead", null, h("tr", null, h("th", null, "SAE"), h("th", { class: "num" }, "feature"), h("th", { class: "num" }, "decoder cosine"))),
                h("tbody", null, f.splitting.map((s) => h("tr", null, h("td", null, s.sae), h("td", { class: "num" }, `#${s.feature}`), h("td", { class: "num" }, fixed(s.cosine))))),
              )
            : message("info", missingAbout(ctx.domain, "sweep", "split")[0] ?? "no other SAE sizes in this run"),
        ),
      ),
    ),
  );
  document.title = `#${f.feature} ${f.label ?? "unlabelled"} · SAErch explorer`;
  await drawHistogram(histogramEl, f);
}

async function drawHistogram(el: HTMLElement, f: FeatureResponse): Promise<void> {
  const { edges, counts } = f.histogram;
  if (counts.length === 0 || edges.length !== counts.length + 1) {
    replaceChildren(el, h("p", { class: "muted" }, "no activations recorded"));
    return;
  }
  const centres = counts.map((_, i) => (edges[i]! + edges[i + 1]!) / 2);
  const widths = counts.map((_, i) => edges[i + 1]! - edges[i]!);
  try {
    await drawChart(
      el,
      [{ type: "bar", x: centres, y: counts, width: widths, marker: { color: "#3b6ea8" }, hovertemplate: "activation %{x:.3g}<br>%{y} documents<extra></extra>" }],
      { height: 260, xaxis: { title: { text: "activation" } }, yaxis: { title: { text: "documents" }, type: "log", dtick: 1, exponentformat: "none" }, bargap: 0.02 },
    );
  } catch (err) {
    replaceChildren(el, message("error", `cannot draw the histogram: ${err instanceof Error ? err.message : String(err)}`));
  }
}
