/**
 * Tests for src/interpret/report.ts (METHOD.md §4): table titles, the SAE-size ladder, the comparison with
 * the paper's SAE16 / SAE32 / SAE64 mean Pearson, and the example-feature table (clean features first,
 * picks spread over the ranking).
 */
import { describe, expect, it } from "vitest";
import { CleanConfig } from "../../src/interpret/config.js";
import { exampleFeatureRows, interpretPaperRows, labelTermCoverage, paperComparisonRows, sizeLadder, titleOf } from "../../src/interpret/report.js";
import type { LabelRecord } from "../../src/interpret/types.js";
import { labelRecord } from "../helpers/label-record.js";

describe("titleOf", () => {
  it("keeps the first paragraph with whitespace collapsed", () => {
    expect(titleOf("Weak  lensing\nof galaxy\tclusters\n\nWe measure the shear of …")).toBe("Weak lensing of galaxy clusters");
    expect(titleOf("  A title  ")).toBe("A title");
    expect(titleOf("Only a title")).toBe("Only a title");
  });

  it("truncates past maxChars with an ellipsis, the result exactly maxChars long", () => {
    expect(titleOf("abcdefghij\n\nabstract", 10)).toBe("abcdefghij");
    expect(titleOf("abcdefghijk\n\nabstract", 10)).toBe("abcdefghi…");
    expect(titleOf("abcdefghijk", 10)).toHaveLength(10);
    // Default: 90 characters.
    const long = "x".repeat(200);
    expect(titleOf(long)).toBe(`${"x".repeat(89)}…`);
    expect(titleOf("y".repeat(90))).toBe("y".repeat(90));
  });
});

describe("sizeLadder", () => {
  it("pairs the i-th smallest n with the i-th smallest k", () => {
    expect(sizeLadder([3072, 6144, 9216], [16, 32, 64])).toEqual([
      { n: 3072, k: 16 },
      { n: 6144, k: 32 },
      { n: 9216, k: 64 },
    ]);
    expect(sizeLadder([4096, 1024, 2048], [64, 16, 32])).toEqual([
      { n: 1024, k: 16 },
      { n: 2048, k: 32 },
      { n: 4096, k: 64 },
    ]);
  });

  it("dedupes, and stops at the shorter list", () => {
    expect(sizeLadder([1024, 1024, 2048, 2048], [16, 16, 32])).toEqual([
      { n: 1024, k: 16 },
      { n: 2048, k: 32 },
    ]);
    expect(sizeLadder([1024, 2048, 4096, 8192], [32, 16])).toEqual([
      { n: 1024, k: 16 },
      { n: 2048, k: 32 },
    ]);
    expect(sizeLadder([1024], [16, 32, 64])).toEqual([{ n: 1024, k: 16 }]);
    expect(sizeLadder([], [16])).toEqual([]);
  });
});

describe("paperComparisonRows", () => {
  const PAPER_COL = "mean Pearson (paper, GPT-4o → GPT-4o-mini)";
  const rung = (domain: string, n: number, k: number, meanPearson: number | undefined, meanF1: number | undefined = 0.5) => ({
    domain,
    n,
    k,
    meanPearson,
    meanF1,
    scorer: "baseline",
  });

  it("puts rung i beside the paper's i-th SAE, per domain, in n order", () => {
    const rows = paperComparisonRows([
      rung("astro-ph", 2048, 32, 0.41),
      rung("cs.LG", 1024, 16, 0.3),
      rung("astro-ph", 1024, 16, 0.45, 0.6),
      rung("astro-ph", 4096, 64, 0.38),
      rung("cs.LG", 2048, 32, 0.28),
      rung("cs.LG", 4096, 64, 0.25),
    ]);
    expect(rows.map((r) => [r.domain, r["our SAE"], r["paper SAE"], r[PAPER_COL]])).toEqual([
      ["astro-ph", "n 1024, k 16", "SAE16 (n 3072, k 16)", "0.74"],
      ["astro-ph", "n 2048, k 32", "SAE32 (n 6144, k 32)", "0.67"],
      ["astro-ph", "n 4096, k 64", "SAE64 (n 9216, k 64)", "0.67"],
      ["cs.LG", "n 1024, k 16", "SAE16 (n 3072, k 16)", "0.56"],
      ["cs.LG", "n 2048, k 32", "SAE32 (n 6144, k 32)", "0.52"],
      ["cs.LG", "n 4096, k 64", "SAE64 (n 9216, k 64)", "0.48"],
    ]);
    expect(rows[0]).toEqual({
      domain: "astro-ph",
      "our SAE": "n 1024, k 16",
      scorer: "baseline",
      "mean Pearson (ours)": "0.450",
      "mean F1 (ours)": "0.600",
      "paper SAE": "SAE16 (n 3072, k 16)",
      [PAPER_COL]: "0.74",
    });
  });

  it("writes 'undefined' for missing means and '—' beyond the paper's three SAEs or outside its domains", () => {
    const rows = paperComparisonRows([
      { ...rung("astro-ph", 1024, 16, undefined), meanF1: undefined },
      rung("astro-ph", 2048, 16, 0.5),
      rung("astro-ph", 2048, 32, 0.5),
      rung("astro-ph", 8192, 128, 0.123456),
      rung("hep-th", 512, 8, 0.2),
    ]);
    expect(rows).toHaveLength(5);
    expect(rows[0]).toMatchObject({ "mean Pearson (ours)": "undefined", "mean F1 (ours)": "undefined", [PAPER_COL]: "0.74" });
    // Same n: ordered by k.
    expect(rows.slice(1, 3).map((r) => r["our SAE"])).toEqual(["n 2048, k 16", "n 2048, k 32"]);
    expect(rows[3]).toMatchObject({ "our SAE": "n 8192, k 128", "mean Pearson (ours)": "0.123", "paper SAE": "—", [PAPER_COL]: "—" });
    expect(rows[4]).toMatchObject({ domain: "hep-th", "paper SAE": "SAE16 (n 3072, k 16)", [PAPER_COL]: "—" });
    expect(paperComparisonRows([])).toEqual([]);
  });
});

describe("exampleFeatureRows", () => {
  const clean = CleanConfig.parse({});
  const rec = (feature: number, over: Partial<LabelRecord> = {}): LabelRecord =>
    labelRecord(feature, {
      label: `label ${feature}`,
      f1: 1,
      examples: { top: [`t${feature}a`, `t${feature}b`, `t${feature}c`, `t${feature}d`, `t${feature}e`], zero: ["z"], heldOut: ["h"] },
      models: { interpreter: "baseline:contrastive-terms", predictor: "baseline:label-similarity(x)" },
      scorer: "baseline",
      ...over,
    });
  const titleOfId = (id: string): string => `Title of ${id}`;

  it("prefers clean features, best first, with the titles of the first three shown top abstracts", () => {
    const records = [
      rec(0, { pearson: 0.99, label: "dark matter halos" }), // clean, the best
      rec(1, { pearson: 0.85, label: "exoplanet atmospheres" }), // clean
      rec(2, { pearson: 0.95, label: "gravitational lensing", density: 0.5 }), // dense: not clean
      rec(3, { pearson: 0.5, label: "galaxies" }), // low pearson: not clean
      rec(4, { pearson: 0.92, f1: 0.9, label: "fast radio bursts" }), // clean
      rec(5, { status: "too-rare", label: null, pearson: null, f1: null }),
    ];
    const rows = exampleFeatureRows(records, clean, 10, titleOfId);
    // Clean pool {0, 1, 4}, ranked by Pearson: 0 (0.99), 4 (0.92), 1 (0.85); the step is 1 for 3 < 10.
    expect(rows.map((r) => r.feature)).toEqual([0, 4, 1]);
    expect(rows[0]).toEqual({
      feature: 0,
      label: "dark matter halos",
      clean: "yes",
      pearson: "0.990",
      f1: "1.000",
      density: "1.00e-2",
      "top abstracts (shown to the interpreter)": "Title of t0a · Title of t0b · Title of t0c",
    });
    expect(rows[1]).toMatchObject({ feature: 4, pearson: "0.920", f1: "0.900", clean: "yes" });
    expect(exampleFeatureRows(records, clean, 1, titleOfId).map((r) => r.feature)).toEqual([0]);
  });

  it("falls back to the labelled features when none is clean, ranking undefined Pearson last", () => {
    const records = [
      rec(0, { pearson: 0.3, f1: 0.5 }),
      rec(1, { pearson: null, f1: 0.5, predictions: [1, 1, 1, 1, 1, 1], label: null }),
      rec(2, { pearson: 0.6, f1: 0.4 }),
      rec(3, { pearson: 0.6, f1: 0.7 }),
      rec(4, { status: "failed", pearson: null, f1: null, error: "interpreter: boom" }),
    ];
    const rows = exampleFeatureRows(records, clean, 4, titleOfId);
    // Ties on Pearson break by F1 (3 before 2); undefined Pearson ranks last; the failed one is not shown.
    expect(rows.map((r) => r.feature)).toEqual([3, 2, 0, 1]);
    expect(rows.every((r) => r.clean === "no")).toBe(true);
    expect(rows[3]).toMatchObject({ feature: 1, label: "", pearson: "undefined", f1: "0.500" });
  });

  it("spreads the picks over the ranking rather than taking only the top", () => {
    // Ten clean features with Pearson 0.99, 0.98, …, 0.90 (feature j has rank j).
    const records = Array.from({ length: 10 }, (_, j) => rec(j, { pearson: 0.99 - j / 100, label: `topic ${String.fromCharCode(97 + j)}` }));
    expect(exampleFeatureRows(records, clean, 3, titleOfId).map((r) => r.feature)).toEqual([0, 3, 6]);
    expect(exampleFeatureRows(records, clean, 5, titleOfId).map((r) => r.feature)).toEqual([0, 2, 4, 6, 8]);
    expect(exampleFeatureRows(records, clean, 10, titleOfId).map((r) => r.feature)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(exampleFeatureRows(records, clean, 0, titleOfId)).toEqual([]);
    expect(exampleFeatureRows([], clean, 3, titleOfId)).toEqual([]);
  });

  it("joins fewer than three titles when fewer were shown", () => {
    const rows = exampleFeatureRows([rec(7, { examples: { top: ["a", "b"], zero: [], heldOut: [] } })], clean, 1, titleOfId);
    expect(rows[0]!["top abstracts (shown to the interpreter)"]).toBe("Title of a · Title of b");
  });
});

describe("labelTermCoverage", () => {
  // Feature 0 has the label "dark matter, halo". Shown top: d1 holds both terms, d2 only "halo" → 3 of 4
  // (term, abstract) pairs match = 0.75. Held-out top h1 holds "dark matter" (matched on the baseline's
  // tokens: "the" and "of" are dropped), h2 none → 1 of 4 = 0.25. Held-out zero z1 none → 0.
  // Feature 1 (label "galaxies") matches everywhere → 1, 1, 1. Means: 0.875, 0.625, 0.5.
  const texts: Record<string, string> = {
    d1: "Dark matter in the halo",
    d2: "A halo survey",
    h1: "The dark matter of dwarfs",
    h2: "Stellar streams",
    z1: "Transformers for code",
    g1: "Galaxies",
    g2: "galaxies here",
  };
  const records = [
    labelRecord(0, { label: "dark matter, halo", examples: { top: ["d1", "d2"], zero: [], heldOut: ["h1", "h2", "z1"] }, truth: [1, 1, 0] }),
    labelRecord(1, { label: "galaxies", examples: { top: ["g1"], zero: [], heldOut: ["g2", "g1"] }, truth: [1, 0] }),
    labelRecord(2, { status: "too-rare", label: null }),
  ];

  it("averages per feature the share of (term, abstract) pairs that match, in each group", () => {
    const c = labelTermCoverage(records, (id) => texts[id])!;
    expect(c.features).toBe(2);
    expect(c.shownTop).toBeCloseTo(0.875, 12);
    expect(c.heldOutTop).toBeCloseTo(0.625, 12);
    expect(c.heldOutZero).toBeCloseTo(0.5, 12);
  });

  it("skips features with an empty group and returns undefined when none is left", () => {
    expect(labelTermCoverage(records, (id) => (id.startsWith("z") ? undefined : texts[id]))!.features).toBe(1);
    expect(labelTermCoverage([records[2]!], (id) => texts[id])).toBeUndefined();
  });
});

describe("interpretPaperRows", () => {
  it("puts the paper's both-roles scores beside each SAE's and the clean count beside chance", () => {
    const rows = interpretPaperRows(
      [{ name: "astro-ph-n4096-k32", scorer: "baseline", labelled: 4000, meanPearson: 0.2, meanF1: 0.55, clean: 383, coverage: { features: 10, shownTop: 0.771, heldOutTop: 0.14, heldOutZero: 0.02 } }],
      0.027,
    );
    expect(rows.map((r) => [r.quantity, r.paper, r.ours])).toEqual([
      ["mean Pearson / F1, astro-ph-n4096-k32", "0.59 / 0.74 (GPT-4o in both roles, a sample of features)", "0.200 / 0.550 (baseline scorer)"],
      ["random predictor passing the clean thresholds", "not reported", "2.7 % of features"],
      ["clean features, astro-ph-n4096-k32", "not reported per SAE", "383 of 4000 labelled (≈ 108 expected by chance)"],
      ["abstracts holding a label term: shown top / held-out top / held-out zero, astro-ph-n4096-k32", "not reported", "77 % / 14 % / 2 %"],
    ]);
  });
});
