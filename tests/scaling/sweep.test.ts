import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { normalizeRowsInPlace } from "../../src/core/vector.js";
import { adoptNpy } from "../../src/embed/adopt-npy.js";
import { EmbeddingStore } from "../../src/embed/store-reader.js";
import { writeNpy } from "../../src/io/npy.js";
import { engineFlopsPerStep, resultsTable, runSweep, splitRows, sweepPreset } from "../../src/scaling/sweep.js";

describe("splitRows", () => {
  it("splits deterministically into disjoint, sorted train and held-out parts covering every row", () => {
    const rows = Int32Array.from({ length: 50 }, (_, i) => 3 * i);
    const a = splitRows(rows, 0.2, 7, "x");
    const b = splitRows(rows, 0.2, 7, "x");
    expect(a.heldOut).toHaveLength(10);
    expect(a.train).toHaveLength(40);
    expect(a).toEqual(b);
    expect([...a.train, ...a.heldOut].sort((p, q) => p - q)).toEqual(Array.from(rows));
    expect(Array.from(a.train)).toEqual([...a.train].sort((p, q) => p - q));
    expect(splitRows(rows, 0.2, 8, "x").heldOut).not.toEqual(a.heldOut);
  });
});

describe("engineFlopsPerStep", () => {
  it("adds the encoder product, the sparse terms and the per-parameter update (hand-computed)", () => {
    // d 2, n 3, k 1, kAux 2, B 4: 2·4·2·3 = 48; sparse = 2·4·3·2 = 48 → 5·48 = 240; params 2·3·2+3+2 = 17 → 204.
    expect(engineFlopsPerStep({ d: 2, n: 3, k: 1, kAux: 2, batch: 4 })).toBe(48 + 240 + 204);
  });
});

describe("runSweep", () => {
  const d = 12;
  let dir: string;
  let store: EmbeddingStore;
  let labels: string[];
  const saved = process.env.SAERCH_DATA;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "saerch-sweep-"));
    process.env.SAERCH_DATA = join(dir, "data");
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const rows = 160;
    const embND = new Float32Array(rows * d);
    new Rng(1).fillNormalInPlace(embND);
    normalizeRowsInPlace(embND, rows, d);
    writeNpy(join(dir, "emb.npy"), embND, [rows, d]);
    writeFileSync(join(dir, "ids.json"), JSON.stringify(Array.from({ length: rows }, (_, i) => `r${i}`)));
    adoptNpy({ embeddingsPath: join(dir, "emb.npy"), idsPath: join(dir, "ids.json"), dir: join(dir, "store"), model: "synthetic" });
    store = EmbeddingStore.open(join(dir, "store"));
    labels = Array.from({ length: rows }, (_, i) => (i % 2 ? "a" : "b"));
  });
  afterAll(() => {
    store.close();
    vi.restoreAllMocks();
    if (saved === undefined) delete process.env.SAERCH_DATA;
    else process.env.SAERCH_DATA = saved;
  });

  const config = {
    domains: ["a"],
    nMultiples: [2, 3],
    ks: [2, 4],
    heldOutFraction: 0.25,
    train: { steps: 12, batch: 16, checkpointEvery: 6, logEvery: 4 },
  };

  it("trains every cell and records NMSE, FLOPs and curves, saving a results table", async () => {
    const cells: number[] = [];
    const { records, dir: sweepDir } = await runSweep(store, labels, config, { onCell: (done) => cells.push(done) });
    expect(cells).toEqual([1, 2, 3, 4]);
    expect(records.map((r) => [r.n, r.k])).toEqual([
      [24, 2],
      [24, 4],
      [36, 2],
      [36, 4],
    ]);
    for (const r of records) {
      expect(r).toMatchObject({ domain: "a", d, trainRows: 60, heldOutRows: 20, steps: 12, examples: 12 * 16 });
      expect(r.flopsPaper).toBe(12 * 16 * 2 * d * (r.n + r.k));
      expect(r.nmseTrain).toBeGreaterThan(0);
      expect(Number.isFinite(r.nmseHeldOut)).toBe(true);
      expect(r.curve.step).toEqual([4, 8, 12]);
      expect(r.density).toHaveLength(r.n);
      expect(r.density.reduce((a, b) => a + b, 0)).toBeCloseTo(r.k, 2); // each document holds k features
    }
    const csv = readFileSync(join(sweepDir, "results.csv"), "utf8");
    expect(csv.split("\n")[0]).toBe(
      "domain,n,k,d,trainRows,heldOutRows,nmseTrain,nmseHeldOut,cosineHeldOut,deadFraction,steps,examples,flopsPaper,flopsEngine,seconds",
    );
    expect(existsSync(join(sweepDir, "results.json"))).toBe(true);
    expect(resultsTable(records).numRows()).toBe(4);
  });

  it("a rerun skips finished cells and gives the same results", async () => {
    const first = await runSweep(store, labels, config);
    const again = await runSweep(store, labels, config);
    expect(again.records.map((r) => r.nmseTrain)).toEqual(first.records.map((r) => r.nmseTrain));
    expect(again.records.map((r) => r.seconds)).toEqual(first.records.map((r) => r.seconds));
  });

  it("rejects an unknown domain and a bad grid", async () => {
    await expect(runSweep(store, labels, { ...config, domains: ["z"] })).rejects.toThrow(/no rows of domain "z"/);
    await expect(runSweep(store, labels, { ...config, ks: [] })).rejects.toThrow(/invalid sweep config/);
  });
});

describe("sweepPreset", () => {
  it("tiny is a 2 × 2 grid; default 3 × 3 over n = 2, 4, 8 · d", () => {
    expect(sweepPreset("tiny")).toMatchObject({ nMultiples: [1, 2], ks: [8, 16], train: { threads: 2 } });
    expect(sweepPreset("default")).toMatchObject({ nMultiples: [2, 4, 8], ks: [16, 32, 64] });
  });
});

describe("runSweep on data with known structure", () => {
  // Rows mix 2 of 48 unit atoms in d = 12 (a planted sparse dictionary, 4× overcomplete): an SAE of n = d
  // latents cannot hold the 48 directions, one of n = 4d can, so NMSE must fall as n grows at each k.
  const d = 12;
  const atoms = 48;
  const rows = 1600;
  let dir: string;
  let store: EmbeddingStore;
  const saved = process.env.SAERCH_DATA;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "saerch-sweep-planted-"));
    process.env.SAERCH_DATA = join(dir, "data");
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const rng = new Rng(5);
    const atomsAD = new Float32Array(atoms * d);
    rng.fillNormalInPlace(atomsAD);
    normalizeRowsInPlace(atomsAD, atoms, d);
    const embND = new Float32Array(rows * d);
    for (let r = 0; r < rows; r++) {
      for (const a of rng.sample(atoms, 2)) {
        const c = 0.5 + rng.float();
        for (let i = 0; i < d; i++) embND[r * d + i]! += c * atomsAD[a * d + i]!;
      }
    }
    normalizeRowsInPlace(embND, rows, d);
    writeNpy(join(dir, "emb.npy"), embND, [rows, d]);
    writeFileSync(join(dir, "ids.json"), JSON.stringify(Array.from({ length: rows }, (_, i) => `p${i}`)));
    adoptNpy({ embeddingsPath: join(dir, "emb.npy"), idsPath: join(dir, "ids.json"), dir: join(dir, "store"), model: "planted" });
    store = EmbeddingStore.open(join(dir, "store"));
  });
  afterAll(() => {
    store.close();
    vi.restoreAllMocks();
    if (saved === undefined) delete process.env.SAERCH_DATA;
    else process.env.SAERCH_DATA = saved;
  });

  it("held-out and training NMSE fall with n at every k", async () => {
    const labels = Array.from({ length: rows }, () => "p");
    const { records } = await runSweep(store, labels, {
      domains: ["p"],
      nMultiples: [1, 4],
      ks: [2, 3],
      heldOutFraction: 0.25,
      // lr 1e-2 (the paper's is 1e-4) so that a few hundred steps learn the dictionary.
      train: { steps: 600, batch: 64, checkpointEvery: 600, logEvery: 200, lr: 1e-2 },
    });
    for (const k of [2, 3]) {
      const [small, large] = [12, 48].map((n) => records.find((r) => r.n === n && r.k === k)!);
      // Measured: held-out 0.36 → 0.19 (k 2) and 0.25 → 0.13 (k 3); training 0.34 → 0.16 and 0.24 → 0.11.
      expect(large!.nmseHeldOut).toBeLessThan(0.75 * small!.nmseHeldOut);
      expect(large!.nmseTrain).toBeLessThan(0.75 * small!.nmseTrain);
    }
  });
});
