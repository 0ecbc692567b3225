/**
 * Tests for dense matrix helpers: hand-computed products, naive-vs-fast equivalence on awkward sizes,
 * shape errors, and that non-InPlace functions leave their inputs alone.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import {
  addRowVectorInPlace,
  columnMean,
  columnMedian,
  fromRows,
  type Matrix,
  matmul,
  matmulNaive,
  matmulTransB,
  matmulTransBNaive,
  matVec,
  row,
  scaleInPlace,
  transpose,
  zeros,
} from "../../src/core/matrix.js";
import { Rng } from "../../src/core/rng.js";

function randomMatrix(rng: Rng, rows: number, cols: number): Matrix {
  const m = zeros(rows, cols);
  rng.fillNormalInPlace(m.data);
  return m;
}

function expectClose(actual: Float32Array, expected: Float32Array, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThanOrEqual(tol);
}

describe("construction", () => {
  it("zeros, fromRows and row views", () => {
    const z = zeros(2, 3);
    expect(z.rows).toBe(2);
    expect(z.cols).toBe(3);
    expect(Array.from(z.data)).toEqual([0, 0, 0, 0, 0, 0]);
    const m = fromRows([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(Array.from(m.data)).toEqual([1, 2, 3, 4, 5, 6]);
    const r1 = row(m, 1);
    expect(Array.from(r1)).toEqual([4, 5, 6]);
    r1[0] = 40; // a view: writes show in the matrix
    expect(m.data[3]).toBe(40);
    expect(fromRows([])).toEqual({ rows: 0, cols: 0, data: new Float32Array(0) });
    expect(() => fromRows([[1, 2], [3]])).toThrow(/row 1 has 1 values but row 0 has 2/);
    expect(() => row(m, 2)).toThrow(SaerchError);
    expect(() => zeros(-1, 2)).toThrow(SaerchError);
  });

  it("transpose: hand case and round trip across tile borders", () => {
    const m = fromRows([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const t = transpose(m);
    expect([t.rows, t.cols]).toEqual([3, 2]);
    expect(Array.from(t.data)).toEqual([1, 4, 2, 5, 3, 6]);
    const big = randomMatrix(new Rng(1), 37, 71);
    const copy = big.data.slice();
    const back = transpose(transpose(big));
    expect(Array.from(back.data)).toEqual(Array.from(big.data));
    expect(Array.from(big.data)).toEqual(Array.from(copy));
  });
});

describe("matmul", () => {
  it("hand-set 2×3 · 3×2", () => {
    // [[1,2,3],[4,5,6]] · [[7,8],[9,10],[11,12]]
    // row 0: [1·7+2·9+3·11, 1·8+2·10+3·12] = [58, 64]; row 1: [4·7+5·9+6·11, 4·8+5·10+6·12] = [139, 154]
    const a = fromRows([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = fromRows([
      [7, 8],
      [9, 10],
      [11, 12],
    ]);
    for (const fn of [matmul, matmulNaive]) {
      const out = fn(a, b);
      expect([out.rows, out.cols]).toEqual([2, 2]);
      expect(Array.from(out.data)).toEqual([58, 64, 139, 154]);
    }
  });

  it("fast matches naive on awkward sizes and does not mutate inputs", () => {
    const rng = new Rng("matmul");
    for (const [n, k, m] of [
      [37, 129, 53],
      [1, 1, 1],
      [5, 1, 7],
      [0, 4, 3],
      [3, 0, 2],
      [65, 17, 130],
    ] as const) {
      const a = randomMatrix(rng, n, k);
      const b = randomMatrix(rng, k, m);
      const aCopy = a.data.slice();
      const bCopy = b.data.slice();
      const fast = matmul(a, b);
      const naive = matmulNaive(a, b);
      expect([fast.rows, fast.cols]).toEqual([n, m]);
      expectClose(fast.data, naive.data, 1e-4);
      expect(a.data).toEqual(aCopy);
      expect(b.data).toEqual(bCopy);
    }
  });

  it("reports both shapes on a mismatch", () => {
    expect(() => matmul(zeros(2, 3), zeros(4, 5))).toThrow(/a is \[2, 3\], b is \[4, 5\]/);
    expect(() => matmul({ rows: 2, cols: 2, data: new Float32Array(3) }, zeros(2, 2))).toThrow(SaerchError);
  });
});

describe("matmulTransB", () => {
  it("hand-set a·bᵀ", () => {
    // a = [[1,2],[3,4]], b = [[5,6],[7,8],[1,0]]: out[i][j] = a_i · b_j
    // row 0: [1·5+2·6, 1·7+2·8, 1] = [17, 23, 1]; row 1: [3·5+4·6, 3·7+4·8, 3] = [39, 53, 3]
    const a = fromRows([
      [1, 2],
      [3, 4],
    ]);
    const b = fromRows([
      [5, 6],
      [7, 8],
      [1, 0],
    ]);
    for (const fn of [matmulTransB, matmulTransBNaive]) {
      const out = fn(a, b);
      expect([out.rows, out.cols]).toEqual([2, 3]);
      expect(Array.from(out.data)).toEqual([17, 23, 1, 39, 53, 3]);
    }
  });

  it("fast matches naive and matmul with an explicit transpose", () => {
    const rng = new Rng("transB");
    for (const [n, d, m] of [
      [37, 129, 53],
      [1, 3, 1],
      [9, 4, 130],
      [2, 0, 3],
      [70, 7, 65],
    ] as const) {
      const a = randomMatrix(rng, n, d);
      const b = randomMatrix(rng, m, d);
      const aCopy = a.data.slice();
      const bCopy = b.data.slice();
      const fast = matmulTransB(a, b);
      expect([fast.rows, fast.cols]).toEqual([n, m]);
      expectClose(fast.data, matmulTransBNaive(a, b).data, 1e-4);
      expectClose(fast.data, matmul(a, transpose(b)).data, 1e-4);
      expect(a.data).toEqual(aCopy);
      expect(b.data).toEqual(bCopy);
    }
  });

  it("reports both shapes on a mismatch", () => {
    expect(() => matmulTransB(zeros(2, 3), zeros(4, 5))).toThrow(/a is \[2, 3\], b is \[4, 5\]/);
  });
});

describe("vector ops", () => {
  it("matVec", () => {
    // [[1,2],[3,4],[5,6]] · [1,-1] = [-1, -1, -1]
    const m = fromRows([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(Array.from(matVec(m, Float32Array.from([1, -1])))).toEqual([-1, -1, -1]);
    expect(() => matVec(m, new Float32Array(3))).toThrow(/\[3, 2\].*length 3/);
  });

  it("addRowVectorInPlace and scaleInPlace mutate", () => {
    const m = fromRows([
      [1, 2],
      [3, 4],
    ]);
    addRowVectorInPlace(m, Float32Array.from([10, 20]));
    expect(Array.from(m.data)).toEqual([11, 22, 13, 24]);
    scaleInPlace(m, 0.5);
    expect(Array.from(m.data)).toEqual([5.5, 11, 6.5, 12]);
    expect(() => addRowVectorInPlace(m, new Float32Array(3))).toThrow(SaerchError);
  });
});

describe("column statistics", () => {
  it("columnMedian: odd and even row counts", () => {
    // Columns of the 3×2 matrix: [3,1,2] → median 2; [10,30,20] → 20.
    const odd = fromRows([
      [3, 10],
      [1, 30],
      [2, 20],
    ]);
    expect(Array.from(columnMedian(odd))).toEqual([2, 20]);
    // 4 rows: [4,1,3,2] → (2+3)/2 = 2.5; [-1,-1,5,7] → (-1+5)/2 = 2.
    const even = fromRows([
      [4, -1],
      [1, -1],
      [3, 5],
      [2, 7],
    ]);
    const copy = even.data.slice();
    expect(Array.from(columnMedian(even))).toEqual([2.5, 2]);
    expect(even.data).toEqual(copy);
    const withNaN = fromRows([
      [1, Number.NaN],
      [2, 3],
    ]);
    const med = columnMedian(withNaN);
    expect(med[0]).toBe(1.5);
    expect(Number.isNaN(med[1])).toBe(true);
    expect(() => columnMedian(zeros(0, 3))).toThrow(SaerchError);
  });

  it("columnMedian matches a sort-based reference on random data", () => {
    const rng = new Rng("median");
    for (const n of [37, 38]) {
      const m = randomMatrix(rng, n, 53);
      const med = columnMedian(m);
      for (let j = 0; j < m.cols; j++) {
        const col = Array.from({ length: n }, (_, i) => m.data[i * m.cols + j]!).sort((p, q) => p - q);
        const ref = n % 2 === 1 ? col[n >> 1]! : (col[(n >> 1) - 1]! + col[n >> 1]!) / 2;
        expect(med[j]).toBeCloseTo(ref, 6);
      }
    }
  });

  it("columnMean", () => {
    // Columns [1,2,6] → 3, [0,-3,0] → -1.
    const m = fromRows([
      [1, 0],
      [2, -3],
      [6, 0],
    ]);
    expect(Array.from(columnMean(m))).toEqual([3, -1]);
    expect(() => columnMean(zeros(0, 1))).toThrow(SaerchError);
  });
});
