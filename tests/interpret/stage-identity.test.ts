/**
 * What makes an interpretation run besides its config (src/interpret/stage.ts, src/io/identity.ts): two
 * local OpenAI-compatible servers answering the same model names differently get two run directories
 * and their own labels, even through one shared request cache; a reply with no label is not cached, so a
 * fixed server labels the feature on the rerun; a changed prompt template or swapped SAE weights never
 * reopens the old run; a stage that fails before writing a result leaves no run directory.
 */
import { copyFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { normalizeRowsInPlace } from "../../src/core/vector.js";
import { adoptNpy } from "../../src/embed/adopt-npy.js";
import { DOMAINS_FILE } from "../../src/embed/stage.js";
import { EmbeddingStore } from "../../src/embed/store-reader.js";
import { InterpretConfig, type InterpretConfigInput } from "../../src/interpret/config.js";
import { interpretRunIdentity, runInterpretStage, targetFromSae } from "../../src/interpret/stage.js";
import type { ChatMessage } from "../../src/interpret/types.js";
import { runIdFor } from "../../src/io/artefact.js";
import { writeNpy } from "../../src/io/npy.js";
import { dataDir } from "../../src/io/paths.js";
import { runSaeStage, type SaeDomainResult } from "../../src/sae/stage.js";
import { SAE_WEIGHTS_FILE, WeightsMismatchError } from "../../src/sae/weights-hash.js";
import { type OpenAITestServer, startOpenAIServer } from "../helpers/openai-server.js";
import { useTempDataDir } from "../helpers/temp-data.js";

const root = useTempDataDir("saerch-interpret-identity-");
const D = 16;
const ROWS = 200;
const WORDS = ["galaxy", "lensing", "transformer", "graph", "spectra", "reward", "quasar", "kernel", "dust", "agent"];
const CHAT = "/v1/chat/completions";

/** A server whose interpreter answers `LABEL: <prefix> topic` (or `reply()` when given) and whose predictor says 0.5. */
async function labelServer(prefix: string): Promise<OpenAITestServer & { reply: (content: string | undefined) => void }> {
  const server = await startOpenAIServer();
  let override: string | undefined;
  server.setHandler(CHAT, (req) => {
    const body = req.body as { model: string; messages: ChatMessage[] };
    const content = body.model === "interp" ? (override ?? `Reasoning.\nLABEL: ${prefix} topic`) : "Reasoning.\nCONFIDENCE: 0.5";
    return { status: 200, body: { model: body.model, choices: [{ index: 0, message: { role: "assistant", content } }], usage: { prompt_tokens: 10, completion_tokens: 5 } } };
  });
  return Object.assign(server, { reply: (c: string | undefined) => void (override = c) });
}

describe("interpretation run identity", () => {
  let store: EmbeddingStore;
  let sae: SaeDomainResult;
  let other: SaeDomainResult;
  const texts = new Map<string, string>();
  let a: Awaited<ReturnType<typeof labelServer>>;
  let b: Awaited<ReturnType<typeof labelServer>>;
  const config = (server: OpenAITestServer, extra: Partial<InterpretConfigInput> = {}): InterpretConfigInput => ({
    llm: { baseURL: server.baseURL, interpreterModel: "interp", predictorModel: "pred", baseDelayMs: 10, maxDelayMs: 20, maxRetries: 0 },
    prices: { interp: { inputPerMTok: 1, outputPerMTok: 1 }, pred: { inputPerMTok: 1, outputPerMTok: 1 } },
    maxFeatures: 3,
    ...extra,
  });
  const cachePath = (): string => join(root, "shared-cache.jsonl");

  beforeAll(async () => {
    const rng = new Rng("interpret-identity");
    const embND = new Float32Array(ROWS * D);
    rng.fillNormalInPlace(embND);
    normalizeRowsInPlace(embND, ROWS, D);
    writeNpy(join(root, "e.npy"), embND, [ROWS, D]);
    const ids = Array.from({ length: ROWS }, (_, i) => `doc-${i}`);
    writeFileSync(join(root, "ids.json"), JSON.stringify(ids));
    ids.forEach((id, i) => texts.set(id, `Paper ${i}\n\n${Array.from({ length: 30 }, () => WORDS[rng.int(WORDS.length)]).join(" ")}`));
    const storeDir = join(root, "store");
    adoptNpy({ embeddingsPath: join(root, "e.npy"), idsPath: join(root, "ids.json"), dir: storeDir, model: "synthetic" });
    writeFileSync(join(storeDir, DOMAINS_FILE), JSON.stringify(ids.map((_, i) => (i % 2 ? "x" : "y"))));
    store = EmbeddingStore.open(storeDir);
    const sizes = { n: 16, k: 3, steps: 20, batch: 32, checkpointEvery: 10, logEvery: 10 };
    [sae] = (await runSaeStage(store, ["x"], sizes)) as [SaeDomainResult];
    [other] = (await runSaeStage(store, ["x"], { ...sizes, seed: 1 })) as [SaeDomainResult];
    a = await labelServer("alpha");
    b = await labelServer("beta");
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    store.close();
  });

  it("a second server with the same model names gets a new run, its own requests and labels, through one cache", async () => {
    const [first] = await runInterpretStage({ store, texts, targets: [targetFromSae(sae)], config: config(a), cachePath: cachePath(), quiet: true });
    expect(first!.records.map((r) => r.label)).toEqual(["alpha topic", "alpha topic", "alpha topic"]);
    expect(first!.records.every((r) => r.endpoint === `openai:${a.baseURL}`)).toBe(true);
    const [second] = await runInterpretStage({ store, texts, targets: [targetFromSae(sae)], config: config(b), cachePath: cachePath(), quiet: true });
    expect(second!.dir).not.toBe(first!.dir);
    expect(b.requestsTo(CHAT).length).toBeGreaterThan(0);
    expect(second!.records.map((r) => r.label)).toEqual(["beta topic", "beta topic", "beta topic"]);
    expect(second!.records.every((r) => r.endpoint === `openai:${b.baseURL}`)).toBe(true);
    // The first server's run is reopened as it was, with no new request.
    const before = a.requestsTo(CHAT).length;
    const [again] = await runInterpretStage({ store, texts, targets: [targetFromSae(sae)], config: config(a), cachePath: cachePath(), quiet: true });
    expect(again!.dir).toBe(first!.dir);
    expect(a.requestsTo(CHAT)).toHaveLength(before);
  });

  it("a reply without a label is not cached: once the server is fixed, the rerun labels the feature", async () => {
    const server = await labelServer("gamma");
    try {
      server.reply("I cannot tell what this feature is.");
      const cfg = config(server, { maxFeatures: 2 });
      const [broken] = await runInterpretStage({ store, texts, targets: [targetFromSae(sae)], config: cfg, cachePath: cachePath(), quiet: true });
      expect(broken!.records.map((r) => r.status)).toEqual(["failed", "failed"]);
      server.reply(undefined);
      const asked = server.requestsTo(CHAT).length;
      const [fixed] = await runInterpretStage({ store, texts, targets: [targetFromSae(sae)], config: cfg, cachePath: cachePath(), quiet: true });
      expect(fixed!.dir).toBe(broken!.dir);
      expect(fixed!.records.map((r) => [r.status, r.label])).toEqual([["labelled", "gamma topic"], ["labelled", "gamma topic"]]);
      expect(server.requestsTo(CHAT).length).toBeGreaterThan(asked);
    } finally {
      await server.close();
    }
  });

  it("a changed prompt template gives another run id", async () => {
    const cfg = InterpretConfig.parse(config(a));
    const scorer = { models: { interpreter: "interp", predictor: "pred" }, endpoint: `openai:${a.baseURL}` };
    const before = runIdFor(interpretRunIdentity(cfg, targetFromSae(sae), "llm", scorer, store));
    vi.resetModules();
    vi.doMock("../../src/interpret/prompts.js", async (importOriginal) => {
      const orig = await importOriginal<typeof import("../../src/interpret/prompts.js")>();
      return { ...orig, buildInterpreterMessages: (t: Parameters<typeof orig.buildInterpreterMessages>[0]) => orig.buildInterpreterMessages(t).map((m) => ({ ...m, content: `${m.content} Be brief.` })) };
    });
    try {
      const mocked = await import("../../src/interpret/stage.js");
      const after = runIdFor(mocked.interpretRunIdentity(cfg, targetFromSae(sae), "llm", scorer, store));
      expect(after).not.toBe(before);
    } finally {
      vi.doUnmock("../../src/interpret/prompts.js");
      vi.resetModules();
    }
    // Unchanged templates give the same id.
    expect(runIdFor(interpretRunIdentity(cfg, targetFromSae(sae), "llm", scorer, store))).toBe(before);
  });

  it("another SAE's weights in the run directory are refused, naming the file and the fix", async () => {
    const swapped = join(root, "swapped");
    const { cpSync } = await import("node:fs");
    cpSync(sae.dir, swapped, { recursive: true });
    copyFileSync(join(other.dir, SAE_WEIGHTS_FILE), join(swapped, SAE_WEIGHTS_FILE));
    const target = { ...targetFromSae(sae), saeDir: swapped };
    const run = runInterpretStage({ store, texts, targets: [target], config: config(a), cachePath: cachePath(), quiet: true });
    await expect(run).rejects.toThrow(WeightsMismatchError);
    await expect(runInterpretStage({ store, texts, targets: [target], config: config(a), cachePath: cachePath(), quiet: true })).rejects.toThrow(
      new RegExp(`${join(swapped, SAE_WEIGHTS_FILE).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not the SAE trained in this run[\\s\\S]*fix: restore this run's own sae\\.safetensors`),
    );
  });

  it("a stage that fails before writing any result leaves no run directory (SAE stage: k ≥ n)", async () => {
    const runs = (): string[] => readdirSync(join(dataDir(), "sae")).sort();
    const before = runs();
    await expect(runSaeStage(store, ["x"], { n: 4, k: 8, steps: 2 })).rejects.toThrow(/k \(8\) must be smaller than n \(4\)/);
    expect(runs()).toEqual(before);
  });
});
