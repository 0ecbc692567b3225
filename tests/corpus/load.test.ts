/**
 * Tests for src/corpus/load.ts: JSONL, JSONL.gz, CSV and Parquet fixtures through the field mapping; the load
 * report (duplicates, short, empty, malformed); "file:line" errors; and one pass over the real shared corpus.
 *
 * No Parquet writer is installed (hyparquet only reads; pyarrow is absent), so `writeTinyParquet` below builds
 * a Parquet file by hand from the format spec: one row group, uncompressed PLAIN data pages v1, UTF8 byte-array
 * columns and one LIST<string> column (repetition/definition levels as RLE runs of length 1), Thrift compact
 * metadata. hyparquet reading it back is itself part of the test.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FormatError, SaerchError } from "../../src/core/errors.js";
import { SHARED_CORPUS_FILE } from "../../src/corpus/config.js";
import type { Doc } from "../../src/corpus/document.js";
import {
  charLength,
  detectFormat,
  emptyLoadReport,
  loadDocs,
  normalizeWhitespace,
  parseCategories,
  streamDocs,
} from "../../src/corpus/load.js";
import { hasAnyCategory, stratifiedSample } from "../../src/corpus/select.js";
import { CorpusStatsAccumulator } from "../../src/corpus/stats.js";
import { repoPath, sharedDir, sharedPath } from "../../src/io/paths.js";
import { rejection } from "../helpers/rejection.js";

const FIX = repoPath("tests", "fixtures", "corpus");
const fixture = (name: string): string => join(FIX, name);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "saerch-corpus-load-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------
// A minimal Parquet writer (test-only): Thrift compact protocol + PLAIN pages.

type TValue =
  | { t: "i32" | "i64"; v: number }
  | { t: "bin"; v: string }
  | { t: "list"; elem: "i32" | "bin" | "struct"; v: TValue[] }
  | { t: "struct"; v: Array<[number, TValue]> };
const TYPE_ID = { i32: 5, i64: 6, bin: 8, list: 9, struct: 12 } as const;
const i32 = (v: number): TValue => ({ t: "i32", v });
const i64 = (v: number): TValue => ({ t: "i64", v });
const bin = (v: string): TValue => ({ t: "bin", v });
const struct = (...v: Array<[number, TValue]>): TValue => ({ t: "struct", v });
const list = (elem: "i32" | "bin" | "struct", v: TValue[]): TValue => ({ t: "list", elem, v });

function varint(out: number[], n: number): void {
  let x = n;
  while (x >= 0x80) {
    out.push((x % 0x80) | 0x80);
    x = Math.floor(x / 0x80);
  }
  out.push(x);
}

function writeThrift(out: number[], val: TValue): void {
  switch (val.t) {
    case "i32":
    case "i64":
      varint(out, val.v >= 0 ? val.v * 2 : -val.v * 2 - 1); // zigzag
      return;
    case "bin": {
      const bytes = Buffer.from(val.v, "utf8");
      varint(out, bytes.length);
      out.push(...bytes);
      return;
    }
    case "list":
      if (val.v.length < 15) out.push((val.v.length << 4) | TYPE_ID[val.elem]);
      else {
        out.push(0xf0 | TYPE_ID[val.elem]);
        varint(out, val.v.length);
      }
      for (const e of val.v) writeThrift(out, e);
      return;
    case "struct": {
      let last = 0;
      for (const [id, f] of val.v) {
        out.push(((id - last) << 4) | TYPE_ID[f.t]); // field ids ascend by < 16 here
        last = id;
        writeThrift(out, f);
      }
      out.push(0); // stop
      return;
    }
  }
}

const thrift = (val: TValue): Buffer => {
  const out: number[] = [];
  writeThrift(out, val);
  return Buffer.from(out);
};

const u32le = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

/** PLAIN byte arrays: 4-byte little-endian length + UTF-8 bytes each. */
const plainStrings = (values: string[]): Buffer =>
  Buffer.concat(values.flatMap((v) => [u32le(Buffer.byteLength(v)), Buffer.from(v, "utf8")]));

/** RLE/bit-packed hybrid levels of bit width 1, one RLE run per value, with the v1 page's 4-byte length. */
const levels = (values: number[]): Buffer => {
  const body = Buffer.from(values.flatMap((v) => [0x02, v])); // run header (1 << 1) | 0, then the value
  return Buffer.concat([u32le(body.length), body]);
};

/**
 * Parquet file with string columns `stringCols` (REQUIRED UTF8) and one REQUIRED LIST<string> column
 * `listCol` (3-level list: <name> (LIST) → list (REPEATED) → element), one row group.
 */
function writeTinyParquet(
  path: string,
  stringCols: Record<string, string[]>,
  listCol: { name: string; rows: string[][] },
  codec: "UNCOMPRESSED" | "GZIP" = "UNCOMPRESSED",
): void {
  const codecId = codec === "GZIP" ? 2 : 0;
  const numRows = listCol.rows.length;
  const chunks: Buffer[] = [Buffer.from("PAR1")];
  let offset = 4;
  const columnChunks: TValue[] = [];
  const addChunk = (pathInSchema: string[], numValues: number, rawBody: Buffer): void => {
    const pageBody = codec === "GZIP" ? gzipSync(rawBody) : rawBody;
    const header = thrift(
      struct(
        [1, i32(0)], // DATA_PAGE
        [2, i32(rawBody.length)],
        [3, i32(pageBody.length)],
        [5, struct([1, i32(numValues)], [2, i32(0)], [3, i32(3)], [4, i32(3)])], // PLAIN values, RLE levels
      ),
    );
    const size = header.length + pageBody.length;
    columnChunks.push(
      struct(
        [2, i64(offset)],
        [
          3,
          struct(
            [1, i32(6)], // BYTE_ARRAY
            [2, list("i32", [i32(0), i32(3)])],
            [3, list("bin", pathInSchema.map(bin))],
            [4, i32(codecId)], // UNCOMPRESSED or GZIP
            [5, i64(numValues)],
            [6, i64(header.length + rawBody.length)],
            [7, i64(size)],
            [9, i64(offset)],
          ),
        ],
      ),
    );
    chunks.push(header, pageBody);
    offset += size;
  };
  const schema: TValue[] = [struct([4, bin("schema")], [5, i32(Object.keys(stringCols).length + 1)])];
  for (const [name, values] of Object.entries(stringCols)) {
    schema.push(struct([1, i32(6)], [3, i32(0)], [4, bin(name)], [6, i32(0)])); // REQUIRED BYTE_ARRAY UTF8
    addChunk([name], values.length, plainStrings(values));
  }
  schema.push(
    struct([3, i32(0)], [4, bin(listCol.name)], [5, i32(1)], [6, i32(3)]), // REQUIRED group, LIST
    struct([3, i32(2)], [4, bin("list")], [5, i32(1)]), // REPEATED group
    struct([1, i32(6)], [3, i32(0)], [4, bin("element")], [6, i32(0)]), // REQUIRED UTF8 leaf
  );
  const flat = listCol.rows.flat();
  const rep = listCol.rows.flatMap((r) => r.map((_, j) => (j === 0 ? 0 : 1)));
  const def = flat.map(() => 1);
  addChunk([listCol.name, "list", "element"], flat.length, Buffer.concat([levels(rep), levels(def), plainStrings(flat)]));
  const footer = thrift(
    struct(
      [1, i32(1)],
      [2, list("struct", schema)],
      [3, i64(numRows)],
      [4, list("struct", [struct([1, list("struct", columnChunks)], [2, i64(offset - 4)], [3, i64(numRows)])])],
    ),
  );
  chunks.push(footer, u32le(footer.length), Buffer.from("PAR1"));
  writeFileSync(path, Buffer.concat(chunks));
}

// ---------------------------------------------------------------------------------------------------------

/** The four usable documents of docs.jsonl, as the loader must return them. */
const EXPECTED_IDS = ["2501.00001", "2501.00002", "2501.00003", "2501.00006"];

describe("helpers", () => {
  it("normalises whitespace, including tabs, newlines and non-breaking spaces", () => {
    expect(normalizeWhitespace("  Dark  matter\n\thalos\u00a0now ")).toBe("Dark matter halos now");
    expect(normalizeWhitespace("already clean")).toBe("already clean");
    expect(normalizeWhitespace(" \n ")).toBe("");
  });

  it("parses categories from arrays, space/comma/semicolon lists and JSON array strings", () => {
    expect(parseCategories(["cs.LG", " stat.ML ", "cs.LG"])).toEqual(["cs.LG", "stat.ML"]);
    expect(parseCategories("astro-ph.GA astro-ph.CO")).toEqual(["astro-ph.GA", "astro-ph.CO"]);
    expect(parseCategories("cs.LG, stat.ML;cs.AI")).toEqual(["cs.LG", "stat.ML", "cs.AI"]);
    expect(parseCategories('["cs.CV","cs.AI"]')).toEqual(["cs.CV", "cs.AI"]);
    expect(parseCategories("")).toEqual([]);
    expect(parseCategories(42)).toBeUndefined();
    expect(parseCategories([1, 2])).toBeUndefined();
  });

  it("detects formats from file names and names the option otherwise", () => {
    expect(detectFormat("a/b.jsonl.gz")).toBe("jsonl");
    expect(detectFormat("b.NDJSON")).toBe("jsonl");
    expect(detectFormat("c.csv.gz")).toBe("csv");
    expect(detectFormat("d.parquet")).toBe("parquet");
    expect(() => detectFormat("e.txt")).toThrow(/format/);
  });

  it("counts characters as code points", () => {
    expect(charLength("abc")).toBe(3);
    expect(charLength("𝛼β")).toBe(2); // 𝛼 is a surrogate pair in UTF-16
  });
});

describe("JSONL", () => {
  it("maps fields, normalises text and reports duplicates, short and empty abstracts", async () => {
    const report = emptyLoadReport();
    const docs: Doc[] = [];
    for await (const d of streamDocs({ path: fixture("docs.jsonl"), report })) docs.push(d);
    expect(docs.map((d) => d.id)).toEqual(EXPECTED_IDS);
    // 8 lines, one blank: 7 records = 4 kept + 1 duplicate + 1 short + 1 empty.
    expect(report).toEqual({ read: 7, kept: 4, malformed: 0, duplicates: 1, short: 1, empty: 1 });
    const first = docs[0]!;
    expect(first.title).toBe("Dark matter halos"); // "Dark  matter\n halos" normalised
    expect(first.abstract).not.toMatch(/\s{2}|\n/);
    expect(first.categories).toEqual(["astro-ph.GA", "astro-ph.CO"]);
    expect(first.date).toBe("2025-01-02");
    expect(docs[3]!.date).toBeUndefined(); // no listing_date field
    expect("date" in docs[3]!).toBe(false);
    expect(Object.keys(first).sort()).toEqual(["abstract", "categories", "date", "id", "title"]);
  });

  it("keeps short abstracts when minAbstractChars is lowered, and duplicates without dedupe", async () => {
    const { docs, report } = await loadDocs({ path: fixture("docs.jsonl"), minAbstractChars: 0, dedupe: false });
    expect(docs.map((d) => d.id)).toEqual(["2501.00001", "2501.00002", "2501.00003", "2501.00001", "2501.00004", "2501.00006"]);
    expect(report).toEqual({ read: 7, kept: 6, malformed: 0, duplicates: 0, short: 0, empty: 1 });
  });

  it("reads gzip JSONL identically", async () => {
    const gz = join(dir, "docs.jsonl.gz");
    writeFileSync(gz, gzipSync(readFileSync(fixture("docs.jsonl"))));
    const plain = await loadDocs({ path: fixture("docs.jsonl") });
    const zipped = await loadDocs({ path: gz });
    expect(zipped).toEqual(plain);
  });

  it("reads a final line without a newline and CRLF line ends", async () => {
    const p = join(dir, "crlf.jsonl");
    const lines = readFileSync(fixture("docs.jsonl"), "utf8").trimEnd().split("\n");
    writeFileSync(p, lines.join("\r\n"));
    const { docs } = await loadDocs({ path: p });
    expect(docs.map((d) => d.id)).toEqual(EXPECTED_IDS);
  });

  it("names file and line of a malformed line", async () => {
    const path = fixture("bad-line.jsonl");
    const err = await rejection(() => loadDocs({ path }));
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toContain(`${path}:3: invalid JSON`);
    expect(err.message).toContain("onError");
  });

  it('skips and counts malformed lines with onError: "skip"', async () => {
    const { docs, report } = await loadDocs({ path: fixture("bad-line.jsonl"), onError: "skip" });
    expect(docs.map((d) => d.id)).toEqual(["2501.00001", "2501.00002", "2501.00003"]);
    expect(report).toEqual({ read: 4, kept: 3, malformed: 1, duplicates: 0, short: 0, empty: 0 });
  });

  it("names file, line and field of a missing required field", async () => {
    const path = fixture("missing-field.jsonl");
    const err = await rejection(() => loadDocs({ path }));
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toContain(`${path}:3: missing required field "abstract"`);
    const skipped = await loadDocs({ path, onError: "skip" });
    expect(skipped.report.malformed).toBe(1);
    expect(skipped.docs).toHaveLength(2);
  });

  it("uses the field mapping (and names the mapped field in errors)", async () => {
    const p = join(dir, "renamed.jsonl");
    const rec = { arxiv_id: 1234, name: "T", summary: "x".repeat(120), cats: "cs.LG stat.ML", published: "2024-01-02T10:00:00Z" };
    writeFileSync(p, `${JSON.stringify(rec)}\n`);
    const fields = { id: "arxiv_id", title: "name", abstract: "summary", categories: "cats", date: "published" };
    const { docs } = await loadDocs({ path: p, fields });
    expect(docs).toEqual([{ id: "1234", title: "T", abstract: "x".repeat(120), categories: ["cs.LG", "stat.ML"], date: "2024-01-02" }]);
    const err = await rejection(() => loadDocs({ path: p }));
    expect(err.message).toContain(`${p}:1: missing required field "id"`);
  });

  it("rejects mistyped fields and bad dates with the field named", async () => {
    const p = join(dir, "typed.jsonl");
    const base = { id: "a", title: "t", abstract: "y".repeat(120), categories: ["cs.LG"] };
    writeFileSync(p, `${JSON.stringify({ ...base, title: 7 })}\n`);
    expect((await rejection(() => loadDocs({ path: p }))).message).toMatch(/:1: field "title" \(title\): expected a string, got number/);
    writeFileSync(p, `${JSON.stringify({ ...base, categories: { a: 1 } })}\n`);
    expect((await rejection(() => loadDocs({ path: p }))).message).toMatch(/field "categories"/);
    writeFileSync(p, `${JSON.stringify({ ...base, listing_date: "Jan 2" })}\n`);
    expect((await rejection(() => loadDocs({ path: p }))).message).toMatch(/field "listing_date" \(date\): expected YYYY-MM-DD/);
    writeFileSync(p, `${JSON.stringify([1, 2])}\n`);
    expect((await rejection(() => loadDocs({ path: p }))).message).toMatch(/:1: expected an object record, got array/);
  });

  it("reports invalid options as one SaerchError listing the fields", async () => {
    const err = await rejection(() => loadDocs({ path: fixture("docs.jsonl"), minAbstractChars: -1, onError: "ignore" as "skip" }));
    expect(err).toBeInstanceOf(SaerchError);
    expect(err.message).toMatch(/invalid corpus source options/);
    expect(err.message).toMatch(/minAbstractChars/);
    expect(err.message).toMatch(/onError/);
  });

  it("reports a missing file and corrupt gzip clearly", async () => {
    const missing = await rejection(() => loadDocs({ path: join(dir, "nope.jsonl") }));
    expect(missing).toBeInstanceOf(SaerchError);
    expect(missing.message).toMatch(/corpus file not found/);
    const bad = join(dir, "bad.jsonl.gz");
    writeFileSync(bad, gzipSync(readFileSync(fixture("docs.jsonl"))).subarray(0, 200));
    const err = await rejection(() => loadDocs({ path: bad }));
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toMatch(/corrupt or truncated gzip/);
  });
});

describe("CSV", () => {
  it("reads quoted fields with commas, newlines and doubled quotes; categories from strings", async () => {
    const { docs, report } = await loadDocs({ path: fixture("docs.csv") });
    expect(report).toEqual({ read: 3, kept: 3, malformed: 0, duplicates: 0, short: 0, empty: 0 });
    expect(docs.map((d) => d.id)).toEqual(["2501.00001", "2501.00002", "2501.00003"]);
    expect(docs[0]!.title).toBe("Dark matter, halos");
    expect(docs[0]!.abstract).toMatch(/^We measure the density profiles, with commas, of dark matter halos/);
    expect(docs[0]!.categories).toEqual(["astro-ph.GA", "astro-ph.CO"]);
    expect(docs[1]!.categories).toEqual(["cs.LG", "stat.ML"]);
    expect(docs[2]!.title).toBe('Graph "networks" for transients');
    expect(docs[2]!.categories).toEqual(["astro-ph.IM", "cs.LG"]);
    expect(docs[2]!.date).toBe("2025-01-05");
  });

  it("locates a record by the line it starts on (after a multi-line record)", async () => {
    const path = fixture("empty-id.csv");
    const err = await rejection(() => loadDocs({ path }));
    // line 1 header, lines 2–3 the first record (quoted newline), line 4 the record with an empty id
    expect(err.message).toContain(`${path}:4: field "id" (id): expected a non-empty string`);
  });

  it("names file and line of a CSV syntax error, or skips it", async () => {
    const path = fixture("bad-quote.csv");
    const err = await rejection(() => loadDocs({ path }));
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toContain(`${path}:4: invalid CSV`);
    const { docs, report } = await loadDocs({ path, onError: "skip" });
    expect(report.malformed).toBeGreaterThanOrEqual(1);
    expect(docs[0]!.id).toBe("2501.00001");
    expect(report.read).toBe(report.kept + report.malformed);
  });

  it("reads gzip CSV", async () => {
    const gz = join(dir, "docs.csv.gz");
    writeFileSync(gz, gzipSync(readFileSync(fixture("docs.csv"))));
    expect(await loadDocs({ path: gz })).toEqual(await loadDocs({ path: fixture("docs.csv") }));
  });

  it("names a mapped column missing from the header", async () => {
    const path = fixture("docs.csv");
    const err = await rejection(() => loadDocs({ path, fields: { abstract: "summary" } }));
    expect(err.message).toContain(`${path}:2: missing required field "summary" (abstract)`);
  });
});

describe("Parquet", () => {
  it("reads string columns and a LIST<string> categories column through hyparquet", async () => {
    const p = join(dir, "docs.parquet");
    const abstracts = ["a".repeat(150), "Short one.", "b ".repeat(80)];
    writeTinyParquet(
      p,
      {
        id: ["2501.00001", "2501.00002", "2501.00001"],
        title: ["First  title", "Second", "Dup"],
        abstract: abstracts,
        listing_date: ["2025-01-02", "2025-01-03", "2025-01-04"],
      },
      { name: "categories", rows: [["astro-ph.GA", "cs.LG"], ["cs.CV"], ["cs.LG"]] },
    );
    const { docs, report } = await loadDocs({ path: p });
    expect(report).toEqual({ read: 3, kept: 1, malformed: 0, duplicates: 1, short: 1, empty: 0 });
    expect(docs).toEqual([
      { id: "2501.00001", title: "First title", abstract: abstracts[0], categories: ["astro-ph.GA", "cs.LG"], date: "2025-01-02" },
    ]);
    const all = await loadDocs({ path: p, minAbstractChars: 0, dedupe: false });
    expect(all.docs.map((d) => d.categories)).toEqual([["astro-ph.GA", "cs.LG"], ["cs.CV"], ["cs.LG"]]);
    expect(all.docs[2]!.abstract).toBe("b ".repeat(80).trim());
  });

  it("reads gzip-compressed pages (codec from node:zlib)", async () => {
    const p = join(dir, "gzip.parquet");
    const abstract = "c".repeat(200);
    writeTinyParquet(p, { id: ["g1"], title: ["T"], abstract: [abstract] }, { name: "categories", rows: [["cs.LG", "cs.AI"]] }, "GZIP");
    const { docs } = await loadDocs({ path: p });
    expect(docs).toEqual([{ id: "g1", title: "T", abstract, categories: ["cs.LG", "cs.AI"] }]);
  });

  it("names the row of a bad record and rejects a non-Parquet file", async () => {
    const p = join(dir, "missing.parquet");
    writeTinyParquet(p, { id: ["x"], title: ["t"] }, { name: "categories", rows: [["cs.LG"]] });
    const err = await rejection(() => loadDocs({ path: p }));
    expect(err.message).toContain(`${p} (row 1): missing required field "abstract"`);
    const notParquet = await rejection(() => loadDocs({ path: fixture("docs.jsonl"), format: "parquet" }));
    expect(notParquet).toBeInstanceOf(FormatError);
    expect(notParquet.message).toMatch(/cannot read Parquet/);
  });
});

// The real shared corpus (../shared/corpus/README.md): 94,351 papers; any astro-ph.* 14,343; cs.LG 11,514;
// 195 in both. The 25,662 papers of the two domains are exactly the rows of the shared embeddings.
describe.skipIf(!existsSync(sharedDir()))("shared corpus", () => {
  it("streams the whole file with the README's counts", async () => {
    const report = emptyLoadReport();
    const domainDocs: Doc[] = [];
    const acc = new CorpusStatsAccumulator();
    for await (const d of streamDocs({ path: sharedPath(SHARED_CORPUS_FILE), minAbstractChars: 0, report })) {
      acc.add(d);
      if (hasAnyCategory(d, ["astro-ph", "cs.LG"])) domainDocs.push(d);
    }
    const stats = acc.result();
    expect(report).toEqual({ read: 94351, kept: 94351, malformed: 0, duplicates: 0, short: 0, empty: 0 });
    expect(stats.count).toBe(94351);
    expect(stats.domainCounts).toEqual({ "astro-ph": 14343, "cs.LG": 11514 });
    expect(stats.multiDomain).toBe(195);
    expect(stats.categoryCounts["astro-ph.GA"]).toBe(8031);
    expect(stats.categoryCounts["astro-ph.CO"]).toBe(4992);
    expect(stats.abstractChars!.min).toBeGreaterThanOrEqual(50);
    expect(stats.abstractChars!.max).toBe(4031);
    expect(stats.abstractChars!.mean).toBeCloseTo(1356, -1);
    expect(stats.abstractLengthsN).toHaveLength(94351);
    expect(stats.dateRange!.from >= "2025-03-01").toBe(true);
    expect(stats.undated).toBe(0);

    // The two domains' papers are exactly the shared embeddings' rows, with the same overlap labels.
    expect(domainDocs).toHaveLength(14343 + 11514 - 195);
    const ids = JSON.parse(readFileSync(sharedPath("embeddings", "use-lite-512", "ids.json"), "utf8")) as string[];
    expect(domainDocs.map((d) => d.id).sort()).toEqual([...ids].sort());
    const strata = stratifiedSample(domainDocs, { perDomain: 20_000, overlap: "separate" });
    expect(strata.available).toEqual({ "astro-ph": 14148, "cs.LG": 11319, both: 195 }); // = manifest.json
  });
});
