/**
 * Token counts: the model → encoding table, golden ids and counts from OpenAI's tiktoken cookbook, the
 * labelled heuristic for unknown models, chat overhead, and truncation to a token limit (METHOD.md §1's
 * 8191 for text-embedding-3-*) that keeps a prefix, never splits a character and fits exactly.
 */
import { describe, expect, it } from "vitest";
import {
  countChatTokens,
  countTokens,
  encodeTokens,
  encodingForModel,
  heuristicTokens,
  truncateToTokens,
} from "../../src/tokenizer/tokens.js";

describe("encodingForModel", () => {
  it("cl100k for embeddings, gpt-4 and gpt-3.5; o200k for gpt-4o, 4.1, 5 and the o-series; nothing else", () => {
    const table = Object.fromEntries(
      [
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
        "gpt-4",
        "gpt-4-turbo",
        "gpt-3.5-turbo",
        "gpt-4o",
        "gpt-4o-mini",
        "openai/gpt-4o-mini",
        "GPT-4.1-nano",
        "gpt-5-mini",
        "o1",
        "o3-mini",
        "o4-mini",
        "llama-3-8b",
        "test-model",
        "o1x",
      ].map((m) => [m, encodingForModel(m) ?? "none"]),
    );
    expect(table).toEqual({
      "text-embedding-3-small": "cl100k_base",
      "text-embedding-3-large": "cl100k_base",
      "text-embedding-ada-002": "cl100k_base",
      "gpt-4": "cl100k_base",
      "gpt-4-turbo": "cl100k_base",
      "gpt-3.5-turbo": "cl100k_base",
      "gpt-4o": "o200k_base",
      "gpt-4o-mini": "o200k_base",
      "openai/gpt-4o-mini": "o200k_base",
      "GPT-4.1-nano": "o200k_base",
      "gpt-5-mini": "o200k_base",
      o1: "o200k_base",
      "o3-mini": "o200k_base",
      "o4-mini": "o200k_base",
      "llama-3-8b": "none",
      "test-model": "none",
      o1x: "none",
    });
  });
});

describe("exact counts (golden values from the tiktoken cookbook)", () => {
  it("cl100k_base ids", () => {
    expect(encodeTokens("hello world", "cl100k_base")).toEqual([15339, 1917]);
    expect(encodeTokens("tiktoken is great!", "cl100k_base")).toEqual([83, 1609, 5963, 374, 2294, 0]);
  });

  it("counts differ by encoding as the cookbook's comparison lists them", () => {
    const rows = ["antidisestablishmentarianism", "2 + 2 = 4", "お誕生日おめでとう"].map((t) => [
      countTokens(t, "text-embedding-3-small").tokens,
      countTokens(t, "gpt-4o").tokens,
    ]);
    expect(rows).toEqual([
      [6, 6],
      [7, 7],
      [9, 8],
    ]);
    expect(countTokens("x", "gpt-4o")).toEqual({ tokens: 1, counting: "o200k_base", exact: true });
  });

  it("special-token strings are plain text, not an error", () => {
    const c = countTokens("<|endoftext|> hi", "text-embedding-3-small");
    expect(c.exact).toBe(true);
    expect(c.tokens).toBeGreaterThan(2);
  });
});

describe("the heuristic (unknown models)", () => {
  it("is ceil(UTF-8 bytes / 4) and says it is approximate", () => {
    // "abcde" 5 bytes → 2; "é" 2 bytes → 1; "お誕生日" 4 × 3 bytes → 3; "" → 0.
    expect(countTokens("abcde", "llama-3")).toEqual({ tokens: 2, counting: "heuristic", exact: false });
    expect(["", "é", "お誕生日", "x".repeat(400)].map(heuristicTokens)).toEqual([0, 1, 3, 100]);
  });
});

describe("countChatTokens", () => {
  it("adds 3 per message plus its role and content, and 3 for the reply", () => {
    const messages = [
      { role: "system", content: "be brief" },
      { role: "user", content: "hello world" },
    ];
    const n = (t: string): number => encodeTokens(t, "o200k_base").length;
    expect(countChatTokens(messages, "gpt-4o-mini")).toEqual({
      tokens: 3 + (3 + n("system") + n("be brief")) + (3 + n("user") + 2),
      counting: "o200k_base",
      exact: true,
    });
    // Heuristic: 3 + (3 + ceil(6/4) + ceil(8/4)) + (3 + ceil(4/4) + ceil(11/4)) = 3 + 7 + 7 = 17.
    expect(countChatTokens(messages, "local-llm")).toEqual({ tokens: 17, counting: "heuristic", exact: false });
  });
});

describe("truncateToTokens", () => {
  it("keeps a text that fits untouched", () => {
    expect(truncateToTokens("short text", 8191, "text-embedding-3-small")).toEqual({
      text: "short text",
      tokens: 2,
      counting: "cl100k_base",
      exact: true,
      truncated: false,
    });
  });

  it("cuts an OpenAI model's text to exactly maxTokens, as a prefix", () => {
    const text = Array.from({ length: 400 }, (_, i) => `word${i} sparse autoencoder feature`).join(" ");
    expect(countTokens(text, "text-embedding-3-small").tokens).toBeGreaterThan(1000);
    const r = truncateToTokens(text, 1000, "text-embedding-3-small");
    expect(r.truncated).toBe(true);
    expect(r.tokens).toBe(1000);
    expect(countTokens(r.text, "text-embedding-3-small").tokens).toBe(1000);
    expect(text.startsWith(r.text)).toBe(true);
  });

  it("never leaves half a character where a token boundary falls inside one", () => {
    // Emoji and CJK take several bytes and cl100k often splits one across tokens.
    const text = "😀お誕生日🎉".repeat(200);
    for (const max of [1, 2, 3, 7, 50, 333]) {
      const r = truncateToTokens(text, max, "text-embedding-3-small");
      expect(text.startsWith(r.text)).toBe(true);
      expect(r.text).not.toMatch(/\uFFFD/);
      expect(r.text).not.toMatch(/[\uD800-\uDBFF]$/);
      expect(r.tokens).toBeLessThanOrEqual(max);
      expect(countTokens(r.text, "text-embedding-3-small").tokens).toBe(r.tokens);
    }
  });

  it("cuts an unknown model's text at 4 · maxTokens bytes on a code-point boundary", () => {
    expect(truncateToTokens("a".repeat(100), 10, "local").text).toBe("a".repeat(40));
    const r = truncateToTokens("a😀bcdefgh", 1, "local"); // 4 bytes: "a" + the 4-byte emoji does not fit
    expect(r).toEqual({ text: "a", tokens: 1, counting: "heuristic", exact: false, truncated: true });
  });
});
