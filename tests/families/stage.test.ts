/**
 * Tests for src/families/stage.ts (METHOD.md §5) on a synthetic SAE with planted families (six roots with
 * six children each, plus noise features): the clean set gives exactly the planted families; labels and
 * scores through a local OpenAI-compatible server (exact requests, resume without new requests, the
 * fallback to the parent's label) and offline; reopening; exports; the run's spend ledger and a run in use
 * by another process stopping the stage; and every bad input named before any artefact exists.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { familyFeatures } from "../../src/families/build.js";
import { readFamiliesJson } from "../../src/families/families-json.js";
import { FAMILY_LABELS_FILE } from "../../src/families/labeller.js";
import { buildFamilyLabelMessages } from "../../src/families/prompts.js";
import { BUILD_FILE, EXPORT_FILES, type FamiliesResult, type FamiliesSkipped, runFamiliesStage, STATS_FILE } from "../../src/families/stage.js";
import { readRunSpend } from "../../src/interpret/spend-ledger.js";
import type { ChatMessage } from "../../src/interpret/types.js";
import { readJsonlLog } from "../../src/io/jsonl.js";
import { writeNpy } from "../../src/io/npy.js";
import { RUN_LOCK_FILE, RUN_LOCK_FORMAT } from "../../src/io/run-lock.js";
import { CODES_INDICES_FILE, CODES_VALUES_FILE } from "../../src/sae/encode.js";
import type { SaeDomainResult } from "../../src/sae/stage.js";
import { FakeEmbedder } from "../fixtures/embed/fake-embedder.js";
import { CHILDREN, childOf, K, N_FEATURES, plantedSae, TOPICS } from "../fixtures/families/synthetic-sae.js";
import { type OpenAITestServer, startOpenAIServer } from "../helpers/openai-server.js";
import { withOtherCorpus } from "../helpers/other-corpus.js";
import { useTempDataDir } from "../helpers/temp-data.js";

const root = useTempDataDir("saerch-families-stage-");

const isResult = (r: FamiliesResult | FamiliesSkipped): r is FamiliesResult => !("skipped" in r);
const familiesDir = (): string[] => (existsSync(join(root, "data", "families")) ? readdirSync(join(root, "data", "families")) : []);

describe("families stage on planted families", () => {
  const planted = plantedSae(join(root, "planted"));
  let server: OpenAITestServer;
  const LABELLER = "test-labeller";
  const PREDICTOR = "test-predictor";
  const llm = () => ({ baseURL: server.baseURL, interpreterModel: LABELLER, predictorModel: PREDICTOR, concurrency: 4, timeoutMs: 5000, baseDelayMs: 10, maxDelayMs: 50 });
  const prices = { [LABELLER]: { inputPerMTok: 1, outputPerMTok: 1 }, [PREDICTOR]: { inputPerMTok: 1, outputPerMTok: 1 } };
  let handler: Parameters<OpenAITestServer["setHandler"]>[1];

  beforeAll(async () => {
    server = await startOpenAIServer();
    server.setHandler("/v1/chat/completions", (handler = (req) => {
      const body = req.body as { model: string; messages: ChatMessage[] };
      const user = body.messages[1]!.content;
      let content: string;
      if (body.model === LABELLER) {
        // The family of topic "galaxy, cluster" gets no FINAL line: the parent's label must stand in.
        content = user.includes("Parent feature: galaxy, cluster") ? "I cannot decide." : `Shared theme.\nFINAL: concept of ${user.split("\n")[0]!.slice(16)}`;
      } else {
        // Fires when the abstract mentions the first word of the family label's topic.
        const label = user.split("\n")[0]!.replace("Feature family label: ", "");
        const word = label.replace("concept of ", "").split(",")[0]!.trim();
        const abstract = user.slice(user.indexOf("Abstract:")).toLowerCase();
        content = `Reasoning.\nCONFIDENCE: ${abstract.includes(word.toLowerCase()) ? "0.9" : "-0.8"}`;
      }
      return {
        status: 200,
        body: { id: "x", object: "chat.completion", model: body.model, choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }], usage: { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 } },
      };
    }));
  });
  afterAll(async () => {
    await server.close();
    planted.store.close();
  });

  it("the clean set gives exactly the planted families, labelled and scored through the LLM seam", async () => {
    const [res] = await runFamiliesStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], config: { llm: llm(), prices }, cachePath: join(root, "cache.jsonl"), quiet: true });
    expect(isResult(res!)).toBe(true);
    const r = res as FamiliesResult;
    expect(r.scorer).toBe("llm");
    expect(r.build.featuresM.length).toBe(TOPICS + TOPICS * CHILDREN);
    expect(r.build.families.map((f) => f.root).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const f of r.build.families) {
      expect(f.members.map((m) => m.feature)).toEqual(Array.from({ length: CHILDREN }, (_, c) => childOf(f.root, c)));
      expect(f.round).toBe(1);
    }
    // One labeller request per family, with the exact prompt; 4 + 4 predictor requests per family.
    const reqs = server.requestsTo("/v1/chat/completions");
    const labelReqs = reqs.filter((q) => (q.body as { model: string }).model === LABELLER);
    expect(labelReqs).toHaveLength(TOPICS);
    const f0 = r.build.families.find((f) => f.root === 1)!;
    const expected = buildFamilyLabelMessages(r.featureLabels.get(1)!, f0.members.map((m) => r.featureLabels.get(m.feature)!));
    expect(labelReqs.some((q) => JSON.stringify((q.body as { messages: unknown }).messages) === JSON.stringify(expected))).toBe(true);
    expect(reqs.length - labelReqs.length).toBe(TOPICS * 8);
    // The fallback: the galaxy family keeps its parent's label, flagged.
    const galaxy = r.records.find((x) => x.root === 0)!;
    expect(galaxy).toMatchObject({ status: "labelled", label: "galaxy, cluster", source: "parent-fallback" });
    const other = r.records.find((x) => x.root === 2)!;
    expect(other.source).toBe("llm");
    expect(other.label).toBe("concept of transformer, attention");
    // Positives mention the topic, negatives do not: perfect scores.
    expect(other.f1).toBe(1);
    expect(other.pearson).toBeCloseTo(1, 12);
    expect(new Set(other.examples.heldOut).size).toBe(8);
    for (const id of other.examples.heldOut) expect([...other.examples.top, ...other.examples.zero]).not.toContain(id);
    expect(r.stats).toMatchObject({ families: TOPICS, childrenMin: CHILDREN, childrenMax: CHILDREN, labelled: TOPICS, featuresInSeveral: 0 });
    // Families never co-occur with each other: perfect blocks (no off-block overlap), unlike a random order.
    expect(r.stats.blocks.family).toMatchObject({ off: 0, ratio: null });
    expect(r.stats.blocks.family.within).toBeGreaterThan(0);
    expect(r.stats.blocks.random.ratio!).toBeLessThan(2);
    expect(r.stats.medianParentGivenChild!).toBe(1);
    expect(r.stats.medianRandomGivenChild!).toBe(0);
    for (const file of [BUILD_FILE, STATS_FILE, FAMILY_LABELS_FILE, EXPORT_FILES.json, EXPORT_FILES.graphml, EXPORT_FILES.gexf, "config.json"]) expect(existsSync(join(r.dir, file))).toBe(true);
    const back = readFamiliesJson(join(r.dir, EXPORT_FILES.json));
    expect(back.build.families.map(familyFeatures)).toEqual(r.build.families.map(familyFeatures));

    // A rerun reopens the build and sends no request.
    const before = server.requestsTo("/v1/chat/completions").length;
    const [again] = (await runFamiliesStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], config: { llm: llm(), prices }, cachePath: join(root, "cache2.jsonl"), quiet: true })) as FamiliesResult[];
    expect(again!.reopened).toBe(true);
    expect(server.requestsTo("/v1/chat/completions").length).toBe(before);
    expect(JSON.stringify(again!.build)).toBe(JSON.stringify(r.build));
    expect(readJsonlLog(join(r.dir, FAMILY_LABELS_FILE))).toHaveLength(TOPICS);
    // What the labelling paid is the run's: one ledger line per paid request.
    expect(readRunSpend(r.dir).requests).toBe(reqs.length);

    // Another live process holding the run stops the stage with the clear error (not a "skipped" entry).
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      writeFileSync(
        join(r.dir, RUN_LOCK_FILE),
        JSON.stringify({ format: RUN_LOCK_FORMAT, pid: holder.pid, hostname: hostname(), startedAt: new Date().toISOString(), what: "families", token: "other", bootId: null, procStart: null }),
      );
      await expect(
        runFamiliesStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], config: { llm: llm(), prices }, cachePath: join(root, "cache3.jsonl"), quiet: true }),
      ).rejects.toThrow(new RegExp(`is in use by process ${holder.pid} on `));
    } finally {
      holder.kill("SIGKILL");
      rmSync(join(r.dir, RUN_LOCK_FILE), { force: true });
    }
  });

  it("another endpoint with the same model names is a new run, labelled by that server (one shared cache)", async () => {
    const cachePath = join(root, "endpoint-cache.jsonl");
    const [first] = (await runFamiliesStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], config: { llm: llm(), prices }, cachePath, quiet: true })) as FamiliesResult[];
    const second = await startOpenAIServer();
    try {
      second.setHandler("/v1/chat/completions", handler);
      const [res] = (await runFamiliesStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], config: { llm: { ...llm(), baseURL: second.baseURL }, prices }, cachePath, quiet: true })) as FamiliesResult[];
      expect(res!.dir).not.toBe(first!.dir);
      expect(res!.reopened).toBe(false);
      expect(second.requestsTo("/v1/chat/completions").length).toBeGreaterThan(0);
    } finally {
      await second.close();
    }
  });

  it("a changed prompt template or another corpus content is a new run, never the old one", async () => {
    const cachePath = join(root, "identity-cache.jsonl");
    const runWith = async (stage: typeof import("../../src/families/stage.js")) =>
      ((await stage.runFamiliesStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], config: { llm: llm(), prices }, cachePath, quiet: true })) as FamiliesResult[])[0]!;
    const base = await runWith(await import("../../src/families/stage.js"));
    // The labeller's template gains a sentence: another run id, and its requests are made (not the cache's).
    vi.resetModules();
    vi.doMock("../../src/families/prompts.js", async (importOriginal) => {
      const orig = await importOriginal<typeof import("../../src/families/prompts.js")>();
      return { ...orig, buildFamilyLabelMessages: (...a: Parameters<typeof orig.buildFamilyLabelMessages>) => orig.buildFamilyLabelMessages(...a).map((m) => ({ ...m, content: `${m.content} Be brief.` })) };
    });
    try {
      const asked = server.requestsTo("/v1/chat/completions").length;
      const changed = await runWith(await import("../../src/families/stage.js"));
      expect(changed.dir).not.toBe(base.dir);
      expect(changed.reopened).toBe(false);
      expect(server.requestsTo("/v1/chat/completions").length).toBeGreaterThan(asked);
    } finally {
      vi.doUnmock("../../src/families/prompts.js");
      vi.resetModules();
    }
    // The same store path holding another corpus (its identity sidecar says so): another run id.
    const other = await withOtherCorpus(planted.store, async () => runWith(await import("../../src/families/stage.js")));
    expect(other.dir).not.toBe(base.dir);
    expect(other.reopened).toBe(false);
    // Unchanged inputs reopen the first run.
    const again = await runWith(await import("../../src/families/stage.js"));
    expect(again.dir).toBe(base.dir);
    expect(again.reopened).toBe(true);
  });

  it("offline: the baseline labels families from their members' label terms; the alive set needs no labels", async () => {
    const embedder = new FakeEmbedder({ dim: 16 });
    const out = await runFamiliesStage({
      store: planted.store,
      texts: planted.texts,
      saes: [planted.sae],
      featureSets: ["clean", "alive"],
      interpret: [planted.interpret],
      config: { scorer: "baseline" },
      embedder,
      quiet: true,
    });
    const [clean, alive] = out as FamiliesResult[];
    expect(clean!.scorer).toBe("baseline");
    const rec = clean!.records.find((x) => x.root === 3)!;
    expect(rec.source).toBe("baseline-member-terms");
    expect(rec.label!.split(", ")[0]).toBe("reinforcement");
    expect(rec.predictions).toHaveLength(8);
    // Alive: every feature in the density band; noise joins some families, but each planted root still roots one.
    expect(alive!.featureSet).toBe("alive");
    expect(alive!.build.featuresM.length).toBe(N_FEATURES);
    for (let t = 0; t < TOPICS; t++) expect(alive!.build.families.some((f) => f.root === t)).toBe(true);
    for (const f of alive!.build.families) for (const m of f.members) expect(alive!.cooc.countM[alive!.cooc.featuresM.indexOf(m.feature)]!).toBeLessThanOrEqual(alive!.cooc.countM[alive!.cooc.featuresM.indexOf(f.root)]!);
  });

  it("bad input: each a clear message, and no run directory", async () => {
    const before = familiesDir().length;
    const run = (over: Partial<Parameters<typeof runFamiliesStage>[0]>) =>
      runFamiliesStage({ store: planted.store, texts: planted.texts, saes: [planted.sae], interpret: [planted.interpret], config: { scorer: "baseline", label: false }, quiet: true, ...over });
    // Labels of another SAE (different feature count).
    const wrong = { ...planted.interpret, target: { ...planted.interpret.target, n: 32 } };
    const [a] = (await run({ interpret: [wrong] })) as FamiliesSkipped[];
    expect(a!.skipped).toMatch(/labels in .* are of an SAE with 32 features, not 64/);
    // Labels of another SAE run of the same domain.
    const otherRun = { ...planted.interpret, target: { ...planted.interpret.target, saeDir: join(root, "x-n64-k4-other") } };
    expect(((await run({ interpret: [otherRun] })) as FamiliesSkipped[])[0]!.skipped).toMatch(/labels given for domain x are of SAE run x-n64-k4-other, not sae-1/);
    // No labels at all for the clean set.
    const [b] = (await run({ interpret: [] })) as FamiliesSkipped[];
    expect(b!.skipped).toMatch(/clean feature set needs stage 4's labels/);
    // An empty clean set, and one too small to form a family.
    const noClean = { ...planted.interpret, records: planted.interpret.records.map((x) => ({ ...x, pearson: 0.1 })) };
    expect(((await run({ interpret: [noClean] })) as FamiliesSkipped[])[0]!.skipped).toMatch(/clean feature set is empty/);
    expect(((await run({ config: { scorer: "baseline", label: false, build: { features: [0, 1, 2] } } })) as FamiliesSkipped[])[0]!.skipped).toMatch(/has 3 features/);
    // Codes whose shape disagrees with the SAE.
    const badDir = join(root, "bad-sae");
    const rowsN = planted.sae.rows.length;
    writeNpy(join(badDir, CODES_INDICES_FILE), new Int32Array((rowsN - 1) * K), [rowsN - 1, K]);
    writeNpy(join(badDir, CODES_VALUES_FILE), new Float32Array((rowsN - 1) * K), [rowsN - 1, K]);
    const badSae = { ...planted.sae, dir: badDir } as SaeDomainResult;
    expect(((await run({ saes: [badSae], interpret: [{ ...planted.interpret, target: { ...planted.interpret.target, saeDir: badDir } }] })) as FamiliesSkipped[])[0]!.skipped).toMatch(
      new RegExp(`codes are \\[${rowsN - 1}, ${K}\\] but the SAE \\(k = ${K}\\) was trained on ${rowsN} rows`),
    );
    // A latent outside the dictionary.
    const outDir = join(root, "out-sae");
    const idx = new Int32Array(rowsN * K).map((_, i) => i % K);
    idx[5] = N_FEATURES + 3;
    writeNpy(join(outDir, CODES_INDICES_FILE), idx, [rowsN, K]);
    writeNpy(join(outDir, CODES_VALUES_FILE), new Float32Array(rowsN * K), [rowsN, K]);
    expect(((await run({ saes: [{ ...planted.sae, dir: outDir } as SaeDomainResult] })) as FamiliesSkipped[])[0]!.skipped).toMatch(/latent 67, outside the SAE's dictionary \[0, 64\)/);
    expect(familiesDir().length).toBe(before);
    // An invalid config throws outright.
    await expect(run({ config: { build: { rounds: 0 } } })).rejects.toThrow(/invalid families config/);
    expect(readFileSync).toBeDefined();
  });
});
