/**
 * The embedding stage's config (METHOD.md §1): which documents (corpus section), which model (one provider
 * section), and how the store is written. Size presets per PROFILE live here too.
 */
import { z } from "zod";
import { CorpusConfig } from "../corpus/config.js";
import type { Profile } from "../compute/profile.js";
import { OpenAIEmbedOptions } from "./openai.js";
import { EmbedStoreOptions } from "./store.js";
import { TransformersEmbedOptions } from "./transformers.js";
import { UseLiteEmbedOptions } from "./use-lite.js";

/** Precomputed vectors to adopt instead of embedding (e.g. ../shared/embeddings/use-lite-512). */
export const AdoptNpyProvider = z.strictObject({
  kind: z.literal("npy"),
  embeddingsPath: z.string().min(1).describe("the `[N, D]` .npy (float32/float16, C order)"),
  idsPath: z.string().min(1).describe("row ids: JSON array or one id per line, in row order"),
  model: z.string().min(1).describe("the model that made the vectors, recorded in the manifest"),
  embedderId: z
    .string()
    .min(1)
    .optional()
    .describe("the real provider's embedder id (e.g. use-lite:512) so live runs of that model reuse these vectors"),
});

/** Which model makes the vectors. */
export const EmbedProvider = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("use-lite"), options: UseLiteEmbedOptions.prefault({}) }),
  z.strictObject({ kind: z.literal("openai"), options: OpenAIEmbedOptions.prefault({}) }),
  z.strictObject({ kind: z.literal("transformers"), options: TransformersEmbedOptions }),
  AdoptNpyProvider,
]);
/** Which model makes the vectors. */
export type EmbedProvider = z.infer<typeof EmbedProvider>;

/** The whole embedding stage. */
export const EmbedStageConfig = z.strictObject({
  corpus: CorpusConfig.prefault({}).describe("which documents (source, filter, per-domain sample)"),
  provider: EmbedProvider.prefault({ kind: "use-lite" }).describe(
    "use-lite (offline default, 512-d), openai (the paper's text-embedding-3-small), transformers (any local ONNX model) or npy (adopt precomputed vectors)",
  ),
  ...EmbedStoreOptions.shape,
});
/** Parsed embedding-stage config. */
export type EmbedStageConfig = z.infer<typeof EmbedStageConfig>;
/** Embedding-stage config as written by a caller (defaults optional). */
export type EmbedStageConfigInput = z.input<typeof EmbedStageConfig>;

/** Category prefixes of the paper's two corpora. */
const DOMAINS = { "astro-ph": ["astro-ph"], "cs.LG": ["cs.LG"] };
/** More documents per domain than either domain has: "take them all". */
const ALL = 1_000_000;

/**
 * Size presets. tiny: 300 abstracts per domain (cross-listed ones left out) embedded live with USE-lite
 * (CI, under a minute);
 * default: adopt the shared precomputed USE-lite store (all 25,662 astro-ph + cs.LG abstracts);
 * paper: every astro-ph and cs.LG abstract embedded with text-embedding-3-small when OPENAI_API_KEY is
 * set, else with USE-lite.
 */
export function embedPreset(profile: Profile, shared: { corpusDir: string; embeddingsDir: string }): EmbedStageConfigInput {
  const corpus = (perDomain: number, overlap: "exclude" | "separate", minAbstractChars?: number) => ({
    source: { path: `${shared.corpusDir}/arxiv-cs-astro-2025.jsonl.gz`, ...(minAbstractChars !== undefined ? { minAbstractChars } : {}) },
    filter: { categories: Object.keys(DOMAINS) },
    sample: { domains: DOMAINS, perDomain, seed: 0, overlap },
  });
  switch (profile) {
    case "tiny":
      return { corpus: corpus(300, "exclude"), provider: { kind: "use-lite" } };
    case "default":
      return {
        // Every abstract the shared store holds, short ones included, so each row gets its text hash.
        corpus: corpus(ALL, "separate", 0),
        provider: {
          kind: "npy",
          embeddingsPath: `${shared.embeddingsDir}/embeddings.npy`,
          idsPath: `${shared.embeddingsDir}/ids.json`,
          model: "universal-sentence-encoder-lite",
          embedderId: "use-lite:512",
        },
      };
    case "paper":
      return {
        corpus: corpus(ALL, "separate"),
        provider: process.env.OPENAI_API_KEY ? { kind: "openai" } : { kind: "use-lite" },
      };
  }
}
