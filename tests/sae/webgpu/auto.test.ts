/**
 * Tests for engine "auto" (src/sae/engines.ts): webgpu on a hardware adapter, onnx on a software one or none,
 * and what createTrainStep builds for it on this machine.
 */
import { describe, expect, it } from "vitest";
import { resolveSaeConfig } from "../../../src/sae/config.js";
import { chooseAutoEngine, createTrainStep, resolveEngine } from "../../../src/sae/engines.js";
import { initSaeParams, zeroAdamState } from "../../../src/sae/params.js";
import type { WebGpuAdapterReport } from "../../../src/sae/webgpu/adapter.js";
import { GPU_TEST_TIMEOUT_MS, gpuContext } from "./gpu-available.js";

const ADAPTER: WebGpuAdapterReport = {
  vendor: "nvidia",
  architecture: "hopper",
  device: "NVIDIA H100",
  description: "NVIDIA: 550.54",
  software: false,
  maxStorageBufferBindingSize: 2 ** 31,
  maxBufferSize: 2 ** 34,
  maxStorageBuffersPerShaderStage: 16,
  maxComputeWorkgroupStorageSize: 49152,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupsPerDimension: 65535,
};

describe("engine auto", { timeout: GPU_TEST_TIMEOUT_MS }, () => {
  it("takes webgpu on a hardware adapter, onnx on a software adapter or none", () => {
    expect(chooseAutoEngine(ADAPTER)).toBe("webgpu");
    expect(chooseAutoEngine({ ...ADAPTER, vendor: "mesa", architecture: "software", software: true })).toBe("onnx");
    expect(chooseAutoEngine(undefined)).toBe("onnx");
  });

  it("resolves on this machine from its adapter, and other names pass through", async () => {
    const want = gpuContext && !gpuContext.adapter.software ? "webgpu" : "onnx";
    expect(await resolveEngine("auto")).toBe(want);
    expect(await resolveEngine("tfjs")).toBe("tfjs");
    const c = resolveSaeConfig({ d: 8, n: 16, k: 2, steps: 1, batch: 4, engine: "auto", threads: 1 }, 100);
    const init = { params: initSaeParams(8, 16, new Float32Array(32).map((_, i) => Math.sin(i)), 0), adam: zeroAdamState(8, 16), sinceFiredF: new Float64Array(16) };
    const step = await createTrainStep(c, init);
    try {
      expect(step.engine.startsWith(want)).toBe(true);
    } finally {
      await step.close();
    }
  });
});
