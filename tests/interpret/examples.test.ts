/**
 * Tests for src/interpret/examples.ts: the feature index on hand-set codes (exact CSR), naive-vs-fast on
 * random codes, example selection on hand-set codes (ineligible rows skipped, value-0 top-k entries neither
 * top nor zero, hard negatives with hand-set vectors, not-enough cases), and invariants on random codes
 * (held-out rows never shown, seeded determinism, features drawing different samples).
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { ExamplesConfig } from "../../src/interpret/config.js";
import { buildFeatureIndex, selectExamples, type ExampleSelection, type FeatureIndex } from "../../src/interpret/examples.js";
import type { SparseCodes } from "../../src/sae/encode.js";

const f32 = Math.fround;

/**
 * N = 8 documents, K = 2, F = 4.
 *   row  indices  values
 *   0    [0, 1]   [0.9, 0.2]
 *   1    [0, 2]   [0.5, 0.4]
 *   2    [1, 0]   [0.7, 0.0]   feature 0 in the top-k with value 0: neither top nor zero for feature 0
 *   3    [0, 3]   [0.9, 0.1]   ties row 0 on feature 0
 *   4    [2, 1]   [0.8, 0.3]
 *   5    [3, 2]   [0.6, 0.0]   feature 2 with value 0
 *   6    [1, 3]   [0.5, 0.5]
 *   7    [0, 2]   [0.3, 0.2]
 * Per feature, active (> 0) rows by activation descending, ties by row ascending:
 *   0: 0 (0.9), 3 (0.9), 1 (0.5), 7 (0.3)          → offsets 0..4
 *   1: 2 (0.7), 6 (0.5), 4 (0.3), 0 (0.2)          → offsets 4..8
 *   2: 4 (0.8), 1 (0.4), 7 (0.2)    (row 5 is 0)   → offsets 8..11
 *   3: 5 (0.6), 6 (0.5), 3 (0.1)                   → offsets 11..14
 */
const HAND: SparseCodes = {
  indices: Int32Array.from([0, 1, 0, 2, 1, 0, 0, 3, 2, 1, 3, 2, 1, 3, 0, 2]),
  values: Float32Array.from([0.9, 0.2, 0.5, 0.4, 0.7, 0.0, 0.9, 0.1, 0.8, 0.3, 0.6, 0.0, 0.5, 0.5, 0.3, 0.2]),
  k: 2,
};
const HAND_F = 4;

/** Hand-set unit vectors (D = 2) for hard negatives; rows 0, 1 are feature 0's shown top rows below. */
const HAND_EMB_ND = Float32Array.from([
  1, 0, // row 0 (shown top)
  0, 1, // row 1 (shown top)
  Math.SQRT1_2, Math.SQRT1_2, // row 2: nearest to the mean, but feature 0 is in its top-k (value 0): excluded
  Math.SQRT1_2, Math.SQRT1_2, // row 3: ineligible in these tests
  0.6, 0.8, // row 4
  1, 0, // row 5
  -0.6, -0.8, // row 6
  0, -1, // row 7 (held-out top)
]);

const cfg = (over: Partial<ExamplesConfig>): ExamplesConfig => ExamplesConfig.parse(over);
const allEligible = (): boolean => true;
const notRow3 = (row: number): boolean => row !== 3;

function okSel(sel: ExampleSelection): Extract<ExampleSelection, { ok: true }> {
  if (!sel.ok) throw new Error(`expected a selection, got: ${sel.reason}`);
  return sel;
}

/** Naive index: per feature, scan every entry and sort the active ones. */
function naiveIndex(codes: SparseCodes, n: number): Array<Array<{ row: number; value: number }>> {
  const out: Array<Array<{ row: number; value: number }>> = Array.from({ length: n }, () => []);
  for (let p = 0; p < codes.indices.length; p++) {
    if (codes.values[p]! > 0) out[codes.indices[p]!]!.push({ row: Math.floor(p / codes.k), value: codes.values[p]! });
  }
  for (const list of out) list.sort((a, b) => b.value - a.value || a.row - b.row);
  return out;
}

/** Random top-k codes: distinct latents per row, values quantised to quarters (ties) with some exact zeros. */
function randomCodes(rng: Rng, count: number, k: number, n: number): SparseCodes {
  const indices = new Int32Array(count * k);
  const values = new Float32Array(count * k);
  for (let row = 0; row < count; row++) {
    indices.set(rng.sample(n, k), row * k);
    for (let c = 0; c < k; c++) values[row * k + c] = rng.float() < 0.1 ? 0 : rng.int(8) / 4;
  }
  return { indices, values, k };
}

describe("buildFeatureIndex", () => {
  it("hand-set codes give the exact CSR (see the table above)", () => {
    const index = buildFeatureIndex(HAND, HAND_F);
    expect(index.n).toBe(4);
    expect(index.count).toBe(8);
    expect(index.k).toBe(2);
    expect(Array.from(index.offsetsF1)).toEqual([0, 4, 8, 11, 14]);
    expect(Array.from(index.rowsE)).toEqual([0, 3, 1, 7, 2, 6, 4, 0, 4, 1, 7, 5, 6, 3]);
    expect(Array.from(index.valuesE)).toEqual([0.9, 0.9, 0.5, 0.3, 0.7, 0.5, 0.3, 0.2, 0.8, 0.4, 0.2, 0.6, 0.5, 0.1].map(f32));
  });

  it.each([
    { label: "long slices (comparator sort)", count: 600, k: 6, n: 24 },
    { label: "short slices (insertion sort)", count: 300, k: 5, n: 500 },
  ])("equals the naive index on random codes: $label", ({ count, k, n }) => {
    const codes = randomCodes(new Rng(`examples:naive:${n}`), count, k, n);
    const index = buildFeatureIndex(codes, n);
    const naive = naiveIndex(codes, n);
    expect(index.offsetsF1[n]).toBe(naive.reduce((s, l) => s + l.length, 0));
    for (let j = 0; j < n; j++) {
      const s = index.offsetsF1[j]!;
      const e = index.offsetsF1[j + 1]!;
      expect(Array.from(index.rowsE.subarray(s, e))).toEqual(naive[j]!.map((x) => x.row));
      expect(Array.from(index.valuesE.subarray(s, e))).toEqual(naive[j]!.map((x) => x.value));
    }
  });

  it("rejects out-of-range latents, repeated latents and malformed codes", () => {
    expect(() => buildFeatureIndex(HAND, 3)).toThrow(/latent index 3 .*outside \[0, 3\)/);
    const twice: SparseCodes = { indices: Int32Array.from([1, 1]), values: Float32Array.from([0.5, 0.4]), k: 2 };
    expect(() => buildFeatureIndex(twice, 4)).toThrow(/row 0 lists latent 1 twice/);
    const ragged: SparseCodes = { indices: Int32Array.from([0, 1, 2]), values: Float32Array.from([1, 1, 1]), k: 2 };
    expect(() => buildFeatureIndex(ragged, 4)).toThrow(SaerchError);
  });
});

describe("selectExamples on hand-set codes", () => {
  const index = buildFeatureIndex(HAND, HAND_F);

  it("top: ineligible rows skipped; zero: value-0 top-k entries excluded", () => {
    // Feature 0, top 2 + held 1, row 3 ineligible: active order 0, (3), 1, 7 → shown [0, 1], held [7].
    // Zero candidates: rows whose top-k lacks feature 0 = {4, 5, 6} (row 2 holds it with value 0); row 5 also
    // ineligible here → exactly {4, 6} for zero 1 + held 1, in a seeded order.
    const sel = okSel(selectExamples(index, HAND, 0, { config: cfg({ top: 2, heldTop: 1, zero: 1, heldZero: 1 }), eligible: (r) => r !== 3 && r !== 5 }));
    expect(sel.top).toEqual([{ row: 0, activation: f32(0.9) }, { row: 1, activation: f32(0.5) }]);
    expect(sel.heldTop).toEqual([{ row: 7, activation: f32(0.3) }]);
    expect([...sel.zero, ...sel.heldZero].sort()).toEqual([4, 6]);
    expect(sel.zero).toHaveLength(1);
    expect(sel.heldZero).toHaveLength(1);
  });

  it("random zero rows come from the complement of the top-k only", () => {
    // Feature 0 with all rows eligible: candidates {4, 5, 6}; zero 1 + held 2 takes all three.
    for (let seed = 0; seed < 5; seed++) {
      const sel = okSel(selectExamples(index, HAND, 0, { config: cfg({ top: 1, heldTop: 1, zero: 1, heldZero: 2, seed }), eligible: allEligible }));
      expect(sel.top.map((t) => t.row)).toEqual([0]);
      expect(sel.heldTop.map((t) => t.row)).toEqual([3]); // tie 0.9 with row 0: the lower row first
      expect([...sel.zero, ...sel.heldZero].sort()).toEqual([4, 5, 6]);
    }
  });

  it("hard negatives: nearest to the mean of the shown top rows", () => {
    // Feature 0, row 3 ineligible: shown top rows 0, 1 → mean (0.5, 0.5); held-out top row 7.
    // Candidates (top-k lacks feature 0, eligible): 4 → 0.5·0.6 + 0.5·0.8 = 0.7, 5 → 0.5, 6 → −0.7.
    // Row 2 (0.707) holds feature 0 with value 0 and row 3 (0.707) is ineligible: neither may be chosen.
    // zero 1 + held 1 → the two nearest {4, 5}, shuffled into shown / held.
    const opts = { config: cfg({ top: 2, heldTop: 1, zero: 1, heldZero: 1, negatives: "hard" }), eligible: notRow3, embeddingsND: HAND_EMB_ND, dim: 2 };
    const sel = okSel(selectExamples(index, HAND, 0, opts));
    expect(sel.top.map((t) => t.row)).toEqual([0, 1]);
    expect(sel.heldTop.map((t) => t.row)).toEqual([7]);
    expect([...sel.zero, ...sel.heldZero].sort()).toEqual([4, 5]);
    expect(selectExamples(index, HAND, 0, opts)).toEqual(sel);
  });

  it("hard negatives use only the shown top rows, not the held-out ones", () => {
    // zero 0 + held 1: the single nearest candidate. Shown mean (0.5, 0.5) → row 4 (0.7 vs 0.5 for row 5).
    // Had held-out row 7 (0, −1) been averaged in, the mean (1/3, 0) would pick row 5 (1/3 vs 0.2).
    const sel = okSel(
      selectExamples(index, HAND, 0, { config: cfg({ top: 2, heldTop: 1, zero: 0, heldZero: 1, negatives: "hard" }), eligible: notRow3, embeddingsND: HAND_EMB_ND, dim: 2 }),
    );
    expect(sel.zero).toEqual([]);
    expect(sel.heldZero).toEqual([4]);
  });

  it("not enough activating or zero-activating documents", () => {
    // Feature 2 is active in rows 4, 1, 7 (row 5 has value 0): 3 < 2 + 2.
    expect(selectExamples(index, HAND, 2, { config: cfg({ top: 2, heldTop: 2 }), eligible: allEligible })).toEqual({
      ok: false,
      reason: "3 eligible activating documents, 4 needed (active in 3)",
    });
    // With row 1 ineligible only 2 remain.
    expect(selectExamples(index, HAND, 2, { config: cfg({ top: 2, heldTop: 2 }), eligible: (r) => r !== 1 })).toEqual({
      ok: false,
      reason: "2 eligible activating documents, 4 needed (active in 3)",
    });
    // Feature 0 zero candidates {4, 5, 6}: 3 < 2 + 2, random and hard alike.
    const zeroCfg = { top: 1, heldTop: 1, zero: 2, heldZero: 2 };
    const reason = "3 eligible zero-activating documents, 4 needed";
    expect(selectExamples(index, HAND, 0, { config: cfg(zeroCfg), eligible: allEligible })).toEqual({ ok: false, reason });
    expect(selectExamples(index, HAND, 0, { config: cfg({ ...zeroCfg, negatives: "hard" }), eligible: allEligible, embeddingsND: HAND_EMB_ND, dim: 2 })).toEqual({
      ok: false,
      reason,
    });
    // One eligible candidate only: the singular.
    expect(selectExamples(index, HAND, 0, { config: cfg(zeroCfg), eligible: (r) => r !== 4 && r !== 5 })).toEqual({
      ok: false,
      reason: "1 eligible zero-activating document, 4 needed",
    });
  });

  it("clear errors for a bad feature, mismatched codes, and hard negatives without embeddings", () => {
    const config = cfg({ top: 1, heldTop: 1, zero: 1, heldZero: 1 });
    expect(() => selectExamples(index, HAND, 4, { config, eligible: allEligible })).toThrow(/feature 4 is outside \[0, 4\)/);
    const other: SparseCodes = { indices: HAND.indices.subarray(0, 8), values: HAND.values.subarray(0, 8), k: 2 };
    expect(() => selectExamples(index, other, 0, { config, eligible: allEligible })).toThrow(/index is of \[8, 2\] codes but the codes are \[4, 2\]/);
    expect(() => selectExamples(index, HAND, 0, { config: { ...config, negatives: "hard" }, eligible: allEligible })).toThrow(/needs embeddingsND and dim/);
    expect(() => selectExamples(index, HAND, 0, { config: { ...config, negatives: "hard" }, eligible: allEligible, embeddingsND: HAND_EMB_ND, dim: 3 })).toThrow(
      /expected \[N = 8, D = 3\]/,
    );
  });
});

describe("selectExamples on random codes", () => {
  const N = 3000;
  const K = 8;
  const F = 60;
  const codes = randomCodes(new Rng("examples:random"), N, K, F);
  const index: FeatureIndex = buildFeatureIndex(codes, F);
  const eligibleN = Uint8Array.from({ length: N }, (_, i) => (i % 7 === 3 ? 0 : 1));
  const eligible = (row: number): boolean => eligibleN[row] === 1;
  const inTopK = (row: number, j: number): boolean => Array.from(codes.indices.subarray(row * K, (row + 1) * K)).includes(j);
  const dim = 4;
  const embRng = new Rng("examples:emb");
  const embND = new Float32Array(N * dim);
  for (let row = 0; row < N; row++) {
    const v = Array.from({ length: dim }, () => embRng.normal());
    const norm = Math.hypot(...v);
    for (let i = 0; i < dim; i++) embND[row * dim + i] = v[i]! / norm;
  }

  it.each(["random", "hard"] as const)("invariants for every feature (%s negatives)", (negatives) => {
    const config = cfg({ negatives, seed: 7 });
    for (let j = 0; j < F; j++) {
      const sel = okSel(selectExamples(index, codes, j, { config, eligible, embeddingsND: embND, dim }));
      expect(sel.top).toHaveLength(5);
      expect(sel.heldTop).toHaveLength(3);
      expect(sel.zero).toHaveLength(5);
      expect(sel.heldZero).toHaveLength(3);
      const tops = [...sel.top, ...sel.heldTop];
      for (let i = 1; i < tops.length; i++) expect(tops[i]!.activation).toBeLessThanOrEqual(tops[i - 1]!.activation);
      for (const { row, activation } of tops) {
        expect(eligible(row) && inTopK(row, j) && activation > 0).toBe(true);
      }
      for (const row of [...sel.zero, ...sel.heldZero]) expect(eligible(row) && !inTopK(row, j)).toBe(true);
      // held-out rows are never shown; all rows distinct
      const shown = new Set([...sel.top.map((t) => t.row), ...sel.zero]);
      const held = [...sel.heldTop.map((t) => t.row), ...sel.heldZero];
      for (const row of held) expect(shown.has(row)).toBe(false);
      expect(new Set([...shown, ...held]).size).toBe(16);
    }
  });

  it("hard negatives are the candidates nearest the shown top rows, and nearer than random ones", () => {
    let hardSum = 0;
    let randomSum = 0;
    let count = 0;
    for (let j = 0; j < F; j++) {
      const hard = okSel(selectExamples(index, codes, j, { config: cfg({ negatives: "hard", seed: 7 }), eligible, embeddingsND: embND, dim }));
      const rand = okSel(selectExamples(index, codes, j, { config: cfg({ negatives: "random", seed: 7 }), eligible }));
      const meanD = new Float64Array(dim);
      for (const { row } of hard.top) for (let i = 0; i < dim; i++) meanD[i]! += embND[row * dim + i]! / hard.top.length;
      const sim = (row: number): number => {
        let s = 0;
        for (let i = 0; i < dim; i++) s += meanD[i]! * embND[row * dim + i]!;
        return s;
      };
      const chosen = new Set([...hard.zero, ...hard.heldZero]);
      const others = Array.from({ length: N }, (_, r) => r).filter((r) => eligible(r) && !inTopK(r, j) && !chosen.has(r));
      const weakestChosen = Math.min(...[...chosen].map(sim));
      // No candidate left out is nearer than the least similar one chosen.
      for (const r of others) expect(sim(r)).toBeLessThanOrEqual(weakestChosen + 1e-6);
      hardSum += [...chosen].reduce((a, r) => a + sim(r), 0);
      randomSum += [...rand.zero, ...rand.heldZero].reduce((a, r) => a + sim(r), 0);
      count += chosen.size;
    }
    // On random unit vectors, random negatives sit near similarity 0; hard ones clearly above.
    expect(hardSum / count).toBeGreaterThan(randomSum / count + 0.1);
  });

  it("random negatives: seeded, deterministic, one stream per feature", () => {
    const pick = (j: number, seed: number): number[] => {
      const sel = okSel(selectExamples(index, codes, j, { config: cfg({ seed }), eligible }));
      return [...sel.zero, ...sel.heldZero];
    };
    expect(pick(0, 1)).toEqual(pick(0, 1));
    expect(pick(0, 1)).not.toEqual(pick(1, 1));
    expect(pick(0, 1)).not.toEqual(pick(0, 2));
    // the top examples do not depend on the seed
    const a = okSel(selectExamples(index, codes, 5, { config: cfg({ seed: 1 }), eligible }));
    const b = okSel(selectExamples(index, codes, 5, { config: cfg({ seed: 2 }), eligible }));
    expect(b.top).toEqual(a.top);
    expect(b.heldTop).toEqual(a.heldTop);
  });

  it("random negatives: a feature active almost everywhere still finds its few zero rows", () => {
    // N = 1000, K = 1: every row holds feature 0 except rows 100, 200, 300 (feature 1); zero 1 + held 2
    // must take exactly those three, whether rejection sampling finds them or the exact fallback does.
    const n = 1000;
    const indices = new Int32Array(n);
    for (const r of [100, 200, 300]) indices[r] = 1;
    const dense: SparseCodes = { indices, values: new Float32Array(n).fill(1), k: 1 };
    const denseIndex = buildFeatureIndex(dense, 2);
    for (let seed = 0; seed < 4; seed++) {
      const sel = okSel(selectExamples(denseIndex, dense, 0, { config: cfg({ zero: 1, heldZero: 2, seed }), eligible: allEligible }));
      expect([...sel.zero, ...sel.heldZero].sort((x, y) => x - y)).toEqual([100, 200, 300]);
    }
  });
});
