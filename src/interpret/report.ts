/**
 * Readable views of a labelling run for notebooks and the explorer (METHOD.md §4): a summary row per SAE,
 * the paper comparison along the SAE-size ladder, and example features with their top abstracts.
 */
import { selectCleanFeatures } from "./clean.js";
import type { CleanConfig } from "./config.js";
import { PAPER_MEAN_PEARSON } from "./paper.js";
import type { LabelRecord } from "./types.js";

/** Digits shown for scores in tables. */
const SCORE_DIGITS = 3;
/** Characters of a title shown in tables. */
const TITLE_CHARS = 90;

const fmt = (v: number | null | undefined): string => (v === null || v === undefined ? "undefined" : v.toFixed(SCORE_DIGITS));

/** A document's title: its text up to the first blank line, shortened for a table cell. */
export function titleOf(text: string, maxChars = TITLE_CHARS): string {
  const title = text.split("\n\n")[0]!.replace(/\s+/g, " ").trim();
  return title.length > maxChars ? `${title.slice(0, maxChars - 1)}…` : title;
}

/**
 * The SAE-size ladder of a sweep: the i-th smallest n with the i-th smallest k, as the paper's SAE16 / SAE32 /
 * SAE64 grow n and k together.
 * @returns `[min(#n, #k)]` (n, k) pairs, smallest first
 */
export function sizeLadder(ns: readonly number[], ks: readonly number[]): Array<{ n: number; k: number }> {
  const sn = [...new Set(ns)].sort((a, b) => a - b);
  const sk = [...new Set(ks)].sort((a, b) => a - b);
  return Array.from({ length: Math.min(sn.length, sk.length) }, (_, i) => ({ n: sn[i]!, k: sk[i]! }));
}

/** Rung i of our ladder beside the paper's i-th SAE (SAE16, SAE32, SAE64). */
export function paperComparisonRows(
  ours: ReadonlyArray<{ domain: string; n: number; k: number; meanPearson: number | undefined; meanF1: number | undefined; scorer: string }>,
): Array<Record<string, string | number>> {
  const out: Array<Record<string, string | number>> = [];
  for (const domain of [...new Set(ours.map((o) => o.domain))]) {
    const rungs = ours.filter((o) => o.domain === domain).sort((a, b) => a.n - b.n || a.k - b.k);
    rungs.forEach((o, i) => {
      const paper = PAPER_MEAN_PEARSON[i];
      const paperR = paper && (domain === "astro-ph" || domain === "cs.LG") ? paper.meanPearson[domain] : undefined;
      out.push({
        domain,
        "our SAE": `n ${o.n}, k ${o.k}`,
        scorer: o.scorer,
        "mean Pearson (ours)": fmt(o.meanPearson),
        "mean F1 (ours)": fmt(o.meanF1),
        "paper SAE": paper ? `${paper.sae} (n ${paper.n}, k ${paper.k})` : "—",
        "mean Pearson (paper, GPT-4o → GPT-4o-mini)": paperR !== undefined ? paperR.toFixed(2) : "—",
      });
    });
  }
  return out;
}

/**
 * Example features for a table: the best-scored clean features (or, when none is clean, the best labelled
 * ones), each with the titles of its shown top abstracts.
 * @param titleOfId title of a document id
 */
export function exampleFeatureRows(
  records: readonly LabelRecord[],
  clean: CleanConfig,
  count: number,
  titleOfId: (id: string) => string,
): Array<Record<string, string | number>> {
  const cleanSet = new Set(selectCleanFeatures(records, clean).clean.map((c) => c.feature));
  const labelled = records.filter((r) => r.status === "labelled");
  const pool = labelled.some((r) => cleanSet.has(r.feature)) ? labelled.filter((r) => cleanSet.has(r.feature)) : labelled;
  const ranked = [...pool].sort((a, b) => (b.pearson ?? -2) - (a.pearson ?? -2) || (b.f1 ?? 0) - (a.f1 ?? 0) || a.feature - b.feature);
  // Spread the picks over the ranking so the table is not only the easiest features.
  const step = Math.max(1, Math.floor(ranked.length / Math.max(1, count)));
  const picks = Array.from({ length: Math.min(count, ranked.length) }, (_, i) => ranked[i * step]!);
  return picks.map((r) => ({
    feature: r.feature,
    label: r.label ?? "",
    clean: cleanSet.has(r.feature) ? "yes" : "no",
    pearson: fmt(r.pearson),
    f1: fmt(r.f1),
    density: r.density.toExponential(2),
    "top abstracts (shown to the interpreter)": r.examples.top.slice(0, 3).map(titleOfId).join(" · "),
  }));
}
