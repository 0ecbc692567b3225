/**
 * Tests for src/sae/encode.ts: streamed codes equal encodeTopK on the same rows (whole store and a subset),
 * block size does not change a byte, the .npy files read back (also with numpy), feature statistics on a
 * hand-set case, and the reconstruction report against model.ts's NMSE.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { cosine } from "../../src/core/vector.js";
import type { EmbeddingStore } from "../../src/embed/store-reader.js";
import { readNpy, readNpyHeader } from "../../src/io/npy.js";
import { SaerchError } from "../../src/core/errors.js";
import { CODES_MARKER_FILE, codesProblem, encodeStore, featureStats, loadCodes, reconstructionReport } from "../../src/sae/encode.js";
import { encodeTopK, nmse, reconstruct } from "../../src/sae/model.js";
import { initSaeParams, type SaeParams } from "../../src/sae/params.js";
import { writeSyntheticStore } from "../fixtures/sae/synthetic-store.js";

const PYTHON = "/usr/bin/python3";
const hasNumpy = spawnSync(PYTHON, ["-c", "import numpy"]).status === 0;

const D = 16;
const N_LATENTS = 40;
const K = 5;

let tmp: string;
let store: EmbeddingStore;
let params: SaeParams;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "saerch-encode-"));
  store = writeSyntheticStore(join(tmp, "store"));
  params = initSaeParams(D, N_LATENTS, store.rows(0, 100), 2);
  // untie the encoder and give the latent bias some spread, so codes include exact zeros (ReLU of h ≤ 0)
  const rng = new Rng(11);
  for (let p = 0; p < params.wEncFD.length; p++) params.wEncFD[p]! += 0.3 * rng.normal();
  rng.fillNormalInPlace(params.bLatF, -0.4, 0.2);
});
afterAll(() => {
  store.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("encodeStore", () => {
  // encodeStore runs on onnxruntime (its GEMM sums in another order than the JS reference): same indices,
  // values equal to float32 rounding.
  it("writes codes equal to encodeTopK on the whole store, readable with readNpy", async () => {
    const dir = join(tmp, "all");
    const res = await encodeStore({ params, k: K, store, dir, batch: 64, quiet: true });
    expect(res).toMatchObject({ count: 300, k: K, indicesPath: join(dir, "codes.indices.npy"), valuesPath: join(dir, "codes.values.npy") });
    const want = encodeTopK(params, store.readAll(), 300, K);
    const idx = readNpy(res.indicesPath);
    const val = readNpy(res.valuesPath);
    expect(idx).toMatchObject({ dtype: "<i4", shape: [300, K] });
    expect(val).toMatchObject({ dtype: "<f4", shape: [300, K] });
    expect(idx.data).toEqual(want.indicesBK);
    const got = val.data as Float32Array;
    for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want.valuesBK[i]!, 5);
    expect(readNpyHeader(res.indicesPath).headerBytes % 64).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["codes.indices.npy", "codes.json", "codes.values.npy"]);
    const codes = loadCodes(dir);
    expect(codes.k).toBe(K);
    expect(res.stats).toEqual(featureStats(codes, N_LATENTS));
    expect(res.stats.zeroCount).toBeGreaterThan(0);
    expect(res.stats.zeroFraction).toBeLessThan(0.5);
  });

  it("streams a subset in blocks: any block size gives the same bytes as one block", async () => {
    const rows = Int32Array.from({ length: 77 }, (_, i) => (i * 37) % 300);
    const one = await encodeStore({ params, k: K, store, rows, dir: join(tmp, "one"), batch: 1000, quiet: true });
    const blocks = await encodeStore({ params, k: K, store, rows, dir: join(tmp, "blocks"), batch: 7, quiet: true });
    expect(readFileSync(blocks.indicesPath).equals(readFileSync(one.indicesPath))).toBe(true);
    expect(readFileSync(blocks.valuesPath).equals(readFileSync(one.valuesPath))).toBe(true);
    const want = encodeTopK(params, store.gather(rows), 77, K);
    expect(loadCodes(join(tmp, "blocks")).indices).toEqual(want.indicesBK);
    expect(blocks.stats).toEqual(one.stats);
  });

  it.skipIf(!hasNumpy)("writes .npy files numpy loads", async () => {
    const dir = join(tmp, "numpy");
    await encodeStore({ params, k: K, store, rows: Int32Array.of(5, 3, 1), dir, quiet: true });
    const script = `
import json, sys, numpy as np
i = np.load(sys.argv[1] + "/codes.indices.npy"); v = np.load(sys.argv[1] + "/codes.values.npy")
print(json.dumps({"dtypes": [str(i.dtype), str(v.dtype)], "shapes": [list(i.shape), list(v.shape)], "i": i.tolist(), "v": v.tolist()}))`;
    const run = spawnSync(PYTHON, ["-c", script, dir], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { dtypes: string[]; shapes: number[][]; i: number[][]; v: number[][] };
    const codes = loadCodes(dir);
    expect(out.dtypes).toEqual(["int32", "float32"]);
    expect(out.shapes).toEqual([[3, K], [3, K]]);
    expect(out.i.flat()).toEqual(Array.from(codes.indices));
    expect(Float32Array.from(out.v.flat())).toEqual(codes.values);
  });

  it("refuses a store of another dimension and bad arguments, leaving no files", async () => {
    const small = writeSyntheticStore(join(tmp, "store-d8"), { dim: 8, rows: 20 });
    try {
      await expect(encodeStore({ params, k: K, store: small, dir: join(tmp, "bad"), quiet: true })).rejects.toThrow(/takes d = 16 inputs but the store .* has d = 8/);
    } finally {
      small.close();
    }
    await expect(encodeStore({ params, k: 0, store, dir: join(tmp, "bad"), quiet: true })).rejects.toThrow(/k must be an integer in \[1, n = 40\]/);
    await expect(encodeStore({ params, k: K, store, rows: Int32Array.of(1, 300), dir: join(tmp, "bad"), quiet: true })).rejects.toThrow(
      /row 300 \(position 1\) is out of bounds/,
    );
    expect(existsSync(join(tmp, "bad")) ? readdirSync(join(tmp, "bad")) : []).toEqual([]);
  });
});

describe("codesProblem (the two codes files are complete-or-redo)", () => {
  it("accepts a finished encoding and names what is wrong with a broken one", async () => {
    const dir = join(tmp, "pair");
    const rows = Int32Array.of(0, 1, 2, 3, 4, 5);
    await encodeStore({ params, k: K, store, rows, dir, quiet: true });
    const want = { count: 6, k: K };
    expect(codesProblem(dir, want)).toBeUndefined();
    expect(codesProblem(dir, { count: 7, k: K })).toMatch(/codes.json says 6 × 5, expected 7 × 5/);
    const saved = join(tmp, "pair-values.npy");
    copyFileSync(join(dir, "codes.values.npy"), saved);
    // the crash of the issue: indices committed, values not
    rmSync(join(dir, "codes.values.npy"));
    expect(codesProblem(dir, want)).toBe("codes.values.npy is missing");
    const err = (() => {
      try {
        loadCodes(dir);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SaerchError);
    expect((err as Error).message).toContain(`${join(dir, "codes.values.npy")} is missing: the SAE's codes are incomplete`);
    expect((err as SaerchError).fix).toMatch(/rerun the SAE stage/);
    // a rewrite cut short before the marker: both files there, no marker
    copyFileSync(saved, join(dir, "codes.values.npy"));
    rmSync(join(dir, CODES_MARKER_FILE));
    expect(codesProblem(dir, want)).toMatch(/codes.json is missing \(the encoding did not finish\)/);
    await encodeStore({ params, k: K, store, rows, dir, quiet: true });
    truncateSync(join(dir, "codes.values.npy"), readNpyHeader(join(dir, "codes.values.npy")).headerBytes + 8);
    expect(codesProblem(dir, want)).toMatch(/codes.values.npy has \d+ bytes, not the \d+ its shape needs/);
  });

  it("a rewrite that dies part way leaves no marker vouching for the old pair", async () => {
    const dir = join(tmp, "pair-rewrite");
    const rows = Int32Array.of(1, 2, 3, 4);
    await encodeStore({ params, k: K, store, rows, dir, quiet: true });
    let reads = 0;
    const failing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "gather") {
          return (r: Int32Array) => {
            if (++reads > 1) throw new Error("disk gone");
            return target.gather(r);
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    await expect(encodeStore({ params, k: K, store: failing, rows, dir, batch: 2, quiet: true })).rejects.toThrow("disk gone");
    expect(codesProblem(dir, { count: 4, k: K })).toMatch(/codes.json is missing/);
    await encodeStore({ params, k: K, store, rows, dir, quiet: true });
    expect(codesProblem(dir, { count: 4, k: K })).toBeUndefined();
  });
});

describe("featureStats", () => {
  it("density, mean and max activation when active, and exact zeros on a hand-set case", async () => {
    // 4 documents, k = 2, n = 5 features:
    //   doc0: f0 = 1.0, f2 = 0.5     doc1: f0 = 3.0, f1 = 0 (in the top-k but not active)
    //   doc2: f2 = 2.0, f0 = 0.25    doc3: f3 = 0,   f1 = 0
    const stats = featureStats(
      {
        indices: Int32Array.of(0, 2, 0, 1, 2, 0, 3, 1),
        values: Float32Array.of(1, 0.5, 3, 0, 2, 0.25, 0, 0),
        k: 2,
      },
      5,
    );
    expect(stats.count).toBe(4);
    expect(Array.from(stats.countF)).toEqual([3, 2, 2, 1, 0]);
    // density = documents whose top-k holds the feature / N
    expect(Array.from(stats.densityF)).toEqual([0.75, 0.5, 0.5, 0.25, 0]);
    // f0: (1 + 3 + 0.25) / 3; f1, f3 never > 0 → 0; f2: (0.5 + 2) / 2
    expect(stats.meanActivationF[0]).toBeCloseTo(4.25 / 3, 12);
    expect(Array.from(stats.meanActivationF.slice(1))).toEqual([0, 1.25, 0, 0]);
    expect(Array.from(stats.maxActivationF)).toEqual([3, 0, 2, 0, 0]);
    expect(stats.neverActive).toBe(1);
    expect(stats.zeroCount).toBe(3);
    expect(stats.zeroFraction).toBe(3 / 8);
  });

  it("rejects indices outside [0, n)", async () => {
    expect(() => featureStats({ indices: Int32Array.of(0, 5), values: Float32Array.of(1, 1), k: 2 }, 5)).toThrow(/latent index 5 at entry 1/);
  });
});

describe("reconstructionReport", () => {
  it("equals model.ts's NMSE with all rows as one batch, and the mean cosine(x, x̂)", async () => {
    const rows = Int32Array.from({ length: 150 }, (_, i) => 2 * i);
    const report = await reconstructionReport(params, store, rows, K, 16);
    const xBD = store.gather(rows);
    const xHatBD = reconstruct(params, xBD, 150, K);
    expect(report.count).toBe(150);
    expect(report.nmse).toBeCloseTo(nmse(xBD, xHatBD, 150, D), 6);
    let cos = 0;
    for (let r = 0; r < 150; r++) cos += cosine(xBD.subarray(r * D, (r + 1) * D), xHatBD.subarray(r * D, (r + 1) * D));
    expect(report.meanCosine).toBeCloseTo(cos / 150, 6);
    // the whole store, default rows
    expect((await reconstructionReport(params, store, undefined, K)).count).toBe(300);
    await expect(reconstructionReport(params, store, Int32Array.of(3), K)).rejects.toThrow(/at least 2 rows/);
  });
});
