/**
 * Corpus loaders (../shared/paper/METHOD.md §1): JSON Lines (plain or gzip, streamed), CSV and Parquet (read
 * whole) become `Doc`s through a field mapping. Titles and abstracts are whitespace normalised; empty and
 * short abstracts, duplicate ids and malformed records are dropped and counted in a `LoadReport`.
 *
 * Every record lands in exactly one bucket: `read = kept + malformed + duplicates + short + empty`.
 * Order of checks: parse → required fields (malformed) → empty abstract → short abstract → duplicate id. The
 * duplicate check compares against ids already *kept*, so a short first copy does not hide a good second one.
 */
import { createReadStream, readFileSync } from "node:fs";
import { pipeline, type Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import * as zlib from "node:zlib";
import { brotliDecompressSync, createGunzip, gunzipSync } from "node:zlib";
import { parse as parseCsv } from "csv-parse/sync";
import { asyncBufferFromFile, parquetReadObjects, type Compressors } from "hyparquet";
import { FormatError, SaerchError } from "../core/errors.js";
import type { Doc } from "./document.js";
import type { z } from "zod";
import { CorpusSource, parseCorpusConfig, type FieldMapping } from "./config.js";

/** What happened to the records of one load. */
export interface LoadReport {
  /** Records seen (non-blank lines, CSV rows, Parquet rows). */
  read: number;
  /** Records returned as Docs. */
  kept: number;
  /** Records skipped as malformed (only with `onError: "skip"`; otherwise the first one throws). */
  malformed: number;
  /** Records whose id had already been kept. */
  duplicates: number;
  /** Records whose abstract is non-empty but shorter than `minAbstractChars`. */
  short: number;
  /** Records whose abstract is empty after whitespace normalisation. */
  empty: number;
}

/** A report with every count at zero. */
export function emptyLoadReport(): LoadReport {
  return { read: 0, kept: 0, malformed: 0, duplicates: 0, short: 0, empty: 0 };
}

/** Options for {@link streamDocs} / {@link loadDocs}: a `CorpusSource` (unset fields take its defaults) plus a report. */
export type LoadOptions = z.input<typeof CorpusSource> & {
  /** Filled in while loading (pass one to read the counts of a stream). */
  report?: LoadReport;
};

/** A concrete file format. */
export type CorpusFormat = "jsonl" | "csv" | "parquet";

/**
 * The format implied by a file name: `.jsonl`, `.ndjson` (optionally `.gz`), `.csv` (optionally `.gz`),
 * `.parquet`. Throws a SaerchError naming the `format` option otherwise.
 */
export function detectFormat(path: string): CorpusFormat {
  const p = path.toLowerCase().replace(/\.gz$/, "");
  if (p.endsWith(".jsonl") || p.endsWith(".ndjson")) return "jsonl";
  if (p.endsWith(".csv")) return "csv";
  if (p.endsWith(".parquet") && !path.toLowerCase().endsWith(".gz")) return "parquet";
  throw new SaerchError(
    `cannot tell the format of ${path} from its name`,
    'name it .jsonl, .jsonl.gz, .csv or .parquet, or set format: "jsonl" | "csv" | "parquet"',
  );
}

/** Anything normalizeWhitespace would change: non-space whitespace, a double space, or an edge space. */
const NEEDS_NORMALIZING = /[^\S ]| {2}|^ | $/;

/**
 * Collapse every run of whitespace (newlines, tabs, non-breaking spaces) to one space and trim. Clean text
 * (the usual case) is returned as is after one scan, which is ~4x cheaper than always replacing.
 */
export function normalizeWhitespace(text: string): string {
  return NEEDS_NORMALIZING.test(text) ? text.replace(/\s+/g, " ").trim() : text;
}

/** One raw record and where it came from ("file:line" or "file (row n)"), or the reason it is unreadable. */
interface RawRecord {
  where: string;
  value?: unknown;
  error?: string;
}

/** Read size for JSON Lines: large chunks keep the per-chunk overhead small on the 125 MB shared corpus. */
const JSONL_CHUNK_BYTES = 1 << 20;

/**
 * JSON Lines, streamed chunk by chunk and split on "\n" with line numbers (gzip when the name ends in `.gz`).
 * Splitting by hand is ~3x faster than node:readline on the shared corpus.
 */
async function* jsonlRecords(path: string): AsyncGenerator<RawRecord> {
  const gz = path.toLowerCase().endsWith(".gz");
  const file = createReadStream(path, { highWaterMark: JSONL_CHUNK_BYTES });
  const input: Readable = gz
    ? pipeline(file, createGunzip({ chunkSize: JSONL_CHUNK_BYTES }), () => undefined)
    : file;
  const decoder = new StringDecoder("utf8");
  let lineNo = 0;
  let rest = "";
  function* lines(text: string): Generator<RawRecord> {
    for (const line of text.split("\n")) {
      lineNo++;
      if (line.trim() === "") continue;
      const where = `${path}:${lineNo}`;
      try {
        yield { where, value: JSON.parse(line) };
      } catch (err) {
        if (!(err instanceof SyntaxError)) throw err;
        yield { where, error: `invalid JSON (${err.message})` };
      }
    }
  }
  try {
    for await (const chunk of input) {
      const text = rest + decoder.write(chunk as Buffer);
      const cut = text.lastIndexOf("\n");
      if (cut < 0) {
        rest = text;
        continue;
      }
      rest = text.slice(cut + 1);
      yield* lines(text.slice(0, cut));
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new SaerchError(`corpus file not found: ${path}`, "check the path (source.path)");
    if (gz && code !== "EACCES" && code !== "EISDIR" && !(err instanceof SaerchError)) {
      throw new FormatError(`${path}:${lineNo + 1}`, `corrupt or truncated gzip data (${(err as Error).message})`);
    }
    throw err;
  } finally {
    input.destroy();
    file.destroy();
  }
  rest += decoder.end();
  if (rest.trim() !== "") yield* lines(rest);
}

function readWholeFile(path: string): Buffer {
  try {
    const bytes = readFileSync(path);
    if (!path.toLowerCase().endsWith(".gz")) return bytes;
    try {
      return gunzipSync(bytes);
    } catch (err) {
      throw new FormatError(path, `corrupt or truncated gzip data (${(err as Error).message})`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new SaerchError(`corpus file not found: ${path}`, "check the path (source.path)");
    }
    throw err;
  }
}

/** csv-parse's error fields that we report. */
interface CsvErrorLike {
  message: string;
  lines?: number;
}

/**
 * CSV with a header row, read whole. Quoted fields may hold commas and newlines; a record is located by the
 * line it starts on. A syntax error throws (or, with skip, csv-parse drops the record and we count it).
 */
function csvRecords(path: string, skip: boolean): RawRecord[] {
  const text = readWholeFile(path).toString("utf8");
  const out: RawRecord[] = [];
  const onSkip = (err: CsvErrorLike | undefined): undefined => {
    out.push({ where: `${path}:${err?.lines ?? "?"}`, error: err?.message ?? "unreadable CSV record" });
    return undefined;
  };
  let rows: Array<{ record: Record<string, string>; info: { lines: number }; raw: string }>;
  try {
    rows = parseCsv(text, {
      columns: true,
      info: true,
      raw: true,
      bom: true,
      skip_empty_lines: true,
      skip_records_with_error: skip,
      on_skip: onSkip,
    }) as unknown as typeof rows;
  } catch (err) {
    const e = err as CsvErrorLike;
    throw new FormatError(`${path}:${e.lines ?? "?"}`, `invalid CSV (${e.message})`, "fix the quoting, or load with onError: \"skip\"");
  }
  for (const row of rows) {
    // info.lines is the line the record ends on; count the newlines inside it to find where it starts.
    const body = row.raw.replace(/^(\r?\n)+/, "").replace(/\r?\n$/, "");
    const inner = body.split("\n").length - 1;
    out.push({ where: `${path}:${row.info.lines - inner}`, value: row.record });
  }
  return out;
}

/** zstd from node:zlib where this Node has it (22.15+); Node 20 does not. */
const zstdDecompressSync = (zlib as unknown as { zstdDecompressSync?: (b: Uint8Array) => Buffer }).zstdDecompressSync;

/** Page codecs beyond hyparquet's built-in UNCOMPRESSED and SNAPPY, from node:zlib. */
const PARQUET_CODECS: Compressors = {
  GZIP: (input) => new Uint8Array(gunzipSync(input)),
  BROTLI: (input) => new Uint8Array(brotliDecompressSync(input)),
  ...(zstdDecompressSync ? { ZSTD: (input: Uint8Array): Uint8Array => new Uint8Array(zstdDecompressSync(input)) } : {}),
};

/**
 * Parquet, read whole through hyparquet. Page codecs: uncompressed, snappy (hyparquet), gzip and brotli
 * (node:zlib), zstd only on a Node with zlib zstd (22.15+); LZ4/LZO files fail with a clear FormatError.
 */
async function parquetRecords(path: string): Promise<RawRecord[]> {
  let rows: Array<Record<string, unknown>>;
  try {
    const file = await asyncBufferFromFile(path);
    rows = await parquetReadObjects({ file, compressors: PARQUET_CODECS });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new SaerchError(`corpus file not found: ${path}`, "check the path (source.path)");
    }
    throw new FormatError(
      path,
      `cannot read Parquet (${(err as Error).message})`,
      "check the file is Parquet with uncompressed, snappy, gzip or brotli pages, or convert it to JSONL",
    );
  }
  return rows.map((value, i) => ({ where: `${path} (row ${i + 1})`, value }));
}

async function rawRecords(path: string, format: CorpusFormat, skip: boolean): Promise<AsyncIterable<RawRecord> | RawRecord[]> {
  if (format === "jsonl") return jsonlRecords(path);
  if (format === "csv") return csvRecords(path, skip);
  return parquetRecords(path);
}

function describeType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

/** The categories of a field value: an array of strings, a JSON array string, or a space/comma list. */
export function parseCategories(value: unknown): string[] | undefined {
  let list: unknown[];
  if (Array.isArray(value)) list = value;
  else if (typeof value === "string") {
    const s = value.trim();
    if (s.startsWith("[")) {
      try {
        const parsed: unknown = JSON.parse(s);
        if (!Array.isArray(parsed)) return undefined;
        list = parsed;
      } catch {
        return undefined;
      }
    } else list = s.split(/[\s,;]+/);
  } else return undefined;
  const out: string[] = [];
  for (const c of list) {
    if (typeof c !== "string") return undefined;
    const t = c.trim();
    if (t !== "" && !out.includes(t)) out.push(t);
  }
  return out;
}

/** YYYY-MM-DD of a date field value (a Date, or a string starting with YYYY-MM-DD), or undefined. */
function parseDate(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString().slice(0, "YYYY-MM-DD".length);
  if (typeof value !== "string") return undefined;
  const m = /^\s*(\d{4}-\d{2}-\d{2})/.exec(value);
  return m ? m[1] : undefined;
}

/**
 * Map one raw record to a Doc (title and abstract whitespace normalised).
 * @param value the parsed record (an object)
 * @param fields source field names
 * @param where "file:line" (or "file (row n)") for the error message
 * @throws FormatError naming `where` and the field when a required field is missing or has the wrong type
 */
export function recordToDoc(value: unknown, fields: FieldMapping, where: string): Doc {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FormatError(where, `expected an object record, got ${describeType(value)}`);
  }
  const rec = value as Record<string, unknown>;
  const fix = "check the record, or the field mapping (fields.*) if the file names its columns differently";
  const required = (name: keyof FieldMapping): unknown => {
    const key = fields[name];
    const v = rec[key];
    if (v === undefined || v === null) {
      throw new FormatError(where, `missing required field "${key}" (${name})`, fix);
    }
    return v;
  };
  const idRaw = required("id");
  const id = typeof idRaw === "string" ? idRaw.trim() : typeof idRaw === "number" || typeof idRaw === "bigint" ? String(idRaw) : undefined;
  if (id === undefined || id === "") {
    throw new FormatError(where, `field "${fields.id}" (id): expected a non-empty string, got ${describeType(idRaw)}`, fix);
  }
  const text = (name: "title" | "abstract"): string => {
    const v = required(name);
    if (typeof v !== "string") {
      throw new FormatError(where, `field "${fields[name]}" (${name}): expected a string, got ${describeType(v)}`, fix);
    }
    return normalizeWhitespace(v);
  };
  const title = text("title");
  const abstract = text("abstract");
  const catRaw = required("categories");
  const categories = parseCategories(catRaw);
  if (categories === undefined) {
    throw new FormatError(
      where,
      `field "${fields.categories}" (categories): expected an array of strings or a space/comma-separated string, got ${describeType(catRaw)}`,
      fix,
    );
  }
  const doc: Doc = { id, title, abstract, categories };
  if (fields.date !== "") {
    const raw = rec[fields.date];
    if (raw !== undefined && raw !== null && raw !== "") {
      const date = parseDate(raw);
      if (date === undefined) {
        throw new FormatError(where, `field "${fields.date}" (date): expected YYYY-MM-DD, got ${JSON.stringify(raw)}`, fix);
      }
      doc.date = date;
    }
  }
  return doc;
}

/**
 * Stream the usable documents of a corpus file. JSON Lines is read line by line (memory stays flat on the
 * 125 MB shared corpus); CSV and Parquet are read whole, then yielded. Counts go to `opts.report`.
 * @param opts source options (defaults: the shared corpus, its field names, minAbstractChars 100, throw on bad input)
 * @throws FormatError "<file>:<line>: …" on a malformed record unless `onError: "skip"`
 */
export async function* streamDocs(opts: LoadOptions = {}): AsyncGenerator<Doc> {
  const { report: given, ...rest } = opts;
  const cfg = parseCorpusConfig(CorpusSource, rest, "corpus source options");
  const report = given ?? emptyLoadReport();
  const format = cfg.format === "auto" ? detectFormat(cfg.path) : cfg.format;
  const skip = cfg.onError === "skip";
  const seen = new Set<string>();
  for await (const raw of await rawRecords(cfg.path, format, skip)) {
    report.read++;
    let doc: Doc;
    try {
      if (raw.error !== undefined) throw new FormatError(raw.where, raw.error, 'fix the record, or load with onError: "skip"');
      doc = recordToDoc(raw.value, cfg.fields, raw.where);
    } catch (err) {
      if (skip && err instanceof FormatError) {
        report.malformed++;
        continue;
      }
      throw err;
    }
    if (doc.abstract === "") {
      report.empty++;
      continue;
    }
    if (charLength(doc.abstract) < cfg.minAbstractChars) {
      report.short++;
      continue;
    }
    if (cfg.dedupe) {
      if (seen.has(doc.id)) {
        report.duplicates++;
        continue;
      }
      seen.add(doc.id);
    }
    report.kept++;
    yield doc;
  }
}

/**
 * Load every usable document of a corpus file into memory.
 * @param opts as {@link streamDocs}
 * @returns the documents in file order and the load report
 */
export async function loadDocs(opts: LoadOptions = {}): Promise<{ docs: Doc[]; report: LoadReport }> {
  const report = opts.report ?? emptyLoadReport();
  const docs: Doc[] = [];
  for await (const doc of streamDocs({ ...opts, report })) docs.push(doc);
  return { docs, report };
}

const SURROGATE_PAIR = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

/** Length in Unicode code points (what "characters" means in the corpus README), not UTF-16 units. */
export function charLength(text: string): number {
  const pairs = text.match(SURROGATE_PAIR);
  return pairs === null ? text.length : text.length - pairs.length;
}
