/**
 * A family's examples for labelling and scoring (METHOD.md §5): a family is scored like one feature that
 * fires when any member fires. Positives are drawn (seeded) from the members' top-decile documents — for
 * each member (the root included), the documents in the top `topQuantile` of its activations — and
 * negatives from documents where **no** member is in the top-k (the released code checked only the
 * parent, and its shuffle was a no-op). Shown examples (for the offline baseline's label and calibration)
 * and held-out ones (for the predictor) never overlap.
 */
import { Rng } from "../core/rng.js";
import type { ExampleDoc, FeatureTask } from "../interpret/types.js";
import type { FeatureIndex } from "../interpret/examples.js";
import type { SparseCodes } from "../sae/encode.js";
import { type Family, familyFeatures } from "./build.js";
import type { FamilyScoreConfig } from "./config.js";

/** Where a family's documents come from. */
export interface FamilyExampleSource {
  /** `[N, K]` codes of the SAE. */
  codes: SparseCodes;
  /** Per-feature index of active rows, highest activation first (stage 4's `buildFeatureIndex`). */
  index: FeatureIndex;
  /** `[N]` store row of each codes row. */
  rowsN: Int32Array;
  /** Id and text of a store row. */
  docOf: (storeRow: number) => { id: string; text: string };
  /** True for codes rows long enough to be examples. */
  eligible: (row: number) => boolean;
}

/** `[N]` 1 where any of `features` is in the row's top-k. */
export function firingRows(codes: SparseCodes, n: number, features: readonly number[]): Uint8Array {
  const isMemberF = new Uint8Array(n);
  for (const f of features) isMemberF[f] = 1;
  const rows = codes.indices.length / codes.k;
  const firesN = new Uint8Array(rows);
  for (let p = 0; p < codes.indices.length; p++) if (isMemberF[codes.indices[p]!] === 1) firesN[Math.floor(p / codes.k)] = 1;
  return firesN;
}

/**
 * The family's positive pool: codes rows in the top `quantile` of some member's activations, each with
 * the largest member activation on it, ascending by row.
 */
export function topDecileRows(index: FeatureIndex, features: readonly number[], quantile: number): Map<number, number> {
  const pool = new Map<number, number>();
  for (const f of features) {
    const start = index.offsetsF1[f]!;
    const end = index.offsetsF1[f + 1]!;
    const take = Math.max(1, Math.ceil((end - start) * (1 - quantile)));
    for (let e = start; e < Math.min(end, start + take); e++) {
      const row = index.rowsE[e]!;
      const v = index.valuesE[e]!;
      if (v > (pool.get(row) ?? 0)) pool.set(row, v);
    }
  }
  return new Map([...pool.entries()].sort((a, b) => a[0] - b[0]));
}

/**
 * Build a family's task (shown top/zero, held-out positives then negatives, truth), or the reason it has
 * too few documents. The task's `feature` is the family id and its `density` the fraction of documents
 * where any member fires.
 */
export function familyTask(src: FamilyExampleSource, family: Family, n: number, cfg: FamilyScoreConfig): FeatureTask | { reason: string } {
  const features = familyFeatures(family);
  const pool = [...topDecileRows(src.index, features, cfg.topQuantile).entries()].filter(([row]) => src.eligible(row));
  const needPos = cfg.shownTop + cfg.positives;
  const needNeg = cfg.shownZero + cfg.negatives;
  if (pool.length < needPos) return { reason: `${pool.length} eligible top-decile documents, ${needPos} needed` };
  const firesN = firingRows(src.codes, n, features);
  const negatives: number[] = [];
  for (let row = 0; row < firesN.length; row++) if (firesN[row] === 0 && src.eligible(row)) negatives.push(row);
  if (negatives.length < needNeg) return { reason: `${negatives.length} eligible documents where no member fires, ${needNeg} needed` };
  const rng = new Rng(`${cfg.seed}:family:${family.root}:${family.round}:${family.depth}`);
  const pos = Array.from(rng.sample(pool.length, needPos), (i) => pool[i]!);
  const neg = Array.from(rng.sample(negatives.length, needNeg), (i) => negatives[i]!);
  const doc = (row: number, activation: number): ExampleDoc => {
    const storeRow = src.rowsN[row]!;
    const { id, text } = src.docOf(storeRow);
    return { row: storeRow, id, text, activation };
  };
  const shownTop = pos.slice(0, cfg.shownTop).sort((a, b) => b[1] - a[1]);
  let fires = 0;
  for (const x of firesN) fires += x;
  return {
    feature: family.id,
    density: fires / firesN.length,
    top: shownTop.map(([row, v]) => doc(row, v)),
    zero: neg.slice(0, cfg.shownZero).map((row) => doc(row, 0)),
    heldOut: [...pos.slice(cfg.shownTop).map(([row, v]) => doc(row, v)), ...neg.slice(cfg.shownZero).map((row) => doc(row, 0))],
    truth: [...Array<number>(cfg.positives).fill(1), ...Array<number>(cfg.negatives).fill(0)],
  };
}
