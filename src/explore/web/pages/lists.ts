/**
 * Feature lists: a named set of features kept in the URL (and saved to the explorer database with
 * POST /api/lists), and one test text run across all of them (POST /api/lists/run), strongest first.
 */
import { MAX_LIST_FEATURES } from "../limits.js";
import { api, ApiFailure, cachedFeature, isAbort } from "../api-client.js";
import { featureLink, type PageContext } from "../context.js";
import { fixed, h, message, replaceChildren } from "../dom.js";
import { labelPicker } from "../label-picker.js";
import { href } from "../route.js";
import { listParams, type ListState, parseListState } from "../url-state.js";

/** Labels fetched on load for a list from the URL (the rest arrive with the first run). */
const LABELS_ON_LOAD = 50;

export async function renderLists(ctx: PageContext): Promise<void> {
  const domain = ctx.domain.domain;
  const parsed = parseListState(ctx.route.params);
  ctx.reportProblems(parsed.problems);
  const state: ListState = { ...parsed.state, domain };
  const outside = state.features.filter((f) => f >= ctx.domain.n);
  if (outside.length > 0) {
    state.features = state.features.filter((f) => f < ctx.domain.n);
    ctx.reportProblems(outside.map((f) => `feature ${f} is not in this SAE (${ctx.domain.sae} has features 0–${ctx.domain.n - 1}); it was left out of the list`));
  }
  const labels = new Map<number, string | null>();
  const sync = (): void => ctx.updateUrl(href("lists", null, listParams(state)));

  const nameInput = h("input", { type: "text", class: "list-name", placeholder: "list name, e.g. “exoplanet features”", "aria-label": "list name", maxlength: 80, value: state.name });
  nameInput.addEventListener("input", () => {
    state.name = nameInput.value;
    sync();
  });
  const chips = h("ul", { class: "chips" });
  const saveStatus = h("span", { class: "small save-status", "aria-live": "polite" });
  const textInput = h("textarea", { class: "list-text", rows: 5, maxlength: 1000, "aria-label": "test text", placeholder: "A title or an abstract to run across every feature of the list." }, state.text);
  const runButton = h("button", { type: "submit" }, "Run");
  const results = h("div", { class: "list-results", "aria-live": "polite" });

  const drawChips = (): void => {
    replaceChildren(
      chips,
      state.features.length === 0
        ? h("li", { class: "muted" }, "no features yet: add some with the label search")
        : state.features.map((f) =>
            h(
              "li",
              { class: "chip", "data-feature": f },
              featureLink(domain, f, labels.get(f) ?? null),
              h(
                "button",
                {
                  type: "button",
                  class: "icon remove",
                  "aria-label": `remove feature ${f}`,
                  onclick: () => {
                    state.features = state.features.filter((x) => x !== f);
                    sync();
                    drawChips();
                  },
                },
                "×",
              ),
            ),
          ),
    );
  };

  const picker = labelPicker({
    domain,
    signal: ctx.signal,
    isPicked: (f) => state.features.includes(f),
    onPick: (m) => {
      if (state.features.length >= MAX_LIST_FEATURES) {
        saveStatus.textContent = `a list holds at most ${MAX_LIST_FEATURES} features`;
        return;
      }
      state.features.push(m.feature);
      labels.set(m.feature, m.label);
      sync();
      drawChips();
    },
  });

  const save = async (): Promise<void> => {
    const name = state.name.trim();
    if (!name || state.features.length === 0) {
      saveStatus.textContent = "give the list a name and at least one feature";
      return;
    }
    try {
      const res = await api.saveList({ domain, name, features: state.features }, ctx.signal);
      saveStatus.textContent = `saved as list ${res.id} (“${res.name}”, ${res.features.length} features); this page's link holds it too`;
      await drawSaved();
    } catch (err) {
      if (isAbort(err)) return;
      saveStatus.textContent = `not saved: ${err instanceof Error ? err.message : String(err)}`;
    }
  };

  const run = async (): Promise<void> => {
    const text = textInput.value.trim();
    state.text = text;
    sync();
    if (!text) {
      replaceChildren(results, h("p", { class: "muted" }, "type a test text to run it across the list"));
      return;
    }
    if (state.features.length === 0) {
      replaceChildren(results, h("p", { class: "muted" }, "add features to the list first"));
      return;
    }
    runButton.disabled = true;
    try {
      const res = await api.runList({ domain, features: state.features, text }, ctx.signal);
      for (const r of res.results) labels.set(r.feature, r.label);
      drawChips();
      const sorted = [...res.results].sort((a, b) => b.activation - a.activation || b.preActivation - a.preActivation || a.feature - b.feature);
      const top = Math.max(...sorted.map((r) => r.preActivation), ...sorted.map((r) => r.activation), 1e-9);
      const firing = sorted.filter((r) => r.activation > 0).length;
      replaceChildren(
        results,
        h("p", { class: "muted small" }, `${firing} of ${sorted.length} features fire on this text`),
        h(
          "table",
          { class: "list-run" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              h("th", null, "feature"),
              h("th", { class: "num", title: "the feature's activation: its value when among the text's top-k, else 0" }, "activation"),
              h("th", { class: "num", title: "the encoder's output before the top-k: how close a silent feature came" }, "pre-top-k"),
              h("th", null, ""),
            ),
          ),
          h(
            "tbody",
            null,
            sorted.map((r) =>
              h(
                "tr",
                { class: r.activation > 0 ? "fires" : "silent" },
                h("td", null, featureLink(domain, r.feature, r.label)),
                h("td", { class: "num" }, fixed(r.activation)),
                h("td", { class: "num muted" }, fixed(r.preActivation)),
                h("td", { class: "bar-cell" }, h("span", { class: r.activation > 0 ? "bar" : "bar pre", style: `width:${((100 * Math.max(r.activation, r.preActivation)) / top).toFixed(1)}%` })),
              ),
            ),
          ),
        ),
      );
    } catch (err) {
      if (isAbort(err)) return;
      replaceChildren(results, message("error", err instanceof Error ? err.message : String(err), err instanceof ApiFailure ? err.fix : undefined));
    } finally {
      runButton.disabled = false;
    }
  };

  /** The lists saved in the explorer database for this domain, each a link that loads it. */
  const savedBox = h("div", { class: "saved-lists" });
  async function drawSaved(): Promise<void> {
    try {
      const { lists } = await api.lists(domain, ctx.signal);
      replaceChildren(
        savedBox,
        lists.length === 0
          ? h("p", { class: "muted small" }, "no saved lists yet")
          : h(
              "ul",
              null,
              lists.map((l) =>
                h(
                  "li",
                  null,
                  h("a", { href: href("lists", null, listParams({ domain, name: l.name, features: l.features, text: state.text })) }, l.name),
                  h("span", { class: "muted small" }, ` · ${l.features.length} features · list ${l.id}`),
                ),
              ),
            ),
      );
    } catch (err) {
      if (isAbort(err)) throw err;
      replaceChildren(savedBox, message("error", `cannot list the saved lists: ${err instanceof Error ? err.message : String(err)}`, err instanceof ApiFailure ? err.fix : undefined));
    }
  }

  const runForm = h("form", { class: "list-run-form" }, textInput, h("div", { class: "row" }, runButton));
  runForm.addEventListener("submit", (e) => {
    e.preventDefault();
    void run();
  });

  replaceChildren(
    ctx.root,
    h(
      "div",
      { class: "lists-page" },
      h("h1", null, "Feature lists"),
      h(
        "div",
        { class: "grid two" },
        h(
          "section",
          { class: "card" },
          h("h2", null, "The list"),
          h("div", { class: "row" }, nameInput, h("button", { type: "button", class: "secondary save-list", onclick: () => void save() }, "Save")),
          saveStatus,
          chips,
          h("h3", null, "Add features"),
          picker,
          h("h3", null, "Saved lists"),
          savedBox,
        ),
        h("section", { class: "card" }, h("h2", null, "Run a text across the list"), runForm, results),
      ),
    ),
  );
  drawChips();
  sync();

  // Labels for a list opened from a link: the first few now (unknown ids are named and dropped).
  const unknown = new Set<number>();
  await Promise.all([
    drawSaved(),
    ...state.features.slice(0, LABELS_ON_LOAD).map(async (f) => {
      try {
        labels.set(f, (await cachedFeature(domain, f)).label);
      } catch (err) {
        if (err instanceof ApiFailure && err.status === 404) unknown.add(f);
        else if (!(err instanceof ApiFailure)) throw err;
      }
    }),
  ]);
  if (ctx.signal.aborted) return;
  if (unknown.size > 0) {
    state.features = state.features.filter((f) => !unknown.has(f));
    ctx.reportProblems([...unknown].map((f) => `feature ${f} is not in this SAE (${ctx.domain.sae}); it was left out of the list`));
    sync();
  }
  drawChips();
  if (state.text && state.features.length > 0) await run();
}
