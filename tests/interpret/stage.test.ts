/**
 * Tests for src/interpret/stage.ts (METHOD.md §4).
 *
 * - On a synthetic store (always runs): the LLM path through `runInterpretStage` with no `client` but
 *   `llm.baseURL` at a local OpenAI-compatible server ("auto" resolves to "llm" without a key): models and
 *   per-role token accounting, resuming and the request cache, the budget cap held per run across
 *   processes, a second labeller refused while another process holds the run; `resolveScorerKind`,
 *   `estimateInterpretCost` against a hand computation, `targetFromSae`, `sweepTargets` /
 *   `sweepLadderTargets`, and the clear errors for mismatched codes, missing texts and foreign embedders.
 * - On real data (skipped only when the shared folder is absent): 400 astro-ph abstracts of the shared
 *   USE-lite store adopted into a temp store, a small SAE trained on them, and the offline baseline run end
 *   to end with the USE-lite embedder the stage builds from the store's manifest.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { normalizeRowsInPlace } from "../../src/core/vector.js";
import { docText } from "../../src/corpus/document.js";
import { adoptNpy } from "../../src/embed/adopt-npy.js";
import type { Embedder } from "../../src/embed/embedder.js";
import { DOMAINS_FILE } from "../../src/embed/stage.js";
import { EmbeddingStore } from "../../src/embed/store-reader.js";
import { DEFAULT_PRICES, InterpretConfig, type InterpretConfigInput, OPENAI_CHAT_BASE_URL } from "../../src/interpret/config.js";
import { LABELS_FILE, SUMMARY_FILE } from "../../src/interpret/labeller.js";
import {
  estimateInterpretCost,
  type InterpretTarget,
  resolveScorerKind,
  runInterpretStage,
  sweepLadderTargets,
  sweepTargets,
  targetFromSae,
} from "../../src/interpret/stage.js";
import { readRunSpend, SPEND_FILE } from "../../src/interpret/spend-ledger.js";
import type { ChatMessage, LabelRecord } from "../../src/interpret/types.js";
import { artefactRun, runIdFor } from "../../src/io/artefact.js";
import { readJsonl, readJsonlLog } from "../../src/io/jsonl.js";
import { readNpy, writeNpy } from "../../src/io/npy.js";
import { dataDir, sharedDir, sharedPath } from "../../src/io/paths.js";
import { RUN_LOCK_FILE, RUN_LOCK_FORMAT, RunInUseError } from "../../src/io/run-lock.js";
import { domainRows, runSaeStage, type SaeDomainResult } from "../../src/sae/stage.js";
import { SWEEP_RUN_PREFIX, SweepConfig, splitRows, sweepRunConfig } from "../../src/scaling/sweep.js";
import { type OpenAITestServer, type RecordedRequest, startOpenAIServer } from "../helpers/openai-server.js";
import { useTempDataDir } from "../helpers/temp-data.js";

const root = useTempDataDir("saerch-interpret-stage-");

/** Every held-out document is absent from the shown ones (top and zero) of its record. */
function expectHeldOutUnseen(records: readonly LabelRecord[]): void {
  for (const r of records) {
    const shown = new Set([...r.examples.top, ...r.examples.zero]);
    for (const id of r.examples.heldOut) expect(shown.has(id), `feature ${r.feature}: held-out ${id} was shown`).toBe(false);
  }
}

/** Scores of a labelled record are in range; an undefined Pearson means constant predictions. */
function expectValidScores(r: LabelRecord): void {
  expect(r.f1).not.toBeNull();
  expect(r.f1!).toBeGreaterThanOrEqual(0);
  expect(r.f1!).toBeLessThanOrEqual(1);
  if (r.pearson === null) expect(new Set(r.predictions).size).toBe(1);
  else {
    expect(r.pearson).toBeGreaterThanOrEqual(-1);
    expect(r.pearson).toBeLessThanOrEqual(1);
  }
  expect(r.predictions).toHaveLength(r.truth.length);
  for (const p of r.predictions) expect(Math.abs(p)).toBeLessThanOrEqual(1);
}

// ---------------------------------------------------------------------------------------------------------
// Synthetic store: 200 random unit vectors (d 16), domains x / y / both, texts long enough to be examples.

const D = 16;
const ROWS = 200;
const WORDS = ["galaxy", "lensing", "transformer", "graph", "spectra", "reward", "quasar", "kernel", "dust", "agent", "halo", "policy"];
const INTERPRETER = "test-interpreter";
const PREDICTOR = "test-predictor";
/** Usage the server reports per role (fixed, so the accounting can be checked by hand). */
const USAGE = { [INTERPRETER]: { prompt: 2000, completion: 400 }, [PREDICTOR]: { prompt: 300, completion: 20 } } as const;
const PRICES = {
  [INTERPRETER]: { inputPerMTok: 2.5, outputPerMTok: 10 },
  [PREDICTOR]: { inputPerMTok: 0.15, outputPerMTok: 0.6 },
};
const usdOf = (model: typeof INTERPRETER | typeof PREDICTOR, requests: number): number =>
  (requests * (USAGE[model].prompt * PRICES[model].inputPerMTok + USAGE[model].completion * PRICES[model].outputPerMTok)) / 1e6;

describe("on a synthetic store", () => {
  let store: EmbeddingStore;
  let sae: SaeDomainResult;
  let target: InterpretTarget;
  let server: OpenAITestServer;
  const texts = new Map<string, string>();
  const modelOf = (r: RecordedRequest): string => (r.body as { model: string }).model;
  const chatRequests = (): RecordedRequest[] => server.requestsTo("/v1/chat/completions");

  /** LLM config at the local server; `extra` overrides top-level fields. */
  const llmConfig = (extra: Partial<InterpretConfigInput> = {}): InterpretConfigInput => ({
    llm: { baseURL: server.baseURL, interpreterModel: INTERPRETER, predictorModel: PREDICTOR, concurrency: 4, timeoutMs: 5000, baseDelayMs: 10, maxDelayMs: 50 },
    prices: PRICES,
    maxFeatures: 10,
    ...extra,
  });

  beforeAll(async () => {
    const rng = new Rng("interpret-stage");
    const embND = new Float32Array(ROWS * D);
    rng.fillNormalInPlace(embND);
    normalizeRowsInPlace(embND, ROWS, D);
    writeNpy(join(root, "synth.npy"), embND, [ROWS, D]);
    const ids = Array.from({ length: ROWS }, (_, i) => `synth-${String(i).padStart(3, "0")}`);
    writeFileSync(join(root, "synth-ids.json"), JSON.stringify(ids));
    ids.forEach((id, i) => {
      const words = Array.from({ length: 30 }, () => WORDS[rng.int(WORDS.length)]);
      texts.set(id, `Synthetic paper ${i}\n\n${words.join(" ")}`);
    });
    const storeDir = join(root, "synth-store");
    adoptNpy({ embeddingsPath: join(root, "synth.npy"), idsPath: join(root, "synth-ids.json"), dir: storeDir, model: "synthetic" });
    writeFileSync(join(storeDir, DOMAINS_FILE), JSON.stringify(ids.map((_, i) => (i % 10 === 0 ? "both" : i % 2 ? "x" : "y"))));
    store = EmbeddingStore.open(storeDir);
    [sae] = (await runSaeStage(store, ["x"], { n: 16, k: 3, steps: 20, batch: 32, checkpointEvery: 10, logEvery: 10 })) as [SaeDomainResult];
    target = targetFromSae(sae);

    server = await startOpenAIServer();
    server.setHandler("/v1/chat/completions", (req) => {
      const body = req.body as { model: typeof INTERPRETER | typeof PREDICTOR; messages: ChatMessage[] };
      const prompt = body.messages.map((m) => m.content).join("\n");
      // Deterministic replies from the prompt: a label unique to the prompt (so no two features share a
      // predictor request), and a confidence in {−1, −0.5, 0, 0.5, 1}.
      const content =
        body.model === INTERPRETER
          ? `Candidates considered.\nLABEL: topic ${createHash("sha256").update(prompt).digest("hex").slice(0, 8)}`
          : `Reasoning.\nCONFIDENCE: ${((prompt.length % 5) / 2 - 1).toFixed(1)}`;
      const u = USAGE[body.model];
      return {
        status: 200,
        body: {
          id: "x",
          object: "chat.completion",
          model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
          usage: { prompt_tokens: u.prompt, completion_tokens: u.completion, total_tokens: u.prompt + u.completion },
        },
      };
    });
  });
  afterAll(async () => {
    await server.close();
    store.close();
  });

  it("targetFromSae names the target after domain, n and k and keeps the SAE's rows", () => {
    expect(target).toEqual({ name: "x-n16-k3", domain: "x", saeDir: sae.dir, n: 16, k: 3, rowsN: sae.rows });
    expect(target.rowsN).toEqual(domainRows(JSON.parse(readFileSync(join(store.dir, DOMAINS_FILE), "utf8")) as string[], "x"));
  });

  it("resolveScorerKind: auto → baseline at OpenAI with no key, llm with a key or another server; explicit kinds win", () => {
    const cfg = (input: InterpretConfigInput): InterpretConfig => InterpretConfig.parse(input);
    expect(resolveScorerKind(cfg({}), {})).toBe("baseline");
    expect(resolveScorerKind(cfg({ llm: { baseURL: OPENAI_CHAT_BASE_URL } }), { OPENAI_API_KEY: "" })).toBe("baseline");
    expect(resolveScorerKind(cfg({}), { OPENAI_API_KEY: "sk-test" })).toBe("llm");
    expect(resolveScorerKind(cfg({ llm: { apiKeyEnv: "MY_KEY" } }), { OPENAI_API_KEY: "sk-test" })).toBe("baseline");
    expect(resolveScorerKind(cfg({ llm: { apiKeyEnv: "MY_KEY" } }), { MY_KEY: "sk-test" })).toBe("llm");
    expect(resolveScorerKind(cfg({ llm: { baseURL: "http://127.0.0.1:1/v1" } }), {})).toBe("llm");
    expect(resolveScorerKind(cfg({ scorer: "baseline" }), { OPENAI_API_KEY: "sk-test" })).toBe("baseline");
    expect(resolveScorerKind(cfg({ scorer: "llm" }), {})).toBe("llm");
  });

  it("estimateInterpretCost prices real prompts: requests per role and USD by hand from DEFAULT_PRICES", () => {
    const config: InterpretConfigInput = { maxFeatures: 8 };
    const est = estimateInterpretCost({ store, texts, target, config });
    const cfg = InterpretConfig.parse(config);
    const held = cfg.examples.heldTop + cfg.examples.heldZero;
    expect(est.features).toBe(8);
    // Every shown document is longer than minChars (100), so an interpreter prompt (10 documents) is at least
    // 10 · 100 / 4 tokens and a predictor prompt (one document) at least 100 / 4.
    expect(est.interpreterPromptTokens).toBeGreaterThan(((cfg.examples.top + cfg.examples.zero) * cfg.examples.minChars) / 4);
    expect(est.predictorPromptTokens).toBeGreaterThan(cfg.examples.minChars / 4);
    expect(est.interpreter.requests).toBe(8);
    // gpt-4o and gpt-4o-mini are counted with their own tokenizer (o200k_base), not a heuristic.
    expect([est.interpreter.promptTokensExact, est.predictor.promptTokensExact]).toEqual([true, true]);
    expect(est.predictor.requests).toBe(8 * held);
    expect(est.interpreter.requests + est.predictor.requests).toBe(est.features * (1 + held));
    expect(est.interpreter.promptTokens).toBeCloseTo(8 * est.interpreterPromptTokens, 6);
    expect(est.predictor.promptTokens).toBeCloseTo(8 * held * est.predictorPromptTokens, 6);
    expect(est.interpreter.completionTokens).toBe(8 * cfg.dryRun.interpreterCompletionTokens);
    expect(est.predictor.completionTokens).toBe(8 * held * cfg.dryRun.predictorCompletionTokens);
    const [gpt4o, mini] = [DEFAULT_PRICES["gpt-4o"]!, DEFAULT_PRICES["gpt-4o-mini"]!];
    const interpUsd = (est.interpreter.promptTokens * gpt4o.inputPerMTok + est.interpreter.completionTokens * gpt4o.outputPerMTok) / 1e6;
    const predUsd = (est.predictor.promptTokens * mini.inputPerMTok + est.predictor.completionTokens * mini.outputPerMTok) / 1e6;
    expect(est.interpreter.usd).toBeCloseTo(interpUsd, 12);
    expect(est.predictor.usd).toBeCloseTo(predUsd, 12);
    expect(est.totalUsd).toBeCloseTo(interpUsd + predUsd, 12);
    expect(est.totalUsd).toBeGreaterThan(0);
    // An explicit feature count scales requests and cost linearly at the same measured means.
    const big = estimateInterpretCost({ store, texts, target, config, features: 1000 });
    expect(big.interpreterPromptTokens).toBe(est.interpreterPromptTokens);
    expect(big.predictor.requests).toBe(1000 * held);
    expect(big.totalUsd).toBeCloseTo((est.totalUsd * 1000) / 8, 9);
  });

  it("estimateInterpretCost works with hard negatives (it gathers the embeddings itself)", () => {
    const est = estimateInterpretCost({ store, texts, target, config: { maxFeatures: 4, examples: { negatives: "hard" } } });
    expect(est.features).toBe(4);
    expect(est.interpreterPromptTokens).toBeGreaterThan(0);
  });

  it("a client passed in selects the LLM path under scorer auto, even with no key for OpenAI's URL", async () => {
    const { OpenAiLlmClient } = await import("../../src/interpret/llm-client.js");
    const { LlmConfig } = await import("../../src/interpret/config.js");
    const client = new OpenAiLlmClient(LlmConfig.parse({ baseURL: server.baseURL, interpreterModel: INTERPRETER, predictorModel: PREDICTOR }), { apiKey: "k" });
    const before = chatRequests().length;
    const [res] = await runInterpretStage({
      store,
      texts,
      targets: [target],
      config: { maxFeatures: 2, llm: { interpreterModel: INTERPRETER, predictorModel: PREDICTOR }, prices: PRICES },
      client,
      cachePath: join(root, "client-cache.jsonl"),
      quiet: true,
    });
    expect(res!.summary.scorer).toBe("llm");
    expect(chatRequests().length).toBeGreaterThan(before);
  });

  it("refuses codes that do not cover the target's rows, with a clear message and fix", async () => {
    const short: InterpretTarget = { ...target, name: "short", rowsN: target.rowsN.subarray(1) };
    const rows = target.rowsN.length;
    const message = new RegExp(`codes are \\[${rows}, 3\\] but target short expects \\[${rows - 1}, 3\\][\\s\\S]*re-encode the SAE`);
    expect(() => estimateInterpretCost({ store, texts, target: short, config: {} })).toThrow(message);
    const before = chatRequests().length;
    const err = await runInterpretStage({ store, texts, targets: [short], config: llmConfig(), cachePath: join(root, "unused-cache.jsonl"), quiet: true }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SaerchError);
    expect((err as Error).message).toMatch(message);
    expect(() => estimateInterpretCost({ store, texts, target: { ...target, k: 4 }, config: {} })).toThrow(SaerchError);
    expect(chatRequests().length).toBe(before);
  });

  it("names the missing text, the foreign embedder and an invalid config", async () => {
    const missing = new Map(texts);
    missing.delete(store.ids[target.rowsN[5]!]!);
    expect(() => estimateInterpretCost({ store, texts: missing, target, config: {} })).toThrow(/no text for document synth-\d+ \(store row \d+\)/);
    // The baseline needs the store's embedder: this store's (npy:synthetic:16) is not one the stage can build.
    await expect(runInterpretStage({ store, texts, targets: [target], config: { scorer: "baseline" }, quiet: true })).rejects.toThrow(
      /needs the store's embedder \(npy:synthetic:16\)[\s\S]*pass `embedder`/,
    );
    await expect(runInterpretStage({ store, texts, targets: [target], config: { chunk: 0 }, quiet: true })).rejects.toThrow(/invalid interpret config/);
  });

  it("runs the LLM pair from config.llm alone, accounts tokens per role, resumes and replays from the cache", async () => {
    const cachePath = join(root, "llm-cache.jsonl");
    const before = chatRequests().length;
    const [res] = await runInterpretStage({ store, texts, targets: [target], config: llmConfig(), cachePath, quiet: true });
    expect(res).toBeDefined();
    const { records, summary, dir } = res!;
    expect(dir).toBe(join(root, "data", "interpret", basename(dir)));
    expect(basename(dir)).toMatch(/^x-n16-k3-llm-[0-9a-f]+$/);
    for (const f of ["config.json", LABELS_FILE, SUMMARY_FILE]) expect(existsSync(join(dir, f))).toBe(true);
    expect(records.map((r) => r.feature)).toEqual(Array.from({ length: 10 }, (_, j) => j));
    for (const r of records) {
      expect(r.scorer).toBe("llm");
      expect(r.models).toEqual({ interpreter: INTERPRETER, predictor: PREDICTOR });
    }
    const labelled = records.filter((r) => r.status === "labelled");
    expect(labelled.length).toBeGreaterThan(0);
    expect(records.filter((r) => r.status === "failed")).toEqual([]);
    for (const r of labelled) {
      expect(r.label).toMatch(/^topic [0-9a-f]{8}$/);
      expect(r.reasoning).toBe("Candidates considered.");
      expect(r.truth).toEqual([1, 1, 1, 0, 0, 0]);
      expectValidScores(r);
    }
    expectHeldOutUnseen(labelled);
    // One interpreter request per labelled feature, one predictor request per held-out document.
    const sent = chatRequests().slice(before);
    const nInterp = sent.filter((r) => modelOf(r) === INTERPRETER).length;
    const nPred = sent.filter((r) => modelOf(r) === PREDICTOR).length;
    expect(nInterp).toBe(labelled.length);
    expect(nPred).toBe(6 * labelled.length);
    expect(summary).toMatchObject({ scorer: "llm", models: { interpreter: INTERPRETER, predictor: PREDICTOR }, features: 10, labelled: labelled.length, pending: 0 });
    expect(summary.stopped).toBeUndefined();
    expect(summary).toMatchObject({ target: "x-n16-k3", domain: "x", n: 16, k: 3 });
    const cost = summary.costThisSession as {
      budgetUsd: number | null;
      totalUsd: number;
      roles: Record<"interpreter" | "predictor", { requests: number; cachedRequests: number; promptTokens: number; completionTokens: number; usd: number }>;
      unpricedModels: string[];
    };
    expect(cost.budgetUsd).toBeNull();
    expect(cost.unpricedModels).toEqual([]);
    expect(cost.roles.interpreter).toMatchObject({ requests: nInterp, cachedRequests: 0, promptTokens: 2000 * nInterp, completionTokens: 400 * nInterp });
    expect(cost.roles.predictor).toMatchObject({ requests: nPred, cachedRequests: 0, promptTokens: 300 * nPred, completionTokens: 20 * nPred });
    expect(cost.roles.interpreter.usd).toBeCloseTo(usdOf(INTERPRETER, nInterp), 12);
    expect(cost.roles.predictor.usd).toBeCloseTo(usdOf(PREDICTOR, nPred), 12);
    expect(cost.totalUsd).toBeCloseTo(usdOf(INTERPRETER, nInterp) + usdOf(PREDICTOR, nPred), 12);
    expect(JSON.parse(readFileSync(join(dir, SUMMARY_FILE), "utf8"))).toEqual(JSON.parse(JSON.stringify(summary)));

    // A rerun finds every feature done: no request, no new line.
    const lines = readJsonlLog(join(dir, LABELS_FILE)).length;
    const [again] = await runInterpretStage({ store, texts, targets: [target], config: llmConfig(), cachePath, quiet: true });
    expect(again!.dir).toBe(dir);
    expect(chatRequests().length).toBe(before + sent.length);
    expect(readJsonlLog(join(dir, LABELS_FILE)).length).toBe(lines);
    expect(again!.records).toEqual(records);

    // With the labels gone, the request cache answers every request: still nothing reaches the server.
    rmSync(join(dir, LABELS_FILE));
    const [replay] = await runInterpretStage({ store, texts, targets: [target], config: llmConfig(), cachePath, quiet: true });
    expect(chatRequests().length).toBe(before + sent.length);
    expect(replay!.records).toEqual(records);
    const replayCost = replay!.summary.costThisSession as typeof cost;
    expect(replayCost.roles.interpreter).toMatchObject({ requests: 0, cachedRequests: nInterp, promptTokens: 0, usd: 0 });
    expect(replayCost.roles.predictor).toMatchObject({ requests: 0, cachedRequests: nPred, promptTokens: 0, usd: 0 });
  });

  it("stops cleanly at the budget; the run keeps its spend, so a rerun with the same budget pays nothing and a larger one finishes the rest", async () => {
    // Sequential requests, one feature per round: a feature spends 2000·2.5 + 400·10 µ$ (interpreter) plus
    // 6 · (300·0.15 + 20·0.6) µ$ (predictor) = $0.009342, and an interpreter request reserves ≥ 800·10 µ$
    // = $0.008 in advance (its completion cap), so $0.025 pays for two or three features, not ten.
    const cachePath = join(root, "budget-cache.jsonl");
    const config = (budgetUsd: number): InterpretConfigInput => ({
      ...llmConfig({ budgetUsd, chunk: 1 }),
      llm: { ...llmConfig().llm, concurrency: 1 },
      examples: { seed: 7 },
    });
    const before = chatRequests().length;
    const [cut] = await runInterpretStage({ store, texts, targets: [target], config: config(0.025), cachePath, quiet: true });
    const s = cut!.summary;
    expect(s.stopped).toMatch(/^budget: budget of \$0\.0250 reached/);
    const labelledCut = s.labelled;
    expect(labelledCut).toBeGreaterThanOrEqual(1);
    expect(labelledCut).toBeLessThanOrEqual(3);
    expect(s.pending).toBeGreaterThan(0);
    expect(s.labelled + s.tooRare + s.failed + s.pending).toBe(10);
    const cutCost = s.costThisSession as { budgetUsd: number; totalUsd: number };
    expect(cutCost.budgetUsd).toBe(0.025);
    expect(cutCost.totalUsd).toBeLessThanOrEqual(0.025);
    expect(JSON.parse(readFileSync(join(cut!.dir, SUMMARY_FILE), "utf8"))).toMatchObject({ stopped: s.stopped, labelled: labelledCut });
    const cutRequests = chatRequests().length - before;
    // The run's ledger holds what this session paid.
    const ledger = readJsonlLog<{ usd: number; role: string }>(join(cut!.dir, SPEND_FILE));
    expect(ledger.length).toBe(cutRequests);
    expect(ledger.reduce((a, e) => a + e.usd, 0)).toBeCloseTo(cutCost.totalUsd, 12);
    expect(s.runSpend).toEqual({ requests: cutRequests, usd: expect.closeTo(cutCost.totalUsd, 12) as number });

    // The same budget again: the earlier process's spend counts, so nothing more is paid.
    const [same] = await runInterpretStage({ store, texts, targets: [target], config: config(0.025), cachePath, quiet: true });
    expect(chatRequests().length - before).toBe(cutRequests);
    expect(same!.summary.stopped).toMatch(/earlier runs of these directories/);
    expect(same!.summary.labelled).toBe(labelledCut);
    expect((same!.summary.costThisSession as { priorUsd: number }).priorUsd).toBeCloseTo(cutCost.totalUsd, 12);

    const [rest] = await runInterpretStage({ store, texts, targets: [target], config: config(10), cachePath, quiet: true });
    expect(rest!.dir).toBe(cut!.dir);
    const r = rest!.summary;
    expect(r.stopped).toBeUndefined();
    expect(r.pending).toBe(0);
    expect(r.failed).toBe(0);
    expect(r.labelled).toBeGreaterThan(labelledCut);
    expect(r.labelled + r.tooRare).toBe(10);
    // The rerun labels only the remaining features: fresh requests plus cache hits cover exactly them.
    const restCost = r.costThisSession as { roles: Record<"interpreter", { requests: number; cachedRequests: number }> };
    expect(restCost.roles.interpreter.requests + restCost.roles.interpreter.cachedRequests).toBe(r.labelled - labelledCut);
    const restSent = chatRequests().slice(before + cutRequests);
    expect(restSent.filter((q) => modelOf(q) === INTERPRETER).length).toBe(restCost.roles.interpreter.requests);
    // The features labelled before the stop kept their records (same labels, not relabelled).
    const cutLabels = cut!.records.filter((x) => x.status === "labelled");
    for (const c of cutLabels) expect(rest!.records.find((x) => x.feature === c.feature)).toEqual(c);
    expect(readRunSpend(rest!.dir).usd).toBeCloseTo(cutCost.totalUsd + (r.costThisSession as { totalUsd: number }).totalUsd, 12);
    expect(readRunSpend(rest!.dir).usd).toBeLessThanOrEqual(10);
  });

  it("a second labeller on a run in use by another process gets 'in use by process N' and sends nothing", async () => {
    const cachePath = join(root, "locked-cache.jsonl");
    const config = llmConfig({ maxFeatures: 3, examples: { seed: 11 } });
    const [first] = await runInterpretStage({ store, texts, targets: [target], config, cachePath, quiet: true });
    rmSync(join(first!.dir, LABELS_FILE)); // work left to do
    const other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      writeFileSync(
        join(first!.dir, RUN_LOCK_FILE),
        JSON.stringify({ format: RUN_LOCK_FORMAT, pid: other.pid, hostname: hostname(), startedAt: new Date().toISOString(), what: "labelling", token: "other", bootId: null, procStart: null }),
      );
      const before = chatRequests().length;
      const err = await runInterpretStage({ store, texts, targets: [target], config, cachePath: join(root, "locked-cache-2.jsonl"), quiet: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RunInUseError);
      expect((err as Error).message).toContain(`is in use by process ${other.pid} on ${hostname()}: labelling`);
      expect(chatRequests().length).toBe(before);
      expect(existsSync(join(first!.dir, LABELS_FILE))).toBe(false);
    } finally {
      other.kill("SIGKILL");
      rmSync(join(first!.dir, RUN_LOCK_FILE), { force: true });
    }
  });

  it("sweepTargets reads a finished sweep's cells; sweepLadderTargets keeps the size ladder", () => {
    const sweepInput = { domains: ["x"], nMultiples: [1, 2], ks: [2, 4], heldOutFraction: 0.2, splitSeed: 3 };
    expect(() => sweepTargets(store, sweepInput)).toThrow(/results\.json is missing: the sweep has not finished[\s\S]*notebook 03/);
    // Looking for an unfinished sweep leaves no directory behind.
    const sweepDir = join(dataDir(), "scaling", runIdFor(sweepRunConfig(store, SweepConfig.parse(sweepInput)), SWEEP_RUN_PREFIX));
    expect(existsSync(sweepDir)).toBe(false);
    const sweep = artefactRun("scaling", sweepRunConfig(store, SweepConfig.parse(sweepInput)), "sweep");
    expect(sweep.dir).toBe(sweepDir);
    const cells = [
      { n: 16, k: 2 },
      { n: 16, k: 4 },
      { n: 32, k: 2 },
      { n: 32, k: 4 },
    ].map((c) => ({ domain: "x", ...c, runDir: join(root, `cell-${c.n}-${c.k}`) }));
    writeFileSync(join(sweep.dir, "results.json"), JSON.stringify(cells));
    const train = splitRows(domainRows(JSON.parse(readFileSync(join(store.dir, DOMAINS_FILE), "utf8")) as string[], "x"), 0.2, 3, "x").train;
    const all = sweepTargets(store, sweepInput);
    expect(all.map((t) => t.name)).toEqual(["x-sweep-n16-k2", "x-sweep-n16-k4", "x-sweep-n32-k2", "x-sweep-n32-k4"]);
    expect(all[1]).toEqual({ name: "x-sweep-n16-k4", domain: "x", saeDir: join(root, "cell-16-4"), n: 16, k: 4, rowsN: train });
    expect(train.length).toBe(target.rowsN.length - Math.floor(0.2 * target.rowsN.length));
    expect(sweepTargets(store, sweepInput, (c) => c.k === 4).map((t) => t.name)).toEqual(["x-sweep-n16-k4", "x-sweep-n32-k4"]);
    // Ladder at d = 16: n ∈ {16, 32} paired with k ∈ {2, 4} → (16, 2), (32, 4).
    expect(sweepLadderTargets(store, sweepInput).map((t) => [t.n, t.k])).toEqual([
      [16, 2],
      [32, 4],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Real data: the shared USE-lite store and corpus.

const HAVE_SHARED = existsSync(join(sharedDir(), "embeddings", "use-lite-512", "embeddings.npy")) && existsSync(join(sharedDir(), "corpus", "arxiv-cs-astro-2025.jsonl.gz"));
const REAL_DOCS = 400;

describe.skipIf(!HAVE_SHARED)("baseline end to end on 400 astro-ph abstracts of the shared USE-lite store", () => {
  let store: EmbeddingStore;
  let target: InterpretTarget;
  const texts = new Map<string, string>();

  beforeAll(async () => {
    const shared = sharedPath("embeddings", "use-lite-512");
    const ids = JSON.parse(readFileSync(join(shared, "ids.json"), "utf8")) as string[];
    const domains = JSON.parse(readFileSync(join(shared, "domains.json"), "utf8")) as string[];
    const rowOf = new Map<string, number>();
    ids.forEach((id, i) => {
      if (domains[i] === "astro-ph") rowOf.set(id, i);
    });
    // The first 400 astro-ph papers of the corpus file that the store holds.
    interface Row { id: string; title: string; abstract: string }
    for await (const r of readJsonl<Row>(sharedPath("corpus", "arxiv-cs-astro-2025.jsonl.gz"))) {
      if (!rowOf.has(r.id)) continue;
      texts.set(r.id, docText(r));
      if (texts.size === REAL_DOCS) break;
    }
    const chosen = [...texts.keys()].sort();
    const all = readNpy(join(shared, "embeddings.npy"));
    const dim = all.shape[1]!;
    const src = all.data as Float32Array;
    const embND = new Float32Array(chosen.length * dim);
    chosen.forEach((id, i) => embND.set(src.subarray(rowOf.get(id)! * dim, (rowOf.get(id)! + 1) * dim), i * dim));
    mkdirSync(join(root, "real"), { recursive: true });
    writeNpy(join(root, "real", "emb.npy"), embND, [chosen.length, dim]);
    writeFileSync(join(root, "real", "ids.json"), JSON.stringify(chosen));
    const storeDir = join(root, "real", "store");
    adoptNpy({
      embeddingsPath: join(root, "real", "emb.npy"),
      idsPath: join(root, "real", "ids.json"),
      dir: storeDir,
      provider: "use-lite",
      model: "use-lite",
      embedderId: "use-lite:512",
      texts,
    });
    writeFileSync(join(storeDir, DOMAINS_FILE), JSON.stringify(chosen.map(() => "astro-ph")));
    store = EmbeddingStore.open(storeDir);
    const [sae] = await runSaeStage(store, ["astro-ph"], { n: 64, k: 4, steps: 60, batch: 64, checkpointEvery: 30, logEvery: 20 });
    target = targetFromSae(sae!);
  }, 60_000);
  afterAll(() => store?.close());

  it("labels and scores features with the offline baseline, then reuses the run", async () => {
    expect(store.count).toBe(REAL_DOCS);
    expect(target.name).toBe("astro-ph-n64-k4");
    expect(target.rowsN.length).toBe(REAL_DOCS);
    const config: InterpretConfigInput = { scorer: "baseline", maxFeatures: 12 };
    const [res] = await runInterpretStage({ store, texts, targets: [target], config, quiet: true });
    const { records, summary, dir } = res!;
    expect(basename(dir)).toMatch(/^astro-ph-n64-k4-baseline-[0-9a-f]+$/);
    expect(dir).toBe(join(root, "data", "interpret", basename(dir)));
    for (const f of ["config.json", LABELS_FILE, SUMMARY_FILE]) expect(existsSync(join(dir, f))).toBe(true);
    const models = { interpreter: "baseline:contrastive-terms", predictor: "baseline:label-similarity(use-lite:512)" };
    expect(records.map((r) => r.feature)).toEqual(Array.from({ length: 12 }, (_, j) => j));
    for (const r of records) {
      expect(r.scorer).toBe("baseline");
      expect(r.models).toEqual(models);
    }
    const labelled = records.filter((r) => r.status === "labelled");
    expect(labelled.length).toBeGreaterThanOrEqual(6);
    expect(records.filter((r) => r.status === "failed")).toEqual([]);
    for (const r of labelled) {
      expect(r.label).toMatch(/\p{L}{2,}/u);
      expect(r.examples.top).toHaveLength(5);
      expect(r.examples.zero).toHaveLength(5);
      expect(r.examples.heldOut).toHaveLength(6);
      for (const id of [...r.examples.top, ...r.examples.zero, ...r.examples.heldOut]) expect(texts.has(id)).toBe(true);
      expectValidScores(r);
    }
    expectHeldOutUnseen(labelled);
    expect(summary).toMatchObject({ scorer: "baseline", models, features: 12, labelled: labelled.length, pending: 0, target: "astro-ph-n64-k4", domain: "astro-ph" });
    expect(summary.costThisSession).toBeUndefined();
    expect(JSON.parse(readFileSync(join(dir, SUMMARY_FILE), "utf8"))).toEqual(JSON.parse(JSON.stringify(summary)));
    const onDiskConfig = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
    expect(onDiskConfig).toMatchObject({ scorer: "baseline", rows: REAL_DOCS, maxFeatures: 12, models });

    // The second call reuses the run: nothing is embedded (this embedder refuses), no line is added.
    const lines = readJsonlLog(join(dir, LABELS_FILE)).length;
    const labelsBefore = { bytes: readFileSync(join(dir, LABELS_FILE)), mtimeMs: statSync(join(dir, LABELS_FILE)).mtimeMs };
    const refusing: Embedder = {
      id: "use-lite:512",
      provider: "use-lite",
      model: "use-lite",
      dim: 512,
      normalized: true,
      maxBatch: 16,
      embed: () => Promise.reject(new Error("the rerun must not embed")),
      close: () => Promise.resolve(),
    };
    const [again] = await runInterpretStage({ store, texts, targets: [target], config, embedder: refusing, quiet: true });
    expect(again!.dir).toBe(dir);
    expect(again!.records).toEqual(records);
    // Reuse, not recomputation: the labels file is untouched (same bytes, same mtime), not rewritten.
    expect(readJsonlLog(join(dir, LABELS_FILE)).length).toBe(lines);
    expect(readFileSync(join(dir, LABELS_FILE)).equals(labelsBefore.bytes)).toBe(true);
    expect(statSync(join(dir, LABELS_FILE)).mtimeMs).toBe(labelsBefore.mtimeMs);
  }, 60_000);
});
