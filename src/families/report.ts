/**
 * Tables of the families stage for notebooks and READMEs (METHOD.md §5): the statistics of each SAE beside
 * the paper's released families, example families with their labels and documents, and stability.
 */
import type { FamiliesResult, FamiliesSkipped, FamiliesStability } from "./stage.js";
import { PAPER_ASTRO_SAE64_FAMILIES } from "./paper.js";

const fmt = (x: number | null | undefined, digits = 3): string => (x === null || x === undefined || !Number.isFinite(x) ? "—" : x.toFixed(digits));
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

/** One row per (SAE, feature set): the paper's columns and the label-free evidence; skipped runs say why. */
export function familyStatsRows(results: ReadonlyArray<FamiliesResult | FamiliesSkipped>): Array<Record<string, string | number>> {
  const built = results.filter((r): r is FamiliesResult => !("skipped" in r)).map((r): Record<string, string | number> => {
    const s = r.stats;
    return {
      SAE: r.name,
      "feature set": `${r.featureSet} (${s.featureSetSize})`,
      families: `${s.families} (${s.topLevel} top-level)`,
      "children min / median / max": `${s.childrenMin ?? "—"} / ${s.childrenMedian ?? "—"} / ${s.childrenMax ?? "—"}`,
      "mean children": fmt(s.childrenMean, 1),
      "features in a family (in several)": `${s.featuresInFamilies} (${s.featuresInSeveral})`,
      scorer: r.scorer ?? "—",
      "family F1 / Pearson": `${fmt(s.meanF1)} / ${fmt(s.meanPearson)}`,
      "well scored (features inside)": `${s.wellScored} (${pct(s.fractionInWellScored)})`,
      "co-occurrence ratio (median)": fmt(s.cooccurrenceRatioMedian, 2),
      "block ratio: families / unordered / random": `${fmt(s.blocks.family.ratio, 1)} / ${fmt(s.blocks.unordered.ratio, 2)} / ${fmt(s.blocks.random.ratio, 2)}`,
      "median P(parent|child) vs random": `${fmt(s.medianParentGivenChild, 2)} vs ${fmt(s.medianRandomGivenChild, 2)}`,
      "median decoder cos vs random": `${fmt(s.medianParentChildCosine, 2)} vs ${fmt(s.medianRandomChildCosine, 2)}`,
    };
  });
  const columns = Object.keys(built[0] ?? { SAE: "", "feature set": "", families: "" });
  const skipped = results
    .filter((r): r is FamiliesSkipped => "skipped" in r)
    .map((r) => ({ ...Object.fromEntries(columns.map((c) => [c, "—"])), SAE: r.name, "feature set": r.featureSet, families: `not built: ${r.skipped.split("\n")[0]!}` }));
  return [...built, ...skipped];
}

/** Our largest clean and alive builds beside the paper's released astro SAE64 families. */
export function familyPaperRows(results: ReadonlyArray<FamiliesResult | FamiliesSkipped>): Array<Record<string, string | number>> {
  const p = PAPER_ASTRO_SAE64_FAMILIES;
  const ours = results.filter((r): r is FamiliesResult => !("skipped" in r));
  return [
    {
      SAE: `paper: ${p.sae}`,
      families: p.families,
      "children min / median / mean / max": `${p.childrenMin} / ${p.childrenMedian} / ${p.childrenMean} / ${p.childrenMax}`,
      "features in a family (in several)": `${p.featuresInFamilies} (${p.featuresInSeveral})`,
    },
    ...ours.map((r) => ({
      SAE: `${r.name}, ${r.featureSet} set`,
      families: r.stats.families,
      "children min / median / mean / max": `${r.stats.childrenMin ?? "—"} / ${r.stats.childrenMedian ?? "—"} / ${fmt(r.stats.childrenMean, 1)} / ${r.stats.childrenMax ?? "—"}`,
      "features in a family (in several)": `${r.stats.featuresInFamilies} (${r.stats.featuresInSeveral})`,
    })),
  ];
}

/**
 * A few families of a result: the best-scored first (ties by size), with the family label, the parent's
 * and some members' feature labels, scores and the titles of its shown documents.
 * @param titleOfId the title of a document id
 */
export function familyExampleRows(r: FamiliesResult, count: number, titleOfId: (id: string) => string, membersShown = 5): Array<Record<string, string | number>> {
  const byFamily = new Map(r.records.map((x) => [x.family, x]));
  const score = (id: number): number => byFamily.get(id)?.pearson ?? -2;
  const picks = [...r.build.families].sort((a, b) => score(b.id) - score(a.id) || b.members.length - a.members.length || a.id - b.id).slice(0, count);
  const label = (f: number): string => r.featureLabels.get(f) ?? `#${f}`;
  return picks.map((f) => {
    const rec = byFamily.get(f.id);
    return {
      family: f.id,
      "family label": rec?.label ?? "—",
      source: rec?.source ?? "—",
      parent: r.featureLabels.has(f.root) ? `#${f.root} ${label(f.root)}` : `#${f.root}`,
      [`children (${membersShown} of)`]: `${f.members.length}: ${f.members.slice(0, membersShown).map((m) => label(m.feature)).join(" · ")}`,
      "F1 / Pearson": `${fmt(rec?.f1)} / ${fmt(rec?.pearson)}`,
      "family documents": (rec?.examples.top ?? []).slice(0, 2).map(titleOfId).join(" · "),
    };
  });
}

/** Stability rows: one per SAE pair, both measures. */
export function familyStabilityRows(rows: ReadonlyArray<{ name: string; stability: FamiliesStability }>): Array<Record<string, string | number>> {
  const mean = (x: readonly number[]): string => fmt(x.reduce((a, b) => a + b, 0) / Math.max(1, x.length));
  return rows.map(({ name, stability: { features: s, documents: d } }) => ({
    SAE: name,
    families: s.families,
    [`features with a match (cos ≥ ${s.minCosine})`]: pct(s.mappedFeatureFraction),
    [`matched by features (Jaccard ≥ ${s.minJaccard})`]: `${s.matched} (${pct(s.matchedFraction)}; chance ${pct(s.chanceFraction)})`,
    "mean best Jaccard, features (chance)": `${mean(s.bestJaccard)} (${fmt(s.chanceMeanJaccard)})`,
    [`matched by documents (Jaccard ≥ ${d.minJaccard})`]: `${d.matched} (${pct(d.matchedFraction)}; chance ${pct(d.chanceFraction)})`,
    "mean best Jaccard, documents (chance)": `${mean(d.bestJaccard)} (${fmt(d.chanceMeanJaccard)})`,
    [`single features whose documents recur (Jaccard ≥ ${d.minJaccard}; median best)`]: `${pct(d.featureMatchedFraction)} (${fmt(d.featureMedianJaccard)})`,
  }));
}

/** Members at most in a family drawn as a graph (more would not be legible). */
export const DRAWN_FAMILY_MAX_MEMBERS = 30;

/**
 * The family to draw for a result: the best-scored labelled family with at most `maxMembers` members
 * (ties: more members, then lower id), else the largest that fits; undefined when there is none.
 */
export function familyToDraw(r: FamiliesResult, maxMembers = DRAWN_FAMILY_MAX_MEMBERS): FamiliesResult["build"]["families"][number] | undefined {
  const score = new Map(r.records.map((x) => [x.family, x.pearson ?? -2]));
  const fits = r.build.families.filter((f) => f.members.length <= maxMembers);
  return [...fits].sort((a, b) => (score.get(b.id) ?? -2) - (score.get(a.id) ?? -2) || b.members.length - a.members.length || a.id - b.id)[0];
}

/** The name of a family for figures: its label (or its root's), and its size. */
export function familyName(r: FamiliesResult, f: FamiliesResult["build"]["families"][number]): string {
  const label = r.records.find((x) => x.family === f.id)?.label ?? r.featureLabels.get(f.root) ?? `#${f.root}`;
  return `${label} (${f.members.length + 1})`;
}
