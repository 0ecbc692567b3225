import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { writeNpy } from "../../src/io/npy.js";
import { embedPreset } from "../../src/embed/config.js";
import { STORE_IDENTITY_FILE } from "../../src/embed/identity.js";
import { DOMAINS_FILE, EMBED_STAGE_VERSION, runEmbedStage } from "../../src/embed/stage.js";
import { corpusContentHash } from "../../src/io/identity.js";
import { type OpenAITestServer, startOpenAIServer } from "../helpers/openai-server.js";

/** 6 astro-ph, 5 cs.LG, 1 in both, 2 other-cs documents, abstracts long enough to pass the 100-char floor. */
function writeCorpus(dir: string): string {
  const abstract = (i: number) => `Abstract number ${i}. `.repeat(8);
  const rows = [
    ...Array.from({ length: 6 }, (_, i) => ({ id: `a${i}`, categories: ["astro-ph.GA"] })),
    ...Array.from({ length: 5 }, (_, i) => ({ id: `l${i}`, categories: ["cs.LG", "stat.ML"] })),
    { id: "both0", categories: ["astro-ph.IM", "cs.LG"] },
    { id: "c0", categories: ["cs.CV"] },
    { id: "c1", categories: ["cs.CL"] },
  ].map((r, i) => ({ ...r, title: `Title ${i}`, abstract: abstract(i), listing_date: "2025-05-01", source: "test" }));
  const path = join(dir, "corpus.jsonl.gz");
  writeFileSync(path, gzipSync(rows.map((r) => JSON.stringify(r)).join("\n")));
  return path;
}

describe("runEmbedStage", () => {
  let server: OpenAITestServer;
  let dir: string;
  let corpusPath: string;
  const saved = process.env.SAERCH_DATA;

  beforeAll(async () => {
    server = await startOpenAIServer();
    dir = mkdtempSync(join(tmpdir(), "saerch-embed-stage-"));
    process.env.SAERCH_DATA = join(dir, "data");
    corpusPath = writeCorpus(dir);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true); // progress lines
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await server.close();
    if (saved === undefined) delete process.env.SAERCH_DATA;
    else process.env.SAERCH_DATA = saved;
  });

  const config = () => ({
    corpus: {
      source: { path: corpusPath },
      filter: { categories: ["astro-ph", "cs.LG"] },
      sample: { perDomain: 4, seed: 0, overlap: "separate" as const },
    },
    provider: { kind: "openai" as const, options: { baseURL: server.baseURL, dimensions: 8, concurrency: 2 } },
    shardSize: 5,
  });

  it("selects, embeds into a sharded store and labels every row with its domain", async () => {
    const res = await runEmbedStage(config());
    expect(res.reused).toBe(false);
    expect(res.embedded).toBe(9);
    expect(res.store.count).toBe(9); // 4 astro-ph + 4 cs.LG + the one cross-listed paper
    expect(res.store.dim).toBe(8);
    expect(res.store.manifest.shards).toHaveLength(2);
    expect([...res.labels].sort()).toEqual(["astro-ph", "astro-ph", "astro-ph", "astro-ph", "both", "cs.LG", "cs.LG", "cs.LG", "cs.LG"]);
    expect(res.labels[res.store.indexOf("both0")]).toBe("both");
    const onDisk = JSON.parse(readFileSync(join(res.store.dir, DOMAINS_FILE), "utf8"));
    expect(onDisk).toEqual(res.labels);
    expect(existsSync(join(res.store.dir, "config.json"))).toBe(true);
  });

  it("a rerun with the same config reopens the store and makes no request", async () => {
    const before = server.requestsTo("/v1/embeddings").length;
    const res = await runEmbedStage(config());
    expect(res.reused).toBe(true);
    expect(res.embedded).toBe(0);
    expect(server.requestsTo("/v1/embeddings").length).toBe(before);
  });

  it("a larger sample only embeds the new documents (the first run's vectors are a cache)", async () => {
    const before = server.requestsTo("/v1/embeddings").length;
    const bigger = config();
    bigger.corpus.sample.perDomain = 6;
    const res = await runEmbedStage(bigger);
    expect(res.store.count).toBe(12);
    expect(res.embedded).toBe(3); // 2 more astro-ph, 1 more cs.LG
    const sent = server.requestsTo("/v1/embeddings").slice(before).flatMap((r) => (r.body as { input: string[] }).input);
    expect(sent).toHaveLength(3);
  });

  it("the store's identity is the documents' content: the same corpus at another path reopens it, an edited text makes a new one", async () => {
    const first = await runEmbedStage(config());
    const moved = join(dir, "moved");
    mkdirSync(moved, { recursive: true });
    copyFileSync(corpusPath, join(moved, "corpus.jsonl.gz"));
    const cfg = config();
    cfg.corpus.source.path = join(moved, "corpus.jsonl.gz");
    const same = await runEmbedStage(cfg);
    expect(same.reused).toBe(true);
    expect(same.store.dir).toBe(first.store.dir);
    const identity = JSON.parse(readFileSync(join(first.store.dir, STORE_IDENTITY_FILE), "utf8")) as Record<string, unknown>;
    expect(identity).toMatchObject({ corpus: corpusContentHash(first.store.ids, first.store.textHashes), embedderRevision: server.baseURL, stageVersion: EMBED_STAGE_VERSION });

    // The cross-listed abstract (always sampled) edited: a new store, with only that text embedded.
    const rows = gunzipSync(readFileSync(corpusPath)).toString("utf8").split("\n").map((l) => JSON.parse(l) as { id: string; abstract: string });
    const edited = join(dir, "edited");
    mkdirSync(edited, { recursive: true });
    writeFileSync(join(edited, "corpus.jsonl.gz"), gzipSync(rows.map((r) => JSON.stringify(r.id === "both0" ? { ...r, abstract: `${r.abstract} Revised.` } : r)).join("\n")));
    cfg.corpus.source.path = join(edited, "corpus.jsonl.gz");
    const changed = await runEmbedStage(cfg);
    expect(changed.reused).toBe(false);
    expect(changed.store.dir).not.toBe(first.store.dir);
    expect(changed.embedded).toBe(1);
  });

  it("an adoption that fails before writing any vector leaves no run directory", async () => {
    const npy = join(dir, "bad.npy");
    writeNpy(npy, new Float32Array(6), [2, 3]);
    writeFileSync(join(dir, "bad-ids.json"), JSON.stringify(["a0", "l0", "both0"]));
    const embedRuns = (): string[] => (existsSync(join(dir, "data", "embed")) ? readdirSync(join(dir, "data", "embed")).sort() : []);
    const before = embedRuns();
    await expect(
      runEmbedStage({
        corpus: { source: { path: corpusPath }, filter: { categories: ["astro-ph", "cs.LG"] }, sample: { overlap: "separate" } },
        provider: { kind: "npy", embeddingsPath: npy, idsPath: join(dir, "bad-ids.json"), model: "bad" },
      }),
    ).rejects.toThrow();
    expect(embedRuns()).toEqual(before);
  });

  it("adopts precomputed vectors (npy provider) and labels them from the corpus", async () => {
    const ids = ["a0", "l0", "both0"];
    const npy = join(dir, "emb.npy");
    const embND = new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    writeNpy(npy, embND, [3, 3]);
    writeFileSync(join(dir, "ids.json"), JSON.stringify(ids));
    const res = await runEmbedStage({
      corpus: { source: { path: corpusPath }, filter: { categories: ["astro-ph", "cs.LG"] }, sample: { overlap: "separate" } },
      provider: { kind: "npy", embeddingsPath: npy, idsPath: join(dir, "ids.json"), model: "hand-made" },
    });
    expect(res.store.ids).toEqual(ids);
    expect(res.labels).toEqual(["astro-ph", "cs.LG", "both"]);
    expect(Array.from(res.store.rows(0, 3))).toEqual(Array.from(embND));
    expect(res.store.manifest.embedderId).toBe("npy:hand-made:3");
  });

  it("refuses adopted vectors whose dimension is not their embedder id's, before making a run directory", async () => {
    const npy = join(dir, "emb3.npy");
    writeNpy(npy, new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]), [3, 3]);
    writeFileSync(join(dir, "ids3.json"), JSON.stringify(["a0", "l0", "both0"]));
    const before = existsSync(join(dir, "data", "embed")) ? readdirSync(join(dir, "data", "embed")) : [];
    await expect(
      runEmbedStage({
        corpus: { source: { path: corpusPath }, filter: { categories: ["astro-ph", "cs.LG"] }, sample: { overlap: "separate" } },
        provider: { kind: "npy", embeddingsPath: npy, idsPath: join(dir, "ids3.json"), model: "universal-sentence-encoder-lite", embedderId: "use-lite:512" },
      }),
    ).rejects.toThrow(/holds 3-d vectors, but the embedder id "use-lite:512" names 512-d ones/);
    expect(existsSync(join(dir, "data", "embed")) ? readdirSync(join(dir, "data", "embed")) : []).toEqual(before);
  });

  it("rejects an invalid config with the field named", async () => {
    await expect(runEmbedStage({ shardSize: -1 } as never)).rejects.toThrow(/invalid embedding config[\s\S]*shardSize/);
  });
});

describe("embedPreset", () => {
  const shared = { corpusDir: "/s/corpus", embeddingsDir: "/s/emb" };
  it("tiny embeds 300 per domain live; default adopts the shared store", () => {
    expect(embedPreset("tiny", shared)).toMatchObject({ provider: { kind: "use-lite" }, corpus: { sample: { perDomain: 300 } } });
    expect(embedPreset("default", shared)).toMatchObject({
      provider: { kind: "npy", embeddingsPath: "/s/emb/embeddings.npy", idsPath: "/s/emb/ids.json", embedderId: "use-lite:512" },
    });
  });
});
