/**
 * The fits and comparisons notebook 03 shows (METHOD.md §3, §6): per domain and k, NMSE = c·n^(−α) with
 * bootstrap intervals; the joint fit over log n, log k; per-k compute laws; the paper's exponents from its
 * own numbers; and feature splitting between the sweep's SAEs.
 */
import { join } from "node:path";
import { loadSaeWeights } from "../sae/checkpoint.js";
import { WEIGHTS_FILE } from "../sae/trainer.js";
import { type ComputeLawFit, fitComputeLaw, fitJoint, fitPowerLaw, type JointFit, type PowerLawFit } from "./fit.js";
import { PAPER_ASTRO_NMSE } from "./paper.js";
import { matchFeaturesFast, type SplittingSummary, splittingSummary } from "./splitting.js";
import type { SweepRecord } from "./sweep.js";

/** Fits of one domain's sweep. */
export interface DomainFits {
  domain: string;
  /** Per k: NMSE (training rows, final weights) against n. */
  size: Array<{ k: number; fit: PowerLawFit }>;
  /** log NMSE on log n, log k and their product (undefined with fewer than 5 cells or a 1-wide axis). */
  joint: JointFit | undefined;
  /** Per k: final NMSE against the paper's FLOPs axis. */
  compute: Array<{ k: number; fit: ComputeLawFit }>;
}

const byK = (records: readonly SweepRecord[]): Map<number, SweepRecord[]> => {
  const m = new Map<number, SweepRecord[]>();
  for (const r of records) m.set(r.k, [...(m.get(r.k) ?? []), r]);
  return m;
};

/** Fit every domain of a sweep (k values with fewer than 2 sizes are skipped). */
export function fitSweep(records: readonly SweepRecord[], opts: { bootstrap?: number; seed?: number } = {}): DomainFits[] {
  const domains = [...new Set(records.map((r) => r.domain))];
  return domains.map((domain) => {
    const rs = records.filter((r) => r.domain === domain);
    const size: DomainFits["size"] = [];
    const compute: DomainFits["compute"] = [];
    for (const [k, cells] of byK(rs)) {
      if (new Set(cells.map((c) => c.n)).size < 2) continue;
      size.push({ k, fit: fitPowerLaw(cells.map((c) => c.n), cells.map((c) => c.nmseTrain), opts) });
      compute.push({ k, fit: fitComputeLaw(cells.map((c) => c.flopsPaper), cells.map((c) => c.nmseTrain), opts) });
    }
    const ns = new Set(rs.map((r) => r.n)).size;
    const ks = new Set(rs.map((r) => r.k)).size;
    const joint =
      rs.length >= 5 && ns >= 2 && ks >= 2
        ? fitJoint(rs.map((r) => r.n), rs.map((r) => r.k), rs.map((r) => r.nmseTrain))
        : undefined;
    return { domain, size, joint, compute };
  });
}

/** The paper's α per k, fitted the same way to its own NMSE numbers (no interval: 2–5 points). */
export function paperAlphas(): Array<{ k: number; alpha: number; points: number }> {
  return PAPER_ASTRO_NMSE.map((p) => ({ k: p.k, alpha: fitPowerLaw(p.n, p.nmse, { bootstrap: 0 }).alpha, points: p.n.length }));
}

/** Feature splitting between two of the sweep's SAEs. */
export interface SplittingPair {
  label: string;
  small: SweepRecord;
  large: SweepRecord;
  summary: SplittingSummary;
  /** `[F_large]` each large feature's max cosine to the small SAE. */
  maxCosineLarge: Float32Array;
}

/** Match decoders between pairs of finished sweep cells (weights read from their run directories). */
export async function splittingPairs(pairs: Array<{ label: string; small: SweepRecord; large: SweepRecord }>): Promise<SplittingPair[]> {
  const out: SplittingPair[] = [];
  for (const p of pairs) {
    const small = loadSaeWeights(join(p.small.runDir, WEIGHTS_FILE)).params;
    const large = loadSaeWeights(join(p.large.runDir, WEIGHTS_FILE)).params;
    const match = await matchFeaturesFast(small, large);
    out.push({ ...p, summary: splittingSummary(match), maxCosineLarge: match.largeToSmall.valueN });
  }
  return out;
}

/**
 * The pairs to compare in one domain: along the grid's diagonal (size and k grow together, like the paper's
 * SAE16 → SAE32 → SAE64), at the middle k between sizes (same k, different n), and at the middle n between
 * sparsities (same n, different k).
 */
export function standardSplittingPairs(
  records: readonly SweepRecord[],
  domain: string,
): Array<{ label: string; small: SweepRecord; large: SweepRecord }> {
  const rs = records.filter((r) => r.domain === domain);
  const ns = [...new Set(rs.map((r) => r.n))].sort((a, b) => a - b);
  const ks = [...new Set(rs.map((r) => r.k))].sort((a, b) => a - b);
  const cell = (n: number, k: number): SweepRecord | undefined => rs.find((r) => r.n === n && r.k === k);
  const name = (r: SweepRecord): string => `n=${r.n}, k=${r.k}`;
  const out: Array<{ label: string; small: SweepRecord; large: SweepRecord }> = [];
  const add = (a: SweepRecord | undefined, b: SweepRecord | undefined, kind: string): void => {
    if (a && b) out.push({ label: `${kind}: ${name(a)} → ${name(b)}`, small: a, large: b });
  };
  const diag = Math.min(ns.length, ks.length);
  for (let i = 0; i < diag; i++) for (let j = i + 1; j < diag; j++) add(cell(ns[i]!, ks[i]!), cell(ns[j]!, ks[j]!), "diagonal");
  const midK = ks[Math.floor((ks.length - 1) / 2)]!;
  for (let i = 0; i + 1 < ns.length; i++) add(cell(ns[i]!, midK), cell(ns[i + 1]!, midK), "same k");
  const midN = ns[Math.floor((ns.length - 1) / 2)]!;
  for (let i = 0; i + 1 < ks.length; i++) add(cell(midN, ks[i]!), cell(midN, ks[i + 1]!), "same n");
  return out;
}
