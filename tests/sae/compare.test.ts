/** Tests for src/sae/compare.ts: notebook 02's comparison rows from hand-set runs. */
import { describe, expect, it } from "vitest";
import { saePaperRows, type SaeComparisonRun } from "../../src/sae/compare.js";
import type { TrainMetrics } from "../../src/sae/trainer.js";

const run = (domain: string, nmse: number, cos: number, dead: number, neverActive: number, k = 32): SaeComparisonRun => ({
  domain,
  config: { n: 4096, k, d: 512 },
  reconstruction: { nmse, meanCosine: cos },
  metrics: [{ deadFraction: 0.5 } as TrainMetrics, { deadFraction: dead } as TrainMetrics],
  features: { neverActive },
});

describe("saePaperRows", () => {
  it("compares final NMSE with the paper's astro NMSE at the same k and dead latents at the last logged step", () => {
    const rows = saePaperRows([run("astro-ph", 0.11234, 0.98111, 0, 0), run("cs.LG", 0.0971, 0.9806, 0.0125, 3)]);
    expect(rows.map((r) => [r.quantity, r.paper, r.ours])).toEqual([
      ["final NMSE", "k = 32: 0.146–0.175 (astro, n 12288 … 3072)", "astro-ph 0.112, cs.LG 0.097"],
      ["dead latents at the end", "0.0 % in astro SAE64; ≈ 11–12 % in cs.LG SAE16/32", "astro-ph 0.0 % (0 never active), cs.LG 1.3 % (3 never active)"],
      ["mean cos(x, x̂)", "not reported", "astro-ph 0.981, cs.LG 0.981"],
    ]);
    expect(rows[0]!.note).toBe("ours on all training rows, n 4096, d 512");
  });

  it("says when the paper has no NMSE at our k", () => {
    expect(saePaperRows([run("astro-ph", 0.2, 0.9, 0, 0, 8)])[0]!.paper).toBe("k = 8: not reported");
  });
});
