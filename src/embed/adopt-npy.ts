/**
 * The `npy` provider: adopt precomputed vectors (e.g. the paper's text-embedding-3-small embeddings, or
 * ../shared/embeddings/use-lite-512) as a normal embedding store, so every later stage reads them through
 * the same EmbeddingStore (paper §1: one vector per abstract, already unit-norm, used as they are).
 *
 * The source `.npy` `[N, D]` (float32 or float16) and its id list are validated first — D against the
 * dimension the embedder id names (a 384-d file cannot be filed as `use-lite:512`), ids vs rows, duplicate
 * ids, every value finite and no all-zero row, scanned in chunks — and only then copied, shard by shard,
 * into `dir`, holding its run lock (one process per store). Memory stays O(shardSize · D) whatever N is.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FormatError, SaerchError } from "../core/errors.js";
import { displayPath } from "../io/paths.js";
import { withRunLockSync } from "../io/run-lock.js";
import { embedderIdDim } from "./embedder-id.js";
import {
  type EmbeddingManifest,
  formatZodIssues,
  MANIFEST_FILE,
  SHARD_IDS_FORMAT,
  type ShardEntry,
  shardDigest,
  shardFileNames,
  STORE_FORMAT,
  STORE_VERSION,
  type StoreDtype,
  TEXT_HASH_ALGORITHM,
  textHash,
} from "./manifest.js";
import { checkDocs, checkVectors, EmbedStoreOptions, removeStaleFiles, writeManifest, writeShardFiles } from "./store.js";
import { NpyRowReader, readManifest } from "./store-reader.js";

/** Largest |norm − 1| over all rows for the store to record `normalization: "unit"` (float16 sources round to ~1e-3). */
export const UNIT_NORM_TOLERANCE = 1e-3;
/** Default provider name of adopted vectors. */
export const NPY_PROVIDER = "npy";
/** Note recorded when no texts were given. */
const NO_TEXTS_NOTE =
  "texts were not given: text hashes are null, so this store cannot serve as a cache for embedToStore and cannot tell whether a document's text changed";

/** Arguments of adoptNpy. */
export interface AdoptNpyArgs {
  /** Source `.npy`, `[N, D]` float32 or float16, C order. */
  embeddingsPath: string;
  /** Row ids: a JSON array of strings, or one id per line. */
  idsPath: string;
  /** Store directory to write. */
  dir: string;
  /** Provider name recorded in the manifest (default "npy"). */
  provider?: string;
  /** Model name recorded in the manifest, e.g. "text-embedding-3-small". */
  model: string;
  /** Embedder id (default `npy:<model>:<D>`); give the real provider's id (e.g. "use-lite:512") to share its cache. */
  embedderId?: string;
  /** The embedded texts: `[N]` aligned with the ids, or id → text. Enables text hashes. */
  texts?: readonly string[] | ReadonlyMap<string, string>;
  /** Storage precision (default float32). */
  dtype?: StoreDtype;
  /** Rows per shard (default 4096). */
  shardSize?: number;
}

/** What adoptNpy wrote. */
export interface AdoptNpyResult {
  /** Store directory. */
  dir: string;
  /** Rows N. */
  count: number;
  /** Dimension D. */
  dim: number;
  /** Shards written. */
  shards: number;
  /** Smallest row L2 norm of the source. */
  normMin: number;
  /** Largest row L2 norm of the source. */
  normMax: number;
  /** The final manifest. */
  manifest: EmbeddingManifest;
}

/**
 * Read an id list: a JSON array of non-empty strings, or plain text with one id per line (trailing blank
 * lines ignored, surrounding whitespace trimmed).
 * @throws FormatError for anything else (numbers, nested values, blank lines inside the list)
 */
export function readIdList(path: string): string[] {
  if (!existsSync(path)) throw new SaerchError(`id list ${path} not found`, "pass the ids file that belongs to the .npy");
  const text = readFileSync(path, "utf8");
  if (text.trimStart().startsWith("[")) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new FormatError(path, `not valid JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(json)) throw new FormatError(path, "expected a JSON array of id strings");
    json.forEach((v, i) => {
      if (typeof v !== "string" || v.length === 0) {
        throw new FormatError(path, `entry ${i} is ${JSON.stringify(v)}, not a non-empty string`, "ids must be strings");
      }
    });
    return json as string[];
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const blank = lines.indexOf("");
  if (blank >= 0) throw new FormatError(path, `line ${blank + 1} is blank`, "one id per line, no blank lines");
  return lines;
}

/** Per-row texts aligned with `ids`, from an array or a map. */
function alignTexts(ids: readonly string[], texts: readonly string[] | ReadonlyMap<string, string>): string[] {
  if (Array.isArray(texts)) {
    if (texts.length !== ids.length) {
      throw new SaerchError(`adoptNpy: ${texts.length} texts for ${ids.length} ids`, "pass one text per id, in id order, or a Map id → text");
    }
    return texts as string[];
  }
  const map = texts as ReadonlyMap<string, string>;
  const missing = ids.filter((id) => !map.has(id));
  if (missing.length > 0) {
    throw new SaerchError(
      `adoptNpy: ${missing.length} id(s) have no text, e.g. ${missing.slice(0, 3).map((id) => `"${id}"`).join(", ")}`,
      "give a text for every id, or leave texts out (text hashes will be null)",
    );
  }
  return ids.map((id) => map.get(id)!);
}

/**
 * Refuse vectors whose dimension is not the one their embedder id names.
 * @param embeddingsPath the source, named in the message
 * @throws SaerchError for e.g. a 384-d file adopted as `use-lite:512`
 */
export function checkAdoptedDim(embeddingsPath: string, dim: number, embedderId: string): void {
  const named = embedderIdDim(embedderId);
  if (named === undefined || named === dim) return;
  throw new SaerchError(
    `${embeddingsPath} holds ${dim}-d vectors, but the embedder id "${embedderId}" names ${named}-d ones: its stores, queries and SAEs would not fit them`,
    `pass the id of the model that made these vectors (or leave embedderId out: "${NPY_PROVIDER}:<model>:${dim}"), or the .npy that belongs to "${embedderId}"`,
  );
}

/**
 * Validate precomputed vectors and write them as an embedding store in `dir` (shards + manifest).
 * @throws SaerchError / FormatError naming the file and what is wrong (its dimension against the embedder id,
 *   the first bad row's id); RunInUseError when another process is writing `dir`
 */
export function adoptNpy(args: AdoptNpyArgs): AdoptNpyResult {
  const { embeddingsPath, idsPath, dir, provider = NPY_PROVIDER, model } = args;
  const opts = EmbedStoreOptions.safeParse({ shardSize: args.shardSize, dtype: args.dtype });
  if (!opts.success) throw new SaerchError(`adoptNpy: ${formatZodIssues(opts.error)}`);
  const { shardSize, dtype } = opts.data;
  if (!model) throw new SaerchError("adoptNpy: model is required", "name the model that made the vectors");
  if (!existsSync(embeddingsPath)) throw new SaerchError(`embeddings file ${embeddingsPath} not found`);

  const source = new NpyRowReader(embeddingsPath, undefined, "input");
  try {
    const { rows: n, dim } = source;
    const embedderId = args.embedderId ?? `${NPY_PROVIDER}:${model}:${dim}`;
    checkAdoptedDim(embeddingsPath, dim, embedderId);
    const ids = readIdList(idsPath);
    if (ids.length !== n) {
      throw new SaerchError(
        `${idsPath} lists ${ids.length} ids but ${embeddingsPath} has ${n} rows`,
        "pass the id list that belongs to this .npy (one id per row, in row order)",
      );
    }
    if (n === 0) throw new SaerchError(`${embeddingsPath} has no rows`);
    const texts = args.texts ? alignTexts(ids, args.texts) : undefined;
    checkDocs(ids.map((id, i) => ({ id, text: texts?.[i] ?? "" })));
    if (existsSync(join(dir, MANIFEST_FILE))) {
      const old = readManifest(dir);
      if (old.embedderId !== embedderId) {
        throw new SaerchError(`${dir} holds a store of ${old.embedderId}, not ${embedderId}`, "adopt into a separate directory");
      }
    }

    // pass 1: validate every row (finite, not all zero) and measure norms, chunk by chunk
    let normMin = Infinity;
    let normMax = -Infinity;
    const chunkCD: Float32Array = new Float32Array(shardSize * dim);
    for (let start = 0; start < n; start += shardSize) {
      const rows = Math.min(shardSize, n - start);
      source.readRowsInto(start, rows, chunkCD, 0);
      const view = chunkCD.subarray(0, rows * dim);
      checkVectors(view, ids.slice(start, start + rows), dim, embeddingsPath);
      for (let i = 0; i < rows; i++) {
        let acc = 0;
        for (let p = i * dim; p < (i + 1) * dim; p++) acc += view[p]! * view[p]!;
        const norm = Math.sqrt(acc);
        normMin = Math.min(normMin, norm);
        normMax = Math.max(normMax, norm);
      }
    }
    const unit = Math.max(Math.abs(normMin - 1), Math.abs(normMax - 1)) <= UNIT_NORM_TOLERANCE;

    const manifestFor = (shards: ShardEntry[], complete: boolean): EmbeddingManifest => ({
      format: STORE_FORMAT,
      version: STORE_VERSION,
      provider,
      model,
      embedderId,
      dim,
      count: n,
      dtype,
      normalization: unit ? "unit" : "none",
      shardSize,
      textHash: texts ? TEXT_HASH_ALGORITHM : null,
      complete,
      shards,
      source: { embeddings: displayPath(embeddingsPath), ids: displayPath(idsPath) },
      notes: texts ? [] : [NO_TEXTS_NOTE],
    });
    // pass 2, holding the store's lock: copy shard by shard
    const manifest = withRunLockSync(dir, "adopting vectors", () => {
      // a reader must never see an old manifest next to half-replaced shards
      if (existsSync(join(dir, MANIFEST_FILE))) writeManifest(dir, manifestFor([], false));
      const entries: ShardEntry[] = [];
      for (let start = 0, index = 0; start < n; start += shardSize, index++) {
        const rows = Math.min(shardSize, n - start);
        const shardIds = ids.slice(start, start + rows);
        const hashes = texts ? texts.slice(start, start + rows).map(textHash) : shardIds.map(() => null);
        const names = shardFileNames(index, shardDigest(embedderId, dim, dtype, shardIds, hashes));
        source.readRowsInto(start, rows, chunkCD, 0);
        writeShardFiles(
          dir,
          { format: SHARD_IDS_FORMAT, embedderId, dim, dtype, ids: shardIds, textHashes: hashes },
          names.file,
          names.idsFile,
          chunkCD.subarray(0, rows * dim),
        );
        entries.push({ index, start, rows, ...names });
      }
      const done = manifestFor(entries, true);
      writeManifest(dir, done);
      removeStaleFiles(dir, done);
      return done;
    });
    return { dir, count: n, dim, shards: manifest.shards.length, normMin, normMax, manifest };
  } finally {
    source.close();
  }
}
