/**
 * Tests for src/sae/webgpu/encode.ts and the webgpu choice in src/sae/encode.ts: the device encoder against
 * the JS reference encodeTopK on awkward sizes (k = 1, n and d past one GEMM tile and workgroup, a block
 * bigger than the first), ties to the lower index with ReLU, and encodeStore writing the same codes on
 * webgpu as on onnxruntime.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../../src/core/rng.js";
import type { EmbeddingStore } from "../../../src/embed/store-reader.js";
import { encodeEngine, encodeStore, loadCodes, reconstructionReport } from "../../../src/sae/encode.js";
import { encodeTopK } from "../../../src/sae/model.js";
import type { SaeParams } from "../../../src/sae/params.js";
import { createWebGpuEncoder } from "../../../src/sae/webgpu/encode.js";
import { writeSyntheticStore } from "../../fixtures/sae/synthetic-store.js";
import { GPU_TEST_TIMEOUT_MS, gpuContext, noAdapter } from "./gpu-available.js";

function randomParams(d: number, n: number, seed: number): SaeParams {
  const rng = new Rng(seed);
  const p: SaeParams = { d, n, wEncFD: new Float32Array(n * d), bLatF: new Float32Array(n), wDecFD: new Float32Array(n * d), bPreD: new Float32Array(d) };
  for (const a of [p.wEncFD, p.bLatF, p.wDecFD, p.bPreD]) rng.fillNormalInPlace(a);
  return p;
}

let tmp: string;
let store: EmbeddingStore;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "saerch-webgpu-encode-"));
  store = writeSyntheticStore(join(tmp, "store"));
});
afterAll(() => {
  store.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(noAdapter !== undefined)("createWebGpuEncoder", { timeout: GPU_TEST_TIMEOUT_MS }, () => {
  it.each([
    [13, 29, 1, 17],
    [70, 150, 5, 130],
  ])("matches encodeTopK (d = %i, n = %i, k = %i, B = %i), also after a smaller block", async (d, n, k, b) => {
    const params = randomParams(d, n, 5);
    const xBD = new Rng(6).fillNormalInPlace(new Float32Array(b * d));
    const enc = await createWebGpuEncoder(params, k, { context: gpuContext!, rows: 8 });
    try {
      for (const rows of [3, b]) {
        const x = xBD.subarray(0, rows * d);
        const got = await enc.encode(x, rows);
        const want = encodeTopK(params, x, rows, k);
        expect(Array.from(got.indicesBK)).toEqual(Array.from(want.indicesBK));
        for (let i = 0; i < rows * k; i++) expect(got.valuesBK[i]).toBeCloseTo(want.valuesBK[i]!, 4);
      }
    } finally {
      await enc.close();
    }
  });

  it("breaks ties towards the lower latent index and applies ReLU", async () => {
    // Zero encoder: every row's pre-activations equal bLat = (1, 1, -2, 1) → top-3 = latents 0, 1, 3; with k = 4
    // the fourth is latent 2 with value ReLU(−2) = 0.
    const params: SaeParams = { d: 2, n: 4, wEncFD: new Float32Array(8), bLatF: Float32Array.of(1, 1, -2, 1), wDecFD: new Float32Array(8), bPreD: new Float32Array(2) };
    const enc = await createWebGpuEncoder(params, 4, { context: gpuContext! });
    const got = await enc.encode(Float32Array.of(0.5, -1, 2, 3), 2);
    await enc.close();
    expect(Array.from(got.indicesBK)).toEqual([0, 1, 3, 2, 0, 1, 3, 2]);
    expect(Array.from(got.valuesBK)).toEqual([1, 1, 1, 0, 1, 1, 1, 0]);
  });

  it("encodeStore on webgpu writes the codes onnxruntime writes; the stage picks it for webgpu runs", async () => {
    const params = randomParams(store.dim, 40, 9);
    const onnx = await encodeStore({ params, k: 4, store, dir: join(tmp, "onnx"), batch: 128, quiet: true });
    const gpu = await encodeStore({ params, k: 4, store, dir: join(tmp, "webgpu"), batch: 128, quiet: true, engine: "webgpu" });
    const [a, b] = [loadCodes(join(tmp, "onnx")), loadCodes(join(tmp, "webgpu"))];
    expect(Array.from(b.indices)).toEqual(Array.from(a.indices));
    for (let i = 0; i < a.values.length; i++) expect(b.values[i]).toBeCloseTo(a.values[i]!, 4);
    expect(gpu.stats.neverActive).toBe(onnx.stats.neverActive);
    const [ra, rb] = [await reconstructionReport(params, store, undefined, 4), await reconstructionReport(params, store, undefined, 4, 128, "webgpu")];
    expect(rb.nmse).toBeCloseTo(ra.nmse, 4);
    expect([encodeEngine("webgpu"), encodeEngine("onnx"), encodeEngine("tfjs")]).toEqual(["webgpu", "onnx", "onnx"]);
  });
});
