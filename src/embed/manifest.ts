/**
 * The on-disk format of an embedding store (paper §1: one dense vector per document, e.g. the
 * `title + "\n\n" + abstract` text embedded by text-embedding-3-small, d = 1536): zod schemas for
 * `manifest.json` and the per-shard id files, the shard file names, and the per-document text hash.
 *
 * Layout of a store directory `data/embed/<runId>/`:
 * ```
 * config.json                          the config that produced it (artefactRun)
 * manifest.json                        EmbeddingManifest: provider, model, embedder id, dim, count, dtype, shards
 * shard-00000-<digest>.npy             [rows, D] float32 (or float16) vectors, rows in document order
 * shard-00000-<digest>.ids.json        ShardIds: the rows' document ids and text hashes
 * ```
 * `<digest>` hashes the shard's ids, text hashes, embedder id, dim and dtype, so a shard whose documents
 * change gets a new file name: an old shard is never overwritten while it may still serve as a cache.
 * The id files carry the embedder id, dim and dtype themselves, so every shard pair is self-describing.
 */
import { createHash } from "node:crypto";
import { z } from "zod";

/** Value of `manifest.format`: identifies a saerch embedding store. */
export const STORE_FORMAT = "saerch-embedding-store";
/** Value of `ShardIds.format`. */
export const SHARD_IDS_FORMAT = "saerch-embedding-shard-ids";
/** Version of the layout described above; bump on an incompatible change. */
export const STORE_VERSION = 1;
/** Name of the manifest inside a store directory. */
export const MANIFEST_FILE = "manifest.json";
/** Hex characters kept from SHA-256 for a text hash: 64 bits, collision-free for any realistic corpus. */
export const TEXT_HASH_CHARS = 16;
/** Hex characters of the shard digest in file names (32 bits: only has to differ between versions of one shard). */
export const SHARD_DIGEST_CHARS = 8;
/** Digits of the shard index in file names (100k shards × 4096 rows ≫ any corpus). */
const SHARD_INDEX_DIGITS = 5;
/** Name of the text-hash algorithm, recorded in the manifest. */
export const TEXT_HASH_ALGORITHM = "sha256-utf8-hex16";

/** Storage precision of the vectors. float16 halves the disk size; readers always return float32. */
export const StoreDtype = z
  .enum(["float32", "float16"])
  .describe("Storage precision: float32 keeps the provider's vectors exactly (the paper trains in fp32); float16 halves disk and I/O");
/** Storage precision of the vectors. */
export type StoreDtype = z.infer<typeof StoreDtype>;

/** A text hash: the first 16 hex digits of SHA-256 of the UTF-8 text. */
const TextHash = z.string().regex(/^[0-9a-f]{16}$/, "a text hash is 16 lowercase hex digits");

/** One shard as the manifest lists it. */
export const ShardEntry = z.strictObject({
  index: z.number().int().nonnegative().describe("Position of the shard in the store, 0-based"),
  start: z.number().int().nonnegative().describe("Store row of the shard's first row"),
  rows: z.number().int().positive().describe("Rows in the shard (shardSize, or fewer for the last one)"),
  file: z.string().regex(/^shard-\d{5}-[0-9a-f]{8}\.npy$/).describe("The shard's .npy file, [rows, D]"),
  idsFile: z.string().regex(/^shard-\d{5}-[0-9a-f]{8}\.ids\.json$/).describe("The shard's ShardIds file"),
});
/** One shard as the manifest lists it. */
export type ShardEntry = z.infer<typeof ShardEntry>;

/** `manifest.json` of an embedding store. */
export const EmbeddingManifest = z.strictObject({
  format: z.literal(STORE_FORMAT).describe("Identifies the file as a saerch embedding-store manifest"),
  version: z.literal(STORE_VERSION).describe("Layout version; readers reject versions they do not know"),
  provider: z.string().min(1).describe("Embedder.provider: openai | use-lite | transformers | npy"),
  model: z.string().min(1).describe("Model name as the provider knows it"),
  embedderId: z.string().min(1).describe("Embedder.id: vectors are reused as a cache only under the same id"),
  dim: z.number().int().positive().describe("Embedding dimension D (1536 for text-embedding-3-small)"),
  count: z.number().int().nonnegative().describe("Documents (rows) in the finished store"),
  dtype: StoreDtype,
  normalization: z
    .enum(["unit", "none"])
    .describe("'unit' when the rows have unit L2 norm as the provider made them (the paper's vectors are); the store never rescales"),
  shardSize: z.number().int().positive().describe("Rows per shard (the last shard may be shorter)"),
  textHash: z
    .literal(TEXT_HASH_ALGORITHM)
    .nullable()
    .describe("How the per-document text hashes in the id files were made; null when the texts were unknown (adopted vectors)"),
  complete: z.boolean().describe("False while a writer is still adding shards; readers refuse incomplete stores"),
  shards: z.array(ShardEntry).describe("The shards, in row order"),
  source: z
    .record(z.string(), z.string())
    .optional()
    .describe("Where adopted vectors came from (repo-relative paths), absent for embedded stores"),
  notes: z.array(z.string()).default([]).describe("Human-readable remarks, e.g. why text hashes are missing"),
});
/** `manifest.json` of an embedding store. */
export type EmbeddingManifest = z.infer<typeof EmbeddingManifest>;

/** The `*.ids.json` file beside each shard: which documents its rows are, and what text each came from. */
export const ShardIds = z
  .strictObject({
    format: z.literal(SHARD_IDS_FORMAT).describe("Identifies a shard id file"),
    embedderId: z.string().min(1).describe("Embedder.id that produced the rows (makes the shard usable as a cache on its own)"),
    dim: z.number().int().positive().describe("Embedding dimension D"),
    dtype: StoreDtype,
    ids: z.array(z.string().min(1)).describe("Document id of each row, in row order"),
    textHashes: z
      .array(TextHash.nullable())
      .describe("textHash(text) of each row's embedded text; null where the text is unknown"),
  })
  .refine((s) => s.ids.length === s.textHashes.length, {
    message: "ids and textHashes differ in length",
  });
/** The `*.ids.json` file beside each shard. */
export type ShardIds = z.infer<typeof ShardIds>;

/**
 * Hash of the exact text that was embedded: first 16 hex digits of SHA-256 over its UTF-8 bytes.
 * Equal hashes under the same embedder id mean the cached vector can be reused.
 */
export function textHash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, TEXT_HASH_CHARS);
}

/** Content digest of a shard: its ids, text hashes, embedder id, dim and dtype (8 hex digits). */
export function shardDigest(
  embedderId: string,
  dim: number,
  dtype: StoreDtype,
  ids: readonly string[],
  textHashes: ReadonlyArray<string | null>,
): string {
  const h = createHash("sha256");
  h.update(JSON.stringify([embedderId, dim, dtype, ids.length]));
  for (let i = 0; i < ids.length; i++) h.update(`\n${ids[i]!}\t${textHashes[i] ?? "-"}`);
  return h.digest("hex").slice(0, SHARD_DIGEST_CHARS);
}

/** File names of shard `index` with content `digest`: `{ file: "shard-00003-ab12cd34.npy", idsFile: "….ids.json" }`. */
export function shardFileNames(index: number, digest: string): { file: string; idsFile: string } {
  const stem = `shard-${String(index).padStart(SHARD_INDEX_DIGITS, "0")}-${digest}`;
  return { file: `${stem}.npy`, idsFile: `${stem}.ids.json` };
}

/** Matches a shard id file name; group 1 is the stem (`shard-00003-ab12cd34`). */
export const SHARD_IDS_FILE_PATTERN = /^(shard-\d{5}-[0-9a-f]{8})\.ids\.json$/;
/** Matches any shard file (npy or ids) name. */
export const SHARD_FILE_PATTERN = /^shard-\d{5}-[0-9a-f]{8}\.(npy|ids\.json)$/;

/** Bytes per stored element of a dtype. */
export function dtypeBytes(dtype: StoreDtype): number {
  return dtype === "float32" ? 4 : 2;
}

/** The `.npy` descr of a store dtype. */
export function npyDescr(dtype: StoreDtype): "<f4" | "<f2" {
  return dtype === "float32" ? "<f4" : "<f2";
}

/** Format zod issues as one line per issue: `path: message`. */
export function formatZodIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}
