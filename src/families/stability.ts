/**
 * Stability of families across training seeds (beyond the paper; METHOD.md §5 asks whether families are
 * real): train the same SAE with another seed, build its families the same way, map each feature of run A
 * to its best match in run B by decoder cosine (kept only when the cosine is at least `minCosine`), and
 * for each family of A take the best Jaccard between its mapped features and the features of any family of
 * B. A family is matched when that Jaccard reaches `minJaccard`. The same is measured for random feature
 * sets of the same sizes (drawn from A's feature set) as the chance level.
 *
 * Features of SAEs trained from different seeds need not recur one for one, so a second measure,
 * `documentStability`, asks the question on documents instead: does some family of B fire on the same
 * documents as each family of A?
 */
import { SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { median } from "../core/stats.js";
import type { SparseCodes } from "../sae/encode.js";
import { type Family, familyFeatures, intersectionSize } from "./build.js";
import { firingRows } from "./examples.js";

/** Decoder cosine at which a feature counts as the same in the other run (the 0.5). */
export const STABILITY_MIN_COSINE = 0.5;
/** Best Jaccard at which a family counts as found again. */
export const STABILITY_MIN_JACCARD = 0.5;

/** How often the families of run A are found again in run B, beside the chance level. */
export interface MatchSummary {
  /** Families of run A. */
  families: number;
  /** Families whose best Jaccard in B reaches minJaccard. */
  matched: number;
  matchedFraction: number;
  /** `[families]` best Jaccard of each family of A. */
  bestJaccard: number[];
  /** Fraction of random feature sets of A of the same sizes that reach minJaccard (chance level). */
  chanceFraction: number;
  /** Mean best Jaccard of those random sets. */
  chanceMeanJaccard: number;
  minJaccard: number;
}

/** Stability of one run's families in another run, through decoder-matched features. */
export interface FamilyStability extends MatchSummary {
  /** Features of A's families that have a match with cosine ≥ minCosine. */
  mappedFeatureFraction: number;
  minCosine: number;
}

/**
 * Score every family of A and, for the chance level, a random feature set of A of the same size (seeded),
 * with `score` (the best Jaccard of a feature set of A in run B).
 */
function summarizeMatches(familiesA: readonly Family[], featureSetA: ArrayLike<number>, score: (features: readonly number[]) => number, minJaccard: number, rng: Rng): MatchSummary {
  const bestJaccard = familiesA.map((f) => score(familyFeatures(f)));
  const pool = Array.from(featureSetA);
  const chance = familiesA.map((f) => score(Array.from(rng.sample(pool.length, Math.min(pool.length, f.members.length + 1)), (i) => pool[i]!)));
  const matched = bestJaccard.filter((j) => j >= minJaccard).length;
  return {
    families: bestJaccard.length,
    matched,
    matchedFraction: bestJaccard.length === 0 ? 0 : matched / bestJaccard.length,
    bestJaccard,
    chanceFraction: chance.length === 0 ? 0 : chance.filter((j) => j >= minJaccard).length / chance.length,
    chanceMeanJaccard: chance.length === 0 ? 0 : chance.reduce((x, y) => x + y, 0) / chance.length,
    minJaccard,
  };
}

/**
 * Best Jaccard of a mapped feature set against B's families, the unmapped features counted in the union
 * (they exist in A and match nothing in B): |M ∩ B| / (|M ∪ B| + unmapped).
 */
function bestAgainst(set: Int32Array, unmapped: number, setsB: readonly Int32Array[]): number {
  let best = 0;
  for (const b of setsB) {
    const inter = intersectionSize(set, b);
    const j = inter / (set.length + b.length - inter + unmapped);
    if (j > best) best = j;
  }
  return best;
}

/**
 * Match the families of run A in run B.
 * @param matchAB `[F_A]` best B feature of each A feature and its decoder cosine (e.g. `matchFeaturesFast(a, b).smallToLarge`)
 * @param featureSetA `[M]` A's feature set (random sets for the chance level are drawn from it)
 */
export function familyStability(args: {
  familiesA: readonly Family[];
  familiesB: readonly Family[];
  matchAB: { indexN: Int32Array; valueN: Float32Array };
  featureSetA: ArrayLike<number>;
  minCosine?: number;
  minJaccard?: number;
  seed?: number;
}): FamilyStability {
  const minCosine = args.minCosine ?? STABILITY_MIN_COSINE;
  const minJaccard = args.minJaccard ?? STABILITY_MIN_JACCARD;
  const setsB = args.familiesB.map((f) => Int32Array.from(familyFeatures(f)).sort());
  const mapSet = (features: ArrayLike<number>): { set: Int32Array; mapped: number } => {
    const out = new Set<number>();
    let mapped = 0;
    for (let i = 0; i < features.length; i++) {
      const f = features[i]!;
      if (args.matchAB.valueN[f]! >= minCosine) {
        out.add(args.matchAB.indexN[f]!);
        mapped++;
      }
    }
    return { set: Int32Array.from(out).sort(), mapped };
  };
  const scoreOf = (features: readonly number[]): number => {
    const { set, mapped } = mapSet(features);
    return bestAgainst(set, features.length - mapped, setsB);
  };
  let mapped = 0;
  let total = 0;
  for (const f of args.familiesA) {
    const feats = familyFeatures(f);
    total += feats.length;
    mapped += mapSet(feats).mapped;
  }
  return {
    ...summarizeMatches(args.familiesA, args.featureSetA, scoreOf, minJaccard, new Rng(`${args.seed ?? 0}:stability`)),
    mappedFeatureFraction: total === 0 ? 0 : mapped / total,
    minCosine,
  };
}

/** Set bits of a 32-bit word. */
function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** `[ceil(N/32)]` bitset of the rows where any of `features` is in the top-k. */
function familyRows(codes: SparseCodes, n: number, features: readonly number[]): Uint32Array {
  const fires = firingRows(codes, n, features);
  const bits = new Uint32Array(Math.ceil(fires.length / 32));
  fires.forEach((x, r) => {
    if (x === 1) bits[r >>> 5]! |= 1 << (r & 31);
  });
  return bits;
}

/** Jaccard of two bitsets. */
function bitsJaccard(a: Uint32Array, b: Uint32Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    inter += popcount32(a[i]! & b[i]!);
    union += popcount32(a[i]! | b[i]!);
  }
  return union === 0 ? 0 : inter / union;
}

/** Stability measured on documents: does each family of A fire on the same documents as some family of B? */
export interface DocumentStability extends MatchSummary {
  /** Median over A's feature set of each feature's best document-set Jaccard with any feature of B. */
  featureMedianJaccard: number;
  /** Fraction of A's feature set whose best document-set Jaccard with a feature of B reaches minJaccard. */
  featureMatchedFraction: number;
}

/**
 * Each feature's best document-set Jaccard with any feature of B: overlaps counted through the documents,
 * `[M]` in the order of `features`.
 */
export function featureDocumentJaccard(codesA: SparseCodes, codesB: SparseCodes, nA: number, nB: number, features: ArrayLike<number>): Float64Array {
  const rows = codesA.indices.length / codesA.k;
  const countA = new Int32Array(nA);
  const countB = new Int32Array(nB);
  for (const f of codesA.indices) countA[f]!++;
  for (const g of codesB.indices) countB[g]!++;
  const rowsOfA: number[][] = Array.from({ length: nA }, () => []);
  for (let p = 0; p < codesA.indices.length; p++) rowsOfA[codesA.indices[p]!]!.push(Math.floor(p / codesA.k));
  const overlap = new Int32Array(nB);
  const out = new Float64Array(features.length);
  for (let i = 0; i < features.length; i++) {
    const f = features[i]!;
    const touched: number[] = [];
    for (const r of rowsOfA[f]!) {
      if (r >= rows) continue;
      for (let j = r * codesB.k; j < (r + 1) * codesB.k; j++) {
        const g = codesB.indices[j]!;
        if (overlap[g] === 0) touched.push(g);
        overlap[g]!++;
      }
    }
    let best = 0;
    for (const g of touched) {
      const c = overlap[g]!;
      best = Math.max(best, c / (countA[f]! + countB[g]! - c));
      overlap[g] = 0;
    }
    out[i] = best;
  }
  return out;
}

/**
 * Stability that does not need the features themselves to recur: a family's document set is the set of
 * documents where any of its features fires; each family of A is matched to the family of B (same
 * documents, another SAE) whose document set overlaps it most. Random feature sets of A of the same sizes
 * give the chance level (large families cover many documents, so chance is not zero).
 * @param codesA `[N, K]` codes of SAE A; `codesB` `[N, K']` codes of SAE B over the same N documents
 */
export function documentStability(args: {
  familiesA: readonly Family[];
  familiesB: readonly Family[];
  codesA: SparseCodes;
  codesB: SparseCodes;
  nA: number;
  nB: number;
  featureSetA: ArrayLike<number>;
  minJaccard?: number;
  seed?: number;
}): DocumentStability {
  const minJaccard = args.minJaccard ?? STABILITY_MIN_JACCARD;
  if (args.codesA.indices.length / args.codesA.k !== args.codesB.indices.length / args.codesB.k) {
    throw new SaerchError("documentStability: the two SAEs' codes cover different numbers of documents", "compare SAEs encoded over the same documents");
  }
  const setsB = args.familiesB.map((f) => familyRows(args.codesB, args.nB, familyFeatures(f)));
  const score = (features: readonly number[]): number => {
    const bits = familyRows(args.codesA, args.nA, features);
    return setsB.reduce((m, b) => Math.max(m, bitsJaccard(bits, b)), 0);
  };
  const perFeature = featureDocumentJaccard(args.codesA, args.codesB, args.nA, args.nB, args.featureSetA);
  return {
    ...summarizeMatches(args.familiesA, args.featureSetA, score, minJaccard, new Rng(`${args.seed ?? 0}:document-stability`)),
    featureMedianJaccard: perFeature.length === 0 ? 0 : median(perFeature),
    featureMatchedFraction: perFeature.length === 0 ? 0 : perFeature.filter((j) => j >= minJaccard).length / perFeature.length,
  };
}
