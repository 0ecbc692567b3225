/**
 * The search page (METHOD.md §8, the authors' search tab, extended): a query → the top-10 abstracts; the
 * query's active features as sliders whose range is the feature's largest observed activation (not 0–1:
 * typical activations are ≈ 0.03–0.15); a density threshold that hides very common features; any feature
 * added by label search; family sliders (one value for a whole family); the two intervention forms of
 * stage 6 — clamp (set latents and decode) and add (add unit decoder directions) — with cos(q, q′).
 * Results follow a moving slider (debounced; a newer request cancels the older one), and the whole state
 * sits in the URL (url-state.ts), so a steered search can be shared and reloaded.
 */
import type { ActiveFeature, FamiliesResponse, SearchHit, SearchRequest, SearchResponse } from "../../api.js";
import { api, ApiFailure, cachedFeature, isAbort, maxActivationOf } from "../api-client.js";
import { familyLink, featureLink, missingAbout, type PageContext } from "../context.js";
import { debounce, fmt, h, message, pct, replaceChildren } from "../dom.js";
import { labelPicker } from "../label-picker.js";
import { href } from "../route.js";
import { type Edit, type Form, mapParams, parseSearchState, roundValue, type SearchState, searchParams } from "../url-state.js";

/** Results per search. */
const RESULTS = 10;
/** Sliders shown before "show more" (the query's strongest features). */
const SHOWN_SLIDERS = 12;
/**
 * Slider range of the add form: ± this strength. On unit-norm embeddings cos(q, q′) is already ≈ 0.5 at
 * |s| = 2, so this keeps the slider's resolution where steering is gradual; the paper's grid (up to 10,
 * METHOD.md §7) is reachable through the URL (values up to the API's bound).
 */
const ADD_RANGE = 2;
/** Steps across a slider. */
const SLIDER_STEPS = 1000;
/** Quiet time after a slider moves before the search is sent. */
const SLIDER_DEBOUNCE_MS = 80;
/** Density threshold slider: log10 of its lowest value (0.01% of documents). */
const THRESHOLD_LOG_MIN = -4;
/** Families listed per family search. */
const FAMILY_MATCHES = 10;

/** Threshold slider position (0 … SLIDER_STEPS) ⇄ density. */
const thresholdOf = (pos: number): number => (pos >= SLIDER_STEPS ? 1 : 10 ** (THRESHOLD_LOG_MIN * (1 - pos / SLIDER_STEPS)));
const positionOf = (density: number): number =>
  density >= 1 ? SLIDER_STEPS : Math.round(SLIDER_STEPS * (1 - Math.log10(Math.max(density, 10 ** THRESHOLD_LOG_MIN)) / THRESHOLD_LOG_MIN));

type Family = FamiliesResponse["families"][number];

/** One slider: its element and what it needs to recompute its value. */
interface SliderRow {
  el: HTMLElement;
  input: HTMLInputElement;
  output: HTMLElement;
  /** The value the slider shows unedited (clamp: the query's activation; add: 0). */
  base: number;
}

function upsert(edits: Edit[], id: number, value: number): void {
  const e = edits.find((x) => x.id === id);
  if (e) e.value = value;
  else edits.push({ id, value });
}

function removeEdit(edits: Edit[], id: number): void {
  const i = edits.findIndex((x) => x.id === id);
  if (i >= 0) edits.splice(i, 1);
}

export async function renderSearch(ctx: PageContext): Promise<void> {
  const domain = ctx.domain.domain;
  const parsed = parseSearchState(ctx.route.params);
  ctx.reportProblems(parsed.problems);
  const state: SearchState = { ...parsed.state, domain };
  // Feature ids beyond the dictionary are dropped now (the server would refuse the whole search).
  const outside = state.features.filter((e) => e.id >= ctx.domain.n);
  if (outside.length > 0) {
    state.features = state.features.filter((e) => e.id < ctx.domain.n);
    ctx.reportProblems(outside.map((e) => `feature ${e.id} is not in this SAE (${ctx.domain.sae} has features 0–${ctx.domain.n - 1}); its edit was dropped`));
  }
  /** Families chosen but not yet moved (not sent, not in the URL until their slider moves). */
  const stagedFamilies = new Set<number>();
  let families: Family[] | null = null;
  let lastResponse: SearchResponse | null = null;
  let slidersKey = "";
  let inflight: AbortController | null = null;
  let baseline: { key: string; ids: Set<string> } | null = null;
  let searches = 0;

  const mapLink = h("a", { class: "button secondary map-link" }, "Show on the map");
  const sync = (push = false): void => {
    ctx.updateUrl(href("search", null, searchParams(state)), push);
    mapLink.href = href("maps", null, mapParams({ kind: "documents", colour: "density", search: state }));
  };
  sync();

  // --- query box and form --------------------------------------------------------------------------------
  const queryInput = h("input", {
    type: "search",
    name: "q",
    class: "query",
    placeholder: "Search arXiv abstracts, e.g. “dark matter halo profiles”",
    "aria-label": "query",
    maxlength: 1000,
    value: state.query,
  });
  const queryForm = h("form", { class: "query-form", role: "search" }, queryInput, h("button", { type: "submit" }, "Search"));
  queryForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = queryInput.value.trim();
    if (q === state.query && lastResponse) return;
    state.query = q;
    sync(true);
    void search();
  });

  const formRadios = (["clamp", "add"] as const).map((f) =>
    h(
      "label",
      { class: "radio" },
      h("input", { type: "radio", name: "form", value: f, checked: state.form === f }),
      f === "clamp" ? " clamp" : " add",
    ),
  );
  const formNote = h("p", { class: "muted small form-note" });
  const describeForm = (): void => {
    formNote.textContent =
      state.form === "clamp"
        ? "clamp: a slider sets the feature's activation in the query's code, which is decoded back to an embedding."
        : "add: a slider adds the feature's unit decoder direction to the query embedding with that strength (negative: subtract).";
  };
  describeForm();
  const formBox = h("div", { class: "form-toggle", role: "radiogroup", "aria-label": "intervention form" }, h("span", { class: "field-name" }, "intervention"), formRadios);
  formBox.addEventListener("change", (e) => {
    const value = (e.target as HTMLInputElement).value as Form;
    if (value === state.form) return;
    state.form = value;
    // A clamp value (an activation) means nothing as an add strength: edits start again in the new form.
    state.features = [];
    state.families = [];
    stagedFamilies.clear();
    describeForm();
    sync();
    void search();
  });

  const cosEl = h("p", { id: "cos", class: "cos", title: "cosine between the query embedding q and the steered embedding q′" });

  // --- density threshold ------------------------------------------------------------------------------------
  const thresholdInput = h("input", { type: "range", min: 0, max: SLIDER_STEPS, step: 1, value: positionOf(state.maxDensity), "aria-label": "density threshold", class: "threshold" });
  const thresholdText = h("span", { class: "threshold-text" });
  const describeThreshold = (): void => {
    thresholdText.textContent = state.maxDensity >= 1 ? "showing every active feature" : `hiding features that fire on more than ${pct(state.maxDensity)} of documents`;
  };
  describeThreshold();
  const searchSoon = debounce(() => void search(), SLIDER_DEBOUNCE_MS);
  thresholdInput.addEventListener("input", () => {
    state.maxDensity = roundValue(thresholdOf(Number(thresholdInput.value)));
    describeThreshold();
    sync();
    searchSoon();
  });

  // --- sliders ----------------------------------------------------------------------------------------------
  const slidersBox = h("div", { class: "sliders" });
  const addedBox = h("div", { class: "sliders added" });
  const hiddenBox = h("div", { class: "hidden-features" });
  const familySlidersBox = h("div", { class: "sliders families" });
  const featureRows = new Map<number, SliderRow>();

  const rangeOf = (maxActivation: number, base: number, value: number): { min: number; max: number } =>
    state.form === "clamp"
      ? { min: 0, max: Math.max(maxActivation, base, value, 1e-6) }
      : { min: Math.min(-ADD_RANGE, value), max: Math.max(ADD_RANGE, value) };

  function sliderRow(args: {
    kind: "feature" | "family";
    id: number;
    head: HTMLElement[];
    base: number;
    max: number;
    edits: Edit[];
    note?: string;
    onRemove?: () => void;
  }): SliderRow {
    const edit = args.edits.find((e) => e.id === args.id);
    const value = edit?.value ?? args.base;
    const { min, max } = rangeOf(args.max, args.base, value);
    const input = h("input", {
      type: "range",
      min,
      max,
      step: (max - min) / SLIDER_STEPS,
      value,
      "aria-label": `${args.kind} ${args.id}`,
      "data-id": args.id,
    });
    const output = h("output", { class: "slider-value" }, fmt(value));
    const el = h(
      "div",
      { class: `slider-row${edit ? " edited" : ""}`, "data-kind": args.kind, "data-id": args.id },
      h("div", { class: "slider-head" }, args.head),
      h(
        "div",
        { class: "slider-body" },
        h("span", { class: "range-end" }, fmt(min, 2)),
        input,
        h("span", { class: "range-end" }, fmt(max, 2)),
        output,
        h("button", { type: "button", class: "icon reset", title: "reset to the query's value", "aria-label": `reset ${args.kind} ${args.id}` }, "↺"),
        args.onRemove ? h("button", { type: "button", class: "icon remove", title: "remove", "aria-label": `remove ${args.kind} ${args.id}` }, "×") : null,
      ),
      args.note ? h("div", { class: "muted small" }, args.note) : null,
    );
    const row: SliderRow = { el, input, output, base: args.base };
    input.addEventListener("input", () => {
      const v = roundValue(Number(input.value));
      upsert(args.edits, args.id, v);
      if (args.kind === "family") stagedFamilies.delete(args.id);
      output.textContent = fmt(v);
      el.classList.add("edited");
      sync();
      searchSoon();
    });
    el.querySelector(".reset")!.addEventListener("click", () => {
      removeEdit(args.edits, args.id);
      input.value = String(row.base);
      output.textContent = fmt(row.base);
      el.classList.remove("edited");
      sync();
      void search();
    });
    el.querySelector(".remove")?.addEventListener("click", () => args.onRemove?.());
    return row;
  }

  function activeRow(a: ActiveFeature): SliderRow {
    return sliderRow({
      kind: "feature",
      id: a.feature,
      head: [featureLink(domain, a.feature, a.label), h("span", { class: "meta", title: `fires on ${pct(a.density)} of documents; the query's activation is ${fmt(a.activation)}` }, pct(a.density))],
      base: state.form === "clamp" ? a.activation : 0,
      max: a.maxActivation,
      edits: state.features,
    });
  }

  /** Rows for edited features that are not sliders of the query (added by label search or from the URL). */
  async function addedRows(active: readonly ActiveFeature[]): Promise<void> {
    const visible = new Set(active.filter((a) => !a.hidden).map((a) => a.feature));
    const extra = state.features.filter((e) => !visible.has(e.id));
    const dropped: string[] = [];
    const rows = await Promise.all(
      extra.map(async (e) => {
        try {
          const f = await cachedFeature(domain, e.id);
          const queryAct = active.find((a) => a.feature === e.id)?.activation ?? 0;
          const removeIt = (): void => {
            removeEdit(state.features, e.id);
            featureRows.get(e.id)?.el.remove();
            featureRows.delete(e.id);
            sync();
            void search();
          };
          const row = sliderRow({
            kind: "feature",
            id: e.id,
            head: [featureLink(domain, e.id, f.label), h("span", { class: "meta", title: `fires on ${pct(f.density)} of documents` }, pct(f.density))],
            base: state.form === "clamp" ? queryAct : 0,
            max: maxActivationOf(f, 1),
            edits: state.features,
            onRemove: removeIt,
          });
          return { id: e.id, row };
        } catch (err) {
          if (err instanceof ApiFailure && err.status === 404) {
            dropped.push(`feature ${e.id} is not in this SAE (${ctx.domain.sae}); its edit was dropped`);
            removeEdit(state.features, e.id);
            return null;
          }
          throw err;
        }
      }),
    );
    if (ctx.signal.aborted) return;
    if (dropped.length > 0) {
      ctx.reportProblems(dropped);
      sync();
    }
    replaceChildren(addedBox, rows.some((r) => r) ? h("h3", null, "Added features") : null);
    for (const r of rows) {
      if (!r) continue;
      featureRows.set(r.id, r.row);
      addedBox.appendChild(r.row.el);
    }
  }

  function drawHidden(active: readonly ActiveFeature[]): void {
    const hidden = active.filter((a) => a.hidden && !state.features.some((e) => e.id === a.feature));
    replaceChildren(
      hiddenBox,
      hidden.length > 0
        ? h(
            "details",
            null,
            h("summary", null, `${hidden.length} dense feature${hidden.length > 1 ? "s" : ""} hidden`),
            h(
              "ul",
              null,
              hidden.map((a) =>
                h(
                  "li",
                  null,
                  featureLink(domain, a.feature, a.label),
                  h("span", { class: "muted small" }, ` · fires on ${pct(a.density)} `),
                  h(
                    "button",
                    {
                      type: "button",
                      class: "small-button",
                      onclick: () => {
                        upsert(state.features, a.feature, state.form === "clamp" ? roundValue(a.activation) : 0);
                        sync();
                        void rebuildSliders(active);
                      },
                    },
                    "slider",
                  ),
                ),
              ),
            ),
          )
        : null,
    );
  }

  async function rebuildSliders(active: readonly ActiveFeature[]): Promise<void> {
    featureRows.clear();
    const visible = active.filter((a) => !a.hidden);
    replaceChildren(
      slidersBox,
      h("h3", null, "Active features of the query"),
      visible.length === 0 ? h("p", { class: "muted" }, active.length > 0 ? "every active feature is denser than the threshold" : "the query activates no feature") : null,
    );
    // The strongest SHOWN_SLIDERS (and every edited one) at once; the rest behind a button.
    const more = h("div", { class: "more-sliders", hidden: true });
    for (const a of visible) {
      const row = activeRow(a);
      featureRows.set(a.feature, row);
      const edited = state.features.some((e) => e.id === a.feature);
      (featureRows.size <= SHOWN_SLIDERS || edited ? slidersBox : more).appendChild(row.el);
    }
    if (more.childElementCount > 0) {
      const button = h("button", { type: "button", class: "secondary small-button show-more" }, `show ${more.childElementCount} more weakly active features`);
      button.addEventListener("click", () => {
        more.hidden = false;
        button.remove();
      });
      slidersBox.append(more, button);
    }
    drawHidden(active);
    await addedRows(active);
  }

  // --- add a feature by label ---------------------------------------------------------------------------------
  const picker = labelPicker({
    domain,
    signal: ctx.signal,
    isPicked: (f) => featureRows.has(f) || state.features.some((e) => e.id === f),
    onPick: (m) => {
      const act = lastResponse?.active.find((a) => a.feature === m.feature)?.activation ?? 0;
      upsert(state.features, m.feature, state.form === "clamp" ? roundValue(act) : 0);
      sync();
      void addedRows(lastResponse?.active ?? []).then(() => search());
    },
  });

  // --- families -----------------------------------------------------------------------------------------------
  const familyQuery = h("input", { type: "search", class: "family-query", placeholder: "find a family by its label…", "aria-label": "family search" });
  const familyMatches = h("ul", { class: "family-results" });
  const familyBox = h("div", { class: "family-picker" });

  async function familyRows(): Promise<void> {
    if (!families) {
      replaceChildren(familySlidersBox);
      return;
    }
    const ids = [...new Set([...state.families.map((e) => e.id), ...stagedFamilies])];
    const dropped: string[] = [];
    const rows = await Promise.all(
      ids.map(async (id) => {
        const fam = families!.find((f) => f.id === id);
        if (!fam) {
          dropped.push(`family ${id} is not among this SAE's families; its edit was dropped`);
          removeEdit(state.families, id);
          stagedFamilies.delete(id);
          return null;
        }
        let max = 1;
        try {
          max = maxActivationOf(await cachedFeature(domain, fam.root), 1);
        } catch (err) {
          if (!(err instanceof ApiFailure)) throw err;
        }
        return sliderRow({
          kind: "family",
          id,
          head: [familyLink(domain, id, fam.label ?? fam.rootLabel), h("span", { class: "meta" }, `${fam.size} features`)],
          base: 0,
          max,
          edits: state.families,
          note: stagedFamilies.has(id) ? "move the slider to apply it" : state.form === "clamp" ? "value for the parent, spread over the members by co-occurrence" : "strength for the parent, spread over the members by co-occurrence",
          onRemove: () => {
            removeEdit(state.families, id);
            stagedFamilies.delete(id);
            sync();
            void familyRows().then(() => search());
          },
        });
      }),
    );
    if (ctx.signal.aborted) return;
    if (dropped.length > 0) {
      ctx.reportProblems(dropped);
      sync();
    }
    replaceChildren(familySlidersBox, rows.map((r) => r?.el));
  }

  function drawFamilyMatches(): void {
    if (!families) return;
    const q = familyQuery.value.trim().toLowerCase();
    if (q === "") {
      replaceChildren(familyMatches);
      return;
    }
    const matches = families.filter((f) => `${f.label ?? ""} ${f.rootLabel ?? ""} ${f.id}`.toLowerCase().includes(q)).slice(0, FAMILY_MATCHES);
    replaceChildren(
      familyMatches,
      matches.length === 0
        ? h("li", { class: "muted" }, `no family matches “${familyQuery.value.trim()}”`)
        : matches.map((f) => {
            const chosen = stagedFamilies.has(f.id) || state.families.some((e) => e.id === f.id);
            return h(
              "li",
              null,
              h(
                "button",
                {
                  type: "button",
                  class: "add-family",
                  disabled: chosen,
                  "data-family": f.id,
                  onclick: () => {
                    stagedFamilies.add(f.id);
                    drawFamilyMatches();
                    void familyRows();
                  },
                },
                chosen ? "added" : "add",
              ),
              h("span", { class: "fid" }, `family ${f.id}`),
              " ",
              f.label ?? f.rootLabel ?? h("span", { class: "muted" }, "unlabelled"),
              h("span", { class: "muted small" }, ` · ${f.size} features`),
            );
          }),
    );
  }
  familyQuery.addEventListener("input", drawFamilyMatches);

  async function loadFamilies(): Promise<void> {
    const missing = missingAbout(ctx.domain, "famil")[0];
    let why: { text: string; fix?: string | undefined } | null = null;
    if (ctx.domain.families === 0) {
      why = { text: missing ?? `${domain} has no families`, fix: missing ? undefined : "run notebooks/05-families.ipynb" };
    } else {
      try {
        families = (await api.families(domain, ctx.signal)).families;
      } catch (err) {
        if (isAbort(err)) throw err;
        why = { text: missing ?? `No family sliders: ${err instanceof Error ? err.message : String(err)}`, fix: err instanceof ApiFailure ? err.fix : undefined };
      }
    }
    if (why) {
      families = null;
      replaceChildren(familyBox, message("warn", why.text, why.fix));
      if (state.families.length > 0) {
        ctx.reportProblems([`this run has no families for ${domain}; the family edits in the link were dropped`]);
        state.families = [];
        sync();
      }
      return;
    }
    replaceChildren(familyBox, familyQuery, familyMatches);
    await familyRows();
  }

  // --- results ------------------------------------------------------------------------------------------------
  const resultsBox = h("div", { class: "results", "aria-live": "polite" });
  const resultsStatus = h("p", { class: "muted small results-status" });

  function hitItem(hit: SearchHit, isNew: boolean): HTMLElement {
    return h(
      "li",
      { class: "hit", "data-id": hit.id },
      h("a", { class: "hit-title", href: hit.url, target: "_blank", rel: "noopener noreferrer" }, hit.title),
      isNew ? h("span", { class: "badge new", title: "not in the unsteered top 10" }, "new") : null,
      h(
        "div",
        { class: "hit-meta" },
        h("span", null, hit.year ?? "—"),
        " · ",
        h("span", { class: "cats" }, hit.categories.join(", ") || "no categories"),
        " · ",
        h("span", { class: "score", title: "cosine similarity to the (steered) query" }, `score ${hit.score.toFixed(3)}`),
        " · ",
        h("span", { class: "muted" }, hit.id),
      ),
    );
  }

  function drawResults(res: SearchResponse): void {
    const base = baseline?.key === baselineKey() ? baseline.ids : null;
    replaceChildren(
      resultsBox,
      res.hits.length === 0 ? h("p", { class: "muted" }, "no results") : h("ol", { class: "hits" }, res.hits.map((hit) => hitItem(hit, base !== null && !base.has(hit.id)))),
    );
    resultsBox.dataset.searches = String(searches);
    const steered = state.features.length > 0 || state.families.length > 0;
    replaceChildren(cosEl, "cos(q, q′) = ", h("strong", null, res.cos.toFixed(4)), h("span", { class: "muted small" }, steered ? " (steered)" : " (no edits)"));
    resultsStatus.textContent = `${res.hits.length} results · ${res.active.length} active features`;
  }

  const baselineKey = (): string => `${state.query}\u0000${state.form}`;
  const request = (withEdits: boolean): SearchRequest => ({
    domain,
    query: state.query,
    form: state.form,
    features: withEdits ? state.features.map((e) => ({ feature: e.id, value: e.value })) : [],
    families: withEdits ? state.families.map((e) => ({ id: e.id, value: e.value })) : [],
    maxDensity: state.maxDensity,
    k: RESULTS,
  });

  /** The unsteered top-10 once per query, to mark the results a steer brought in. */
  async function ensureBaseline(signal: AbortSignal): Promise<void> {
    const key = baselineKey();
    if (baseline?.key === key) return;
    const res = await api.search(request(false), signal);
    baseline = { key, ids: new Set(res.hits.map((x) => x.id)) };
  }

  async function search(): Promise<void> {
    searchSoon.cancel();
    inflight?.abort();
    if (!state.query) {
      lastResponse = null;
      replaceChildren(resultsBox, h("p", { class: "muted intro" }, "Type a query: its results appear here and its active features become sliders on the left."));
      replaceChildren(slidersBox);
      replaceChildren(hiddenBox);
      replaceChildren(cosEl);
      resultsStatus.textContent = "";
      slidersKey = "";
      await addedRows([]);
      return;
    }
    const controller = new AbortController();
    inflight = controller;
    const onLeave = (): void => controller.abort();
    ctx.signal.addEventListener("abort", onLeave, { once: true });
    resultsBox.classList.add("stale");
    try {
      const steered = state.features.length > 0 || state.families.length > 0;
      const [res] = await Promise.all([api.search(request(true), controller.signal), steered ? ensureBaseline(controller.signal) : Promise.resolve()]);
      if (inflight !== controller) return;
      if (!steered) baseline = { key: baselineKey(), ids: new Set(res.hits.map((x) => x.id)) };
      searches += 1;
      lastResponse = res;
      drawResults(res);
      const key = `${state.query}\u0000${state.maxDensity}\u0000${state.form}`;
      if (key !== slidersKey) {
        slidersKey = key;
        await rebuildSliders(res.active);
      }
    } catch (err) {
      if (isAbort(err)) return;
      replaceChildren(resultsBox, message("error", err instanceof Error ? err.message : String(err), err instanceof ApiFailure ? err.fix : undefined));
      resultsStatus.textContent = "";
    } finally {
      ctx.signal.removeEventListener("abort", onLeave);
      if (inflight === controller) resultsBox.classList.remove("stale");
    }
  }

  // --- toolbar ------------------------------------------------------------------------------------------------
  const copied = h("span", { class: "muted small copied" });
  const toolbar = h(
    "div",
    { class: "toolbar" },
    h(
      "button",
      {
        type: "button",
        class: "secondary",
        onclick: () => {
          state.features = [];
          state.families = [];
          stagedFamilies.clear();
          sync();
          slidersKey = "";
          void familyRows();
          void search();
        },
      },
      "Reset edits",
    ),
    h(
      "button",
      {
        type: "button",
        class: "secondary",
        onclick: () => {
          const url = location.href;
          navigator.clipboard?.writeText(url).then(
            () => (copied.textContent = "link copied"),
            () => (copied.textContent = url),
          );
        },
      },
      "Copy link",
    ),
    mapLink,
    copied,
  );

  const missingLabels = missingAbout(ctx.domain, "label");
  replaceChildren(
    ctx.root,
    h(
      "div",
      { class: "search-page" },
      queryForm,
      h(
        "div",
        { class: "columns" },
        h(
          "aside",
          { class: "controls" },
          h("div", { class: "card" }, formBox, formNote, cosEl, h("div", { class: "threshold-row" }, h("span", { class: "field-name" }, "density"), thresholdInput), thresholdText, toolbar),
          h("div", { class: "card" }, missingLabels.length > 0 ? message("info", missingLabels[0]!) : null, slidersBox, hiddenBox, addedBox),
          h("div", { class: "card" }, h("h3", null, "Add a feature"), picker),
          h("div", { class: "card" }, h("h3", null, "Family sliders"), familyBox, familySlidersBox),
        ),
        h("div", { class: "main-column" }, h("div", { class: "card" }, h("h2", null, "Results"), resultsStatus, resultsBox)),
      ),
    ),
  );
  if (!state.query) queryInput.focus();
  // Family edits from a link are checked against the family list before the first search is sent.
  if (state.families.length > 0) {
    await loadFamilies();
    await search();
  } else {
    await Promise.all([search(), loadFamilies()]);
  }
}
