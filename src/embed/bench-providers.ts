/**
 * Throughput of the embedding providers, for `npm run bench:embed` (benchmarks print figures and never gate
 * CI). The paper embeds `title + "\n\n" + abstract` (METHOD.md §1); so do these benchmarks, on real
 * abstracts from the shared corpus.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { docText } from "../corpus/document.js";
import { SaerchError } from "../core/errors.js";
import { readJsonl } from "../io/jsonl.js";
import { sharedPath } from "../io/paths.js";
import type { Embedder } from "./embedder.js";
import { embedToStore } from "./store.js";
import { EmbeddingStore } from "./store-reader.js";
import { createUseLiteEmbedder } from "./use-lite.js";
import type { UseLiteBackend } from "./use-lite-worker.js";

/** The shared corpus, relative to the shared folder. */
const BENCH_CORPUS = "corpus/arxiv-cs-astro-2025.jsonl.gz";
const MICROSECONDS_PER_SECOND = 1e6;

/** What {@link benchUseLite} measures. */
export interface BenchUseLiteArgs {
  /** Texts to embed (timed after a warm-up on the first batch of each worker). */
  texts: string[];
  /** Worker threads. */
  workers: number;
  /** Texts per model call (default: the provider's, 16). */
  batchSize?: number;
  /** Backend (default: the provider's, "onnx"). */
  backend?: UseLiteBackend;
}

/** A throughput measurement. */
export interface BenchUseLiteResult {
  /** Texts embedded per second of the timed call. */
  docsPerSecond: number;
  /** Wall time of the timed call. */
  seconds: number;
  workers: number;
  /** Texts in the timed call. */
  count: number;
  backend: UseLiteBackend;
  batchSize: number;
  /** Wall time to start the pool (every worker loads the model). */
  startSeconds: number;
  /**
   * CPU seconds of the whole process (all threads) per wall second of the timed call: ≈ workers when the
   * pool keeps every worker busy; lower when other processes compete for the cores.
   */
  coresBusy: number;
}

/**
 * Time the USE-lite provider: start a pool, warm it up with one batch per worker, then embed all `texts`
 * in one call and report documents per second. The pool is closed afterwards.
 */
export async function benchUseLite(args: BenchUseLiteArgs): Promise<BenchUseLiteResult> {
  if (args.texts.length === 0) throw new SaerchError("benchUseLite needs at least one text");
  const t0 = performance.now();
  const embedder = await createUseLiteEmbedder({
    workers: args.workers,
    ...(args.batchSize !== undefined ? { batchSize: args.batchSize } : {}),
    ...(args.backend !== undefined ? { backend: args.backend } : {}),
  });
  const startSeconds = (performance.now() - t0) / 1000;
  try {
    await embedder.embed(args.texts.slice(0, embedder.batchSize * embedder.workers));
    const cpu0 = process.cpuUsage();
    const t1 = performance.now();
    await embedder.embed(args.texts);
    const seconds = (performance.now() - t1) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / MICROSECONDS_PER_SECOND;
    return {
      docsPerSecond: args.texts.length / seconds,
      seconds,
      workers: embedder.workers,
      count: args.texts.length,
      backend: embedder.backend,
      batchSize: embedder.batchSize,
      startSeconds,
      coresBusy: cpuSeconds / seconds,
    };
  } finally {
    await embedder.close();
  }
}

/**
 * The first `count` texts (`title + "\n\n" + abstract`) of the shared corpus, for benchmarks.
 * @throws SaerchError naming SAERCH_SHARED when the corpus is absent
 */
export async function readBenchTexts(count: number): Promise<string[]> {
  const texts: string[] = [];
  if (count <= 0) return texts;
  for await (const rec of readJsonl<{ title: string; abstract: string }>(sharedPath(BENCH_CORPUS))) {
    texts.push(docText(rec));
    if (texts.length === count) break;
  }
  return texts;
}

/** Embedding-store throughput: writing through embedToStore, sequential reads, shuffled training batches. */
export interface BenchStoreResult {
  rows: number;
  dim: number;
  /** Rows per second written by embedToStore with an instant embedder (shard files, fsync, manifest). */
  writeRowsPerSecond: number;
  /** Sequential `rows()` read throughput, bytes per second (page cache warm). */
  readBytesPerSecond: number;
  /** Rows per second delivered as shuffled `[B, D]` batches (B = 1024), one epoch. */
  batchRowsPerSecond: number;
}

/** An embedder that returns deterministic unit vectors instantly, to time the store alone. */
function instantEmbedder(dim: number): Embedder {
  return {
    id: `bench:instant:${dim}`,
    provider: "bench",
    model: "instant",
    dim,
    normalized: true,
    maxBatch: 4096,
    embed: async (texts: string[]): Promise<Float32Array> => {
      const out = new Float32Array(texts.length * dim);
      for (let i = 0; i < texts.length; i++) out[i * dim + (i % dim)] = 1;
      return out;
    },
    close: async (): Promise<void> => {},
  };
}

/**
 * Time the embedding store on synthetic rows in a temporary directory (removed afterwards).
 * @param rows N rows, @param dim D
 */
export async function benchStore(rows: number, dim: number): Promise<BenchStoreResult> {
  const dir = mkdtempSync(join(tmpdir(), "saerch-bench-store-"));
  try {
    const docs = Array.from({ length: rows }, (_, i) => ({ id: `doc-${i}`, text: `text ${i}` }));
    let t0 = performance.now();
    await embedToStore({ dir, docs, embedder: instantEmbedder(dim) });
    const writeSeconds = (performance.now() - t0) / 1000;
    const store = EmbeddingStore.open(dir);
    store.rows(0, rows); // warm the page cache
    const reps = 5;
    t0 = performance.now();
    for (let r = 0; r < reps; r++) store.rows(0, rows);
    const readSeconds = (performance.now() - t0) / 1000 / reps;
    t0 = performance.now();
    let delivered = 0;
    for await (const batch of store.batches({ batchSize: 1024, seed: 0, epochs: 1 })) delivered += batch.indices.length;
    const batchSeconds = (performance.now() - t0) / 1000;
    store.close();
    return {
      rows,
      dim,
      writeRowsPerSecond: rows / writeSeconds,
      readBytesPerSecond: (rows * dim * 4) / readSeconds,
      batchRowsPerSecond: delivered / batchSeconds,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
