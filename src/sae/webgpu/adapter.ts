/**
 * The WebGPU adapter and device for the `webgpu` SAE engine (METHOD.md §2 on a GPU): Dawn's Node bindings
 * (npm `webgpu`, whose Linux x64 binary ships inside the package) over the machine's Vulkan driver — a vendor
 * driver on a GPU, Mesa's software rasteriser (llvmpipe) on a CPU-only machine. This module finds the adapter,
 * reports what it is (vendor, architecture, software or not, the limits that bound an SAE's size), checks a
 * shape against those limits and opens a device with the limits raised to the adapter's maxima. Every failure
 * is a SaerchError that names what to install.
 */
import { SaerchError } from "../../core/errors.js";

/** What to install when no adapter is found (Debian/Ubuntu). */
export const WEBGPU_INSTALL_FIX =
  "install the Vulkan loader and a Vulkan driver: `apt-get install -y libvulkan1` plus your GPU vendor's Vulkan " +
  "driver, or Mesa's software one for a CPU-only machine (Debian bookworm: add bookworm-backports, then " +
  "`apt-get install -y -t bookworm-backports mesa-vulkan-drivers`; bookworm's own Mesa 22.3 is too old for Dawn); " +
  "`npm run setup` does this as root";

/** The adapter's identity and the limits an SAE step depends on. */
export interface WebGpuAdapterReport {
  /** e.g. "nvidia", "mesa". */
  vendor: string;
  /** e.g. "ampere", "software". */
  architecture: string;
  /** Device name, e.g. "llvmpipe-llvm-15-0-6-256-bits-". */
  device: string;
  /** Driver description, e.g. "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)". */
  description: string;
  /** True for a CPU rasteriser (Dawn's fallback flag, or architecture/device naming llvmpipe, SwiftShader, lavapipe). */
  software: boolean;
  /** Bytes one storage binding may cover: bounds the biggest buffers of the step (`[2, F, D]`, `[B, F]`). */
  maxStorageBufferBindingSize: number;
  /** Bytes one buffer may hold. */
  maxBufferSize: number;
  /** Storage buffers one compute shader may bind. */
  maxStorageBuffersPerShaderStage: number;
  /** Workgroup memory in bytes. */
  maxComputeWorkgroupStorageSize: number;
  /** Invocations per workgroup. */
  maxComputeInvocationsPerWorkgroup: number;
  /** Workgroups per dispatch dimension. */
  maxComputeWorkgroupsPerDimension: number;
}

/** An opened device with the report of the adapter it came from. */
export interface WebGpuContext {
  device: GPUDevice;
  adapter: WebGpuAdapterReport;
  /** The GPU object (navigator.gpu) the adapter came from. */
  gpu: GPU;
}

/** Storage buffers the engine's widest kernel binds (see step-kernels.ts). */
export const ENGINE_STORAGE_BUFFERS = 10;

let gpuSingleton: GPU | undefined;

/**
 * The process's one `GPU` object from `webgpu`'s create([]), with WebGPU's globals (GPUBufferUsage, …)
 * installed and `globalThis.navigator.gpu` set where it is missing (tfjs-backend-webgpu looks there).
 * @throws SaerchError when the package or its native binary does not load
 */
export async function webGpu(): Promise<GPU> {
  if (gpuSingleton) return gpuSingleton;
  let mod: { create: (options: string[]) => GPU; globals: object };
  try {
    mod = (await import("webgpu")) as typeof mod;
  } catch (err) {
    const msg = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new SaerchError(
      `webgpu: the npm package \`webgpu\` (Dawn's Node bindings) did not load: ${msg}`,
      "run `npm ci` (it ships prebuilt binaries for linux-x64/arm64, darwin and win32; no download at install)",
    );
  }
  const g = globalThis as Record<string, unknown>;
  for (const [key, value] of Object.entries(mod.globals)) if (!(key in g)) g[key] = value;
  const gpu = mod.create([]);
  const nav = (g.navigator ?? {}) as { gpu?: GPU };
  if (!nav.gpu) {
    try {
      Object.defineProperty(nav, "gpu", { value: gpu, configurable: true });
      if (!g.navigator) g.navigator = nav;
    } catch {
      // Node 21+ has a read-only navigator without gpu: tfjs then cannot see the adapter, the engine still can.
    }
  }
  gpuSingleton = gpu;
  return gpu;
}

/** Whether an adapter's identity names a CPU rasteriser. */
export function isSoftwareAdapter(info: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean }): boolean {
  if (info.isFallbackAdapter) return true;
  const text = `${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return /software|llvmpipe|lavapipe|swiftshader/.test(text);
}

/** The report of an adapter. */
export function describeAdapter(adapter: GPUAdapter): WebGpuAdapterReport {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const fields = {
    vendor: info.vendor || "unknown",
    architecture: info.architecture || "unknown",
    device: info.device || "unknown",
    description: info.description || "",
    isFallbackAdapter: info.isFallbackAdapter === true,
  };
  const l = adapter.limits;
  return {
    vendor: fields.vendor,
    architecture: fields.architecture,
    device: fields.device,
    description: fields.description,
    software: isSoftwareAdapter(fields),
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
  };
}

/** One line naming the adapter, e.g. "mesa software (llvmpipe: Mesa 25.0.7…), software adapter". */
export function adapterLabel(a: WebGpuAdapterReport): string {
  const what = `${a.vendor} ${a.architecture}${a.description ? ` (${a.description})` : ` (${a.device})`}`;
  return a.software ? `${what}, software adapter` : what;
}

/**
 * Find the adapter (high-performance preference).
 * @throws SaerchError naming what to install when there is none
 */
export async function requestWebGpuAdapter(): Promise<GPUAdapter> {
  const gpu = await webGpu();
  let adapter: GPUAdapter | null = null;
  let reason = "";
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (err) {
    reason = `: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`;
  }
  if (!adapter) throw new SaerchError(`webgpu: no WebGPU adapter found (Dawn found no Vulkan driver)${reason}`, WEBGPU_INSTALL_FIX);
  return adapter;
}

/** The sizes of one engine's biggest buffers, for the limits check. */
export interface WebGpuShape {
  d: number;
  n: number;
  /** Largest batch the engine will see (the `[B, F]` pre-activations are its biggest per-step buffer). */
  batch: number;
}

/**
 * Throw unless the adapter can hold the step's buffers: the `[2, F, D]` gradients and the `[B, F]`
 * pre-activations (float32) must each fit in one storage binding, and the widest kernel's bindings in one shader stage.
 */
export function checkAdapterFits(a: WebGpuAdapterReport, shape: WebGpuShape, who = "webgpu SAE engine"): void {
  const { d, n, batch } = shape;
  const need = [
    { what: `the [2, F, D] = [2, ${n}, ${d}] float32 gradients`, bytes: 8 * n * d },
    { what: `the [B, F] = [${batch}, ${n}] float32 pre-activations`, bytes: 4 * batch * n },
  ];
  const limit = Math.min(a.maxStorageBufferBindingSize, a.maxBufferSize);
  for (const { what, bytes } of need) {
    if (bytes > limit) {
      throw new SaerchError(
        `${who}: ${what} needs ${(bytes / 2 ** 20).toFixed(1)} MiB in one storage buffer, but the adapter ` +
          `(${adapterLabel(a)}) allows ${(limit / 2 ** 20).toFixed(1)} MiB (maxStorageBufferBindingSize)`,
        `use a smaller n·d or batch, a GPU whose driver allows bigger storage buffers, or engine "onnx"`,
      );
    }
  }
  if (a.maxStorageBuffersPerShaderStage < ENGINE_STORAGE_BUFFERS) {
    throw new SaerchError(
      `${who}: the adapter (${adapterLabel(a)}) allows ${a.maxStorageBuffersPerShaderStage} storage buffers per shader, the engine needs ${ENGINE_STORAGE_BUFFERS}`,
      `use engine "onnx"`,
    );
  }
}

/**
 * Open a device on the adapter with the buffer limits raised to the adapter's maxima (the defaults cap a
 * binding at 128 MiB whatever the GPU), and report the adapter.
 */
export async function openWebGpuDevice(): Promise<WebGpuContext> {
  const gpu = await webGpu();
  const adapter = await requestWebGpuAdapter();
  const report = describeAdapter(adapter);
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
  return { device, adapter: report, gpu };
}
