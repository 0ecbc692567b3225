/** Tests for src/scaling/compare.ts: notebook 03's comparison rows from a hand-set 2 × 2 sweep. */
import { describe, expect, it } from "vitest";
import { fitSweep, paperAlphas } from "../../src/scaling/analysis.js";
import { scalingPaperRows, type SplittingComparisonPair } from "../../src/scaling/compare.js";
import type { SweepRecord } from "../../src/scaling/sweep.js";

/** A cell whose training NMSE follows 2·n^(−α) exactly (α 0.1 at k 16, 0.2 at k 32), FLOPs ∝ n. */
const cell = (n: number, k: number, heldOut: number, dead: number): SweepRecord =>
  ({ domain: "astro-ph", n, k, d: 512, nmseTrain: 2 * n ** -(k === 16 ? 0.1 : 0.2), nmseHeldOut: heldOut, deadFraction: dead, flopsPaper: 1000 * n }) as SweepRecord;

const RECORDS = [cell(1024, 16, 0.42, 0), cell(2048, 16, 0.43, 0.002), cell(1024, 32, 0.35, 0), cell(2048, 32, 0.36, 0.001)];

const pair = (label: string, small: [number, number], large: [number, number], cos: number, splits = 0): SplittingComparisonPair => ({
  domain: "astro-ph",
  label,
  small: { n: small[0], k: small[1] },
  large: { n: large[0], k: large[1] },
  summary: { meanMaxCosineLargeToSmall: cos, meanMaxCosineSmallToLarge: cos, splitCount: splits, childlessCount: 0, medianChildren: 1, maxChildren: 1 },
});

describe("scalingPaperRows", () => {
  const fits = fitSweep(RECORDS, { bootstrap: 0 });
  const rows = scalingPaperRows(RECORDS, fits, [
    pair("diagonal: n=1024, k=16 → n=2048, k=32", [1024, 16], [2048, 32], 0.6012),
    pair("same n: n=1024, k=16 → n=1024, k=32", [1024, 16], [1024, 32], 0.96, 2),
  ]);
  const byQuantity = new Map(rows.map((r) => [r.quantity, r]));

  it("recovers the planted exponents beside the paper's own fits", () => {
    const p16 = paperAlphas().find((p) => p.k === 16)!;
    expect(byQuantity.get("α, k = 16")).toMatchObject({ paper: `${p16.alpha.toFixed(3)} (5 sizes)`, ours: "astro-ph 0.100" });
    expect(byQuantity.get("α, k = 32")!.paper).toMatch(/\(from its end points\)$/);
    expect(byQuantity.get("α, k = 32")!.ours).toBe("astro-ph 0.200");
    expect(byQuantity.get("α across k")).toMatchObject({ paper: "0.120–0.180", ours: "0.100–0.200" });
    expect(byQuantity.get("R² of NMSE = c·n^(−α), lowest over k")!.ours).toBe("astro-ph 1.000");
    // FLOPs ∝ n, so β = α for each k.
    expect(byQuantity.get("compute-law β across k")).toMatchObject({ paper: "0.110–0.160", ours: "0.100–0.200" });
  });

  it("reports the worst dead fraction and the held-out NMSE along n", () => {
    expect(byQuantity.get("dead latents at the end, worst cell")!.ours).toBe("astro-ph 0.2 %");
    expect(byQuantity.get("held-out NMSE from the smallest to the largest n (k = 16)")!.ours).toBe("astro-ph 0.420 → 0.430");
  });

  it("puts our diagonal pairs beside the paper's by rung, and a dash where we have none", () => {
    expect(byQuantity.get("mean max decoder cosine, SAE16–SAE32")).toMatchObject({ paper: "0.77", ours: "astro-ph 0.601 (n 1024, k 16 → n 2048, k 32)" });
    expect(byQuantity.get("mean max decoder cosine, SAE16–SAE64")!.ours).toBe("—");
    expect(byQuantity.get("mean max decoder cosine, same n, next k")!.ours).toBe("0.960–0.960 (2 splits)");
  });
});
