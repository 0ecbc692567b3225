/**
 * Tests for src/io/atomic.ts: atomic whole-file writes, incremental writers, and crash safety.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AtomicFileWriter, tempPathFor, writeFileAtomic, writeJsonAtomic } from "../../src/io/atomic.js";

/** The compiled module, for the child process in the crash test (it cannot import TypeScript source). */
const BUILT_ATOMIC = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "dist", "io", "atomic.js");

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "saerch-atomic-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Names in `folder` that look like this module's temporary files. */
const tempFiles = (folder: string): string[] => readdirSync(folder).filter((n) => /^\..*\.tmp-/.test(n));

describe("tempPathFor", () => {
  it("is a hidden sibling matching .<name>.tmp-<pid>-<hex>, unique per call", () => {
    const target = join(dir, "sub", "file.npy");
    const a = tempPathFor(target);
    const b = tempPathFor(target);
    expect(dirname(a)).toBe(dirname(target));
    expect(basename(a)).toMatch(new RegExp(`^\\.file\\.npy\\.tmp-${process.pid}-[0-9a-f]{8}$`));
    expect(a).not.toBe(b);
  });
});

describe("writeFileAtomic", () => {
  it("creates parent directories", () => {
    const target = join(dir, "a", "b", "c", "out.txt");
    writeFileAtomic(target, "hello");
    expect(readFileSync(target, "utf8")).toBe("hello");
  });

  it("writes a UTF-8 string", () => {
    const target = join(dir, "s.txt");
    writeFileAtomic(target, "héllo ✓\n");
    expect(readFileSync(target)).toEqual(Buffer.from("héllo ✓\n", "utf8"));
  });

  it("writes bytes, including a view into a larger buffer", () => {
    const target = join(dir, "b.bin");
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    writeFileAtomic(target, bytes);
    expect(new Uint8Array(readFileSync(target))).toEqual(bytes);

    const backing = Uint8Array.from({ length: 16 }, (_, i) => i);
    writeFileAtomic(target, backing.subarray(4, 10));
    expect([...readFileSync(target)]).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it("writes an array of chunks in order", () => {
    const target = join(dir, "chunks.bin");
    writeFileAtomic(target, ["ab", Uint8Array.from([0x63, 0x64]), "", new Uint8Array(0), "é", Buffer.from("f")]);
    expect(readFileSync(target, "utf8")).toBe("abcdéf");
  });

  it("writes an empty file", () => {
    const target = join(dir, "empty");
    writeFileAtomic(target, []);
    expect(statSync(target).size).toBe(0);
    writeFileAtomic(target, "");
    expect(statSync(target).size).toBe(0);
  });

  it("replaces an existing file (longer old content does not survive)", () => {
    const target = join(dir, "r.txt");
    writeFileSync(target, "old content that is much longer than the new one");
    writeFileAtomic(target, "new");
    expect(readFileSync(target, "utf8")).toBe("new");
  });

  it("writes a few MB correctly", () => {
    const target = join(dir, "big.bin");
    const big = Buffer.alloc(5 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    writeFileAtomic(target, [big.subarray(0, 1234567), big.subarray(1234567)]);
    expect(readFileSync(target).equals(big)).toBe(true);
  });

  it("leaves no temporary file behind", () => {
    writeFileAtomic(join(dir, "x.txt"), "1");
    writeFileAtomic(join(dir, "x.txt"), ["2", "3"]);
    writeJsonAtomic(join(dir, "y.json"), { a: 1 });
    expect(tempFiles(dir)).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(["x.txt", "y.json"]);
  });

  it("cleans up the temporary file when the rename fails, leaving the target untouched", () => {
    // The target is a non-empty directory, so renaming a file over it fails.
    const target = join(dir, "occupied");
    writeFileAtomic(join(target, "inner.txt"), "keep");
    expect(() => writeFileAtomic(target, "data")).toThrow();
    expect(tempFiles(dir)).toEqual([]);
    expect(readFileSync(join(target, "inner.txt"), "utf8")).toBe("keep");
  });
});

describe("writeJsonAtomic", () => {
  it("writes pretty JSON with a 2-space indent and a trailing newline", () => {
    const target = join(dir, "cfg", "config.json");
    const value = { b: [1, 2], a: { nested: true }, s: "x" };
    writeJsonAtomic(target, value);
    const text = readFileSync(target, "utf8");
    expect(text).toBe(`${JSON.stringify(value, null, 2)}\n`);
    expect(text).toBe('{\n  "b": [\n    1,\n    2\n  ],\n  "a": {\n    "nested": true\n  },\n  "s": "x"\n}\n');
    expect(JSON.parse(text)).toEqual(value);
  });

  it("writes scalars", () => {
    const target = join(dir, "n.json");
    writeJsonAtomic(target, 42);
    expect(readFileSync(target, "utf8")).toBe("42\n");
  });
});

describe("AtomicFileWriter", () => {
  it("does not create the target until commit, then publishes all chunks", () => {
    const target = join(dir, "deep", "w.bin");
    const w = new AtomicFileWriter(target);
    expect(w.target).toBe(target);
    w.write("ab");
    w.write(Uint8Array.from([0x63]));
    w.write("");
    expect(existsSync(target)).toBe(false);
    expect(tempFiles(join(dir, "deep"))).toHaveLength(1);
    w.commit();
    expect(readFileSync(target, "utf8")).toBe("abc");
    expect(tempFiles(join(dir, "deep"))).toEqual([]);
  });

  it("commit replaces an existing target, which keeps its old content until then", () => {
    const target = join(dir, "t.txt");
    writeFileSync(target, "old");
    const w = new AtomicFileWriter(target);
    w.write("new content");
    expect(readFileSync(target, "utf8")).toBe("old");
    w.commit();
    expect(readFileSync(target, "utf8")).toBe("new content");
  });

  it("abort leaves an existing target untouched and removes the temp file", () => {
    const target = join(dir, "t.txt");
    writeFileSync(target, "old");
    const w = new AtomicFileWriter(target);
    w.write("partial data");
    expect(tempFiles(dir)).toHaveLength(1);
    w.abort();
    expect(readFileSync(target, "utf8")).toBe("old");
    expect(tempFiles(dir)).toEqual([]);
    expect(() => w.abort()).not.toThrow(); // safe to call twice
  });

  it("abort without an existing target leaves nothing behind", () => {
    const target = join(dir, "none.txt");
    const w = new AtomicFileWriter(target);
    w.write("x");
    w.abort();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("write and commit after commit throw; abort after commit is harmless", () => {
    const target = join(dir, "c.txt");
    const w = new AtomicFileWriter(target);
    w.write("done");
    w.commit();
    expect(() => w.write("more")).toThrow(/already closed/);
    expect(() => w.commit()).toThrow(/already closed/);
    expect(() => w.abort()).not.toThrow();
    expect(readFileSync(target, "utf8")).toBe("done");
  });

  it("write and commit after abort throw", () => {
    const w = new AtomicFileWriter(join(dir, "a.txt"));
    w.abort();
    expect(() => w.write("x")).toThrow(/already closed/);
    expect(() => w.commit()).toThrow(/already closed/);
    expect(existsSync(join(dir, "a.txt"))).toBe(false);
  });
});

describe("crash safety", () => {
  // The child process imports the compiled module (plain node cannot load the TypeScript source); skip when
  // dist/ has not been built (`npm run build`).
  it.skipIf(!existsSync(BUILT_ATOMIC))("a process killed mid-write leaves the old target intact", () => {
    const target = join(dir, "artefact.bin");
    const old = "the old, complete content\n";
    writeFileSync(target, old);
    const chunkBytes = 1024 * 1024;
    const chunks = 4;
    const script = `
      import { AtomicFileWriter } from ${JSON.stringify(pathToFileURL(BUILT_ATOMIC).href)};
      const w = new AtomicFileWriter(process.env.SAERCH_TEST_TARGET);
      for (let i = 0; i < ${chunks}; i++) w.write(new Uint8Array(${chunkBytes}).fill(0x78));
      process.kill(process.pid, "SIGKILL");
      w.commit();
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, SAERCH_TEST_TARGET: target },
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.signal).toBe("SIGKILL");
    expect(readFileSync(target, "utf8")).toBe(old);
    // The child did write its data (to the temp file it never got to rename).
    const leftovers = tempFiles(dir);
    expect(leftovers).toHaveLength(1);
    expect(leftovers[0]).toMatch(/^\.artefact\.bin\.tmp-\d+-[0-9a-f]{8}$/);
    expect(statSync(join(dir, leftovers[0]!)).size).toBe(chunks * chunkBytes);
  });
});
