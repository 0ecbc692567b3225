/**
 * Family statistics (METHOD.md §5): the paper's per-SAE table — families, children per family, family
 * scores, co-occurrence ratio, block-diagonality of the family-ordered co-occurrence matrix, fraction of
 * features in a well-scored family — and label-free evidence that families are real: P(parent | child) and
 * the decoder cosine of parent–child pairs against random pairs whose "parent" has matched density.
 */
import { Rng } from "../core/rng.js";
import { median } from "../core/stats.js";
import { dot } from "../core/vector.js";
import { meanDefined } from "../interpret/scores.js";
import { type Family, type FamilyBuild, familyFeatures } from "./build.js";
import type { FamilyScoreConfig } from "./config.js";
import { type Cooccurrence, localIndex, overlap, pairCount } from "./cooccurrence.js";
import type { FamilyLabelRecord } from "./labeller.js";

/** Features on each side of a parent's density rank from which its matched random stand-in is drawn. */
export const MATCHED_RANK_WINDOW = 10;

/**
 * The co-occurrence ratio of one family: mean overlap coefficient of the root with its members, over the
 * mean overlap among pairs of members (≈ P(parent | child) against P(child | child)); undefined when the
 * members never co-occur with each other.
 * @param localF `[F]` local index of each feature in `c`
 */
export function cooccurrenceRatio(c: Cooccurrence, localF: Int32Array, family: Pick<Family, "root" | "members">): number | undefined {
  const r = localF[family.root]!;
  const ms = family.members.map((m) => localF[m.feature]!);
  let parent = 0;
  for (const a of ms) parent += overlap(c, r, a);
  parent /= ms.length;
  let block = 0;
  let pairs = 0;
  for (let i = 0; i < ms.length; i++) {
    for (let j = i + 1; j < ms.length; j++) {
      block += overlap(c, ms[i]!, ms[j]!);
      pairs++;
    }
  }
  if (pairs === 0 || block === 0) return undefined;
  return parent / (block / pairs);
}

/** Mean overlap within and off the diagonal blocks of one ordering, and their ratio. */
export interface BlockRatio {
  /** Mean overlap coefficient over pairs in the same block (diagonal excluded). */
  within: number;
  /** Mean over pairs in different blocks. */
  off: number;
  /** within / off; null when off is 0 (perfect blocks) or there is no pair of one kind. */
  ratio: number | null;
}

/**
 * Mean within-block and mean off-block overlap coefficient for features in `order` cut into consecutive
 * blocks of `sizes` (diagonal excluded), and their ratio.
 * @param order `[P]` local indices
 * @param sizes block sizes summing to P
 */
export function blockRatio(c: Cooccurrence, order: ArrayLike<number>, sizes: readonly number[]): BlockRatio {
  const blockOf = new Int32Array(order.length);
  let p = 0;
  sizes.forEach((s, b) => {
    for (let i = 0; i < s; i++) blockOf[p++] = b;
  });
  let inSum = 0;
  let inN = 0;
  let offSum = 0;
  let offN = 0;
  for (let i = 0; i < order.length; i++) {
    for (let j = i + 1; j < order.length; j++) {
      const v = overlap(c, order[i]!, order[j]!);
      if (blockOf[i] === blockOf[j]) {
        inSum += v;
        inN++;
      } else {
        offSum += v;
        offN++;
      }
    }
  }
  const within = inN === 0 ? 0 : inSum / inN;
  const off = offN === 0 ? 0 : offSum / offN;
  return { within, off, ratio: inN === 0 || offN === 0 || off === 0 ? null : within / off };
}

/** Block-diagonality of the family ordering against orderings that ignore the families. */
export interface BlockDiagonality {
  /** Features ordered family by family (each in the first family that holds it), blocks = families. */
  family: BlockRatio;
  /** The same features in feature-id order, cut into the same block sizes. */
  unordered: BlockRatio;
  /** The same features in a seeded random order, same block sizes. */
  random: BlockRatio;
  /** Features in the ordering. */
  features: number;
  /** Non-empty blocks. */
  blocks: number;
}

/**
 * Block-diagonality (METHOD.md §5, every family counted): the family-ordered overlap matrix against the
 * unordered and a random ordering of the same features with the same block sizes.
 */
export function blockDiagonality(c: Cooccurrence, families: readonly Family[], n: number, seed = 0): BlockDiagonality {
  const localF = localIndex(c.featuresM, n);
  const placed = new Set<number>();
  const order: number[] = [];
  const sizes: number[] = [];
  for (const f of families) {
    const before = order.length;
    for (const feat of familyFeatures(f)) {
      if (placed.has(feat)) continue;
      placed.add(feat);
      order.push(localF[feat]!);
    }
    if (order.length > before) sizes.push(order.length - before);
  }
  const unordered = [...order].sort((a, b) => a - b);
  const random = new Rng(`${seed}:blocks`).shuffleInPlace([...order]);
  return {
    family: blockRatio(c, order, sizes),
    unordered: blockRatio(c, unordered, sizes),
    random: blockRatio(c, random, sizes),
    features: order.length,
    blocks: sizes.length,
  };
}

/** Parent–child pairs (tree edges inside families) and matched random pairs. */
export interface PairEvidence {
  /** `[E]` P(parent | child) = C[parent, child] / n_child for each distinct tree edge of the families. */
  parentGivenChild: number[];
  /** `[E]` P(r | child) for a random feature r of density rank within ±MATCHED_RANK_WINDOW of the parent's. */
  randomGivenChild: number[];
  /** `[E]` decoder cosine of parent and child (when decoders are given). */
  parentChildCosine: number[];
  /** `[E]` decoder cosine of the random stand-in and child. */
  randomChildCosine: number[];
}

/**
 * Label-free evidence: for every distinct (parent, child) tree edge of the families, P(parent | child) and
 * decoder cosine, each beside the same quantity for a random feature of the feature set whose density
 * rank is close to the parent's (seeded).
 * @param wDecFD `[F, D]` unit-norm decoder directions (optional)
 */
export function pairEvidence(c: Cooccurrence, families: readonly Family[], n: number, opts: { wDecFD?: Float32Array; d?: number; seed?: number } = {}): PairEvidence {
  const localF = localIndex(c.featuresM, n);
  const m = c.featuresM.length;
  const byRank = Array.from({ length: m }, (_, i) => i).sort((a, b) => c.countM[b]! - c.countM[a]! || a - b);
  const rankOf = new Int32Array(m);
  byRank.forEach((a, r) => (rankOf[a] = r));
  const rng = new Rng(`${opts.seed ?? 0}:pairs`);
  const seen = new Set<string>();
  const out: PairEvidence = { parentGivenChild: [], randomGivenChild: [], parentChildCosine: [], randomChildCosine: [] };
  const d = opts.d ?? 0;
  const cos = (f: number, g: number): number => dot(opts.wDecFD!.subarray(f * d, (f + 1) * d), opts.wDecFD!.subarray(g * d, (g + 1) * d));
  for (const fam of families) {
    for (const mem of fam.members) {
      const key = `${mem.parent}:${mem.feature}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const p = localF[mem.parent]!;
      const ch = localF[mem.feature]!;
      const lo = Math.max(0, rankOf[p]! - MATCHED_RANK_WINDOW);
      const hi = Math.min(m - 1, rankOf[p]! + MATCHED_RANK_WINDOW);
      const choices = [];
      for (let r = lo; r <= hi; r++) if (byRank[r] !== p && byRank[r] !== ch) choices.push(byRank[r]!);
      if (choices.length === 0) continue;
      const rnd = choices[rng.int(choices.length)]!;
      const nc = c.countM[ch]!;
      out.parentGivenChild.push(nc === 0 ? 0 : pairCount(c, p, ch) / nc);
      out.randomGivenChild.push(nc === 0 ? 0 : pairCount(c, rnd, ch) / nc);
      if (opts.wDecFD !== undefined) {
        out.parentChildCosine.push(cos(mem.parent, mem.feature));
        out.randomChildCosine.push(cos(c.featuresM[rnd]!, mem.feature));
      }
    }
  }
  return out;
}

/** One SAE's family statistics (one row of the notebook's table). */
export interface FamilyStats {
  families: number;
  /** Families at nesting depth 0. */
  topLevel: number;
  childrenMin: number | undefined;
  childrenMedian: number | undefined;
  childrenMax: number | undefined;
  childrenMean: number | undefined;
  /** Distinct features in some family, and those in more than one. */
  featuresInFamilies: number;
  featuresInSeveral: number;
  /** Feature-set size M. */
  featureSetSize: number;
  /** Mean family F1 / Pearson over labelled families (undefined Pearsons counted apart). */
  meanF1: number | undefined;
  meanPearson: number | undefined;
  pearsonUndefined: number;
  labelled: number;
  /** Families passing the well-scored thresholds, and the fraction of the feature set inside one. */
  wellScored: number;
  fractionInWellScored: number;
  /** Mean and median co-occurrence ratio over families where it is defined. */
  cooccurrenceRatioMean: number | undefined;
  cooccurrenceRatioMedian: number | undefined;
  blocks: BlockDiagonality;
  /** Medians of the pair evidence. */
  medianParentGivenChild: number | undefined;
  medianRandomGivenChild: number | undefined;
  medianParentChildCosine: number | undefined;
  medianRandomChildCosine: number | undefined;
}

const medianOrUndefined = (x: readonly number[]): number | undefined => (x.length === 0 ? undefined : median(x));

/** The statistics of one build (labels optional). */
export function familyStats(args: {
  build: FamilyBuild;
  cooc: Cooccurrence;
  n: number;
  records?: readonly FamilyLabelRecord[];
  evidence: PairEvidence;
  wellScored: FamilyScoreConfig["wellScored"];
  seed?: number;
}): FamilyStats {
  const { build, cooc, n } = args;
  const fams = build.families;
  const children = fams.map((f) => f.members.length);
  const localF = localIndex(cooc.featuresM, n);
  const ratios = fams.map((f) => cooccurrenceRatio(cooc, localF, f)).filter((r): r is number => r !== undefined);
  const membership = new Map<number, number>();
  for (const f of fams) for (const feat of familyFeatures(f)) membership.set(feat, (membership.get(feat) ?? 0) + 1);
  const labelled = (args.records ?? []).filter((r) => r.status === "labelled");
  const good = new Set(
    labelled.filter((r) => r.f1 !== null && r.f1 >= args.wellScored.minF1 && r.pearson !== null && r.pearson >= args.wellScored.minPearson).map((r) => r.family),
  );
  const inGood = new Set<number>();
  for (const f of fams) if (good.has(f.id)) for (const feat of familyFeatures(f)) inGood.add(feat);
  const pearson = meanDefined(labelled.map((r) => r.pearson));
  const ratioMean = meanDefined(ratios);
  return {
    families: fams.length,
    topLevel: fams.filter((f) => f.depth === 0).length,
    childrenMin: children.length ? Math.min(...children) : undefined,
    childrenMedian: medianOrUndefined(children),
    childrenMax: children.length ? Math.max(...children) : undefined,
    childrenMean: meanDefined(children).mean,
    featuresInFamilies: membership.size,
    featuresInSeveral: [...membership.values()].filter((x) => x > 1).length,
    featureSetSize: cooc.featuresM.length,
    meanF1: meanDefined(labelled.map((r) => r.f1)).mean,
    meanPearson: pearson.mean,
    pearsonUndefined: pearson.undefinedCount,
    labelled: labelled.length,
    wellScored: good.size,
    fractionInWellScored: cooc.featuresM.length === 0 ? 0 : inGood.size / cooc.featuresM.length,
    cooccurrenceRatioMean: ratioMean.mean,
    cooccurrenceRatioMedian: medianOrUndefined(ratios),
    blocks: blockDiagonality(cooc, fams, n, args.seed ?? 0),
    medianParentGivenChild: medianOrUndefined(args.evidence.parentGivenChild),
    medianRandomGivenChild: medianOrUndefined(args.evidence.randomGivenChild),
    medianParentChildCosine: medianOrUndefined(args.evidence.parentChildCosine),
    medianRandomChildCosine: medianOrUndefined(args.evidence.randomChildCosine),
  };
}
