/**
 * Tests for src/embed/adopt-npy.ts: adopting precomputed vectors as a store (tiny generated fixtures:
 * JSON and newline id lists, float16 sources, texts → hashes → cache hits; validation errors naming the
 * bad row; the dimension checked against the embedder id; a user's bad file named with a fix for a user
 * file; a store in use by another process refused) and the real ../shared/embeddings/use-lite-512
 * (25,662 × 512, unit norm).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { float16ToFloat32, float32ToFloat16, readNpyRows, writeNpy } from "../../src/io/npy.js";
import { sharedDir, sharedPath } from "../../src/io/paths.js";
import { RUN_LOCK_FILE, RUN_LOCK_FORMAT, RunInUseError } from "../../src/io/run-lock.js";
import { adoptNpy, readIdList } from "../../src/embed/adopt-npy.js";
import { textHash } from "../../src/embed/manifest.js";
import { embedToStore } from "../../src/embed/store.js";
import { EmbeddingStore, storeStats } from "../../src/embed/store-reader.js";
import { FakeEmbedder, fakeDocs, fakeMatrix } from "../fixtures/embed/fake-embedder.js";

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "saerch-adopt-"));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const N = 7;
const D = 4;
const docs = fakeDocs(N);
const ids = docs.map((d) => d.id);

/** Write `[N, D]` vectors and ids (JSON or one per line) as a source pair; returns their paths. */
function source(embND: Float32Array | Uint16Array, idList: readonly string[], asText = false, n = N): { embeddingsPath: string; idsPath: string } {
  const embeddingsPath = join(tmp, "src.npy");
  const idsPath = join(tmp, asText ? "ids.txt" : "ids.json");
  writeNpy(embeddingsPath, embND, [n, embND.length / n]);
  writeFileSync(idsPath, asText ? `${idList.join("\n")}\n\n` : JSON.stringify(idList));
  return { embeddingsPath, idsPath };
}

describe("adoptNpy: tiny fixtures", () => {
  it("adopts vectors + a JSON id list into a normal store, without text hashes", () => {
    const embND = fakeMatrix(docs, D);
    const dir = join(tmp, "store");
    const res = adoptNpy({ ...source(embND, ids), dir, model: "fake-rng", shardSize: 3 });
    expect(res).toMatchObject({ count: N, dim: D, shards: 3 });
    expect(res.normMin).toBeCloseTo(1, 6);
    const store = EmbeddingStore.open(dir);
    expect(store.ids).toEqual(ids);
    expect(store.readAll()).toEqual(embND);
    expect(store.textHashes.every((h) => h === null)).toBe(true);
    expect(store.manifest).toMatchObject({
      provider: "npy",
      model: "fake-rng",
      embedderId: "npy:fake-rng:4",
      normalization: "unit",
      textHash: null,
      complete: true,
    });
    expect(store.manifest.notes[0]).toMatch(/texts were not given: text hashes are null/);
  });

  it("reads newline id lists; texts give hashes that serve as a cache for embedToStore", async () => {
    const embND = fakeMatrix(docs, D);
    const dir = join(tmp, "store");
    const texts = new Map(docs.map((d) => [d.id, d.text]));
    adoptNpy({ ...source(embND, ids, true), dir, model: "fake-rng", embedderId: "fake:rng:4", provider: "fake", texts });
    const store = EmbeddingStore.open(dir);
    expect(store.textHashes).toEqual(docs.map((d) => textHash(d.text)));
    const embedder = new FakeEmbedder({ dim: D });
    const res = await embedToStore({ dir: join(tmp, "re"), docs: [...docs, ...fakeDocs(1, N)], embedder, cacheFrom: [dir] });
    expect(embedder.seen).toEqual([fakeDocs(1, N)[0]!.text]);
    expect(res.cached).toBe(N);
  });

  it("adopts a float16 source and can store float16", () => {
    const half = float32ToFloat16(fakeMatrix(docs, D));
    const dir = join(tmp, "h");
    adoptNpy({ ...source(half, ids), dir, model: "m", dtype: "float16" });
    const store = EmbeddingStore.open(dir);
    expect(store.dtype).toBe("float16");
    expect(store.readAll()).toEqual(float16ToFloat32(half));
    expect(store.manifest.normalization).toBe("unit");
  });

  it("records normalization 'none' for vectors that are not unit-norm", () => {
    const embND = fakeMatrix(docs, D).map((v) => v * 2);
    const res = adoptNpy({ ...source(embND, ids), dir: join(tmp, "n"), model: "m" });
    expect(res.manifest.normalization).toBe("none");
    expect(res.normMax).toBeCloseTo(2, 5);
  });

  it("rejects ids vs rows mismatches, duplicate ids, bad id files and bad texts", () => {
    const embND = fakeMatrix(docs, D);
    const dir = join(tmp, "bad");
    expect(() => adoptNpy({ ...source(embND, ids.slice(1)), dir, model: "m" })).toThrow(/lists 6 ids but .* has 7 rows/);
    expect(() => adoptNpy({ ...source(embND, [...ids.slice(1), "doc-3"]), dir, model: "m" })).toThrow(/occur more than once: "doc-3"/);
    expect(() => adoptNpy({ ...source(embND, ids), dir, model: "m", texts: ["a"] })).toThrow(/1 texts for 7 ids/);
    expect(() => adoptNpy({ ...source(embND, ids), dir, model: "m", texts: new Map([["doc-0", "a"]]) })).toThrow(/6 id\(s\) have no text/);
    const p = join(tmp, "ids-bad.json");
    writeFileSync(p, "[1, 2]");
    expect(() => readIdList(p)).toThrow(/entry 0 is 1, not a non-empty string/);
    writeFileSync(p, "a\n\nb\n");
    expect(() => readIdList(p)).toThrow(/line 2 is blank/);
    expect(existsSync(dir)).toBe(false);
  });

  it("rejects NaN, Inf and all-zero rows naming the id, before writing anything", () => {
    for (const [value, pattern] of [
      [NaN, /non-finite value \(NaN\) in the vector of document "doc-5"/],
      [-Infinity, /non-finite value \(-Infinity\) in the vector of document "doc-5"/],
    ] as const) {
      const embND = fakeMatrix(docs, D);
      embND[5 * D + 2] = value;
      expect(() => adoptNpy({ ...source(embND, ids), dir: join(tmp, "nan"), model: "m", shardSize: 2 })).toThrow(pattern);
      expect(existsSync(join(tmp, "nan"))).toBe(false);
    }
    const zeros = fakeMatrix(docs, D).fill(0, 6 * D, 7 * D);
    expect(() => adoptNpy({ ...source(zeros, ids), dir: join(tmp, "z"), model: "m" })).toThrow(/all-zero vector for document "doc-6"/);
  });

  it("rejects a source that is not a 2-D float array", () => {
    const embeddingsPath = join(tmp, "one.npy");
    writeNpy(embeddingsPath, new Float32Array(3), [3]);
    const idsPath = join(tmp, "ids.json");
    writeFileSync(idsPath, '["a","b","c"]');
    expect(() => adoptNpy({ embeddingsPath, idsPath, dir: join(tmp, "x"), model: "m" })).toThrow(/expected a 2-D \[rows, D\] array/);
    writeNpy(embeddingsPath, new Int32Array(3), [3, 1]);
    expect(() => adoptNpy({ embeddingsPath, idsPath, dir: join(tmp, "x"), model: "m" })).toThrow(/expected float32 or float16 vectors, got <i4/);
    expect(() => adoptNpy({ embeddingsPath: join(tmp, "none.npy"), idsPath, dir: join(tmp, "x"), model: "m" })).toThrow(SaerchError);
  });

  it("refuses vectors whose dimension is not the embedder id's (a 384-d file as use-lite:512), before writing anything", () => {
    const embND = fakeMatrix(docs, 384);
    const dir = join(tmp, "wrong-dim");
    const err = (() => {
      try {
        adoptNpy({ ...source(embND, ids), dir, provider: "use-lite", model: "universal-sentence-encoder-lite", embedderId: "use-lite:512" });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SaerchError);
    expect((err as Error).message).toContain(`${join(tmp, "src.npy")} holds 384-d vectors, but the embedder id "use-lite:512" names 512-d ones`);
    expect((err as SaerchError).fix).toContain('"npy:<model>:384"');
    expect(existsSync(dir)).toBe(false);
    expect(() => adoptNpy({ ...source(embND, ids), dir, model: "m", embedderId: "openai:text-embedding-3-small:1536" })).toThrow(/names 1536-d ones/);
    // the right dimension, and ids of no known provider, are fine
    expect(adoptNpy({ ...source(fakeMatrix(docs, 512), ids), dir, model: "m", embedderId: "use-lite:512" }).dim).toBe(512);
    expect(adoptNpy({ ...source(embND, ids), dir: join(tmp, "other"), model: "m", embedderId: "my-model:v2" }).dim).toBe(384);
  });

  it("a user's bad .npy is named with what is wrong and a fix for a user file, never 'rebuild the store'", () => {
    const idsPath = join(tmp, "ids.json");
    writeFileSync(idsPath, JSON.stringify(ids));
    const embeddingsPath = join(tmp, "mine.npy");
    const attempt = (): SaerchError => {
      try {
        adoptNpy({ embeddingsPath, idsPath, dir: join(tmp, "s"), model: "m" });
      } catch (e) {
        return e as SaerchError;
      }
      throw new Error("adoptNpy accepted a bad file");
    };
    const cases: Array<[() => void, RegExp, RegExp]> = [
      [() => writeFileSync(embeddingsPath, "PK\x03\x04zip bytes"), /not a \.npy file \(bad magic.*zip archive/, /np\.save/],
      [() => writeNpy(embeddingsPath, new Float32Array(N * 2), [N, 2, 1]), /expected a 2-D \[rows, D\] array, got shape \(7, 2, 1\)/, /reshape\(N, D\)/],
      [() => writeNpy(embeddingsPath, new Int32Array(N * 2), [N, 2]), /expected float32 or float16 vectors, got <i4/, /astype\(np\.float32\)/],
      [
        () => {
          writeNpy(embeddingsPath, fakeMatrix(docs, D), [N, D]);
          const bytes = readFileSync(embeddingsPath);
          writeFileSync(embeddingsPath, bytes.subarray(0, bytes.length - 4));
        },
        /truncated \.npy data: shape \(7, 4\) float32 needs \d+ bytes, file has \d+/,
        /copy or save it again/,
      ],
    ];
    for (const [write, what, fix] of cases) {
      write();
      const err = attempt();
      expect(err.message).toContain(embeddingsPath);
      expect(err.message).toMatch(what);
      expect(err.message).not.toMatch(/shard/);
      expect(err.fix).toMatch(fix);
      expect(err.fix).not.toMatch(/rebuild/);
    }
  });

  it("refuses a store directory in use by another process", async () => {
    const dir = join(tmp, "busy");
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      mkdirSync(dir);
      writeFileSync(
        join(dir, RUN_LOCK_FILE),
        JSON.stringify({ format: RUN_LOCK_FORMAT, pid: holder.pid, hostname: hostname(), startedAt: new Date().toISOString(), what: "embedding", token: "t", bootId: null, procStart: null }),
      );
      expect(() => adoptNpy({ ...source(fakeMatrix(docs, D), ids), dir, model: "m" })).toThrow(new RegExp(`in use by process ${holder.pid} on .*: embedding`));
      await expect(embedToStore({ dir, docs, embedder: new FakeEmbedder({ dim: D }) })).rejects.toBeInstanceOf(RunInUseError);
      expect(readdirSync(dir)).toEqual([RUN_LOCK_FILE]);
    } finally {
      holder.kill("SIGKILL");
    }
  });
});

const haveShared = existsSync(join(sharedDir(), "embeddings", "use-lite-512", "embeddings.npy"));

describe("adoptNpy: real use-lite-512", () => {
  it.skipIf(!haveShared)("adopts 25,662 × 512 unit-norm vectors", () => {
    const base = sharedPath("embeddings", "use-lite-512");
    const embeddingsPath = join(base, "embeddings.npy");
    const idsPath = join(base, "ids.json");
    const dir = join(tmp, "use-lite");
    const t0 = performance.now();
    const res = adoptNpy({ embeddingsPath, idsPath, dir, provider: "use-lite", model: "universal-sentence-encoder-lite", embedderId: "use-lite:512" });
    const adoptMs = performance.now() - t0;
    expect(res).toMatchObject({ count: 25662, dim: 512, shards: 7 });
    const store = EmbeddingStore.open(dir);
    expect(store.count).toBe(25662);
    expect(store.dim).toBe(512);
    expect(store.manifest.normalization).toBe("unit");
    expect(store.manifest.source).toEqual({ embeddings: "../shared/embeddings/use-lite-512/embeddings.npy", ids: "../shared/embeddings/use-lite-512/ids.json" });
    const allIds = JSON.parse(readFileSync(idsPath, "utf8")) as string[];
    expect(store.ids).toEqual(allIds);
    for (const r of [0, 4095, 4096, 12345, 25661]) {
      expect(store.rows(r, r + 1)).toEqual(readNpyRows(embeddingsPath, r, r + 1).data);
      expect(store.getById(allIds[r]!)).toEqual(readNpyRows(embeddingsPath, r, r + 1).data);
    }
    const t1 = performance.now();
    const stats = storeStats(store);
    const statsMs = performance.now() - t1;
    expect(Math.abs(stats.normMin - 1)).toBeLessThan(1e-5);
    expect(Math.abs(stats.normMax - 1)).toBeLessThan(1e-5);
    const t2 = performance.now();
    const b = store.batchAt({ batchSize: 1024, seed: 0 }, 0, 0);
    const batchMs = performance.now() - t2;
    expect(b.embBD.length).toBe(1024 * 512);
    console.log(`use-lite-512: adopt ${adoptMs.toFixed(0)} ms, storeStats ${statsMs.toFixed(0)} ms, one 1024-row shuffled batch ${batchMs.toFixed(1)} ms`);
    store.close();
  });
});
