import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { pcaFit } from "../../src/core/pca.js";
import { Rng } from "../../src/core/rng.js";
import { normalizeRowsInPlace } from "../../src/core/vector.js";
import { adoptNpy } from "../../src/embed/adopt-npy.js";
import { DOMAINS_FILE } from "../../src/embed/stage.js";
import { EmbeddingStore } from "../../src/embed/store-reader.js";
import { writeNpy } from "../../src/io/npy.js";
import { readRunLock } from "../../src/io/run-lock.js";
import { CODES_INDICES_FILE, CODES_MARKER_FILE, CODES_VALUES_FILE } from "../../src/sae/encode.js";
import { domainRows, runSaeStage } from "../../src/sae/stage.js";

describe("domainRows", () => {
  it("takes a domain's rows plus the cross-listed ones", () => {
    expect(Array.from(domainRows(["a", "b", "both", "a", "other"], "a"))).toEqual([0, 2, 3]);
    expect(Array.from(domainRows(["a", "b", "both"], "b"))).toEqual([1, 2]);
  });
});

/** Unit-norm rows `[N, D]`, each a positive mix of `active` of `atoms` random unit directions (a planted sparse dictionary). */
function plantedSparseRows(n: number, d: number, atoms: number, active: number, rng: Rng): Float32Array {
  const atomsAD = new Float32Array(atoms * d);
  rng.fillNormalInPlace(atomsAD);
  normalizeRowsInPlace(atomsAD, atoms, d);
  const xND = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    for (const a of rng.sample(atoms, active)) {
      const c = 0.5 + rng.float();
      for (let i = 0; i < d; i++) xND[r * d + i]! += c * atomsAD[a * d + i]!;
    }
  }
  normalizeRowsInPlace(xND, n, d);
  return xND;
}

describe("runSaeStage", () => {
  const d = 16;
  const rows = 200;
  /** Atoms of the planted dictionary; every row mixes 2 of them. */
  const ATOMS = 24;
  let embND: Float32Array;
  let dir: string;
  let store: EmbeddingStore;
  const saved = process.env.SAERCH_DATA;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "saerch-sae-stage-"));
    process.env.SAERCH_DATA = join(dir, "data");
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    embND = plantedSparseRows(rows, d, ATOMS, 2, new Rng(3));
    writeNpy(join(dir, "emb.npy"), embND, [rows, d]);
    const ids = Array.from({ length: rows }, (_, i) => `doc-${i}`);
    writeFileSync(join(dir, "ids.json"), JSON.stringify(ids));
    const storeDir = join(dir, "store");
    adoptNpy({ embeddingsPath: join(dir, "emb.npy"), idsPath: join(dir, "ids.json"), dir: storeDir, model: "synthetic" });
    writeFileSync(join(storeDir, DOMAINS_FILE), JSON.stringify(ids.map((_, i) => (i % 10 === 0 ? "both" : i % 2 ? "x" : "y"))));
    store = EmbeddingStore.open(storeDir);
  });
  afterAll(() => {
    store.close();
    vi.restoreAllMocks();
    if (saved === undefined) delete process.env.SAERCH_DATA;
    else process.env.SAERCH_DATA = saved;
  });

  /** lr 1e-2 (the paper's is 1e-4) so that 30 steps learn the planted dictionary. */
  const sae = { n: 48, k: 4, steps: 30, batch: 32, checkpointEvery: 10, logEvery: 5, lr: 1e-2 };

  it("trains, encodes and measures one SAE per domain", async () => {
    const runs = await runSaeStage(store, ["x", "y"], sae);
    expect(runs.map((r) => r.domain)).toEqual(["x", "y"]);
    const x = runs[0]!;
    expect(x.rows.length).toBe(100 + 20); // the 100 odd rows + the 20 cross-listed multiples of 10
    expect(x.config).toMatchObject({ d, n: 48, k: 4, steps: 30, kAux: 8 });
    expect(x.metrics.map((m) => m.step)).toEqual([5, 10, 15, 20, 25, 30]);
    expect(x.features.count).toBe(120);
    expect(x.features.densityF).toHaveLength(48);
    // The bound measured from the data: the NMSE of the best 4-dimensional linear reconstruction (PCA with
    // k = 4 components) of the same rows. Rows are 2-sparse in a 24-atom dictionary, so a k = 4 sparse code
    // over 48 latents must reconstruct them clearly better than any 4-d subspace (measured: 0.20 vs 0.42).
    const xRowsND = new Float32Array(x.rows.length * d);
    x.rows.forEach((r, i) => xRowsND.set(embND.subarray(r * d, (r + 1) * d), i * d));
    const pca = pcaFit(xRowsND, x.rows.length, d, { components: 4, iterations: 200 });
    const pcaNmse = 1 - pca.varianceC.reduce((a, v) => a + v, 0) / pca.totalVariance;
    expect(x.reconstruction.nmse).toBeGreaterThan(0);
    expect(x.reconstruction.nmse).toBeLessThan(0.75 * pcaNmse);
    for (const f of ["sae.safetensors", "codes.indices.npy", "codes.values.npy", "metrics.jsonl", "config.json"]) {
      expect(existsSync(join(x.dir, f))).toBe(true);
    }
    expect(x.resumed).toBe(false);
  });

  it("a rerun reopens the finished runs with identical weights", async () => {
    const first = await runSaeStage(store, ["x"], sae);
    const again = await runSaeStage(store, ["x"], sae);
    expect(again[0]!.resumed).toBe(true);
    expect(again[0]!.params.wDecFD).toEqual(first[0]!.params.wDecFD);
    expect(again[0]!.features.densityF).toEqual(first[0]!.features.densityF);
  });

  it("a crash between the two codes files (indices written, values not) is re-encoded on the rerun", async () => {
    const first = await runSaeStage(store, ["y"], sae);
    const dir = first[0]!.dir;
    const indices = readFileSync(join(dir, CODES_INDICES_FILE));
    rmSync(join(dir, CODES_VALUES_FILE));
    rmSync(join(dir, CODES_MARKER_FILE));
    const again = await runSaeStage(store, ["y"], sae);
    expect(again[0]!.resumed).toBe(true);
    expect(again[0]!.features).toEqual(first[0]!.features);
    expect(readFileSync(join(dir, CODES_INDICES_FILE)).equals(indices)).toBe(true);
    expect(existsSync(join(dir, CODES_VALUES_FILE))).toBe(true);
    // values there but no marker (a rewrite cut short): encoded again too
    rmSync(join(dir, CODES_MARKER_FILE));
    await runSaeStage(store, ["y"], sae);
    expect(existsSync(join(dir, CODES_MARKER_FILE))).toBe(true);
    expect(readRunLock(dir)).toBeUndefined();
  });

  it("names the domains there are when one is unknown", async () => {
    await expect(runSaeStage(store, ["z"], sae)).rejects.toThrow(/no rows of domain "z"[\s\S]*use one of: both, x, y/);
  });
});
