/**
 * Tests for src/tools/paper-scale.ts: every step runs in process on a tiny synthetic corpus (2,048 × 16,
 * n 32, k 4) and reports its figures; the streamed stages agree with their in-memory versions on it (codes
 * against a second encoding, co-occurrence against the in-memory count); the table has one row per step.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cooccurrence, cooccurrenceFromNpy } from "../../src/families/cooccurrence.js";
import { loadCodes } from "../../src/sae/encode.js";
import { PAPER_SCALE_STEPS, PaperScaleConfig, paperScaleTable, runPaperScaleStep, type PaperScaleStepResult } from "../../src/tools/paper-scale.js";

const root = mkdtempSync(join(tmpdir(), "saerch-paper-scale-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("runPaperScaleStep", () => {
  it("runs synth → cooc on a tiny corpus, each step with its time, peak RSS and figures", async () => {
    const cfg = PaperScaleConfig.parse({ sizes: [2048], dim: 16, n: 32, k: 4, batch: 256, steps: 6, threads: 1, cosinePairs: 100, pcaRows: 300, mapRows: 100 });
    const results: PaperScaleStepResult[] = [];
    for (const step of PAPER_SCALE_STEPS) results.push(await runPaperScaleStep(step, 2048, cfg, root));
    expect(results.map((r) => r.step)).toEqual([...PAPER_SCALE_STEPS]);
    for (const r of results) {
      expect(r.rows).toBe(2048);
      expect(r.seconds).toBeGreaterThanOrEqual(0);
      expect(r.peakRssMB).toBeGreaterThan(10);
    }
    const by = Object.fromEntries(results.map((r) => [r.step, r.details]));
    expect(by.adopt!.shards).toBe(1);
    expect(by.open!.count).toBe(2048);
    expect(by.stats!.readAllRefused).toBe("no");
    expect(Number(by.stats!["cosine within astro-ph"])).toBeGreaterThan(Number(by.stats!["cosine between astro-ph / cs.LG"]));
    expect(by.train!.steps).toBe(6);
    expect(by.encode!.encoded).toBe(2048);

    // the streamed co-occurrence equals the in-memory count over the codes encodeStore wrote
    const dir = join(root, "n2048", "sae");
    const features = JSON.parse(readFileSync(join(root, "n2048", "features.json"), "utf8")) as number[];
    expect(by.cooc!.features).toBe(features.length);
    const codes = loadCodes(dir);
    const inMemory = cooccurrence(codes.indices, codes.k, features, 32);
    const streamed = cooccurrenceFromNpy(join(dir, "codes.indices.npy"), features, 32, 100);
    expect(streamed.pairs).toEqual(inMemory.pairs);
    expect(streamed.countM).toEqual(inMemory.countM);

    const table = paperScaleTable(results);
    expect(table.split("\n")).toHaveLength(2 + PAPER_SCALE_STEPS.length);
    expect(table).toMatch(/^\| step \| N 2,048: s \| peak RSS MB \| details \(largest N\) \|/);
  }, 60_000);

  it("limits encoding to a prefix when encodeRows is set", async () => {
    const cfg = PaperScaleConfig.parse({ sizes: [2048], dim: 16, n: 32, k: 4, batch: 256, steps: 2, threads: 1, encodeRows: 1000 });
    for (const step of ["synth", "adopt", "train"] as const) await runPaperScaleStep(step, 2048, cfg, join(root, "prefix"));
    const r = await runPaperScaleStep("encode", 2048, cfg, join(root, "prefix"));
    expect(r.details.encoded).toBe(1000);
  }, 60_000);
});
