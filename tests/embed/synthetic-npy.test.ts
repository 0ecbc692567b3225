/**
 * Tests for src/embed/synthetic-npy.ts: the chunked writer gives the same bytes as the in-memory matrix for
 * any chunk size (so a 270k × 1536 file can be written without holding it), rows are unit-norm, ids and
 * labels line up, and bad specs are refused.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readNpy } from "../../src/io/npy.js";
import { syntheticEmbeddings, syntheticId, syntheticLabels, writeSyntheticEmbeddingsNpy } from "../../src/embed/synthetic-npy.js";

const tmp = mkdtempSync(join(tmpdir(), "saerch-synth-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("writeSyntheticEmbeddingsNpy", () => {
  const spec = { rows: 37, dim: 10, atoms: 8, active: 3, seed: 2 };

  it("writes the in-memory matrix exactly, whatever the chunk size", () => {
    const want = syntheticEmbeddings(spec);
    for (const chunk of [1, 5, 37, 1000]) {
      const npy = join(tmp, `e${chunk}.npy`);
      writeSyntheticEmbeddingsNpy(npy, join(tmp, `ids${chunk}.json`), spec, chunk);
      const got = readNpy(npy);
      expect(got.shape).toEqual([37, 10]);
      expect(got.dtype).toBe("<f4");
      expect(got.data).toEqual(want);
    }
  });

  it("makes unit rows, ids in row order and two half-and-half domains", () => {
    const xND = syntheticEmbeddings(spec);
    for (let i = 0; i < spec.rows; i++) {
      let acc = 0;
      for (let p = 0; p < spec.dim; p++) acc += xND[i * spec.dim + p]! ** 2;
      expect(Math.sqrt(acc)).toBeCloseTo(1, 5);
    }
    writeSyntheticEmbeddingsNpy(join(tmp, "x.npy"), join(tmp, "x.json"), spec);
    const ids = JSON.parse(readFileSync(join(tmp, "x.json"), "utf8")) as string[];
    expect(ids[0]).toBe("synth-00000000");
    expect(ids[36]).toBe(syntheticId(36));
    const labels = syntheticLabels(37);
    expect(labels.filter((l) => l === "astro-ph")).toHaveLength(19);
    expect(labels[18]).toBe("astro-ph");
    expect(labels[19]).toBe("cs.LG");
  });

  it("depends on the seed and refuses bad specs", () => {
    expect(syntheticEmbeddings({ ...spec, seed: 3 })).not.toEqual(syntheticEmbeddings(spec));
    expect(() => syntheticEmbeddings({ ...spec, atoms: 7 })).toThrow(/atoms must be even/);
    expect(() => syntheticEmbeddings({ ...spec, rows: 0 })).toThrow(/rows must be a positive integer/);
  });
});
