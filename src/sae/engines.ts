/**
 * Engine selection: config.engine → a TrainStep factory. "onnx" is the fast sparse-aware default,
 * "tfjs" the autograd reference (on tfjs-node-gpu when it loads, else wasm), "webgpu" the whole step on a
 * WebGPU device (src/sae/webgpu/), "auto" webgpu on a hardware adapter and onnx otherwise, "naive" the
 * plain-JS spec.
 */
import type { ResolvedSaeConfig } from "./config.js";
import { NaiveTrainStep } from "./naive.js";
import { OnnxTrainStep } from "./onnx-step.js";
import { TfjsTrainStep } from "./tfjs-step.js";
import type { TrainState, TrainStep } from "./train-step.js";
import { describeAdapter, requestWebGpuAdapter, type WebGpuAdapterReport } from "./webgpu/adapter.js";
import { WebGpuTrainStep } from "./webgpu/step.js";

/** Every engine name a TrainStep can be created for. */
export type EngineName = ResolvedSaeConfig["engine"] | "naive";

/**
 * What "auto" runs on: webgpu when the adapter is a hardware GPU, onnx when it is a software rasteriser or
 * when there is none (reason given) — the CPU engine is faster than a CPU-emulated GPU.
 */
export function chooseAutoEngine(adapter: WebGpuAdapterReport | undefined): "webgpu" | "onnx" {
  return adapter && !adapter.software ? "webgpu" : "onnx";
}

/** Resolve "auto" on this machine (probing the WebGPU adapter); other names pass through. */
export async function resolveEngine(engine: EngineName): Promise<Exclude<EngineName, "auto">> {
  if (engine !== "auto") return engine;
  try {
    const adapter = await requestWebGpuAdapter();
    return chooseAutoEngine(describeAdapter(adapter));
  } catch {
    return chooseAutoEngine(undefined);
  }
}

/**
 * Create the training step for `engine` (default: the config's), starting from `init` (copied, never aliased).
 */
export async function createTrainStep(
  config: ResolvedSaeConfig,
  init: TrainState,
  engine: EngineName = config.engine,
): Promise<TrainStep> {
  switch (await resolveEngine(engine)) {
    case "onnx":
      return OnnxTrainStep.create(config, init, { threads: config.threads || undefined });
    case "tfjs":
      return TfjsTrainStep.create(config, init);
    case "webgpu":
      return WebGpuTrainStep.create(config, init);
    case "naive":
      return new NaiveTrainStep(config, init);
  }
}
