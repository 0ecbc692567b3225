/**
 * Tests for the seeded RNG: known xoshiro128** vectors, golden seeded outputs (cross-checked with an
 * independent BigInt implementation), state resume, forks, and loose distribution checks.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";

function take(rng: Rng, count: number): number[] {
  return Array.from({ length: count }, () => rng.nextUint32());
}

/** Independent reference: splitmix32 (fmix32 finaliser) + xoshiro128** in unsigned BigInt arithmetic. */
function referenceFirstOutputs(seed: bigint, count: number): number[] {
  const M = 0xffffffffn;
  const fmix = (x: bigint): bigint => {
    let z = x & M;
    z ^= z >> 16n;
    z = (z * 0x85ebca6bn) & M;
    z ^= z >> 13n;
    z = (z * 0xc2b2ae35n) & M;
    z ^= z >> 16n;
    return z;
  };
  const rotl = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (32n - k))) & M;
  let state = seed;
  const s: bigint[] = [];
  for (let i = 0; i < 4; i++) {
    state = (state + 0x9e3779b9n) & M;
    s.push(fmix(state));
  }
  const [a, b, c, d] = s as [bigint, bigint, bigint, bigint];
  let s0 = a;
  let s1 = b;
  let s2 = c;
  let s3 = d;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number((rotl((s1 * 5n) & M, 7n) * 9n) & M));
    const t = (s1 << 9n) & M;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11n);
  }
  return out;
}

describe("Rng determinism", () => {
  it("matches the published xoshiro128** vector from state {1, 2, 3, 4}", () => {
    // Reference values from Vigna's xoshiro128starstar.c (also Rust rand_xoshiro's test vector).
    // First output by hand: rotl(2 * 5, 7) * 9 = (10 << 7) * 9 = 1280 * 9 = 11520.
    const rng = Rng.fromState([1, 2, 3, 4, 0, 0]);
    expect(take(rng, 6)).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it("gives fixed golden outputs for fixed seeds", () => {
    // Golden values recorded from this implementation and reproduced by a separate Python script
    // (unsigned integer arithmetic) and by the BigInt reference below.
    expect(take(new Rng(42), 6)).toEqual([
      2837322924, 544945897, 479756282, 3500138142, 339756180, 113173290,
    ]);
    expect(take(new Rng(0), 4)).toEqual([3809008728, 1133695204, 53579671, 2891528803]);
    expect(take(new Rng("saerch"), 4)).toEqual([3149870462, 771375535, 3105621197, 3735834877]);
    expect(new Rng(42).getState()).toEqual([939911724, 3948730756, 321366731, 3317318717, 0, 0]);
  });

  it("agrees with an independent BigInt implementation of the seeding and generator", () => {
    expect(take(new Rng(42), 8)).toEqual(referenceFirstOutputs(42n, 8));
    expect(take(new Rng(123456789), 8)).toEqual(referenceFirstOutputs(123456789n, 8));
  });

  it("same seed gives the same stream; different seeds differ", () => {
    expect(take(new Rng(7), 20)).toEqual(take(new Rng(7), 20));
    expect(take(new Rng(7), 4)).not.toEqual(take(new Rng(8), 4));
    expect(take(new Rng("a"), 4)).not.toEqual(take(new Rng("b"), 4));
  });

  it("uses the high bits of wide integer seeds and accepts negatives", () => {
    expect(take(new Rng(2 ** 32 + 5), 4)).not.toEqual(take(new Rng(5), 4));
    expect(take(new Rng(-1), 4)).toEqual(take(new Rng(-1), 4));
    expect(take(new Rng(-1), 4)).not.toEqual(take(new Rng(2 ** 32 - 1), 4));
  });

  it("rejects non-integer seeds", () => {
    expect(() => new Rng(1.5)).toThrow(SaerchError);
    expect(() => new Rng(Number.NaN)).toThrow(SaerchError);
  });
});

describe("Rng state", () => {
  it("getState/fromState resumes the identical stream, including the cached spare normal", () => {
    const rng = new Rng(99);
    take(rng, 5);
    rng.normal(); // leaves a spare cached
    const saved = JSON.parse(JSON.stringify(rng.getState())) as number[];
    expect(saved[4]).toBe(1);
    const resumed = Rng.fromState(saved);
    const expected = [rng.normal(), rng.nextUint32(), rng.normal(), rng.normal(), rng.float(), rng.int(1000)];
    const actual = [
      resumed.normal(),
      resumed.nextUint32(),
      resumed.normal(),
      resumed.normal(),
      resumed.float(),
      resumed.int(1000),
    ];
    expect(actual).toEqual(expected);
  });

  it("rejects malformed states", () => {
    expect(() => Rng.fromState([1, 2, 3])).toThrow(SaerchError);
    expect(() => Rng.fromState([0, 0, 0, 0, 0, 0])).toThrow(/all-zero/);
    expect(() => Rng.fromState([1, 2, 3, 2 ** 32, 0, 0])).toThrow(SaerchError);
    expect(() => Rng.fromState([1, 2, 3, 4, 2, 0])).toThrow(SaerchError);
  });

  it("fork is deterministic, leaves the parent untouched and gives distinct streams per label", () => {
    const parent = new Rng(5);
    const before = parent.getState();
    const a1 = take(parent.fork("init"), 8);
    expect(parent.getState()).toEqual(before);
    const a2 = take(parent.fork("init"), 8);
    const b = take(parent.fork("shuffle"), 8);
    const c = take(parent.fork(1), 8);
    expect(a1).toEqual(a2);
    expect(a1).not.toEqual(b);
    expect(a1).not.toEqual(c);
    expect(a1).not.toEqual(take(new Rng(5), 8));
    // A fork after the parent has advanced is a different stream.
    take(parent, 1);
    expect(take(parent.fork("init"), 8)).not.toEqual(a1);
  });
});

describe("Rng draws", () => {
  it("float is in [0, 1) and is nextUint32 / 2^32", () => {
    const a = new Rng(3);
    const b = new Rng(3);
    for (let i = 0; i < 1000; i++) {
      const u = a.float();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      expect(u).toBe(b.nextUint32() / 2 ** 32);
    }
  });

  it("int(n) stays in range and handles the extremes", () => {
    const rng = new Rng(11);
    for (let i = 0; i < 1000; i++) {
      const v = rng.int(7);
      expect(Number.isInteger(v) && v >= 0 && v < 7).toBe(true);
    }
    expect(rng.int(1)).toBe(0);
    const big = rng.int(2 ** 32);
    expect(big >= 0 && big < 2 ** 32).toBe(true);
    expect(() => rng.int(0)).toThrow(SaerchError);
    expect(() => rng.int(2.5)).toThrow(SaerchError);
    expect(() => rng.int(2 ** 32 + 1)).toThrow(SaerchError);
  });

  it("int(n) is roughly uniform (chi-square, loose bound)", () => {
    const rng = new Rng(2024);
    const bins = 10;
    const draws = 100_000;
    const counts = new Array<number>(bins).fill(0);
    for (let i = 0; i < draws; i++) counts[rng.int(bins)]!++;
    const expected = draws / bins;
    const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
    // 9 degrees of freedom: P(chi2 > 40) is about 7e-6.
    expect(chi2).toBeLessThan(40);
  });

  it("normal has mean ≈ 0 and variance ≈ 1 over 1e5 draws", () => {
    const rng = new Rng(17);
    const count = 100_000;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < count; i++) {
      const z = rng.normal();
      sum += z;
      sumSq += z * z;
    }
    const mean = sum / count;
    const variance = sumSq / count - mean * mean;
    // Standard errors: mean 0.0032, variance 0.0045.
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
  });

  it("fillNormalInPlace gives the same values as repeated normal() calls", () => {
    const a = new Rng(8);
    const b = new Rng(8);
    const outF: Float32Array = a.fillNormalInPlace(new Float32Array(9), 1, 2);
    const expected = Float32Array.from({ length: 9 }, () => 1 + 2 * b.normal());
    expect(Array.from(outF)).toEqual(Array.from(expected));
    expect(a.getState()).toEqual(b.getState());
  });
});

describe("Rng permutations and samples", () => {
  it("shuffleInPlace keeps the elements of JS and typed arrays", () => {
    const rng = new Rng(1);
    const words = ["a", "b", "c", "d", "e", "f"];
    const shuffled = rng.shuffleInPlace(words);
    expect(shuffled).toBe(words);
    expect([...words].sort()).toEqual(["a", "b", "c", "d", "e", "f"]);
    const f32 = Float32Array.from([0.5, 1.5, 2.5, 3.5, 4.5]);
    rng.shuffleInPlace(f32);
    expect(Array.from(f32).sort()).toEqual([0.5, 1.5, 2.5, 3.5, 4.5]);
  });

  it("permutation(n) is a permutation of 0..n-1", () => {
    const rng = new Rng(12);
    for (const n of [0, 1, 2, 17, 1000]) {
      const perm = rng.permutation(n);
      expect(perm).toBeInstanceOf(Int32Array);
      expect(Array.from(perm).sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    expect(Array.from(new Rng(7).permutation(10))).toEqual([3, 9, 6, 5, 4, 7, 2, 1, 8, 0]);
  });

  it("sample(n, k) gives k distinct values in [0, n)", () => {
    const rng = new Rng(13);
    for (const [n, k] of [
      [10, 0],
      [10, 3],
      [10, 10],
      [1000, 999],
      [5, 1],
    ] as const) {
      const s = rng.sample(n, k);
      expect(s.length).toBe(k);
      expect(new Set(s).size).toBe(k);
      for (const v of s) expect(v >= 0 && v < n).toBe(true);
    }
    expect(() => rng.sample(3, 4)).toThrow(SaerchError);
    expect(() => rng.sample(3, -1)).toThrow(SaerchError);
  });

  it("sample's sparse path (large n, small k) matches a dense partial Fisher–Yates", () => {
    const n = 2 ** 21 + 3;
    const k = 50;
    const rng = new Rng(21);
    const twin = Rng.fromState(rng.getState());
    const got = rng.sample(n, k);
    const pool = new Int32Array(n);
    for (let i = 0; i < n; i++) pool[i] = i;
    const expected = new Int32Array(k);
    for (let i = 0; i < k; i++) {
      const j = i + twin.int(n - i);
      expected[i] = pool[j]!;
      pool[j] = pool[i]!;
    }
    expect(Array.from(got)).toEqual(Array.from(expected));
  });
});
