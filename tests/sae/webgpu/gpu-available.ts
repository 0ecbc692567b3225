/**
 * Whether a WebGPU adapter can be created here (the webgpu engine's tests need one). Where none can, the tests
 * are skipped and the reason is printed once, naming what to install (CI installs Mesa's software adapter).
 * Where one can, `gpuContext` is one device the tests of a file share (opening one per engine costs seconds
 * on a loaded machine; compiled pipelines are cached per device).
 */
import { describeError } from "../../../src/core/errors.js";
import { openWebGpuDevice, type WebGpuContext } from "../../../src/sae/webgpu/adapter.js";

/** Tests of the engine on a software adapter compile a dozen kernels per shape: allow for a loaded machine. */
export const GPU_TEST_TIMEOUT_MS = 240_000;

async function open(): Promise<WebGpuContext | string> {
  try {
    return await openWebGpuDevice();
  } catch (err) {
    return describeError(err);
  }
}

const opened = await open();
/** The shared device, when an adapter works. */
export const gpuContext: WebGpuContext | undefined = typeof opened === "string" ? undefined : opened;
/** undefined when an adapter works; else the reason (already printed). */
export const noAdapter: string | undefined = typeof opened === "string" ? opened : undefined;
if (noAdapter) console.warn(`webgpu tests skipped: ${noAdapter}`);
