/**
 * The embedding stage in one call (METHOD.md §1): select the documents, embed them with the configured
 * provider (or adopt precomputed vectors) into a resumable store under `data/embed/<runId>/`, and return
 * the opened store with each row's domain label. Rerunning with the same config reopens the finished
 * store; an interrupted run resumes from its last complete shard. The store directory is locked while it is
 * built (one process per store), and adopted vectors are checked against their embedder id's dimension
 * before any directory is made. The store's run id holds the corpus's content (ids and texts, not its
 * path), the embedder's id and revision and EMBED_STAGE_VERSION; `identity.json` records them for later
 * stages (src/embed/identity.ts).
 */
import { readNpyHeader } from "../io/npy.js";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { docText } from "../corpus/document.js";
import { type CorpusSelection, selectCorpus } from "../corpus/select.js";
import { SaerchError } from "../core/errors.js";
import { progress } from "../core/progress.js";
import { stableStringify, withNewRunCleanup } from "../io/artefact.js";
import { writeJsonAtomic } from "../io/atomic.js";
import { corpusContentHash } from "../io/identity.js";
import { dataDir } from "../io/paths.js";
import { withRunLock, withRunLockSync } from "../io/run-lock.js";
import { adoptNpy, checkAdoptedDim, readIdList } from "./adopt-npy.js";
import { docsContentHash, embedderRevision, STORE_IDENTITY_FILE, writeStoreIdentity } from "./identity.js";
import { EmbedStageConfig, type EmbedStageConfigInput } from "./config.js";
import type { Embedder } from "./embedder.js";
import { createOpenAIEmbedder } from "./openai.js";
import { EMBED_STAGE, embedToStore, findCompatibleStores, openEmbeddingRun } from "./store.js";
import { EmbeddingStore } from "./store-reader.js";
import { createTransformersEmbedder } from "./transformers.js";
import { createUseLiteEmbedder } from "./use-lite.js";

/**
 * Version of the embedding stage's behaviour (what it stores for a corpus and provider); bump it with
 * every change that changes a store's vectors or rows, so no store of the old behaviour is reopened.
 */
export const EMBED_STAGE_VERSION = 1;

/** File beside the store with each row's domain label, `[N]` strings in store order. */
export const DOMAINS_FILE = "domains.json";

/** What the embedding stage produced. */
export interface EmbedStageResult {
  /** The parsed config (defaults filled). */
  config: EmbedStageConfig;
  /** The opened store (`[N, D]`). */
  store: EmbeddingStore;
  /** Domain label of each store row `[N]` (a stratum name such as "astro-ph", or "other"). */
  labels: string[];
  /** The corpus selection the store was built from (load report, counts). */
  selection: CorpusSelection;
  /** Texts sent to an embedder in this call (0 when the store was reused or adopted). */
  embedded: number;
  /** True when a finished store with this config already existed. */
  reused: boolean;
}

/**
 * Domain label of every row of a store, from the `domains.json` that runEmbedStage writes beside it.
 * @returns `[N]` labels in store-row order
 * @throws SaerchError naming the fix when the store has no labels
 */
export function readStoreDomains(store: Pick<EmbeddingStore, "dir">): string[] {
  const path = join(store.dir, DOMAINS_FILE);
  if (!existsSync(path)) throw new SaerchError(`${path} is missing: the store has no domain labels`, "build the store with runEmbedStage (notebook 01)");
  return JSON.parse(readFileSync(path, "utf8")) as string[];
}

/** Build the embedder a provider section describes (not for "npy", which adopts vectors). */
export async function createEmbedder(provider: EmbedStageConfig["provider"]): Promise<Embedder> {
  switch (provider.kind) {
    case "use-lite":
      return createUseLiteEmbedder(provider.options);
    case "openai":
      return createOpenAIEmbedder(provider.options);
    case "transformers":
      return createTransformersEmbedder(provider.options);
    case "npy":
      throw new SaerchError("the npy provider adopts precomputed vectors; it has no embedder to create");
  }
}

/** True when the store in `dir` records the embedder revision `revision` (stores without a record never match). */
function sameRevision(dir: string, revision: string): boolean {
  const path = join(dir, STORE_IDENTITY_FILE);
  if (!existsSync(path)) return false;
  return (JSON.parse(readFileSync(path, "utf8")) as { embedderRevision?: unknown }).embedderRevision === revision;
}

/** Labels for `ids` from the selection's strata; ids outside the selection are "other". */
function labelsFor(ids: readonly string[], selection: CorpusSelection): string[] {
  const byId = new Map(selection.docs.map((d, i) => [d.id, selection.labels[i]!]));
  return ids.map((id) => byId.get(id) ?? "other");
}

/**
 * Run the embedding stage.
 * @param input stage config (see EmbedStageConfig; `embedPreset(profile, …)` gives the size presets)
 */
export async function runEmbedStage(input: EmbedStageConfigInput): Promise<EmbedStageResult> {
  const parsed = EmbedStageConfig.safeParse(input);
  if (!parsed.success) throw new SaerchError(`invalid embedding config: ${parsed.error.message}`);
  const cfg = parsed.data;
  const selection = await selectCorpus(cfg.corpus);
  if (selection.docs.length === 0) {
    throw new SaerchError("the corpus selection is empty", "check the corpus path, filter and sample settings");
  }
  const provider = cfg.provider;
  const docs = selection.docs.map((d) => ({ id: d.id, text: docText(d) }));
  // What the store's vectors depend on besides the sizes: the documents' content, the model's revision, this code.
  const identity = { corpus: docsContentHash(docs), embedderRevision: embedderRevision(provider), stageVersion: EMBED_STAGE_VERSION };
  let embedded = 0;
  let dir: string;
  let reused: boolean;

  if (provider.kind === "npy") {
    const dim = readNpyHeader(provider.embeddingsPath).shape[1] ?? 0;
    const embedderId = provider.embedderId ?? `npy:${provider.model}:${dim}`;
    checkAdoptedDim(provider.embeddingsPath, dim, embedderId);
    const run = openEmbeddingRun({
      embedderId,
      corpus: stableStringify({ adopted: { model: provider.model, embedderId }, content: identity.corpus, docs: docs.length }),
      embedderRevision: identity.embedderRevision,
      stageVersion: identity.stageVersion,
      dtype: cfg.dtype,
      shardSize: cfg.shardSize,
    });
    dir = run.dir;
    reused = run.complete;
    if (!run.complete) {
      await withNewRunCleanup({ stage: EMBED_STAGE, ...run }, () => withRunLock(dir, "embedding stage", async () => {
        const ids = readIdList(provider.idsPath);
        const texts = new Map(docs.map((d) => [d.id, d.text]));
        adoptNpy({
          embeddingsPath: provider.embeddingsPath,
          idsPath: provider.idsPath,
          dir,
          model: provider.model,
          embedderId,
          // Text hashes need a text for every row; without them the store still works, it just cannot serve as a cache.
          ...(ids.every((id) => texts.has(id)) ? { texts } : {}),
          dtype: cfg.dtype,
          shardSize: cfg.shardSize,
        });
      }));
    }
  } else {
    const embedder = await createEmbedder(provider);
    try {
      const run = openEmbeddingRun({
        embedderId: embedder.id,
        corpus: stableStringify({ content: identity.corpus, docs: docs.length }),
        embedderRevision: identity.embedderRevision,
        stageVersion: identity.stageVersion,
        dtype: cfg.dtype,
        shardSize: cfg.shardSize,
      });
      dir = run.dir;
      reused = run.complete;
      if (!run.complete) {
        await withNewRunCleanup({ stage: EMBED_STAGE, ...run }, () => withRunLock(dir, "embedding stage", async () => {
          const bar = progress(docs.length, `embedding with ${embedder.id}`, { unit: "docs" });
          const result = await embedToStore({
            dir,
            docs,
            embedder,
            shardSize: cfg.shardSize,
            dtype: cfg.dtype,
            // Vectors are reused only from stores of the same model revision.
            cacheFrom: findCompatibleStores(join(dataDir(), EMBED_STAGE), embedder.id).filter((d) => d !== dir && sameRevision(d, identity.embedderRevision)),
            onProgress: (p) => bar.update(p.done),
          });
          bar.finish();
          embedded = result.embedded;
        }));
      }
    } finally {
      await embedder.close();
    }
  }

  const store = EmbeddingStore.open(dir);
  const labels = labelsFor(store.ids, selection);
  withRunLockSync(dir, "embedding stage", () => {
    writeJsonAtomic(join(dir, DOMAINS_FILE), labels);
    const corpus = corpusContentHash(store.ids, store.textHashes);
    writeStoreIdentity(dir, { corpus, embedderId: store.manifest.embedderId, embedderRevision: identity.embedderRevision, stageVersion: identity.stageVersion, selection: cfg.corpus });
  });
  return { config: cfg, store, labels, selection, embedded, reused };
}
