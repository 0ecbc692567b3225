/**
 * The steering stage end to end (METHOD.md §7) on a geometric planted SAE (documents are sums of their
 * features' decoder directions, so steering along a direction really moves the ranking): paired trials,
 * every method and judge, the LLM rewriter and judge through a local OpenAI-compatible server (exact
 * requests, parsing, the cache on a rerun), the family comparison, the worked example, and bad input.
 */
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { EmbeddingStore } from "../../src/embed/store-reader.js";
import { runFamiliesStage } from "../../src/families/stage.js";
import { readRunSpend } from "../../src/interpret/spend-ledger.js";
import type { ChatMessage } from "../../src/interpret/types.js";
import { dataDir } from "../../src/io/paths.js";
import { readRunLock } from "../../src/io/run-lock.js";
import { STEER_METHODS } from "../../src/steer/config.js";
import type { Ranker } from "../../src/steer/evaluate.js";
import { buildRewriteMessages } from "../../src/steer/prompts.js";
import { checkQueryText, steeredSearch } from "../../src/steer/search.js";
import { gridPoints, runSteerStage, type SteerStageResult } from "../../src/steer/stage.js";
import { SteerConfig } from "../../src/steer/config.js";
import { FakeEmbedder } from "../fixtures/embed/fake-embedder.js";
import { plantedSae } from "../fixtures/families/synthetic-sae.js";
import { type OpenAITestServer, startOpenAIServer } from "../helpers/openai-server.js";
import { withOtherCorpus } from "../helpers/other-corpus.js";
import { useTempDataDir } from "../helpers/temp-data.js";

const root = useTempDataDir("saerch-steer-stage-");

/** Exact dot-product ranking over store rows, in plain JS (the index has its own tests). */
function naiveRanker(store: EmbeddingStore, rows: Int32Array): Promise<{ rank: Ranker }> {
  const d = store.dim;
  const embRD = store.gather(rows);
  const rank: Ranker = async (qBD, b, k) =>
    Array.from({ length: b }, (_, i) => {
      const scores = Array.from(rows, (r, j) => {
        let s = 0;
        for (let t = 0; t < d; t++) s += qBD[i * d + t]! * embRD[j * d + t]!;
        return { r, s };
      });
      scores.sort((x, y) => y.s - x.s || x.r - y.r);
      return Int32Array.from(scores.slice(0, k), (x) => x.r);
    });
  return Promise.resolve({ rank });
}

describe("steering stage on a geometric planted SAE", () => {
  const planted = plantedSae(join(root, "planted"), 600, 3, { dim: 48, geometric: true });
  const embedder = new FakeEmbedder({ dim: 48, id: planted.store.manifest.embedderId });
  let server: OpenAITestServer;
  const MODEL = "test-llm";
  const config = () => ({
    queries: { perDomain: 24 },
    eval: { strengthsUp: [0.5, 5], strengthsDown: [0, 2], bootstrap: 100, familyStrengths: [1, 4] },
    llm: { baseURL: server.baseURL, interpreterModel: MODEL, predictorModel: MODEL, concurrency: 4, timeoutMs: 5000, baseDelayMs: 10, maxDelayMs: 50 },
    prices: { [MODEL]: { inputPerMTok: 1, outputPerMTok: 1 } },
  });
  let handler: Parameters<OpenAITestServer["setHandler"]>[1];
  let results: SteerStageResult[];
  let families: Awaited<ReturnType<typeof runFamiliesStage>>;

  beforeAll(async () => {
    server = await startOpenAIServer();
    server.setHandler("/v1/chat/completions", (handler = (req) => {
      const body = req.body as { messages: ChatMessage[] };
      const user = body.messages[1]!.content;
      const content = user.startsWith("Search query: ")
        ? `Fine.\nQUERY: ${user.split("\n")[0]!.slice(14)} and ${user.split("\n")[4]!.replace("Topic to add: ", "")}`
        : "Looked at both lists.\nFINAL: 1, 2";
      return { status: 200, body: { id: "x", object: "chat.completion", model: MODEL, choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }], usage: { prompt_tokens: 50, completion_tokens: 5, total_tokens: 55 } } };
    }));
    families = await runFamiliesStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], config: { label: false }, quiet: true });
    results = (await runSteerStage({
      store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], families, config: config(),
      ranker: naiveRanker, embedder, cachePath: join(root, "cache.jsonl"),
    })) as SteerStageResult[];
  }, 60_000);
  afterAll(async () => {
    await server.close();
    planted.store.close();
  });

  it("every method and judge at every grid point, on the same paired trials", () => {
    const [r] = results;
    expect(r!.queries).toBe(24);
    expect(r!.trials + r!.noActiveClean).toBe(24);
    const methods = new Set(r!.points.map((p) => p.method));
    expect([...methods].sort()).toEqual([...STEER_METHODS].sort());
    const add = r!.points.filter((p) => p.method === "add" && p.judge === "activation" && p.variant === "standard");
    expect(add).toHaveLength(4);
    for (const p of add) {
      expect(p.n).toBe(r!.trials);
      expect(p.upCi[0]).toBeLessThanOrEqual(p.upAccuracy);
      expect(p.upCi[1]).toBeGreaterThanOrEqual(p.upAccuracy);
    }
    // Steering along the up direction works here: at s_up = 5 the activation judge finds up far above chance (0.2),
    // and cos(q, q') falls with strength.
    const strong = add.find((p) => p.up === 5 && p.down === 0)!;
    const weak = add.find((p) => p.up === 0.5 && p.down === 0)!;
    expect(strong.upAccuracy).toBeGreaterThan(0.6);
    expect(strong.meanCos).toBeLessThan(weak.meanCos);
    expect(strong.meanSurvive).toBeLessThan(weak.meanSurvive);
    // The random-direction control does not find up.
    const random = r!.points.find((p) => p.method === "random" && p.up === 5 && p.down === 0 && p.judge === "activation" && p.variant === "standard")!;
    expect(random.upAccuracy).toBeLessThan(strong.upAccuracy);
    // Judges: activation and text always, the LLM judge at its configured points only.
    expect(new Set(r!.points.map((p) => p.judge))).toEqual(new Set(["activation", "text", "llm"]));
    const llmPoints = r!.points.filter((p) => p.judge === "llm");
    // Default llmPoints: add at s_down 0 and 1 (this grid has 0 and 2), and both rewrites.
    expect(new Set(llmPoints.map((p) => `${p.method}:${p.down}`))).toEqual(new Set(["add:0", "rewrite-llm:null", "rewrite-offline:null"]));
    // The scripted judge always answers "1, 2".
    for (const p of llmPoints) expect(p.unanswered).toBe(0);
  });

  it("the rewriter gets the exact prompt; the family comparison and the worked example are there", () => {
    const [r] = results;
    const reqs = server.requestsTo("/v1/chat/completions").map((q) => (q.body as { messages: ChatMessage[] }).messages);
    const rewrites = reqs.filter((m) => m[1]!.content.startsWith("Search query: "));
    expect(rewrites).toHaveLength(r!.trials);
    const first = rewrites[0]!;
    const q = first[1]!.content.split("\n")[0]!.slice(14);
    const down = first[1]!.content.split("\n")[2]!.replace("Topic to de-emphasise: ", "");
    const up = first[1]!.content.split("\n")[4]!.replace("Topic to add: ", "");
    expect(first).toEqual(buildRewriteMessages(q, down, up));
    expect(r!.familyVsParent.map((p) => p.strength)).toEqual([1, 4]);
    for (const p of r!.familyVsParent) {
      expect(p.n).toBe(r!.withFamily);
      expect(p.family.coverage).toBeGreaterThanOrEqual(0);
      expect(p.parent.cos).toBeLessThanOrEqual(1);
    }
    expect(r!.example!.before).toHaveLength(10);
    expect(r!.example!.afterUp).not.toEqual(r!.example!.before);
  });

  it("a rerun reopens the results without a request", async () => {
    const before = server.requestsTo("/v1/chat/completions").length;
    const again = await runSteerStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], families, config: config(), ranker: naiveRanker, embedder, cachePath: join(root, "cache.jsonl") });
    expect(server.requestsTo("/v1/chat/completions").length).toBe(before);
    expect((again[0] as SteerStageResult).reopened).toBe(true);
    // The requests the first run paid are in its spend ledger (counted against budgetUsd by later runs).
    expect(readRunSpend((again[0] as SteerStageResult).dir).requests).toBe(before);
    expect(readRunLock((again[0] as SteerStageResult).dir)).toBeUndefined();
  });

  it("another endpoint, a changed prompt template or another corpus content is a new run, never the old one", async () => {
    const cachePath = join(root, "cache.jsonl");
    const runWith = async (stage: typeof import("../../src/steer/stage.js"), baseURL = server.baseURL) =>
      ((await stage.runSteerStage({
        store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], families,
        config: { ...config(), llm: { ...config().llm, baseURL } }, ranker: naiveRanker, embedder, cachePath,
      })) as SteerStageResult[])[0]!;
    const base = results[0]!;
    // A second server answering for the same model name, through the same cache: its own run and requests.
    const second = await startOpenAIServer();
    try {
      second.setHandler("/v1/chat/completions", handler);
      const other = await runWith(await import("../../src/steer/stage.js"), second.baseURL);
      expect(other.dir).not.toBe(base.dir);
      expect(other.reopened).toBe(false);
      expect(second.requestsTo("/v1/chat/completions").length).toBeGreaterThan(0);
    } finally {
      await second.close();
    }
    // The rewriter's template gains a sentence: another run id, and its requests are made.
    vi.resetModules();
    vi.doMock("../../src/steer/prompts.js", async (importOriginal) => {
      const orig = await importOriginal<typeof import("../../src/steer/prompts.js")>();
      return { ...orig, buildRewriteMessages: (...a: Parameters<typeof orig.buildRewriteMessages>) => orig.buildRewriteMessages(...a).map((m) => ({ ...m, content: `${m.content} Be brief.` })) };
    });
    try {
      const asked = server.requestsTo("/v1/chat/completions").length;
      const changed = await runWith(await import("../../src/steer/stage.js"));
      expect(changed.dir).not.toBe(base.dir);
      expect(changed.reopened).toBe(false);
      expect(server.requestsTo("/v1/chat/completions").length).toBeGreaterThan(asked);
    } finally {
      vi.doUnmock("../../src/steer/prompts.js");
      vi.resetModules();
    }
    // The same store path holding another corpus (its identity sidecar says so): another run id.
    const other = await withOtherCorpus(planted.store, async () => runWith(await import("../../src/steer/stage.js")));
    expect(other.dir).not.toBe(base.dir);
    expect(other.reopened).toBe(false);
    // Unchanged inputs reopen the first run.
    const again = await runWith(await import("../../src/steer/stage.js"));
    expect(again.dir).toBe(base.dir);
    expect(again.reopened).toBe(true);
  });

  it("a query file; the grid's order; bad input", async () => {
    const path = join(root, "queries.txt");
    writeFileSync(path, "exoplanet transit\n\n  galaxy cluster  \n");
    const cfg = { ...config(), useLlm: "no" as const, queries: { source: "file" as const, path, perDomain: 10 }, eval: { strengthsUp: [1], strengthsDown: [0], bootstrap: 20, methods: ["add" as const] } };
    const [r] = (await runSteerStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], config: cfg, ranker: naiveRanker, embedder })) as SteerStageResult[];
    expect(r!.queries).toBe(2);
    // Too few clean features: the domain is reported, not evaluated.
    const few = { ...planted.interpret, records: planted.interpret.records.map((x) => (x.feature > 3 ? { ...x, pearson: 0.1 } : x)) };
    const runs = (): string[] => readdirSync(join(dataDir(), "steer")).sort();
    const before = runs();
    const [skipped] = await runSteerStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [few], config: cfg, ranker: naiveRanker, embedder });
    expect(skipped).toMatchObject({ name: "x-n64-k4", skipped: expect.stringMatching(/4 clean features; steering needs at least 5/) });
    // A skipped SAE leaves no run directory (not even one holding only its config.json).
    expect(runs()).toEqual(before);
    expect(gridPoints(SteerConfig.parse({ eval: { methods: ["add", "rewrite-offline"], strengthsUp: [1, 2], strengthsDown: [0] } })).map((p) => `${p.method}:${p.up}:${p.down}`)).toEqual(["add:1:0", "add:2:0", "rewrite-offline:null:null"]);
    expect(() => checkQueryText("   ")).toThrow(/the query is empty/);
    expect(() => checkQueryText("x".repeat(1001))).toThrow(/1001 characters; at most 1000/);
    await expect(runSteerStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [], config: cfg, ranker: naiveRanker, embedder })).rejects.toThrow(/no labels for/);
    await expect(runSteerStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], config: { ...cfg, eval: { ...cfg.eval, strengthsUp: [1, 2] } }, ranker: naiveRanker, embedder: new FakeEmbedder({ dim: 48, id: "other:48" }) })).rejects.toThrow(/embedded with other:48 but the store holds/);
    await expect(runSteerStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], config: { eval: { strengthsUp: [Number.NaN] } }, ranker: naiveRanker, embedder })).rejects.toThrow(/invalid steering config/);
  });

  it("steeredSearch: one query end to end, and its errors", async () => {
    const { rank } = await naiveRanker(planted.store, planted.sae.rows);
    const target = { embedderId: planted.store.manifest.embedderId, dim: 48, search: async (q: Float32Array, b: number, k: number) => (await rank(q, b, k)).map((rows) => Array.from(rows, (row) => ({ row, score: 0 }))) };
    const base = { embedder, params: planted.sae.params, saeK: 4, target, k: 5 };
    const plain = await steeredSearch({ ...base, text: "galaxy cluster", request: { form: "clamp", keepError: true } });
    expect(plain.cos).toBeCloseTo(1, 6);
    expect(plain.hits).toHaveLength(5);
    const up = await steeredSearch({ ...base, text: "galaxy cluster", request: { form: "add", features: [{ feature: 3, value: 2 }] } });
    expect(up.cos).toBeLessThan(1);
    const fam = new Map([[0, { root: 3, members: [{ feature: 24, givenParent: 0.5 }] }]]);
    await expect(steeredSearch({ ...base, text: "x", request: { form: "add", families: [{ id: 9, value: 1 }] }, families: fam })).rejects.toThrow(/family 9 does not exist/);
    await expect(steeredSearch({ ...base, text: "x", request: { form: "add", features: [{ feature: 64, value: 1 }] } })).rejects.toThrow(/outside the SAE's dictionary/);
    await expect(steeredSearch({ ...base, text: "", request: { form: "add" } })).rejects.toThrow(/empty/);
    await expect(steeredSearch({ ...base, text: "x", target: { ...target, dim: 32 }, request: { form: "add" } })).rejects.toThrow(/SAE has d = 48 but the index holds 32-d/);
  });
});
