/**
 * The query embedder of a store (paper §7: a search query is embedded by the model that embedded the
 * documents, text-embedding-3-small in the paper): rebuilt from the store's own `config.json` provider
 * section, or, for adopted vectors, from the embedder id its manifest records, and checked against that id.
 *
 * A store of `use-lite:512` vectors gets the offline USE-lite model; `openai:<model>:<D>[@host]` gets the
 * OpenAI (or OpenAI-compatible) client with that model and dimension; a transformers store gets its local
 * ONNX model. Connection settings (base URL, key variable) can be overridden, never the model.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SaerchError } from "../core/errors.js";
import { EmbedStageConfig } from "./config.js";
import type { Embedder } from "./embedder.js";
import { MANIFEST_FILE } from "./manifest.js";
import { createOpenAIEmbedder, OPENAI_BASE_URL, type OpenAIEmbedOptionsInput } from "./openai.js";
import { createEmbedder } from "./stage.js";
import { createUseLiteEmbedder } from "./use-lite.js";

/** What a store's query embedder may change: where OpenAI requests go and which variable holds the key. */
export interface StoreEmbedderOptions {
  /** OpenAI-compatible base URL (default: the one the store was built with, else api.openai.com). */
  baseURL?: string;
  /** Environment variable holding the API key (default OPENAI_API_KEY). */
  apiKeyEnv?: string;
  /** Further OpenAI client settings (retries, timeouts); model and dimensions always come from the store. */
  openai?: Omit<OpenAIEmbedOptionsInput, "model" | "dimensions" | "baseURL" | "apiKeyEnv">;
}

/** An `openai:<model>:<D>[@host]` embedder id, parsed. */
export interface OpenAIEmbedderId {
  model: string;
  dim: number;
  /** host[:port] of a non-OpenAI server, absent for api.openai.com. */
  host?: string;
}

/** Parse an `openai:<model>:<D>[@host]` embedder id; null for any other provider's id. */
export function parseOpenAIEmbedderId(id: string): OpenAIEmbedderId | null {
  const m = /^openai:([^@]+):(\d+)(?:@(.+))?$/.exec(id);
  if (!m) return null;
  return { model: m[1]!, dim: Number(m[2]), ...(m[3] ? { host: m[3] } : {}) };
}

/** The store directory's manifest embedder id and, where there is one, its producing config. */
function readStoreOrigin(dir: string): { embedderId: string; config: EmbedStageConfig | null } {
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath)) throw new SaerchError(`${manifestPath} is missing: not an embedding store`, "point at a store directory made by the embedding stage (notebook 01)");
  const { embedderId } = JSON.parse(readFileSync(manifestPath, "utf8")) as { embedderId: string };
  const configPath = join(dir, "config.json");
  if (!existsSync(configPath)) return { embedderId, config: null };
  const parsed = EmbedStageConfig.safeParse(JSON.parse(readFileSync(configPath, "utf8")));
  return { embedderId, config: parsed.success ? parsed.data : null };
}

/**
 * The embedder that embeds queries into the space of the store at `dir`: its own provider rebuilt from
 * its config, or, for adopted (npy) vectors, the provider named by the manifest's embedder id.
 * Throws a SaerchError when no such embedder can be made offline, or when the one made has another id
 * than the store's (another model, dimension or server): queries would land in a different space.
 * The caller closes it.
 */
export async function createStoreEmbedder(dir: string, options: StoreEmbedderOptions = {}): Promise<Embedder> {
  const { embedderId, config } = readStoreOrigin(dir);
  const provider = config?.provider;
  let embedder: Embedder;
  const oa = parseOpenAIEmbedderId(embedderId);
  if (oa) {
    const built = provider?.kind === "openai" ? provider.options : undefined;
    const baseURL = options.baseURL ?? built?.baseURL ?? (oa.host ? undefined : OPENAI_BASE_URL);
    if (!baseURL) {
      throw new SaerchError(
        `the store's vectors came from an OpenAI-compatible server at ${oa.host} but its config does not say the URL`,
        `pass baseURL (e.g. http://${oa.host}/v1)`,
      );
    }
    embedder = createOpenAIEmbedder({
      ...(built ?? {}),
      ...(options.openai ?? {}),
      model: oa.model,
      dimensions: oa.dim,
      baseURL,
      ...(options.apiKeyEnv ?? built?.apiKeyEnv ? { apiKeyEnv: options.apiKeyEnv ?? built?.apiKeyEnv } : {}),
    });
  } else if (provider && provider.kind !== "npy") {
    embedder = await createEmbedder(provider);
  } else if (embedderId.startsWith("use-lite:")) {
    embedder = await createUseLiteEmbedder({});
  } else {
    throw new SaerchError(
      `no query embedder is known for the store's embedder id "${embedderId}"`,
      "embed the store with a provider saerch can run (use-lite, openai, transformers), or pass an embedder for queries",
    );
  }
  if (embedder.id !== embedderId) {
    await embedder.close();
    throw new SaerchError(
      `the query embedder built for this store has id ${embedder.id}, but the store holds ${embedderId} vectors`,
      "pass the base URL the store was embedded with",
    );
  }
  return embedder;
}
