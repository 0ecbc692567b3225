/**
 * Feature families (METHOD.md §5): rounds of maximum spanning forest over the co-occurrence graph, each
 * oriented dense → sparse; a root (in-degree 0, out-degree ≥ 3) and all its descendants form a family; a
 * member with enough children of its own roots a nested family inside it (recursion); after each round
 * every root found so far (nested ones too) leaves the feature set and the forest is rebuilt at the next
 * round's threshold. Families with too few members are dropped, and of two families whose member sets
 * overlap too much the smaller goes.
 *
 * Deterministic throughout: roots are visited densest first (ties by feature id), children in feature-id
 * order, Kruskal's ties by feature id, dedupe ties keep the earlier family — the same codes and config give
 * the same families, byte for byte.
 *
 * Because the oriented forest is a polytree, a sparse feature with two denser tree neighbours is reached
 * from two roots and belongs to both families. Within one family the members form a tree (each member has
 * exactly one parent inside the family: two would close a cycle in the spanning forest).
 */
import { SaerchError } from "../core/errors.js";
import { FamilyBuildConfig, type FamilyBuildConfigInput, roundThreshold } from "./config.js";
import type { Cooccurrence } from "./cooccurrence.js";
import { candidateEdges, isDenser, type OrientedForest, orientedForest, treeWeight } from "./forest.js";

/** One member of a family besides its root. */
export interface FamilyMember {
  /** Feature id. */
  feature: number;
  /** Its parent inside the family (the root or another member), a feature id. */
  parent: number;
  /** Weight of the tree edge parent → feature. */
  weight: number;
  /** Edges from the family's root (1 = a direct child). */
  depth: number;
}

/** One feature family. */
export interface Family {
  /** Position in the build's family list. */
  id: number;
  /** Round that found it (1-based). */
  round: number;
  /** Nesting depth: 0 for a family rooted at a forest root, 1 for one nested inside it, … */
  depth: number;
  /** Id of the kept family this one is nested in (the nearest kept ancestor), or null. */
  parentFamily: number | null;
  /** The parent feature (the family's root), a feature id. */
  root: number;
  /** Members besides the root, by depth then feature id. */
  members: FamilyMember[];
  /** The round's edge-weight threshold. */
  threshold: number;
}

/** What one round did. */
export interface RoundSummary {
  round: number;
  threshold: number;
  /** Features taking part (the feature set minus the roots of earlier rounds). */
  active: number;
  /** Edges of the round's maximum spanning forest. */
  treeEdges: number;
  /** Roots and nested roots found (before the size floor). */
  roots: number;
  /** Families found that pass the size floor (before dedupe). */
  families: number;
}

/** The build's outcome. */
export interface FamilyBuild {
  /** `[M]` the feature set, ascending feature ids. */
  featuresM: Int32Array;
  /** Kept families, ordered by round, then discovery. */
  families: Family[];
  rounds: RoundSummary[];
  /** Families dropped by the Jaccard rule, each with the kept family it duplicated. */
  duplicates: Array<{ root: number; round: number; depth: number; members: number; keptFamily: number; jaccard: number }>;
}

/** A family before the size floor and dedupe; members in local indices. */
interface RawFamily {
  round: number;
  depth: number;
  parent: RawFamily | null;
  root: number;
  members: Array<{ node: number; parent: number; weight: number; depth: number }>;
  threshold: number;
  /** Order of discovery over the whole build. */
  order: number;
  /** `[members]` sorted local indices, for Jaccard. */
  set: Int32Array;
}

/** Root and all its descendants in the oriented forest, breadth first, children in index order. */
function descendants(f: OrientedForest, root: number): RawFamily["members"] {
  const out: RawFamily["members"] = [];
  const queue: Array<[number, number]> = [[root, 0]];
  for (let q = 0; q < queue.length; q++) {
    const [node, depth] = queue[q]!;
    for (const child of f.childrenM[node]!) {
      out.push({ node: child, parent: node, weight: treeWeight(f, node, child)!, depth: depth + 1 });
      queue.push([child, depth + 1]);
    }
  }
  out.sort((x, y) => x.depth - y.depth || x.node - y.node);
  return out;
}

/** Densest first; ties by lower local index (= lower feature id). */
function byDensity(c: Cooccurrence): (a: number, b: number) => number {
  return (a, b) => (a === b ? 0 : isDenser(c, a, b) ? -1 : 1);
}

/**
 * Build families from co-occurrence counts.
 * @param c co-occurrence over the feature set (its `featuresM` is the set)
 */
export function buildFamilies(c: Cooccurrence, input: FamilyBuildConfigInput = {}): FamilyBuild {
  const cfg = FamilyBuildConfig.parse(input);
  const m = c.featuresM.length;
  const minThreshold = Math.min(cfg.firstThreshold, cfg.laterThreshold);
  const edges = candidateEdges(c, cfg.edgeWeight, minThreshold);
  const activeM = new Uint8Array(m).fill(1);
  const raw: RawFamily[] = [];
  const rounds: RoundSummary[] = [];
  const densest = byDensity(c);
  for (let r = 0; r < cfg.rounds; r++) {
    const threshold = roundThreshold(cfg, r);
    const forest = orientedForest(c, edges, threshold, activeM);
    const roots: number[] = [];
    const found: RawFamily[] = [];
    const collect = (node: number, depth: number, parent: RawFamily | null): void => {
      roots.push(node);
      const members = descendants(forest, node);
      const fam: RawFamily = {
        round: r + 1,
        depth,
        parent,
        root: node,
        members,
        threshold,
        order: raw.length + found.length,
        set: Int32Array.from(members, (x) => x.node).sort(),
      };
      found.push(fam);
      if (!cfg.nested) return;
      for (const child of [...forest.childrenM[node]!].sort(densest)) {
        if (forest.childrenM[child]!.length >= cfg.minRootOutDegree) collect(child, depth + 1, fam);
      }
    };
    const top: number[] = [];
    for (let a = 0; a < m; a++) {
      if (activeM[a] === 1 && forest.parentsM[a]!.length === 0 && forest.childrenM[a]!.length >= cfg.minRootOutDegree) top.push(a);
    }
    for (const root of top.sort(densest)) collect(root, 0, null);
    const active = activeM.reduce((s, x) => s + x, 0);
    for (const a of roots) activeM[a] = 0;
    const kept = found.filter((f) => f.members.length >= cfg.minChildren);
    raw.push(...kept);
    rounds.push({ round: r + 1, threshold, active, treeEdges: forest.edges, roots: roots.length, families: kept.length });
  }
  return finish(c, raw, rounds, cfg.dedupeJaccard);
}

/** |A ∩ B| of two sorted sets. */
export function intersectionSize(a: Int32Array, b: Int32Array): number {
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      n++;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return n;
}

/** Jaccard of two sorted sets (0 for two empty ones). */
export function jaccardSorted(a: Int32Array, b: Int32Array): number {
  const inter = intersectionSize(a, b);
  const union = a.length + b.length - inter;
  return union === 0 ? 0 : inter / union;
}

/**
 * Dedupe (largest first; equal sizes keep the earlier family), number the kept families in discovery order
 * and translate local indices to feature ids.
 */
function finish(c: Cooccurrence, raw: RawFamily[], rounds: RoundSummary[], maxJaccard: number): FamilyBuild {
  const bySize = [...raw].sort((x, y) => y.set.length - x.set.length || x.order - y.order);
  const kept: RawFamily[] = [];
  const dropped: Array<{ fam: RawFamily; by: RawFamily; jaccard: number }> = [];
  for (const fam of bySize) {
    let dup: { by: RawFamily; jaccard: number } | undefined;
    for (const k of kept) {
      // Jaccard ≤ |small| / |large|: skip pairs that cannot pass.
      if (fam.set.length <= maxJaccard * k.set.length) continue;
      const j = jaccardSorted(fam.set, k.set);
      if (j > maxJaccard) {
        dup = { by: k, jaccard: j };
        break;
      }
    }
    if (dup) dropped.push({ fam, ...dup });
    else kept.push(fam);
  }
  kept.sort((x, y) => x.order - y.order);
  const idOf = new Map<RawFamily, number>(kept.map((f, i) => [f, i]));
  const feature = (a: number): number => c.featuresM[a]!;
  const families: Family[] = kept.map((f, id) => {
    let p = f.parent;
    while (p !== null && !idOf.has(p)) p = p.parent;
    return {
      id,
      round: f.round,
      depth: f.depth,
      parentFamily: p === null ? null : idOf.get(p)!,
      root: feature(f.root),
      members: f.members.map((x) => ({ feature: feature(x.node), parent: feature(x.parent), weight: x.weight, depth: x.depth })),
      threshold: f.threshold,
    };
  });
  const duplicates = dropped
    .sort((x, y) => x.fam.order - y.fam.order)
    .map(({ fam, by, jaccard }) => ({ root: feature(fam.root), round: fam.round, depth: fam.depth, members: fam.set.length, keptFamily: idOf.get(by)!, jaccard }));
  return { featuresM: c.featuresM, families, rounds, duplicates };
}

/** Every feature id of a family: its root, then its members. */
export function familyFeatures(f: Pick<Family, "root" | "members">): number[] {
  return [f.root, ...f.members.map((x) => x.feature)];
}

/** Throw a clear error for a feature set that cannot form a family. */
export function checkFeatureSet(featuresM: ArrayLike<number>, cfg: Pick<FamilyBuildConfig, "minChildren">, what: string): void {
  if (featuresM.length === 0) throw new SaerchError(`the ${what} feature set is empty: no family can form`, "label the SAE (notebook 04) or use featureSet: 'alive'");
  if (featuresM.length < cfg.minChildren + 1) {
    throw new SaerchError(
      `the ${what} feature set has ${featuresM.length} features; a family needs a root and at least ${cfg.minChildren} members`,
      "use a larger feature set (featureSet: 'alive', or a wider density band)",
    );
  }
}
