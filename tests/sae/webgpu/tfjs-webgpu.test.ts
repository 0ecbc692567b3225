/**
 * The tfjs engine on backend "webgpu" (src/sae/tfjs-backend.ts: @tensorflow/tfjs-backend-webgpu on Dawn's
 * adapter) against the naive reference: the GPU autograd cross-check of the webgpu engine, on the awkward size
 * with latents dying (d 7, n 13, k 3, kAux 5, B 6).
 */
import { describe, expect, it } from "vitest";
import { tensorRelErr, relErr } from "../../helpers/compare.js";
import { Rng } from "../../../src/core/rng.js";
import { resolveSaeConfig } from "../../../src/sae/config.js";
import { NaiveTrainStep } from "../../../src/sae/naive.js";
import { initSaeParams, zeroAdamState } from "../../../src/sae/params.js";
import { TfjsTrainStep } from "../../../src/sae/tfjs-step.js";
import { GPU_TEST_TIMEOUT_MS, noAdapter } from "./gpu-available.js";

describe.skipIf(noAdapter !== undefined)("tfjs engine on backend webgpu", { timeout: GPU_TEST_TIMEOUT_MS }, () => {
  it("matches the naive reference over 5 steps with AuxK running", async () => {
    const [d, n] = [7, 13];
    const c = resolveSaeConfig({ d, n, k: 3, kAux: 5, batch: 6, deadWindow: 12, lr: 1e-2, steps: 10 }, 1000);
    const rng = new Rng(1);
    const params = initSaeParams(d, n, rng.fillNormalInPlace(new Float32Array(16 * d)), 1);
    rng.fillNormalInPlace(params.wEncFD, 0, 1 / Math.sqrt(d));
    rng.fillNormalInPlace(params.bLatF, 0, 0.1);
    const init = { params, adam: zeroAdamState(d, n), sinceFiredF: new Float64Array(n) };
    const naive = new NaiveTrainStep(c, init);
    const tfjs = await TfjsTrainStep.create(c, init, { backend: "webgpu" });
    try {
      expect(tfjs.engine).toMatch(/webgpu/);
      let auxRan = false;
      for (let s = 0; s < 5; s++) {
        const x = rng.fillNormalInPlace(new Float32Array(6 * d));
        const [want, got] = [await naive.step(x), await tfjs.step(x)];
        for (const key of ["loss", "nmse", "auxk", "gradNorm"] as const) expect(relErr(got[key], want[key]), `step ${s} ${key}`).toBeLessThan(1e-4);
        auxRan ||= want.auxk > 0;
      }
      expect(auxRan).toBe(true);
      const [a, b] = [await tfjs.state(), await naive.state()];
      for (const key of ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const) expect(tensorRelErr(a.params[key], b.params[key]), key).toBeLessThan(1e-4);
      expect(Array.from(a.sinceFiredF)).toEqual(Array.from(b.sinceFiredF));
    } finally {
      await tfjs.close();
    }
  });
});
