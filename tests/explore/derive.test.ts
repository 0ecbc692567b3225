/**
 * Tests for src/explore/derive.ts: decoder-cosine neighbours on a hand-set decoder (the released app's
 * off-by-one for neighbours above the target would show here) and against a naive sort on a random one;
 * co-occurrence listed by the overlap coefficient where raw counts would rank differently; histograms,
 * quantile windows and the per-feature activation lists.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { cosine } from "../../src/core/vector.js";
import { activationHistogram, allCooccurrence, decoderNeighbours, featureActivations, quantileWindow, topCooccurring } from "../../src/explore/derive.js";

describe("decoderNeighbours", () => {
  it("lists the feature ids the cosines belong to, the target excluded (hand-set, D = 2)", () => {
    // Unit directions at 0°, 10°, 90°, 180°, 45°: feature 0's most similar is 1 (10°, cos 0.985), then 4 (45°,
    // cos 0.707), then 2 (0); its least similar is 3 (cos −1), then 2. A list re-indexed after dropping the
    // target (the released app) would report 0 and 3 instead of 1 and 4 for the two neighbours above it.
    const deg = [0, 10, 90, 180, 45];
    const wDecFD = Float32Array.from(deg.flatMap((a) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)]));
    const nb = decoderNeighbours(wDecFD, 5, 2, 2);
    expect(nb.k).toBe(2);
    expect(Array.from(nb.similarFK.subarray(0, 2))).toEqual([1, 4]);
    expect(nb.similarCosFK[0]).toBeCloseTo(Math.cos((10 * Math.PI) / 180), 6);
    expect(nb.similarCosFK[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(Array.from(nb.dissimilarFK.subarray(0, 2))).toEqual([3, 2]);
    expect(nb.dissimilarCosFK[0]).toBeCloseTo(-1, 6);
    // Feature 3 (180°): most similar is 2 (cos 0) and then 4 (cos −0.707); least similar 0 (−1), then 1.
    expect(Array.from(nb.similarFK.subarray(6, 8))).toEqual([2, 4]);
    expect(Array.from(nb.dissimilarFK.subarray(6, 8))).toEqual([0, 1]);
  });

  it("equals a naive sort of every cosine on an awkward size, whatever the block", () => {
    const n = 37;
    const d = 7;
    const rng = new Rng("nb");
    const w = new Float32Array(n * d);
    rng.fillNormalInPlace(w);
    const before = w.slice();
    const fast = decoderNeighbours(w, n, d, 5, 8);
    expect(w).toEqual(before);
    for (let f = 0; f < n; f++) {
      const others = Array.from({ length: n }, (_, j) => j)
        .filter((j) => j !== f)
        .map((j) => ({ j, c: cosine(w.subarray(f * d, (f + 1) * d), w.subarray(j * d, (j + 1) * d)) }));
      const hi = [...others].sort((a, b) => b.c - a.c || a.j - b.j).slice(0, 5);
      const lo = [...others].sort((a, b) => a.c - b.c || a.j - b.j).slice(0, 5);
      expect(Array.from(fast.similarFK.subarray(f * 5, f * 5 + 5))).toEqual(hi.map((x) => x.j));
      expect(Array.from(fast.dissimilarFK.subarray(f * 5, f * 5 + 5))).toEqual(lo.map((x) => x.j));
      hi.forEach((x, r) => expect(fast.similarCosFK[f * 5 + r]).toBeCloseTo(x.c, 5));
    }
  });
});

describe("topCooccurring", () => {
  it("ranks by the overlap coefficient, not by raw counts", () => {
    // 10 documents, K = 3. Feature 0 fires everywhere (n 10), feature 1 on 7, feature 2 on 2, feature 3 on 5
    // (three times beside 1, twice beside 2). Beside feature 3: C(3,0) = 5 → overlap 5/min(5, 10) = 1;
    // C(3,1) = 3 → 3/min(5, 7) = 0.6; C(3,2) = 2 → 2/min(5, 2) = 1. Raw counts would rank 0 (5), 1 (3),
    // 2 (2); the overlap ranks 0, 2 (ties: more shared documents first), then 1.
    const rows = [
      [0, 1, 3],
      [0, 1, 3],
      [0, 1, 3],
      [0, 2, 3],
      [0, 2, 3],
      [0, 1, 4],
      [0, 1, 4],
      [0, 1, 4],
      [0, 1, 5],
      [0, 5, 6],
    ];
    const codes = { indices: Int32Array.from(rows.flat()), values: new Float32Array(30).fill(1), k: 3 };
    const c = allCooccurrence(codes, 7);
    const top = topCooccurring(c, 3, 10, 2);
    expect(top.map((x) => x.feature)).toEqual([0, 2, 1]);
    expect(top.map((x) => x.overlap)).toEqual([1, 1, 0.6]);
    expect(top.map((x) => x.count)).toEqual([5, 2, 3]);
    // Pairs with fewer than minDocs shared documents are left out (6 shares one document with 0 and with 5).
    expect(topCooccurring(c, 6, 10, 2)).toEqual([]);
    // Full ties (overlap 1, one document each) go to the lower feature id.
    expect(topCooccurring(c, 6, 10, 1).map((x) => x.feature)).toEqual([0, 5]);
  });
});

describe("feature pages' documents and histograms", () => {
  it("groups codes by feature, highest activation first, skipping zeros", () => {
    const codes = { indices: Int32Array.from([0, 1, 1, 2, 0, 2]), values: Float32Array.from([0.5, 0.1, 0.9, 0, 0.7, 0.3]), k: 2 };
    const a = featureActivations(codes, 3);
    expect(Array.from(a.startF)).toEqual([0, 2, 4, 5]);
    expect(Array.from(a.rows)).toEqual([2, 0, 1, 0, 2]);
    expect(Array.from(a.values)).toEqual([0.7, 0.5, 0.9, 0.1, 0.3].map((v) => Math.fround(v)));
  });

  it("bins activations over [0, max] with the max in the last bin", () => {
    const h = activationHistogram([1, 0.5, 0.5, 0.1], 4);
    expect(h.edges).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(h.counts).toEqual([1, 0, 2, 1]);
    expect(activationHistogram([], 4)).toEqual({ edges: [], counts: [] });
  });

  it("takes a window of documents centred on a quantile, inside the list", () => {
    // 101 activations sorted highest first: the median is position 50, the 10th percentile position 90.
    expect(quantileWindow(101, 0.5, 5)).toEqual([48, 49, 50, 51, 52]);
    expect(quantileWindow(101, 0.1, 5)).toEqual([88, 89, 90, 91, 92]);
    expect(quantileWindow(101, 0, 5)).toEqual([96, 97, 98, 99, 100]);
    expect(quantileWindow(3, 0.5, 5)).toEqual([0, 1, 2]);
    expect(quantileWindow(0, 0.5, 5)).toEqual([]);
  });
});
