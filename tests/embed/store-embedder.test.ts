// The query embedder of a store: rebuilt from the store's config or manifest, refused when it would embed
// queries into another space.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { EmbedStageConfig } from "../../src/embed/config.js";
import { createOpenAIEmbedder } from "../../src/embed/openai.js";
import { createStoreEmbedder, parseOpenAIEmbedderId } from "../../src/embed/store-embedder.js";
import { EmbeddingStore } from "../../src/embed/store-reader.js";
import { embedToStore } from "../../src/embed/store.js";
import { hashEmbedding, type OpenAITestServer, startOpenAIServer } from "../helpers/openai-server.js";

const D = 8;
const KEY_ENV = "SAERCH_TEST_UNSET_KEY";
let server: OpenAITestServer;
let dir: string;

beforeEach(async () => {
  server = await startOpenAIServer();
  dir = mkdtempSync(join(tmpdir(), "saerch-store-embedder-"));
});
afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A store of 3 documents embedded by the local server at D = 8, with the config that made it. */
async function openaiStore(): Promise<string> {
  const options = { baseURL: server.baseURL, apiKeyEnv: KEY_ENV, dimensions: D };
  const embedder = createOpenAIEmbedder(options);
  const docs = [0, 1, 2].map((i) => ({ id: `d${i}`, text: `document ${i} about galaxies` }));
  await embedToStore({ dir, docs, embedder });
  const config = EmbedStageConfig.parse({ provider: { kind: "openai", options } });
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  return dir;
}

/** A bare manifest with `embedderId` and, when given, a config.json with `provider`. */
function bareStore(embedderId: string, provider?: unknown): string {
  writeFileSync(join(dir, "manifest.json"), JSON.stringify({ embedderId }));
  if (provider) writeFileSync(join(dir, "config.json"), JSON.stringify(EmbedStageConfig.parse({ provider })));
  return dir;
}

describe("parseOpenAIEmbedderId", () => {
  it("reads model, dimension and host", () => {
    expect(parseOpenAIEmbedderId("openai:text-embedding-3-small:1536")).toEqual({ model: "text-embedding-3-small", dim: 1536 });
    expect(parseOpenAIEmbedderId("openai:text-embedding-3-small:512@127.0.0.1:8080")).toEqual({
      model: "text-embedding-3-small",
      dim: 512,
      host: "127.0.0.1:8080",
    });
    expect(parseOpenAIEmbedderId("use-lite:512")).toBeNull();
  });
});

describe("createStoreEmbedder", () => {
  it("rebuilds an OpenAI-compatible store's embedder from its config: a document's text embeds to its stored row", async () => {
    const store = EmbeddingStore.open(await openaiStore());
    const embedder = await createStoreEmbedder(store.dir);
    try {
      expect(embedder.id).toBe(store.manifest.embedderId);
      expect(embedder.id).toBe(`openai:text-embedding-3-small:${D}@${new URL(server.baseURL).host}`);
      const q = await embedder.embed(["document 1 about galaxies"]);
      expect(Array.from(q)).toEqual(Array.from(hashEmbedding("document 1 about galaxies", D)));
      const row = store.rows(1, 2);
      for (let i = 0; i < D; i++) expect(q[i]).toBeCloseTo(row[i]!, 6);
      expect(server.requestsTo("/v1/embeddings").at(-1)!.body).toMatchObject({ model: "text-embedding-3-small", dimensions: D });
    } finally {
      await embedder.close();
    }
  });

  it("refuses a base URL that is not the store's server (another space under the same model name)", async () => {
    const other = await startOpenAIServer();
    try {
      await openaiStore();
      const err = await createStoreEmbedder(dir, { baseURL: other.baseURL }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SaerchError);
      expect((err as Error).message).toMatch(/holds openai:text-embedding-3-small:8@127\.0\.0\.1/);
    } finally {
      await other.close();
    }
  });

  it("adopted OpenAI vectors get the OpenAI client, which asks for a key rather than embedding elsewhere", async () => {
    bareStore("openai:text-embedding-3-small:1536", { kind: "npy", embeddingsPath: "x.npy", idsPath: "ids.json", model: "text-embedding-3-small" });
    const saved = process.env.SAERCH_TEST_UNSET_KEY;
    delete process.env.SAERCH_TEST_UNSET_KEY;
    await expect(createStoreEmbedder(dir, { apiKeyEnv: KEY_ENV })).rejects.toThrow(/no OpenAI API key: environment variable SAERCH_TEST_UNSET_KEY/);
    if (saved !== undefined) process.env.SAERCH_TEST_UNSET_KEY = saved;
  });

  it("an adopted store from another server needs its URL", async () => {
    bareStore("openai:text-embedding-3-small:8@10.0.0.1:9000");
    await expect(createStoreEmbedder(dir)).rejects.toThrow(/at 10\.0\.0\.1:9000 but its config does not say the URL/);
  });

  it("an id no provider can make is a clear error", async () => {
    bareStore("npy:some-model:64");
    await expect(createStoreEmbedder(dir)).rejects.toThrow(/no query embedder is known for the store's embedder id "npy:some-model:64"/);
  });

  it("a folder without a manifest is not a store", async () => {
    await expect(createStoreEmbedder(dir)).rejects.toThrow(/manifest\.json is missing: not an embedding store/);
  });
});
