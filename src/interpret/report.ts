/**
 * Readable views of a labelling run for notebooks and the explorer (METHOD.md §4): a summary row per SAE,
 * the paper comparison along the SAE-size ladder and for the stage-2 SAEs, how well label terms carry from
 * the shown abstracts to held-out ones, and example features with their top abstracts.
 */
import type { ComparisonRow } from "../tools/display.js";
import { selectCleanFeatures } from "./clean.js";
import type { CleanConfig } from "./config.js";
import { PAPER_GPT4O_BOTH_ROLES, PAPER_MEAN_PEARSON } from "./paper.js";
import { tokenize } from "./terms.js";
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

/** How often a label's terms appear in a feature's documents, shown and held out (means over features). */
export interface LabelTermCoverage {
  /** Labelled features measured. */
  features: number;
  /** Mean share of the shown top-activating abstracts that contain a label term. */
  shownTop: number;
  /** The same over the held-out top-activating abstracts (never shown to the interpreter). */
  heldOutTop: number;
  /** The same over the held-out zero-activating abstracts (the level of a term that means nothing). */
  heldOutZero: number;
}

/**
 * How well a label generalises as text: each label is split at commas into terms (the offline baseline's
 * labels are comma-joined term lists; an LLM label is one term); a term occurs in an abstract when its words,
 * tokenized as the baseline does (terms.ts), appear there in a row. Per feature, the share of (term, abstract)
 * pairs that match, in each group of abstracts; then the mean over features. A label that fits only the five
 * abstracts it was made from shows a high shown share and a low held-out one.
 * @param textOf the text of a document id (undefined: the abstract is skipped)
 * @returns undefined when no labelled feature has abstracts in every group
 */
export function labelTermCoverage(records: readonly LabelRecord[], textOf: (id: string) => string | undefined): LabelTermCoverage | undefined {
  const tokenCache = new Map<string, string | undefined>();
  const padded = (id: string): string | undefined => {
    if (!tokenCache.has(id)) {
      const t = textOf(id);
      tokenCache.set(id, t === undefined ? undefined : ` ${tokenize(t).join(" ")} `);
    }
    return tokenCache.get(id);
  };
  const share = (terms: readonly string[], ids: readonly string[]): number | undefined => {
    const docs = ids.map(padded).filter((d): d is string => d !== undefined);
    if (docs.length === 0 || terms.length === 0) return undefined;
    let hits = 0;
    for (const term of terms) for (const doc of docs) if (doc.includes(term)) hits++;
    return hits / (terms.length * docs.length);
  };
  const sums = { shownTop: 0, heldOutTop: 0, heldOutZero: 0 };
  let features = 0;
  for (const r of records) {
    if (r.status !== "labelled" || r.label === null) continue;
    const terms = r.label
      .split(",")
      .map((t) => tokenize(t).join(" "))
      .filter((t) => t !== "")
      .map((t) => ` ${t} `);
    const heldTop = r.examples.heldOut.filter((_, i) => r.truth[i] === 1);
    const heldZero = r.examples.heldOut.filter((_, i) => r.truth[i] === 0);
    const shares = [share(terms, r.examples.top), share(terms, heldTop), share(terms, heldZero)];
    if (shares.some((x) => x === undefined)) continue;
    sums.shownTop += shares[0]!;
    sums.heldOutTop += shares[1]!;
    sums.heldOutZero += shares[2]!;
    features++;
  }
  if (features === 0) return undefined;
  return { features, shownTop: sums.shownTop / features, heldOutTop: sums.heldOutTop / features, heldOutZero: sums.heldOutZero / features };
}

/** One stage-2 SAE's labelling, as the comparison reads it. */
export interface InterpretComparisonInput {
  /** SAE name, e.g. "astro-ph-n4096-k32". */
  name: string;
  scorer: string;
  labelled: number;
  meanPearson: number | undefined;
  meanF1: number | undefined;
  clean: number;
  /** From {@link labelTermCoverage}. */
  coverage: LabelTermCoverage | undefined;
}

/**
 * Notebook 04's comparison beyond the size ladder: the paper's GPT-4o-in-both-roles scores beside each
 * stage-2 SAE's, its clean counts beside the count a random guesser would reach, and how label terms carry
 * to held-out abstracts.
 * @param chance fraction of features a random predictor passes the clean thresholds with (`chanceCleanFraction`)
 */
export function interpretPaperRows(saes: readonly InterpretComparisonInput[], chance: number): ComparisonRow[] {
  const p = PAPER_GPT4O_BOTH_ROLES;
  const pc = (x: number): string => `${(100 * x).toFixed(0)} %`;
  return [
    ...saes.map((s) => ({
      quantity: `mean Pearson / F1, ${s.name}`,
      paper: `${p.pearson.toFixed(2)} / ${p.f1.toFixed(2)} (GPT-4o in both roles, a sample of features)`,
      ours: `${fmt(s.meanPearson)} / ${fmt(s.meanF1)} (${s.scorer} scorer)`,
    })),
    {
      quantity: "random predictor passing the clean thresholds",
      paper: "not reported",
      ours: `${(100 * chance).toFixed(1)} % of features`,
      note: "six held-out points per feature",
    },
    ...saes.map((s) => ({
      quantity: `clean features, ${s.name}`,
      paper: "not reported per SAE",
      ours: `${s.clean} of ${s.labelled} labelled (≈ ${Math.round(chance * s.labelled)} expected by chance)`,
    })),
    ...saes.flatMap((s) =>
      s.coverage === undefined
        ? []
        : [
            {
              quantity: `abstracts holding a label term: shown top / held-out top / held-out zero, ${s.name}`,
              paper: "not reported",
              ours: `${pc(s.coverage.shownTop)} / ${pc(s.coverage.heldOutTop)} / ${pc(s.coverage.heldOutZero)}`,
              note: `mean over ${s.coverage.features} features of the share of (term, abstract) pairs that match`,
            },
          ],
    ),
  ];
}
