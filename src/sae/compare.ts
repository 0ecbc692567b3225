/**
 * Notebook 02's "Compared with the paper" table (METHOD.md §2), computed from the stage-2 runs: final NMSE
 * beside the paper's astro NMSE at the same k, dead latents beside the paper's finding, reconstruction cosine.
 */
import type { ComparisonRow } from "../tools/display.js";
import { PAPER_ASTRO_NMSE } from "../scaling/paper.js";
import { PAPER_DEAD_LATENTS } from "./paper.js";
import type { SaeDomainResult } from "./stage.js";

/** The fields of a stage-2 run the comparison reads. */
export type SaeComparisonRun = Pick<SaeDomainResult, "domain" | "reconstruction" | "metrics"> & {
  config: Pick<SaeDomainResult["config"], "n" | "k" | "d">;
  features: Pick<SaeDomainResult["features"], "neverActive">;
};

const perDomain = (runs: readonly SaeComparisonRun[], f: (r: SaeComparisonRun) => string): string => runs.map((r) => `${r.domain} ${f(r)}`).join(", ");
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

/** Rows of notebook 02's comparison table (one value per domain in the "ours" column). */
export function saePaperRows(runs: readonly SaeComparisonRun[]): ComparisonRow[] {
  const ks = [...new Set(runs.map((r) => r.config.k))];
  const paperNmse = ks.map((k) => {
    const p = PAPER_ASTRO_NMSE.find((x) => x.k === k);
    if (p === undefined) return `k = ${k}: not reported`;
    const lo = Math.min(...p.nmse);
    const hi = Math.max(...p.nmse);
    return `k = ${k}: ${lo.toFixed(3)}–${hi.toFixed(3)} (astro, n ${p.n[p.n.length - 1]} … ${p.n[0]})`;
  });
  const dead = PAPER_DEAD_LATENTS;
  return [
    {
      quantity: "final NMSE",
      paper: paperNmse.join("; "),
      ours: perDomain(runs, (r) => r.reconstruction.nmse.toFixed(3)),
      note: `ours on all training rows, n ${[...new Set(runs.map((r) => r.config.n))].join("/")}, d ${[...new Set(runs.map((r) => r.config.d))].join("/")}`,
    },
    {
      quantity: "dead latents at the end",
      paper: `${pct(dead.astroSae64)} in astro SAE64; ≈ ${(100 * dead.csLgSae16And32[0]).toFixed(0)}–${(100 * dead.csLgSae16And32[1]).toFixed(0)} % in cs.LG SAE16/32`,
      ours: perDomain(runs, (r) => `${pct(r.metrics[r.metrics.length - 1]?.deadFraction ?? Number.NaN)} (${r.features.neverActive} never active)`),
    },
    {
      quantity: "mean cos(x, x̂)",
      paper: "not reported",
      ours: perDomain(runs, (r) => r.reconstruction.meanCosine.toFixed(3)),
    },
  ];
}
