/**
 * Tests for src/embed/store-reader.ts: row ranges across shard boundaries, id lookups, gathers, seeded
 * shuffled batches (coverage, determinism, resume), float16 shards, norm statistics, and clear errors
 * for corrupt manifests, missing or misshapen shards and mismatched id lists.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FormatError, SaerchError } from "../../src/core/errors.js";
import { float16ToFloat32, float32ToFloat16, writeNpy } from "../../src/io/npy.js";
import { embedToStore } from "../../src/embed/store.js";
import { EmbeddingStore, readManifest, storeStats } from "../../src/embed/store-reader.js";
import { FakeEmbedder, fakeDocs, fakeMatrix } from "../fixtures/embed/fake-embedder.js";

const N = 23; // not a multiple of the shard size
const SHARD = 5;
const D = 6;
const docs = fakeDocs(N);
const wantND = fakeMatrix(docs, D);

let tmp: string;
let dir: string;
let store: EmbeddingStore;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "saerch-reader-"));
  dir = join(tmp, "store");
  await embedToStore({ dir, docs, embedder: new FakeEmbedder({ dim: D }), shardSize: SHARD });
  store = EmbeddingStore.open(dir);
});
afterAll(() => {
  store.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Rows `[start, end)` of the expected matrix. */
const want = (start: number, end: number): Float32Array => wantND.slice(start * D, end * D);

/** A fresh copy of the test store in a new directory, for corrupting. */
async function freshStore(name: string): Promise<string> {
  const d = join(tmp, name);
  await embedToStore({ dir: d, docs, embedder: new FakeEmbedder({ dim: D }), shardSize: SHARD });
  return d;
}

describe("EmbeddingStore: rows and lookups", () => {
  it("exposes count, dim, ids and five shards (5, 5, 5, 5, 3)", () => {
    expect(store.count).toBe(N);
    expect(store.dim).toBe(D);
    expect(store.ids).toEqual(docs.map((d) => d.id));
    expect(store.manifest.shards.map((s) => s.rows)).toEqual([5, 5, 5, 5, 3]);
  });

  it("rows(start, end) reads ranges inside a shard, across boundaries and to the end", () => {
    for (const [s, e] of [
      [0, 1],
      [2, 5],
      [4, 6],
      [3, 17],
      [19, 23],
      [0, 23],
      [7, 7],
    ] as const) {
      const got = store.rows(s, e);
      expect(got.length).toBe((e - s) * D);
      expect(got).toEqual(want(s, e));
    }
    expect(() => store.rows(20, 24)).toThrow(/out of bounds for a store of 23 rows/);
    expect(() => store.rows(5, 4)).toThrow(SaerchError);
  });

  it("getById and indexOf find every document; unknown ids give undefined / -1", () => {
    for (const i of [0, 4, 5, 22]) {
      expect(store.indexOf(`doc-${i}`)).toBe(i);
      expect(store.getById(`doc-${i}`)).toEqual(want(i, i + 1));
    }
    expect(store.indexOf("nope")).toBe(-1);
    expect(store.getById("nope")).toBeUndefined();
  });

  it("gather returns rows in the requested order, repeats included (naive comparison)", () => {
    const idx = [22, 0, 5, 4, 4, 13, 6, 7, 8, 21, 0];
    const got = store.gather(idx);
    idx.forEach((r, p) => expect(got.subarray(p * D, (p + 1) * D)).toEqual(want(r, r + 1)));
    expect(() => store.gather([23])).toThrow(/out of bounds/);
  });

  it("readAll returns the whole matrix and refuses beyond its size limit", () => {
    expect(store.readAll()).toEqual(wantND);
    expect(() => store.readAll(100)).toThrow(/readAll would allocate/);
  });
});

describe("EmbeddingStore: shuffled batches", () => {
  const collect = async (opts: Parameters<EmbeddingStore["batches"]>[0]): Promise<Array<{ epoch: number; batch: number; indices: number[] }>> => {
    const out: Array<{ epoch: number; batch: number; indices: number[] }> = [];
    for await (const b of store.batches(opts)) {
      // contents match the indices
      expect(b.embBD.length).toBe(b.indices.length * D);
      b.indices.forEach((r, p) => expect(b.embBD.subarray(p * D, (p + 1) * D)).toEqual(want(r, r + 1)));
      out.push({ epoch: b.epoch, batch: b.batch, indices: Array.from(b.indices) });
    }
    return out;
  };

  it("covers every row exactly once per epoch, the last batch smaller", async () => {
    const got = await collect({ batchSize: 4, seed: 7, epochs: 3 });
    expect(got.length).toBe(3 * 6);
    for (let e = 0; e < 3; e++) {
      const batches = got.filter((b) => b.epoch === e);
      expect(batches.map((b) => b.indices.length)).toEqual([4, 4, 4, 4, 4, 3]);
      expect(batches.flatMap((b) => b.indices).sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
    }
  });

  it("is deterministic per seed and differs across epochs and seeds", async () => {
    const a = await collect({ batchSize: 8, seed: 1, epochs: 2 });
    const b = await collect({ batchSize: 8, seed: 1, epochs: 2 });
    const c = await collect({ batchSize: 8, seed: 2, epochs: 1 });
    expect(b).toEqual(a);
    const order = (xs: typeof a, e: number): number[] => xs.filter((x) => x.epoch === e).flatMap((x) => x.indices);
    expect(order(a, 1)).not.toEqual(order(a, 0));
    expect(order(c, 0)).not.toEqual(order(a, 0));
    expect(Array.from(store.epochPermutation(1, 1))).toEqual(order(a, 1));
  });

  it("batchAt and the start option reproduce the stream from any position", async () => {
    const all = await collect({ batchSize: 4, seed: "s", epochs: 2 });
    const resumed = await collect({ batchSize: 4, seed: "s", epochs: 2, start: { epoch: 1, batch: 2 } });
    expect(resumed).toEqual(all.slice(6 + 2));
    const b = store.batchAt({ batchSize: 4, seed: "s" }, 1, 3);
    expect({ epoch: b.epoch, batch: b.batch, indices: Array.from(b.indices) }).toEqual(all[6 + 3]);
    expect(() => store.batchAt({ batchSize: 4, seed: "s" }, 0, 6)).toThrow(/an epoch has 6 batches/);
  });

  it("dropLast drops the remainder; batch sizes are validated", async () => {
    const got = await collect({ batchSize: 4, seed: 3, dropLast: true });
    expect(got.map((b) => b.indices.length)).toEqual([4, 4, 4, 4, 4]);
    expect(store.batchesPerEpoch(4, true)).toBe(5);
    expect(store.batchesPerEpoch(4)).toBe(6);
    expect(() => store.batchesPerEpoch(0)).toThrow(/batchSize/);
  });

  it("a batch larger than the store is the whole store, shuffled", async () => {
    const got = await collect({ batchSize: 100, seed: 0 });
    expect(got.length).toBe(1);
    expect([...got[0]!.indices].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
  });
});

describe("EmbeddingStore: float16 shards and stats", () => {
  it("reads float16 shards as float32 (rows, gather, batches)", async () => {
    const d16 = join(tmp, "f16");
    await embedToStore({ dir: d16, docs, embedder: new FakeEmbedder({ dim: D }), shardSize: SHARD, dtype: "float16" });
    const s16 = EmbeddingStore.open(d16);
    const rounded = float16ToFloat32(float32ToFloat16(wantND));
    expect(s16.dtype).toBe("float16");
    expect(s16.rows(3, 12)).toEqual(rounded.slice(3 * D, 12 * D));
    expect(s16.gather([9, 2])).toEqual(new Float32Array([...rounded.slice(9 * D, 10 * D), ...rounded.slice(2 * D, 3 * D)]));
    const b = s16.batchAt({ batchSize: 5, seed: 0 }, 0, 0);
    expect(b.embBD).toEqual(store.gather(b.indices).map((v) => float16ToFloat32(float32ToFloat16(new Float32Array([v])))[0]!));
    s16.close();
  });

  it("storeStats gives exact norm min / mean / max on hand-set norms", async () => {
    const ds = join(tmp, "stats");
    // row i has norm i + 1 (fake vectors are unit-norm, scaled): min 1, max 7, mean 4
    const scaled = fakeDocs(7);
    const scale = (t: string): number => scaled.findIndex((d) => d.text === t) + 1;
    await embedToStore({ dir: ds, docs: scaled, embedder: new FakeEmbedder({ dim: D, scale }), shardSize: 3 });
    const s = EmbeddingStore.open(ds);
    expect(s.manifest.normalization).toBe("none");
    const st = storeStats(s, 2);
    expect(st.count).toBe(7);
    expect(st.normMin).toBeCloseTo(1, 5);
    expect(st.normMax).toBeCloseTo(7, 5);
    expect(st.normMean).toBeCloseTo(4, 5);
    Array.from(st.norms).forEach((n, i) => expect(n).toBeCloseTo(i + 1, 5));
    expect(storeStats(store).normMax).toBeCloseTo(1, 5);
  });
});

describe("EmbeddingStore.open: clear errors", () => {
  it("a missing store names the fix", () => {
    expect(() => EmbeddingStore.open(join(tmp, "none"))).toThrow(/no embedding store at .*manifest.json is missing/);
  });

  it("a corrupt manifest (bad JSON, wrong schema) is a FormatError naming manifest.json", async () => {
    const d = await freshStore("corrupt");
    writeFileSync(join(d, "manifest.json"), "{ not json");
    expect(() => EmbeddingStore.open(d)).toThrow(FormatError);
    expect(() => EmbeddingStore.open(d)).toThrow(/manifest\.json: not valid JSON/);
    writeFileSync(join(d, "manifest.json"), JSON.stringify({ format: "saerch-embedding-store", version: 1, dim: -3 }));
    expect(() => EmbeddingStore.open(d)).toThrow(/not an embedding-store manifest: .*dim/);
  });

  it("a manifest count that disagrees with the shards is rejected", async () => {
    const d = await freshStore("count");
    const m = readManifest(d);
    writeFileSync(join(d, "manifest.json"), JSON.stringify({ ...m, count: N + 1 }));
    expect(() => EmbeddingStore.open(d)).toThrow(/shards hold 23 rows but count is 24/);
  });

  it("a missing shard names the file", async () => {
    const d = await freshStore("missing");
    const f = readManifest(d).shards[2]!.file;
    rmSync(join(d, f));
    expect(() => EmbeddingStore.open(d)).toThrow(new RegExp(`embedding shard .*${f} is missing`));
  });

  it("a shard of the wrong shape or truncated is rejected", async () => {
    const d = await freshStore("shape");
    const [s0, s1] = readManifest(d).shards;
    writeNpy(join(d, s0!.file), new Float32Array(5 * (D + 1)), [5, D + 1]);
    expect(() => EmbeddingStore.open(d)).toThrow(/shard has shape \[5, 7\] float32; the manifest says \[5, 6\] float32/);
    writeNpy(join(d, s0!.file), new Float32Array(5 * D).fill(1), [5, D]);
    const bytes = readFileSync(join(d, s1!.file));
    writeFileSync(join(d, s1!.file), bytes.subarray(0, bytes.length - 4));
    expect(() => EmbeddingStore.open(d)).toThrow(/truncated shard/);
    // a shard that is not a .npy at all: npy.ts's detail, restated with the store's fix
    writeFileSync(join(d, s1!.file), "garbage");
    let err: unknown;
    try {
      EmbeddingStore.open(d);
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toContain(`${join(d, s1!.file)}: embedding-store shard: not a .npy file (bad magic`);
    expect((err as SaerchError).fix).toMatch(/rebuild the store/);
  });

  it("an id list that does not match its shard is rejected", async () => {
    const d = await freshStore("ids");
    const s = readManifest(d).shards[1]!;
    const idsPath = join(d, s.idsFile);
    const sid = JSON.parse(readFileSync(idsPath, "utf8")) as { ids: string[]; textHashes: Array<string | null> };
    writeFileSync(idsPath, JSON.stringify({ ...sid, ids: sid.ids.slice(1), textHashes: sid.textHashes.slice(1) }));
    expect(() => EmbeddingStore.open(d)).toThrow(/lists 4 ids but its shard .* has 5 rows/);
    writeFileSync(idsPath, JSON.stringify({ ...sid, ids: sid.ids.slice(1) }));
    expect(() => EmbeddingStore.open(d)).toThrow(/ids and textHashes differ in length/);
    writeFileSync(idsPath, JSON.stringify({ ...sid, ids: ["doc-0", ...sid.ids.slice(1)] }));
    expect(() => EmbeddingStore.open(d)).toThrow(/document id "doc-0" appears twice \(rows 0 and 5\)/);
    rmSync(idsPath);
    expect(() => EmbeddingStore.open(d)).toThrow(/shard id file .* is missing/);
  });
});
