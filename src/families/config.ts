/**
 * The feature-family stage's config (METHOD.md §5): which features take part, how the co-occurrence graph is
 * thresholded and symmetrised, how many rounds of maximum spanning forest run, and which families are kept.
 * Defaults are the paper's (thresholds 0.1 then 0.07, 4 rounds, roots with out-degree ≥ 3, families with
 * more than 3 children, dedupe at Jaccard 0.6).
 */
import { z } from "zod";
import { BaselineConfig, CleanConfig, DEFAULT_PRICES, LlmConfig, ModelPrice, PRESET_BUDGET_USD } from "../interpret/config.js";
import type { Profile } from "../compute/profile.js";

/** How the two conditionals P(i|j) and P(j|i) become one undirected edge weight (METHOD.md §5). */
export const EDGE_WEIGHT_RULES = ["max", "sparser-given-denser"] as const;
/** One of EDGE_WEIGHT_RULES. */
export type EdgeWeightRule = (typeof EDGE_WEIGHT_RULES)[number];

/** How families are built from an SAE's codes. */
export const FamilyBuildConfig = z
  .strictObject({
    featureSet: z
      .enum(["clean", "alive"])
      .default("clean")
      .describe("'clean': stage 4's clean features (the paper); 'alive': every feature whose density lies in aliveDensity (no labels needed)"),
    aliveDensity: z
      .strictObject({
        min: z.number().min(0).max(1).default(0.0005).describe("densities below this fire on too few documents for a conditional to mean anything"),
        max: z.number().min(0).max(1).default(0.2).describe("densities at or above this are too broad (the clean filter's density cap, METHOD.md §4)"),
      })
      .prefault({})
      .describe("density band of the 'alive' feature set: min ≤ density < max"),
    features: z
      .array(z.number().int().min(0))
      .optional()
      .describe("an explicit feature set (overrides featureSet): for tests and hand-picked subsets"),
    firstThreshold: z.number().gt(0).max(1).default(0.1).describe("edge-weight threshold of the first round (paper: 0.1)"),
    laterThreshold: z.number().gt(0).max(1).default(0.07).describe("edge-weight threshold of every later round (paper: 0.07)"),
    rounds: z.number().int().min(1).default(4).describe("rounds of forest building; each removes the roots found so far (paper: 4)"),
    edgeWeight: z
      .enum(EDGE_WEIGHT_RULES)
      .default("max")
      .describe(
        "symmetric edge weight from W[i,j] = C[i,j]/(n_i+1): 'max' = max(W[i,j], W[j,i]) = C/(min(n_i,n_j)+1), P(denser | sparser); " +
          "'sparser-given-denser' = C/(n_denser+1). The released code's choice depended on node order",
      ),
    minRootOutDegree: z.number().int().min(1).default(3).describe("a root has in-degree 0 and at least this many children in the oriented forest (paper: 3)"),
    minChildren: z.number().int().min(1).default(4).describe("a family is kept with at least this many members besides its root (paper: more than 3)"),
    nested: z.boolean().default(true).describe("recurse: a member with enough children of its own roots a nested family (paper: yes)"),
    dedupeJaccard: z
      .number()
      .min(0)
      .max(1)
      .default(0.6)
      .describe("of two families whose member sets overlap with Jaccard above this, the smaller is dropped (paper: 0.6; ties keep the earlier family)"),
  })
  .refine((c) => c.aliveDensity.min < c.aliveDensity.max, { message: "aliveDensity.min must be below aliveDensity.max" });
/** Parsed family-build settings. */
export type FamilyBuildConfig = z.infer<typeof FamilyBuildConfig>;
/** Family-build settings as written (defaults optional). */
export type FamilyBuildConfigInput = z.input<typeof FamilyBuildConfig>;

/** The threshold of round `r` (0-based). */
export function roundThreshold(cfg: Pick<FamilyBuildConfig, "firstThreshold" | "laterThreshold">, r: number): number {
  return r === 0 ? cfg.firstThreshold : cfg.laterThreshold;
}

/** How a family is labelled and scored (METHOD.md §5). */
export const FamilyScoreConfig = z.strictObject({
  positives: z.number().int().min(1).default(4).describe("held-out positives for the predictor, from the members' top-decile documents (paper: 4)"),
  negatives: z.number().int().min(1).default(4).describe("held-out negatives, documents where no member fires (paper: 4)"),
  shownTop: z.number().int().min(1).default(5).describe("further positives the offline baseline labels and calibrates on (never held out)"),
  shownZero: z.number().int().min(1).default(5).describe("further negatives the offline baseline contrasts with (never held out)"),
  topQuantile: z.number().min(0).max(1).default(0.9).describe("a member's top-decile documents: activation at or above this quantile of its activations (paper: 0.9)"),
  minChars: z.number().int().min(0).default(100).describe("example documents must be longer than this many characters (as stage 4)"),
  seed: z.number().int().default(0).describe("seeds the draws of positives and negatives (each family its own stream)"),
  wellScored: z
    .strictObject({
      minF1: z.number().min(0).max(1).default(0.8).describe("a well-scored family has F1 at least this (the clean-feature threshold)"),
      minPearson: z.number().min(-1).max(1).default(0.8).describe("and Pearson at least this (undefined fails)"),
    })
    .prefault({})
    .describe("which families count as well scored in the statistics"),
  labelTerms: z.number().int().min(1).default(3).describe("baseline family label: how many terms of the members' labels to keep"),
});
/** Parsed family label/score settings. */
export type FamilyScoreConfig = z.infer<typeof FamilyScoreConfig>;

/** The families stage: build, label and score families of each SAE (METHOD.md §5). */
export const FamiliesConfig = z.strictObject({
  build: FamilyBuildConfig.prefault({}).describe("which features take part and how the forest is built"),
  score: FamilyScoreConfig.prefault({}).describe("how families are labelled and scored"),
  scorer: z
    .enum(["auto", "llm", "baseline"])
    .default("auto")
    .describe("auto: the LLMs when a key is set (or llm.baseURL is not OpenAI's), else the offline baseline — as stage 4"),
  llm: LlmConfig.prefault({}).describe("the OpenAI-compatible server and models (the labeller uses the interpreter model)"),
  prices: z.record(z.string(), ModelPrice).default(DEFAULT_PRICES).describe("USD per 1M tokens per model"),
  budgetUsd: z.number().positive().optional().describe("stop cleanly before a request would take this stage's spend past this"),
  clean: CleanConfig.prefault({}).describe("stage 4's clean-feature filter (must match notebook 04's, the default does)"),
  baseline: BaselineConfig.prefault({}).describe("stage 4's baseline settings, used by the offline family predictor"),
  label: z.boolean().default(true).describe("label and score the families (false: build and statistics only)"),
});
/** Parsed families stage config. */
export type FamiliesConfig = z.infer<typeof FamiliesConfig>;
/** Families stage config as written (defaults optional). */
export type FamiliesConfigInput = z.input<typeof FamiliesConfig>;

/**
 * Size presets: tiny and default use the paper's settings (tiny SAEs have few labelled features, so their
 * clean set is usually too small and only the alive set forms families); paper likewise.
 */
export function familiesPreset(profile: Profile): FamiliesConfigInput {
  return profile === "paper" ? {} : { budgetUsd: PRESET_BUDGET_USD };
}
