/**
 * Whether a WebGPU adapter can be created here (the webgpu engine's tests need one). Where none can, the tests
 * are skipped and the reason is printed once, naming what to install (CI installs Mesa's software adapter).
 */
import { describeError } from "../../../src/core/errors.js";
import { openWebGpuDevice } from "../../../src/sae/webgpu/adapter.js";

/** Resolves to the reason no adapter can be created, or undefined when one can. */
async function probe(): Promise<string | undefined> {
  try {
    const ctx = await openWebGpuDevice();
    ctx.device.destroy();
    return undefined;
  } catch (err) {
    return describeError(err);
  }
}

/** undefined when an adapter works; else the reason (already printed). */
export const noAdapter: string | undefined = await probe();
if (noAdapter) console.warn(`webgpu tests skipped: ${noAdapter}`);
