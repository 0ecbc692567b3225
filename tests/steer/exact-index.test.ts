/**
 * The exact index against the float64 full-sort reference (`exactTopKNaive`): small-integer data (every dot
 * product exact in float32 and float16, so rows, scores and tie order must match exactly) on awkward sizes
 * and thread counts; random unit vectors (scores within float32 rounding); float16 vs float32; subsets,
 * stores and the errors. No timing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { embedToStore } from "../../src/embed/store.js";
import { EmbeddingStore } from "../../src/embed/store-reader.js";
import { ExactIndex, exactTopKNaive, type TopKResult } from "../../src/steer/exact-index.js";
import { indexKernelModule, MAX_PASS_QUERIES, MIN_HEAP_ENTRIES, ROW_GROUP, shardLayout } from "../../src/steer/index-wasm.js";
import { wasmApi } from "../../src/compute/wasm-assembler.js";
import { FakeEmbedder, fakeDocs, fakeMatrix } from "../fixtures/embed/fake-embedder.js";

/** `[R, D]` values in {−1, −0.75, …, 1} (quarters: exact in float16, and their dot products exact in float32). */
function quarters(rows: number, d: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: rows * d }, () => (rng.int(9) - 4) / 4);
}

/** `[R, D]` random unit rows. */
function unitRows(rows: number, d: number, seed: number): Float32Array {
  const out = new Float32Array(rows * d);
  new Rng(seed).fillNormalInPlace(out);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += out[r * d + i]! ** 2;
    for (let i = 0; i < d; i++) out[r * d + i]! /= Math.sqrt(s);
  }
  return out;
}

const plain = (r: TopKResult): { rows: number[]; scores: number[] } => ({ rows: Array.from(r.rowsBK), scores: Array.from(r.scoresBK) });

/** Build, search, close. */
function fast(embND: Float32Array, d: number, qBD: Float32Array, k: number, opts: Parameters<typeof ExactIndex.fromMatrix>[2] = {}): TopKResult {
  const index = ExactIndex.fromMatrix(embND, d, opts);
  try {
    return index.topK(qBD, k);
  } finally {
    void index.close();
  }
}

describe("ExactIndex vs the naive reference (exact data)", () => {
  // [N, D, B, k]: N and D not multiples of the row group / vector width, k = 1 and k = N, B = 1 and B > one pass.
  const cases: Array<[number, number, number, number]> = [
    [1, 1, 1, 1],
    [3, 7, 2, 3],
    [37, 9, 1, 1],
    [37, 9, 5, 37],
    [1001, 13, 3, 10],
    [4099, 64, MAX_PASS_QUERIES + 6, 7],
    [2050, 520, 2, 2050],
  ];
  for (const [n, d, b, k] of cases) {
    for (const dtype of ["float32", "float16"] as const) {
      it(`N ${n}, D ${d}, B ${b}, k ${k}, ${dtype}, 1–3 threads`, () => {
        const embND = quarters(n, d, n * 7 + d);
        const qBD = quarters(b, d, 99 + b);
        const want = plain(exactTopKNaive(embND, d, qBD, k));
        for (const threads of [1, 2, 3]) expect(plain(fast(embND, d, qBD, k, { threads, dtype }))).toEqual(want);
      });
    }
  }

  it("breaks ties towards the lower row, across shard boundaries", () => {
    // 10 identical rows and one better one (row 7): best is 7, then 0, 1, 2, … in row order.
    const d = 3;
    const embND = new Float32Array(11 * d).fill(0.5);
    embND.set([1, 1, 1], 7 * d);
    const q = Float32Array.of(1, 1, 1);
    for (const threads of [1, 2, 3, 4]) {
      const r = fast(embND, d, q, 11, { threads });
      expect(Array.from(r.rowsBK)).toEqual([7, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10]);
      expect(Array.from(r.scoresBK)).toEqual([3, ...Array(10).fill(1.5)]);
    }
  });

  it("holds k = N beyond one heap block in passes of fewer queries", () => {
    const n = MIN_HEAP_ENTRIES + 9;
    const d = 5;
    const embND = quarters(n, d, 3);
    const qBD = quarters(3, d, 4);
    expect(plain(fast(embND, d, qBD, n, { threads: 1 }))).toEqual(plain(exactTopKNaive(embND, d, qBD, n)));
  });
});

describe("ExactIndex on random unit vectors", () => {
  it("matches the reference's scores within float32 rounding and its rows wherever the gap is clear", () => {
    const [n, d, b, k] = [3001, 96, 4, 25];
    const embND = unitRows(n, d, 1);
    const qBD = unitRows(b, d, 2);
    const want = exactTopKNaive(embND, d, qBD, k);
    const got = fast(embND, d, qBD, k, { threads: 2 });
    for (let i = 0; i < b * k; i++) {
      expect(Math.abs(got.scoresBK[i]! - want.scoresBK[i]!)).toBeLessThan(1e-6);
      const next = (i + 1) % k === 0 ? -Infinity : want.scoresBK[i + 1]!;
      const prev = i % k === 0 ? Infinity : want.scoresBK[i - 1]!;
      if (prev - want.scoresBK[i]! > 1e-5 && want.scoresBK[i]! - next > 1e-5) expect(got.rowsBK[i]).toBe(want.rowsBK[i]);
    }
  });

  it("float16 storage ranks well-separated data like float32, scores within half-precision rounding", () => {
    // Rows = 40 well-spread centres; the query is centre 3 plus noise, so the scores are far apart.
    const [n, d, k] = [40, 256, 10];
    const embND = unitRows(n, d, 5);
    const qD = embND.slice(3 * d, 4 * d);
    for (let i = 0; i < d; i++) qD[i]! += 0.01 * ((i % 7) - 3);
    const f32 = fast(embND, d, qD, k, { dtype: "float32" });
    const f16 = fast(embND, d, qD, k, { dtype: "float16", threads: 2 });
    expect(Array.from(f16.rowsBK)).toEqual(Array.from(f32.rowsBK));
    for (let i = 0; i < k; i++) expect(Math.abs(f16.scoresBK[i]! - f32.scoresBK[i]!)).toBeLessThan(2e-3);
    expect(f32.rowsBK[0]).toBe(3);
  });

  it("rescales large float16 queries instead of overflowing", () => {
    const [n, d] = [50, 16];
    const embND = unitRows(n, d, 8);
    const qD = unitRows(1, d, 9).map((v) => v * 1e6);
    const f32 = fast(embND, d, qD, 5);
    const f16 = fast(embND, d, qD, 5, { dtype: "float16" });
    expect(Array.from(f16.rowsBK)).toEqual(Array.from(f32.rowsBK));
    for (let i = 0; i < 5; i++) expect(Math.abs(f16.scoresBK[i]! / f32.scoresBK[i]! - 1)).toBeLessThan(5e-3);
  });
});

describe("subsets, ids and stores", () => {
  it("ranks only the subset, given in any order, and reports source rows and ids", () => {
    const [n, d] = [300, 11];
    const embND = quarters(n, d, 21);
    const ids = Array.from({ length: n }, (_, i) => `doc-${i}`);
    const rows = Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 !== 0).reverse();
    const qBD = quarters(2, d, 22);
    const index = ExactIndex.fromMatrix(embND, d, { ids, rows, threads: 2 });
    try {
      expect(index.count).toBe(200);
      expect(plain(index.topK(qBD, 200))).toEqual(plain(exactTopKNaive(embND, d, qBD, 200, [...rows].sort((a, b) => a - b))));
      const hits = index.search(qBD, 4);
      expect(hits).toHaveLength(2);
      for (const h of hits.flat()) {
        expect(h.row % 3).not.toBe(0);
        expect(h.id).toBe(`doc-${h.row}`);
      }
      expect(index.searchOne(qBD.subarray(0, d), 4)).toEqual(hits[0]);
    } finally {
      void index.close();
    }
  });

  it("leaves the query untouched and names rows by number without ids", () => {
    const embND = quarters(20, 4, 1);
    const qD = quarters(1, 4, 2);
    const before = qD.slice();
    const index = ExactIndex.fromMatrix(embND, 4, { dtype: "float16" });
    const [hit] = index.searchOne(qD, 1);
    void index.close();
    expect(qD).toEqual(before);
    expect(hit!.id).toBe(String(hit!.row));
  });

  describe("fromStore", () => {
    let tmp: string;
    let store: EmbeddingStore;
    const docs = fakeDocs(53);
    const d = 12;
    beforeAll(async () => {
      tmp = mkdtempSync(join(tmpdir(), "saerch-exact-index-"));
      await embedToStore({ dir: join(tmp, "store"), docs, embedder: new FakeEmbedder({ dim: d }), shardSize: 10 });
      store = EmbeddingStore.open(join(tmp, "store"));
    });
    afterAll(() => {
      store.close();
      rmSync(tmp, { recursive: true, force: true });
    });

    it("indexes every row but held-out queries, and each query finds itself nowhere", () => {
      const embND = fakeMatrix(docs, d);
      const held = [4, 9, 10, 31];
      const rows = Array.from({ length: docs.length }, (_, i) => i).filter((i) => !held.includes(i));
      const index = ExactIndex.fromStore(store, { rows, threads: 2 });
      try {
        const qBD = store.gather(held);
        const got = index.search(qBD, 5);
        const want = exactTopKNaive(embND, d, qBD, 5, rows);
        expect(got.flat().map((h) => h.row)).toEqual(Array.from(want.rowsBK));
        for (const h of got.flat()) {
          expect(held).not.toContain(h.row);
          expect(h.id).toBe(docs[h.row]!.id);
        }
        // All rows: a stored vector's best match is itself, score 1 (unit norm).
        const all = ExactIndex.fromStore(store);
        const self = all.searchOne(store.rows(31, 32), 1)[0]!;
        void all.close();
        expect(self.id).toBe("doc-31");
        expect(self.score).toBeCloseTo(1, 5);
      } finally {
        void index.close();
      }
    });
  });
});

describe("bad input is an error, never a silent result", () => {
  const d = 6;
  const embND = quarters(30, d, 1);
  let index: ExactIndex;
  beforeAll(() => {
    index = ExactIndex.fromMatrix(embND, d, { threads: 2 });
  });
  afterAll(() => index.close());

  it("rejects a query of the wrong dimension, k out of range and non-finite values", () => {
    expect(() => index.topK(new Float32Array(d + 1), 3)).toThrow(/not \[B, 6\]/);
    expect(() => index.topK(new Float32Array(0), 3)).toThrow(SaerchError);
    expect(() => index.searchOne(new Float32Array(2 * d), 3)).toThrow(/2 \* 6|12 dimensions/);
    for (const k of [0, -1, 31, 2.5, NaN]) expect(() => index.topK(new Float32Array(d), k)).toThrow(/k must be an integer in \[1, 30\]/);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const q = new Float32Array(2 * d);
      q[d + 4] = bad;
      expect(() => index.topK(q, 3)).toThrow(new RegExp(`query 1 holds ${bad} at column 4`));
    }
    expect(() => index.topK([1, 2, 3, 4, 5, 6] as unknown as Float32Array, 1)).toThrow(/Float32Array/);
  });

  it("rejects bad matrices, subsets, options and float16 overflow when building", () => {
    expect(() => ExactIndex.fromMatrix(new Float32Array(7), 3)).toThrow(/not an \[N, 3\] matrix/);
    expect(() => ExactIndex.fromMatrix(new Float32Array(0), 3)).toThrow(/0 rows/);
    const nan = embND.slice();
    nan[2 * d + 1] = NaN;
    expect(() => ExactIndex.fromMatrix(nan, d)).toThrow(/row 2 holds NaN at column 1/);
    const big = embND.slice();
    big[5 * d] = 70_000;
    expect(() => ExactIndex.fromMatrix(big, d, { dtype: "float16" })).toThrow(/row 5 .* beyond float16/);
    expect(() => ExactIndex.fromMatrix(embND, d, { rows: [1, 1] })).toThrow(/listed twice/);
    expect(() => ExactIndex.fromMatrix(embND, d, { rows: [30] })).toThrow(/outside the source's rows \[0, 30\)/);
    expect(() => ExactIndex.fromMatrix(embND, d, { rows: [] })).toThrow(/empty/);
    expect(() => ExactIndex.fromMatrix(embND, d, { threads: 0 })).toThrow(/threads/);
    expect(() => ExactIndex.fromMatrix(embND, d, { ids: ["a"] })).toThrow(/1 ids for 30 rows/);
    expect(() => ExactIndex.fromMatrix(embND, d, { dtype: "bfloat16" as "float16" })).toThrow(/dtype/);
  });

  it("refuses to search after close", async () => {
    const closed = ExactIndex.fromMatrix(embND, d, { threads: 2 });
    await closed.close();
    expect(() => closed.topK(new Float32Array(d), 1)).toThrow(/after close/);
  });
});

describe("storage layout and kernels", () => {
  it("lays a shard out as regions, queries, scores and heaps without overlap", () => {
    const lay = shardLayout(37, 10, 24, "float16");
    expect(lay.regionBytes).toBe(10 * 24 * 2);
    expect(lay.queries).toBeGreaterThanOrEqual(ROW_GROUP * lay.regionBytes);
    expect(lay.scores).toBeGreaterThanOrEqual(lay.queries + MAX_PASS_QUERIES * 24 * 4);
    expect(lay.heapScores).toBeGreaterThan(lay.scores);
    expect(lay.heapRows).toBeGreaterThanOrEqual(lay.heapScores + lay.heapEntries * 4);
    expect(lay.totalBytes).toBeGreaterThanOrEqual(lay.heapRows + lay.heapEntries * 4);
    expect(lay.streamEnd % 32).toBe(0);
  });

  it("assembles valid modules for both dtypes", () => {
    for (const dtype of ["float32", "float16"] as const) {
      for (const dPad of [8, 512, 1536]) expect(wasmApi.validate(indexKernelModule(dPad, dtype, 250_000))).toBe(true);
    }
    expect(() => indexKernelModule(12, "float32", 1)).toThrow(SaerchError);
    expect(() => indexKernelModule(8, "float32", 0)).toThrow(SaerchError);
  });

  it("streams the stored bytes once (the bandwidth bound) without changing results", () => {
    const embND = quarters(100, 16, 4);
    const q = quarters(1, 16, 5);
    const index = ExactIndex.fromMatrix(embND, 16, { threads: 2 });
    const before = plain(index.topK(q, 10));
    expect(Number.isFinite(index.streamPass())).toBe(true);
    expect(plain(index.topK(q, 10))).toEqual(before);
    expect(index.bytes).toBe(100 * 16 * 4);
    void index.close();
  });
});
