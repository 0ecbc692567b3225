/**
 * Tests for src/embed/embedder-id.ts: the dimension every provider's id names, and none for an unknown one.
 */
import { describe, expect, it } from "vitest";
import { embedderIdDim } from "../../src/embed/embedder-id.js";

describe("embedderIdDim", () => {
  it("reads D from each provider's id", () => {
    expect(embedderIdDim("use-lite:512")).toBe(512);
    expect(embedderIdDim("openai:text-embedding-3-small:1536")).toBe(1536);
    expect(embedderIdDim("openai:text-embedding-3-small:256@localhost:8080")).toBe(256);
    expect(embedderIdDim("transformers:Xenova/all-MiniLM-L6-v2:384:mean+l2")).toBe(384);
    expect(embedderIdDim("npy:text-embedding-3-small:1536")).toBe(1536);
    expect(embedderIdDim("bench:instant:64")).toBe(64);
  });

  it("says nothing for ids of no known provider", () => {
    expect(embedderIdDim("fake:rng:4")).toBeUndefined();
    expect(embedderIdDim("use-lite")).toBeUndefined();
  });
});
