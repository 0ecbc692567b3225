/**
 * Smoke test of `npm run bench:interpret`'s logic at tiny sizes: synthetic codes, the simulated chat
 * handler, one throughput run through the real LLM path (5 ms latency), prompt sizes on real abstracts,
 * the paper-scale cost arithmetic, the whole bench and its tables. Asserts structure and sane values,
 * never speed.
 *
 * Cost worked example (prompt sizes given, not measured): interpreter 1000 prompt tokens + 400 completion
 * at gpt-4o $2.5 / $10 per 1M = $0.0065 per feature; predictor 200 + 60 at gpt-4o-mini $0.15 / $0.6 =
 * $0.000066 per request, 6 per feature. SAE16 in one domain (n 3072): $19.968 + 3072 · 6 · $0.000066 =
 * $19.968 + $1.216512. All three SAEs in two domains: 36,864 features → $239.616 + $14.598144.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  benchChatHandler,
  benchLabelling,
  estimatePaperCost,
  featuresForTarget,
  measurePromptSizes,
  readBenchDocs,
  resolveInterpretBenchConfig,
  runInterpretBench,
  syntheticCodes,
  syntheticDictionarySize,
} from "../../src/interpret/bench.js";
import { benchSettingsFromArgs, costRows, throughputRows } from "../../src/interpret/bench-cli.js";
import { buildInterpreterMessages, buildPredictorMessages, parseInterpretation, parsePrediction } from "../../src/interpret/prompts.js";
import type { Doc } from "../../src/corpus/document.js";
import { sharedDir } from "../../src/io/paths.js";
import type { RecordedRequest } from "../../src/testing/local-openai-server.js";

const HAVE_CORPUS = existsSync(join(sharedDir(), "corpus", "arxiv-cs-astro-2025.jsonl.gz"));

const chatRequest = (messages: Array<{ role: string; content: string }>): RecordedRequest => ({
  route: "/v1/chat/completions",
  method: "POST",
  headers: {},
  body: { model: "m", messages },
  at: 0,
});

describe("bench settings and sizing", () => {
  it("sizes runs to the target time and validates --features", () => {
    // 7 requests × 250 ms / c per feature: 14 s → 8, 32, 128 features.
    expect([1, 4, 16].map((concurrency) => featuresForTarget({ concurrency, latencyMs: 250, targetSeconds: 14, requestsPerFeature: 7 }))).toEqual([8, 32, 128]);
    expect(featuresForTarget({ concurrency: 1, latencyMs: 0, targetSeconds: 0.001, requestsPerFeature: 7 })).toBe(1);
    expect(resolveInterpretBenchConfig({ quick: true })).toMatchObject({ targetSeconds: 1.5, docsPerDomain: 300, latencyMs: 250, concurrency: [1, 4, 16] });
    expect(resolveInterpretBenchConfig({ quick: true, docsPerDomain: 50 }).docsPerDomain).toBe(50);
    expect(() => resolveInterpretBenchConfig({ concurrency: [1, 4, 16], features: [1, 2] })).toThrow(/one per concurrency/);
    expect(() => resolveInterpretBenchConfig({ concurrency: [0] })).toThrow(/invalid bench settings/);
    expect(benchSettingsFromArgs({ "latency-ms": "20", concurrency: "1,2", features: "3", quick: true })).toEqual({ latencyMs: 20, concurrency: [1, 2], features: [3], quick: true });
    expect(() => benchSettingsFromArgs({ concurrency: "1,x" })).toThrow(/--concurrency must be a number/);
  });

  it("synthetic codes: K distinct features per row, activations in (0, 1] decreasing", () => {
    const k = 4;
    const n = syntheticDictionarySize(50, k, 3);
    expect(n).toBe(16); // A = min(40, floor(50 / 4)) = 12 active documents per feature: floor(50 · 4 / 12)
    expect(syntheticDictionarySize(3000, 16, 128)).toBe(1200); // A = 40: floor(3000 · 16 / 40)
    expect(syntheticDictionarySize(3000, 16, 2000)).toBe(2000);
    const codes = syntheticCodes({ docs: 50, n, k, seed: 1 });
    expect(codes.indices.length).toBe(50 * k);
    for (let i = 0; i < 50; i++) {
      const idx = Array.from(codes.indices.subarray(i * k, (i + 1) * k));
      const val = Array.from(codes.values.subarray(i * k, (i + 1) * k));
      expect(new Set(idx).size).toBe(k);
      expect(idx.every((j) => j >= 0 && j < n)).toBe(true);
      expect(val.every((v) => v > 0 && v <= 1)).toBe(true);
      for (let r = 1; r < k; r++) expect(val[r]!).toBeLessThanOrEqual(val[r - 1]!);
    }
    expect(syntheticCodes({ docs: 50, n, k, seed: 1 }).values).toEqual(codes.values);
  });

  it("the simulated server answers interpreter and predictor prompts in the parsers' formats, with usage", () => {
    const handler = benchChatHandler({ interpreter: 400, predictor: 60 });
    const top = [{ row: 0, id: "a", text: "Dark matter halos of dwarf galaxies\n\nWe study halos.", activation: 0.9 }];
    const interp = handler(chatRequest(buildInterpreterMessages({ top, zero: [] })));
    const body = interp.body as { choices: Array<{ message: { content: string } }>; usage: { prompt_tokens: number; completion_tokens: number } };
    const label = parseInterpretation(body.choices[0]!.message.content)?.label ?? "";
    expect(label).toMatch(/^dark matter halos t[0-9a-f]{6}$/);
    expect(body.usage.completion_tokens).toBe(400);
    expect(body.usage.prompt_tokens).toBeGreaterThan(100);
    const pred = (text: string): number => {
      const out = handler(chatRequest(buildPredictorMessages(label, text))).body as { choices: Array<{ message: { content: string } }> };
      return parsePrediction(out.choices[0]!.message.content).value;
    };
    expect(pred("Halos around the Milky Way")).toBe(0.8);
    expect(pred("Transformers for tabular data")).toBe(-0.6);
    expect(handler(chatRequest([{ role: "user", content: "hello" }])).status).toBe(400);
  });

  it("prices the paper's SAEs from given prompt sizes (see the worked example in the header)", () => {
    const sizes = ["astro-ph", "cs.LG"].map((domain) => ({ domain, samples: 1, interpreterPromptTokens: 1000, predictorPromptTokens: 200 }));
    const c = estimatePaperCost({ promptSizes: sizes });
    expect(c.rows).toHaveLength(6);
    expect(c.rows[0]).toMatchObject({ sae: "SAE16", n: 3072, domain: "astro-ph" });
    expect(c.rows[0]!.interpreter.usd).toBeCloseTo(19.968, 9);
    expect(c.rows[0]!.predictor.usd).toBeCloseTo(1.216512, 9);
    expect(c.perSae.map((s) => s.features)).toEqual([6144, 12288, 18432]);
    expect(c.total).toMatchObject({ features: 36864, requests: 36864 * 7 });
    expect(c.total.interpreterUsd).toBeCloseTo(239.616, 6);
    expect(c.total.predictorUsd).toBeCloseTo(14.598144, 6);
    expect(c.total.totalUsd).toBeCloseTo(239.616 + 14.598144, 6);
    expect(c.unpricedModels).toEqual([]);
  });
});

describe.skipIf(!HAVE_CORPUS)("on real abstracts", () => {
  let docs: Record<string, Doc[]>;
  beforeAll(async () => {
    docs = await readBenchDocs(120);
  });

  it("reads each domain's first abstracts, one domain per paper", () => {
    expect(docs["astro-ph"]).toHaveLength(120);
    expect(docs["cs.LG"]).toHaveLength(120);
    expect(docs["astro-ph"]!.every((d) => d.categories.some((c) => c.startsWith("astro-ph")) && !d.categories.includes("cs.LG"))).toBe(true);
  });

  it("labels features through the real LLM path: every request reaches the server, within the concurrency bound", async () => {
    const astro = docs["astro-ph"]!;
    const k = 8;
    const n = syntheticDictionarySize(astro.length, k, 3);
    const r = await benchLabelling({ docs: astro, codes: syntheticCodes({ docs: astro.length, n, k, seed: 0 }), n, features: 3, concurrency: 2, latencyMs: 5 });
    expect(r).toMatchObject({ features: 3, labelled: 3, failed: 0, tooRare: 0, requests: 21, interpreterRequests: 3, predictorRequests: 18, cachedRequests: 0, retries: 0, unparsedPredictions: 0 });
    expect(r.maxInFlight).toBeGreaterThanOrEqual(1);
    expect(r.maxInFlight).toBeLessThanOrEqual(2);
    expect(r.seconds).toBeGreaterThan(0);
    expect(Number.isFinite(r.featuresPerMinute) && r.featuresPerMinute > 0).toBe(true);
    expect(r.requestsPerSecond).toBeCloseTo((r.requests / r.seconds), 9);
    expect(r.idealFeaturesPerMinute).toBeCloseTo((2 * 60_000) / (7 * 5), 9);
    expect(r.cost.roles.interpreter.completionTokens).toBe(3 * 400);
    expect(r.cost.totalUsd).toBeGreaterThan(0);
  });

  it("measures prompt sizes: an interpreter prompt holds ten abstracts, a predictor prompt one", () => {
    const s = measurePromptSizes({ domain: "astro-ph", docs: docs["astro-ph"]!, samples: 5 });
    expect(s.predictorPromptTokens).toBeGreaterThan(100);
    expect(s.interpreterPromptTokens / s.predictorPromptTokens).toBeGreaterThan(5);
    expect(s.interpreterPromptTokens / s.predictorPromptTokens).toBeLessThan(12);
    expect(() => measurePromptSizes({ domain: "cs.LG", docs: docs["cs.LG"]!.slice(0, 10), samples: 1 })).toThrow(/one sample needs 16/);
  });

  it("runs the whole bench at tiny sizes and tabulates it", async () => {
    const report = await runInterpretBench({ latencyMs: 5, concurrency: [1, 2], features: [1, 2], docsPerDomain: 120, costSamples: 3 });
    expect(report.throughput.runs.map((r) => [r.concurrency, r.labelled])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(report.throughput.runs[0]!.speedupOverFirst).toBe(1);
    expect(report.notes[0]).toMatch(/SIMULATED/);
    expect(report.cost.promptSizes.map((s) => s.domain)).toEqual(["astro-ph", "cs.LG"]);
    expect(report.cost.total.features).toBe(36864);
    expect(throughputRows(report)).toHaveLength(2);
    expect(costRows(report).map((r) => r.SAE)).toEqual(["SAE16", "SAE32", "SAE64", "all three"]);
  });
});
