/**
 * The maximum spanning forest of the thresholded co-occurrence graph, oriented dense → sparse
 * (METHOD.md §5). Edge weights follow one documented symmetric rule (`EdgeWeightRule`), so the forest does
 * not depend on node order as the released code's did; every tie is broken by feature id, so the same
 * input always gives the same forest.
 *
 * The paper's exp() of the weights is dropped: a monotone map cannot change a maximum spanning tree.
 */
import type { EdgeWeightRule } from "./config.js";
import type { Cooccurrence } from "./cooccurrence.js";

/** Candidate edges between local feature indices, sorted by weight (descending), then a, then b. */
export interface EdgeList {
  /** `[E]` smaller local index of each edge. */
  aE: Int32Array;
  /** `[E]` larger local index. */
  bE: Int32Array;
  /** `[E]` symmetric edge weight. */
  weightE: Float64Array;
}

/** 1 − 1e-12: the margin of `candidateEdges`' pre-filter, far above the ~1e-16 rounding it guards. */
const PREFILTER_SAFETY = 1 - 1e-12;

/** Whether local feature `a` counts as denser than `b`: more firings, or as many and a lower feature id. */
export function isDenser(c: Pick<Cooccurrence, "countM">, a: number, b: number): boolean {
  const na = c.countM[a]!;
  const nb = c.countM[b]!;
  return na > nb || (na === nb && a < b);
}

/** The symmetric edge weight of a pair with count `cab` (see `EdgeWeightRule`). */
export function edgeWeight(rule: EdgeWeightRule, cab: number, na: number, nb: number): number {
  return rule === "max" ? cab / (Math.min(na, nb) + 1) : cab / (Math.max(na, nb) + 1);
}

/**
 * Every pair whose symmetric weight is at least `minWeight`, sorted for Kruskal.
 * Scans the packed triangle once into growing typed arrays (O(M²) time, O(E) memory); the scan visits
 * pairs in (a, b) order, so a stable sort by weight alone gives the (weight desc, a, b) order.
 */
export function candidateEdges(c: Cooccurrence, rule: EdgeWeightRule, minWeight: number): EdgeList {
  const m = c.featuresM.length;
  const { countM, pairs, rowStartM } = c;
  const maxRule = rule === "max";
  // A cheap exact-safe pre-filter: w = cab / (d + 1) ≥ minWeight needs cab ≥ minWeight·(d + 1), so a pair
  // below minWeight·(n + 1)·(1 − 1e-12) for the relevant end cannot pass (the margin covers rounding);
  // the few that remain are tested with the division itself, as `edgeWeight` computes it.
  const thrM = new Float64Array(m);
  for (let b = 0; b < m; b++) thrM[b] = minWeight * (countM[b]! + 1) * PREFILTER_SAFETY;
  let cap = 1024;
  let aE = new Int32Array(cap);
  let bE = new Int32Array(cap);
  let wE = new Float64Array(cap);
  let e = 0;
  for (let a = 0; a < m; a++) {
    const rs = rowStartM[a]!;
    const na = countM[a]!;
    if (na === 0) continue;
    const thrA = thrM[a]!;
    for (let b = a + 1; b < m; b++) {
      const cab = pairs[rs + b]!;
      const thrB = thrM[b]!;
      // max rule: d = min(n_a, n_b), so the bound is the smaller one; sparser-given-denser: the larger.
      if (maxRule ? cab < thrA && cab < thrB : cab < thrA || cab < thrB) continue;
      if (cab === 0) continue;
      const nb = countM[b]!;
      const w = maxRule ? cab / ((na < nb ? na : nb) + 1) : cab / ((na > nb ? na : nb) + 1);
      if (w >= minWeight) {
        if (e === cap) {
          cap *= 2;
          aE = grown(aE, new Int32Array(cap));
          bE = grown(bE, new Int32Array(cap));
          wE = grown(wE, new Float64Array(cap));
        }
        aE[e] = a;
        bE[e] = b;
        wE[e] = w;
        e++;
      }
    }
  }
  const orderE = stableOrderByWeightDesc(wE.subarray(0, e));
  const out: EdgeList = { aE: new Int32Array(e), bE: new Int32Array(e), weightE: new Float64Array(e) };
  for (let i = 0; i < e; i++) {
    const j = orderE[i]!;
    out.aE[i] = aE[j]!;
    out.bE[i] = bE[j]!;
    out.weightE[i] = wE[j]!;
  }
  return out;
}

/** `to` with `from` copied into its start. */
function grown<T extends Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/**
 * `[E]` the permutation that sorts `weightE` descending, ties in index order (a stable sort), for finite
 * weights. Without a comparator: the distinct weights are sorted natively, each edge's rank is found by
 * binary search, and a counting sort by rank places the edges.
 */
function stableOrderByWeightDesc(weightE: Float64Array): Int32Array {
  const e = weightE.length;
  const distinct = Float64Array.from(weightE).sort();
  let u = 0;
  for (let i = 0; i < e; i++) if (u === 0 || distinct[i] !== distinct[u - 1]) distinct[u++] = distinct[i]!;
  // rankE[i]: number of distinct weights above weightE[i].
  const rankE = new Int32Array(e);
  const startU = new Int32Array(u + 1);
  for (let i = 0; i < e; i++) {
    const w = weightE[i]!;
    let lo = 0;
    let hi = u - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (distinct[mid]! < w) lo = mid + 1;
      else hi = mid;
    }
    const r = u - 1 - lo;
    rankE[i] = r;
    startU[r + 1]!++;
  }
  for (let r = 0; r < u; r++) startU[r + 1]! += startU[r]!;
  const orderE = new Int32Array(e);
  for (let i = 0; i < e; i++) orderE[startU[rankE[i]!]!++] = i;
  return orderE;
}

/** An oriented forest over local feature indices: every tree edge points from the denser to the sparser end. */
export interface OrientedForest {
  /** Nodes M. */
  m: number;
  /** `[M]` the tree parents of each node (denser neighbours), ascending. */
  parentsM: number[][];
  /** `[M]` the tree children of each node (sparser neighbours), ascending. */
  childrenM: number[][];
  /** Weight of the tree edge between two nodes, keyed `min·M + max`. */
  weight: Map<number, number>;
  /** Tree edges. */
  edges: number;
}

function find(parentM: Int32Array, x: number): number {
  while (parentM[x] !== x) {
    parentM[x] = parentM[parentM[x]!]!;
    x = parentM[x]!;
  }
  return x;
}

/**
 * Kruskal's maximum spanning forest over the candidate edges with weight ≥ `threshold` whose ends are both
 * active, oriented dense → sparse.
 * @param activeM `[M]` 1 for nodes taking part in this round
 */
export function orientedForest(c: Cooccurrence, edges: EdgeList, threshold: number, activeM: Uint8Array): OrientedForest {
  const m = c.featuresM.length;
  const uf = Int32Array.from({ length: m }, (_, i) => i);
  const parentsM: number[][] = Array.from({ length: m }, () => []);
  const childrenM: number[][] = Array.from({ length: m }, () => []);
  const weight = new Map<number, number>();
  let count = 0;
  for (let e = 0; e < edges.weightE.length; e++) {
    const w = edges.weightE[e]!;
    if (w < threshold) break; // sorted descending
    const a = edges.aE[e]!;
    const b = edges.bE[e]!;
    if (activeM[a] !== 1 || activeM[b] !== 1) continue;
    const ra = find(uf, a);
    const rb = find(uf, b);
    if (ra === rb) continue;
    uf[ra] = rb;
    const aDenser = isDenser(c, a, b);
    const from = aDenser ? a : b;
    const to = aDenser ? b : a;
    childrenM[from]!.push(to);
    parentsM[to]!.push(from);
    weight.set(a * m + b, w);
    count++;
    if (count === m - 1) break;
  }
  for (const list of [...parentsM, ...childrenM]) list.sort((x, y) => x - y);
  return { m, parentsM, childrenM, weight, edges: count };
}

/** Weight of the tree edge between local nodes a and b (undefined when they are not tree neighbours). */
export function treeWeight(f: OrientedForest, a: number, b: number): number | undefined {
  return f.weight.get(Math.min(a, b) * f.m + Math.max(a, b));
}
