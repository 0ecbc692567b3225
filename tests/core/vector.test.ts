/**
 * Tests for vector helpers: hand-set dot/norm/cosine, normalisation invariants, cosine matrices
 * (naive vs fast) and the blocked best-match search.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { fromRows, type Matrix, zeros } from "../../src/core/matrix.js";
import { Rng } from "../../src/core/rng.js";
import {
  cosine,
  cosineMatrix,
  cosineMatrixNaive,
  dot,
  maxCosinePerRow,
  norm,
  normalizeRowsInPlace,
  rowNorms,
} from "../../src/core/vector.js";

function randomMatrix(rng: Rng, rows: number, cols: number): Matrix {
  const m = zeros(rows, cols);
  rng.fillNormalInPlace(m.data);
  return m;
}

describe("dot, norm, cosine", () => {
  it("hand-set values", () => {
    // [1,2,3]·[4,-5,6] = 4 - 10 + 18 = 12; |[3,4]| = 5
    expect(dot([1, 2, 3], [4, -5, 6])).toBe(12);
    expect(norm(Float32Array.from([3, 4]))).toBe(5);
    // cos([1,0],[1,1]) = 1/√2; parallel → 1; opposite → -1
    expect(cosine([1, 0], [1, 1])).toBeCloseTo(Math.SQRT1_2, 12);
    expect(cosine([2, 4], [1, 2])).toBeCloseTo(1, 12);
    expect(cosine([1, -1], [-3, 3])).toBeCloseTo(-1, 12);
  });

  it("cosine with a zero vector is 0; length mismatch is an error", () => {
    expect(cosine([0, 0], [1, 2])).toBe(0);
    expect(cosine([0, 0], [0, 0])).toBe(0);
    expect(() => dot([1], [1, 2])).toThrow(/1 vs 2/);
    expect(() => cosine([1], [1, 2])).toThrow(SaerchError);
  });
});

describe("row norms", () => {
  it("rowNorms hand case", () => {
    // Rows [3,4] → 5, [0,0] → 0, [1,0] → 1
    expect(Array.from(rowNorms(Float32Array.from([3, 4, 0, 0, 1, 0]), 3, 2))).toEqual([5, 0, 1]);
    expect(() => rowNorms(new Float32Array(5), 2, 2)).toThrow(/does not match \[2, 2\]/);
  });

  it("normalizeRowsInPlace gives unit rows and keeps zero rows zero", () => {
    const rng = new Rng("norm");
    const n = 23;
    const d = 17;
    const x = rng.fillNormalInPlace(new Float32Array(n * d));
    x.fill(0, 5 * d, 6 * d); // row 5 is zero
    normalizeRowsInPlace(x, n, d);
    const norms = rowNorms(x, n, d);
    for (let i = 0; i < n; i++) {
      if (i === 5) expect(norms[i]).toBe(0);
      else expect(norms[i]).toBeCloseTo(1, 6);
    }
  });
});

describe("cosine matrices", () => {
  it("hand-set cosineMatrix", () => {
    // a = [[1,0],[0,2]], b = [[3,0],[1,1],[0,0]]
    // row 0: [1, 1/√2, 0]; row 1: [0, 1/√2, 0] (zero row of b gives 0)
    const a = fromRows([
      [1, 0],
      [0, 2],
    ]);
    const b = fromRows([
      [3, 0],
      [1, 1],
      [0, 0],
    ]);
    for (const fn of [cosineMatrix, cosineMatrixNaive]) {
      const out = fn(a, b);
      expect([out.rows, out.cols]).toEqual([2, 3]);
      const expected = [1, Math.SQRT1_2, 0, 0, Math.SQRT1_2, 0];
      for (let i = 0; i < 6; i++) expect(out.data[i]).toBeCloseTo(expected[i]!, 6);
    }
  });

  it("fast matches naive on awkward sizes and leaves inputs untouched", () => {
    const rng = new Rng("cosine");
    const a = randomMatrix(rng, 37, 129);
    const b = randomMatrix(rng, 53, 129);
    const aCopy = a.data.slice();
    const bCopy = b.data.slice();
    const fast = cosineMatrix(a, b);
    const naive = cosineMatrixNaive(a, b);
    expect([fast.rows, fast.cols]).toEqual([37, 53]);
    for (let i = 0; i < fast.data.length; i++)
      expect(Math.abs(fast.data[i]! - naive.data[i]!)).toBeLessThan(1e-5);
    expect(a.data).toEqual(aCopy);
    expect(b.data).toEqual(bCopy);
    expect(() => cosineMatrix(zeros(2, 3), zeros(2, 4))).toThrow(/\[2, 3\].*\[2, 4\]/);
  });
});

describe("maxCosinePerRow", () => {
  it("hand case with a tie going to the lower index", () => {
    // a_0 = [1,0]: cosines with b = [[0,1],[2,0],[5,0]] are [0, 1, 1] → index 1 (tie with 2)
    // a_1 = [0,-1]: cosines [-1, 0, 0] → index 1 (tie with 2), value 0
    const a = fromRows([
      [1, 0],
      [0, -1],
    ]);
    const b = fromRows([
      [0, 1],
      [2, 0],
      [5, 0],
    ]);
    const { indexN, valueN } = maxCosinePerRow(a, b);
    expect(Array.from(indexN)).toEqual([1, 1]);
    expect(valueN[0]).toBeCloseTo(1, 6);
    expect(valueN[1]).toBeCloseTo(0, 6);
    expect(() => maxCosinePerRow(a, zeros(0, 2))).toThrow(SaerchError);
  });

  it("matches argmax over the naive matrix, in one block or many", () => {
    const rng = new Rng("maxcos");
    const a = randomMatrix(rng, 61, 33);
    const b = randomMatrix(rng, 47, 33);
    const aCopy = a.data.slice();
    const naive = cosineMatrixNaive(a, b);
    for (const blockElements of [1 << 22, 47 * 5, 1]) {
      const { indexN, valueN } = maxCosinePerRow(a, b, blockElements);
      for (let i = 0; i < a.rows; i++) {
        const rowI = Array.from(naive.data.subarray(i * b.rows, (i + 1) * b.rows));
        const best = Math.max(...rowI);
        expect(valueN[i]).toBeCloseTo(best, 5);
        expect(rowI[indexN[i]!]).toBeCloseTo(best, 5);
      }
    }
    expect(a.data).toEqual(aCopy);
  });
});
