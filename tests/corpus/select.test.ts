/**
 * Tests for src/corpus/select.ts: category prefix matching, inclusive date ranges, dedupe, domain overlap
 * policies and the determinism of the stratified sample (same seed → same sample, whatever the input order).
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import type { Doc } from "../../src/corpus/document.js";
import {
  categoryHasPrefix,
  dedupeById,
  selectCorpus,
  docFilter,
  docTexts,
  domainsOf,
  filterDocs,
  filterStream,
  hasAnyCategory,
  inDateRange,
  sampleDocs,
  stratifiedSample,
  stratumOf,
} from "../../src/corpus/select.js";
import { PAPER_DOMAINS, CorpusSampleConfig } from "../../src/corpus/config.js";
import { repoPath } from "../../src/io/paths.js";

const doc = (id: string, categories: string[], date?: string): Doc => ({
  id,
  title: `title ${id}`,
  abstract: `abstract ${id}`,
  categories,
  ...(date === undefined ? {} : { date }),
});

const small: Doc[] = [
  doc("a", ["astro-ph.GA"], "2025-01-01"),
  doc("b", ["cs.LG", "stat.ML"], "2025-01-02"),
  doc("c", ["astro-ph.IM", "cs.LG"], "2025-01-03"),
  doc("d", ["cs.CV"], "2025-01-04"),
  doc("e", ["astro-ph"]),
  doc("f", ["cs.LO"], "2025-01-05"),
];

describe("filters", () => {
  it("matches category prefixes on whole dotted parts", () => {
    expect(categoryHasPrefix("astro-ph.GA", "astro-ph")).toBe(true);
    expect(categoryHasPrefix("astro-ph", "astro-ph")).toBe(true);
    expect(categoryHasPrefix("cs.LG", "cs")).toBe(true);
    expect(categoryHasPrefix("cs.LG", "cs.L")).toBe(false);
    expect(categoryHasPrefix("cs.LO", "cs.LG")).toBe(false);
    expect(categoryHasPrefix("astro-phx.GA", "astro-ph")).toBe(false);
  });

  it("keeps documents with any wanted category, prefix or exact", () => {
    const ids = (f: Parameters<typeof filterDocs>[1]): string[] => filterDocs(small, f).map((d) => d.id);
    expect(ids({ categories: ["astro-ph"] })).toEqual(["a", "c", "e"]);
    expect(ids({ categories: ["astro-ph"], categoryMatch: "exact" })).toEqual(["e"]);
    expect(ids({ categories: ["cs.LG", "cs.CV"] })).toEqual(["b", "c", "d"]);
    expect(ids({ categories: ["cs"] })).toEqual(["b", "c", "d", "f"]);
    expect(ids({})).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(hasAnyCategory(small[0]!, [])).toBe(false);
  });

  it("filters dates inclusively at both ends; undated documents fail a set range", () => {
    const ids = filterDocs(small, { from: "2025-01-02", to: "2025-01-04" }).map((d) => d.id);
    expect(ids).toEqual(["b", "c", "d"]);
    expect(filterDocs(small, { from: "2025-01-05" }).map((d) => d.id)).toEqual(["f"]);
    expect(filterDocs(small, { to: "2025-01-01" }).map((d) => d.id)).toEqual(["a"]);
    expect(inDateRange(small[4]!)).toBe(true);
    expect(inDateRange(small[4]!, "2000-01-01")).toBe(false);
  });

  it("combines category and date filters and validates the filter config", () => {
    const keep = docFilter({ categories: ["cs.LG"], from: "2025-01-03" });
    expect(small.filter(keep).map((d) => d.id)).toEqual(["c"]);
    expect(() => docFilter({ from: "2025-02-01", to: "2025-01-01" })).toThrow(/from must not be after to/);
    expect(() => docFilter({ from: "2025-13-45" })).toThrow();
    expect(() => docFilter({ from: "2025/01/01" })).toThrow(/YYYY-MM-DD/);
  });

  it("streams through the same filter", async () => {
    const out: string[] = [];
    for await (const d of filterStream(small, { categories: ["astro-ph"], to: "2025-01-02" })) out.push(d.id);
    expect(out).toEqual(["a"]);
  });

  it("dedupes by id, keeping the first, and counts duplicates", () => {
    const docs = [doc("x", ["cs.LG"]), doc("y", ["cs.LG"]), { ...doc("x", ["cs.CV"]), title: "second" }, doc("x", [])];
    const { docs: unique, duplicates } = dedupeById(docs);
    expect(unique.map((d) => [d.id, d.categories])).toEqual([
      ["x", ["cs.LG"]],
      ["y", ["cs.LG"]],
    ]);
    expect(duplicates).toBe(2);
  });

  it("builds the paper's text per document", () => {
    expect(docTexts([small[0]!])).toEqual(["title a\n\nabstract a"]);
  });
});

describe("domains", () => {
  it("lists every domain a document is in and applies the overlap policy", () => {
    expect(domainsOf(small[2]!, PAPER_DOMAINS)).toEqual(["astro-ph", "cs.LG"]);
    expect(domainsOf(small[3]!, PAPER_DOMAINS)).toEqual([]);
    const cfg = CorpusSampleConfig.parse({});
    expect(stratumOf(small[2]!, { ...cfg, overlap: "exclude" })).toBeUndefined();
    expect(stratumOf(small[2]!, { ...cfg, overlap: "first" })).toBe("astro-ph");
    expect(stratumOf(small[2]!, { ...cfg, overlap: "separate" })).toBe("both");
    expect(stratumOf(small[1]!, cfg)).toBe("cs.LG");
    expect(stratumOf(small[3]!, cfg)).toBeUndefined();
  });
});

describe("stratifiedSample", () => {
  // 300 astro-ph, 200 cs.LG, 40 in both, 100 in neither; ids zero-padded so id order is creation order.
  const corpus: Doc[] = [];
  const pad = (i: number): string => String(i).padStart(4, "0");
  for (let i = 0; i < 640; i++) {
    const cats = i < 300 ? ["astro-ph.CO"] : i < 500 ? ["cs.LG"] : i < 540 ? ["astro-ph.HE", "cs.LG"] : ["cs.CV"];
    corpus.push(doc(pad(i), cats));
  }
  const ids = (docs: Doc[]): string[] => docs.map((d) => d.id);

  it("draws exactly perDomain per domain, excluding overlap by default", () => {
    const s = stratifiedSample(corpus, { perDomain: 50, seed: 7 });
    expect(s.counts).toEqual({ "astro-ph": 50, "cs.LG": 50 });
    expect(s.available).toEqual({ "astro-ph": 300, "cs.LG": 200 });
    expect(s.docs).toHaveLength(100);
    expect(s.labels.filter((l) => l === "astro-ph")).toHaveLength(50);
    for (let i = 0; i < s.docs.length; i++) {
      const d = s.docs[i]!;
      expect(domainsOf(d, PAPER_DOMAINS)).toEqual([s.labels[i]]); // never a cross-listed paper
    }
    expect(new Set(ids(s.docs)).size).toBe(100);
    // id-sorted within each stratum
    expect(ids(s.docs.slice(0, 50))).toEqual([...ids(s.docs.slice(0, 50))].sort());
  });

  it("is deterministic: same seed same sample, any input order; another seed differs", () => {
    const a = stratifiedSample(corpus, { perDomain: 50, seed: 7 });
    const shuffled = new Rng(123).shuffleInPlace(corpus.slice());
    const b = stratifiedSample(shuffled, { perDomain: 50, seed: 7 });
    expect(ids(b.docs)).toEqual(ids(a.docs));
    expect(b.labels).toEqual(a.labels);
    const c = stratifiedSample(corpus, { perDomain: 50, seed: 8 });
    expect(ids(c.docs)).not.toEqual(ids(a.docs));
    const str = stratifiedSample(corpus, { perDomain: 50, seed: "paper" });
    expect(ids(stratifiedSample(corpus, { perDomain: 50, seed: "paper" }).docs)).toEqual(ids(str.docs));
  });

  it("leaves one domain's sample unchanged when another domain is added", () => {
    const one = stratifiedSample(corpus, { domains: { "astro-ph": ["astro-ph"] }, perDomain: 30, seed: 1 });
    const two = stratifiedSample(corpus, { domains: { "astro-ph": ["astro-ph"], "cs.CV": ["cs.CV"] }, perDomain: 30, seed: 1 });
    expect(ids(two.docs.slice(0, 30))).toEqual(ids(one.docs));
    expect(two.counts).toEqual({ "astro-ph": 30, "cs.CV": 30 });
  });

  it("handles overlap as first-listed or as its own stratum", () => {
    const first = stratifiedSample(corpus, { perDomain: 1000, overlap: "first" });
    expect(first.available).toEqual({ "astro-ph": 340, "cs.LG": 200 });
    const reversed = stratifiedSample(corpus, { domains: { "cs.LG": ["cs.LG"], "astro-ph": ["astro-ph"] }, perDomain: 1000, overlap: "first" });
    expect(reversed.available).toEqual({ "cs.LG": 240, "astro-ph": 300 });
    const separate = stratifiedSample(corpus, { perDomain: 25, overlap: "separate", seed: 3 });
    expect(separate.counts).toEqual({ "astro-ph": 25, "cs.LG": 25, both: 25 });
    expect(separate.available).toEqual({ "astro-ph": 300, "cs.LG": 200, both: 40 });
    expect(separate.labels.slice(-25).every((l) => l === "both")).toBe(true);
    expect(() => stratifiedSample(corpus, { overlap: "separate", overlapLabel: "cs.LG" })).toThrow(/overlapLabel/);
  });

  it("gives a small domain all it has", () => {
    const s = stratifiedSample(corpus, { perDomain: 250, seed: 0 });
    expect(s.counts).toEqual({ "astro-ph": 250, "cs.LG": 200 });
    expect(ids(s.docs.slice(250))).toEqual(ids(corpus.slice(300, 500)));
  });

  it("samples uniformly and deterministically", () => {
    const a = sampleDocs(corpus, 10, 5);
    expect(ids(a)).toEqual(ids(sampleDocs(corpus, 10, 5)));
    expect(ids(a)).not.toEqual(ids(sampleDocs(corpus, 10, 6)));
    expect(sampleDocs(small, 100, 0)).toHaveLength(small.length);
  });
});

describe("selectCorpus", () => {
  it("loads, filters and samples a fixture in one call", async () => {
    const path = repoPath("tests", "fixtures", "corpus", "docs.jsonl");
    const sel = await selectCorpus({
      source: { path },
      filter: { categories: ["astro-ph", "cs.LG"], from: "2025-01-01", to: "2025-01-04" },
      sample: { perDomain: 5, overlap: "separate" },
    });
    expect(sel.report).toEqual({ read: 7, kept: 4, malformed: 0, duplicates: 1, short: 1, empty: 1 });
    expect(sel.filtered).toBe(2); // 2501.00003 (2025-01-05) is out of range; 2501.00006 is cs.CV
    expect(sel.docs.map((d) => d.id)).toEqual(["2501.00001", "2501.00002"]);
    expect(sel.labels).toEqual(["astro-ph", "cs.LG"]);
    expect(sel.counts).toEqual({ "astro-ph": 1, "cs.LG": 1, both: 0 });
    expect(sel.config.source.minAbstractChars).toBe(100);
    await expect(selectCorpus({ source: { path }, sample: { perDomain: -1 } })).rejects.toThrow(/invalid corpus config/);
  });
});
