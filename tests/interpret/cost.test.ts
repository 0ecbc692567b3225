/**
 * Cost accounting: prompt tokens priced with the model's tokenizer, prices, the meter per role, the budget cap against the real local
 * server (stops before a request that could pass it; nothing sent past it), cached replies free, unpriced
 * models listed, the budget held per run across processes (spend-ledger.ts), and the dry-run estimate
 * checked by hand.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_PRICES, LlmConfig, type ModelPrice } from "../../src/interpret/config.js";
import {
  BudgetedLlmClient,
  BudgetExceededError,
  CostMeter,
  costUsd,
  estimateLabellingCost,
  worstCaseUsd,
} from "../../src/interpret/cost.js";
import { OpenAiLlmClient } from "../../src/interpret/llm-client.js";
import { CachedLlmClient, RequestCache } from "../../src/interpret/request-cache.js";
import { readRunSpend, SPEND_FILE, withRunSpend } from "../../src/interpret/spend-ledger.js";
import { readJsonlLog } from "../../src/io/jsonl.js";
import type { LlmRequest } from "../../src/interpret/types.js";
import { type OpenAITestServer, startOpenAIServer } from "../helpers/openai-server.js";

const CHAT = "/v1/chat/completions";
/** 0.001 USD per prompt token, 0.002 USD per completion token: round numbers to check by hand. */
const PRICES: Record<string, ModelPrice> = { m: { inputPerMTok: 1000, outputPerMTok: 2000 } };

/**
 * 12 characters of content → 10 prompt tokens for model "m" (no known tokenizer: the heuristic of
 * src/tokenizer): 3 for the reply + 3 for the message + ceil(4/4) for "user" + ceil(12/4) for the content.
 */
function request(tag: string, role: LlmRequest["role"] = "predictor", model = "m"): LlmRequest {
  const content = `${tag}`.padEnd(12, ".");
  return { role, model, messages: [{ role: "user", content }], temperature: 0, maxTokens: 20 };
}

let server: OpenAITestServer;
let dir: string;

const rawClient = (): OpenAiLlmClient =>
  new OpenAiLlmClient(LlmConfig.parse({ baseURL: server.baseURL, apiKeyEnv: "SAERCH_TEST_LLM_KEY", baseDelayMs: 10 }), { random: () => 0 });

beforeEach(async () => {
  server = await startOpenAIServer({ latencyMs: () => 20 });
  // Every reply reports 12 prompt and 5 completion tokens: 12·0.001 + 5·0.002 = 0.022 USD at PRICES.m.
  server.setHandler(CHAT, () => ({ status: 200, body: { model: "m", choices: [{ message: { role: "assistant", content: "0.5" } }], usage: { prompt_tokens: 12, completion_tokens: 5 } } }));
  dir = mkdtempSync(join(tmpdir(), "saerch-cost-"));
});
afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("estimates and prices", () => {
  it("worst case prices the prompt with the model's own tokenizer: exact for gpt-4o, the heuristic otherwise", () => {
    const messages = [{ role: "user" as const, content: "hello world" }];
    const req = (model: string): LlmRequest => ({ role: "interpreter", model, messages, temperature: 0, maxTokens: 1 });
    const perToken = { inputPerMTok: 1e6, outputPerMTok: 0 }; // 1 USD per prompt token: the price is the count
    // o200k: 3 (reply) + 3 (message) + 1 ("user") + 2 ("hello world") = 9; heuristic: 3 + 3 + 1 + ceil(11/4) = 10.
    expect(worstCaseUsd(req("gpt-4o"), { "gpt-4o": perToken })).toBe(9);
    expect(worstCaseUsd(req("m"), { m: perToken })).toBe(10);
  });

  it("costUsd prices per million tokens; undefined without a price", () => {
    // gpt-4o: 1000 prompt · 2.5/1e6 + 100 completion · 10/1e6 = 0.0025 + 0.001
    expect(costUsd("gpt-4o", { promptTokens: 1000, completionTokens: 100 }, DEFAULT_PRICES)).toBeCloseTo(0.0035, 12);
    expect(costUsd("nope", { promptTokens: 1, completionTokens: 1 }, DEFAULT_PRICES)).toBeUndefined();
    // worst case of request(): 10 estimated prompt tokens · 0.001 + maxTokens 20 · 0.002 = 0.05
    expect(worstCaseUsd(request("a"), PRICES)).toBeCloseTo(0.05, 12);
  });
});

describe("CostMeter", () => {
  it("keeps requests, cached requests, tokens and USD per role; lists unpriced models", () => {
    const meter = new CostMeter(PRICES);
    meter.record("interpreter", "m", { promptTokens: 100, completionTokens: 10 }, false);
    meter.record("predictor", "m", { promptTokens: 10, completionTokens: 1 }, false);
    meter.record("predictor", "m", { promptTokens: 10, completionTokens: 1 }, true);
    meter.record("predictor", "local-llama", { promptTokens: 50, completionTokens: 5 }, false);
    const s = meter.summary();
    expect(s.roles.interpreter).toEqual({ requests: 1, cachedRequests: 0, promptTokens: 100, completionTokens: 10, usd: expect.closeTo(0.12, 12) as number });
    expect(s.roles.predictor).toEqual({ requests: 2, cachedRequests: 1, promptTokens: 60, completionTokens: 6, usd: expect.closeTo(0.012, 12) as number });
    expect(s.totalUsd).toBeCloseTo(0.132, 12);
    expect(s.unpricedModels).toEqual(["local-llama"]);
    expect(s.budgetUsd).toBeNull();
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});

describe("BudgetedLlmClient", () => {
  it("stops before a request that could pass the budget, and sends nothing past it", async () => {
    const meter = new CostMeter(PRICES, 0.1);
    const c = new BudgetedLlmClient(rawClient(), meter);
    // worst case 0.05 each, actual 0.022 each: spent before call 1, 2, 3 = 0, 0.022, 0.044 (+0.05 ≤ 0.1);
    // before call 4 spent 0.066 + 0.05 = 0.116 > 0.1 → refused.
    for (let i = 0; i < 3; i++) await c.complete(request(`q${i}`));
    await expect(c.complete(request("q3"))).rejects.toBeInstanceOf(BudgetExceededError);
    await expect(c.complete(request("q3"))).rejects.toThrow(/budget of \$0\.1000 reached: spent \$0\.0660/);
    expect(server.requestsTo(CHAT)).toHaveLength(3);
    expect(meter.totalUsd).toBeCloseTo(0.066, 12);
    expect(meter.totalUsd).toBeLessThanOrEqual(0.1);
    expect(meter.reservedUsd).toBe(0);
    expect(meter.role("predictor")).toMatchObject({ requests: 3, promptTokens: 36, completionTokens: 15 });
  });

  it("counts requests in flight against the budget", async () => {
    const meter = new CostMeter(PRICES, 0.1);
    const c = new BudgetedLlmClient(rawClient(), meter);
    // three at once: reservations 0.05 + 0.05 fit, the third (0.15 > 0.1) is refused before sending
    const settled = await Promise.allSettled([c.complete(request("a")), c.complete(request("b")), c.complete(request("c"))]);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(BudgetExceededError);
    expect(server.requestsTo(CHAT)).toHaveLength(2);
  });

  it("answers cached requests for free, even with the budget spent", async () => {
    const meter = new CostMeter(PRICES, 0.06);
    const cache = RequestCache.open(join(dir, "cache.jsonl"));
    const c = new BudgetedLlmClient(new CachedLlmClient(rawClient(), cache), meter);
    await c.complete(request("a", "interpreter"));
    // spent 0.022; a new request could cost 0.05 → 0.072 > 0.06: refused
    await expect(c.complete(request("b", "interpreter"))).rejects.toBeInstanceOf(BudgetExceededError);
    const again = await c.complete(request("a", "interpreter"));
    expect(again.cached).toBe(true);
    expect(server.requestsTo(CHAT)).toHaveLength(1);
    expect(meter.role("interpreter")).toEqual({ requests: 1, cachedRequests: 1, promptTokens: 12, completionTokens: 5, usd: expect.closeTo(0.022, 12) as number });
    await c.close();
  });

  it("counts what earlier processes spent on the run (its ledger) against the budget, and appends this session's", async () => {
    const runDir = join(dir, "run");
    // An earlier process paid 0.066 on this run (three requests) before it stopped.
    const first = new CostMeter(PRICES, 0.1);
    await withRunSpend(first, runDir, async () => {
      const c = new BudgetedLlmClient(rawClient(), first);
      for (let i = 0; i < 3; i++) await c.complete(request(`q${i}`));
    });
    expect(readRunSpend(runDir)).toEqual({ requests: 3, usd: expect.closeTo(0.066, 12) as number });
    // A new process with the same budget of 0.1: 0.066 + a worst case of 0.05 does not fit.
    const second = new CostMeter(PRICES, 0.1);
    const err = await withRunSpend(second, runDir, async (spend) => {
      expect(spend().usd).toBeCloseTo(0.066, 12);
      return new BudgetedLlmClient(rawClient(), second).complete(request("q3")).catch((e: unknown) => e);
    });
    expect(err).toBeInstanceOf(BudgetExceededError);
    expect((err as Error).message).toMatch(/spent \$0\.0660 \(\$0\.0660 of it by earlier runs of these directories\)/);
    expect(server.requestsTo(CHAT)).toHaveLength(3);
    expect(second.summary()).toMatchObject({ totalUsd: 0, priorUsd: expect.closeTo(0.066, 12) as number });
    // with a larger budget it pays on, and the ledger grows
    const third = new CostMeter(PRICES, 1);
    await withRunSpend(third, runDir, async () => new BudgetedLlmClient(rawClient(), third).complete(request("q3")));
    const lines = readJsonlLog<{ usd: number; pid: number; role: string; model: string }>(join(runDir, SPEND_FILE));
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatchObject({ role: "predictor", model: "m", pid: process.pid, usd: expect.closeTo(0.022, 12) as number });
    expect(() => third.addPriorSpend(-1)).toThrow(/non-negative/);
  });

  it("counts an unpriced model at 0 USD, lists it, and never blocks on it", async () => {
    const meter = new CostMeter(PRICES, 0.01);
    const c = new BudgetedLlmClient(rawClient(), meter);
    await c.complete(request("a", "predictor", "local-llama"));
    await c.complete(request("b", "predictor", "local-llama"));
    expect(meter.totalUsd).toBe(0);
    expect(meter.summary().unpricedModels).toEqual(["local-llama"]);
    expect(meter.role("predictor")).toMatchObject({ requests: 2, promptTokens: 24, completionTokens: 10, usd: 0 });
  });
});

describe("estimateLabellingCost", () => {
  it("matches the arithmetic done by hand", () => {
    // 100 features, 6 predictions each, gpt-4o (2.5 / 10 USD per 1M) and gpt-4o-mini (0.15 / 0.6):
    //   interpreter: 100 requests; prompt 100·2000 = 200,000; completion 100·300 = 30,000
    //                usd = 200,000·2.5/1e6 + 30,000·10/1e6 = 0.5 + 0.3 = 0.8
    //   predictor:   100·6 = 600 requests; prompt 600·500 = 300,000; completion 600·50 = 30,000
    //                usd = 300,000·0.15/1e6 + 30,000·0.6/1e6 = 0.045 + 0.018 = 0.063
    //   total = 0.863
    const est = estimateLabellingCost({
      features: 100,
      predictionsPerFeature: 6,
      interpreterPromptTokens: 2000,
      predictorPromptTokens: 500,
      interpreterCompletionTokens: 300,
      predictorCompletionTokens: 50,
      interpreterModel: "gpt-4o",
      predictorModel: "gpt-4o-mini",
      prices: DEFAULT_PRICES,
    });
    expect(est.interpreter).toEqual({ requests: 100, promptTokensExact: true, promptTokens: 200_000, completionTokens: 30_000, usd: expect.closeTo(0.8, 12) as number });
    expect(est.predictor).toEqual({ requests: 600, promptTokensExact: true, promptTokens: 300_000, completionTokens: 30_000, usd: expect.closeTo(0.063, 12) as number });
    expect(est.totalUsd).toBeCloseTo(0.863, 12);
    expect(est.unpricedModels).toEqual([]);
  });

  it("lists a model with no price (counted at 0)", () => {
    const est = estimateLabellingCost({
      features: 10,
      predictionsPerFeature: 6,
      interpreterPromptTokens: 1000,
      predictorPromptTokens: 100,
      interpreterCompletionTokens: 100,
      predictorCompletionTokens: 10,
      interpreterModel: "gpt-4o",
      predictorModel: "local-llama",
      prices: DEFAULT_PRICES,
    });
    expect(est.predictor.usd).toBe(0);
    expect([est.interpreter.promptTokensExact, est.predictor.promptTokensExact]).toEqual([true, false]);
    expect(est.unpricedModels).toEqual(["local-llama"]);
    // interpreter: 10,000·2.5/1e6 + 1,000·10/1e6 = 0.025 + 0.01
    expect(est.totalUsd).toBeCloseTo(0.035, 12);
  });
});
