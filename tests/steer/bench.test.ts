/**
 * `npm run bench:steer`'s pure parts — argument parsing, percentiles, the seeded synthetic generator, the case
 * list and the JSON line — and one tiny case timed in process (structure and agreement with onnxruntime,
 * never speed).
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import {
  latencyStats,
  percentile,
  runSteerCase,
  SteerBenchConfig,
  steerBenchCases,
  SYNTHETIC_BLOCK_ROWS,
  syntheticRows,
  type SteerBenchReport,
  type SteerCaseResult,
} from "../../src/steer/bench.js";
import { benchSteerSettingsFromArgs, steerBenchJson, steerBenchRows } from "../../src/steer/bench-cli.js";

describe("benchSteerSettingsFromArgs", () => {
  it("turns the command-line strings into settings", () => {
    expect(benchSteerSettingsFromArgs({})).toEqual({});
    expect(
      benchSteerSettingsFromArgs({
        queries: "300",
        warmup: "5",
        k: "20",
        seed: "7",
        threads: "1",
        strength: "0.25",
        only: "100k × 512",
        "no-real": true,
        "no-large": true,
        "no-f16": true,
        "no-onnx": true,
        "in-process": true,
      }),
    ).toEqual({ queries: 300, warmup: 5, k: 20, seed: 7, threads: 1, strength: 0.25, only: "100k × 512", real: false, large: false, float16: false, onnx: false, inProcess: true });
  });

  it("rejects what is not a number", () => {
    expect(() => benchSteerSettingsFromArgs({ queries: "many" })).toThrow(/--queries must be an integer, got "many"/);
    expect(() => benchSteerSettingsFromArgs({ threads: "1.5" })).toThrow(SaerchError);
    expect(() => benchSteerSettingsFromArgs({ k: "" })).toThrow(SaerchError);
    expect(() => benchSteerSettingsFromArgs({ strength: "x" })).toThrow(/--strength must be a number/);
  });
});

describe("percentile and latencyStats", () => {
  it("use the nearest rank", () => {
    // 20 values 1..20: p50 = the 10th smallest, p95 = the 19th, p100 = the 20th.
    const xs = Array.from({ length: 20 }, (_, i) => 20 - i);
    expect(percentile(xs, 50)).toBe(10);
    expect(percentile(xs, 95)).toBe(19);
    expect(percentile(xs, 100)).toBe(20);
    expect(percentile([4], 95)).toBe(4);
    expect(percentile([3, 1, 2], 1)).toBe(1);
    expect(xs[0]).toBe(20); // not mutated
    expect(latencyStats([2, 4, 6, 8])).toEqual({ p50: 4, p95: 8, mean: 5, min: 2, max: 8 });
  });

  it("refuse no values and p outside (0, 100]", () => {
    expect(() => percentile([], 50)).toThrow(/no values/);
    expect(() => percentile([1], 0)).toThrow(/\(0, 100\]/);
    expect(() => percentile([1], 101)).toThrow(SaerchError);
  });
});

describe("syntheticRows", () => {
  it("is deterministic per seed, changes with it, and gives unit rows", () => {
    const a = syntheticRows(3, 24, 0, 50);
    expect(syntheticRows(3, 24, 0, 50)).toEqual(a);
    expect(syntheticRows(4, 24, 0, 50)).not.toEqual(a);
    for (let r = 0; r < 50; r++) {
      let ss = 0;
      for (let i = 0; i < 24; i++) ss += a[r * 24 + i]! ** 2;
      expect(Math.sqrt(ss)).toBeCloseTo(1, 6);
    }
  });

  it("gives the same rows however the range is chunked, across block boundaries", () => {
    const d = 5;
    const end = 2 * SYNTHETIC_BLOCK_ROWS + 17;
    const whole = syntheticRows("s", d, 0, end);
    const cuts = [0, 3, SYNTHETIC_BLOCK_ROWS - 1, SYNTHETIC_BLOCK_ROWS + 2, 2 * SYNTHETIC_BLOCK_ROWS, end];
    const pieces = cuts.slice(1).map((e, i) => syntheticRows("s", d, cuts[i]!, e));
    const joined = new Float32Array(whole.length);
    let o = 0;
    for (const p of pieces) {
      joined.set(p, o);
      o += p.length;
    }
    expect(joined).toEqual(whole);
    expect(syntheticRows("s", d, 7, 7)).toHaveLength(0);
    expect(() => syntheticRows("s", d, 5, 4)).toThrow(/bad range/);
  });
});

describe("steerBenchCases", () => {
  it("lists the headline first, every size and precision, onnx only for float32 up to 100k rows", () => {
    const cases = steerBenchCases(SteerBenchConfig.parse({}));
    expect(cases.map((c) => c.label)).toEqual([
      "synthetic 100k × 512 float32",
      "synthetic 100k × 512 float16",
      "use-lite-512 (real) float32",
      "use-lite-512 (real) float16",
      "synthetic 100k × 1536 float32",
      "synthetic 100k × 1536 float16",
      "synthetic 1M × 512 float32",
      "synthetic 1M × 512 float16",
      "synthetic 1M × 1536 float32",
      "synthetic 1M × 1536 float16",
    ]);
    expect(cases.filter((c) => c.onnx).map((c) => c.label)).toEqual([
      "synthetic 100k × 512 float32",
      "use-lite-512 (real) float32",
      "synthetic 100k × 1536 float32",
    ]);
    expect(cases.every((c) => c.queries >= 200 && c.k === 10 && c.saeK === 32 && c.expansion === 8)).toBe(true);
  });

  it("drops what the flags turn off and filters by label", () => {
    const few = steerBenchCases(SteerBenchConfig.parse({ real: false, large: false, float16: false, onnx: false }));
    expect(few.map((c) => c.label)).toEqual(["synthetic 100k × 512 float32", "synthetic 100k × 1536 float32"]);
    expect(few.some((c) => c.onnx)).toBe(false);
    expect(steerBenchCases(SteerBenchConfig.parse({ only: "1M × 1536" })).map((c) => c.dtype)).toEqual(["float32", "float16"]);
  });
});

describe("one case and the report", () => {
  it("times a tiny synthetic case in process; onnxruntime ranks the steered queries the same", async () => {
    const spec = {
      label: "tiny",
      source: "synthetic" as const,
      n: 3001,
      d: 24,
      dtype: "float32" as const,
      queries: 6,
      warmup: 2,
      k: 10,
      saeK: 4,
      expansion: 8,
      strength: 2.5,
      seed: 1,
      threads: 2,
      streamRepeats: 2,
      onnx: true,
    };
    const r = await runSteerCase(spec);
    expect(r).toMatchObject({ label: "tiny", source: "synthetic", n: 3001, d: 24, dtype: "float32", threads: 2, queries: 6, k: 10, sae: { n: 192, k: 4 } });
    expect(r.indexMB).toBeCloseTo((3001 * 24 * 4) / 1e6, 9);
    for (const s of [r.totalMs, r.encodeMs, r.interveneMs, r.rankMs, r.rankAloneMs]) {
      expect(s.min).toBeGreaterThanOrEqual(0);
      expect(s.p50).toBeLessThanOrEqual(s.p95);
      expect(s.p95).toBeLessThanOrEqual(s.max);
    }
    expect(r.boundMs).toBeGreaterThan(0);
    expect(r.p95OverBound).toBeCloseTo(r.totalMs.p95 / r.boundMs, 9);
    expect(r.onnx?.agreement).toBe(1);
    expect(r.onnx?.initializer).toBeDefined();
    expect(r.peakRssMB).toBeGreaterThan(0);

    const f16 = await runSteerCase({ ...spec, dtype: "float16", onnx: false, threads: 1 });
    expect(f16.onnx).toBeUndefined();
    expect(f16.indexMB).toBeCloseTo(r.indexMB / 2, 9);

    const report: SteerBenchReport = {
      startedAt: "2026-01-01T00:00:00.000Z",
      machine: { cpus: 2, cpuModel: "test", node: "v20", loadBefore: 0, loadAfter: 0, totalMemGB: 24 },
      settings: SteerBenchConfig.parse({}),
      targets: { p95OverBound: 2, p95Ms: 25, headline: { source: "synthetic", n: 100_000, d: 512, dtype: "float32" } },
      headline: r,
      meetsTargets: true,
      cases: [r, f16],
      isolation: "in process",
    };
    const line = steerBenchJson(report, "/tmp/steer.json");
    expect(line.split("\n")).toHaveLength(1);
    const json = JSON.parse(line) as Record<string, unknown> & { cases: SteerCaseResult[] };
    expect(json.p95Ms).toBe(r.totalMs.p95);
    expect(json.boundMs).toBe(r.boundMs);
    expect(json.p95OverBound).toBe(r.p95OverBound);
    expect(json.meetsTargets).toBe(true);
    expect(json.cases).toHaveLength(2);
    const rows = steerBenchRows(report);
    expect(rows).toHaveLength(2);
    expect(rows[0]!.case).toBe("tiny");
    expect(rows[1]!["onnx p50/p95"]).toBe("");
  });
});
