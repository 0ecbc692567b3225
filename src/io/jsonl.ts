/**
 * JSON Lines: streaming reads (plain, or gzip when the path ends in `.gz`), atomic writes, and a crash-safe
 * append-only log (`JsonlAppender` + `readJsonlLog`) whose records are complete once their newline is on disk.
 */
import {
  closeSync,
  createReadStream,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  truncateSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { FormatError, SaerchError } from "../core/errors.js";
import { AtomicFileWriter } from "./atomic.js";

/** Options for {@link readJsonl}. */
export interface ReadJsonlOptions {
  /** What to do with a line that is not valid JSON: "throw" (default) a FormatError, or "skip" it. */
  onError?: "throw" | "skip";
  /** Filled in while reading: `lines` non-blank lines seen, `skipped` malformed lines skipped. */
  stats?: { skipped: number; lines: number };
}

const isGzip = (path: string): boolean => path.endsWith(".gz");

/** FormatError for line `lineNo` (1-based) of `path`; the message reads `path:lineNo: invalid JSON (...)`. */
function invalidLine(path: string, lineNo: number, err: unknown): FormatError {
  return new FormatError(`${path}:${lineNo}`, `invalid JSON (${(err as Error).message})`);
}

/**
 * Stream the records of a JSON Lines file (gzip-decompressed when `path` ends in `.gz`); blank lines are
 * ignored. A malformed line throws `FormatError("<path>:<lineNo>: invalid JSON (...)")`, or with
 * `onError: "skip"` is counted in `opts.stats.skipped`. A corrupt or truncated gzip stream throws FormatError.
 * @param path file to read
 * @param opts error handling and counters
 */
export async function* readJsonl<T = unknown>(path: string, opts: ReadJsonlOptions = {}): AsyncGenerator<T> {
  const onError = opts.onError ?? "throw";
  const file = createReadStream(path);
  const input = isGzip(path) ? file.pipe(createGunzip()) : file;
  let streamError: Error | undefined;
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  // Errors of the file or gunzip stream end the line iteration; rethrown below with the file name.
  const onStreamError = (err: Error): void => {
    streamError ??= err;
    rl.close();
  };
  file.on("error", onStreamError);
  if (input !== file) input.on("error", onStreamError);
  let lineNo = 0;
  try {
    for await (const line of rl) {
      lineNo++;
      if (line.trim() === "") continue;
      if (opts.stats) opts.stats.lines++;
      let value: T;
      try {
        value = JSON.parse(line) as T;
      } catch (err) {
        if (onError === "skip") {
          if (opts.stats) opts.stats.skipped++;
          continue;
        }
        throw invalidLine(path, lineNo, err);
      }
      yield value;
    }
  } catch (err) {
    if (err instanceof SaerchError || streamError === undefined) throw err;
  } finally {
    rl.close();
    file.destroy();
  }
  if (streamError !== undefined) {
    const code = (streamError as NodeJS.ErrnoException).code;
    if (input !== file && code !== "ENOENT" && code !== "EACCES" && code !== "EISDIR") {
      throw new FormatError(path, `corrupt or truncated gzip data (${streamError.message})`);
    }
    throw streamError;
  }
}

/**
 * Write rows as JSON Lines atomically (gzip-compressed when `path` ends in `.gz`).
 * @param path target file (parent directories are created)
 * @param rows JSON-serialisable values, one per line
 * @returns the number of rows written
 */
export async function writeJsonl(
  path: string,
  rows: Iterable<unknown> | AsyncIterable<unknown>,
): Promise<number> {
  const writer = new AtomicFileWriter(path);
  let count = 0;
  async function* lines(): AsyncGenerator<string> {
    let batch = "";
    for await (const row of rows) {
      const json = JSON.stringify(row);
      if (json === undefined)
        throw new SaerchError(`writeJsonl(${path}): row ${count} is not JSON-serialisable`);
      batch += `${json}\n`;
      count++;
      if (batch.length >= 1 << 16) {
        yield batch;
        batch = "";
      }
    }
    if (batch) yield batch;
  }
  const sink = new Writable({
    write(chunk: Buffer, _enc, done): void {
      try {
        writer.write(chunk);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
  try {
    if (isGzip(path)) await pipeline(Readable.from(lines()), createGzip(), sink);
    else await pipeline(Readable.from(lines()), sink);
    writer.commit();
  } catch (err) {
    writer.abort();
    throw err;
  }
  return count;
}

/** Options for {@link JsonlAppender}. */
export interface JsonlAppenderOptions {
  /** fsync after every record (default true), so an acknowledged record survives a crash. */
  fsync?: boolean;
}

/** Length of `path` up to and including its last newline (0 when it has none). */
function completeLength(fd: number, size: number): number {
  const buf = Buffer.alloc(1 << 16);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - buf.length);
    const n = readSync(fd, buf, 0, end - start, start);
    const idx = buf.subarray(0, n).lastIndexOf(0x0a);
    if (idx >= 0) return start + idx + 1;
    end = start;
  }
  return 0;
}

/**
 * Crash-safe append-only JSON Lines log. Each `append` is one `write` of a whole line on a file opened in
 * append mode, then (by default) an fsync. On open, a partial final line left by a crash (bytes after the
 * last newline) is cut off, so new records never join onto it.
 */
export class JsonlAppender {
  readonly path: string;
  private fd: number | undefined;
  private readonly fsync: boolean;

  /**
   * Open (creating if needed) the log at `path`.
   * @param path log file (parent directories are created)
   * @param opts `fsync` after every record (default true)
   */
  constructor(path: string, opts: JsonlAppenderOptions = {}) {
    this.path = path;
    this.fsync = opts.fsync ?? true;
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, "a+");
    const size = fstatSync(this.fd).size;
    const keep = completeLength(this.fd, size);
    if (keep < size) {
      truncateSync(path, keep);
      if (this.fsync) fsyncSync(this.fd);
    }
  }

  /**
   * Append one record as a single line.
   * @param record any JSON-serialisable value
   */
  append(record: unknown): void {
    if (this.fd === undefined) throw new SaerchError(`JsonlAppender(${this.path}) is closed`);
    const json = JSON.stringify(record);
    if (json === undefined)
      throw new SaerchError(`JsonlAppender(${this.path}): record is not JSON-serialisable`);
    const bytes = Buffer.from(`${json}\n`, "utf8");
    let off = writeSync(this.fd, bytes);
    // A regular file takes the whole line in one write; finish a short write rather than lose the tail.
    while (off < bytes.byteLength) off += writeSync(this.fd, bytes, off);
    if (this.fsync) fsyncSync(this.fd);
  }

  /** Close the file; safe to call twice. */
  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/**
 * Read every complete record of an append-only JSON Lines log (see {@link JsonlAppender}). A final line with
 * no newline (a write cut short by a crash) is ignored; a missing file is an empty log; blank lines are
 * skipped; a malformed complete line throws `FormatError("<path>:<lineNo>: invalid JSON (...)")`.
 * @param path log file
 * @returns the records in file order
 */
export function readJsonlLog<T = unknown>(path: string): T[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const lines = text.split("\n");
  lines.pop(); // "" after the last newline, or a partial line left by a crash
  const out: T[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch (err) {
      throw invalidLine(path, i + 1, err);
    }
  }
  return out;
}
