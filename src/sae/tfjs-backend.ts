/**
 * Loading TensorFlow.js for the autograd SAE engine (METHOD.md §2; docs/STACK.md "Compute engine"): which tfjs
 * backend runs the step. "auto" takes the GPU build (@tensorflow/tfjs-node-gpu, backend "tensorflow") when that
 * optional package loads, else WebAssembly (SIMD, single-threaded in Node). The pure-JS "cpu" backend is ~25×
 * slower than wasm and only useful to cross-check kernels. "webgpu" (@tensorflow/tfjs-backend-webgpu on Dawn's
 * adapter, src/sae/webgpu/adapter.ts) is the GPU autograd reference for the webgpu engine.
 *
 * tfjs keeps ONE global active backend: `selectTfjsBackend` is called before every step so two engines on
 * different backends can coexist (tfjs then moves a tensor's data between backends on first use).
 */
import type * as Tf from "@tensorflow/tfjs";
import { SaerchError } from "../core/errors.js";

/** The tfjs module namespace (loaded lazily: importing it costs ~1 s). */
export type TfModule = typeof Tf;

/** A concrete tfjs backend this project can run the SAE step on. */
export const TFJS_BACKENDS = ["wasm", "cpu", "tensorflow", "webgpu"] as const;
/** A concrete tfjs backend name (as `tf.getBackend()` reports it). */
export type TfjsBackend = (typeof TFJS_BACKENDS)[number];
/** A backend request: a concrete backend, or "auto" (tensorflow when tfjs-node-gpu loads, else wasm). */
export type TfjsBackendChoice = "auto" | TfjsBackend;

/** tfjs loaded and initialised on one backend. */
export interface TfjsRuntime {
  /** The tfjs namespace. */
  tf: TfModule;
  /** The backend in use. */
  backend: TfjsBackend;
  /** Human-readable engine name, e.g. "tfjs wasm" or "tfjs-node-gpu". */
  label: string;
}

/** Optional package: a variable specifier, so type-checking does not require it to be installed. */
const TFJS_NODE_GPU: string = "@tensorflow/tfjs-node-gpu";

/** Node's codes for a package that is not installed. */
const MODULE_NOT_FOUND_CODES = new Set(["ERR_MODULE_NOT_FOUND", "MODULE_NOT_FOUND"]);

let tfPromise: Promise<TfModule> | undefined;

/** Import tfjs once, in production mode (no debug checks; silences the "install the node backend" banner). */
async function importTf(): Promise<TfModule> {
  tfPromise ??= import("@tensorflow/tfjs").then((tf) => {
    tf.enableProdMode();
    return tf;
  });
  return tfPromise;
}

/** Register `backend`'s kernels (imports its package) and make it the active backend. */
async function activate(tf: TfModule, backend: TfjsBackend): Promise<void> {
  if (backend === "wasm") await import("@tensorflow/tfjs-backend-wasm");
  if (backend === "tensorflow") await import(TFJS_NODE_GPU);
  if (backend === "webgpu") {
    // tfjs-backend-webgpu finds the adapter through navigator.gpu, which webGpu() sets from Dawn's create([]).
    const { requestWebGpuAdapter } = await import("./webgpu/adapter.js");
    await requestWebGpuAdapter(); // a SaerchError naming what to install when there is none
    await import("@tensorflow/tfjs-backend-webgpu");
  }
  if (!(await tf.setBackend(backend))) {
    throw new SaerchError(`tfjs backend "${backend}" failed to initialise`, 'use backend "wasm" (always available)');
  }
  await tf.ready();
}

function labelOf(backend: TfjsBackend): string {
  return backend === "tensorflow" ? "tfjs-node-gpu" : `tfjs ${backend}`;
}

/**
 * Load tfjs and activate a backend.
 * @param choice "auto" (default): "tensorflow" when @tensorflow/tfjs-node-gpu loads, else "wasm"
 * @throws SaerchError naming the fix when an explicitly requested backend cannot load
 */
export async function loadTfjs(choice: TfjsBackendChoice = "auto"): Promise<TfjsRuntime> {
  const tf = await importTf();
  if (choice === "auto") {
    try {
      await activate(tf, "tensorflow");
      return { tf, backend: "tensorflow", label: labelOf("tensorflow") };
    } catch {
      // Not installed (its install needs internet) or no usable CUDA: fall back to WebAssembly.
    }
    await activate(tf, "wasm");
    return { tf, backend: "wasm", label: labelOf("wasm") };
  }
  try {
    await activate(tf, choice);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (choice === "tensorflow" && e.code !== undefined && MODULE_NOT_FOUND_CODES.has(e.code)) {
      throw new SaerchError(
        'tfjs backend "tensorflow" needs the optional package @tensorflow/tfjs-node-gpu, which is not installed',
        'install it where there is internet and CUDA 11.2 / cuDNN 8.1 (its install downloads libtensorflow), or use backend "wasm"',
      );
    }
    throw err;
  }
  return { tf, backend: choice, label: labelOf(choice) };
}

/** Make `runtime.backend` the active tfjs backend again (another engine may have switched it). */
export async function selectTfjsBackend(runtime: TfjsRuntime): Promise<void> {
  if (runtime.tf.getBackend() !== runtime.backend) await activate(runtime.tf, runtime.backend);
}
