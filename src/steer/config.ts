/**
 * The steering stage's config (METHOD.md §7): the query set, the paper's strength grid, the methods and
 * judges, and the family-steering comparison. Defaults follow the paper where it says, and fix its
 * evaluation's flaws (paired cells, seeds, the down-topic artefact control).
 */
import { z } from "zod";
import { DEFAULT_PRICES, LlmConfig, ModelPrice, PRESET_BUDGET_USD } from "../interpret/config.js";
import type { Profile } from "../compute/profile.js";

/** Every steering method the evaluation knows. */
export const STEER_METHODS = ["add", "clamp", "family", "random", "diff-means", "rewrite-llm", "rewrite-offline"] as const;
/** One of STEER_METHODS. */
export type SteerMethod = (typeof STEER_METHODS)[number];
/** Methods steered on the strength grid (the rewrites give one point each). */
export const GRID_METHODS: readonly SteerMethod[] = ["add", "clamp", "family", "random", "diff-means"];
/** Every judge. */
export const JUDGES = ["activation", "text", "llm"] as const;
/** One of JUDGES. */
export type JudgeKind = (typeof JUDGES)[number];

/** Which queries steer (METHOD.md §7: the paper used 50 real user queries). */
export const QueryConfig = z.strictObject({
  source: z.enum(["held-out-titles", "file"]).default("held-out-titles").describe("titles of a seeded sample of abstracts held out of the index, or a text file of queries (one a line)"),
  path: z.string().optional().describe("the queries file, with source 'file'"),
  perDomain: z.number().int().min(1).default(100).describe("queries per domain (the issue asks for at least 100)"),
  maxChars: z.number().int().min(1).default(1000).describe("longer queries are refused"),
  seed: z.number().int().default(0).describe("seeds the held-out sample and every draw of features and distractors"),
});

/** The evaluation. */
export const SteerEvalConfig = z.strictObject({
  strengthsUp: z.array(z.number().finite()).min(1).default([0.1, 0.25, 0.5, 1, 2.5, 5, 10]).describe("s_up grid (paper)"),
  strengthsDown: z.array(z.number().finite().min(0)).min(1).default([0, 0.25, 0.5, 1, 2.5, 5]).describe("s_down grid (paper); 0 is the artefact control"),
  methods: z.array(z.enum(STEER_METHODS)).default([...STEER_METHODS]).describe("methods to evaluate"),
  judges: z.array(z.enum(JUDGES)).default(["activation", "text", "llm"]).describe("judges; 'llm' runs only when an LLM is configured"),
  topK: z.number().int().min(1).default(10).describe("results per search (paper: 10)"),
  distractors: z.number().int().min(1).default(3).describe("random clean features shown beside up and down (paper: 3; chance = 1/(distractors + 2))"),
  bootstrap: z.number().int().min(10).default(1000).describe("bootstrap resamples of the queries for 95 % intervals"),
  familyWeighting: z.enum(["cooccurrence", "equal"]).default("cooccurrence").describe("how a family strength is spread over members: P(member | parent), or equally"),
  llmPoints: z
    .array(z.strictObject({ method: z.enum(STEER_METHODS), up: z.number().optional(), down: z.number().optional() }))
    .default([{ method: "add", down: 0 }, { method: "add", down: 1 }, { method: "rewrite-llm" }, { method: "rewrite-offline" }])
    .describe("the grid points the LLM judge sees (it costs a request each); omitted up/down match every strength"),
  familyStrengths: z.array(z.number().finite().positive()).default([0.25, 0.5, 1, 2.5, 5]).describe("strengths of the family-versus-parent comparison"),
});

/** The stage config. */
export const SteerConfig = z.strictObject({
  queries: QueryConfig.prefault({}).describe("the query set"),
  eval: SteerEvalConfig.prefault({}).describe("grid, methods, judges"),
  llm: LlmConfig.prefault({}).describe("the OpenAI-compatible server for the rewriter and the judge (the interpreter model answers both)"),
  prices: z.record(z.string(), ModelPrice).default(DEFAULT_PRICES).describe("USD per 1M tokens per model"),
  budgetUsd: z.number().positive().optional().describe("stop cleanly before a request would take this stage's spend past this"),
  featureSet: z
    .enum(["clean", "labelled"])
    .default("clean")
    .describe("up, down and distractors are drawn from stage 4's clean features (the paper), or from every labelled feature (tiny runs label too few to pass the filter)"),
  useLlm: z.enum(["auto", "yes", "no"]).default("auto").describe("auto: the LLM rewriter and judge when credentials are configured"),
});
/** Parsed steering config. */
export type SteerConfig = z.infer<typeof SteerConfig>;
/** Steering config as written. */
export type SteerConfigInput = z.input<typeof SteerConfig>;

/**
 * Presets: tiny steers 20 queries per domain on a reduced grid with every labelled feature (CI labels 20
 * features per SAE, too few to pass the clean filter); default the paper's grid with 100 queries and clean features.
 */
export function steerPreset(profile: Profile): SteerConfigInput {
  if (profile === "tiny") {
    return { featureSet: "labelled", queries: { perDomain: 20 }, eval: { strengthsUp: [0.5, 2.5, 10], strengthsDown: [0, 1], bootstrap: 200, familyStrengths: [0.5, 2.5] }, budgetUsd: PRESET_BUDGET_USD };
  }
  return profile === "paper" ? {} : { budgetUsd: PRESET_BUDGET_USD };
}
