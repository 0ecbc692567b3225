/**
 * OpenAiLlmClient against a real local HTTP server (src/testing/local-openai-server): retries honouring
 * Retry-After, timeouts, malformed and empty replies, errors not retried, the key rules, the concurrency
 * bound, usage. Delays are tens of ms and jitter is fixed (`random: () => 0`), so the file runs in seconds.
 */
import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { RetriesExhaustedError } from "../../src/net/retry.js";
import { LlmConfig, OPENAI_CHAT_BASE_URL } from "../../src/interpret/config.js";
import { countChatTokens, countTokens } from "../../src/tokenizer/tokens.js";
import { hasLlmCredentials, LlmRequestError, type LlmRetryInfo, OpenAiLlmClient } from "../../src/interpret/llm-client.js";
import type { LlmRequest } from "../../src/interpret/types.js";
import { type OpenAITestServer, type RecordedRequest, startOpenAIServer } from "../helpers/openai-server.js";

const CHAT = "/v1/chat/completions";
const KEY_ENV = "SAERCH_TEST_LLM_KEY";

/** A chat-completions body with one choice. */
function chatBody(content: string | null, usage?: { prompt_tokens: number; completion_tokens: number }, model = "m-served"): unknown {
  return {
    id: "chatcmpl-test",
    object: "chat.completion",
    created: 0,
    model,
    choices: [{ index: 0, message: { role: "assistant", content, refusal: null }, finish_reason: "stop" }],
    ...(usage ? { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } } : {}),
  };
}

/** Echo handler: replies "echo: <last user message>" with fixed usage. */
function echo(req: RecordedRequest): { status: number; body: unknown } {
  const body = req.body as { messages: Array<{ content: string }> };
  return { status: 200, body: chatBody(`echo: ${body.messages.at(-1)!.content}`, { prompt_tokens: 11, completion_tokens: 3 }) };
}

function request(text = "hello", role: LlmRequest["role"] = "interpreter"): LlmRequest {
  return { role, model: "test-model", messages: [{ role: "system", content: "be brief" }, { role: "user", content: text }], temperature: 0, maxTokens: 50 };
}

let server: OpenAITestServer;
let retries: LlmRetryInfo[];

/** A client on the test server with small delays and no jitter. */
function client(over: Partial<LlmConfig> = {}): OpenAiLlmClient {
  const cfg = LlmConfig.parse({ baseURL: server.baseURL, apiKeyEnv: KEY_ENV, baseDelayMs: 10, maxDelayMs: 100, maxRetries: 3, timeoutMs: 2000, ...over });
  return new OpenAiLlmClient(cfg, { random: () => 0, onRetry: (info) => retries.push(info) });
}

beforeEach(async () => {
  server = await startOpenAIServer();
  server.setHandler(CHAT, echo);
  retries = [];
});
afterEach(async () => {
  await server.close();
});

describe("OpenAiLlmClient", () => {
  it("sends model, messages, temperature and max_tokens (not the role) and reads content and usage", async () => {
    const c = client();
    const res = await c.complete(request("hi there"));
    expect(res).toEqual({ content: "echo: hi there", usage: { promptTokens: 11, completionTokens: 3 }, model: "m-served", cached: false });
    const [sent] = server.requestsTo(CHAT);
    expect(sent!.body).toMatchObject({ model: "test-model", temperature: 0, max_tokens: 50, messages: request("hi there").messages });
    expect(sent!.body).not.toHaveProperty("role");
    expect(sent!.headers.authorization).toBe("Bearer no-key");
    expect(c.id).toBe(`openai:${server.baseURL}`);
  });

  it("counts usage itself when the server omits it: the heuristic for an unknown model, the tokenizer for gpt-4o-mini", async () => {
    server.script(CHAT, { status: 200, body: chatBody("twelve chars") }, { status: 200, body: chatBody("twelve chars") });
    const res = await client().complete(request("abcdefgh"));
    // "test-model" has no known tokenizer: 3 (reply) + (3 + ceil(6/4) "system" + ceil(8/4) "be brief")
    // + (3 + ceil(4/4) "user" + ceil(8/4) "abcdefgh") = 3 + 7 + 6 = 16; completion ceil(12/4) = 3.
    expect(res.usage).toEqual({ promptTokens: 16, completionTokens: 3 });
    const mini = { ...request("abcdefgh"), model: "gpt-4o-mini" };
    const exact = await client().complete(mini);
    expect(exact.usage).toEqual({
      promptTokens: countChatTokens(mini.messages, "gpt-4o-mini").tokens,
      completionTokens: countTokens("twelve chars", "gpt-4o-mini").tokens,
    });
    expect(countChatTokens(mini.messages, "gpt-4o-mini").exact).toBe(true);
  });

  it("sends the key given in options", async () => {
    const cfg = LlmConfig.parse({ baseURL: server.baseURL, apiKeyEnv: KEY_ENV });
    await new OpenAiLlmClient(cfg, { apiKey: "sk-test-123" }).complete(request());
    expect(server.requests[0]!.headers.authorization).toBe("Bearer sk-test-123");
  });

  it("waits as long as a 429's Retry-After asks, then succeeds", async () => {
    server.script(CHAT, { status: 429, headers: { "retry-after": "0.3" }, body: { error: { message: "slow down" } } });
    const res = await client().complete(request());
    expect(res.content).toBe("echo: hello");
    const [first, second] = server.requestsTo(CHAT);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(280);
    expect(retries).toHaveLength(1);
    expect(retries[0]!.delayMs).toBe(300);
    expect((retries[0]!.error as LlmRequestError).status).toBe(429);
  });

  it("honours OpenAI's retry-after-ms on a 503", async () => {
    server.script(CHAT, { status: 503, headers: { "retry-after-ms": "150" }, body: { error: { message: "overloaded" } } });
    await client().complete(request());
    const [first, second] = server.requestsTo(CHAT);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(140);
  });

  it("retries a 500 with exponential backoff (no Retry-After)", async () => {
    server.script(CHAT, { status: 500, body: { error: { message: "boom" } } }, { status: 502, body: "bad gateway" });
    const res = await client().complete(request());
    expect(res.content).toBe("echo: hello");
    expect(server.requestsTo(CHAT)).toHaveLength(3);
    // backoff = min(100, 10·2^retry)·(0.5 + 0.5·0): 5 ms, then 10 ms
    expect(retries.map((r) => r.delayMs)).toEqual([5, 10]);
  });

  it("abandons a hung request after timeoutMs and retries", async () => {
    server.script(CHAT, { delayMs: 2000, status: 200, body: chatBody("too late") });
    const t0 = performance.now();
    const res = await client({ timeoutMs: 300 }).complete(request());
    const elapsed = performance.now() - t0;
    expect(res.content).toBe("echo: hello");
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1500);
    expect((retries[0]!.error as LlmRequestError).kind).toBe("timeout");
  });

  it("also times out a reply whose headers came but whose body stalls (the SDK's own timeout stops at the headers)", async () => {
    // A bare server: the first reply sends 200 headers and half a body, then nothing; the second is whole.
    let n = 0;
    const sockets = new Set<Socket>();
    const stall = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      if (n++ === 0) res.write('{"choices": [');
      else res.end(JSON.stringify(chatBody("whole")));
    });
    stall.on("connection", (s: Socket) => sockets.add(s));
    await new Promise<void>((resolve) => stall.listen(0, "127.0.0.1", resolve));
    try {
      const cfg = LlmConfig.parse({ baseURL: `http://127.0.0.1:${(stall.address() as AddressInfo).port}/v1`, apiKeyEnv: KEY_ENV, timeoutMs: 300, baseDelayMs: 10 });
      const res = await new OpenAiLlmClient(cfg, { random: () => 0, onRetry: (info) => retries.push(info) }).complete(request());
      expect(res.content).toBe("whole");
      expect(n).toBe(2);
      expect((retries[0]!.error as LlmRequestError).kind).toBe("timeout");
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => stall.close(() => resolve()));
    }
  });

  it("retries a 200 whose body is not JSON (the SDK throws a SyntaxError)", async () => {
    server.script(CHAT, { status: 200, body: '{"choices": [' });
    const res = await client().complete(request());
    expect(res.content).toBe("echo: hello");
    const err = retries[0]!.error as LlmRequestError;
    expect(err.kind).toBe("malformed");
    expect(err.message).toMatch(/not valid JSON/);
  });

  it("retries a reply that is JSON but not a chat completion", async () => {
    server.script(CHAT, { status: 200, body: { hello: "world" } });
    await client().complete(request());
    expect((retries[0]!.error as LlmRequestError).kind).toBe("malformed");
  });

  it("retries empty content and a reply with no choices", async () => {
    server.script(CHAT, { status: 200, body: chatBody("  \n ") }, { status: 200, body: { ...(chatBody("x") as object), choices: [] } }, { status: 200, body: chatBody(null) });
    const res = await client().complete(request());
    expect(res.content).toBe("echo: hello");
    expect(retries.map((r) => (r.error as LlmRequestError).kind)).toEqual(["empty", "empty", "empty"]);
    expect(retries.map((r) => (r.error as Error).name)).toEqual(["EmptyReplyError", "EmptyReplyError", "EmptyReplyError"]);
  });

  it("gives up after maxRetries + 1 attempts with the count and the last error", async () => {
    server.setHandler(CHAT, () => ({ status: 500, body: { error: { message: "the model is on fire" } } }));
    const err = await client({ maxRetries: 2 }).complete(request()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect((err as RetriesExhaustedError).attempts).toBe(3);
    expect((err as Error).message).toMatch(/chat completion \(interpreter, test-model\) .* failed after 3 attempts: .*HTTP 500: "the model is on fire"/);
    expect(server.requestsTo(CHAT)).toHaveLength(3);
  });

  it("does not retry a 401 and names the key's environment variable", async () => {
    server.script(CHAT, { status: 401, body: { error: { message: "Incorrect API key provided: sk-…", type: "invalid_request_error" } } });
    const err = await client().complete(request()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmRequestError);
    expect((err as LlmRequestError).status).toBe(401);
    expect((err as Error).message).toContain('HTTP 401: "Incorrect API key provided: sk-…"');
    expect((err as LlmRequestError).fix).toContain(KEY_ENV);
    expect(server.requestsTo(CHAT)).toHaveLength(1);
    expect(retries).toHaveLength(0);
  });

  it("does not retry a 400 and quotes at most 500 characters of the server's text", async () => {
    server.script(CHAT, { status: 400, body: "x".repeat(2000) });
    const err = (await client().complete(request()).catch((e: unknown) => e)) as LlmRequestError;
    expect(err.status).toBe(400);
    expect(err.serverMessage).toBe(`${"x".repeat(500)}…`);
    expect(server.requestsTo(CHAT)).toHaveLength(1);
  });

  it("refuses to start without a key for OpenAI's URL, naming the variable and the baseline", () => {
    delete process.env[KEY_ENV];
    const cfg = LlmConfig.parse({ apiKeyEnv: KEY_ENV });
    expect(cfg.baseURL).toBe(OPENAI_CHAT_BASE_URL);
    expect(() => new OpenAiLlmClient(cfg)).toThrow(SaerchError);
    expect(() => new OpenAiLlmClient(cfg)).toThrow(new RegExp(`${KEY_ENV}[\\s\\S]*scorer: "baseline"`));
    expect(() => new OpenAiLlmClient(cfg, { apiKey: "sk-x" })).not.toThrow();
  });

  it("hasLlmCredentials: a key, or a base URL other than OpenAI's", () => {
    const openai = LlmConfig.parse({ apiKeyEnv: KEY_ENV });
    const local = LlmConfig.parse({ apiKeyEnv: KEY_ENV, baseURL: "http://127.0.0.1:8080/v1" });
    expect(hasLlmCredentials(openai, {})).toBe(false);
    expect(hasLlmCredentials(openai, { [KEY_ENV]: "" })).toBe(false);
    expect(hasLlmCredentials(openai, { [KEY_ENV]: "sk-1" })).toBe(true);
    expect(hasLlmCredentials(local, {})).toBe(true);
  });

  it("keeps at most `concurrency` requests in flight; the rest queue", async () => {
    await server.close();
    server = await startOpenAIServer({ latencyMs: () => 40 });
    server.setHandler(CHAT, echo);
    const c = client({ concurrency: 3 });
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => c.complete(request(`q${i}`))));
    expect(replies.map((r) => r.content)).toEqual(Array.from({ length: 12 }, (_, i) => `echo: q${i}`));
    expect(server.maxInFlight).toBeLessThanOrEqual(3);
    expect(server.maxInFlight).toBe(3);
  });

  it("stops on abort without retrying, with the signal's reason", async () => {
    server.script(CHAT, { delayMs: 1000, status: 200, body: chatBody("late") });
    const ac = new AbortController();
    const reason = new Error("user stopped");
    setTimeout(() => ac.abort(reason), 50);
    await expect(client().complete(request(), ac.signal)).rejects.toBe(reason);
    expect(server.requestsTo(CHAT)).toHaveLength(1);
  });

  it("does not retry a refusal", async () => {
    server.script(CHAT, { status: 200, body: { ...(chatBody(null) as object), choices: [{ index: 0, message: { role: "assistant", content: null, refusal: "I can't help with that." }, finish_reason: "stop" }] } });
    const err = (await client().complete(request()).catch((e: unknown) => e)) as LlmRequestError;
    expect(err.kind).toBe("refused");
    expect(server.requestsTo(CHAT)).toHaveLength(1);
  });

  it("rejects an invalid request before sending it", async () => {
    const err = (await client().complete({ ...request(), messages: [] }).catch((e: unknown) => e)) as LlmRequestError;
    expect(err.kind).toBe("request");
    expect(server.requests).toHaveLength(0);
  });
});
