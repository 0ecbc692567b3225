/**
 * "Add a feature by its label": a search box over the SAE's labels, by keyword (FTS5) or by meaning
 * (embedding cosine), listing up to 10 matches with an "add" button each. Used by the search and lists pages.
 */
import type { LabelSearchResponse } from "../api.js";
import { api, ApiFailure, isAbort } from "./api-client.js";
import { debounce, h, message, pct, replaceChildren } from "./dom.js";

/** Matches shown per label search. */
const MATCHES = 10;
/** Quiet time after the last keystroke before a label search is sent. */
const TYPING_MS = 200;

export type Picked = LabelSearchResponse["results"][number];

export interface LabelPickerOptions {
  domain: string;
  /** Called with the chosen match. */
  onPick: (match: Picked) => void;
  /** True when the feature is already chosen (its button is disabled). */
  isPicked: (feature: number) => boolean;
  signal: AbortSignal;
}

export function labelPicker(opts: LabelPickerOptions): HTMLElement {
  const input = h("input", { type: "search", class: "label-query", placeholder: "find a feature by its label…", "aria-label": "label search", maxlength: 200 });
  const mode = h(
    "select",
    { class: "label-mode", "aria-label": "label search mode" },
    h("option", { value: "keyword" }, "keyword"),
    h("option", { value: "meaning" }, "by meaning"),
  );
  const results = h("ul", { class: "label-results" });
  let inflight: AbortController | null = null;
  let last: Picked[] = [];

  const draw = (): void => {
    replaceChildren(
      results,
      last.map((m) => {
        const picked = opts.isPicked(m.feature);
        return h(
          "li",
          null,
          h(
            "button",
            {
              type: "button",
              class: "add-feature",
              disabled: picked,
              "data-feature": m.feature,
              onclick: () => {
                opts.onPick(m);
                draw();
              },
            },
            picked ? "added" : "add",
          ),
          h("span", { class: "fid" }, `#${m.feature}`),
          " ",
          h("span", { class: "label-text" }, m.label),
          h("span", { class: "muted small" }, ` · fires on ${pct(m.density)}`),
        );
      }),
    );
  };

  const run = async (): Promise<void> => {
    inflight?.abort();
    const q = input.value.trim();
    if (q === "") {
      last = [];
      replaceChildren(results);
      return;
    }
    const controller = new AbortController();
    inflight = controller;
    opts.signal.addEventListener("abort", () => controller.abort(), { once: true });
    try {
      const res = await api.labels({ domain: opts.domain, q, mode: mode.value === "meaning" ? "meaning" : "keyword", limit: MATCHES }, controller.signal);
      last = res.results;
      if (last.length === 0) replaceChildren(results, h("li", { class: "muted" }, `no label matches “${q}”`));
      else draw();
    } catch (err) {
      if (isAbort(err)) return;
      last = [];
      replaceChildren(results, h("li", null, message("error", err instanceof Error ? err.message : String(err), err instanceof ApiFailure ? err.fix : undefined)));
    }
  };
  const later = debounce(() => void run(), TYPING_MS);
  input.addEventListener("input", () => later());
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      later.flush();
    }
  });
  mode.addEventListener("change", () => void run());
  opts.signal.addEventListener("abort", () => later.cancel(), { once: true });

  return h("div", { class: "label-picker" }, h("div", { class: "row" }, input, mode), results);
}
