/**
 * What besides the config makes a result (CONVENTIONS.md, "a run id is derived from the config"): the
 * content hashes that enter run ids — of a file (memoised by its stat, so gigabytes are hashed once per
 * process and only again when the file changes), of a stage's prompt templates (rendered on fixed probe
 * inputs, so any change of wording, order or marker changes the hash), and of a corpus (ids and text
 * hashes, never its path). Stage algorithm versions live beside each stage (`*_STAGE_VERSION`).
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { stableStringify } from "./artefact.js";

/** Hex characters of a content hash kept in run identities: 16 = 64 bits, collision-free at any realistic scale. */
export const IDENTITY_HASH_CHARS = 16;

/** SHA-256 (hex, 64 digits) of bytes or a UTF-8 string. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A file's stat fields that change whenever its content can have changed (ctime cannot be set back by a user). */
export interface FileStamp {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/** The stamp of `path` (throws ENOENT when missing). */
export function fileStamp(path: string): FileStamp {
  const st = statSync(path);
  return { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
}

/** True when two stamps describe the same unchanged file. */
export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

/** Bytes read per call while hashing a file (files of gigabytes are never held in memory whole). */
const HASH_CHUNK_BYTES = 8 * 1024 * 1024;

/** SHA-256 (hex) of a file's bytes, read in chunks. */
function hashFile(path: string): string {
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
  const fd = openSync(path, "r");
  try {
    for (;;) {
      const got = readSync(fd, buf, 0, buf.length, null);
      if (got === 0) break;
      h.update(buf.subarray(0, got));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

/** path → the stamp and SHA-256 of its last hashing in this process. */
const fileHashMemo = new Map<string, { stamp: FileStamp; sha256: string }>();

/**
 * SHA-256 (hex) of a file's bytes, hashed once per process while its stamp stays the same.
 * @param path the file
 * @param known an earlier recorded `{stamp, sha256}` (e.g. from a sidecar): trusted while the stamp matches
 */
export function fileSha256(path: string, known?: { stamp: FileStamp; sha256: string }): string {
  const stamp = fileStamp(path);
  if (known !== undefined && sameStamp(known.stamp, stamp)) return known.sha256;
  const memo = fileHashMemo.get(path);
  if (memo !== undefined && sameStamp(memo.stamp, stamp)) return memo.sha256;
  const sha256 = hashFile(path);
  fileHashMemo.set(path, { stamp, sha256 });
  return sha256;
}

/**
 * Hash of a stage's prompt templates: the stable JSON of the messages its builders render on fixed probe
 * inputs (16 hex digits). Pass every builder's output; a change of any template string changes the hash.
 */
export function promptsHash(rendered: unknown): string {
  return sha256Hex(stableStringify(rendered)).slice(0, IDENTITY_HASH_CHARS);
}

/**
 * Content hash of a corpus in store order: SHA-256 over each document's id and text hash (16 hex
 * digits). Equal for the same documents read from any path; a changed id, text or order changes it.
 * @param ids `[N]` document ids
 * @param textHashes `[N]` textHash of each document's text (null where unknown)
 */
export function corpusContentHash(ids: readonly string[], textHashes: ReadonlyArray<string | null>): string {
  const h = createHash("sha256");
  h.update(`${ids.length}`);
  for (let i = 0; i < ids.length; i++) h.update(`\n${ids[i]!}\t${textHashes[i] ?? "-"}`);
  return h.digest("hex").slice(0, IDENTITY_HASH_CHARS);
}
