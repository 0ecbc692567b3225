/**
 * Tests for the OpenAI embeddings provider against the scripted local server (tests/helpers/openai-server):
 * wire decoding, batching, ordering under concurrency, retries (429 + Retry-After, 5xx, hangs, malformed
 * JSON), reply validation, truncation, and the API-key rule. No network; small delays only.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { SaerchError } from "../../src/core/errors.js";
import {
  createOpenAIEmbedder,
  decodeBase64Float32,
  EmbedRequestError,
  planBatches,
  type OpenAIEmbedOptionsInput,
} from "../../src/embed/openai.js";
import { RetriesExhaustedError } from "../../src/net/retry.js";
import { countTokens } from "../../src/tokenizer/tokens.js";
import { encodeBase64Float32, hashEmbedding, type OpenAITestServer, startOpenAIServer } from "../helpers/openai-server.js";

const ROUTE = "/v1/embeddings";
const D = 8;

let server: OpenAITestServer;

beforeEach(async () => {
  server = await startOpenAIServer();
});
afterEach(async () => {
  await server.close();
});

/** A local embedder with fast retries (1 ms backoff) and D = 8. */
function local(opts: OpenAIEmbedOptionsInput = {}): ReturnType<typeof createOpenAIEmbedder> {
  return createOpenAIEmbedder({
    baseURL: server.baseURL,
    apiKeyEnv: "SAERCH_TEST_UNSET_KEY",
    dimensions: D,
    initialBackoffMs: 1,
    maxBackoffMs: 5,
    ...opts,
  });
}

function texts(n: number, prefix = "doc"): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix} ${i}: sparse autoencoders on embeddings`);
}

function expectRowsFromHash(outBD: Float32Array, input: string[], dim: number): void {
  expect(outBD.length).toBe(input.length * dim);
  for (let i = 0; i < input.length; i++) {
    expect(Array.from(outBD.subarray(i * dim, (i + 1) * dim))).toEqual(Array.from(hashEmbedding(input[i]!, dim)));
  }
}

function inputsOf(i: number): string[] {
  return (server.requestsTo(ROUTE)[i]!.body as { input: string[] }).input;
}

describe("wire decoding", () => {
  it("decodes base64 little-endian float32 exactly", () => {
    // 1.0f = 0x3F800000 → LE bytes 00 00 80 3F; -2.0f = 0xC0000000 → 00 00 00 C0; base64 of the 8 bytes.
    expect(Array.from(decodeBase64Float32("AACAPwAAAMA="))).toEqual([1, -2]);
    // 0.1f = 0x3DCCCCCD → LE CD CC CC 3D = "zczMPQ=="
    expect(decodeBase64Float32("zczMPQ==")[0]).toBe(Math.fround(0.1));
    const v = Float32Array.from([0.5, -1e-20, 3.4e38, Math.fround(Math.PI)]);
    expect(Array.from(decodeBase64Float32(encodeBase64Float32(v)))).toEqual(Array.from(v));
    expect(() => decodeBase64Float32("AAAAAAA=")).toThrow(/5 bytes, not a multiple of 4/);
    expect(() => decodeBase64Float32("AACA?wAA")).toThrow(/not base64/);
  });

  it("base64 and float replies both give the server's vectors bit-exact, in order", async () => {
    const input = texts(5);
    for (const encodingFormat of ["base64", "float"] as const) {
      const out = await local({ encodingFormat }).embed(input);
      expectRowsFromHash(out, input, D);
    }
    const bodies = server.requestsTo(ROUTE).map((r) => r.body as Record<string, unknown>);
    expect(bodies.map((b) => b.encoding_format)).toEqual(["base64", "float"]);
    expect(bodies[0]).toMatchObject({ model: "text-embedding-3-small", dimensions: D, input });
  });

  it("goes through the openai SDK (its user agent), its own retries off: one request per attempt", async () => {
    await local().embed(["x"]);
    expect(server.requests[0]!.headers["user-agent"]).toMatch(/^OpenAI\/JS /);
    expect(server.requests[0]!.headers["x-stainless-retry-count"]).toBe("0");
  });

  it("sends no `dimensions` when not configured and uses the model's native D", async () => {
    const e = createOpenAIEmbedder({ baseURL: server.baseURL, model: "text-embedding-3-large" });
    expect(e.dim).toBe(3072);
    const out = await e.embed(["one text"]);
    expectRowsFromHash(out, ["one text"], 3072);
    expect(server.requests[0]!.body).not.toHaveProperty("dimensions");
  });
});

describe("identity and options", () => {
  it("id, dim, normalized, maxBatch", () => {
    process.env.SAERCH_TEST_KEY = "sk-test";
    try {
      const e = createOpenAIEmbedder({ apiKeyEnv: "SAERCH_TEST_KEY" });
      expect([e.id, e.provider, e.model, e.dim, e.normalized, e.maxBatch]).toEqual([
        "openai:text-embedding-3-small:1536",
        "openai",
        "text-embedding-3-small",
        1536,
        true,
        256 * 4,
      ]);
      expect(createOpenAIEmbedder({ apiKeyEnv: "SAERCH_TEST_KEY", dimensions: 256 }).id).toBe(
        "openai:text-embedding-3-small:256",
      );
    } finally {
      delete process.env.SAERCH_TEST_KEY;
    }
    expect(local().id).toMatch(/^openai:text-embedding-3-small:8@127\.0\.0\.1:\d+$/);
  });

  it("rejects bad options with a clear message", () => {
    expect(() => local({ maxBatchInputs: 4096 })).toThrow(/maxBatchInputs/);
    expect(() => local({ maxInputTokens: 8191, maxBatchTokens: 1000 })).toThrow(/must not exceed maxBatchTokens/);
    expect(() => local({ model: "my-model", dimensions: undefined })).toThrow(/set `dimensions` explicitly/);
    expect(() => local({ dimensions: 2000 })).toThrow(/exceeds text-embedding-3-small's native 1536/);
  });

  it("a missing key names the env var, only for OpenAI's own URL", async () => {
    delete process.env.SAERCH_TEST_UNSET_KEY;
    let err: unknown;
    try {
      createOpenAIEmbedder({ apiKeyEnv: "SAERCH_TEST_UNSET_KEY" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SaerchError);
    expect((err as Error).message).toMatch(/environment variable SAERCH_TEST_UNSET_KEY is not set/);
    expect((err as SaerchError).fix).toMatch(/export SAERCH_TEST_UNSET_KEY=/);
    // A local server needs no key, and then no Authorization header is sent.
    await local().embed(["x"]);
    expect(server.requests[0]!.headers.authorization).toBeUndefined();
    process.env.SAERCH_TEST_LOCAL_KEY = "sk-local";
    try {
      await local({ apiKeyEnv: "SAERCH_TEST_LOCAL_KEY" }).embed(["x"]);
    } finally {
      delete process.env.SAERCH_TEST_LOCAL_KEY;
    }
    expect(server.requests[1]!.headers.authorization).toBe("Bearer sk-local");
  });
});

describe("batching", () => {
  it("empty input: empty result, no request", async () => {
    const out = await local().embed([]);
    expect(out.length).toBe(0);
    expect(server.requests.length).toBe(0);
  });

  it("splits by input count", async () => {
    const input = texts(10);
    const progress: number[] = [];
    const out = await local({ maxBatchInputs: 3, concurrency: 1 }).embed(input, (d) => progress.push(d));
    expect(server.requestsTo(ROUTE).map((_, i) => inputsOf(i).length)).toEqual([3, 3, 3, 1]);
    expect(server.requestsTo(ROUTE).flatMap((_, i) => inputsOf(i))).toEqual(input);
    expect(progress).toEqual([3, 6, 9, 10]);
    expectRowsFromHash(out, input, D);
  });

  it("splits by exact tokens (cl100k_base for text-embedding-3-small)", async () => {
    // "hello world" is 2 tokens ([15339, 1917]); each further " hello world" adds 2: n repeats = 2n tokens.
    const input = [5, 5, 10, 1, 15].map((n) => Array.from({ length: n }, () => "hello world").join(" "));
    expect(input.map((t) => countTokens(t, "text-embedding-3-small").tokens)).toEqual([10, 10, 20, 2, 30]);
    // Budget 30 tokens: [10+10] (adding 20 would make 40), [20+2], [30].
    const out = await local({ maxBatchTokens: 30, maxInputTokens: 30, concurrency: 1 }).embed(input);
    expect(server.requestsTo(ROUTE).map((_, i) => inputsOf(i).length)).toEqual([2, 2, 1]);
    expectRowsFromHash(out, input, D);
  });

  it("planBatches covers every index once, within both bounds", () => {
    const rng = new Rng(7);
    const tokensN = Array.from({ length: 200 }, () => 1 + rng.int(50));
    const ranges = planBatches(tokensN, 16, 120);
    let next = 0;
    for (const [s, e] of ranges) {
      expect(s).toBe(next);
      expect(e - s).toBeLessThanOrEqual(16);
      expect(tokensN.slice(s, e).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(120);
      next = e;
    }
    expect(next).toBe(200);
    expect(planBatches([], 4, 10)).toEqual([]);
  });

  it("keeps input order under concurrency with shuffled latencies and reversed `data`", async () => {
    await server.close();
    const rng = new Rng(42);
    server = await startOpenAIServer({ reverseData: true, latencyMs: () => rng.int(40) });
    const input = texts(37, "shuffled");
    const out = await local({ maxBatchInputs: 3, concurrency: 4 }).embed(input);
    expect(server.requests.length).toBe(13);
    expect(server.maxInFlight).toBeGreaterThan(1);
    expect(server.maxInFlight).toBeLessThanOrEqual(4);
    expectRowsFromHash(out, input, D);
  });

  it("truncates a text over 8191 tokens to exactly 8191 (the paper's limit), a prefix of the text", async () => {
    const long = Array.from({ length: 5000 }, () => "hello world").join(" "); // 10,000 tokens
    await local({ maxInputTokens: 8191, maxBatchTokens: 250_000 }).embed([long, "short"]);
    const [sentLong, sentShort] = inputsOf(0);
    expect(countTokens(sentLong!, "text-embedding-3-small")).toEqual({ tokens: 8191, counting: "cl100k_base", exact: true });
    expect(long.startsWith(sentLong!)).toBe(true);
    expect(sentShort).toBe("short");
  });

  it("an unknown model is truncated by the heuristic (4 UTF-8 bytes per token)", async () => {
    await local({ model: "my-model", maxInputTokens: 10, maxBatchTokens: 100 }).embed(["a".repeat(100), "short"]);
    expect(inputsOf(0).map((t) => t.length)).toEqual([40, 5]);
  });

  it("rejects empty texts before sending anything", async () => {
    await expect(local().embed(["ok", ""])).rejects.toThrow(/text 1 is empty/);
    expect(server.requests.length).toBe(0);
  });
});

describe("retries", () => {
  const rateLimited = { status: 429, body: { error: { message: "Rate limit reached", type: "requests" } } };

  it("honours Retry-After in seconds (0.2 s) on 429", async () => {
    server.script(ROUTE, { ...rateLimited, headers: { "retry-after": "0.2" } });
    const out = await local().embed(["a", "b"]);
    expectRowsFromHash(out, ["a", "b"], D);
    const [first, second] = server.requests;
    expect(server.requests.length).toBe(2);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(199);
  });

  it("honours retry-after-ms over retry-after", async () => {
    server.script(ROUTE, { ...rateLimited, headers: { "retry-after-ms": "150", "retry-after": "30" } });
    const t0 = performance.now();
    await local().embed(["a"]);
    const [first, second] = server.requests;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(149);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it("500 then success", async () => {
    server.script(ROUTE, { status: 500, body: { error: { message: "The server had an error" } } });
    const out = await local().embed(["x", "y", "z"]);
    expectRowsFromHash(out, ["x", "y", "z"], D);
    expect(server.requests.length).toBe(2);
  });

  it("a hang past timeoutMs is aborted and retried", async () => {
    server.script(ROUTE, { delayMs: 2000 });
    const t0 = performance.now();
    const out = await local({ timeoutMs: 150 }).embed(["slow"]);
    const elapsed = performance.now() - t0;
    expectRowsFromHash(out, ["slow"], D);
    expect(server.requests.length).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(145);
    expect(elapsed).toBeLessThan(1500);
  });

  it("malformed JSON is retried (a truncated body looks like a transient fault), then succeeds", async () => {
    server.script(ROUTE, { status: 200, body: '{"data": [' });
    const out = await local().embed(["m"]);
    expectRowsFromHash(out, ["m"], D);
    expect(server.requests.length).toBe(2);
  });

  it("persistent malformed JSON rejects after all attempts, naming it", async () => {
    server.script(ROUTE, ...Array.from({ length: 3 }, () => ({ status: 200, body: "<html>proxy error</html>" })));
    const err = await local({ maxRetries: 2 })
      .embed(["m"])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    // The SDK parses the body itself and throws a bare SyntaxError, so the body text is not quotable here.
    expect((err as Error).message).toMatch(/failed after 3 attempts: malformed JSON in the reply from POST .*embeddings/);
    expect(server.requests.length).toBe(3);
  });

  it("retries exhausted: rejects with status, server message and attempts; nothing comes back", async () => {
    // Two requests of 2 texts, one at a time: the first succeeds, the second fails 3 times.
    server.script(ROUTE, { delayMs: 0 }, ...Array.from({ length: 3 }, () => ({ status: 503, body: { error: { message: "overloaded" } } })));
    const progress: number[] = [];
    const err = await local({ maxRetries: 2, maxBatchInputs: 2, concurrency: 1 })
      .embed(texts(4), (d) => progress.push(d))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    const ex = err as RetriesExhaustedError;
    expect(ex.attempts).toBe(3);
    expect(ex.message).toMatch(/request 2 of 2 \(texts 2–3\) failed after 3 attempts: HTTP 503 from POST .*: overloaded/);
    expect((ex.lastError as EmbedRequestError).status).toBe(503);
    expect(progress).toEqual([2]);
    expect(server.requests.length).toBe(4);
  });

  it("4xx other than 429 fails at once with the server's message", async () => {
    server.script(ROUTE, {
      status: 400,
      body: { error: { message: "This model's maximum context length is 8192 tokens", type: "invalid_request_error" } },
    });
    const err = await local().embed(["x"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbedRequestError);
    expect((err as EmbedRequestError).status).toBe(400);
    expect((err as Error).message).toMatch(/failed on attempt 1: HTTP 400 .*maximum context length is 8192 tokens/);
    expect(server.requests.length).toBe(1);
  });

  it("a network error (server gone) is retried, then rejects", async () => {
    const url = server.baseURL;
    await server.close();
    const e = createOpenAIEmbedder({ baseURL: url, dimensions: D, maxRetries: 1, initialBackoffMs: 1 });
    await expect(e.embed(["x"])).rejects.toThrow(/failed after 2 attempts: network error on POST .*Connection error/);
    server = await startOpenAIServer();
  });
});

describe("reply validation (not retried: a wrong shape is a configuration error)", () => {
  const vec = (n: number): number[] => Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 0));
  const cases: [string, unknown, RegExp][] = [
    [
      "wrong dimension",
      { data: [{ index: 0, embedding: vec(D) }, { index: 1, embedding: vec(3) }] },
      /embedding 1 has dimension 3, expected 8/,
    ],
    ["wrong count", { data: [{ index: 0, embedding: vec(D) }] }, /1 embeddings for 2 inputs/],
    [
      "duplicate index",
      { data: [{ index: 1, embedding: vec(D) }, { index: 1, embedding: vec(D) }] },
      /index 1 appears twice/,
    ],
    [
      "index out of range",
      { data: [{ index: 0, embedding: vec(D) }, { index: 2, embedding: vec(D) }] },
      /index 2 is not an integer in \[0, 2\)/,
    ],
    [
      "non-finite value",
      {
        data: [
          { index: 0, embedding: vec(D) },
          { index: 1, embedding: encodeBase64Float32(Float32Array.from([1, NaN, 0, 0, 0, 0, 0, 0])) },
        ],
      },
      /embedding 1 has a non-finite value at 1/,
    ],
    [
      "zero vector",
      { data: [{ index: 0, embedding: vec(D) }, { index: 1, embedding: new Array(D).fill(0) }] },
      /embedding 1 is all zeros/,
    ],
    ["no data", { object: "list" }, /no `data` array/],
  ];
  it.each(cases)("%s → error", async (_name, body, pattern) => {
    server.script(ROUTE, { status: 200, body });
    const err = await local().embed(["p", "q"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbedRequestError);
    expect((err as Error).message).toMatch(pattern);
    expect(server.requests.length).toBe(1);
  });

  it("a non-unit row from another server is rescaled to unit norm", async () => {
    server.script(ROUTE, { status: 200, body: { data: [{ index: 0, embedding: [3, 4, 0, 0, 0, 0, 0, 0] }] } });
    const out = await local().embed(["r"]);
    expect(Array.from(out)).toEqual([0.6, 0.8, 0, 0, 0, 0, 0, 0].map(Math.fround));
  });
});
