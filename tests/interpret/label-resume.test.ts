/**
 * Kill the labeller mid-run (SIGKILL, a real child process running dist/) and rerun it: the local server
 * must see no repeated request for the features the first run finished, and no request at all whose
 * reply the first run had received (the request cache). The rerun's labels equal an uninterrupted run's.
 *
 * The server answers an interpreter prompt with the label `L<hash of the prompt>` and a predictor prompt
 * with a confidence that depends on its text, so every request maps back to its feature through the label.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { InterpretConfig } from "../../src/interpret/config.js";
import { BudgetedLlmClient, CostMeter } from "../../src/interpret/cost.js";
import { LABELS_FILE, labelFeatures, readLabels } from "../../src/interpret/labeller.js";
import { OpenAiLlmClient } from "../../src/interpret/llm-client.js";
import { LlmScorer } from "../../src/interpret/llm-scorer.js";
import { CachedLlmClient, RequestCache } from "../../src/interpret/request-cache.js";
import type { ChatMessage } from "../../src/interpret/types.js";
import { readJsonlLog } from "../../src/io/jsonl.js";
import { writeNpy } from "../../src/io/npy.js";
import { repoPath } from "../../src/io/paths.js";
import { CODES_INDICES_FILE, CODES_VALUES_FILE } from "../../src/sae/encode.js";
import { type OpenAITestServer, type RecordedRequest, startOpenAIServer } from "../helpers/openai-server.js";

const N = 80;
const K = 3;
const F = 12;
const LATENCY_MS = 40;
const root = mkdtempSync(join(tmpdir(), "saerch-label-resume-"));
let server: OpenAITestServer;

const WORDS = ["galaxy", "lensing", "transformer", "graph", "spectra", "reward", "quasar", "kernel", "dust", "agent"];
const texts = Array.from({ length: N }, (_, i) => `Paper ${i}\n\n${Array.from({ length: 30 }, (_, w) => WORDS[(i * 7 + w * 3) % WORDS.length]).join(" ")}`);

const labelOf = (prompt: string): string => `L${createHash("sha256").update(prompt).digest("hex").slice(0, 10)}`;
const bodyOf = (r: RecordedRequest): { messages: ChatMessage[] } => r.body as { messages: ChatMessage[] };
const isInterpreter = (r: RecordedRequest): boolean => bodyOf(r).messages.some((m) => m.content.includes("LABEL:"));
const promptOf = (r: RecordedRequest): string => bodyOf(r).messages.map((m) => m.content).join("\n");
const keyOf = (r: RecordedRequest): string => createHash("sha256").update(JSON.stringify(r.body)).digest("hex");

/** The label a request serves: its own reply label (interpreter) or the label its prompt quotes (predictor). */
function labelServed(r: RecordedRequest, labels: readonly string[]): string | undefined {
  if (isInterpreter(r)) return labelOf(promptOf(r));
  return labels.find((l) => promptOf(r).includes(l));
}

function config(baseURL: string): Record<string, unknown> {
  return {
    llm: { baseURL, concurrency: 2, timeoutMs: 5000, baseDelayMs: 10, maxDelayMs: 50 },
    examples: { top: 2, zero: 2, heldTop: 1, heldZero: 1, minChars: 10 },
    chunk: 2,
  };
}

beforeAll(async () => {
  server = await startOpenAIServer({ latencyMs: () => LATENCY_MS });
  server.setHandler("/v1/chat/completions", (req) => {
    const r = req.body as { model: string; messages: ChatMessage[] };
    const prompt = r.messages.map((m) => m.content).join("\n");
    const content = prompt.includes("LABEL:")
      ? `Candidates considered.\nLABEL: ${labelOf(prompt)}`
      : `CONFIDENCE: ${((prompt.length % 7) / 3 - 1).toFixed(2)}`;
    return {
      status: 200,
      body: { id: "x", object: "chat.completion", model: r.model, choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }], usage: { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 } },
    };
  });
  // Codes: each document holds K distinct features with decreasing activations (seeded).
  const rng = new Rng("label-resume");
  const indices = new Int32Array(N * K);
  const values = new Float32Array(N * K);
  for (let i = 0; i < N; i++) {
    const picks = rng.sample(F, K);
    for (let j = 0; j < K; j++) {
      indices[i * K + j] = picks[j]!;
      values[i * K + j] = 2 - j * 0.5 + rng.float() * 0.1;
    }
  }
  mkdirSync(join(root, "codes"), { recursive: true });
  writeNpy(join(root, "codes", CODES_INDICES_FILE), indices, [N, K]);
  writeNpy(join(root, "codes", CODES_VALUES_FILE), values, [N, K]);
  writeFileSync(join(root, "texts.json"), JSON.stringify(texts));
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

async function runInProcess(dir: string, cachePath: string): Promise<void> {
  const { loadCodes } = await import("../../src/sae/encode.js");
  const cfg = InterpretConfig.parse(config(server.baseURL));
  const cache = RequestCache.open(cachePath);
  const client = new BudgetedLlmClient(new CachedLlmClient(new OpenAiLlmClient(cfg.llm, { apiKey: "test" }), cache), new CostMeter(cfg.prices));
  const scorer = new LlmScorer(client, cfg.llm);
  await labelFeatures({
    dir,
    codes: loadCodes(join(root, "codes")),
    n: F,
    rowsN: Int32Array.from(texts, (_, i) => i),
    docOf: (row) => ({ id: `doc${row}`, text: texts[row]! }),
    scorer,
    config: cfg,
    quiet: true,
  });
  await scorer.close();
}

describe("labelling after kill -9", () => {
  it("repeats no request for finished features, and matches an uninterrupted run", async () => {
    const DIST = repoPath("dist");
    for (const p of ["interpret/labeller", "interpret/llm-scorer", "interpret/request-cache", "sae/encode"]) {
      if (!existsSync(join(DIST, `${p}.js`))) throw new Error(`${join(DIST, p)}.js is missing: run \`npm run build\` before this test`);
    }
    const dir = join(root, "killed");
    const cachePath = join(root, "cache.jsonl");
    const child = spawn(
      process.execPath,
      [repoPath("tests", "fixtures", "interpret", "label-child.mjs"), DIST, server.baseURL, join(root, "codes"), join(root, "texts.json"), dir, cachePath],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LABEL_CONFIG: JSON.stringify(config(server.baseURL)), LABEL_N: String(F) } },
    );
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on("exit", (_code, signal) => res(signal)));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && readJsonlLog(join(dir, LABELS_FILE)).length < 4) {
      if (child.exitCode !== null) throw new Error(`labelling child exited early (${child.exitCode}): ${stderr}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    const finished = readLabels(dir).filter((r) => r.status === "labelled");
    expect(finished.length).toBeGreaterThanOrEqual(1);
    expect(finished.length).toBeLessThan(F);
    const finishedLabels = finished.map((r) => r.label!);
    const firstRun = server.requests.length;
    const answeredKeys = new Set(readJsonlLog<{ key: string }>(cachePath).map((r) => r.key));
    expect(answeredKeys.size).toBeGreaterThan(0);

    await runInProcess(dir, cachePath);
    const rerun = server.requests.slice(firstRun);
    expect(rerun.length).toBeGreaterThan(0);
    // No rerun request serves a feature the first run finished.
    const allLabels = readLabels(dir).map((r) => r.label!);
    for (const r of rerun) expect(finishedLabels).not.toContain(labelServed(r, allLabels));
    // No rerun request repeats one whose reply the first run received (and cached).
    const { requestKey } = await import("../../src/interpret/request-cache.js");
    for (const r of rerun) {
      const b = r.body as { model: string; messages: ChatMessage[]; temperature: number; max_tokens: number };
      expect(answeredKeys.has(requestKey({ role: "interpreter", model: b.model, messages: b.messages, temperature: b.temperature, maxTokens: b.max_tokens }, `openai:${server.baseURL.replace(/\/+$/, "")}`))).toBe(false);
    }
    // Across both runs, each distinct request reached the server at most twice (only in-flight ones at the kill).
    const counts = new Map<string, number>();
    for (const r of server.requests) counts.set(keyOf(r), (counts.get(keyOf(r)) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);

    const ref = join(root, "reference");
    await runInProcess(ref, join(root, "ref-cache.jsonl"));
    const strip = (d: string): unknown => readLabels(d).map(({ feature, status, label, pearson, f1, predictions, examples }) => ({ feature, status, label, pearson, f1, predictions, examples }));
    expect(strip(dir)).toEqual(strip(ref));
    expect(readLabels(dir).filter((r) => r.status === "labelled").length).toBeGreaterThan(F / 2);
  });
});
