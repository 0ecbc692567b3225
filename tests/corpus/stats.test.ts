/**
 * Tests for src/corpus/stats.ts: hand-counted statistics of a five-document corpus, streamed and in memory.
 */
import { describe, expect, it } from "vitest";
import { histogram } from "../../src/core/stats.js";
import type { Doc } from "../../src/corpus/document.js";
import { CorpusStatsAccumulator, corpusStats, corpusStatsOf } from "../../src/corpus/stats.js";

const doc = (id: string, abstractChars: number, categories: string[], date?: string): Doc => ({
  id,
  title: id,
  abstract: "x".repeat(abstractChars),
  categories,
  ...(date === undefined ? {} : { date }),
});

// Lengths 100, 300, 200, 400, 1000: min 100, max 1000, mean 2000/5 = 400, median (sorted 100 200 300 400 1000) 300.
const docs: Doc[] = [
  doc("a", 100, ["astro-ph.GA", "astro-ph.CO"], "2025-03-02"),
  doc("b", 300, ["cs.LG"], "2025-01-31"),
  doc("c", 200, ["astro-ph.IM", "cs.LG"], "2025-02-10"),
  doc("d", 400, ["cs.CV"]),
  doc("e", 1000, ["cs.LG", "cs.CV"], "2025-03-01"),
];

describe("corpusStats", () => {
  it("counts categories, domains, overlap, lengths and the date range", () => {
    const s = corpusStatsOf(docs);
    expect(s.count).toBe(5);
    expect(s.categoryCounts).toEqual({ "cs.LG": 3, "cs.CV": 2, "astro-ph.CO": 1, "astro-ph.GA": 1, "astro-ph.IM": 1 });
    expect(Object.keys(s.categoryCounts)).toEqual(["cs.LG", "cs.CV", "astro-ph.CO", "astro-ph.GA", "astro-ph.IM"]);
    expect(s.domainCounts).toEqual({ "astro-ph": 2, "cs.LG": 3 });
    expect(s.multiDomain).toBe(1);
    expect(s.abstractChars).toEqual({ min: 100, mean: 400, median: 300, max: 1000 });
    expect(Array.from(s.abstractLengthsN)).toEqual([100, 300, 200, 400, 1000]);
    expect(s.dateRange).toEqual({ from: "2025-01-31", to: "2025-03-02" });
    expect(s.undated).toBe(1);
    const h = histogram(s.abstractLengthsN, { bins: 9, min: 100, max: 1000 });
    expect(Array.from(h.counts)).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 1]);
  });

  it("gives the same result streamed, with custom domains, and handles an empty corpus", async () => {
    async function* stream(): AsyncGenerator<Doc> {
      for (const d of docs) yield d;
    }
    const streamed = await corpusStats(stream());
    expect(streamed).toEqual(corpusStatsOf(docs));
    const custom = corpusStatsOf(docs, { vision: ["cs.CV"], cs: ["cs"] });
    expect(custom.domainCounts).toEqual({ vision: 2, cs: 4 });
    expect(custom.multiDomain).toBe(2);
    const empty = new CorpusStatsAccumulator().result();
    expect(empty.count).toBe(0);
    expect(empty.abstractChars).toBeUndefined();
    expect(empty.dateRange).toBeUndefined();
    expect(empty.domainCounts).toEqual({ "astro-ph": 0, "cs.LG": 0 });
  });

  it("grows past its initial buffer", () => {
    const acc = new CorpusStatsAccumulator();
    for (let i = 0; i < 3000; i++) acc.add(doc(String(i), (i % 7) + 1, ["cs.LG"]));
    const s = acc.result();
    expect(s.abstractLengthsN).toHaveLength(3000);
    expect(s.abstractLengthsN[2999]).toBe((2999 % 7) + 1);
    expect(s.abstractChars!.max).toBe(7);
  });
});
