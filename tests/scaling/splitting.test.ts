import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { cosine, normalizeRowsInPlace } from "../../src/core/vector.js";
import type { SaeParams } from "../../src/sae/params.js";
import { childrenOf, matchFeatures, matchFeaturesFast, splittingSummary } from "../../src/scaling/splitting.js";

/** SaeParams with the given decoder rows `[F, D]` (the encoder and biases are not used by matching). */
function sae(rows: number[][]): SaeParams {
  const n = rows.length;
  const d = rows[0]!.length;
  return {
    d,
    n,
    wEncFD: new Float32Array(n * d),
    bLatF: new Float32Array(n),
    wDecFD: Float32Array.from(rows.flat()),
    bPreD: new Float32Array(d),
  };
}

const INV = 1 / Math.sqrt(1.01); // cosine of (1, 0.1, 0) with (1, 0, 0)

describe("matchFeatures + childrenOf", () => {
  // Small SAE: the three axes. Large SAE: e1 and e2 perturbed by 0.1 along another axis (one child each),
  // and e3 split into two children (0.28, 0, 0.96) and (0, 0.6, 0.8), cosines 0.96 and 0.8 with e3 —
  // each closer to e3 than to any other axis (0.28 < 0.96, 0.6 < 0.8).
  const small = sae([
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ]);
  const large = sae([
    [0, 0.6, 0.8],
    [1, 0.1, 0],
    [0.28, 0, 0.96],
    [0.1, 1, 0],
  ]);

  it("assigns each large feature to its closest small feature, children sorted by cosine", () => {
    const smallCopy = small.wDecFD.slice();
    const match = matchFeatures(small, large);
    expect(match).toMatchObject({ nSmall: 3, nLarge: 4, d: 3 });
    expect(Array.from(match.largeToSmall.indexN)).toEqual([2, 0, 2, 1]);
    expect(Array.from(match.largeToSmall.valueN).map((v) => Number(v.toFixed(5)))).toEqual(
      [0.8, INV, 0.96, INV].map((v) => Number(v.toFixed(5))),
    );
    // Reverse: e1 → large 1, e2 → large 3, e3 → large 2 (0.96 beats 0.8).
    expect(Array.from(match.smallToLarge.indexN)).toEqual([1, 3, 2]);
    expect(match.smallToLarge.valueN[2]).toBeCloseTo(0.96, 5);

    const children = childrenOf(match.largeToSmall, 3);
    expect(children.map((c) => c.map((x) => x.index))).toEqual([[1], [3], [2, 0]]);
    expect(children[2]![0]!.cosine).toBeCloseTo(0.96, 5);
    expect(children[2]![1]!.cosine).toBeCloseTo(0.8, 5);
    expect(small.wDecFD).toEqual(smallCopy);
  });

  it("summarises both directions", () => {
    const s = splittingSummary(matchFeatures(small, large));
    expect(s.meanMaxCosineLargeToSmall).toBeCloseTo((0.8 + INV + 0.96 + INV) / 4, 5);
    expect(s.meanMaxCosineSmallToLarge).toBeCloseTo((INV + INV + 0.96) / 3, 5);
    expect(s).toMatchObject({ splitCount: 1, childlessCount: 0, medianChildren: 1, maxChildren: 2 });
  });

  it("keeps cosines signed: an antiparallel feature gets no children", () => {
    // Small: e1 and −e1. Large: e1 and (1, 0.1, 0) both go to e1; −e1's best match is −0.995 (large 1).
    const match = matchFeatures(
      sae([
        [1, 0, 0],
        [-1, 0, 0],
      ]),
      sae([
        [1, 0.1, 0],
        [1, 0, 0],
      ]),
    );
    expect(childrenOf(match.largeToSmall, 2).map((c) => c.map((x) => x.index))).toEqual([[1, 0], []]);
    expect(match.smallToLarge.indexN[1]).toBe(0);
    expect(match.smallToLarge.valueN[1]).toBeCloseTo(-INV, 5);
    expect(splittingSummary(match)).toMatchObject({ splitCount: 1, childlessCount: 1, medianChildren: 1 });
  });
});

describe("symmetry", () => {
  it("an SAE matched with itself is the identity; swapping the pair swaps the directions", () => {
    const rng = new Rng(7);
    const rand = (n: number, d: number): SaeParams => {
      const rows = Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal()));
      return sae(rows);
    };
    const a = rand(6, 5);
    const self = matchFeatures(a, a);
    expect(Array.from(self.largeToSmall.indexN)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const v of self.smallToLarge.valueN) expect(v).toBeCloseTo(1, 5);
    expect(splittingSummary(self)).toMatchObject({ splitCount: 0, childlessCount: 0, medianChildren: 1 });

    const b = rand(11, 5);
    const ab = matchFeatures(a, b);
    const ba = matchFeatures(b, a);
    expect(ab.largeToSmall).toEqual(ba.smallToLarge);
    expect(ab.smallToLarge).toEqual(ba.largeToSmall);
    // Naive check of one direction: argmax over a of the cosine with each row of b.
    for (let j = 0; j < b.n; j++) {
      const bj = b.wDecFD.subarray(j * 5, (j + 1) * 5);
      const cos = Array.from({ length: a.n }, (_, i) => cosine(a.wDecFD.subarray(i * 5, (i + 1) * 5), bj));
      expect(ab.largeToSmall.indexN[j]).toBe(cos.indexOf(Math.max(...cos)));
      expect(ab.largeToSmall.valueN[j]).toBeCloseTo(Math.max(...cos), 5);
    }
    const children = childrenOf(ab.largeToSmall, a.n);
    expect(children.reduce((acc, c) => acc + c.length, 0)).toBe(b.n);
  });
});

describe("errors", () => {
  it("refuses decoders of different dimension, naming both", () => {
    const small = sae([[1, 0, 0]]);
    const large = sae([[1, 0]]);
    expect(() => matchFeatures(small, large)).toThrow(SaerchError);
    expect(() => matchFeatures(small, large)).toThrow(/d = 3 .* d = 2/);
  });

  it("refuses a decoder whose length is not n·d, and out-of-range parents", () => {
    const bad = { ...sae([[1, 0, 0]]), n: 2 };
    expect(() => matchFeatures(bad, sae([[1, 0, 0]]))).toThrow(/n·d = 2·3/);
    const match = matchFeatures(sae([[1, 0, 0], [0, 1, 0]]), sae([[0, 1, 0]]));
    expect(() => childrenOf(match.largeToSmall, 1)).toThrow(/outside \[0, 1\)/);
  });
});

describe("matchFeaturesFast (onnxruntime)", () => {
  it("equals the plain-JS matching on random decoders of awkward sizes", async () => {
    const rng = new Rng(9);
    const make = (n: number): SaeParams => {
      const w = new Float32Array(n * 11);
      rng.fillNormalInPlace(w);
      normalizeRowsInPlace(w, n, 11);
      return { d: 11, n, wEncFD: w.slice(), bLatF: new Float32Array(n), wDecFD: w, bPreD: new Float32Array(11) };
    };
    const small = make(17);
    const large = make(41);
    const slow = matchFeatures(small, large);
    const fast = await matchFeaturesFast(small, large);
    expect(fast.largeToSmall.indexN).toEqual(slow.largeToSmall.indexN);
    expect(fast.smallToLarge.indexN).toEqual(slow.smallToLarge.indexN);
    for (let i = 0; i < 41; i++) expect(fast.largeToSmall.valueN[i]).toBeCloseTo(slow.largeToSmall.valueN[i]!, 5);
  });
});
