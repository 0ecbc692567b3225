/**
 * The `webgpu` engine: the whole top-k SAE training step (METHOD.md §2, THE STEP SPEC of naive.ts) on a WebGPU
 * device through Dawn (npm `webgpu`). Parameters, Adam moments and dead-latent counters stay resident on the
 * device; each step uploads the batch `[B, D]` (and 16 bytes of per-step scalars) and reads back 32 bytes of
 * metrics. The batch input is double-buffered: `stage` checks batch t + 1 and writes it into the input slot step t
 * does not read while step t runs (batch-stream.ts), so the upload overlaps the compute. The kernels are in kernels.ts. The backward pass is sparse: only the B·(K + KA) selected pairs carry
 * gradient, gathered per latent from a `[B, F]` slot map, so no dense `[B, F]` gradient product is ever formed.
 *
 * Precision: float32 throughout (the reference keeps float64 intermediates); sums run in a fixed order, so
 * the engine is deterministic. Dead counters are two u32 words per latent on the device (exact to 2⁵³).
 *
 * A lost device (GPU reset, driver crash, `device.destroy()`) fails the running or next call with a
 * DeviceLostError, and `state()` never returns buffers read after the loss, so a checkpoint is never written
 * from them.
 */
import { SaerchError } from "../../core/errors.js";
import type { ResolvedSaeConfig } from "../config.js";
import type { AdamState, SaeParams } from "../params.js";
import {
  batchVariance,
  checkTrainBatch,
  checkTrainState,
  DeviceLostError,
  type StepStats,
  type TrainState,
  type TrainStep,
} from "../train-step.js";
import { adapterLabel, checkAdapterFits, openWebGpuDevice, type WebGpuAdapterReport, type WebGpuContext } from "./adapter.js";
import { GEMM_TILE, MAX_GROUPS_X, stepKernels, WG, type KernelShape, type KernelSource } from "./kernels.js";

const WHO = "webgpu SAE step";
/** Bytes of the uniform block (b, denom, stepSize, sqrtBc2). */
const UNIFORM_BYTES = 16;
/** Bytes of the scalar block (nDead, sse, asse, evar, scaleMain, scaleAux, gradSq, coef). */
const SCALAR_BYTES = 32;

/** Input buffers `[B, D]` the steps alternate between: one is read by the running step, the next batch uploads into the other. */
const INPUT_SLOTS = 2;
/**
 * Milliseconds a failed map waits for the device's `lost` promise before deciding the failure was not a loss (Dawn
 * settles `lost` before the rejected maps; the wait covers an implementation that does not).
 */
const LOST_SETTLE_MS = 100;

/** Names of the resident buffers that depend only on (D, F). */
const PARAM_BUFFERS = ["wEnc", "bLat", "wDec", "bPre", "mEnc", "vEnc", "mLat", "vLat", "mDec", "vDec", "mPre", "vPre"] as const;

/** A compiled kernel. */
export interface Pipeline {
  source: KernelSource;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** Name of input slot `slot`'s `[B, D]` buffer (the kernels bind it as `x`). */
function inputName(slot: number): string {
  return `x${slot}`;
}

/** A grid of `groups` workgroups, wrapped into y past the per-dimension limit. */
export function grid(groups: number): [number, number] {
  if (groups <= MAX_GROUPS_X) return [Math.max(1, groups), 1];
  return [MAX_GROUPS_X, Math.ceil(groups / MAX_GROUPS_X)];
}

/** Pipelines compiled per device, by WGSL source (a software adapter takes seconds per compile). */
const PIPELINE_CACHE = new WeakMap<GPUDevice, Map<string, Pipeline>>();

/** Compile (or reuse) a kernel's pipeline with an explicit layout: uniform at 0, its storage buffers after. */
export function compilePipeline(device: GPUDevice, source: KernelSource): Pipeline {
  let cache = PIPELINE_CACHE.get(device);
  if (!cache) PIPELINE_CACHE.set(device, (cache = new Map()));
  const hit = cache.get(source.code);
  if (hit) return hit;
  // An explicit layout (not "auto"): every declared binding stays in it, used by the kernel or not.
  const layout = device.createBindGroupLayout({
    label: source.name,
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" } },
      ...source.buffers.map((_, i) => ({ binding: i + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: "storage" as const } })),
    ],
  });
  const module = device.createShaderModule({ label: source.name, code: source.code });
  const pipeline = device.createComputePipeline({
    label: source.name,
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: "main" },
  });
  const out = { source, pipeline, layout };
  cache.set(source.code, out);
  return out;
}

/**
 * What the engine did with its input slots, in order: `upload` (a batch of `rows` rows written to `slot`;
 * `whileStepRuns`: a submitted step's metrics were not read back yet, i.e. the upload overlaps its compute),
 * `submit` (a step's kernels submitted, reading `slot`), `complete` (that step's metrics read back).
 */
export interface WebGpuStepEvent {
  kind: "upload" | "submit" | "complete";
  slot: number;
  rows: number;
  whileStepRuns: boolean;
}

/** Options of the webgpu engine. */
export interface WebGpuStepOptions {
  /** An already opened device (shared with an encoder, a probe); default: open one. */
  context?: WebGpuContext;
  /** Called with every input-slot event (tests check the double buffering with it). */
  onEvent?: (event: WebGpuStepEvent) => void;
}

/** A batch checked for the next step: its rows, NMSE denominator and the input slot it is (or will be) written to. */
interface StagedBatch {
  xBD: Float32Array;
  rows: number;
  denom: number;
  slot: number;
  /** False when the batch is bigger than the buffers: they grow, and it uploads, when its step runs. */
  uploaded: boolean;
}

/** The webgpu engine. Create with `WebGpuTrainStep.create`. */
export class WebGpuTrainStep implements TrainStep {
  readonly engine: string;
  /** Results do not depend on a thread count. */
  readonly threads = undefined;
  /** The adapter the step runs on. */
  readonly adapter: WebGpuAdapterReport;
  private readonly device: GPUDevice;
  private readonly buffers = new Map<string, GPUBuffer>();
  private readonly pipelines: Pipeline[];
  private readonly uniform: GPUBuffer;
  private readonly readback: GPUBuffer;
  /** `[slot][kernel]`: each input slot's bind groups (they differ only in the `x` buffer). */
  private bindGroups: GPUBindGroup[][] = [];
  /** Rows the per-batch buffers hold. */
  private capacity = 0;
  /** The input slot of the last submitted step (the first step reads slot 0). */
  private lastSlot = INPUT_SLOTS - 1;
  /** The batch `stage` checked (and uploaded) for the next step. */
  private staged: StagedBatch | undefined;
  /** Whether a submitted step's metrics are still to be read back. */
  private running = false;
  private t: number;
  private lost: string | undefined;
  private closed = false;

  private constructor(
    private readonly config: ResolvedSaeConfig,
    private readonly context: WebGpuContext,
    private readonly ownsDevice: boolean,
    init: TrainState,
    private readonly onEvent: WebGpuStepOptions["onEvent"],
  ) {
    const { device, adapter } = context;
    this.device = device;
    this.adapter = adapter;
    this.engine = `webgpu (${adapterLabel(adapter)})`;
    this.t = init.adam.t;
    void device.lost.then((info) => {
      if (!this.closed) this.lost = `${info.reason}: ${info.message}`;
    });
    const shape: KernelShape = {
      d: config.d,
      n: config.n,
      k: config.k,
      kAux: config.kAux,
      deadWindow: config.deadWindow,
      auxCoef: config.auxCoef,
      gradClip: config.gradClip,
      beta1: config.beta1,
      beta2: config.beta2,
      eps: config.eps,
    };
    this.pipelines = Object.values(stepKernels(shape)).map((source) => compilePipeline(device, source));
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const { d, n } = config;
    const upload = (name: string, data: Float32Array | Uint32Array): void => {
      const buf = device.createBuffer({ label: name, size: Math.max(16, data.byteLength), usage });
      device.queue.writeBuffer(buf, 0, data);
      this.buffers.set(name, buf);
    };
    const p = init.params;
    const a = init.adam;
    upload("wEnc", p.wEncFD);
    upload("bLat", p.bLatF);
    upload("wDec", p.wDecFD);
    upload("bPre", p.bPreD);
    upload("mEnc", a.m.wEncFD);
    upload("vEnc", a.v.wEncFD);
    upload("mLat", a.m.bLatF);
    upload("vLat", a.v.bLatF);
    upload("mDec", a.m.wDecFD);
    upload("vDec", a.v.wDecFD);
    upload("mPre", a.m.bPreD);
    upload("vPre", a.v.bPreD);
    const sinceF2 = new Uint32Array(2 * n);
    init.sinceFiredF.forEach((s, j) => {
      sinceF2[j] = s % 2 ** 32;
      sinceF2[n + j] = Math.floor(s / 2 ** 32);
    });
    upload("since", sinceF2);
    upload("dead", new Uint32Array(n));
    upload("grads", new Float32Array(2 * n * d));
    upload("latF", new Float32Array(2 * n));
    upload("colPart", new Float32Array(4 * d));
    upload("scalars", new Uint32Array(SCALAR_BYTES / 4));
    this.uniform = device.createBuffer({ label: "step", size: UNIFORM_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.readback = device.createBuffer({ label: "readback", size: SCALAR_BYTES, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.ensureCapacity(config.batch);
  }

  /**
   * Open the device (or use `opts.context`), check the adapter's limits against the shape, compile the kernels
   * and upload the state.
   * @param init parameters, Adam state and dead counters, copied to the device (never aliased)
   * @throws SaerchError when there is no adapter (naming what to install) or its limits are too small
   */
  static async create(config: ResolvedSaeConfig, init: TrainState, opts: WebGpuStepOptions = {}): Promise<WebGpuTrainStep> {
    checkTrainState(config, init, WHO);
    if (config.k + config.kAux >= 0xffff) {
      throw new SaerchError(`${WHO}: k + kAux = ${config.k + config.kAux} must be below 65535 (16-bit pair slots)`);
    }
    const context = opts.context ?? (await openWebGpuDevice());
    checkAdapterFits(context.adapter, { d: config.d, n: config.n, batch: config.batch }, WHO);
    context.device.pushErrorScope("validation");
    const step = new WebGpuTrainStep(config, context, opts.context === undefined, init, opts.onEvent);
    const err = await context.device.popErrorScope();
    if (err) {
      await step.close();
      throw new SaerchError(`${WHO}: the device rejected the kernels: ${err.message.split("\n").slice(0, 6).join(" | ")}`);
    }
    return step;
  }

  /** (Re)allocate the per-batch buffers for `rows` rows and rebuild the bind groups. */
  private ensureCapacity(rows: number): void {
    if (rows <= this.capacity) return;
    const { d, n, k, kAux } = this.config;
    checkAdapterFits(this.adapter, { d, n, batch: rows }, WHO);
    const kk = k + kAux;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const sizes: Record<string, number> = { h: rows * n, slots: rows * n, pairIdx: rows * kk, pairs: 2 * rows * kk, resid: 2 * rows * d };
    for (let slot = 0; slot < INPUT_SLOTS; slot++) sizes[inputName(slot)] = rows * d;
    for (const [name, len] of Object.entries(sizes)) {
      this.buffers.get(name)?.destroy();
      // New buffers are zeroed: the slot map starts empty and every step leaves it empty.
      this.buffers.set(name, this.device.createBuffer({ label: name, size: Math.max(16, 4 * len), usage }));
    }
    this.capacity = rows;
    this.bindGroups = Array.from({ length: INPUT_SLOTS }, (_, slot) =>
      this.pipelines.map(({ source, layout }) =>
        this.device.createBindGroup({
          label: `${source.name} (input ${slot})`,
          layout,
          entries: [
            { binding: 0, resource: { buffer: this.uniform } },
            ...source.buffers.map((name, i) => ({ binding: i + 1, resource: { buffer: this.buffer(name === "x" ? inputName(slot) : name) } })),
          ],
        }),
      ),
    );
  }

  private buffer(name: string): GPUBuffer {
    const b = this.buffers.get(name);
    if (!b) throw new Error(`webgpu engine: no buffer ${name}`);
    return b;
  }

  private checkUsable(): void {
    if (this.closed) throw new SaerchError(`${WHO}: the engine is closed`);
    if (this.lost) throw new DeviceLostError(WHO, this.lost);
  }

  /**
   * After a failed map: wait (briefly) for the device's `lost` promise, then throw the DeviceLostError if the device
   * is gone, else `err` itself.
   */
  private async failedMap(err: unknown): Promise<never> {
    if (!this.closed && !this.lost) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.device.lost, new Promise((res) => (timer = setTimeout(res, LOST_SETTLE_MS)))]);
      clearTimeout(timer);
    }
    this.checkUsable();
    throw err;
  }

  /**
   * Check the batch the next step trains on and write it into the input slot the running step does not read, so
   * that its upload overlaps that step's compute (TrainStep.stage). The next `step` must pass the same, unchanged array.
   * @param xBD row-major batch `[B, D]`
   */
  stage(xBD: Float32Array): void {
    this.staged = this.check(xBD);
  }

  /** Check a batch (B ≥ 2 rows, finite, not all identical), compute its NMSE denominator and upload it when it fits. */
  private check(xBD: Float32Array): StagedBatch {
    this.checkUsable();
    const { d } = this.config;
    const b = checkTrainBatch(xBD, d, WHO);
    const denom = batchVariance(xBD, b, d);
    if (!(denom > 0)) {
      throw new SaerchError(
        `${WHO}: the ${b} batch rows are identical, so the NMSE denominator mean((x̄ − x)²) is 0`,
        "shuffle the training rows and drop duplicate embeddings",
      );
    }
    const batch: StagedBatch = { xBD, rows: b, denom, slot: (this.lastSlot + 1) % INPUT_SLOTS, uploaded: false };
    // A bigger batch waits for its step: growing the buffers now would free ones the running step reads.
    if (b <= this.capacity) this.upload(batch);
    return batch;
  }

  private upload(batch: StagedBatch): void {
    this.device.queue.writeBuffer(this.buffer(inputName(batch.slot)), 0, batch.xBD);
    batch.uploaded = true;
    this.onEvent?.({ kind: "upload", slot: batch.slot, rows: batch.rows, whileStepRuns: this.running });
  }

  /** One step on `xBD` `[B, D]` (B ≥ 2; B may change between calls); uses the upload `stage(xBD)` started, if any. */
  async step(xBD: Float32Array): Promise<StepStats> {
    const staged = this.staged;
    this.staged = undefined;
    const batch = staged?.xBD === xBD ? staged : this.check(xBD);
    this.checkUsable();
    const { d, n, k, kAux, lr, beta1, beta2 } = this.config;
    const { rows: b, denom, slot } = batch;
    if (!batch.uploaded) {
      this.ensureCapacity(b);
      this.upload(batch);
    }
    const t = this.t + 1;
    const uni = new ArrayBuffer(UNIFORM_BYTES);
    new Uint32Array(uni, 0, 1)[0] = b;
    new Float32Array(uni, 4, 3).set([denom, lr / (1 - beta1 ** t), Math.sqrt(1 - beta2 ** t)]);
    const q = this.device.queue;
    q.writeBuffer(this.uniform, 0, uni);

    const kk = k + kAux;
    const rowsGroups = (count: number): [number, number] => grid(Math.ceil(count / WG));
    const dispatch: Record<string, [number, number]> = {
      dead: rowsGroups(n),
      gemm: [Math.ceil(n / GEMM_TILE), Math.ceil(b / GEMM_TILE)],
      select: grid(b),
      decode: rowsGroups(b * d),
      colstats: rowsGroups(d),
      scalars1: [1, 1],
      pairs: rowsGroups(b * kk),
      gpre: rowsGroups(d),
      accumulate: grid(n),
      scalars2: [1, 1],
      adamEnc: rowsGroups(n * d),
      adamSmall: rowsGroups(n + d),
      adamDec: grid(n),
    };
    const enc = this.device.createCommandEncoder({ label: "sae step" });
    enc.clearBuffer(this.buffer("scalars"));
    const pass = enc.beginComputePass();
    this.pipelines.forEach(({ source, pipeline }, i) => {
      const [x, y] = dispatch[source.name]!;
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, this.bindGroups[slot]![i]!);
      pass.dispatchWorkgroups(x, y);
    });
    pass.end();
    enc.copyBufferToBuffer(this.buffer("scalars"), 0, this.readback, 0, SCALAR_BYTES);
    q.submit([enc.finish()]);
    this.lastSlot = slot;
    this.running = true;
    this.onEvent?.({ kind: "submit", slot, rows: b, whileStepRuns: false });
    let raw: ArrayBuffer;
    try {
      raw = await this.readScalars();
    } finally {
      this.running = false;
    }
    this.onEvent?.({ kind: "complete", slot, rows: b, whileStepRuns: false });
    this.t = t;
    const nDead = new Uint32Array(raw, 0, 1)[0]!;
    const [sse, asse, evar, , , gradSq] = Array.from(new Float32Array(raw, 4, 7));
    const nmse = sse! / (b * d * denom);
    const auxk = kAux > 0 && nDead > 0 && evar! > 0 ? asse! / evar! : 0;
    return { loss: nmse + this.config.auxCoef * auxk, nmse, auxk, deadFraction: nDead / n, gradNorm: Math.sqrt(gradSq!) };
  }

  private async readScalars(): Promise<ArrayBuffer> {
    try {
      await this.readback.mapAsync(GPUMapMode.READ);
    } catch (err) {
      return this.failedMap(err);
    }
    const out = this.readback.getMappedRange().slice(0);
    this.readback.unmap();
    return out;
  }

  /** Read device buffers back (one submit, one map per buffer). */
  private async download(names: readonly string[]): Promise<Map<string, ArrayBuffer>> {
    const enc = this.device.createCommandEncoder({ label: "download" });
    const staged = names.map((name) => {
      const src = this.buffer(name);
      const dst = this.device.createBuffer({ size: src.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      enc.copyBufferToBuffer(src, 0, dst, 0, src.size);
      return [name, dst] as const;
    });
    this.device.queue.submit([enc.finish()]);
    const out = new Map<string, ArrayBuffer>();
    try {
      for (const [name, dst] of staged) {
        try {
          await dst.mapAsync(GPUMapMode.READ);
        } catch (err) {
          return await this.failedMap(err);
        }
        out.set(name, dst.getMappedRange().slice(0));
        dst.unmap();
      }
    } finally {
      for (const [, dst] of staged) dst.destroy();
    }
    // Buffers read after a loss are not the state: refuse them (a checkpoint is written only from a returned state).
    this.checkUsable();
    return out;
  }

  /** Copies of the current parameters, Adam state and dead counters, read back from the device. */
  async state(): Promise<TrainState> {
    this.checkUsable();
    const { d, n } = this.config;
    const got = await this.download([...PARAM_BUFFERS, "since"]);
    const f32 = (name: string, len: number): Float32Array => new Float32Array(got.get(name)!, 0, len).slice();
    const params: SaeParams = { d, n, wEncFD: f32("wEnc", n * d), bLatF: f32("bLat", n), wDecFD: f32("wDec", n * d), bPreD: f32("bPre", d) };
    const moment = (m: "m" | "v"): AdamState["m"] => ({ wEncFD: f32(`${m}Enc`, n * d), bLatF: f32(`${m}Lat`, n), wDecFD: f32(`${m}Dec`, n * d), bPreD: f32(`${m}Pre`, d) });
    const sinceF2 = new Uint32Array(got.get("since")!, 0, 2 * n);
    const sinceFiredF = Float64Array.from({ length: n }, (_, j) => sinceF2[n + j]! * 2 ** 32 + sinceF2[j]!);
    return { params, adam: { t: this.t, m: moment("m"), v: moment("v") }, sinceFiredF };
  }

  /** Free the device buffers (and the device, when the engine opened it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const b of this.buffers.values()) b.destroy();
    this.uniform.destroy();
    this.readback.destroy();
    if (this.ownsDevice) this.context.device.destroy();
  }
}
