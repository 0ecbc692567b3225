import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pcaFit, pcaProject } from "../../src/core/pca.js";
import { sampleDocs } from "../../src/corpus/select.js";
import { adoptNpy } from "../../src/embed/adopt-npy.js";
import { domainCosines, reproductionCheck, storeDomainCosines } from "../../src/embed/checks.js";
import { EmbeddingStore, storeStats } from "../../src/embed/store-reader.js";
import { SYNTHETIC_DOMAINS, syntheticLabels, writeSyntheticEmbeddingsNpy } from "../../src/embed/synthetic-npy.js";

describe("domainCosines", () => {
  // Domain a lives near e1, domain b near e2: within-pairs have cosine ≈ 1, between-pairs ≈ 0.
  const d = 2;
  const embND = new Float32Array([1, 0, 0.99, 0.14, 1, 0.05, 0, 1, 0.1, 1, 0, 0.9]);
  const labels = ["a", "a", "a", "b", "b", "other"];

  it("separates within- and between-domain pairs", () => {
    const { groups, means } = domainCosines(embND, d, labels, ["a", "b"], { pairs: 200, seed: 1 });
    expect(Object.keys(groups)).toEqual(["within a", "within b", "between a / b"]);
    expect(means["within a"]).toBeGreaterThan(0.98);
    expect(means["within b"]).toBeGreaterThan(0.98);
    expect(means["between a / b"]).toBeLessThan(0.2);
    expect(groups["within a"]).toHaveLength(200);
  });

  it("is deterministic for a seed", () => {
    const x = domainCosines(embND, d, labels, ["a", "b"], { pairs: 50, seed: 4 });
    const y = domainCosines(embND, d, labels, ["a", "b"], { pairs: 50, seed: 4 });
    expect(x.groups["between a / b"]).toEqual(y.groups["between a / b"]);
  });

  it("needs two documents per domain", () => {
    expect(() => domainCosines(embND, d, labels, ["a", "other"])).toThrow(/"other" has 1 document/);
  });
});

describe("reproductionCheck", () => {
  it("reports per-id cosines, their min and mean (hand-set)", () => {
    // a = (1, 0) vs (1, 0) → 1; b = (0, 1) vs (1, 1)/√2·√2 → cos 45° = √½.
    const rows: Record<string, Float32Array> = { a: new Float32Array([1, 0]), b: new Float32Array([0, 1]) };
    const r = reproductionCheck((id) => rows[id], ["a", "b"], new Float32Array([1, 0, 1, 1]));
    expect(r.cosines[0]).toBeCloseTo(1, 6);
    expect(r.cosines[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(r.min).toBeCloseTo(Math.SQRT1_2, 6);
    expect(r.mean).toBeCloseTo((1 + Math.SQRT1_2) / 2, 6);
  });

  it("names an id the store lacks", () => {
    expect(() => reproductionCheck(() => undefined, ["x"], new Float32Array([1, 0]))).toThrow(/"x" is not in the store/);
  });
});

// A 301 × 24 synthetic store in shards of 64 rows (an awkward last shard), adopted through the npy provider.
const SN = 301;
const SD = 24;
let tmp: string;
let storeDir: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "saerch-checks-"));
  const npy = join(tmp, "emb.npy");
  const ids = join(tmp, "ids.json");
  writeSyntheticEmbeddingsNpy(npy, ids, { rows: SN, dim: SD, atoms: 16, active: 3, seed: 5 }, 50);
  storeDir = join(tmp, "store");
  adoptNpy({ embeddingsPath: npy, idsPath: ids, dir: storeDir, model: "synthetic", shardSize: 64 });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("storeDomainCosines", () => {
  it("draws the same pairs as domainCosines on the whole matrix and returns identical cosines, for any chunk", () => {
    const store = EmbeddingStore.open(storeDir);
    const labels = syntheticLabels(SN);
    const want = domainCosines(store.readAll(), SD, labels, SYNTHETIC_DOMAINS, { pairs: 333, seed: 3 });
    for (const chunk of [1, 7, 1024]) {
      const got = storeDomainCosines(store, labels, SYNTHETIC_DOMAINS, { pairs: 333, seed: 3 }, chunk);
      expect(got.groups).toEqual(want.groups);
      expect(got.means).toEqual(want.means);
    }
    // the synthetic domains share a topic atom: within-domain pairs sit closer than between-domain ones
    expect(want.means["within astro-ph"]!).toBeGreaterThan(want.means["between astro-ph / cs.LG"]! + 0.1);
  });

  it("needs one label per store row", () => {
    const store = EmbeddingStore.open(storeDir);
    expect(() => storeDomainCosines(store, syntheticLabels(SN - 1), SYNTHETIC_DOMAINS)).toThrow(/300 labels for a store of 301 rows/);
  });
});

describe("notebook 01's statistics under a tiny read limit", () => {
  // Notebook 01 used to call store.readAll() for the domain cosines, which the 1 GiB guard refuses at the
  // paper's 270k × 1536 (1.66 GB). Here the guard is set to 64 bytes: the old call fires, the calls the
  // notebook makes now (storeStats, storeDomainCosines, the PCA map on a gathered sample) do not, and they
  // give what the in-memory versions give.
  it("refuses readAll but runs storeStats, storeDomainCosines and the PCA map, equal to the in-memory results", () => {
    const limited = EmbeddingStore.open(storeDir, { readAllMaxBytes: 64 });
    expect(() => limited.readAll()).toThrow(/readAll would allocate 0 MiB \(limit 0 MiB\)/);
    const labels = syntheticLabels(SN);
    const full = EmbeddingStore.open(storeDir);
    const embND = full.readAll();

    const norms = storeStats(limited, 10);
    for (let i = 0; i < SN; i++) {
      let acc = 0;
      for (let p = 0; p < SD; p++) acc += embND[i * SD + p]! ** 2;
      expect(norms.norms[i]).toBeCloseTo(Math.sqrt(acc), 6);
    }

    const cos = storeDomainCosines(limited, labels, SYNTHETIC_DOMAINS, { pairs: 500, seed: 0 });
    expect(cos).toEqual(domainCosines(embND, SD, labels, SYNTHETIC_DOMAINS, { pairs: 500, seed: 0 }));

    const fitRows = sampleDocs(limited.ids.map((id) => ({ id, title: "", abstract: "", categories: [] })), 200, 2).map((d) => limited.indexOf(d.id));
    const pca = pcaFit(limited.gather(fitRows), fitRows.length, SD, { components: 2, seed: 0 });
    const inMemoryND = Float32Array.from(fitRows.flatMap((r) => Array.from(embND.subarray(r * SD, (r + 1) * SD))));
    const want = pcaFit(inMemoryND, fitRows.length, SD, { components: 2, seed: 0 });
    expect(pca.varianceC).toEqual(want.varianceC);
    expect(pcaProject(limited.gather(fitRows.slice(0, 50)), 50, pca)).toEqual(pcaProject(inMemoryND.subarray(0, 50 * SD), 50, want));
  });

  it("refuses a negative limit", () => {
    expect(() => EmbeddingStore.open(storeDir, { readAllMaxBytes: -1 })).toThrow(/readAllMaxBytes must be a non-negative/);
  });
});
