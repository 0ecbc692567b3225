/**
 * Timing of the webgpu engine's encoder GEMM alone (kernels.ts `gemm`, h[B, F] = (x − bPre)·wEncᵀ + bLat), the
 * denominator of the benchmark's step ÷ GEMM ratio and the engine probe's GFLOP/s (METHOD.md §2: the one dense
 * product of a training step, 2·B·D·F flops).
 */
import { bestTimeSeconds } from "../../compute/engines.js";
import type { WebGpuContext } from "./adapter.js";
import { GEMM_TILE, stepKernels } from "./kernels.js";
import { compilePipeline } from "./step.js";

/**
 * Best-of-`reps` seconds of one `[B, D]·[D, F]` encoder GEMM on the device (after a warm-up), each timed
 * from submit to the queue's completion. Inputs are filled with a fixed pattern (speed does not depend on them).
 */
export async function webGpuGemmSeconds(ctx: WebGpuContext, shape: { b: number; d: number; n: number }, reps = 3): Promise<number> {
  const { device } = ctx;
  const { b, d, n } = shape;
  const gemm = stepKernels({ d, n, k: 1, kAux: 0, deadWindow: 1, auxCoef: 0, gradClip: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8 }).gemm!;
  const { pipeline, layout, source } = compilePipeline(device, gemm);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const pattern = (len: number): Float32Array => Float32Array.from({ length: len }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const sizes: Record<string, number> = { x: b * d, bPre: d, wEnc: n * d, bLat: n, h: b * n };
  const buffers = new Map<string, GPUBuffer>();
  for (const [name, len] of Object.entries(sizes)) {
    const buf = device.createBuffer({ size: Math.max(16, 4 * len), usage });
    if (name !== "h") device.queue.writeBuffer(buf, 0, pattern(len));
    buffers.set(name, buf);
  }
  const uniform = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(uniform, 0, Uint32Array.of(b, 0, 0, 0));
  const group = device.createBindGroup({
    layout,
    entries: [{ binding: 0, resource: { buffer: uniform } }, ...source.buffers.map((name, i) => ({ binding: i + 1, resource: { buffer: buffers.get(name)! } }))],
  });
  try {
    return await bestTimeSeconds(async () => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(Math.ceil(n / GEMM_TILE), Math.ceil(b / GEMM_TILE));
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    }, reps);
  } finally {
    for (const buf of buffers.values()) buf.destroy();
    uniform.destroy();
  }
}
