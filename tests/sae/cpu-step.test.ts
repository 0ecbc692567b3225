/**
 * Tests for the CPU step kernels (src/sae/cpu-kernels.ts) and their resident state (src/sae/cpu-step.ts): the
 * WebAssembly SIMD kernels against their plain-JS twins on awkward sizes (d mod 4 tails, whole f32x4 lanes),
 * with and without AuxK, on 1 to 3 threads; gradient accumulation against the direct sum over pairs; growth
 * for a bigger batch; and the JS Adam / projection against the reference formulas.
 */
import { describe, expect, it } from "vitest";
import { relErr, tensorRelErr } from "../helpers/compare.js";
import { Rng } from "../../src/core/rng.js";
import { normalizeRowsInPlace, rowNorms } from "../../src/core/vector.js";
import { adamRowsInPlace, projectedNormSq, sumSquares } from "../../src/sae/cpu-kernels.js";
import { CpuKernels } from "../../src/sae/cpu-step.js";


describe("CPU step kernels", () => {
  it.each([
    [7, 2, 1],
    [13, 0, 1],
    [16, 2, 1],
    [7, 2, 2],
    [16, 2, 3],
  ])("WebAssembly SIMD and plain JS agree on every pass (d = %i, kAux = %i, %i thread(s))", async (d, ka, threads) => {
    const shape = { n: 5, d, k: 2, kAux: 2, batchCapacity: 4, threads };
    const { n, k } = shape;
    expect(CpuKernels.wasmSupported(shape)).toBe(true);
    const wasm = new CpuKernels(shape, "wasm");
    const js = new CpuKernels(shape, "js");
    const rng = new Rng(d);
    for (const slot of ["p", "m", "v"] as const) {
      for (const mat of ["enc", "dec"] as const) {
        rng.fillNormalInPlace(wasm[mat][slot]);
        if (slot === "v") wasm[mat].v.forEach((x, i, a) => (a[i] = x * x));
      }
    }
    normalizeRowsInPlace(wasm.dec.p, n, d);
    // Three rows; latent 4 never selected, latent 1 several times, one negative pre-activation (z = 0).
    const b = 3;
    const st = wasm.staging;
    rng.fillNormalInPlace(st.x);
    st.indices.set([1, 0, 2, 1, 3, 1]);
    st.values.set([0.9, 0.4, 0.7, -0.2, 1.1, 0.3]);
    st.auxIndices.set([3, 2, 0, 3, 2, 0]);
    st.auxValues.set([0.5, 0.1, 0.8, -0.3, 0.2, 0.05]);
    for (const mat of ["enc", "dec"] as const) for (const slot of ["p", "m", "v"] as const) js[mat][slot].set(wasm[mat][slot]);
    for (const key of ["x", "indices", "values", "auxIndices", "auxValues"] as const) js.staging[key].set(st[key] as never);
    const bPre = Float32Array.from({ length: d }, (_, i) => 0.1 * Math.cos(i));
    const sw = wasm.decode(b, ka, 0.37, bPre);
    const sj = js.decode(b, ka, 0.37, bPre);
    expect(relErr(sw.sse, sj.sse)).toBeLessThan(1e-6);
    if (ka > 0) expect(relErr(sw.auxSse, sj.auxSse)).toBeLessThan(1e-6);
    else expect(sw.auxSse).toBe(0);
    const kk = k + ka;
    expect(Array.from(st.pairIdx.subarray(0, b * kk))).toEqual(Array.from(js.staging.pairIdx.subarray(0, b * kk)));
    for (const key of ["pairDec", "pairEnc"] as const) {
      expect(tensorRelErr(st[key].subarray(0, b * kk), js.staging[key].subarray(0, b * kk)), key).toBeLessThan(1e-5);
    }
    for (const key of ka > 0 ? (["xc", "r", "rA"] as const) : (["xc", "r"] as const)) {
      expect(tensorRelErr(st[key].subarray(0, b * d), js.staging[key].subarray(0, b * d)), key).toBeLessThan(1e-5);
    }
    expect(tensorRelErr(Float32Array.from(st.colSum), Float32Array.from(js.staging.colSum))).toBeLessThan(1e-5);
    // The pair with a negative pre-activation has z = 0 and no encoder gradient.
    expect(st.pairDec[1 * kk + 1]).toBe(0);
    expect(st.pairEnc[1 * kk + 1]).toBe(0);

    wasm.enc.g.fill(7); // stale values must be overwritten, rows without pairs zeroed
    wasm.accumulateGradients(b, kk, k);
    js.accumulateGradients(b, kk, k);
    // Direct accumulation from the pairs.
    const want = { dec: new Float64Array(n * d), enc: new Float64Array(n * d) };
    const jst = js.staging;
    for (let p = 0; p < b * kk; p++) {
      const row = Math.floor(p / kk);
      const j = jst.pairIdx[p]!;
      for (let i = 0; i < d; i++) {
        want.dec[j * d + i]! += jst.pairDec[p]! * (p % kk < k ? jst.r : jst.rA)[row * d + i]!;
        want.enc[j * d + i]! += jst.pairEnc[p]! * jst.xc[row * d + i]!;
      }
    }
    for (const mat of ["enc", "dec"] as const) {
      expect(tensorRelErr(js[mat].g, Float32Array.from(want[mat])), `js ${mat}.g`).toBeLessThan(1e-6);
      expect(tensorRelErr(wasm[mat].g, js[mat].g), `wasm ${mat}.g`).toBeLessThan(1e-5);
    }
    expect(Array.from(wasm.enc.g.subarray(4 * d))).toEqual(new Array(d).fill(0));

    expect(relErr(wasm.encoderNormSq(), js.encoderNormSq())).toBeLessThan(1e-5);
    expect(relErr(wasm.encoderNormSq(), sumSquares(js.enc.g))).toBeLessThan(1e-5);
    expect(relErr(wasm.decoderProjectedNormSq(), js.decoderProjectedNormSq())).toBeLessThan(1e-5);
    const coefF = Float32Array.from({ length: n }, (_, j) => (j === 2 ? 0 : j - 1.5));
    const [ow, oj] = [new Float32Array(d), new Float32Array(d)];
    wasm.encoderWeightedRowSum(coefF, ow);
    js.encoderWeightedRowSum(coefF, oj);
    expect(tensorRelErr(ow, oj)).toBeLessThan(1e-5);
    const s = { beta1: 0.9, beta2: 0.999, eps: 1e-8, stepSize: 0.01 / (1 - 0.9 ** 3), sqrtBc2: Math.sqrt(1 - 0.999 ** 3) };
    wasm.adamInPlace(0.3, s);
    js.adamInPlace(0.3, s);
    for (const mat of ["enc", "dec"] as const) {
      for (const slot of ["p", "m", "v"] as const) {
        expect(tensorRelErr(wasm[mat][slot], js[mat][slot]), `${mat}.${slot}`).toBeLessThan(1e-4);
      }
    }
    for (const norm of rowNorms(wasm.dec.p, n, d)) expect(norm).toBeCloseTo(1, 6);
    expect(wasm.encoderForOrt()).toEqual(wasm.enc.p);
    await wasm.close();
  });

  it("grows for a bigger batch, keeping the resident values", () => {
    for (const backend of ["wasm", "js"] as const) {
      const u = new CpuKernels({ n: 3, d: 5, k: 1, kAux: 1, batchCapacity: 2, threads: 1 }, backend);
      u.enc.p.fill(1.5);
      u.dec.v.fill(2.5);
      expect(u.ensureBatch(2)).toBe(false);
      expect(u.ensureBatch(50)).toBe(true);
      expect(u.staging.r.length).toBe(50 * 5);
      expect(u.staging.pairIdx.length).toBe(100);
      expect(Array.from(u.enc.p)).toEqual(new Array(15).fill(1.5));
      expect(Array.from(u.dec.v)).toEqual(new Array(15).fill(2.5));
    }
  });

  it("projectedNormSq and adamRowsInPlace follow the reference formulas", () => {
    const [n, d] = [3, 4];
    const rng = new Rng(11);
    const w = new Float32Array(n * d);
    const g = new Float32Array(n * d);
    rng.fillNormalInPlace(w);
    rng.fillNormalInPlace(g);
    normalizeRowsInPlace(w, n, d);
    const along = new Float64Array(n);
    const normSq = projectedNormSq(g, w, along, n, d);
    let want = 0;
    const gp = new Float64Array(n * d);
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += g[j * d + i]! * w[j * d + i]!;
      expect(along[j]).toBeCloseTo(dot, 12);
      for (let i = 0; i < d; i++) {
        gp[j * d + i] = g[j * d + i]! - dot * w[j * d + i]!;
        want += gp[j * d + i]! ** 2;
      }
    }
    expect(Math.abs(normSq - want) / want).toBeLessThan(1e-6);
    // One Adam step from zero moments at t = 1 moves each entry by ≈ −lr·sign(g) (then rows renormalised).
    const p = w.slice();
    const s = { beta1: 0.9, beta2: 0.999, eps: 1e-8, stepSize: 0.01 / (1 - 0.9), sqrtBc2: Math.sqrt(1 - 0.999) };
    adamRowsInPlace(p, new Float32Array(n * d), new Float32Array(n * d), g, n, d, 0.5, s, along, true);
    const moved = w.map((x, i) => x - 0.01 * Math.sign(gp[i]!));
    normalizeRowsInPlace(moved, n, d);
    for (let i = 0; i < n * d; i++) expect(p[i]).toBeCloseTo(moved[i]!, 5);
    for (const norm of rowNorms(p, n, d)) expect(norm).toBeCloseTo(1, 6);
  });
});

