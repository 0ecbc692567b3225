/**
 * The clean-feature filter (METHOD.md §4), the input to feature families: a labelled feature is clean when
 * its Pearson and F1 are at least 0.8 and its density is below 0.2 (the paper's thresholds, in CleanConfig),
 * its label, once boilerplate suffixes such as "in astronomy" are stripped, is not vague, and no other
 * feature with the same label scores better.
 */
import { SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import type { CleanConfig } from "./config.js";
import { scorePredictions } from "./scores.js";
import type { LabelRecord } from "./types.js";

/** Characters stripped from both ends of a label: quotes (plain and typographic), asterisks, backticks. */
const WRAPPER_CHARS = "\"'`*\u201c\u201d\u2018\u2019\u00ab\u00bb";
const LEADING_WRAPPERS = new RegExp(`^[${WRAPPER_CHARS}]+`);
const TRAILING_WRAPPERS = new RegExp(`[${WRAPPER_CHARS}]+$`);
/** Decimals shown for scores in rejection reasons. */
const REASON_DECIMALS = 3;

/** A clean feature: its cleaned label and scores. */
export interface CleanFeature {
  feature: number;
  /** The label after `cleanLabel`. */
  label: string;
  pearson: number;
  f1: number;
  /** Fraction of documents whose top-k holds the feature. */
  density: number;
}

/** A feature that is not clean, and why. */
export interface RejectedFeature {
  feature: number;
  /** Readable reasons joined by "; ", e.g. "pearson 0.41 < 0.8; density 0.25 ≥ 0.2". */
  reason: string;
}

/** The filter's outcome, each list sorted by feature. */
export interface CleanSelection {
  clean: CleanFeature[];
  rejected: RejectedFeature[];
}

const collapseSpaces = (s: string): string => s.replace(/\s+/g, " ").trim();

/**
 * Tidy an interpreter's label: collapse whitespace, then repeatedly (until nothing changes) strip surrounding
 * quotes / asterisks / backticks, trailing periods and the configured boilerplate suffixes
 * (case-insensitively; a suffix is never stripped when it is the whole label). Idempotent.
 * E.g. `"**Exoplanet transit studies in astronomy.**"` → `Exoplanet transit`.
 */
export function cleanLabel(label: string, cfg: CleanConfig): string {
  const suffixes = cfg.boilerplateSuffixes
    .map((suffix) => suffix.replace(/\s+/g, " ").toLowerCase())
    .filter((suffix) => suffix.trim().length > 0);
  let s = collapseSpaces(label);
  for (;;) {
    const before = s;
    s = s.replace(LEADING_WRAPPERS, "").replace(TRAILING_WRAPPERS, "").trim();
    s = s.replace(/\.+$/, "").trim();
    for (const suffix of suffixes) {
      if (s.length > suffix.length && s.toLowerCase().endsWith(suffix)) s = s.slice(0, s.length - suffix.length).trim();
    }
    if (s === before) return s;
  }
}

/** True when the cleaned label is empty or (case-insensitively) one of `cfg.vagueLabels`, cleaned alike. */
export function isVagueLabel(label: string, cfg: CleanConfig): boolean {
  const cleaned = cleanLabel(label, cfg).toLowerCase();
  if (cleaned === "") return true;
  return cfg.vagueLabels.some((vague) => cleanLabel(vague, cfg).toLowerCase() === cleaned);
}

/** A score for a reason string: 3 decimals, or every digit when the rounding would equal the threshold. */
function fmt(value: number, threshold: number): string {
  const short = String(Number(value.toFixed(REASON_DECIMALS)));
  return short === String(threshold) ? String(value) : short;
}

/** Whether `a` is the better of two features with the same label: higher pearson, higher f1, lower index. */
function better(a: CleanFeature, b: CleanFeature): boolean {
  if (a.pearson !== b.pearson) return a.pearson > b.pearson;
  if (a.f1 !== b.f1) return a.f1 > b.f1;
  return a.feature < b.feature;
}

/**
 * Select the clean features from the labeller's records (see the module header): status "labelled", a
 * defined pearson ≥ minPearson, f1 ≥ minF1, density < maxDensity, a label that is not vague; among features
 * whose cleaned labels are equal (case-insensitively) only the best is kept (higher pearson, then higher f1,
 * then lower feature index), the others are rejected as "duplicate of feature X". Every other record is
 * rejected with all the reasons that apply.
 * @param records one per feature (labels.jsonl)
 * @throws SaerchError when a feature has two records
 */
export function selectCleanFeatures(records: readonly LabelRecord[], cfg: CleanConfig): CleanSelection {
  const rejected: RejectedFeature[] = [];
  const passing: CleanFeature[] = [];
  const seen = new Set<number>();
  for (const rec of records) {
    if (seen.has(rec.feature)) {
      throw new SaerchError(`selectCleanFeatures: feature ${rec.feature} has two records`, "keep one record per feature (the latest)");
    }
    seen.add(rec.feature);
    if (rec.status !== "labelled") {
      rejected.push({ feature: rec.feature, reason: `not labelled (${rec.status}${rec.error ? `: ${rec.error}` : ""})` });
      continue;
    }
    const reasons: string[] = [];
    const { pearson, f1, density } = rec;
    if (pearson === null) reasons.push("pearson undefined (constant predictions)");
    else if (!(pearson >= cfg.minPearson)) reasons.push(`pearson ${fmt(pearson, cfg.minPearson)} < ${cfg.minPearson}`);
    if (f1 === null) reasons.push("f1 missing");
    else if (!(f1 >= cfg.minF1)) reasons.push(`f1 ${fmt(f1, cfg.minF1)} < ${cfg.minF1}`);
    if (!(density < cfg.maxDensity)) reasons.push(`density ${fmt(density, cfg.maxDensity)} ≥ ${cfg.maxDensity}`);
    const label = cleanLabel(rec.label ?? "", cfg);
    if (label === "") reasons.push("empty label");
    else if (isVagueLabel(label, cfg)) reasons.push(`vague label "${label}"`);
    if (reasons.length > 0 || pearson === null || f1 === null) rejected.push({ feature: rec.feature, reason: reasons.join("; ") });
    else passing.push({ feature: rec.feature, label, pearson, f1, density });
  }
  // Duplicates: the best of each label group is clean, the others name it.
  const bestByLabel = new Map<string, CleanFeature>();
  for (const f of passing) {
    const key = f.label.toLowerCase();
    const incumbent = bestByLabel.get(key);
    if (!incumbent || better(f, incumbent)) bestByLabel.set(key, f);
  }
  for (const f of passing) {
    const best = bestByLabel.get(f.label.toLowerCase())!;
    if (best !== f) rejected.push({ feature: f.feature, reason: `duplicate of feature ${best.feature} ("${best.label}")` });
  }
  const clean = [...bestByLabel.values()].sort((a, b) => a.feature - b.feature);
  rejected.sort((a, b) => a.feature - b.feature);
  return { clean, rejected };
}

/**
 * The fraction of features a predictor guessing at random would pass the score thresholds with: each of
 * `heldTop + heldZero` predictions uniform in [−1, 1], truth 1 for the first `heldTop`, Monte Carlo over
 * `samples` features. With the paper's 3 + 3 held-out documents this is ≈ 3 %: the floor any scorer's
 * clean count should be read against (six points make a noisy score, METHOD.md §4).
 * @returns the passing fraction in [0, 1]
 */
export function chanceCleanFraction(cfg: Pick<CleanConfig, "minF1" | "minPearson">, heldTop: number, heldZero: number, samples: number, seed = 0): number {
  const rng = new Rng(`chance-clean:${seed}`);
  const truth = [...Array<number>(heldTop).fill(1), ...Array<number>(heldZero).fill(0)];
  let pass = 0;
  for (let i = 0; i < samples; i++) {
    const s = scorePredictions(truth, truth.map(() => ({ value: 2 * rng.float() - 1, parsed: true })));
    if (s.pearson !== undefined && s.pearson >= cfg.minPearson && s.f1 >= cfg.minF1) pass++;
  }
  return samples > 0 ? pass / samples : 0;
}
