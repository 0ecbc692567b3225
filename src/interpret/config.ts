/**
 * The interpretation stage's config (METHOD.md §4): which LLMs (or the offline baseline), how examples are
 * chosen, what a request may cost, and which labels count as clean. Defaults follow the paper.
 */
import { z } from "zod";
import type { Profile } from "../compute/profile.js";

/** OpenAI's public endpoint: the only base URL that needs an API key. */
export const OPENAI_CHAT_BASE_URL = "https://api.openai.com/v1";

/** Price of one model, US dollars per million tokens. */
export const ModelPrice = z.strictObject({
  inputPerMTok: z.number().min(0).describe("USD per 1M prompt tokens"),
  outputPerMTok: z.number().min(0).describe("USD per 1M completion tokens"),
});
/** Parsed model price. */
export type ModelPrice = z.infer<typeof ModelPrice>;

/** HTTP client settings for any OpenAI-compatible chat-completions server. */
export const LlmConfig = z.strictObject({
  baseURL: z.url().default(OPENAI_CHAT_BASE_URL).describe("API root; point it at any OpenAI-compatible server (a local one needs no key)"),
  apiKeyEnv: z.string().min(1).default("OPENAI_API_KEY").describe("environment variable holding the key; keys never live in config files"),
  interpreterModel: z.string().min(1).default("gpt-4o").describe("Interpreter model: the paper used GPT-4o"),
  predictorModel: z.string().min(1).default("gpt-4o-mini").describe("Predictor model: the paper used GPT-4o-mini"),
  temperature: z.number().min(0).max(2).default(0).describe("sampling temperature: 0 as in the paper, so replies are as repeatable as the server allows"),
  interpreterMaxTokens: z.number().int().min(16).default(800).describe("completion cap for the interpreter: room for its reasoning and the label"),
  predictorMaxTokens: z.number().int().min(4).default(200).describe("completion cap for the predictor: a short justification and the confidence"),
  timeoutMs: z.number().int().min(1).default(60_000).describe("per-attempt timeout; a hung request is abandoned and retried"),
  maxRetries: z.number().int().min(0).default(6).describe("retries after the first attempt on 429, 5xx, timeouts, malformed or empty replies"),
  baseDelayMs: z.number().int().min(0).default(1000).describe("first backoff delay; doubles per retry, with jitter"),
  maxDelayMs: z.number().int().min(0).default(60_000).describe("cap on one computed backoff delay (a server's Retry-After up to 60 s is honoured as given)"),
  concurrency: z.number().int().min(1).default(8).describe("requests in flight at once: high enough to hide latency, low enough for typical rate limits"),
});
/** Parsed LLM client settings. */
export type LlmConfig = z.infer<typeof LlmConfig>;

/** How the examples of each feature are chosen (METHOD.md §4). */
export const ExamplesConfig = z.strictObject({
  top: z.number().int().min(1).default(5).describe("top-activating documents shown to the interpreter (paper: 5)"),
  zero: z.number().int().min(0).default(5).describe("zero-activating documents shown to the interpreter (paper: 5)"),
  heldTop: z.number().int().min(1).default(3).describe("further top-activating documents held out for the predictor (paper: 3)"),
  heldZero: z.number().int().min(1).default(3).describe("further zero-activating documents held out for the predictor (paper: 3)"),
  minChars: z.number().int().min(0).default(100).describe("examples must be longer than this many characters (paper: 100)"),
  negatives: z
    .enum(["random", "hard"])
    .default("random")
    .describe("zero-activating documents: a seeded random sample (the paper's code), or hard negatives most similar to the mean of the top ones (an older version)"),
  seed: z.number().int().default(0).describe("seeds the random zero-activating samples (each feature draws from its own stream)"),
});
/** Parsed example-selection settings. */
export type ExamplesConfig = z.infer<typeof ExamplesConfig>;

/** Which labels count as clean (METHOD.md §4) — the input to feature families. */
export const CleanConfig = z.strictObject({
  minF1: z.number().min(0).max(1).default(0.8).describe("F1 at least this (paper: 0.8)"),
  minPearson: z.number().min(-1).max(1).default(0.8).describe("Pearson at least this (paper: 0.8); an undefined Pearson fails"),
  maxDensity: z.number().min(0).max(1).default(0.2).describe("density below this (paper: 0.2): denser features are too broad to name"),
  boilerplateSuffixes: z
    .array(z.string())
    .default([" in astronomy", " in astrophysics", " in machine learning", " in computer science", " research", " studies"])
    .describe("suffixes stripped from labels, case-insensitively (the paper strips e.g. 'in astronomy')"),
  vagueLabels: z
    .array(z.string())
    .default(["miscellaneous", "various topics", "general research", "scientific research", "unknown", "none", "unclear", "no clear pattern"])
    .describe("labels (after cleanup, case-insensitive) dropped as too vague to mean anything"),
});
/** Parsed clean-feature filter. */
export type CleanConfig = z.infer<typeof CleanConfig>;

/**
 * The offline baseline: distinctive terms as the label, embedding similarity as the prediction. The numeric
 * defaults were chosen by `npm run tune:baseline` (coordinate search, objective (mean F1 + mean Pearson) / 2)
 * on 150 features per domain of seed-7 astro-ph / cs.LG n4096 k32 SAEs — not the seed-0 stage-2 and sweep
 * SAEs whose scores notebook 04 reports, nor notebook 05's seed-1 SAEs: objective 0.392 → 0.420 on those
 * features, 0.354 → 0.376 on 150 further validation features per domain the search never saw (mean F1
 * 0.527 → 0.560, mean Pearson 0.186 → 0.195); record in data/tune-baseline/seed7-fa401ab735/tuning.json.
 */
export const BaselineConfig = z.strictObject({
  terms: z.number().int().min(1).default(5).describe("distinctive terms joined into the label: 5 scored best on the tuning SAEs (tried 1–5; was 3)"),
  minTopDocs: z
    .number()
    .int()
    .min(1)
    .default(1)
    .describe("a term must occur in at least this many shown top documents: 1 on the tuning SAEs (tried 1–3; was 2)"),
  bigrams: z.boolean().default(true).describe("also consider two-word terms (e.g. 'dark matter')"),
  minCorpusDf: z
    .number()
    .int()
    .min(1)
    .default(2)
    .describe(
      "a label term must occur in at least this many documents of the whole corpus: rarer ones are phrases of a few papers, not concepts (2 on the tuning SAEs, tried 1–20; was 3)",
    ),
  duplicateJaccard: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe(
      "shown documents whose term sets overlap at least this much (Jaccard) count once: the same paper under two ids is one piece of evidence (0.3–1 scored the same on the tuning SAEs)",
    ),
  thresholdShare: z
    .number()
    .min(0)
    .max(1)
    .default(0)
    .describe(
      "predictor threshold, as a fraction of the way from the mean shown-zero to the mean shown-top similarity: below the midpoint (0.5) because the label was fitted to the shown top documents, so held-out top documents are less similar to it; 0 (the mean shown-zero similarity, the grid's lowest value) on the tuning SAEs (tried 0–0.6; was 0.3)",
    ),
  gapScale: z
    .number()
    .positive()
    .default(1.5)
    .describe(
      "predictions reach ±1 this many class-mean gaps (mean shown-top − mean shown-zero similarity) from the threshold: 1.5 on the tuning SAEs (tried 0.25–3; was 1)",
    ),
  overlapWeight: z
    .number()
    .min(0)
    .default(2)
    .describe(
      "added to a prediction times the idf-weighted share of the label's terms the document contains (0: embedding similarity only); 2, the grid's highest value, on the tuning SAEs (tried 0–2; was 1)",
    ),
});
/** Parsed baseline settings. */
export type BaselineConfig = z.infer<typeof BaselineConfig>;

/** The dry run's assumptions: what cannot be known before the replies exist. */
export const DryRunConfig = z.strictObject({
  sampleFeatures: z.number().int().min(1).default(50).describe("features whose real prompts are built to measure the mean prompt size"),
  interpreterCompletionTokens: z
    .number()
    .int()
    .min(1)
    .default(400)
    .describe("assumed mean interpreter reply length (its candidate list, strikes and label)"),
  predictorCompletionTokens: z.number().int().min(1).default(60).describe("assumed mean predictor reply length (a sentence and the confidence)"),
  labelWords: z.number().int().min(1).default(5).describe("assumed label length in words, for the predictor prompt size"),
});
/** Parsed dry-run assumptions. */
export type DryRunConfig = z.infer<typeof DryRunConfig>;

/** Default prices (USD per 1M tokens, OpenAI list prices for the paper's models). */
export const DEFAULT_PRICES: Record<string, ModelPrice> = {
  "gpt-4o": { inputPerMTok: 2.5, outputPerMTok: 10 },
  "gpt-4o-mini": { inputPerMTok: 0.15, outputPerMTok: 0.6 },
};

/** The stage config. */
export const InterpretConfig = z.strictObject({
  scorer: z
    .enum(["auto", "llm", "baseline"])
    .default("auto")
    .describe("auto: the LLMs when a key is set (or the base URL is not OpenAI's), else the offline baseline"),
  llm: LlmConfig.prefault({}).describe("the OpenAI-compatible server and models"),
  prices: z.record(z.string(), ModelPrice).default(DEFAULT_PRICES).describe("USD per 1M tokens per model, for cost accounting and the dry run"),
  budgetUsd: z.number().positive().optional().describe("stop cleanly before a request would take the spend past this (omitted: no cap)"),
  examples: ExamplesConfig.prefault({}).describe("how each feature's examples are chosen"),
  clean: CleanConfig.prefault({}).describe("which labels count as clean"),
  baseline: BaselineConfig.prefault({}).describe("the offline baseline's settings"),
  dryRun: DryRunConfig.prefault({}).describe("assumptions of the cost estimate printed before any LLM call"),
  maxFeatures: z.number().int().min(1).optional().describe("label only the first this many features (after `features`); omitted: all"),
  features: z.array(z.number().int().min(0)).optional().describe("label exactly these features (omitted: 0 … F − 1)"),
  chunk: z.number().int().min(1).default(64).describe("features labelled per round; records are written after each feature"),
});
/** Parsed stage config. */
export type InterpretConfig = z.infer<typeof InterpretConfig>;
/** Stage config as written by users (defaults optional). */
export type InterpretConfigInput = z.input<typeof InterpretConfig>;

/** Spend cap of the tiny and default presets when the LLMs are used: a key in the environment never runs up a large bill unasked. */
export const PRESET_BUDGET_USD = 10;

/**
 * Size presets: tiny labels 20 features per SAE (CI); default and paper label every feature. tiny and
 * default cap LLM spend at PRESET_BUDGET_USD (a run stops cleanly there and continues on rerun with a larger
 * budget; the baseline costs nothing); paper has no cap.
 */
export function interpretPreset(profile: Profile): InterpretConfigInput {
  switch (profile) {
    case "tiny":
      return { maxFeatures: 20, budgetUsd: PRESET_BUDGET_USD };
    case "default":
      return { budgetUsd: PRESET_BUDGET_USD };
    case "paper":
      return {};
  }
}
