/**
 * Notebook 03's "Compared with the paper" table (METHOD.md §3, §6), computed from the sweep: the exponents of
 * the size and compute laws, how well the laws fit, dead latents, held-out NMSE, and feature splitting along
 * the diagonal beside the paper's SAE16 → SAE32 → SAE64 cosines.
 */
import type { ComparisonRow } from "../tools/display.js";
import { paperAlphas, type DomainFits, type SplittingPair } from "./analysis.js";
import { PAPER_ALPHA_RANGE, PAPER_COMPUTE_BETA_RANGE, PAPER_SPLITTING_COSINE } from "./paper.js";
import type { SweepRecord } from "./sweep.js";

const NOT_REPORTED = "not reported";
const f3 = (x: number): string => x.toFixed(3);
const range = (xs: readonly number[]): string => (xs.length === 0 ? "—" : `${f3(Math.min(...xs))}–${f3(Math.max(...xs))}`);
const sorted = (xs: Iterable<number>): number[] => [...new Set(xs)].sort((a, b) => a - b);

/** The fields of a splitting pair the comparison reads. */
export type SplittingComparisonPair = Pick<SplittingPair, "label" | "summary"> & {
  domain: string;
  small: Pick<SweepRecord, "n" | "k">;
  large: Pick<SweepRecord, "n" | "k">;
};

/**
 * Rows of notebook 03's comparison table.
 * @param records every sweep cell
 * @param fits `fitSweep(records)`
 * @param splits splitting pairs of every domain (from `standardSplittingPairs`), each with its domain
 */
export function scalingPaperRows(
  records: ReadonlyArray<Pick<SweepRecord, "domain" | "n" | "k" | "nmseHeldOut" | "deadFraction">>,
  fits: readonly DomainFits[],
  splits: readonly SplittingComparisonPair[],
): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  const paper = paperAlphas();
  for (const k of sorted(fits.flatMap((f) => f.size.map((s) => s.k)))) {
    const p = paper.find((x) => x.k === k);
    rows.push({
      quantity: `α, k = ${k}`,
      paper: p ? `${f3(p.alpha)}${p.points === 2 ? " (from its end points)" : ` (${p.points} sizes)`}` : NOT_REPORTED,
      ours: fits
        .flatMap((f) => f.size.filter((s) => s.k === k).map(({ fit }) => `${f.domain} ${f3(fit.alpha)}${fit.ci ? ` [${f3(fit.ci.alpha[0])}, ${f3(fit.ci.alpha[1])}]` : ""}`))
        .join(", "),
    });
  }
  const alphas = fits.flatMap((f) => f.size.map((s) => s.fit.alpha));
  rows.push({ quantity: "α across k", paper: range(PAPER_ALPHA_RANGE), ours: range(alphas) });
  rows.push({
    quantity: "R² of NMSE = c·n^(−α), lowest over k",
    paper: NOT_REPORTED,
    ours: fits.map((f) => `${f.domain} ${f3(Math.min(...f.size.map((s) => s.fit.r2)))}`).join(", "),
  });
  rows.push({ quantity: "compute-law β across k", paper: range(PAPER_COMPUTE_BETA_RANGE), ours: range(fits.flatMap((f) => f.compute.map((c) => c.fit.beta))) });
  rows.push({
    quantity: "dead latents at the end, worst cell",
    paper: "0 in the astro SAE64",
    ours: [...new Set(records.map((r) => r.domain))]
      .map((d) => `${d} ${(100 * Math.max(...records.filter((r) => r.domain === d).map((r) => r.deadFraction))).toFixed(1)} %`)
      .join(", "),
  });
  const kMin = sorted(records.map((r) => r.k))[0];
  rows.push({
    quantity: `held-out NMSE from the smallest to the largest n (k = ${kMin})`,
    paper: NOT_REPORTED,
    ours: [...new Set(records.map((r) => r.domain))]
      .map((d) => `${d} ${records.filter((r) => r.domain === d && r.k === kMin).sort((a, b) => a.n - b.n).map((r) => f3(r.nmseHeldOut)).join(" → ")}`)
      .join("; "),
    note: "the size law is about training NMSE, as the paper's is",
  });
  // The diagonal pairs, by rung of the size ladder (i-th smallest n with i-th smallest k), as the paper's SAE16/32/64.
  const rung = (d: string, r: Pick<SweepRecord, "n">): number => sorted(records.filter((x) => x.domain === d).map((x) => x.n)).indexOf(r.n);
  const paperNames = ["SAE16", "SAE32", "SAE64"];
  for (const [pair, cos] of Object.entries(PAPER_SPLITTING_COSINE)) {
    const [a, b] = pair.split("–").map((name) => paperNames.indexOf(name));
    const ours = splits.filter((s) => s.label.startsWith("diagonal") && rung(s.domain, s.small) === a && rung(s.domain, s.large) === b);
    rows.push({
      quantity: `mean max decoder cosine, ${pair}`,
      paper: cos.toFixed(2),
      ours: ours.length === 0 ? "—" : ours.map((s) => `${s.domain} ${f3(s.summary.meanMaxCosineLargeToSmall)} (n ${s.small.n}, k ${s.small.k} → n ${s.large.n}, k ${s.large.k})`).join("; "),
    });
  }
  const sameN = splits.filter((s) => s.label.startsWith("same n"));
  if (sameN.length > 0) {
    rows.push({
      quantity: "mean max decoder cosine, same n, next k",
      paper: NOT_REPORTED,
      ours: `${range(sameN.map((s) => s.summary.meanMaxCosineLargeToSmall))} (${sameN.reduce((a, s) => a + s.summary.splitCount, 0)} splits)`,
      note: "SAEs of one size share their initial decoder (same seed), so short runs stay close to it",
    });
  }
  return rows;
}
