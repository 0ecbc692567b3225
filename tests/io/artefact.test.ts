/**
 * Tests for src/io/artefact.ts: stable JSON, run ids derived from configs, artefact run directories.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { artefactRun, runIdFor, sortKeys, stableStringify } from "../../src/io/artefact.js";

let dir: string;
let savedData: string | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "saerch-artefact-"));
  savedData = process.env.SAERCH_DATA;
  process.env.SAERCH_DATA = join(dir, "data");
});
afterEach(() => {
  if (savedData === undefined) delete process.env.SAERCH_DATA;
  else process.env.SAERCH_DATA = savedData;
  rmSync(dir, { recursive: true, force: true });
});

const CONFIG = { k: 32, n: 4096, data: { corpus: "astro", fields: ["title", "abstract"] }, lr: 1e-4, seed: 0 };
const CONFIG_REORDERED = { seed: 0, lr: 1e-4, data: { fields: ["title", "abstract"], corpus: "astro" }, n: 4096, k: 32 };

describe("stableStringify / sortKeys", () => {
  it("is independent of key order, recursively", () => {
    expect(stableStringify(CONFIG)).toBe(stableStringify(CONFIG_REORDERED));
    expect(stableStringify({ b: 1, a: { d: 2, c: [{ z: 1, y: 2 }] } })).toBe('{"a":{"c":[{"y":2,"z":1}],"d":2},"b":1}');
  });

  it("keeps array order", () => {
    expect(stableStringify([3, 1, 2])).toBe("[3,1,2]");
    expect(stableStringify({ a: [3, 1, 2] })).not.toBe(stableStringify({ a: [1, 2, 3] }));
  });

  it("drops undefined object values", () => {
    expect(stableStringify({ a: 1, b: undefined })).toBe(stableStringify({ a: 1 }));
    expect(stableStringify({ x: { a: undefined, b: 2 } })).toBe('{"x":{"b":2}}');
  });

  it("passes primitives and null through", () => {
    expect(stableStringify(null)).toBe("null");
    expect(stableStringify(1.5)).toBe("1.5");
    expect(stableStringify("s")).toBe('"s"');
    expect(stableStringify(true)).toBe("true");
    expect(stableStringify({ a: null })).toBe('{"a":null}');
  });

  it("sortKeys returns a deep copy and leaves its input untouched", () => {
    const input = { b: { y: 1, x: 2 }, a: [{ d: 1, c: 2 }] };
    const out = sortKeys(input) as typeof input;
    expect(Object.keys(out)).toEqual(["a", "b"]);
    expect(Object.keys(out.b)).toEqual(["x", "y"]);
    expect(Object.keys(out.a[0]!)).toEqual(["c", "d"]);
    expect(out.b).not.toBe(input.b);
    expect(Object.keys(input)).toEqual(["b", "a"]);
    expect(Object.keys(input.b)).toEqual(["y", "x"]);
  });
});

describe("runIdFor", () => {
  it("gives the same id for equal configs (any key order)", () => {
    expect(runIdFor(CONFIG)).toBe(runIdFor(CONFIG));
    expect(runIdFor(CONFIG)).toBe(runIdFor(CONFIG_REORDERED));
    expect(runIdFor({ a: 1, b: undefined })).toBe(runIdFor({ a: 1 }));
  });

  it("gives different ids for different configs", () => {
    const ids = new Set([
      runIdFor(CONFIG),
      runIdFor({ ...CONFIG, k: 64 }),
      runIdFor({ ...CONFIG, data: { ...CONFIG.data, fields: ["abstract", "title"] } }),
      runIdFor({ ...CONFIG, seed: "0" }),
      runIdFor({}),
      runIdFor([]),
    ]);
    expect(ids.size).toBe(6);
  });

  it("is 10 lowercase hex characters without a prefix", () => {
    for (const cfg of [CONFIG, {}, null, 0, "x", [1, 2]]) {
      expect(runIdFor(cfg)).toMatch(/^[0-9a-f]{10}$/);
    }
  });

  it("has the form <prefix>-<hash> with a prefix", () => {
    const hash = runIdFor(CONFIG);
    expect(runIdFor(CONFIG, "astro-n4096-k32")).toBe(`astro-n4096-k32-${hash}`);
    expect(runIdFor(CONFIG, "v1.2_x")).toBe(`v1.2_x-${hash}`);
    expect(runIdFor(CONFIG, "")).toBe(hash); // empty prefix = no prefix
  });

  it("rejects prefixes with other characters", () => {
    for (const bad of ["has space", "a/b", "..\\x", "é", "a:b"]) {
      expect(() => runIdFor(CONFIG, bad)).toThrow(SaerchError);
    }
  });
});

describe("artefactRun", () => {
  it("creates data/<stage>/<runId>/config.json with sorted keys", () => {
    const run = artefactRun("sae", CONFIG_REORDERED, "astro");
    const runId = runIdFor(CONFIG, "astro");
    expect(run).toEqual({ stage: "sae", runId, dir: join(dir, "data", "sae", runId), existed: false });
    const configPath = join(run.dir, "config.json");
    expect(existsSync(configPath)).toBe(true);
    const text = readFileSync(configPath, "utf8");
    expect(text).toBe(`${JSON.stringify(sortKeys(CONFIG), null, 2)}\n`);
    const parsed = JSON.parse(text) as typeof CONFIG;
    expect(Object.keys(parsed)).toEqual(["data", "k", "lr", "n", "seed"]);
    expect(Object.keys(parsed.data)).toEqual(["corpus", "fields"]);
    expect(parsed).toEqual(CONFIG);
    // Only config.json, no temp files left behind.
    expect(readdirSync(run.dir)).toEqual(["config.json"]);
  });

  it("reports existed=false, then true for an equal config in another key order", () => {
    const first = artefactRun("sae", CONFIG);
    expect(first.existed).toBe(false);
    const configPath = join(first.dir, "config.json");
    const before = readFileSync(configPath, "utf8");
    const second = artefactRun("sae", CONFIG_REORDERED);
    expect(second.existed).toBe(true);
    expect(second.runId).toBe(first.runId);
    expect(second.dir).toBe(first.dir);
    expect(readFileSync(configPath, "utf8")).toBe(before);
  });

  it("separates stages and configs", () => {
    const a = artefactRun("sae", CONFIG);
    const b = artefactRun("families", CONFIG);
    const c = artefactRun("sae", { ...CONFIG, k: 64 });
    expect(a.runId).toBe(b.runId);
    expect(a.dir).not.toBe(b.dir);
    expect(c.runId).not.toBe(a.runId);
    expect(b.existed).toBe(false);
    expect(c.existed).toBe(false);
    expect(readdirSync(join(dir, "data", "sae")).sort()).toEqual([a.runId, c.runId].sort());
  });

  it("accepts a config.json that was reformatted but not changed", () => {
    const run = artefactRun("sae", CONFIG);
    writeFileSync(join(run.dir, "config.json"), JSON.stringify(CONFIG_REORDERED));
    expect(artefactRun("sae", CONFIG).existed).toBe(true);
  });

  it("throws a SaerchError when config.json was hand-edited", () => {
    const run = artefactRun("sae", CONFIG);
    const configPath = join(run.dir, "config.json");
    writeFileSync(configPath, `${JSON.stringify({ ...CONFIG, k: 16 }, null, 2)}\n`);
    expect(() => artefactRun("sae", CONFIG)).toThrow(SaerchError);
    expect(() => artefactRun("sae", CONFIG)).toThrow(configPath);
  });

  it("writes configs with undefined values dropped, and finds them again", () => {
    const cfg = { a: 1, b: undefined, c: { d: undefined, e: 2 } };
    const run = artefactRun("stage", cfg);
    expect(JSON.parse(readFileSync(join(run.dir, "config.json"), "utf8"))).toEqual({ a: 1, c: { e: 2 } });
    expect(artefactRun("stage", { a: 1, c: { e: 2 } }).existed).toBe(true);
  });

  it("rejects a bad prefix before touching the disk", () => {
    expect(() => artefactRun("sae", CONFIG, "bad prefix")).toThrow(SaerchError);
    expect(existsSync(join(dir, "data"))).toBe(false);
  });
});
