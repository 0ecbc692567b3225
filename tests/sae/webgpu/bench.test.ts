/**
 * Tests for the webgpu path of `npm run bench:sae` (src/sae/bench.ts, bench-cli.ts, webgpu/bench-device.ts):
 * one JSON line with the same fields as the other engines plus the adapter, and on a software adapter the
 * note that the run checks correctness, not speed; `stream` (batches gathered and streamed as training does,
 * overlapped or sequential) reports the gather and the host time hidden under the step. Tiny shape: nothing
 * here measures speed.
 */
import { describe, expect, it, vi } from "vitest";
import { benchSaeEngine } from "../../../src/sae/bench.js";
import { benchSaeMain, SOFTWARE_NOTE } from "../../../src/sae/bench-cli.js";
import { GPU_TEST_TIMEOUT_MS, gpuContext, noAdapter } from "./gpu-available.js";

describe.skipIf(noAdapter !== undefined)("bench:sae --engine webgpu", { timeout: GPU_TEST_TIMEOUT_MS }, () => {
  it("measures steps/s and the device's own GEMM, and names the adapter", async () => {
    const r = await benchSaeEngine({ engine: "webgpu", d: 16, n: 48, k: 4, batch: 8, steps: 1 });
    expect(r.engine).toMatch(/^webgpu \(/);
    expect(r.adapter).toBe(r.engine.slice("webgpu (".length, -1));
    expect(r.softwareAdapter).toBe(gpuContext!.adapter.software);
    for (const v of [r.stepsPerSecond, r.samplesPerSecond, r.encoderGemmSeconds, r.stepOverGemm]) {
      expect(Number.isFinite(v) && v > 0).toBe(true);
    }
    expect(r.samplesPerSecond).toBeCloseTo(8 * r.stepsPerSecond, 6);
  });

  it("--json prints one line with the other engines' fields, the adapter, and the software note where it applies", async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void lines.push(a.join(" ")));
    try {
      expect(await benchSaeMain({ engine: "webgpu", d: "16", n: "48", k: "4", batch: "8", steps: "1", json: true })).toBe(0);
    } finally {
      log.mockRestore();
    }
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]!) as Record<string, unknown>;
    for (const key of ["engine", "d", "n", "k", "batch", "stepsPerSecond", "samplesPerSecond", "encoderGemmSeconds", "stepOverGemm", "peakRssMB", "adapter", "softwareAdapter"]) {
      expect(r, key).toHaveProperty(key);
    }
    expect(r.note).toBe(r.softwareAdapter ? SOFTWARE_NOTE : undefined);
  });

  it("--stream overlap|sequential gathers and streams the batches and reports the host time; another value is refused", async () => {
    const shape = { engine: "webgpu" as const, d: 16, n: 48, k: 4, batch: 8, steps: 2 };
    const overlap = await benchSaeEngine({ ...shape, stream: "overlap" });
    expect(overlap.stream).toBe("overlap");
    expect(overlap.gatherMsPerBatch).toBeGreaterThan(0);
    expect(overlap.overlappedMsPerStep).toBeGreaterThan(0);
    const sequential = await benchSaeEngine({ ...shape, stream: "sequential" });
    expect(sequential).toMatchObject({ stream: "sequential" });
    expect(sequential.overlappedMsPerStep).toBeUndefined();
    const errors: string[] = [];
    const err = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void errors.push(a.join(" ")));
    try {
      expect(await benchSaeMain({ engine: "webgpu", d: "16", n: "48", k: "4", batch: "8", steps: "1", stream: "both" })).toBe(1);
    } finally {
      err.mockRestore();
    }
    expect(errors.join("\n")).toMatch(/--stream must be "overlap" or "sequential"/);
  });
});
