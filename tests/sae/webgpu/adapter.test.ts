/**
 * Tests for src/sae/webgpu/adapter.ts: the adapter report on this machine's adapter (CI: Mesa's llvmpipe,
 * reported as software), the software-adapter rule, and the limits check's messages.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../../src/core/errors.js";
import {
  adapterLabel,
  checkAdapterFits,
  isSoftwareAdapter,
  openWebGpuDevice,
  WEBGPU_INSTALL_FIX,
  type WebGpuAdapterReport,
} from "../../../src/sae/webgpu/adapter.js";
import { gpuContext, noAdapter } from "./gpu-available.js";

/** An adapter like llvmpipe's, with a 128 MiB storage binding. */
const SMALL: WebGpuAdapterReport = {
  vendor: "mesa",
  architecture: "software",
  device: "llvmpipe",
  description: "llvmpipe: Mesa 25.0.7",
  software: true,
  maxStorageBufferBindingSize: 128 * 2 ** 20,
  maxBufferSize: 2 ** 32 - 1,
  maxStorageBuffersPerShaderStage: 16,
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupsPerDimension: 65535,
};

describe("webgpu adapter", () => {
  it("names software rasterisers as software, vendor GPUs not", () => {
    const base = { vendor: "", architecture: "", device: "", description: "" };
    expect(isSoftwareAdapter({ ...base, vendor: "mesa", architecture: "software", device: "llvmpipe-llvm-15" })).toBe(true);
    expect(isSoftwareAdapter({ ...base, vendor: "google", device: "SwiftShader Device (Subzero)" })).toBe(true);
    expect(isSoftwareAdapter({ ...base, isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter({ ...base, vendor: "nvidia", architecture: "ampere", description: "NVIDIA: 550.54" })).toBe(false);
    expect(adapterLabel(SMALL)).toBe("mesa software (llvmpipe: Mesa 25.0.7), software adapter");
  });

  it("refuses a shape whose gradients or pre-activations exceed one storage binding, naming sizes and fixes", () => {
    // d 1536, n 9216: [2, F, D] float32 = 108 MiB fits in 128 MiB; n 16384 (192 MiB) does not.
    expect(() => checkAdapterFits(SMALL, { d: 1536, n: 9216, batch: 1024 })).not.toThrow();
    expect(() => checkAdapterFits(SMALL, { d: 1536, n: 16384, batch: 1024 })).toThrow(
      /\[2, F, D\] = \[2, 16384, 1536\] float32 gradients needs 192\.0 MiB in one storage buffer, but the adapter \(mesa software .*\) allows 128\.0 MiB/,
    );
    // [B, F] = [8192, 8192] float32 = 256 MiB.
    expect(() => checkAdapterFits(SMALL, { d: 64, n: 8192, batch: 8192 })).toThrow(/\[B, F\] = \[8192, 8192\] float32 pre-activations/);
    try {
      checkAdapterFits(SMALL, { d: 64, n: 8192, batch: 8192 });
    } catch (err) {
      expect(err).toBeInstanceOf(SaerchError);
      expect((err as SaerchError).fix).toMatch(/smaller n·d or batch.*engine "onnx"/);
    }
    expect(() => checkAdapterFits({ ...SMALL, maxStorageBuffersPerShaderStage: 8 }, { d: 8, n: 16, batch: 4 })).toThrow(/8 storage buffers per shader, the engine needs 10/);
  });

  it("the install hint names the Vulkan loader and Mesa from backports", () => {
    expect(WEBGPU_INSTALL_FIX).toMatch(/apt-get install -y libvulkan1/);
    expect(WEBGPU_INSTALL_FIX).toMatch(/-t bookworm-backports mesa-vulkan-drivers/);
  });

  it.skipIf(noAdapter !== undefined)("opens a device with the adapter's storage limits and reports the adapter", async () => {
    const { device, adapter } = await openWebGpuDevice();
    expect(gpuContext!.adapter).toEqual(adapter);
    try {
      expect(adapter.vendor.length).toBeGreaterThan(0);
      expect(device.limits.maxStorageBufferBindingSize).toBe(adapter.maxStorageBufferBindingSize);
      expect(adapter.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
      if (/llvmpipe/.test(adapter.device)) expect(adapter.software).toBe(true);
    } finally {
      device.destroy();
    }
  });
});
