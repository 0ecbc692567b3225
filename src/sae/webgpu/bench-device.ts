/**
 * The benchmark's handle on one WebGPU device (src/sae/bench.ts): the training step and the encoder-GEMM
 * timing on the same adapter, and the adapter's name for the result line.
 */
import type { ResolvedSaeConfig } from "../config.js";
import type { TrainState, TrainStep } from "../train-step.js";
import { adapterLabel, openWebGpuDevice } from "./adapter.js";
import { webGpuGemmSeconds } from "./gemm.js";
import { WebGpuTrainStep } from "./step.js";

/** What the benchmark needs from the device. */
export interface BenchDevice {
  /** e.g. "mesa software (llvmpipe: …), software adapter". */
  adapter: string;
  /** A CPU rasteriser: a correctness run, not a speed figure. */
  software: boolean;
  createStep(config: ResolvedSaeConfig, init: TrainState): Promise<TrainStep>;
  gemmSeconds(shape: { b: number; d: number; n: number }): Promise<number>;
  close(): void;
}

/** Open the device (SaerchError naming what to install when there is no adapter). */
export async function openBenchDevice(): Promise<BenchDevice> {
  const ctx = await openWebGpuDevice();
  return {
    adapter: adapterLabel(ctx.adapter),
    software: ctx.adapter.software,
    createStep: (config, init) => WebGpuTrainStep.create(config, init, { context: ctx }),
    gemmSeconds: (shape) => webGpuGemmSeconds(ctx, shape),
    close: () => ctx.device.destroy(),
  };
}
