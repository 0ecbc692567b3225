/**
 * The local OpenAI-compatible test server's embeddings route: usage counted with the model's tokenizer,
 * and an input over text-embedding-3's 8191 tokens refused with a 400 as the API does (METHOD.md §1), so
 * the embedder's truncation is tested against a server that would catch a miss.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type OpenAITestServer, startOpenAIServer } from "../helpers/openai-server.js";

let server: OpenAITestServer;
beforeEach(async () => {
  server = await startOpenAIServer();
});
afterEach(async () => {
  await server.close();
});

async function embed(input: string[], model = "text-embedding-3-small"): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.baseURL}/embeddings`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, input, dimensions: 4, encoding_format: "float" }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("local OpenAI server: /v1/embeddings", () => {
  it("reports usage in the model's tokens: cl100k for text-embedding-3-small, the heuristic otherwise", async () => {
    // "hello world" is 2 cl100k tokens, "tiktoken is great!" 6 (the tiktoken cookbook).
    expect((await embed(["hello world", "tiktoken is great!"])).body.usage).toEqual({ prompt_tokens: 8, total_tokens: 8 });
    // Unknown model: ceil(11 / 4) + ceil(18 / 4) = 3 + 5.
    expect((await embed(["hello world", "tiktoken is great!"], "local-model")).body.usage).toEqual({ prompt_tokens: 8, total_tokens: 8 });
    expect((await embed(["abcde"], "local-model")).body.usage).toEqual({ prompt_tokens: 2, total_tokens: 2 });
    expect((await embed(["abcde"])).body.usage).toEqual({ prompt_tokens: 2, total_tokens: 2 });
  });

  it("refuses an input over 8191 tokens, accepts one of exactly 8191", async () => {
    const words = (n: number): string => Array.from({ length: n }, () => "hello world").join(" "); // 2n tokens
    const over = await embed(["short", `${words(4095)} hello world`]); // 8192 tokens
    expect(over.status).toBe(400);
    expect(JSON.stringify(over.body)).toMatch(/maximum context length is 8192 tokens, however you requested 8192 tokens \(input 1\)/);
    const exact = await embed([`${words(4095)} hello`]); // 8190 + 1 = 8191 tokens
    expect(exact.status).toBe(200);
    expect(exact.body.usage).toEqual({ prompt_tokens: 8191, total_tokens: 8191 });
  });
});
