import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { encodeTopK } from "../../src/sae/model.js";
import { createSaeEncoder } from "../../src/sae/onnx-encode.js";
import type { SaeParams } from "../../src/sae/params.js";

function randomParams(d: number, n: number, seed: number): SaeParams {
  const rng = new Rng(seed);
  const p: SaeParams = {
    d,
    n,
    wEncFD: new Float32Array(n * d),
    bLatF: new Float32Array(n),
    wDecFD: new Float32Array(n * d),
    bPreD: new Float32Array(d),
  };
  for (const a of [p.wEncFD, p.bLatF, p.wDecFD, p.bPreD]) rng.fillNormalInPlace(a);
  return p;
}

describe("createSaeEncoder (onnxruntime)", () => {
  it("matches the JS reference encodeTopK on an awkward size", async () => {
    const [d, n, k, b] = [13, 29, 3, 17];
    const params = randomParams(d, n, 5);
    const xBD = new Float32Array(b * d);
    new Rng(6).fillNormalInPlace(xBD);
    const enc = await createSaeEncoder(params, k, 1);
    const got = await enc.encode(xBD, b);
    await enc.close();
    const want = encodeTopK(params, xBD, b, k);
    expect(got.indicesBK).toEqual(want.indicesBK);
    for (let i = 0; i < b * k; i++) expect(got.valuesBK[i]).toBeCloseTo(want.valuesBK[i]!, 5);
  });

  it("breaks ties towards the lower latent index and applies ReLU", async () => {
    // Zero encoder: every row's pre-activations equal bLat = (1, 1, -2, 1) → top-2 = latents 0 and 1.
    const params: SaeParams = {
      d: 2,
      n: 4,
      wEncFD: new Float32Array(8),
      bLatF: Float32Array.of(1, 1, -2, 1),
      wDecFD: new Float32Array(8),
      bPreD: new Float32Array(2),
    };
    const enc = await createSaeEncoder(params, 4, 1);
    const got = await enc.encode(Float32Array.of(0.3, -0.7), 1);
    await enc.close();
    expect(Array.from(got.indicesBK)).toEqual([0, 1, 3, 2]);
    expect(Array.from(got.valuesBK)).toEqual([1, 1, 1, 0]);
  });
});
