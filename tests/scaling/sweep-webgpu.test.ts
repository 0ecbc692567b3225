/**
 * The scaling sweep (src/scaling/sweep.ts) with `engine: "webgpu"` in its training settings: a 2-cell grid on a
 * 160-row store trains every cell on the device and ends where the same sweep on the onnx engine ends — final
 * NMSE (training and held-out rows) and every weight tensor to 1e-4, the tolerance of the engines' equivalence
 * tests — and encodes and evaluates each cell's rows on the device (three webgpu encoders per cell: the training
 * rows' NMSE, their codes, the held-out NMSE), where the onnx sweep opens none. Skipped, with the reason printed, where no WebGPU adapter opens (tests/sae/webgpu/gpu-available.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { relErr, tensorRelErr } from "../helpers/compare.js";
import { Rng } from "../../src/core/rng.js";
import { normalizeRowsInPlace } from "../../src/core/vector.js";
import { adoptNpy } from "../../src/embed/adopt-npy.js";
import { EmbeddingStore } from "../../src/embed/store-reader.js";
import { writeNpy } from "../../src/io/npy.js";
import { loadSaeWeights } from "../../src/sae/checkpoint.js";
import { WEIGHTS_FILE } from "../../src/sae/trainer.js";
import { runSweep, type SweepRecord } from "../../src/scaling/sweep.js";
import { GPU_TEST_TIMEOUT_MS, noAdapter } from "../sae/webgpu/gpu-available.js";

/** webgpu encoders opened (createWebGpuEncoder wrapped to count). */
const encoders = vi.hoisted(() => ({ opened: 0 }));
vi.mock("../../src/sae/webgpu/encode.js", async (importOriginal) => {
  const mod = await importOriginal<typeof import("../../src/sae/webgpu/encode.js")>();
  return {
    ...mod,
    createWebGpuEncoder: (...args: Parameters<typeof mod.createWebGpuEncoder>) => {
      encoders.opened++;
      return mod.createWebGpuEncoder(...args);
    },
  };
});

const KEYS = ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const;
/** The engines' equivalence tolerance (tests/sae/webgpu/step.test.ts). */
const REL_TOL = 1e-4;
const D = 12;
const ROWS = 160;

describe.skipIf(noAdapter !== undefined)("runSweep on the webgpu engine", { timeout: GPU_TEST_TIMEOUT_MS }, () => {
  let dir: string;
  let store: EmbeddingStore;
  const labels = Array.from({ length: ROWS }, (_, i) => (i % 2 ? "a" : "b"));
  const saved = process.env.SAERCH_DATA;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "saerch-sweep-webgpu-"));
    process.env.SAERCH_DATA = join(dir, "data");
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const embND = new Float32Array(ROWS * D);
    new Rng(1).fillNormalInPlace(embND);
    normalizeRowsInPlace(embND, ROWS, D);
    writeNpy(join(dir, "emb.npy"), embND, [ROWS, D]);
    writeFileSync(join(dir, "ids.json"), JSON.stringify(Array.from({ length: ROWS }, (_, i) => `r${i}`)));
    adoptNpy({ embeddingsPath: join(dir, "emb.npy"), idsPath: join(dir, "ids.json"), dir: join(dir, "store"), model: "synthetic" });
    store = EmbeddingStore.open(join(dir, "store"));
  });
  afterAll(() => {
    store.close();
    vi.restoreAllMocks();
    if (saved === undefined) delete process.env.SAERCH_DATA;
    else process.env.SAERCH_DATA = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  /** n = 24, k ∈ {2, 4}: 12 steps of 16 rows, lr 3e-3 so the weights move away from their init. */
  const sweepOn = (engine: "onnx" | "webgpu"): Promise<{ records: SweepRecord[] }> =>
    runSweep(store, labels, {
      domains: ["a"],
      nMultiples: [2],
      ks: [2, 4],
      heldOutFraction: 0.25,
      train: { steps: 12, batch: 16, lr: 3e-3, checkpointEvery: 6, logEvery: 4, threads: 1, engine },
    });

  it("trains every cell on the device and ends where the onnx sweep ends (NMSE and weights to 1e-4)", async () => {
    const gpu = await sweepOn("webgpu");
    expect(encoders.opened, "webgpu encoders of the webgpu sweep").toBe(3 * gpu.records.length);
    const cpu = await sweepOn("onnx");
    expect(encoders.opened, "the onnx sweep encodes on onnxruntime").toBe(3 * gpu.records.length);
    expect(gpu.records.map((r) => [r.n, r.k])).toEqual([
      [24, 2],
      [24, 4],
    ]);
    for (const [i, g] of gpu.records.entries()) {
      const c = cpu.records[i]!;
      const where = `cell n ${g.n} k ${g.k}`;
      expect(g.runDir).not.toBe(c.runDir);
      expect(g).toMatchObject({ steps: 12, examples: 12 * 16, trainRows: c.trainRows, heldOutRows: c.heldOutRows });
      expect(relErr(g.nmseTrain, c.nmseTrain), `${where} nmseTrain ${g.nmseTrain} vs ${c.nmseTrain}`).toBeLessThan(REL_TOL);
      expect(relErr(g.nmseHeldOut, c.nmseHeldOut), `${where} nmseHeldOut`).toBeLessThan(REL_TOL);
      expect(g.curve.step).toEqual([4, 8, 12]);
      for (const [s, nmse] of g.curve.nmse.entries()) expect(relErr(nmse, c.curve.nmse[s]!), `${where} curve ${s}`).toBeLessThan(REL_TOL);
      const [wg, wc] = [loadSaeWeights(join(g.runDir, WEIGHTS_FILE)).params, loadSaeWeights(join(c.runDir, WEIGHTS_FILE)).params];
      for (const key of KEYS) expect(tensorRelErr(wg[key], wc[key]), `${where} ${key}`).toBeLessThan(REL_TOL);
      expect(g.density, `${where} density`).toEqual(c.density);
    }
  });
});
