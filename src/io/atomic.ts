/**
 * Atomic artefact writes: data goes to a temporary file in the same directory, is fsync'ed, then renamed
 * over the target. A crash leaves either the old file or the new one, never half of either.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, basename, join } from "node:path";

/** Temporary sibling path for `target`; matches the `*.tmp-*` pattern ignored by git. */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** fsync a directory so a rename inside it is durable (best effort: not every filesystem allows it). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Directories cannot be opened for fsync on some platforms; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Write `chunks` (in order) to `target` atomically, creating parent directories.
 * @param target final path
 * @param chunks byte chunks or strings (UTF-8), written back to back
 */
export function writeFileAtomic(target: string, chunks: Uint8Array | string | Array<Uint8Array | string>): void {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  const list = Array.isArray(chunks) ? chunks : [chunks];
  const fd = openSync(tmp, "w");
  try {
    for (const chunk of list) {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      let off = 0;
      while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, target);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(dirname(target));
}

/** Write a value as pretty JSON (2-space indent, trailing newline) atomically. */
export function writeJsonAtomic(target: string, value: unknown): void {
  writeFileAtomic(target, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A file written incrementally and published atomically: `write` appends to a temp file, `commit`
 * fsyncs and renames it over the target, `abort` deletes it. For artefacts too large to build in memory.
 */
export class AtomicFileWriter {
  readonly target: string;
  private readonly tmp: string;
  private fd: number | undefined;

  constructor(target: string) {
    this.target = target;
    mkdirSync(dirname(target), { recursive: true });
    this.tmp = tempPathFor(target);
    this.fd = openSync(this.tmp, "w");
  }

  /** Append bytes (or a UTF-8 string). */
  write(chunk: Uint8Array | string): void {
    if (this.fd === undefined) throw new Error(`AtomicFileWriter(${this.target}) is already closed`);
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(this.fd, bytes, off, bytes.byteLength - off);
  }

  /** fsync, close and rename into place. */
  commit(): void {
    if (this.fd === undefined) throw new Error(`AtomicFileWriter(${this.target}) is already closed`);
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.tmp, this.target);
    fsyncDir(dirname(this.target));
  }

  /** Close and delete the temporary file; the target is untouched. Safe to call twice. */
  abort(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    rmSync(this.tmp, { force: true });
  }
}
