/**
 * Golden families on hand-built code sets, each derived by hand in its comment (weights with the default
 * `max` rule: w(a, b) = C[a, b] / (min(n_a, n_b) + 1)), plus determinism and bad-input checks.
 */
import { describe, expect, it } from "vitest";
import { buildFamilies, checkFeatureSet, familyFeatures, jaccardSorted } from "../../src/families/build.js";
import { cooccurrence } from "../../src/families/cooccurrence.js";
import { Rng } from "../../src/core/rng.js";
import { N_FEATURES, codesOf } from "../fixtures/families/hand-codes.js";

function build(groups: Array<[number, number[]]>, features: number[], cfg = {}) {
  const { indices, k } = codesOf(groups);
  return buildFamilies(cooccurrence(indices, k, features, N_FEATURES), cfg);
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const memberView = (f: { members: Array<{ feature: number; parent: number; depth: number }> }) => f.members.map((m) => [m.feature, m.parent, m.depth]);

describe("buildFamilies: golden cases", () => {
  it("a clean hierarchy: one dense root and four sparser children", () => {
    // n_0 = 50, n_1..4 = 10, C[0,i] = 10 → w = 10/11. Star 0 → 1..4: root 0 (out-degree 4), 4 members.
    const b = build([[10, [0, 1]], [10, [0, 2]], [10, [0, 3]], [10, [0, 4]], [10, [0]]], range(0, 5));
    expect(b.families).toHaveLength(1);
    const f = b.families[0]!;
    expect(f).toMatchObject({ id: 0, round: 1, depth: 0, parentFamily: null, root: 0, threshold: 0.1 });
    expect(memberView(f)).toEqual([[1, 0, 1], [2, 0, 1], [3, 0, 1], [4, 0, 1]]);
    for (const m of f.members) expect(m.weight).toBeCloseTo(10 / 11, 12);
    expect(b.rounds.map((r) => [r.active, r.treeEdges, r.roots, r.families])).toEqual([[5, 4, 1, 1], [4, 0, 0, 0], [4, 0, 0, 0], [4, 0, 0, 0]]);
  });

  it("two roots sharing a sparse child (a polytree): the child belongs to both families", () => {
    // A = 0 with 2..5, B = 1 with 6..9 (10 documents each pair); S = 10 with 6 documents beside A and 6 beside B:
    // n_10 = 12, w(0,10) = w(1,10) = 6/13. A and B never co-occur, so both edges enter the forest: 0 → 10 ← 1.
    const b = build(
      [[10, [0, 2]], [10, [0, 3]], [10, [0, 4]], [10, [0, 5]], [10, [1, 6]], [10, [1, 7]], [10, [1, 8]], [10, [1, 9]], [6, [0, 10]], [6, [1, 10]]],
      range(0, 11),
    );
    expect(b.families.map((f) => familyFeatures(f))).toEqual([[0, 2, 3, 4, 5, 10], [1, 6, 7, 8, 9, 10]]);
    expect(b.families[1]!.members.find((m) => m.feature === 10)).toMatchObject({ parent: 1, depth: 1 });
    expect(b.families[0]!.members.find((m) => m.feature === 10)!.weight).toBeCloseTo(6 / 13, 12);
  });

  it("a nested family: a member with four children of its own roots a family inside its parent's", () => {
    // n_0 = 60 (10 each with 1..4, 20 alone), n_1 = 30 (10 with 0, 5 each with 5..8). w(0,1) = 10/31,
    // w(1,5..8) = 5/6. Forest 0 → 1..4, 1 → 5..8. Family 0 = {1..8}; nested family 1 = {5..8}; Jaccard 4/8 ≤ 0.6.
    const b = build(
      [[10, [0, 1]], [10, [0, 2]], [10, [0, 3]], [10, [0, 4]], [20, [0]], [5, [1, 5]], [5, [1, 6]], [5, [1, 7]], [5, [1, 8]]],
      range(0, 9),
    );
    expect(b.families).toHaveLength(2);
    expect(memberView(b.families[0]!)).toEqual([[1, 0, 1], [2, 0, 1], [3, 0, 1], [4, 0, 1], [5, 1, 2], [6, 1, 2], [7, 1, 2], [8, 1, 2]]);
    expect(b.families[1]).toMatchObject({ id: 1, round: 1, depth: 1, parentFamily: 0, root: 1 });
    expect(memberView(b.families[1]!)).toEqual([[5, 1, 1], [6, 1, 1], [7, 1, 1], [8, 1, 1]]);
    // Both roots leave the feature set after round 1: nothing is left to connect.
    expect(b.rounds[0]!.roots).toBe(2);
    expect(b.rounds[1]!.active).toBe(7);
  });

  it("the Jaccard rule drops the smaller of two overlapping families", () => {
    // Root 0 with children 1, 2, 3; member 1 with children 5..9. Family 0 = {1,2,3,5..9} (8), nested family 1 =
    // {5..9} (5): Jaccard 5/8 = 0.625 > 0.6, so the nested one goes.
    const b = build(
      [[10, [0, 1]], [10, [0, 2]], [10, [0, 3]], [20, [0]], [5, [1, 5]], [5, [1, 6]], [5, [1, 7]], [5, [1, 8]], [5, [1, 9]]],
      range(0, 10),
    );
    expect(b.families.map((f) => f.root)).toEqual([0]);
    expect(b.duplicates).toHaveLength(1);
    expect(b.duplicates[0]).toMatchObject({ root: 1, round: 1, depth: 1, members: 5, keptFamily: 0 });
    expect(b.duplicates[0]!.jaccard).toBeCloseTo(0.625, 12);
    // With the rule relaxed both stay.
    expect(build([[10, [0, 1]], [10, [0, 2]], [10, [0, 3]], [20, [0]], [5, [1, 5]], [5, [1, 6]], [5, [1, 7]], [5, [1, 8]], [5, [1, 9]]], range(0, 10), { dedupeJaccard: 0.7 }).families).toHaveLength(2);
  });

  it("a weight tie is broken by feature id", () => {
    // n_0 = 45, n_1 = 40, n_4 = 10, n_2 = n_3 = n_5 = 5. w(0,2) = w(0,3) = w(1,5) = 5/6, w(0,1) = 30/41,
    // w(0,4) = w(1,4) = 5/11: a tie; (0,4) sorts first, (1,4) would close a cycle. Forest 0 → 1,2,3,4; 1 → 5.
    const b = build([[30, [0, 1]], [5, [0, 4]], [5, [1, 4]], [5, [0, 2]], [5, [0, 3]], [5, [1, 5]]], range(0, 6));
    expect(b.families).toHaveLength(1);
    expect(memberView(b.families[0]!)).toEqual([[1, 0, 1], [2, 0, 1], [3, 0, 1], [4, 0, 1], [5, 1, 2]]);
    expect(b.families[0]!.members[3]!.weight).toBeCloseTo(5 / 11, 12);
  });

  it("a family that forms only at the later, lower threshold", () => {
    // Root 10 (n = 200) with children 11..14, each n = 24 and 2 documents beside the root: w = 2/25 = 0.08,
    // below 0.1 (round 1) and above 0.07 (round 2).
    const groups: Array<[number, number[]]> = [[192, [10]]];
    for (const c of [11, 12, 13, 14]) groups.push([2, [10, c]], [22, [c]]);
    const b = build(groups, range(10, 15));
    expect(b.families).toHaveLength(1);
    expect(b.families[0]).toMatchObject({ round: 2, root: 10, threshold: 0.07 });
    expect(b.rounds.map((r) => r.families)).toEqual([0, 1, 0, 0]);
  });

  it("a feature set with no family: no co-occurrence, or too few children", () => {
    expect(build([[10, [0]], [10, [1]], [10, [2]], [10, [3]], [10, [4]]], range(0, 5)).families).toEqual([]);
    // Root with three children: out-degree 3 makes it a root, but 3 members are below the floor of 4.
    const three = build([[10, [0, 1]], [10, [0, 2]], [10, [0, 3]], [10, [0]]], range(0, 4));
    expect(three.families).toEqual([]);
    expect(three.rounds[0]!.roots).toBe(1);
  });

  it("the edge-weight rule is a choice: P(sparser | denser) cuts the weak links", () => {
    // n_0 = 100, n_1..4 = 10, C = 5: max rule 5/11 = 0.45; sparser-given-denser 5/101 = 0.0495 < 0.07.
    const groups: Array<[number, number[]]> = [[80, [0]], [5, [0, 1]], [5, [0, 2]], [5, [0, 3]], [5, [0, 4]], [5, [1]], [5, [2]], [5, [3]], [5, [4]]];
    expect(build(groups, range(0, 5)).families).toHaveLength(1);
    expect(build(groups, range(0, 5), { edgeWeight: "sparser-given-denser" }).families).toHaveLength(0);
  });
});

describe("buildFamilies: invariants on random codes", () => {
  function randomCodes(seed: number, docs: number, n: number, k: number): Int32Array {
    const rng = new Rng(seed);
    // A few dense "topic" features, each pulling in a block of sparse ones.
    const out = new Int32Array(docs * k);
    for (let i = 0; i < docs; i++) {
      const topic = rng.int(8);
      const row = new Set<number>([topic]);
      while (row.size < k) row.add(rng.float() < 0.6 ? 8 + topic * 20 + rng.int(20) : rng.int(n));
      out.set([...row], i * k);
    }
    return out;
  }

  it("children are sparser than their root, sizes pass the floor, and the build is deterministic", () => {
    const n = 400;
    const k = 8;
    const codes = randomCodes(3, 4000, n, k);
    const c = cooccurrence(codes, k, range(0, n), n);
    const b1 = buildFamilies(c);
    const b2 = buildFamilies(cooccurrence(codes, k, range(0, n).reverse(), n));
    expect(JSON.stringify(b1)).toBe(JSON.stringify(b2));
    expect(b1.families.length).toBeGreaterThan(0);
    for (const f of b1.families) {
      expect(f.members.length).toBeGreaterThanOrEqual(4);
      for (const m of f.members) {
        expect(c.countM[m.feature]!).toBeLessThanOrEqual(c.countM[m.parent]!);
        expect(c.countM[m.feature]!).toBeLessThanOrEqual(c.countM[f.root]!);
        expect(m.weight).toBeGreaterThanOrEqual(f.threshold);
      }
    }
    // No two kept families overlap beyond the dedupe threshold.
    const sets = b1.families.map((f) => Int32Array.from(f.members.map((m) => m.feature)).sort());
    for (let i = 0; i < sets.length; i++) for (let j = i + 1; j < sets.length; j++) expect(jaccardSorted(sets[i]!, sets[j]!)).toBeLessThanOrEqual(0.6);
  });
});

describe("checkFeatureSet", () => {
  it("names an empty or too-small feature set", () => {
    expect(() => checkFeatureSet([], { minChildren: 4 }, "clean")).toThrow(/clean feature set is empty/);
    expect(() => checkFeatureSet([1, 2, 3], { minChildren: 4 }, "clean")).toThrow(/has 3 features; a family needs a root and at least 4 members/);
    expect(() => checkFeatureSet([1, 2, 3, 4, 5], { minChildren: 4 }, "clean")).not.toThrow();
  });
});
