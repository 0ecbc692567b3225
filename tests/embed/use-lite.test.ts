/**
 * Tests for src/embed/use-lite.ts and use-lite-worker.ts: the pool reproduces the shared USE-lite store
 * (../shared/embeddings/use-lite-512/) on a seeded sample of real abstracts, with both backends; 1 and 2
 * workers agree; order, empty input, progress, errors, a dying worker and close() behave.
 *
 * The pool spawns dist/embed/use-lite-worker.js (a worker thread cannot load .ts): run `npm run build`
 * first. Without a build these tests fail with that fix in the message; they skip only when the shared
 * folder is absent.
 */
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { docText } from "../../src/corpus/document.js";
import { readNpyRows } from "../../src/io/npy.js";
import { readJsonl } from "../../src/io/jsonl.js";
import { sharedDir } from "../../src/io/paths.js";
import {
  createUseLiteEmbedder,
  UseLiteEmbedOptions,
  type UseLiteEmbedder,
  useLiteWorkerUrl,
} from "../../src/embed/use-lite.js";
import { loadUseLiteFiles, USE_LITE_DIM, UseLiteTokenizer } from "../../src/embed/use-lite-worker.js";

const STORE_DIR = join(sharedDir(), "embeddings", "use-lite-512");
const CORPUS = join(sharedDir(), "corpus", "arxiv-cs-astro-2025.jsonl.gz");
const hasShared = existsSync(join(STORE_DIR, "embeddings.npy")) && existsSync(CORPUS);
/** Documents sampled from the store: two batches of 16 and 8 with the default batch size. */
const SAMPLE = 24;
const SEED = 20240613;
/** The bar for "reproduces the shared store". */
const MIN_COSINE = 0.999;
/** Texts run through the slow tfjs-wasm reference backend. */
const REFERENCE_TEXTS = 8;
/** onnx vs tfjs-wasm: the same graph, float rounding apart (measured ≥ 0.999999 on 128 abstracts). */
const BACKEND_MIN_COSINE = 0.99999;

interface Sampled {
  row: number;
  text: string;
}

/** A seeded sample of store rows with their texts, found by streaming the corpus once. */
async function sampleStoreRows(): Promise<Sampled[]> {
  const ids = JSON.parse(readFileSync(join(STORE_DIR, "ids.json"), "utf8")) as string[];
  const rows = Array.from(new Rng(SEED).sample(ids.length, SAMPLE));
  const wanted = new Map(rows.map((row) => [ids[row]!, row]));
  const found = new Map<number, string>();
  for await (const rec of readJsonl<{ id: string; title: string; abstract: string }>(CORPUS)) {
    const row = wanted.get(rec.id);
    if (row === undefined) continue;
    found.set(row, docText(rec));
    if (found.size === wanted.size) break;
  }
  expect(found.size).toBe(SAMPLE);
  return rows.map((row) => ({ row, text: found.get(row)! }));
}

function dot(aBD: Float32Array, i: number, bD: Float32Array): number {
  let s = 0;
  for (let p = 0; p < USE_LITE_DIM; p++) s += aBD[i * USE_LITE_DIM + p]! * bD[p]!;
  return s;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("UseLiteEmbedOptions", () => {
  it("defaults to one worker per core, batches of 16, the onnx backend", () => {
    expect(UseLiteEmbedOptions.parse({})).toEqual({ workers: availableParallelism(), batchSize: 16, backend: "onnx" });
  });
  it("rejects zero workers and unknown backends", () => {
    expect(UseLiteEmbedOptions.safeParse({ workers: 0 }).success).toBe(false);
    expect(UseLiteEmbedOptions.safeParse({ backend: "gpu" }).success).toBe(false);
  });
});

describe("useLiteWorkerUrl", () => {
  it("finds the compiled worker script (else fails telling to run `npm run build`)", () => {
    expect(useLiteWorkerUrl().pathname).toMatch(/use-lite-worker\.js$/);
  });
});

describe("UseLiteTokenizer", () => {
  it("gives the same ids as @energetic-ai/embeddings' tokenizer, odd characters included", async () => {
    const { EmbeddingsModel } = await import("@energetic-ai/embeddings");
    const files = loadUseLiteFiles();
    const vocabulary = files.vocabulary as Array<[string, number]>;
    const ref = new EmbeddingsModel({ vocabulary, model: null as never }).tokenizer;
    const ours = new UseLiteTokenizer(files.vocabulary);
    const texts = [
      "Dark matter halos\n\nWe measure the mass of galaxy clusters with weak lensing.",
      "",
      " leading and  double  spaces ",
      "Math 𝑥² ≤ ∑ αᵢ, naïve café ﬁnite, emoji 😀, CJK 中文, unknown ☃☃ §",
      "smileys :) :-) and URLs https://arxiv.org/abs/2503.11731",
    ];
    for (const t of texts) expect(ours.encode(t)).toEqual(ref.encode(t));
  });
});

describe.skipIf(!hasShared)("createUseLiteEmbedder on real abstracts", () => {
  let sample: Sampled[];
  let texts: string[];
  let embedder: UseLiteEmbedder;

  beforeAll(async () => {
    [sample, embedder] = await Promise.all([sampleStoreRows(), createUseLiteEmbedder({ workers: 2 })]);
    texts = sample.map((s) => s.text);
  });
  afterAll(async () => {
    await embedder?.close();
  });

  it("describes itself", () => {
    expect(embedder).toMatchObject({
      id: "use-lite:512",
      provider: "use-lite",
      model: "universal-sentence-encoder-lite",
      dim: 512,
      normalized: true,
      workers: 2,
      batchSize: 16,
      backend: "onnx",
    });
    expect(embedder.maxBatch % embedder.batchSize).toBe(0);
  });

  it("reproduces the shared store (cosine ≥ 0.999 per row, unit norm) and reports progress", async () => {
    const progress: number[] = [];
    const embBD = await embedder.embed(texts, (done) => progress.push(done));
    expect(embBD.length).toBe(SAMPLE * USE_LITE_DIM);
    expect(progress.at(-1)).toBe(SAMPLE);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    for (let i = 0; i < SAMPLE; i++) {
      const row = sample[i]!.row;
      const stored = readNpyRows(join(STORE_DIR, "embeddings.npy"), row, row + 1).data as Float32Array;
      expect(dot(embBD, i, stored)).toBeGreaterThanOrEqual(MIN_COSINE);
      expect(Math.sqrt(dot(embBD, i, embBD.subarray(i * USE_LITE_DIM)))).toBeCloseTo(1, 5);
    }
  });

  it("gives the same vectors with 1 worker as with 2, and with the tfjs-wasm reference backend", async () => {
    const two = await embedder.embed(texts);
    const one = await createUseLiteEmbedder({ workers: 1 });
    const reference = await createUseLiteEmbedder({ workers: 1, backend: "tfjs-wasm" });
    try {
      expect(maxAbsDiff(await one.embed(texts), two)).toBeLessThanOrEqual(1e-6);
      // The reference path is ~5x slower: one batch of it is enough to pin the backends together.
      const tfjs = await reference.embed(texts.slice(0, REFERENCE_TEXTS));
      for (let i = 0; i < REFERENCE_TEXTS; i++) {
        expect(dot(tfjs, i, two.subarray(i * USE_LITE_DIM))).toBeGreaterThanOrEqual(BACKEND_MIN_COSINE);
      }
    } finally {
      await Promise.all([one.close(), reference.close()]);
    }
  });

  it("keeps input order whatever the batching", async () => {
    const forward = await embedder.embed(texts);
    const reversedBD = await embedder.embed([...texts].reverse());
    const backBD = new Float32Array(reversedBD.length);
    for (let i = 0; i < SAMPLE; i++) {
      backBD.set(reversedBD.subarray((SAMPLE - 1 - i) * USE_LITE_DIM, (SAMPLE - i) * USE_LITE_DIM), i * USE_LITE_DIM);
    }
    // Reversal changes which texts share a batch, hence padding: equal up to float rounding.
    expect(maxAbsDiff(backBD, forward)).toBeLessThan(1e-5);
  });

  it("returns an empty array for no texts", async () => {
    const out = await embedder.embed([]);
    expect(out).toBeInstanceOf(Float32Array);
    expect(out.length).toBe(0);
  });

  it("rejects a batch a worker cannot embed, naming the text, and stays usable", async () => {
    const bad = [...texts.slice(0, 20), "", ...texts.slice(20)];
    await expect(embedder.embed(bad)).rejects.toThrow(/text 20: empty text/);
    const again = await embedder.embed(texts.slice(0, 3));
    expect(again.length).toBe(3 * USE_LITE_DIM);
  });

  it("replaces a worker that dies mid-batch", async () => {
    const spy = vi.spyOn(Worker.prototype, "postMessage").mockImplementationOnce(function (this: Worker) {
      void this.terminate(); // the batch's worker dies instead of receiving it
    });
    try {
      await expect(embedder.embed(texts.slice(0, 4))).rejects.toThrow(/died/);
    } finally {
      spy.mockRestore();
    }
    const again = await embedder.embed(texts);
    expect(again.length).toBe(SAMPLE * USE_LITE_DIM);
  });

  it("refuses to embed after close()", async () => {
    const e = await createUseLiteEmbedder({ workers: 1 });
    await e.close();
    await expect(e.embed(["a"])).rejects.toThrow(/closed/);
  });
});
