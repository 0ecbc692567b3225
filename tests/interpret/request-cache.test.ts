/**
 * RequestCache and CachedLlmClient: keys, hits without calls (against the real local server), reopening
 * from disk, a torn last line from a crash, identical requests in flight sharing one call.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FormatError } from "../../src/core/errors.js";
import { LlmConfig } from "../../src/interpret/config.js";
import { OpenAiLlmClient } from "../../src/interpret/llm-client.js";
import { CachedLlmClient, RequestCache, requestKey } from "../../src/interpret/request-cache.js";
import type { LlmClient, LlmRequest, LlmResponse } from "../../src/interpret/types.js";
import { type OpenAITestServer, type RecordedRequest, startOpenAIServer } from "../helpers/openai-server.js";

const CHAT = "/v1/chat/completions";

function echo(req: RecordedRequest): { status: number; body: unknown } {
  const body = req.body as { messages: Array<{ content: string }> };
  const content = `echo: ${body.messages.at(-1)!.content}`;
  return { status: 200, body: { model: "served", choices: [{ index: 0, message: { role: "assistant", content } }], usage: { prompt_tokens: 7, completion_tokens: 2 } } };
}

function request(text: string, role: LlmRequest["role"] = "predictor"): LlmRequest {
  return { role, model: "m", messages: [{ role: "user", content: text }], temperature: 0, maxTokens: 20 };
}

let server: OpenAITestServer;
let dir: string;
let cachePath: string;

const rawClient = (): OpenAiLlmClient =>
  new OpenAiLlmClient(LlmConfig.parse({ baseURL: server.baseURL, apiKeyEnv: "SAERCH_TEST_LLM_KEY", baseDelayMs: 10 }), { random: () => 0 });

beforeEach(async () => {
  server = await startOpenAIServer();
  server.setHandler(CHAT, echo);
  dir = mkdtempSync(join(tmpdir(), "saerch-cache-"));
  cachePath = join(dir, "llm-cache.jsonl");
});
afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("requestKey", () => {
  it("is the sha256 of the stable JSON of model, messages, temperature, maxTokens — not the role", () => {
    const a = request("x", "interpreter");
    expect(requestKey(a, "e")).toMatch(/^[0-9a-f]{64}$/);
    expect(requestKey(a, "e")).toBe(requestKey({ ...a, role: "predictor" }, "e"));
    // key order inside objects does not matter
    expect(requestKey(a, "e")).toBe(requestKey({ maxTokens: 20, temperature: 0, messages: [{ content: "x", role: "user" }], model: "m", role: "interpreter" }, "e"));
    expect(requestKey(a, "e")).not.toBe(requestKey({ ...a, temperature: 0.5 }, "e"));
    expect(requestKey(a, "e")).not.toBe(requestKey({ ...a, maxTokens: 21 }, "e"));
    expect(requestKey(a, "e")).not.toBe(requestKey({ ...a, model: "m2" }, "e"));
    expect(requestKey(a, "e")).not.toBe(requestKey({ ...a, messages: [{ role: "system", content: "x" }] }, "e"));
  });
});

describe("CachedLlmClient + RequestCache", () => {
  it("answers a repeated request from the cache with no new server request", async () => {
    const c = new CachedLlmClient(rawClient(), RequestCache.open(cachePath));
    const first = await c.complete(request("a"));
    const second = await c.complete(request("a", "interpreter"));
    expect(first).toEqual({ content: "echo: a", usage: { promptTokens: 7, completionTokens: 2 }, model: "served", cached: false, endpoint: `openai:${server.baseURL}` });
    expect(second).toEqual({ ...first, cached: true });
    expect(server.requestsTo(CHAT)).toHaveLength(1);
    expect(c.cache.size).toBe(1);
    await c.close();
    await c.close();
  });

  it("reopens from disk and hits", async () => {
    const c1 = new CachedLlmClient(rawClient(), RequestCache.open(cachePath));
    await c1.complete(request("a"));
    await c1.complete(request("b"));
    await c1.close();
    const lines = readFileSync(cachePath, "utf8").trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(Object.keys(JSON.parse(lines[0]!) as object).sort()).toEqual(["content", "endpoint", "key", "model", "savedAt", "usage"]);

    const cache = RequestCache.open(cachePath);
    expect(cache.size).toBe(2);
    const c2 = new CachedLlmClient(rawClient(), cache);
    expect((await c2.complete(request("b"))).cached).toBe(true);
    expect((await c2.complete(request("a"))).content).toBe("echo: a");
    expect(server.requestsTo(CHAT)).toHaveLength(2);
    await c2.close();
  });

  it("ignores a torn last line left by a crash, and appends cleanly after it", async () => {
    const cache = RequestCache.open(cachePath);
    cache.put(request("a"), { content: "A", usage: { promptTokens: 1, completionTokens: 1 }, model: "m", cached: false }, "e");
    cache.close();
    appendFileSync(cachePath, '{"key":"abc","model":"m","cont');
    const reopened = RequestCache.open(cachePath);
    expect(reopened.size).toBe(1);
    expect(reopened.get(request("a"), "e")?.content).toBe("A");
    reopened.put(request("b"), { content: "B", usage: { promptTokens: 1, completionTokens: 1 }, model: "m", cached: false }, "e");
    reopened.close();
    const again = RequestCache.open(cachePath);
    expect(again.size).toBe(2);
    expect(again.get(request("b"), "e")).toEqual({ content: "B", usage: { promptTokens: 1, completionTokens: 1 }, model: "m", cached: true, endpoint: "e" });
    again.close();
  });

  it("names the file and line when a complete line is not a cache record", () => {
    writeFileSync(cachePath, '{"key":"nothex","model":"m"}\n');
    expect(() => RequestCache.open(cachePath)).toThrow(FormatError);
    expect(() => RequestCache.open(cachePath)).toThrow(/llm-cache\.jsonl: record 1 is not an LLM cache record/);
  });

  it("shares one call among identical requests in flight", async () => {
    await server.close();
    server = await startOpenAIServer({ latencyMs: () => 80 });
    server.setHandler(CHAT, echo);
    const c = new CachedLlmClient(rawClient(), RequestCache.open(cachePath));
    const replies = await Promise.all([c.complete(request("same")), c.complete(request("same")), c.complete(request("same")), c.complete(request("other"))]);
    expect(server.requestsTo(CHAT)).toHaveLength(2);
    expect(replies.map((r) => r.content)).toEqual(["echo: same", "echo: same", "echo: same", "echo: other"]);
    expect(replies.map((r) => r.cached)).toEqual([false, true, true, false]);
    expect(c.cache.size).toBe(2);
    await c.close();
  });

  it("does not cache failures", async () => {
    let calls = 0;
    const flaky: LlmClient = {
      id: "flaky",
      complete: async (): Promise<LlmResponse> => {
        calls++;
        if (calls === 1) throw new Error("down");
        return { content: "ok", usage: { promptTokens: 1, completionTokens: 1 }, model: "m", cached: false };
      },
      close: async (): Promise<void> => {},
    };
    const c = new CachedLlmClient(flaky, RequestCache.open(cachePath));
    await expect(c.complete(request("a"))).rejects.toThrow("down");
    expect(c.isCached(request("a"))).toBe(false);
    expect((await c.complete(request("a"))).cached).toBe(false);
    expect(c.isCached(request("a"))).toBe(true);
    await c.close();
  });
});

describe("endpoint in the key", () => {
  it("never answers a second server's request from the first server's replies, and records say who answered", async () => {
    const other = await startOpenAIServer();
    other.setHandler(CHAT, (req) => {
      const body = req.body as { messages: Array<{ content: string }> };
      return { status: 200, body: { model: "served", choices: [{ index: 0, message: { role: "assistant", content: `other: ${body.messages.at(-1)!.content}` } }], usage: { prompt_tokens: 7, completion_tokens: 2 } } };
    });
    try {
      const cache = RequestCache.open(cachePath);
      const first = new CachedLlmClient(rawClient(), cache);
      expect((await first.complete(request("a"))).content).toBe("echo: a");
      const second = new CachedLlmClient(new OpenAiLlmClient(LlmConfig.parse({ baseURL: other.baseURL, apiKeyEnv: "SAERCH_TEST_LLM_KEY" })), cache);
      const res = await second.complete(request("a"));
      expect(res).toMatchObject({ content: "other: a", cached: false, endpoint: `openai:${other.baseURL}` });
      expect(other.requestsTo(CHAT)).toHaveLength(1);
      // Each server's reply is kept under its own endpoint.
      expect((await first.complete(request("a"))).content).toBe("echo: a");
      expect((await second.complete(request("a"))).cached).toBe(true);
      cache.close();
      const endpoints = readFileSync(cachePath, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { endpoint: string }).endpoint);
      expect(endpoints).toEqual([`openai:${server.baseURL}`, `openai:${other.baseURL}`]);
    } finally {
      await other.close();
    }
  });
});

describe("accept", () => {
  it("returns a rejected reply without storing it, asks again next time, and keeps the accepted one", async () => {
    let reply = "no label here";
    server.setHandler(CHAT, () => ({ status: 200, body: { model: "served", choices: [{ index: 0, message: { role: "assistant", content: reply } }], usage: { prompt_tokens: 7, completion_tokens: 2 } } }));
    const accept = (_req: LlmRequest, content: string): boolean => content.startsWith("LABEL:");
    const c = new CachedLlmClient(rawClient(), RequestCache.open(cachePath), { accept });
    expect((await c.complete(request("a", "interpreter"))).content).toBe("no label here");
    expect(c.isCached(request("a", "interpreter"))).toBe(false);
    reply = "LABEL: fixed";
    expect(await c.complete(request("a", "interpreter"))).toMatchObject({ content: "LABEL: fixed", cached: false });
    expect(await c.complete(request("a", "interpreter"))).toMatchObject({ content: "LABEL: fixed", cached: true });
    expect(server.requestsTo(CHAT)).toHaveLength(2);
    await c.close();
    expect(readFileSync(cachePath, "utf8").trim().split("\n")).toHaveLength(1);
  });

  it("asks again for a stored reply it rejects (a cache written before replies were checked) and replaces it", async () => {
    const cache = RequestCache.open(cachePath);
    cache.put(request("a", "interpreter"), { content: "garbled", usage: { promptTokens: 1, completionTokens: 1 }, model: "m", cached: false }, `openai:${server.baseURL}`);
    const c = new CachedLlmClient(rawClient(), cache, { accept: (_r, content) => content.startsWith("echo") });
    expect(await c.complete(request("a", "interpreter"))).toMatchObject({ content: "echo: a", cached: false });
    expect(await c.complete(request("a", "interpreter"))).toMatchObject({ content: "echo: a", cached: true });
    await c.close();
    expect(RequestCache.open(cachePath).get(request("a", "interpreter"), `openai:${server.baseURL}`)?.content).toBe("echo: a");
  });
});
