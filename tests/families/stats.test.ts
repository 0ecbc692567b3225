/** Statistics and stability on hand-built families (METHOD.md §5), each expected value derived in a comment. */
import { describe, expect, it } from "vitest";
import { buildFamilies, type Family } from "../../src/families/build.js";
import { cooccurrence, localIndex } from "../../src/families/cooccurrence.js";
import { familyStability } from "../../src/families/stability.js";
import { blockDiagonality, blockRatio, cooccurrenceRatio, familyStats, pairEvidence } from "../../src/families/stats.js";

/** `[N, 3]` codes from groups of identical documents, padded with filler ids 100+. */
function codes(groups: Array<[number, number[]]>): Int32Array {
  const rows: number[] = [];
  for (const [count, f] of groups) for (let i = 0; i < count; i++) for (let j = 0; j < 3; j++) rows.push(j < f.length ? f[j]! : 100 + j);
  return Int32Array.from(rows);
}
const fam = (id: number, root: number, members: number[], parent = root): Family => ({
  id, round: 1, depth: 0, parentFamily: null, root, threshold: 0.1,
  members: members.map((feature) => ({ feature, parent, weight: 1, depth: 1 })),
});

describe("family statistics", () => {
  // Root 0 (n 40) with children 1, 2 (n 10 each, always beside 0; together in 5 documents); feature 3 alone (n 10).
  const groups: Array<[number, number[]]> = [[20, [0]], [5, [0, 1]], [5, [0, 2]], [5, [0, 1, 2]], [10, [3]]];
  const c = cooccurrence(codes(groups), 3, [0, 1, 2, 3], 200);
  const localF = localIndex(c.featuresM, 200);

  it("co-occurrence ratio: mean O(root, child) over mean O(child, child')", () => {
    // O(0,1) = 10/min(40,10) = 1, O(0,2) = 1; O(1,2) = 5/10 = 0.5 → ratio 1 / 0.5 = 2.
    expect(cooccurrenceRatio(c, localF, fam(0, 0, [1, 2]))).toBeCloseTo(2, 12);
    // Children that never co-occur: undefined.
    expect(cooccurrenceRatio(c, localF, fam(0, 0, [1, 3]))).toBeUndefined();
  });

  it("block ratio: within and off the blocks", () => {
    // Blocks {0,1,2} | {3}: within = (1 + 1 + 0.5)/3, off = O(·,3) = 0 → ratio null.
    expect(blockRatio(c, [0, 1, 2, 3], [3, 1])).toEqual({ within: 2.5 / 3, off: 0, ratio: null });
    // Blocks {0,1} | {2,3}: within = (O01 + O23)/2 = 0.5; off = (O02 + O03 + O12 + O13)/4 = (1 + 0 + 0.5 + 0)/4.
    const r = blockRatio(c, [0, 1, 2, 3], [2, 2]);
    expect(r.within).toBeCloseTo(0.5, 12);
    expect(r.off).toBeCloseTo(0.375, 12);
    expect(r.ratio!).toBeCloseTo(0.5 / 0.375, 12);
    const b = blockDiagonality(c, [fam(0, 0, [1, 2])], 200);
    expect(b.features).toBe(3);
    expect(b.blocks).toBe(1);
  });

  it("pair evidence: P(parent | child) against a density-matched stand-in", () => {
    const e = pairEvidence(c, [fam(0, 0, [1, 2])], 200);
    // P(0 | 1) = C01 / n1 = 10/10 = 1, same for 2.
    expect(e.parentGivenChild).toEqual([1, 1]);
    // The stand-in for parent 0 is any other feature but the child: for child 1 it is 2 or 3.
    for (const v of e.randomGivenChild) expect([0, 0.5]).toContain(v);
    expect(e.parentChildCosine).toEqual([]);
    // With decoders: rows 0 and 1 identical, 2 orthogonal.
    const w = new Float32Array(200 * 2);
    w.set([1, 0], 0);
    w.set([1, 0], 2);
    w.set([0, 1], 4);
    w.set([0, 1], 6);
    const e2 = pairEvidence(c, [fam(0, 0, [1, 2])], 200, { wDecFD: w, d: 2 });
    expect(e2.parentChildCosine).toEqual([1, 0]);
  });

  it("familyStats: sizes, scores and the well-scored fraction", () => {
    const build = buildFamilies(cooccurrence(codes([[20, [0]], [10, [0, 1]], [10, [0, 2]], [10, [0, 3]], [10, [0, 4]]]), 3, [0, 1, 2, 3, 4, 5], 200));
    const cc = cooccurrence(codes([[20, [0]], [10, [0, 1]], [10, [0, 2]], [10, [0, 3]], [10, [0, 4]]]), 3, [0, 1, 2, 3, 4, 5], 200);
    const base = { status: "labelled" as const, label: "x", reasoning: "", source: "llm" as const, density: 0, predictions: [], truth: [], unparsed: 0, examples: { top: [], zero: [], heldOut: [] }, models: { labeller: "a", predictor: "b" }, scorer: "llm" as const };
    const s = familyStats({
      build, cooc: cc, n: 200, evidence: pairEvidence(cc, build.families, 200),
      records: [{ ...base, family: 0, root: 0, f1: 0.9, pearson: 0.85 }],
      wellScored: { minF1: 0.8, minPearson: 0.8 },
    });
    // One family {0; 1..4}: 5 of the 6 features of the set are in a well-scored family.
    expect(s).toMatchObject({ families: 1, topLevel: 1, childrenMin: 4, childrenMedian: 4, childrenMax: 4, featuresInFamilies: 5, featuresInSeveral: 0, featureSetSize: 6, labelled: 1, wellScored: 1, meanF1: 0.9, meanPearson: 0.85 });
    expect(s.fractionInWellScored).toBeCloseTo(5 / 6, 12);
  });
});

describe("family stability", () => {
  it("maps features by decoder match and scores each family by its best Jaccard in the other run", () => {
    // A's features 0..9 map to B's 10..19 with cosine 0.9, except feature 4 (cosine 0.3: unmapped).
    const indexN = Int32Array.from({ length: 10 }, (_, f) => 10 + f);
    const valueN = Float32Array.from({ length: 10 }, (_, f) => (f === 4 ? 0.3 : 0.9));
    const a = [fam(0, 0, [1, 2, 3, 4]), fam(1, 5, [6, 7, 8, 9])];
    const b = [fam(0, 10, [11, 12, 13]), fam(1, 15, [16, 17, 18, 19])];
    const s = familyStability({ familiesA: a, familiesB: b, matchAB: { indexN, valueN }, featureSetA: Int32Array.from({ length: 10 }, (_, i) => i) });
    // Family 0 → {10,11,12,13} + 1 unmapped vs B0 = {10..13}: 4 / (4 + 4 − 4 + 1) = 0.8. Family 1 maps exactly: 1.
    expect(s.bestJaccard[0]).toBeCloseTo(0.8, 12);
    expect(s.bestJaccard[1]).toBe(1);
    expect(s).toMatchObject({ families: 2, matched: 2, matchedFraction: 1, minCosine: 0.5, minJaccard: 0.5 });
    expect(s.mappedFeatureFraction).toBeCloseTo(9 / 10, 12);
    expect(s.chanceFraction).toBeGreaterThanOrEqual(0);
    expect(s.chanceFraction).toBeLessThanOrEqual(1);
  });
});

describe("document stability", () => {
  it("matches families by the documents they fire on, whatever the features are called", async () => {
    const { documentStability } = await import("../../src/families/stability.js");
    // Six documents, K = 2. In A, family {0; 1, 2} fires on documents 0–2; in B features 7 and 8 (another SAE's
    // names) cover the same documents, and a B family {9; 10} fires on documents 3–4.
    const codesA = { indices: Int32Array.from([0, 1, 0, 2, 1, 3, 4, 5, 4, 6, 5, 6]), values: new Float32Array(12).fill(1), k: 2 };
    const codesB = { indices: Int32Array.from([7, 8, 7, 11, 8, 11, 9, 10, 9, 12, 12, 13]), values: new Float32Array(12).fill(1), k: 2 };
    const s = documentStability({
      familiesA: [fam(0, 0, [1, 2])],
      familiesB: [fam(0, 7, [8]), fam(1, 9, [10])],
      codesA, codesB, nA: 7, nB: 14, featureSetA: [0, 1, 2, 3, 4, 5, 6],
    });
    // A's family fires on {0, 1, 2}; B's first on {0, 1, 2}: Jaccard 1.
    expect(s.bestJaccard).toEqual([1]);
    expect(s).toMatchObject({ families: 1, matched: 1, matchedFraction: 1, minJaccard: 0.5 });
    // Single features: 0 on {0,1} ↔ 7 on {0,1}: 1; 1 on {0,2} ↔ 8 on {0,2}: 1; 3 on {2} ↔ 8 or 11 (each on two documents holding 2): 1/2.
    const { featureDocumentJaccard } = await import("../../src/families/stability.js");
    const per = featureDocumentJaccard(codesA, codesB, 7, 14, [0, 1, 3]);
    expect(Array.from(per)).toEqual([1, 1, 0.5]);
    expect(() => documentStability({ familiesA: [], familiesB: [], codesA, codesB: { ...codesB, indices: codesB.indices.slice(0, 10), values: codesB.values.slice(0, 10) }, nA: 7, nB: 14, featureSetA: [] })).toThrow(/different numbers of documents/);
  });
});
