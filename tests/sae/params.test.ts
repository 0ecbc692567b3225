/**
 * Tests for SAE parameters (src/sae/params.ts): the paper's initialisation (median pre-bias, unit-norm decoder,
 * tied encoder, zero latent bias, seeded), dead-latent tracking, and that copies never share buffers.
 */
import { describe, expect, it } from "vitest";
import { rowNorms } from "../../src/core/vector.js";
import {
  cloneAdamState,
  cloneParams,
  DeadLatentTracker,
  initSaeParams,
  zeroAdamState,
} from "../../src/sae/params.js";

describe("initSaeParams", () => {
  it("pre-bias is the coordinate-wise median of the sample (odd and even row counts)", () => {
    // Columns (1, 3, 2) and (10, −2, 5): medians 2 and 5.
    const odd = initSaeParams(2, 4, Float32Array.from([1, 10, 3, -2, 2, 5]), 0);
    expect(Array.from(odd.bPreD)).toEqual([2, 5]);
    // Columns sorted (1, 2, 3, 10) and (0, 2, 4, 8): means of the middle pairs, 2.5 and 3.
    const even = initSaeParams(2, 4, Float32Array.from([1, 4, 3, 2, 2, 8, 10, 0]), 0);
    expect(Array.from(even.bPreD)).toEqual([2.5, 3]);
  });

  it("decoder rows are unit norm, the encoder equals the decoder in its own buffer, latent bias is 0", () => {
    const d = 7;
    const n = 13;
    const p = initSaeParams(d, n, new Float32Array(3 * d), 5);
    expect(p.d).toBe(d);
    expect(p.n).toBe(n);
    expect(p.wDecFD.length).toBe(n * d);
    for (const r of rowNorms(p.wDecFD, n, d)) expect(r).toBeCloseTo(1, 6);
    expect(p.wEncFD).toEqual(p.wDecFD);
    expect(p.wEncFD.buffer).not.toBe(p.wDecFD.buffer);
    expect(Array.from(p.bLatF)).toEqual(new Array<number>(n).fill(0));
    expect(p.bPreD.length).toBe(d);
  });

  it("is deterministic per seed and differs between seeds", () => {
    const sample = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    expect(initSaeParams(3, 5, sample, 11)).toEqual(initSaeParams(3, 5, sample, 11));
    expect(initSaeParams(3, 5, sample, 11).wDecFD).not.toEqual(initSaeParams(3, 5, sample, 12).wDecFD);
  });
});

describe("DeadLatentTracker", () => {
  it("resets fired latents, ages the rest by the batch size, and reports dead ones at the window", () => {
    const t = new DeadLatentTracker(4, 5);
    expect(t.deadCount()).toBe(0);
    t.updateInPlace(Int32Array.from([0, 2, 2, 0]), 3); // [B = 2, K = 2]
    expect(Array.from(t.sinceFiredF)).toEqual([0, 3, 0, 3]);
    expect(t.deadCount()).toBe(0);
    t.updateInPlace(Int32Array.from([0]), 3);
    expect(Array.from(t.sinceFiredF)).toEqual([0, 6, 3, 6]);
    expect(Array.from(t.deadMaskF())).toEqual([0, 1, 0, 1]);
    expect(t.deadCount()).toBe(2);
    // int64 indices (as onnxruntime's TopK returns) work the same; a dead latent that fires revives.
    t.updateInPlace(BigInt64Array.from([1n, 2n]), 2);
    expect(Array.from(t.sinceFiredF)).toEqual([2, 0, 0, 8]);
    expect(Array.from(t.deadMaskF())).toEqual([0, 0, 0, 1]);
  });

  it("a count equal to the window is dead; the constructor copies the counters it is given", () => {
    const counters = Float64Array.from([4, 5, 6]);
    const t = new DeadLatentTracker(3, 5, counters);
    expect(Array.from(t.deadMaskF())).toEqual([0, 1, 1]);
    t.updateInPlace(Int32Array.from([0]), 1);
    expect(Array.from(counters)).toEqual([4, 5, 6]);
  });
});

describe("Adam state and copies", () => {
  it("zeroAdamState has one zeroed moment buffer per parameter and t = 0", () => {
    const s = zeroAdamState(3, 4);
    expect(s.t).toBe(0);
    for (const mom of [s.m, s.v]) {
      expect(mom.wEncFD.length).toBe(12);
      expect(mom.bLatF.length).toBe(4);
      expect(mom.wDecFD.length).toBe(12);
      expect(mom.bPreD.length).toBe(3);
      for (const buf of [mom.wEncFD, mom.bLatF, mom.wDecFD, mom.bPreD]) expect(buf.every((x) => x === 0)).toBe(true);
    }
    expect(s.m.wEncFD).not.toBe(s.v.wEncFD);
  });

  it("cloneParams and cloneAdamState copy deeply", () => {
    const p = initSaeParams(2, 3, Float32Array.from([1, 2, 3, 4]), 0);
    const pc = cloneParams(p);
    expect(pc).toEqual(p);
    pc.wEncFD[0] = 42;
    pc.bLatF[0] = 42;
    pc.wDecFD[0] = 42;
    pc.bPreD[0] = 42;
    expect(p.wEncFD[0]).not.toBe(42);
    expect(p.bLatF[0]).toBe(0);
    expect(p.wDecFD[0]).not.toBe(42);
    expect(p.bPreD[0]).toBe(2);

    const s = zeroAdamState(2, 3);
    s.t = 7;
    const sc = cloneAdamState(s);
    expect(sc).toEqual(s);
    sc.t = 8;
    for (const mom of [sc.m, sc.v]) for (const buf of [mom.wEncFD, mom.bLatF, mom.wDecFD, mom.bPreD]) buf.fill(1);
    expect(s.t).toBe(7);
    for (const mom of [s.m, s.v]) {
      for (const buf of [mom.wEncFD, mom.bLatF, mom.wDecFD, mom.bPreD]) expect(buf.every((x) => x === 0)).toBe(true);
    }
  });
});
