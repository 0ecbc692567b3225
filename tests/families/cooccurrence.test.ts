/**
 * Co-occurrence counts: a hand example with its counts derived in the comment, then naive-vs-fast — the
 * dense one-hot AᵀA against `CooccurrenceCounter` (both of its block paths), in-memory against streamed
 * from a .npy in uneven blocks — and the candidate-edge order against a comparator sort over objects.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { writeNpy } from "../../src/io/npy.js";
import {
  conditional,
  type Cooccurrence,
  cooccurrence,
  CooccurrenceCounter,
  cooccurrenceFromNpy,
  localIndex,
  overlap,
  pairCount,
} from "../../src/families/cooccurrence.js";
import { candidateEdges, edgeWeight } from "../../src/families/forest.js";

const tmp = mkdtempSync(join(tmpdir(), "saerch-cooc-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("co-occurrence: a hand example", () => {
  // K = 3, n = 6, feature set {5, 1, 4, 2} → sorted [1, 2, 4, 5], local 0..3. Feature 0 and 3 are outside it;
  // document 2 repeats 4, which counts once.
  //   d0 [1, 2, 4]   d1 [2, 1, 0]   d2 [4, 4, 5]   d3 [5, 3, 2]
  // n_1 = 2 (d0, d1), n_2 = 3 (d0, d1, d3), n_4 = 2 (d0, d2), n_5 = 2 (d2, d3).
  // C[1,2] = 2 (d0, d1), C[1,4] = 1 (d0), C[1,5] = 0, C[2,4] = 1 (d0), C[2,5] = 1 (d3), C[4,5] = 1 (d2).
  const codes = Int32Array.from([1, 2, 4, 2, 1, 0, 4, 4, 5, 5, 3, 2]);
  const c = cooccurrence(codes, 3, [5, 1, 4, 2], 6);

  it("counts firings and pairs over the sorted feature set", () => {
    expect(Array.from(c.featuresM)).toEqual([1, 2, 4, 5]);
    expect(c.docs).toBe(4);
    expect(Array.from(c.countM)).toEqual([2, 3, 2, 2]);
    const table = [0, 1, 2, 3].map((a) => [0, 1, 2, 3].map((b) => pairCount(c, a, b)));
    expect(table).toEqual([
      [2, 2, 1, 0],
      [2, 3, 1, 1],
      [1, 1, 2, 1],
      [0, 1, 1, 2],
    ]);
    // The packed layout: C[a, b] for a < b at rowStartM[a] + b, rows of M − 1, M − 2, … entries.
    expect(Array.from(c.pairs)).toEqual([2, 1, 0, 1, 1, 1]);
    expect(Array.from(c.rowStartM)).toEqual([-1, 1, 2, 2]);
  });

  it("derives the conditional C/(n+1) and the overlap C/min(n)", () => {
    expect(conditional(c, 0, 1)).toBeCloseTo(2 / 3, 12); // P(2 | 1) = 2 / (2 + 1)
    expect(conditional(c, 1, 0)).toBeCloseTo(2 / 4, 12); // P(1 | 2) = 2 / (3 + 1)
    expect(conditional(c, 1, 3)).toBeCloseTo(1 / 4, 12);
    expect(conditional(c, 2, 2)).toBe(0);
    expect(overlap(c, 0, 1)).toBe(1); // 2 / min(2, 3)
    expect(overlap(c, 1, 3)).toBe(0.5); // 1 / min(3, 2)
    expect(overlap(c, 0, 3)).toBe(0);
    expect(overlap(c, 2, 2)).toBe(1);
  });

  it("rejects a duplicated or out-of-range feature and a ragged block", () => {
    expect(() => localIndex(Int32Array.from([1, 1]), 6)).toThrow(/appears twice/);
    expect(() => localIndex(Int32Array.from([6]), 6)).toThrow(/outside the dictionary/);
    expect(() => new CooccurrenceCounter([1, 2], 6, 3).add(Int32Array.from([1, 2]))).toThrow(/not a whole number of rows/);
  });
});

/** C = AᵀA from the dense one-hot A [N, n] (a repeated index sets the same cell), restricted to the sorted set. */
function naiveCounts(indicesNK: Int32Array, k: number, features: number[], n: number): { countM: number[]; pairs: number[][] } {
  const rows = indicesNK.length / k;
  const oneHotNF = new Uint8Array(rows * n);
  for (let i = 0; i < rows; i++) for (let j = 0; j < k; j++) oneHotNF[i * n + indicesNK[i * k + j]!] = 1;
  const set = [...features].sort((x, y) => x - y);
  const m = set.length;
  const pairs = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  for (let i = 0; i < rows; i++) {
    for (let a = 0; a < m; a++) {
      if (oneHotNF[i * n + set[a]!] === 0) continue;
      for (let b = 0; b < m; b++) pairs[a]![b]! += oneHotNF[i * n + set[b]!]!;
    }
  }
  return { countM: set.map((_, a) => pairs[a]![a]!), pairs };
}

/** Random `[N, K]` codes drawn with replacement (so rows repeat indices), skewed so some features are dense. */
function randomCodes(rng: Rng, rows: number, k: number, n: number): Int32Array {
  const out = new Int32Array(rows * k);
  for (let i = 0; i < out.length; i++) out[i] = rng.float() < 0.5 ? rng.int(Math.max(1, n >> 3)) : rng.int(n);
  return out;
}

function expectSameAsNaive(c: Cooccurrence, naive: { countM: number[]; pairs: number[][] }): void {
  const m = naive.countM.length;
  expect(Array.from(c.countM)).toEqual(naive.countM);
  const got = Array.from({ length: m }, (_, a) => Array.from({ length: m }, (_, b) => pairCount(c, a, b)));
  expect(got).toEqual(naive.pairs);
}

function expectSameCounts(x: Cooccurrence, y: Cooccurrence): void {
  expect(x.docs).toBe(y.docs);
  expect(Array.from(x.featuresM)).toEqual(Array.from(y.featuresM));
  expect(Array.from(x.countM)).toEqual(Array.from(y.countM));
  expect(Array.from(x.pairs)).toEqual(Array.from(y.pairs));
  expect(Array.from(x.rowStartM)).toEqual(Array.from(y.rowStartM));
}

describe("co-occurrence: naive one-hot AᵀA vs CooccurrenceCounter", () => {
  // Awkward sizes: N = 1237 rows, n = 97, K = 7, a subset of 61 features (the rest fire but are not counted).
  const rng = new Rng(11);
  const n = 97;
  const k = 7;
  const codes = randomCodes(rng, 1237, k, n);
  const features = Array.from(rng.permutation(n).subarray(0, 61));
  const naive = naiveCounts(codes, k, features, n);

  it("one in-memory block (counted feature by feature) equals the naive counts", () => {
    const c = cooccurrence(codes, k, features, n);
    expect(c.docs).toBe(1237);
    expectSameAsNaive(c, naive);
  });

  it("uneven blocks, tiny ones counted document by document, equal the one-block result", () => {
    const counter = new CooccurrenceCounter(features, n, k);
    // 1 and 2 rows (7, 14 entries < M = 61) take the per-document path; the others the per-feature one.
    const cuts = [0, 1, 3, 16, 517, 518, 1237];
    for (let i = 0; i + 1 < cuts.length; i++) counter.add(codes.subarray(cuts[i]! * k, cuts[i + 1]! * k));
    expectSameCounts(counter.result(), cooccurrence(codes, k, features, n));
  });

  it("streamed from a .npy in blocks of 1, 7, 100 and 5000 rows equals the in-memory result", () => {
    const path = join(tmp, "codes.indices.npy");
    writeNpy(path, codes, [1237, k]);
    const inMemory = cooccurrence(codes, k, features, n);
    for (const blockRows of [1, 7, 100, 5000]) expectSameCounts(cooccurrenceFromNpy(path, features, n, blockRows), inMemory);
  });

  it("more rows than one inner block (16,384) still equal the naive counts", () => {
    const r = new Rng(5);
    const big = randomCodes(r, 16_384 + 1_001, 4, 23);
    const set = [0, 1, 2, 3, 5, 8, 13, 21, 22];
    expectSameAsNaive(cooccurrence(big, 4, set, 23), naiveCounts(big, 4, set, 23));
  });

  it("an empty feature set counts documents and nothing else", () => {
    const c = cooccurrence(codes, k, [], n);
    expect(c.docs).toBe(1237);
    expect(c.countM.length).toBe(0);
    expect(c.pairs.length).toBe(0);
  });
});

describe("candidateEdges (forest.ts) over these counts: typed-array sort vs a comparator over objects", () => {
  it("gives the same edges, weights and (weight desc, a, b) order, ties included", () => {
    const rng = new Rng(3);
    const n = 60;
    const k = 5;
    const c = cooccurrence(randomCodes(rng, 800, k, n), k, Array.from({ length: n }, (_, i) => i), n);
    for (const rule of ["max", "sparser-given-denser"] as const) {
      for (const minWeight of [0, 0.02, 0.07, 0.3]) {
        const naive: Array<{ a: number; b: number; w: number }> = [];
        for (let a = 0; a < n; a++) {
          for (let b = a + 1; b < n; b++) {
            const cab = pairCount(c, a, b);
            if (cab === 0 || c.countM[a] === 0) continue;
            const w = edgeWeight(rule, cab, c.countM[a]!, c.countM[b]!);
            if (w >= minWeight) naive.push({ a, b, w });
          }
        }
        naive.sort((x, y) => y.w - x.w || x.a - y.a || x.b - y.b);
        const e = candidateEdges(c, rule, minWeight);
        expect(Array.from(e.aE)).toEqual(naive.map((x) => x.a));
        expect(Array.from(e.bE)).toEqual(naive.map((x) => x.b));
        expect(Array.from(e.weightE)).toEqual(naive.map((x) => x.w));
        // Small counts make many equal weights: the tie-break is exercised.
        if (minWeight === 0.07 && rule === "max") expect(new Set(naive.map((x) => x.w)).size).toBeLessThan(naive.length / 2);
      }
    }
  });
});
