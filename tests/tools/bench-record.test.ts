/**
 * Tests for src/tools/bench-record.ts: the command line a record names, where records go (the project's
 * data directory), and what a written record holds.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { benchDir, repoRoot } from "../../src/io/paths.js";
import { benchCommand, benchRecordPath, writeBenchRecord, type BenchRecord } from "../../src/tools/bench-record.js";

let dir: string;
let savedData: string | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "saerch-bench-record-"));
  savedData = process.env.SAERCH_DATA;
  process.env.SAERCH_DATA = dir;
});
afterEach(() => {
  if (savedData === undefined) delete process.env.SAERCH_DATA;
  else process.env.SAERCH_DATA = savedData;
  rmSync(dir, { recursive: true, force: true });
});

describe("benchCommand", () => {
  const script = join(repoRoot(), "scripts", "bench-sae.mjs");

  it("names the npm script when npm started it, with the arguments after --", () => {
    const argv = ["/usr/bin/node", script, "--engine", "onnx", "--json"];
    expect(benchCommand(argv, { npm_lifecycle_event: "bench:sae" })).toBe("npm run bench:sae -- --engine onnx --json");
    expect(benchCommand(argv.slice(0, 2), { npm_lifecycle_event: "bench:sae" })).toBe("npm run bench:sae");
  });

  it("otherwise names the script relative to the repository, quoting arguments a shell would split", () => {
    expect(benchCommand(["/usr/bin/node", script, "--only", "100k × 512"], {})).toBe("node scripts/bench-sae.mjs --only '100k × 512'");
  });
});

describe("writeBenchRecord", () => {
  it("writes <data>/bench/<kind>-<start time>.json with machine, versions, config, figures, times and command", () => {
    const startedAt = "2026-01-02T03:04:05.678Z";
    const { path, record } = writeBenchRecord("sae", {
      config: { d: 4, n: 8 },
      figures: [{ engine: "onnx", stepsPerSecond: 1.5 }],
      startedAt,
      command: "npm run bench:sae",
    });
    expect(benchDir()).toBe(join(dir, "bench"));
    expect(path).toBe(join(dir, "bench", "sae-2026-01-02T03-04-05-678Z.json"));
    expect(path).toBe(benchRecordPath("sae", startedAt));
    const read = JSON.parse(readFileSync(path, "utf8")) as BenchRecord;
    expect(read).toEqual(record);
    expect(read.kind).toBe("sae");
    expect(read.command).toBe("npm run bench:sae");
    expect(read.startedAt).toBe(startedAt);
    expect(Date.parse(read.finishedAt)).toBeGreaterThanOrEqual(Date.parse(startedAt));
    expect(read.config).toEqual({ d: 4, n: 8 });
    expect(read.figures).toEqual([{ engine: "onnx", stepsPerSecond: 1.5 }]);
    expect(read.machine.cpus).toBeGreaterThanOrEqual(1);
    expect(read.machine.cpuModel.length).toBeGreaterThan(0);
    expect(read.machine.memoryGiB).toBeGreaterThan(0);
    expect(read.versions.node).toBe(process.versions.node);
    expect(read.versions["saerch-ts"]).toMatch(/^\d+\.\d+\.\d+/);
    expect(read.versions["onnxruntime-node"]).toMatch(/^\d+\.\d+\.\d+/);
    expect(Object.keys(read.versions)).toContain("commit");
  });

  it("writes to an explicit path and defaults the command to this process's", () => {
    const out = join(dir, "elsewhere", "r.json");
    const { path, record } = writeBenchRecord("embed", { config: {}, figures: { docsPerSecond: 3 }, out });
    expect(path).toBe(out);
    expect(record.command).toBe(benchCommand());
    expect(JSON.parse(readFileSync(out, "utf8")).figures).toEqual({ docsPerSecond: 3 });
  });
});
