/**
 * Writing an embedding store (layout in manifest.ts): documents → `[N, D]` vectors in `.npy` shards, the
 * artefact every later stage reads (paper §1: one vector per `title + "\n\n" + abstract`, and — unlike
 * the original code, which stored a zero vector for a failed call — a bad vector is an error, never data).
 *
 * `embedToStore` works shard by shard: embed (in batches of `embedder.maxBatch`), validate, write the
 * shard `.npy` and its id file atomically, then update `manifest.json` atomically. Killed at any point,
 * a rerun with the same arguments keeps every completed shard and embeds only the rest. Vectors are also
 * reused by text hash from shards of this directory and of `cacheFrom` stores with the same embedder id,
 * so an unchanged text is never embedded twice by the same model.
 *
 * One writer per directory at a time: `embedToStore` holds the directory's run lock (src/io/run-lock.ts),
 * so a second process gets "in use by process N" instead of racing for the same shards.
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { SaerchError } from "../core/errors.js";
import { artefactRun, stableStringify } from "../io/artefact.js";
import { writeJsonAtomic } from "../io/atomic.js";
import { float32ToFloat16, writeNpy } from "../io/npy.js";
import { withRunLock } from "../io/run-lock.js";
import type { Embedder } from "./embedder.js";
import {
  EmbeddingManifest,
  formatZodIssues,
  MANIFEST_FILE,
  SHARD_FILE_PATTERN,
  SHARD_IDS_FILE_PATTERN,
  SHARD_IDS_FORMAT,
  type ShardEntry,
  shardDigest,
  shardFileNames,
  type ShardIds,
  STORE_FORMAT,
  STORE_VERSION,
  StoreDtype,
  TEXT_HASH_ALGORITHM,
  textHash,
} from "./manifest.js";
import { NpyRowReader, readManifest, readShardIds } from "./store-reader.js";

/**
 * Default rows per shard. 4096 rows × 1536 dims × 4 B = 24 MiB: small enough to build in memory and to
 * lose at most one shard of embedding work to a crash (4096 API calls' worth, minutes on a CPU model),
 * large enough that the paper's 272k-abstract corpus is only 67 files and a 1024-row batch rarely
 * straddles a boundary.
 */
export const DEFAULT_SHARD_SIZE = 4096;
/** Stage folder of embedding runs under data/. */
export const EMBED_STAGE = "embed";
/** Duplicate ids quoted in an error message. */
const MAX_QUOTED = 5;

/** Options of embedToStore that have defaults (validated with zod). */
export const EmbedStoreOptions = z.strictObject({
  shardSize: z
    .number()
    .int()
    .positive()
    .default(DEFAULT_SHARD_SIZE)
    .describe("Rows per shard: 4096 keeps a shard at 24 MiB for D = 1536 and bounds the work a crash can lose"),
  dtype: StoreDtype.default("float32"),
});
/** Options of embedToStore that have defaults. */
export type EmbedStoreOptions = z.infer<typeof EmbedStoreOptions>;

/** A document to embed: its id and the exact text to embed (e.g. docText(doc)). */
export interface TextDoc {
  id: string;
  text: string;
}

/** Progress of embedToStore, reported after every embed batch and every shard. */
export interface EmbedStoreProgress {
  /** Documents whose vectors are done (in completed shards or in the current shard so far). */
  done: number;
  /** All documents. */
  total: number;
  /** Shards completed. */
  shardsDone: number;
  /** All shards. */
  shards: number;
  /** Texts sent to the embedder so far in this call. */
  embedded: number;
  /** Vectors copied from a cache (this directory's or `cacheFrom`'s shards) so far. */
  cached: number;
}

/** Arguments of embedToStore. */
export interface EmbedToStoreArgs {
  /** Store directory (e.g. `openEmbeddingRun(config).dir`). */
  dir: string;
  /** Documents in store order; ids must be unique. */
  docs: readonly TextDoc[];
  /** The model. Its `id` names the vectors; a store holds one embedder's vectors. */
  embedder: Embedder;
  /** Rows per shard (default 4096, see DEFAULT_SHARD_SIZE). */
  shardSize?: number;
  /** Storage precision (default float32). */
  dtype?: StoreDtype;
  /** Other store directories (same embedder id) whose vectors may be reused by text hash. */
  cacheFrom?: readonly string[];
  /** Called after every embed batch and every shard. */
  onProgress?: (p: EmbedStoreProgress) => void;
}

/** What embedToStore did. */
export interface EmbedToStoreResult {
  /** Store directory. */
  dir: string;
  /** Rows N. */
  count: number;
  /** Dimension D. */
  dim: number;
  /** Shards in the store. */
  shards: number;
  /** Shards found complete on disk and kept as they were. */
  reusedShards: number;
  /** Texts sent to the embedder. */
  embedded: number;
  /** Calls of `embedder.embed`. */
  embedCalls: number;
  /** Vectors copied from cached shards. */
  cached: number;
  /** The final manifest. */
  manifest: EmbeddingManifest;
}

/** One planned shard: its rows of the document list and its content-addressed file names. */
interface PlannedShard {
  index: number;
  start: number;
  ids: string[];
  hashes: string[];
  file: string;
  idsFile: string;
}

/** Where a cached vector lives. */
interface CacheLocation {
  path: string;
  row: number;
}

/**
 * Check `docs` before any work: ids non-empty and unique, texts strings.
 * @throws SaerchError listing the first duplicate ids
 */
export function checkDocs(docs: readonly TextDoc[]): void {
  const seen = new Set<string>();
  const dups = new Set<string>();
  docs.forEach((d, i) => {
    if (typeof d?.id !== "string" || d.id.length === 0) {
      throw new SaerchError(`document ${i} has no id (got ${JSON.stringify(d?.id)})`, "give every document a non-empty string id");
    }
    if (typeof d.text !== "string") {
      throw new SaerchError(`document "${d.id}" has no text (got ${typeof d.text})`, "pass { id, text } with text = docText(doc)");
    }
    if (seen.has(d.id)) dups.add(d.id);
    seen.add(d.id);
  });
  if (dups.size > 0) {
    const quoted = [...dups].slice(0, MAX_QUOTED).map((id) => `"${id}"`).join(", ");
    throw new SaerchError(
      `${dups.size} document id(s) occur more than once: ${quoted}${dups.size > MAX_QUOTED ? ", …" : ""}`,
      "deduplicate the documents by id before embedding",
    );
  }
}

/**
 * Check one embedder output: `[B, D]` float32, every value finite, no all-zero row.
 * @param names `[B]` what each row is (document ids), for the error message
 * @throws SaerchError naming the first bad document
 */
export function checkVectors(vecBD: unknown, names: readonly string[], dim: number, source: string): Float32Array {
  const b = names.length;
  if (!(vecBD instanceof Float32Array)) {
    throw new SaerchError(`${source} returned ${Object.prototype.toString.call(vecBD)}, not a Float32Array`);
  }
  if (vecBD.length !== b * dim) {
    throw new SaerchError(
      `${source} returned ${vecBD.length} values for ${b} texts; expected ${b} × ${dim} = ${b * dim}`,
      "check the embedder's dim and that it returns one row per text",
    );
  }
  for (let i = 0; i < b; i++) {
    let nonZero = false;
    for (let p = i * dim; p < (i + 1) * dim; p++) {
      const v = vecBD[p]!;
      if (!Number.isFinite(v)) {
        throw new SaerchError(
          `${source} gave a non-finite value (${v}) in the vector of document "${names[i]}" (component ${p - i * dim})`,
          "inspect that document's text and the provider; the store never keeps NaN/Inf vectors",
        );
      }
      if (v !== 0) nonZero = true;
    }
    if (!nonZero) {
      throw new SaerchError(
        `${source} gave an all-zero vector for document "${names[i]}" (a failed embedding)`,
        "inspect that document's text and the provider; the store never keeps zero vectors",
      );
    }
  }
  return vecBD;
}

/**
 * Write one shard: the `.npy` (converted to float16 if asked) then its id file, each atomically.
 * @param embSD `[rows, D]` float32 vectors
 */
export function writeShardFiles(dir: string, shard: ShardIds, file: string, idsFile: string, embSD: Float32Array): void {
  const rows = shard.ids.length;
  if (shard.dtype === "float16") {
    const halfSD = float32ToFloat16(embSD);
    for (let p = 0; p < halfSD.length; p++) {
      if ((halfSD[p]! & 0x7c00) === 0x7c00) {
        const row = Math.floor(p / shard.dim);
        throw new SaerchError(
          `the vector of document "${shard.ids[row]}" has a value (${embSD[p]}) too large for float16`,
          "store this embedder's vectors as float32",
        );
      }
    }
    writeNpy(join(dir, file), halfSD, [rows, shard.dim]);
  } else {
    writeNpy(join(dir, file), embSD, [rows, shard.dim]);
  }
  writeJsonAtomic(join(dir, idsFile), shard);
}

/** Write `manifest.json` atomically unless the file already holds exactly this manifest. */
export function writeManifest(dir: string, manifest: EmbeddingManifest): void {
  const checked = EmbeddingManifest.safeParse(manifest);
  if (!checked.success) throw new SaerchError(`internal: invalid manifest: ${formatZodIssues(checked.error)}`);
  const path = join(dir, MANIFEST_FILE);
  if (existsSync(path)) {
    try {
      if (stableStringify(readManifest(dir)) === stableStringify(checked.data)) return;
    } catch {
      // unreadable: overwrite it
    }
  }
  writeJsonAtomic(path, checked.data);
}

/** True when `pid` is a running process we can see. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * After a store is complete: delete shard files the manifest does not list (superseded shards, a shard
 * whose id file never got written) and temporary files left by killed writers (their pid is gone).
 */
export function removeStaleFiles(dir: string, manifest: EmbeddingManifest): void {
  const keep = new Set(manifest.shards.flatMap((s) => [s.file, s.idsFile]));
  for (const name of readdirSync(dir)) {
    if (SHARD_FILE_PATTERN.test(name) && !keep.has(name)) {
      rmSync(join(dir, name), { force: true });
      continue;
    }
    const tmp = /^\.(shard-\d{5}-[0-9a-f]{8}\.(?:npy|ids\.json)|manifest\.json)\.tmp-(\d+)-[0-9a-f]+$/.exec(name);
    if (tmp && Number(tmp[2]) !== process.pid && !processAlive(Number(tmp[2]))) rmSync(join(dir, name), { force: true });
  }
}

/** The shard pair `idsFile` + its `.npy` in `dir` when both exist and are consistent; else undefined. */
function loadShardPair(dir: string, idsFile: string): { ids: ShardIds; npyPath: string } | undefined {
  const stem = SHARD_IDS_FILE_PATTERN.exec(idsFile)?.[1];
  if (!stem) return undefined;
  const npyPath = join(dir, `${stem}.npy`);
  if (!existsSync(npyPath) || !existsSync(join(dir, idsFile))) return undefined;
  try {
    const ids = readShardIds(join(dir, idsFile));
    new NpyRowReader(npyPath, { rows: ids.ids.length, dim: ids.dim, dtype: ids.dtype }).close();
    return { ids, npyPath };
  } catch {
    return undefined; // unreadable or inconsistent: not usable, it will be rewritten or removed
  }
}

/**
 * Map text hash → cached vector location over every complete shard pair in `dirs` made by `embedderId`
 * with dimension `dim`. float16 shards are used only when `dtype` is float16 (no silent precision loss).
 */
function buildCacheIndex(dirs: readonly string[], embedderId: string, dim: number, dtype: StoreDtype): Map<string, CacheLocation> {
  const index = new Map<string, CacheLocation>();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      if (!SHARD_IDS_FILE_PATTERN.test(name)) continue;
      const pair = loadShardPair(dir, name);
      if (!pair) continue;
      const s = pair.ids;
      if (s.embedderId !== embedderId || s.dim !== dim) continue;
      if (s.dtype === "float16" && dtype === "float32") continue;
      s.textHashes.forEach((h, row) => {
        if (h !== null && !index.has(h)) index.set(h, { path: pair.npyPath, row });
      });
    }
  }
  return index;
}

/**
 * Store directories under `embedDataDir` (e.g. `data/embed`) whose manifest names `embedderId` and records
 * text hashes: candidates for `cacheFrom`. Unreadable manifests are skipped.
 * @returns absolute directory paths, sorted
 */
export function findCompatibleStores(embedDataDir: string, embedderId: string): string[] {
  if (!existsSync(embedDataDir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(embedDataDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = resolve(embedDataDir, entry.name);
    if (!existsSync(join(dir, MANIFEST_FILE))) continue;
    try {
      const m = readManifest(dir);
      if (m.embedderId === embedderId && m.textHash !== null) out.push(dir);
    } catch {
      // not a store we can use
    }
  }
  return out.sort();
}

/** True when the planned shard is already on disk, complete and identical in ids and text hashes. */
function shardIsDone(dir: string, plan: PlannedShard, embedderId: string, dim: number, dtype: StoreDtype): boolean {
  const pair = loadShardPair(dir, plan.idsFile);
  if (!pair) return false;
  const s = pair.ids;
  return (
    s.embedderId === embedderId &&
    s.dim === dim &&
    s.dtype === dtype &&
    s.ids.length === plan.ids.length &&
    s.ids.every((id, i) => id === plan.ids[i] && s.textHashes[i] === plan.hashes[i])
  );
}

/**
 * Embed `docs` into the store at `dir`, resuming and reusing cached vectors (see the module header).
 * Each text is embedded at most once per call (duplicate texts within a shard share one embed).
 * @returns counts of what was embedded, reused and cached, and the final manifest
 * @throws SaerchError before any work for duplicate ids or a directory holding another embedder's store;
 *   during the run for a bad vector (naming the document), leaving completed shards in place; RunInUseError
 *   when another process is writing `dir`
 */
export async function embedToStore(args: EmbedToStoreArgs): Promise<EmbedToStoreResult> {
  const { dir, docs, embedder, onProgress } = args;
  const parsedOpts = EmbedStoreOptions.safeParse({ shardSize: args.shardSize, dtype: args.dtype });
  if (!parsedOpts.success) throw new SaerchError(`embedToStore: ${formatZodIssues(parsedOpts.error)}`);
  const { shardSize, dtype } = parsedOpts.data;
  checkDocs(docs);
  if (docs.length === 0) throw new SaerchError("embedToStore: no documents to embed");
  const dim = embedder.dim;
  const maxBatch = embedder.maxBatch;
  if (!Number.isSafeInteger(dim) || dim < 1 || !Number.isSafeInteger(maxBatch) || maxBatch < 1) {
    throw new SaerchError(`embedder ${embedder.id} has dim ${dim} and maxBatch ${maxBatch}; both must be positive integers`);
  }
  if (existsSync(join(dir, MANIFEST_FILE))) {
    const old = readManifest(dir);
    if (old.embedderId !== embedder.id || old.dim !== dim) {
      throw new SaerchError(
        `${dir} holds a store of ${old.embedderId} [${old.dim}], not ${embedder.id} [${dim}]`,
        "use a separate directory per embedder (openEmbeddingRun derives one from the config)",
      );
    }
  }

  // plan: shard i = docs[i·S, (i+1)·S), named by its content
  const hashes = docs.map((d) => textHash(d.text));
  const plans: PlannedShard[] = [];
  for (let start = 0, index = 0; start < docs.length; start += shardSize, index++) {
    const ids = docs.slice(start, start + shardSize).map((d) => d.id);
    const hs = hashes.slice(start, start + ids.length);
    const names = shardFileNames(index, shardDigest(embedder.id, dim, dtype, ids, hs));
    plans.push({ index, start, ids, hashes: hs, ...names });
  }
  const manifestFor = (entries: ShardEntry[], complete: boolean): EmbeddingManifest => ({
    format: STORE_FORMAT,
    version: STORE_VERSION,
    provider: embedder.provider,
    model: embedder.model,
    embedderId: embedder.id,
    dim,
    count: docs.length,
    dtype,
    normalization: embedder.normalized ? "unit" : "none",
    shardSize,
    textHash: TEXT_HASH_ALGORITHM,
    complete,
    shards: entries,
    notes: [],
  });

  return withRunLock(dir, "embedding", async () => {
    const ownDir = resolve(dir);
    const cacheDirs = [ownDir, ...(args.cacheFrom ?? []).map((d) => resolve(d)).filter((d) => d !== ownDir)];
    let cache: Map<string, CacheLocation> | undefined;
    const result = { reusedShards: 0, embedded: 0, embedCalls: 0, cached: 0 };
    const entries: ShardEntry[] = [];
    let done = 0;
    const report = (extra: number): void =>
      onProgress?.({
        done: done + extra,
        total: docs.length,
        shardsDone: entries.length,
        shards: plans.length,
        embedded: result.embedded,
        cached: result.cached,
      });

    for (const plan of plans) {
      const rows = plan.ids.length;
      const entry: ShardEntry = { index: plan.index, start: plan.start, rows, file: plan.file, idsFile: plan.idsFile };
      if (shardIsDone(dir, plan, embedder.id, dim, dtype)) {
        result.reusedShards++;
        entries.push(entry);
      } else {
        const c = (cache ??= buildCacheIndex(cacheDirs, embedder.id, dim, dtype));
        const embSD = await buildShard(plan, docs, embedder, c, result, (n) => report(n));
        const shardIds: ShardIds = { format: SHARD_IDS_FORMAT, embedderId: embedder.id, dim, dtype, ids: plan.ids, textHashes: plan.hashes };
        writeShardFiles(dir, shardIds, plan.file, plan.idsFile, embSD);
        // later shards may repeat these texts
        plan.hashes.forEach((h, row) => {
          if (!c.has(h)) c.set(h, { path: join(ownDir, plan.file), row });
        });
        entries.push(entry);
        writeManifest(dir, manifestFor(entries, entries.length === plans.length));
      }
      done += rows;
      report(0);
    }
    const manifest = manifestFor(entries, true);
    writeManifest(dir, manifest);
    removeStaleFiles(dir, manifest);
    return { dir, count: docs.length, dim, shards: plans.length, ...result, manifest };
  });
}

/**
 * Vectors of one planned shard: cached rows read from their shards, the rest embedded in batches of
 * `embedder.maxBatch` (one embed per distinct text) and validated.
 * @returns `[rows, D]` float32
 */
async function buildShard(
  plan: PlannedShard,
  docs: readonly TextDoc[],
  embedder: Embedder,
  cache: Map<string, CacheLocation>,
  counts: { embedded: number; embedCalls: number; cached: number },
  progress: (doneInShard: number) => void,
): Promise<Float32Array> {
  const dim = embedder.dim;
  const rows = plan.ids.length;
  const embSD: Float32Array = new Float32Array(rows * dim);
  // rows to fill from the cache, grouped by source shard; rows to embed, grouped by text hash
  const fromCache = new Map<string, Array<{ row: number; srcRow: number }>>();
  const toEmbed = new Map<string, number[]>();
  for (let r = 0; r < rows; r++) {
    const h = plan.hashes[r]!;
    const hit = cache.get(h);
    if (hit) {
      const list = fromCache.get(hit.path) ?? [];
      list.push({ row: r, srcRow: hit.row });
      fromCache.set(hit.path, list);
    } else {
      const list = toEmbed.get(h) ?? [];
      list.push(r);
      toEmbed.set(h, list);
    }
  }
  let filled = 0;
  for (const [path, list] of fromCache) {
    const reader = new NpyRowReader(path);
    try {
      list.sort((a, b) => a.srcRow - b.srcRow);
      for (const { row, srcRow } of list) reader.readRowsInto(srcRow, 1, embSD, row * dim);
    } finally {
      reader.close();
    }
    const rowsHere = list.map((x) => x.row);
    checkVectors(
      gatherRows(embSD, rowsHere, dim),
      rowsHere.map((r) => plan.ids[r]!),
      dim,
      `cached shard ${path}`,
    );
    counts.cached += list.length;
    filled += list.length;
  }
  if (fromCache.size > 0) progress(filled);

  const groups = [...toEmbed.values()]; // each: the shard rows sharing one text
  for (let g = 0; g < groups.length; g += embedder.maxBatch) {
    const batch = groups.slice(g, g + embedder.maxBatch);
    const texts = batch.map((rs) => docs[plan.start + rs[0]!]!.text);
    const names = batch.map((rs) => plan.ids[rs[0]!]!);
    let out: Float32Array;
    try {
      out = await embedder.embed(texts);
    } catch (err) {
      if (err instanceof SaerchError) throw err;
      throw new SaerchError(
        `embedder ${embedder.id} failed on shard ${plan.index} (documents "${names[0]}" …): ${(err as Error)?.message ?? String(err)}`,
        "fix the cause and rerun: completed shards are kept and the run resumes after them",
      );
    }
    const vecBD = checkVectors(out, names, dim, `embedder ${embedder.id}`);
    counts.embedCalls++;
    counts.embedded += texts.length;
    batch.forEach((rs, i) => {
      for (const r of rs) embSD.set(vecBD.subarray(i * dim, (i + 1) * dim), r * dim);
      filled += rs.length;
    });
    progress(filled);
  }
  return embSD;
}

/** Copy rows `rows` of `xRD` into a new `[rows.length, D]` matrix. */
function gatherRows(xRD: Float32Array, rows: readonly number[], dim: number): Float32Array {
  const outBD: Float32Array = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => outBD.set(xRD.subarray(r * dim, (r + 1) * dim), i * dim));
  return outBD;
}

/** Config of an embedding run: what identifies its artefact directory `data/embed/<runId>/`. */
export const EmbedRunConfig = z.strictObject({
  embedderId: z.string().min(1).describe("Embedder.id: a different model or setting is a different run"),
  corpus: z
    .string()
    .min(1)
    .describe("Which documents, in which order (the stage passes their content hash: ids and texts); any change gives a new run"),
  embedderRevision: z
    .string()
    .optional()
    .describe("Which weights or server answer for the embedder id (embedderRevision in identity.ts); a new revision is a new run"),
  stageVersion: z.number().int().optional().describe("EMBED_STAGE_VERSION of the embedding stage: a behaviour change gives a new run"),
  ...EmbedStoreOptions.shape,
});
/** Config of an embedding run. */
export type EmbedRunConfig = z.infer<typeof EmbedRunConfig>;

/** An embedding run's directory, as openEmbeddingRun resolves it. */
export interface EmbeddingRun {
  /** Derived run id, `<embedder id, sanitised>-<hash>`. */
  runId: string;
  /** Absolute directory `data/embed/<runId>`. */
  dir: string;
  /** The parsed config (defaults filled), also in `dir/config.json`. */
  config: EmbedRunConfig;
  /** True when `dir` already holds a complete store: open it instead of embedding again. */
  complete: boolean;
  /** True when the run directory was already there (its config.json written by an earlier call). */
  existed: boolean;
}

/**
 * Resolve (and create) the run directory for `config` under `data/embed/`, writing its `config.json`.
 * Pass `run.dir`, `config.shardSize` and `config.dtype` on to embedToStore.
 * @throws SaerchError when the config is invalid
 */
export function openEmbeddingRun(config: z.input<typeof EmbedRunConfig>): EmbeddingRun {
  const parsed = EmbedRunConfig.safeParse(config);
  if (!parsed.success) throw new SaerchError(`invalid embedding run config: ${formatZodIssues(parsed.error)}`);
  const prefix = parsed.data.embedderId.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || undefined;
  const run = artefactRun(EMBED_STAGE, parsed.data, prefix);
  let complete = false;
  if (existsSync(join(run.dir, MANIFEST_FILE))) {
    try {
      complete = readManifest(run.dir).complete;
    } catch {
      complete = false;
    }
  }
  return { runId: run.runId, dir: run.dir, config: parsed.data, complete, existed: run.existed };
}
