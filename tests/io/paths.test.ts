/**
 * Tests for src/io/paths.ts: finding the repo root, environment overrides, shared inputs, display paths.
 *
 * repoRoot() caches the first root it finds (unless SAERCH_ROOT is set), so the test that exercises the
 * real lookup runs first and every other test that needs a specific root sets SAERCH_ROOT.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import {
  dataDir,
  displayPath,
  figuresDir,
  findRepoRoot,
  repoPath,
  repoRoot,
  sharedDir,
  sharedPath,
} from "../../src/io/paths.js";

/** The real repository root: two levels above this file (tests/io/paths.test.ts). */
const REAL_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

const ENV_KEYS = ["SAERCH_ROOT", "SAERCH_DATA", "SAERCH_FIGURES", "SAERCH_SHARED"] as const;
const savedEnv: Partial<Record<(typeof ENV_KEYS)[number], string | undefined>> = {};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "saerch-paths-"));
  for (const key of ENV_KEYS) {
    savedEnv[key] = process.env[key];
    delete process.env[key];
  }
});
afterEach(() => {
  for (const key of ENV_KEYS) {
    const v = savedEnv[key];
    if (v === undefined) delete process.env[key];
    else process.env[key] = v;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A fake repository at `dir/name` (package.json names the project), with a nested folder. */
function fakeRepo(name = "repo"): string {
  const root = join(dir, name);
  mkdirSync(join(root, "a", "b", "c"), { recursive: true });
  writeFileSync(join(root, "package.json"), JSON.stringify({ name: "saerch-ts", version: "0.0.0" }));
  return root;
}

describe("repoRoot", () => {
  // Must run first in this file: repoRoot() caches whatever it finds without SAERCH_ROOT.
  it("finds the real repository root from the module's location", () => {
    expect(repoRoot()).toBe(REAL_ROOT);
    expect(repoRoot()).toBe(REAL_ROOT); // cached, same answer
    expect(repoPath("src", "io")).toBe(join(REAL_ROOT, "src", "io"));
  });

  it("SAERCH_ROOT overrides the cached root, and unsetting it restores the real one", () => {
    const root = fakeRepo();
    process.env.SAERCH_ROOT = root;
    expect(repoRoot()).toBe(root);
    expect(repoPath("x", "y.json")).toBe(join(root, "x", "y.json"));
    delete process.env.SAERCH_ROOT;
    expect(repoRoot()).toBe(REAL_ROOT);
  });

  it("SAERCH_ROOT is resolved to an absolute path", () => {
    process.env.SAERCH_ROOT = join(dir, "some", "..", "where");
    expect(repoRoot()).toBe(join(dir, "where"));
  });
});

describe("findRepoRoot", () => {
  it("walks up from a nested directory to the project root", () => {
    const root = fakeRepo();
    expect(findRepoRoot(join(root, "a", "b", "c"))).toBe(root);
    expect(findRepoRoot(root)).toBe(root);
  });

  it("accepts a relative start (resolved against the cwd)", () => {
    const root = fakeRepo();
    const cwd = process.cwd();
    try {
      process.chdir(join(root, "a"));
      expect(findRepoRoot(join("b", "c"))).toBe(root);
    } finally {
      process.chdir(cwd);
    }
  });

  it("returns undefined outside any project", () => {
    mkdirSync(join(dir, "x", "y"), { recursive: true });
    expect(findRepoRoot(join(dir, "x", "y"))).toBeUndefined();
    expect(findRepoRoot(dir)).toBeUndefined();
  });

  it("skips package.json files of other projects and unparseable ones", () => {
    const root = fakeRepo();
    const other = join(root, "a");
    writeFileSync(join(other, "package.json"), JSON.stringify({ name: "not-saerch" }));
    const broken = join(root, "a", "b");
    writeFileSync(join(broken, "package.json"), "{ not json");
    expect(findRepoRoot(join(root, "a", "b", "c"))).toBe(root);

    const lonely = join(dir, "lonely");
    mkdirSync(lonely);
    writeFileSync(join(lonely, "package.json"), JSON.stringify({ name: "something-else" }));
    expect(findRepoRoot(lonely)).toBeUndefined();
  });
});

describe("data and figures directories", () => {
  it("default to <root>/data and <root>/figures", () => {
    const root = fakeRepo();
    process.env.SAERCH_ROOT = root;
    expect(dataDir()).toBe(join(root, "data"));
    expect(figuresDir()).toBe(join(root, "figures"));
  });

  it("default under the real root without any override", () => {
    expect(dataDir()).toBe(join(REAL_ROOT, "data"));
    expect(figuresDir()).toBe(join(REAL_ROOT, "figures"));
  });

  it("SAERCH_DATA and SAERCH_FIGURES override them (resolved to absolute paths)", () => {
    process.env.SAERCH_ROOT = fakeRepo();
    process.env.SAERCH_DATA = join(dir, "elsewhere", "data");
    process.env.SAERCH_FIGURES = join(dir, "elsewhere", "..", "figs");
    expect(dataDir()).toBe(join(dir, "elsewhere", "data"));
    expect(figuresDir()).toBe(join(dir, "figs"));
  });
});

describe("shared inputs", () => {
  it("default to <root>/../shared", () => {
    const root = fakeRepo();
    process.env.SAERCH_ROOT = root;
    expect(sharedDir()).toBe(join(dir, "shared"));
  });

  it("SAERCH_SHARED overrides the default and sharedPath finds existing files", () => {
    const shared = join(dir, "my-shared");
    mkdirSync(join(shared, "corpus"), { recursive: true });
    writeFileSync(join(shared, "corpus", "abstracts.jsonl"), "{}\n");
    process.env.SAERCH_SHARED = shared;
    expect(sharedDir()).toBe(shared);
    expect(sharedPath()).toBe(shared);
    expect(sharedPath("corpus")).toBe(join(shared, "corpus"));
    expect(sharedPath("corpus", "abstracts.jsonl")).toBe(join(shared, "corpus", "abstracts.jsonl"));
  });

  it("sharedPath on a missing path throws a SaerchError naming SAERCH_SHARED", () => {
    const shared = join(dir, "my-shared");
    mkdirSync(shared);
    process.env.SAERCH_SHARED = shared;
    const missing = join(shared, "embeddings", "nope.npy");
    expect(() => sharedPath("embeddings", "nope.npy")).toThrow(SaerchError);
    try {
      sharedPath("embeddings", "nope.npy");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SaerchError);
      const e = err as SaerchError;
      expect(e.message).toContain("SAERCH_SHARED");
      expect(e.message).toContain(missing);
      expect(e.fix).toContain("SAERCH_SHARED");
    }
  });

  it("sharedPath throws when the default shared folder is missing", () => {
    process.env.SAERCH_ROOT = fakeRepo();
    expect(() => sharedPath("corpus")).toThrow(/SAERCH_SHARED/);
  });
});

describe("displayPath", () => {
  let root: string;
  beforeEach(() => {
    root = fakeRepo();
    process.env.SAERCH_ROOT = root;
  });

  it("maps the root itself to '.'", () => {
    expect(displayPath(root)).toBe(".");
    expect(displayPath(`${root}/`)).toBe(".");
    expect(displayPath(join(root, "a", ".."))).toBe(".");
  });

  it("shows paths inside the root relative to it", () => {
    expect(displayPath(join(root, "data"))).toBe("data");
    expect(displayPath(join(root, "data", "sae", "run-1", "config.json"))).toBe("data/sae/run-1/config.json");
  });

  it("shows siblings of the root as ../x", () => {
    expect(displayPath(join(dir, "shared"))).toBe("../shared");
    expect(displayPath(join(dir, "shared", "corpus", "a.jsonl"))).toBe("../shared/corpus/a.jsonl");
    // A sibling whose name starts with the root's name is not inside the root.
    expect(displayPath(`${root}2`)).toBe("../repo2");
    expect(displayPath(join(`${root}-old`, "x"))).toBe("../repo-old/x");
  });

  it("leaves paths elsewhere absolute", () => {
    const elsewhere = join(tmpdir(), "definitely-not-under-the-fake-repo", "f.txt");
    expect(displayPath(elsewhere)).toBe(elsewhere);
    expect(displayPath("/")).toBe("/");
  });

  it("resolves relative paths against the cwd", () => {
    const cwd = process.cwd();
    try {
      process.chdir(join(root, "a"));
      expect(displayPath(join("b", "c"))).toBe("a/b/c");
      expect(displayPath("..")).toBe(".");
    } finally {
      process.chdir(cwd);
    }
  });
});
