/**
 * `npm run bench:families`'s logic at small sizes: the synthetic generator (deterministic per seed, K
 * distinct ids per row, a power-law density spread, planted parents that co-fire), the density helpers on a
 * hand example, one case timed in process on a temp .npy, the real-run discovery and the table. Asserts
 * structure and sane values, never speed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  aliveFeatures,
  codeDensities,
  codeDensitiesFromNpy,
  densityQuantiles,
  findRealCases,
  runFamilyCase,
  syntheticFamilyCodes,
  type FamilyBenchReport,
} from "../../src/families/bench.js";
import { benchFamiliesSettingsFromArgs, familyBenchJson, familyBenchRows } from "../../src/families/bench-cli.js";
import { writeNpy } from "../../src/io/npy.js";

const tmp = mkdtempSync(join(tmpdir(), "saerch-bench-families-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("syntheticFamilyCodes", () => {
  it("is deterministic for a seed and changes with it", () => {
    const a = syntheticFamilyCodes({ docs: 300, n: 512, k: 16, seed: 7 });
    const b = syntheticFamilyCodes({ docs: 300, n: 512, k: 16, seed: 7 });
    const c = syntheticFamilyCodes({ docs: 300, n: 512, k: 16, seed: 8 });
    expect(Array.from(a.indicesNK)).toEqual(Array.from(b.indicesNK));
    expect(Array.from(a.parentF)).toEqual(Array.from(b.parentF));
    expect(Array.from(a.indicesNK)).not.toEqual(Array.from(c.indicesNK));
  });

  it("writes K distinct ids in [0, n) per row and plants parents denser by rank", () => {
    const s = syntheticFamilyCodes({ docs: 500, n: 700, k: 20, seed: 1 });
    expect(s.indicesNK.length).toBe(500 * 20);
    for (let i = 0; i < 500; i++) {
      const row = s.indicesNK.subarray(i * 20, (i + 1) * 20);
      expect(new Set(row).size).toBe(20);
      for (const f of row) expect(f >= 0 && f < 700).toBe(true);
    }
    for (let f = 0; f < 700; f++) {
      const p = s.parentF[f]!;
      if (p >= 0) expect(s.rankF[p]!).toBeLessThan(s.rankF[f]!);
    }
  });

  it("at the bench's n and K spreads densities over ~1e-4 … 0.35 with most features alive, and children co-fire with parents", () => {
    const docs = 20_000;
    const s = syntheticFamilyCodes({ docs, seed: 0 });
    const d = codeDensities(s.indicesNK, s.k, s.n);
    const [min, p01, median, p99, max] = densityQuantiles(d, [0, 0.01, 0.5, 0.99, 1]) as [number, number, number, number, number];
    expect(min).toBeLessThan(2e-4);
    expect(p01).toBeLessThan(5e-4);
    expect(median).toBeGreaterThan(3e-4);
    expect(median).toBeLessThan(3e-3);
    expect(p99).toBeGreaterThan(0.05);
    expect(max).toBeGreaterThan(0.2);
    expect(max).toBeLessThan(0.6);
    const alive = aliveFeatures(d, { min: 0.0005, max: 0.2 }).length;
    expect(alive).toBeGreaterThan(0.6 * s.n);
    expect(alive).toBeLessThan(s.n);
    // P(parent | child) over children firing at least 20 times: near parentProb (0.6) or above.
    const fired = new Float64Array(s.n);
    const withParent = new Float64Array(s.n);
    for (let i = 0; i < docs; i++) {
      const row = new Set(s.indicesNK.subarray(i * s.k, (i + 1) * s.k));
      for (const f of row) {
        fired[f]!++;
        if (s.parentF[f]! >= 0 && row.has(s.parentF[f]!)) withParent[f]!++;
      }
    }
    let sum = 0;
    let children = 0;
    for (let f = 0; f < s.n; f++) {
      if (s.parentF[f]! < 0 || fired[f]! < 20) continue;
      sum += withParent[f]! / fired[f]!;
      children++;
    }
    expect(children).toBeGreaterThan(1000);
    expect(sum / children).toBeGreaterThan(0.55);
  });
});

describe("density helpers", () => {
  it("count a repeated id once, pick the alive band and take quantiles of firing features", () => {
    // K = 2, n = 4: rows [0, 0], [0, 1], [1, 2], [2, 2] → densities 2/4, 2/4, 2/4, 0.
    const codes = Int32Array.from([0, 0, 0, 1, 1, 2, 2, 2]);
    expect(Array.from(codeDensities(codes, 2, 4))).toEqual([0.5, 0.5, 0.5, 0]);
    const path = join(tmp, "hand.npy");
    writeNpy(path, codes, [4, 2]);
    expect(Array.from(codeDensitiesFromNpy(path, 4, 3))).toEqual([0.5, 0.5, 0.5, 0]);
    expect(Array.from(aliveFeatures(Float64Array.from([0.1, 0.0004, 0.2, 0.0005]), { min: 0.0005, max: 0.2 }))).toEqual([0, 3]);
    expect(densityQuantiles(Float64Array.from([0, 0.3, 0.1, 0.2]), [0, 0.5, 1])).toEqual([0.1, 0.2, 0.3]);
  });
});

describe("runFamilyCase and the report", () => {
  it("times one small case in process and finds families", () => {
    const s = syntheticFamilyCodes({ docs: 4000, n: 1024, k: 16, seed: 2 });
    const path = join(tmp, "small.indices.npy");
    writeNpy(path, s.indicesNK, [4000, 16]);
    const r = runFamilyCase({ label: "small", indicesPath: path, n: 1024 });
    expect(r).toMatchObject({ label: "small", docs: 4000, n: 1024, k: 16 });
    expect(r.m).toBeGreaterThan(500);
    expect(r.m).toBeLessThanOrEqual(1024);
    expect(r.families).toBeGreaterThan(0);
    expect(r.candidateEdges).toBeGreaterThan(0);
    for (const x of [r.featureSetSeconds, r.countingSeconds, r.edgesSeconds, r.forestSeconds, r.cpuSeconds]) expect(x).toBeGreaterThanOrEqual(0);
    expect(r.totalSeconds).toBeGreaterThanOrEqual(r.countingSeconds);
    expect(r.peakRssMB).toBeGreaterThan(0);

    const report = {
      startedAt: "2026-01-01T00:00:00.000Z",
      syntheticSeconds: r.totalSeconds,
      targetSeconds: 5,
      meetsTarget: true,
      rssLargeOverSmall: 1,
      cases: [r, r],
      skipped: [],
    } as unknown as FamilyBenchReport;
    const rows = familyBenchRows(report);
    expect(rows).toHaveLength(2);
    expect(Object.keys(rows[0]!)).toEqual(["case", "N", "n", "k", "M", "cand. edges", "families", "counting (s)", "edges (s)", "forest+rest (s)", "total (s)", "CPU (s)", "peak RSS (MB)"]);
    const line = familyBenchJson(report, join(tmp, "families.json"));
    expect(line).not.toContain("\n");
    expect(JSON.parse(line)).toMatchObject({ syntheticSeconds: r.totalSeconds, targetSeconds: 5, meetsTarget: true });
  });

  it("finds each domain's stage-2 runs with codes, and names a domain that has none", () => {
    const sae = join(tmp, "sae");
    for (const run of ["astro-ph-n4096-k32-aaaa", "astro-ph-n4096-k32-bbbb", "cs.LG-n4096-k32-cccc"]) mkdirSync(join(sae, run), { recursive: true });
    writeFileSync(join(sae, "astro-ph-n4096-k32-aaaa", "config.json"), JSON.stringify({ domain: "astro-ph", sae: { n: 4096, k: 32 } }));
    writeNpy(join(sae, "astro-ph-n4096-k32-aaaa", "codes.indices.npy"), new Int32Array(64), [2, 32]);
    // bbbb and cccc have no codes yet (a run in progress).
    const cases = findRealCases(sae);
    expect(cases).toHaveLength(2);
    expect(cases[0]).toMatchObject({ domain: "astro-ph", runId: "astro-ph-n4096-k32-aaaa", spec: { n: 4096 } });
    expect(cases[1]).toMatchObject({ domain: "cs.LG" });
    expect("skipped" in cases[1]! && cases[1].skipped).toMatch(/codes\.indices\.npy yet/);
    expect(findRealCases(join(tmp, "absent")).every((c) => "skipped" in c)).toBe(true);
  });

  it("reads the command-line options and names a bad one", () => {
    expect(benchFamiliesSettingsFromArgs({ docs: "1000", "small-docs": "250", seed: "3", "no-real": true })).toEqual({ docs: 1000, smallDocs: 250, seed: 3, real: false });
    expect(() => benchFamiliesSettingsFromArgs({ n: "lots" })).toThrow(/--n must be an integer/);
  });
});
