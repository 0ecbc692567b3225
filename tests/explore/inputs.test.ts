/**
 * Tests for src/explore/inputs.ts and maps.ts: the input hash (files' content, never their times; absent
 * files), documents' metadata from the corpus selection, the preferred family set, and
 * the maps' normalisation to [−1, 1] and seeded determinism.
 */
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { explorerDocs, inputsHash, piece, preferredFamilies, yearOf } from "../../src/explore/inputs.js";
import { mapRows, normaliseLayout, umapLayout } from "../../src/explore/maps.js";
import type { FamiliesResult } from "../../src/families/stage.js";

const root = mkdtempSync(join(tmpdir(), "saerch-explore-inputs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("inputsHash", () => {
  it("changes with a file's content, its absence, and the set of pieces; not with their order", () => {
    writeFileSync(join(root, "a.json"), "{}");
    writeFileSync(join(root, "b.json"), "[1]");
    const p = [piece(root, ["a.json", "b.json"])];
    const h = inputsHash(p);
    expect(inputsHash([piece(root, ["b.json", "a.json"])])).toBe(h);
    writeFileSync(join(root, "b.json"), "[2]");
    const h2 = inputsHash(p);
    expect(h2).not.toBe(h);
    expect(inputsHash([piece(root, ["a.json", "b.json", "c.json"])])).not.toBe(h2);
    writeFileSync(join(root, "b.json"), "[1]");
    expect(inputsHash(p)).toBe(h);
    expect(piece(root).files.sort()).toEqual(["a.json", "b.json"]);
  });

  it("hashes large files by content too: a touched 9 MB file keeps the hash, one changed byte of it does not", () => {
    const big = Buffer.alloc(9 * 1024 * 1024, 7);
    writeFileSync(join(root, "big.bin"), big);
    const p = [piece(root, ["big.bin"])];
    const h = inputsHash(p);
    utimesSync(join(root, "big.bin"), new Date(2030, 0, 1), new Date(2030, 0, 1));
    expect(inputsHash(p)).toBe(h);
    big[big.length - 1] = 8;
    writeFileSync(join(root, "big.bin"), big);
    expect(inputsHash(p)).not.toBe(h);
  });
});

describe("documents and families", () => {
  it("takes title, year and categories from the selection; unknown rows get their id", () => {
    const docs = explorerDocs({ ids: ["2501.1", "x"] }, [{ id: "2501.1", title: "T", abstract: "A", categories: ["cs.LG", "stat.ML"], date: "2025-01-31" }]);
    expect(docs).toEqual([
      { id: "2501.1", title: "T", year: 2025, categories: ["cs.LG", "stat.ML"] },
      { id: "x", title: "x", year: null, categories: [] },
    ]);
    expect(yearOf(undefined)).toBeNull();
    expect(yearOf("bad")).toBeNull();
  });

  it("prefers the clean set's families, then the alive set's", () => {
    const r = (featureSet: "clean" | "alive", families: number, domain = "d") => ({ domain, featureSet, build: { families: new Array(families).fill({}) } }) as unknown as FamiliesResult;
    expect(preferredFamilies([r("alive", 3), r("clean", 2)], "d")!.featureSet).toBe("clean");
    expect(preferredFamilies([r("alive", 3), r("clean", 0)], "d")!.featureSet).toBe("alive");
    expect(preferredFamilies([r("alive", 3, "e"), { skipped: "no labels", domain: "d" }], "d")).toBeNull();
  });
});

describe("maps", () => {
  it("centres and scales a layout into [−1, 1], keeping its aspect", () => {
    const out = normaliseLayout([[0, 0], [4, 2], [2, 1], [NaN, 1]]);
    expect(Array.from(out)).toEqual([-1, -0.5, 1, 0.5, 0, 0, 0, 0]);
    expect(Array.from(normaliseLayout([[3, 3]]))).toEqual([0, 0]);
  });

  it("is deterministic for a seed and separates two clusters", () => {
    const rng = new Rng("maps");
    const m = 60;
    const d = 8;
    const x = new Float32Array(m * d);
    for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) x[i * d + j] = (i < m / 2 ? 5 : -5) * (j === 0 ? 1 : 0) + rng.normal() * 0.1;
    const a = umapLayout(x, m, d, 0, { epochs: 60 });
    const b = umapLayout(x, m, d, 0, { epochs: 60 });
    expect(a.pointsM2).toEqual(b.pointsM2);
    for (const v of a.pointsM2) expect(Math.abs(v)).toBeLessThanOrEqual(1);
    const centre = (from: number) => [0, 1].map((c) => Array.from({ length: m / 2 }, (_, i) => a.pointsM2[2 * (from + i) + c]!).reduce((s, v) => s + v, 0) / (m / 2));
    const [c1, c2] = [centre(0), centre(m / 2)];
    expect(Math.hypot(c1[0]! - c2[0]!, c1[1]! - c2[1]!)).toBeGreaterThan(0.5);
  });

  it("subsamples rows evenly beyond the limit", () => {
    expect(Array.from(mapRows(5, 10))).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(mapRows(10, 4))).toEqual([0, 2, 5, 7]);
  });
});
