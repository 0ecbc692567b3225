/** Tests for src/embed/compare.ts: notebook 01's comparison rows, computed from hand-set measurements. */
import { describe, expect, it } from "vitest";
import { embedPaperRows } from "../../src/embed/compare.js";

describe("embedPaperRows", () => {
  it("puts the paper's corpus beside ours and derives the ratios", () => {
    const rows = embedPaperRows({
      counts: { "astro-ph": 14148, "cs.LG": 11319, both: 195 },
      embedderId: "use-lite-512",
      dim: 512,
      normMin: 0.9999994,
      normMax: 1.0000007,
      cosineMeans: { "within astro-ph": 0.6571, "between astro-ph / cs.LG": 0.4949 },
      pc1VarianceFraction: 0.1884,
    });
    expect(rows.map((r) => [r.quantity, r.paper, r.ours])).toEqual([
      ["abstracts", "≈ 424.6k (astro-ph 271.5k, cs.LG 153.1k)", "25,662 (astro-ph 14,148, cs.LG 11,319, both 195)"],
      ["embedding model", "text-embedding-3-small, d = 1536", "use-lite-512, d = 512"],
      // 424,600 / 25,662 = 16.55; 1536 / 512 = 3
      ["paper ÷ ours", "—", "16.5× the abstracts, 3.0× the dimension"],
      ["row norms", "unit", "0.999999 … 1.000001"],
      ["mean cosine of random pairs", "not reported", "within astro-ph 0.657; between astro-ph / cs.LG 0.495"],
      ["variance on the first principal component", "not reported", "18.8 %"],
    ]);
  });
});
