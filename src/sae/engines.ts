/**
 * Engine selection: config.engine → a TrainStep factory. "onnx" is the fast sparse-aware default,
 * "tfjs" the autograd reference (on tfjs-node-gpu when it loads, else wasm), "webgpu" the whole step on a
 * WebGPU device (src/sae/webgpu/), "naive" the plain-JS spec.
 */
import type { ResolvedSaeConfig } from "./config.js";
import { NaiveTrainStep } from "./naive.js";
import { OnnxTrainStep } from "./onnx-step.js";
import { TfjsTrainStep } from "./tfjs-step.js";
import type { TrainState, TrainStep } from "./train-step.js";
import { WebGpuTrainStep } from "./webgpu/step.js";

/** Every engine name a TrainStep can be created for. */
export type EngineName = ResolvedSaeConfig["engine"] | "naive";

/**
 * Create the training step for `engine` (default: the config's), starting from `init` (copied, never aliased).
 */
export async function createTrainStep(
  config: ResolvedSaeConfig,
  init: TrainState,
  engine: EngineName = config.engine,
): Promise<TrainStep> {
  switch (engine) {
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
