/**
 * SAE inference on a WebGPU device (METHOD.md §2: h = (x − bPre)·wEncᵀ + bLat, z = ReLU(top-k(h))): the
 * training step's own GEMM and selection kernels (kernels.ts) with no AuxK, so corpus codes come from the same
 * arithmetic the webgpu engine trained with. Ties go to the lower latent index, as in every other encoder.
 * Weights stay on the device; each block uploads `[B, D]` and reads back `[B, K]` indices and values.
 */
import { SaerchError } from "../../core/errors.js";
import { checkSaeParams, type SparseCodesBK } from "../model.js";
import type { SaeEncoder } from "../onnx-encode.js";
import type { SaeParams } from "../params.js";
import { checkAdapterFits, openWebGpuDevice, type WebGpuContext } from "./adapter.js";
import { GEMM_TILE, stepKernels } from "./kernels.js";
import { compilePipeline, grid, type Pipeline } from "./step.js";

const WHO = "webgpu SAE encoder";

/** Options of createWebGpuEncoder. */
export interface WebGpuEncoderOptions {
  /** An already opened device; default: open one (closed with the encoder). */
  context?: WebGpuContext;
  /** Rows of the first block (buffers grow for bigger ones); default 1024. */
  rows?: number;
}

/**
 * Open an encoder for `params` keeping `k` latents per row.
 * @throws SaerchError when there is no adapter or its limits are too small for `[B, F]`
 */
export async function createWebGpuEncoder(params: SaeParams, k: number, opts: WebGpuEncoderOptions = {}): Promise<SaeEncoder> {
  checkSaeParams(params, "createWebGpuEncoder");
  const { d, n } = params;
  if (!Number.isInteger(k) || k < 1 || k > n) throw new SaerchError(`${WHO}: k = ${k} must be an integer in [1, n = ${n}]`);
  const ctx = opts.context ?? (await openWebGpuDevice());
  const { device } = ctx;
  const kernels = stepKernels({ d, n, k, kAux: 0, deadWindow: 1, auxCoef: 0, gradClip: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  const pipes: Pipeline[] = [compilePipeline(device, kernels.gemm!), compilePipeline(device, kernels.select!)];
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buffers = new Map<string, GPUBuffer>();
  const put = (name: string, data: Float32Array | Uint32Array): void => {
    const buf = device.createBuffer({ label: name, size: Math.max(16, data.byteLength), usage });
    device.queue.writeBuffer(buf, 0, data);
    buffers.set(name, buf);
  };
  put("wEnc", params.wEncFD);
  put("bLat", params.bLatF);
  put("bPre", params.bPreD);
  put("dead", new Uint32Array(n));
  const uniform = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  let capacity = 0;
  let groups: GPUBindGroup[] = [];
  const ensure = (rows: number): void => {
    if (rows <= capacity) return;
    checkAdapterFits(ctx.adapter, { d, n, batch: rows }, WHO);
    for (const [name, len] of Object.entries({ x: rows * d, h: rows * n, slots: rows * n, pairIdx: rows * k, pairs: 2 * rows * k })) {
      buffers.get(name)?.destroy();
      buffers.set(name, device.createBuffer({ label: name, size: Math.max(16, 4 * len), usage }));
    }
    capacity = rows;
    groups = pipes.map(({ source, layout }) =>
      device.createBindGroup({
        layout,
        entries: [{ binding: 0, resource: { buffer: uniform } }, ...source.buffers.map((name, i) => ({ binding: i + 1, resource: { buffer: buffers.get(name)! } }))],
      }),
    );
  };
  ensure(opts.rows ?? 1024);
  let closed = false;
  return {
    async encode(xBD: Float32Array, b: number): Promise<SparseCodesBK> {
      if (closed) throw new SaerchError(`${WHO}: the encoder is closed`);
      if (!Number.isInteger(b) || b < 1 || xBD.length !== b * d) {
        throw new SaerchError(`${WHO}: batch has ${xBD.length} values, expected b·D = ${b}·${d}`);
      }
      ensure(b);
      device.queue.writeBuffer(uniform, 0, Uint32Array.of(b, 0, 0, 0));
      device.queue.writeBuffer(buffers.get("x")!, 0, xBD);
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipes[0]!.pipeline);
      pass.setBindGroup(0, groups[0]!);
      pass.dispatchWorkgroups(Math.ceil(n / GEMM_TILE), Math.ceil(b / GEMM_TILE));
      pass.setPipeline(pipes[1]!.pipeline);
      pass.setBindGroup(0, groups[1]!);
      pass.dispatchWorkgroups(...grid(b));
      pass.end();
      const bytes = 4 * b * k;
      const read = device.createBuffer({ size: 2 * bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      enc.copyBufferToBuffer(buffers.get("pairIdx")!, 0, read, 0, bytes);
      enc.copyBufferToBuffer(buffers.get("pairs")!, 0, read, bytes, bytes);
      device.queue.submit([enc.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const raw = read.getMappedRange().slice(0);
      read.unmap();
      read.destroy();
      return { indicesBK: new Int32Array(raw, 0, b * k), valuesBK: new Float32Array(raw, bytes, b * k) };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const buf of buffers.values()) buf.destroy();
      uniform.destroy();
      if (!opts.context) device.destroy();
    },
  };
}
