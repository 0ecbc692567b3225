/**
 * Tests for src/embed/store.ts: writing a store shard by shard, validation of embedder output, resuming
 * after kill -9 (a real child process running dist/), text-hash caching within and across stores, and
 * openEmbeddingRun.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { stableStringify } from "../../src/io/artefact.js";
import { readNpyHeader } from "../../src/io/npy.js";
import { repoPath } from "../../src/io/paths.js";
import { textHash } from "../../src/embed/manifest.js";
import {
  DEFAULT_SHARD_SIZE,
  embedToStore,
  type EmbedStoreProgress,
  findCompatibleStores,
  openEmbeddingRun,
} from "../../src/embed/store.js";
import { EmbeddingStore, readManifest } from "../../src/embed/store-reader.js";
import { FakeEmbedder, fakeDocs, fakeMatrix } from "../fixtures/embed/fake-embedder.js";

let tmp: string;
let savedData: string | undefined;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "saerch-store-"));
  savedData = process.env.SAERCH_DATA;
  process.env.SAERCH_DATA = join(tmp, "data");
});
afterEach(() => {
  if (savedData === undefined) delete process.env.SAERCH_DATA;
  else process.env.SAERCH_DATA = savedData;
  rmSync(tmp, { recursive: true, force: true });
});

/** Files of a store directory that a reader would consider, sorted. */
const listing = (dir: string): string[] => readdirSync(dir).sort();

describe("embedToStore: writing", () => {
  it("writes shards, id files and a manifest that round-trip through the reader", async () => {
    const docs = fakeDocs(10);
    const embedder = new FakeEmbedder({ dim: 8, maxBatch: 3 });
    const dir = join(tmp, "store");
    const res = await embedToStore({ dir, docs, embedder, shardSize: 4 });
    expect(res).toMatchObject({ count: 10, dim: 8, shards: 3, reusedShards: 0, embedded: 10, cached: 0 });
    // shard of 4 rows at maxBatch 3 → 2 calls; shards 4, 4, 2 → 2 + 2 + 1 calls
    expect(res.embedCalls).toBe(5);
    const m = readManifest(dir);
    expect(m).toMatchObject({
      provider: "fake",
      model: "fake-rng",
      embedderId: "fake:rng:8",
      dim: 8,
      count: 10,
      dtype: "float32",
      normalization: "unit",
      shardSize: 4,
      textHash: "sha256-utf8-hex16",
      complete: true,
    });
    expect(m.shards.map((s) => [s.index, s.start, s.rows])).toEqual([
      [0, 0, 4],
      [1, 4, 4],
      [2, 8, 2],
    ]);
    expect(readNpyHeader(join(dir, m.shards[2]!.file)).shape).toEqual([2, 8]);
    const ids = JSON.parse(readFileSync(join(dir, m.shards[0]!.idsFile), "utf8")) as { ids: string[]; textHashes: string[] };
    expect(ids.ids).toEqual(["doc-0", "doc-1", "doc-2", "doc-3"]);
    expect(ids.textHashes[1]).toBe(textHash(docs[1]!.text));
    const store = EmbeddingStore.open(dir);
    expect(store.ids).toEqual(docs.map((d) => d.id));
    expect(store.readAll()).toEqual(fakeMatrix(docs, 8));
    expect(listing(dir)).toEqual(["manifest.json", ...m.shards.flatMap((s) => [s.idsFile, s.file])].sort());
  });

  it("text hash is the first 16 hex digits of SHA-256 of the UTF-8 text", () => {
    // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    expect(textHash("abc")).toBe("ba7816bf8f01cfea");
    expect(textHash("é")).not.toBe(textHash("e"));
  });

  it("defaults to 4096-row float32 shards", async () => {
    expect(DEFAULT_SHARD_SIZE).toBe(4096);
    const dir = join(tmp, "d");
    await embedToStore({ dir, docs: fakeDocs(3), embedder: new FakeEmbedder() });
    expect(readManifest(dir)).toMatchObject({ shardSize: 4096, dtype: "float32" });
  });

  it("stores float16 on request; the reader returns float32 within half precision", async () => {
    const docs = fakeDocs(5);
    const dir = join(tmp, "f16");
    await embedToStore({ dir, docs, embedder: new FakeEmbedder({ dim: 16 }), shardSize: 2, dtype: "float16" });
    const m = readManifest(dir);
    expect(m.dtype).toBe("float16");
    expect(readNpyHeader(join(dir, m.shards[0]!.file)).dtype).toBe("<f2");
    const got = EmbeddingStore.open(dir).readAll();
    const want = fakeMatrix(docs, 16);
    for (let p = 0; p < want.length; p++) expect(Math.abs(got[p]! - want[p]!)).toBeLessThanOrEqual(Math.abs(want[p]!) * 2 ** -11 + 1e-7);
  });

  it("reports progress up to the total", async () => {
    const events: EmbedStoreProgress[] = [];
    await embedToStore({ dir: join(tmp, "p"), docs: fakeDocs(7), embedder: new FakeEmbedder(), shardSize: 3, onProgress: (p) => events.push(p) });
    expect(events.at(-1)).toEqual({ done: 7, total: 7, shardsDone: 3, shards: 3, embedded: 7, cached: 0 });
    const dones = events.map((e) => e.done);
    expect(dones).toEqual([...dones].sort((a, b) => a - b));
  });
});

describe("embedToStore: validation", () => {
  it("rejects duplicate ids before any work", async () => {
    const docs = [...fakeDocs(3), { id: "doc-1", text: "again" }];
    const embedder = new FakeEmbedder();
    const dir = join(tmp, "dup");
    await expect(embedToStore({ dir, docs, embedder })).rejects.toThrow(/1 document id\(s\) occur more than once: "doc-1"/);
    expect(embedder.calls).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });

  it("rejects a NaN / Inf / zero vector naming the document, keeping the completed shards", async () => {
    const docs = fakeDocs(6);
    for (const [kind, pattern] of [
      ["nan", /non-finite value \(NaN\) in the vector of document "doc-4"/],
      ["inf", /non-finite value \(Infinity\) in the vector of document "doc-4"/],
      ["zero", /all-zero vector for document "doc-4"/],
    ] as const) {
      const dir = join(tmp, kind);
      const embedder = new FakeEmbedder({ corrupt: (t) => (t === docs[4]!.text ? kind : undefined) });
      const err = await embedToStore({ dir, docs, embedder, shardSize: 2 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SaerchError);
      expect((err as Error).message).toMatch(pattern);
      const m = readManifest(dir);
      expect(m.complete).toBe(false);
      expect(m.shards.length).toBe(2);
      expect(() => EmbeddingStore.open(dir)).toThrow(/incomplete/);
      // nothing of the bad shard was written
      expect(readdirSync(dir).filter((f) => f.startsWith("shard-00002"))).toEqual([]);
    }
  });

  it("rejects output of the wrong size", async () => {
    const embedder = new FakeEmbedder({ corrupt: () => "short" });
    await expect(embedToStore({ dir: join(tmp, "s"), docs: fakeDocs(2), embedder })).rejects.toThrow(
      /returned 15 values for 2 texts; expected 2 × 8 = 16/,
    );
  });

  it("refuses a directory that holds another embedder's store", async () => {
    const dir = join(tmp, "other");
    await embedToStore({ dir, docs: fakeDocs(2), embedder: new FakeEmbedder({ dim: 8 }) });
    await expect(embedToStore({ dir, docs: fakeDocs(2), embedder: new FakeEmbedder({ dim: 4 }) })).rejects.toThrow(
      /holds a store of fake:rng:8 \[8\], not fake:rng:4 \[4\]/,
    );
  });

  it("rejects bad options and empty input", async () => {
    const embedder = new FakeEmbedder();
    await expect(embedToStore({ dir: join(tmp, "o"), docs: fakeDocs(2), embedder, shardSize: 0 })).rejects.toThrow(/shardSize/);
    await expect(embedToStore({ dir: join(tmp, "o"), docs: [], embedder })).rejects.toThrow(/no documents/);
  });
});

describe("embedToStore: caching", () => {
  it("a rerun on a complete store makes zero embed calls and rewrites nothing", async () => {
    const docs = fakeDocs(9);
    const dir = join(tmp, "c");
    await embedToStore({ dir, docs, embedder: new FakeEmbedder(), shardSize: 4 });
    const mtimes = listing(dir).map((f) => statSync(join(dir, f)).mtimeMs);
    const again = new FakeEmbedder();
    const res = await embedToStore({ dir, docs, embedder: again, shardSize: 4 });
    expect(again.calls).toBe(0);
    expect(res).toMatchObject({ reusedShards: 3, embedded: 0, cached: 0 });
    expect(listing(dir).map((f) => statSync(join(dir, f)).mtimeMs)).toEqual(mtimes);
  });

  it("a changed corpus in a new directory embeds only new or changed texts (cacheFrom)", async () => {
    const root = join(tmp, "embed");
    const docs = fakeDocs(10);
    await embedToStore({ dir: join(root, "v1"), docs, embedder: new FakeEmbedder(), shardSize: 4 });
    // v2: doc-3's text changed, doc-7 removed, doc-10 and doc-11 added, order changed
    const changed = docs.filter((d) => d.id !== "doc-7").map((d) => (d.id === "doc-3" ? { ...d, text: "A new abstract." } : d));
    const v2Docs = [...fakeDocs(2, 10), ...changed.reverse()];
    const cacheFrom = findCompatibleStores(root, "fake:rng:8");
    expect(cacheFrom).toEqual([join(root, "v1")]);
    const embedder = new FakeEmbedder();
    const res = await embedToStore({ dir: join(root, "v2"), docs: v2Docs, embedder, shardSize: 4, cacheFrom });
    expect(new Set(embedder.seen)).toEqual(new Set(["A new abstract.", ...fakeDocs(2, 10).map((d) => d.text)]));
    expect(res).toMatchObject({ embedded: 3, cached: 8 });
    const store = EmbeddingStore.open(join(root, "v2"));
    expect(store.ids).toEqual(v2Docs.map((d) => d.id));
    expect(store.readAll()).toEqual(fakeMatrix(v2Docs, 8));
    // and v2 → a rerun embeds nothing
    const again = new FakeEmbedder();
    await embedToStore({ dir: join(root, "v3"), docs: v2Docs, embedder: again, shardSize: 5, cacheFrom: findCompatibleStores(root, "fake:rng:8") });
    expect(again.calls).toBe(0);
  });

  it("a changed corpus in the same directory rebuilds it in place, reusing unchanged vectors", async () => {
    const dir = join(tmp, "same");
    const docs = fakeDocs(8);
    await embedToStore({ dir, docs, embedder: new FakeEmbedder(), shardSize: 4 });
    const v2 = [...docs.slice(0, 4), { id: "doc-x", text: "Inserted." }, ...docs.slice(4)];
    const embedder = new FakeEmbedder();
    const res = await embedToStore({ dir, docs: v2, embedder, shardSize: 4 });
    expect(embedder.seen).toEqual(["Inserted."]);
    expect(res).toMatchObject({ reusedShards: 1, embedded: 1, cached: 4 });
    const store = EmbeddingStore.open(dir);
    expect(store.ids).toEqual(v2.map((d) => d.id));
    expect(store.readAll()).toEqual(fakeMatrix(v2, 8));
    // superseded shard files are gone
    expect(listing(dir).filter((f) => f.startsWith("shard-")).length).toBe(2 * store.manifest.shards.length);
  });

  it("embeds a text shared by several documents once", async () => {
    const docs = [...fakeDocs(3), { id: "copy-of-1", text: fakeDocs(2)[1]!.text }, { id: "copy-of-0", text: fakeDocs(1)[0]!.text }];
    const embedder = new FakeEmbedder();
    await embedToStore({ dir: join(tmp, "dupe-text"), docs, embedder, shardSize: 2 });
    expect(embedder.seen.length).toBe(3);
    expect(EmbeddingStore.open(join(tmp, "dupe-text")).readAll()).toEqual(fakeMatrix(docs, 8));
  });

  it("findCompatibleStores keeps only stores of the same embedder with text hashes", async () => {
    const root = join(tmp, "embed");
    await embedToStore({ dir: join(root, "a"), docs: fakeDocs(2), embedder: new FakeEmbedder({ dim: 8 }) });
    await embedToStore({ dir: join(root, "b"), docs: fakeDocs(2), embedder: new FakeEmbedder({ dim: 4 }) });
    mkdirSync(join(root, "junk"));
    writeFileSync(join(root, "junk", "manifest.json"), "{");
    expect(findCompatibleStores(root, "fake:rng:4")).toEqual([join(root, "b")]);
    expect(findCompatibleStores(join(tmp, "nowhere"), "fake:rng:4")).toEqual([]);
  });
});

describe("embedToStore: resume after kill -9", () => {
  const DIST = repoPath("dist");
  const N = 48;
  const SHARD = 8;
  const DIM = 16;

  /** dist/ must hold the compiled modules the child runs (`npm run build`; CI's setup builds it). */
  function checkDist(): void {
    for (const p of ["embed/store", "embed/store-reader", "embed/manifest", "core/rng", "io/npy", "io/atomic"]) {
      const js = join(DIST, `${p}.js`);
      if (!existsSync(js)) throw new Error(`${js} is missing: run \`npm run build\` before this test`);
    }
  }

  it("continues from the last completed shard; the result equals an uninterrupted run", async () => {
    checkDist();
    const dir = join(tmp, "killed");
    const child = spawn(
      process.execPath,
      [repoPath("tests", "fixtures", "embed", "slow-writer.mjs"), DIST, dir, String(N), String(SHARD), "4", "250", String(DIM)],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on("exit", (_code, signal) => res(signal)));
    // wait until at least one shard is complete (manifest written), then SIGKILL
    const deadline = Date.now() + 15_000;
    let shardsAtKill = 0;
    while (Date.now() < deadline) {
      if (existsSync(join(dir, "manifest.json"))) {
        shardsAtKill = readManifest(dir).shards.length;
        if (shardsAtKill >= 1) break;
      }
      if (child.exitCode !== null) throw new Error(`writer exited early (${child.exitCode}): ${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    expect(shardsAtKill).toBeGreaterThanOrEqual(1);
    const atKill = readManifest(dir);
    expect(atKill.complete).toBe(false);
    expect(atKill.shards.length).toBeLessThan(N / SHARD);

    // leftovers a kill can leave: a temp file of the dead writer, a shard .npy whose id file never came
    writeFileSync(join(dir, `.shard-00005-0123abcd.npy.tmp-${child.pid}-deadbeef`), "partial");
    writeFileSync(join(dir, "shard-00005-0123abcd.npy"), "partial");

    const resumed = new FakeEmbedder({ dim: DIM, maxBatch: 4 });
    const res = await embedToStore({ dir, docs: fakeDocs(N), embedder: resumed, shardSize: SHARD });
    expect(res.reusedShards).toBeGreaterThanOrEqual(shardsAtKill);
    expect(res.embedded).toBe(N - SHARD * res.reusedShards);
    expect(resumed.seen).toEqual(fakeDocs(N).slice(SHARD * res.reusedShards).map((d) => d.text));

    const ref = join(tmp, "uninterrupted");
    await embedToStore({ dir: ref, docs: fakeDocs(N), embedder: new FakeEmbedder({ dim: DIM, maxBatch: 4 }), shardSize: SHARD });
    expect(stableStringify(readManifest(dir))).toBe(stableStringify(readManifest(ref)));
    expect(listing(dir)).toEqual(listing(ref));
    for (const f of listing(ref)) expect(readFileSync(join(dir, f)).equals(readFileSync(join(ref, f)))).toBe(true);
    const store = EmbeddingStore.open(dir);
    expect(store.count).toBe(N);
    expect(store.ids).toEqual(fakeDocs(N).map((d) => d.id));
    expect(store.readAll()).toEqual(fakeMatrix(fakeDocs(N), DIM));
  });
});

describe("openEmbeddingRun", () => {
  it("derives data/embed/<runId> from the config, writes config.json and reports completion", async () => {
    const run = openEmbeddingRun({ embedderId: "fake:rng:8", corpus: "fake-3" });
    expect(run.dir).toBe(join(tmp, "data", "embed", run.runId));
    expect(run.runId).toMatch(/^fake-rng-8-[0-9a-f]{10}$/);
    expect(run.config).toEqual({ embedderId: "fake:rng:8", corpus: "fake-3", dtype: "float32", shardSize: 4096 });
    expect(JSON.parse(readFileSync(join(run.dir, "config.json"), "utf8"))).toEqual(run.config);
    expect(run.complete).toBe(false);
    await embedToStore({ dir: run.dir, docs: fakeDocs(3), embedder: new FakeEmbedder(), shardSize: run.config.shardSize });
    const again = openEmbeddingRun({ corpus: "fake-3", embedderId: "fake:rng:8", shardSize: 4096 });
    expect(again).toMatchObject({ runId: run.runId, complete: true });
    expect(openEmbeddingRun({ embedderId: "fake:rng:8", corpus: "fake-4" }).runId).not.toBe(run.runId);
  });

  it("rejects unknown or invalid fields", () => {
    expect(() => openEmbeddingRun({ embedderId: "x", corpus: "c", shardSize: -1 })).toThrow(/shardSize/);
    expect(() => openEmbeddingRun({ embedderId: "x", corpus: "c", extra: 1 } as never)).toThrow(/extra/);
  });
});
