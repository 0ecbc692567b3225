/**
 * Tests for src/io/jsonl.ts: plain and gzip round trips, malformed lines, corrupt gzip, the append-only log.
 */
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FormatError } from "../../src/core/errors.js";
import { JsonlAppender, readJsonl, readJsonlLog, writeJsonl } from "../../src/io/jsonl.js";
import { rejection } from "../helpers/rejection.js";

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const rows = Array.from({ length: 5000 }, (_, i) => ({
  id: i,
  text: `abstract ${i} — ünïcode ✓ "quoted"\nnewline`,
  v: [i / 3, -i - 1],
}));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "saerch-jsonl-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("readJsonl / writeJsonl", () => {
  it("round-trips plain JSON Lines", async () => {
    const p = join(dir, "rows.jsonl");
    expect(await writeJsonl(p, rows)).toBe(rows.length);
    const text = readFileSync(p, "utf8");
    expect(text.split("\n").length).toBe(rows.length + 1);
    expect(await collect(readJsonl(p))).toEqual(rows);
  });

  it("round-trips gzip (.gz), from an async iterable", async () => {
    const p = join(dir, "rows.jsonl.gz");
    async function* gen(): AsyncGenerator<unknown> {
      for (const r of rows) yield r;
    }
    expect(await writeJsonl(p, gen())).toBe(rows.length);
    const raw = readFileSync(p);
    expect(raw[0]).toBe(0x1f);
    expect(raw[1]).toBe(0x8b);
    expect(gunzipSync(raw).toString("utf8").split("\n")[0]).toBe(JSON.stringify(rows[0]));
    expect(await collect(readJsonl(p))).toEqual(rows);
  });

  it("writes an empty file for no rows", async () => {
    const p = join(dir, "empty.jsonl");
    expect(await writeJsonl(p, [])).toBe(0);
    expect(readFileSync(p, "utf8")).toBe("");
    expect(await collect(readJsonl(p))).toEqual([]);
    const gz = join(dir, "empty.jsonl.gz");
    expect(await writeJsonl(gz, [])).toBe(0);
    expect(await collect(readJsonl(gz))).toEqual([]);
  });

  it("ignores blank lines and CRLF endings", async () => {
    const p = join(dir, "blank.jsonl");
    writeFileSync(p, '{"a":1}\r\n\r\n   \n{"a":2}\n\n');
    expect(await collect(readJsonl(p))).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it("a malformed line throws FormatError naming file:line", async () => {
    const p = join(dir, "bad.jsonl");
    writeFileSync(p, '{"a":1}\n\n{"a":2\n{"a":3}\n');
    const err = await rejection(() => collect(readJsonl(p)));
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toMatch(
      new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3: invalid JSON \\(`),
    );
  });

  it("skip mode counts malformed lines", async () => {
    const p = join(dir, "skip.jsonl.gz");
    writeFileSync(p, gzipSync('{"a":1}\nnot json\n{"a":2}\n{oops\n\n{"a":3}\n'));
    const stats = { skipped: 0, lines: 0 };
    const got = await collect(readJsonl(p, { onError: "skip", stats }));
    expect(got).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(stats).toEqual({ skipped: 2, lines: 5 });
  });

  it("a truncated or corrupt gzip throws FormatError naming the file", async () => {
    const p = join(dir, "trunc.jsonl.gz");
    await writeJsonl(p, rows);
    const full = readFileSync(p);
    writeFileSync(p, full.subarray(0, Math.floor(full.length / 2)));
    const err = await rejection(() => collect(readJsonl(p)));
    expect(err).toBeInstanceOf(FormatError);
    expect(err.message).toContain(p);
    expect(err.message).toMatch(/gzip/);

    const q = join(dir, "garbage.jsonl.gz");
    writeFileSync(q, "this is not gzip at all\n");
    const err2 = await rejection(() => collect(readJsonl(q)));
    expect(err2).toBeInstanceOf(FormatError);
    expect(err2.message).toContain(q);
  });

  it("a missing file rejects with ENOENT", async () => {
    const err = await rejection(() => collect(readJsonl(join(dir, "nope.jsonl"))));
    expect((err as NodeJS.ErrnoException).code).toBe("ENOENT");
  });

  it("stopping early closes the file cleanly", async () => {
    const p = join(dir, "early.jsonl");
    await writeJsonl(p, rows);
    const first: unknown[] = [];
    for await (const r of readJsonl(p)) {
      first.push(r);
      if (first.length === 3) break;
    }
    expect(first).toEqual(rows.slice(0, 3));
  });

  it("a failed write leaves no file and no temp file behind", async () => {
    const sub = mkdtempSync(join(dir, "clean-"));
    for (const name of ["x.jsonl", "x.jsonl.gz"]) {
      const err = await rejection(() => writeJsonl(join(sub, name), [{ a: 1 }, undefined]));
      expect(err.message).toMatch(/row 1 is not JSON-serialisable/);
      async function* failing(): AsyncGenerator<unknown> {
        yield { a: 1 };
        throw new Error("source failed");
      }
      expect((await rejection(() => writeJsonl(join(sub, name), failing()))).message).toBe("source failed");
    }
    expect(readdirSync(sub)).toEqual([]);
  });
});

describe("JsonlAppender / readJsonlLog", () => {
  it("appends records that readJsonlLog returns in order", () => {
    const p = join(dir, "logs", "events.jsonl");
    expect(readJsonlLog(p)).toEqual([]);
    const log = new JsonlAppender(p);
    log.append({ step: 1, loss: 0.5 });
    log.append({ step: 2, loss: 0.25 });
    log.close();
    log.close();
    expect(() => log.append({})).toThrow(/closed/);
    const again = new JsonlAppender(p, { fsync: false });
    again.append({ step: 3, loss: 0.125 });
    again.close();
    expect(readJsonlLog(p)).toEqual([
      { step: 1, loss: 0.5 },
      { step: 2, loss: 0.25 },
      { step: 3, loss: 0.125 },
    ]);
  });

  it("survives a partial final line left by a crash", () => {
    const p = join(dir, "crash.jsonl");
    const log = new JsonlAppender(p);
    log.append({ step: 1 });
    log.append({ step: 2 });
    log.close();
    appendFileSync(p, '{"step": 3, "lo'); // the crash: half a line, no newline
    expect(readJsonlLog(p)).toEqual([{ step: 1 }, { step: 2 }]);
    const resumed = new JsonlAppender(p); // cuts off the partial line
    resumed.append({ step: 3 });
    resumed.close();
    expect(readJsonlLog(p)).toEqual([{ step: 1 }, { step: 2 }, { step: 3 }]);
    expect(readFileSync(p, "utf8")).toBe('{"step":1}\n{"step":2}\n{"step":3}\n');
  });

  it("a file that is only a partial line becomes an empty log", () => {
    const p = join(dir, "only-partial.jsonl");
    writeFileSync(p, '{"step"');
    expect(readJsonlLog(p)).toEqual([]);
    new JsonlAppender(p).close();
    expect(readFileSync(p, "utf8")).toBe("");
  });

  it("a corrupt line in the middle throws FormatError naming file:line", () => {
    const p = join(dir, "corrupt.jsonl");
    writeFileSync(p, '{"a":1}\n{"a":\n{"a":3}\n');
    expect(() => readJsonlLog(p)).toThrow(FormatError);
    expect(() => readJsonlLog(p)).toThrow(`${p}:2: invalid JSON`);
  });
});
