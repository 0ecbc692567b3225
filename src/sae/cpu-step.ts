/**
 * The onnx engine's CPU state and passes (METHOD.md §2, THE STEP SPEC steps 4–12): the encoder's and decoder's
 * parameters, Adam moments and gradients, resident for the whole run in one WebAssembly memory, the batch
 * staging, and the kernels of `cpu-kernels.ts` run over them — split across threads by rows (batch rows for the
 * decode, latents for everything else) when more than one thread is given.
 *
 * Threads: the memory is then shared with worker threads that run the same module (`kernel-pool.ts`: the
 * Atomics handoff); each pass hands every thread a row range, the calling thread takes the first range, and
 * partial sums are added here, in thread order (so the same thread count gives the same bits). onnxruntime-node does not accept SharedArrayBuffer-backed
 * tensors, so with threads the encoder weights are mirrored into an ordinary buffer after each update (one
 * `[F, D]` copy) and the selections are copied in from onnxruntime's outputs.
 */
import { WASM_MAX_PAGES, WASM_PAGE, wasmApi, type WasmMemory } from "../compute/wasm-assembler.js";
import {
  accumulateRowsInPlace,
  ADAM_PROJECT,
  ADAM_RENORM,
  adamRowsInPlace,
  decodeRows,
  groupPairsByLatent,
  KERNEL_NAMES,
  kernelModule,
  projectedNormSq,
  sumSquares,
  weightedRowSum,
  type AdamScalars,
  type KernelName,
  type StepStaging,
} from "./cpu-kernels.js";
import { KernelPool, type KernelPoolTiming } from "./kernel-pool.js";

/** Where the kernels run: WebAssembly SIMD (fast) or plain JS (fallback, reference). */
export type CpuBackend = "wasm" | "js";

/** One `[F, D]` matrix's resident buffers. */
export interface MatrixSlots {
  /** Parameter `[F, D]`. */
  p: Float32Array;
  /** Adam first moment `[F, D]`. */
  m: Float32Array;
  /** Adam second moment `[F, D]`. */
  v: Float32Array;
  /** Gradient `[F, D]` (accumulated from the pairs each step). */
  g: Float32Array;
}

/** Sizes the state holds buffers for. */
export interface CpuShape {
  /** Latents F. */
  n: number;
  /** Input dimension D. */
  d: number;
  /** K. */
  k: number;
  /** Most AuxK latents per row (config kAux). */
  kAux: number;
  /** Rows per batch there is staging for (grows on demand). */
  batchCapacity: number;
  /** Threads the kernels run on (1 = the calling thread only; "js" always uses 1). */
  threads: number;
}

function align16(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}

/** Byte offsets of every buffer; the batch-dependent staging comes last, so growing keeps the resident part. */
function layout(shape: CpuShape): Record<string, number> & { total: number; staging: number } {
  const { n, d, k, kAux, batchCapacity: cap, threads } = shape;
  const kk = k + kAux;
  const sizes: [string, number][] = [
    ...["encP", "encM", "encV", "encG", "decP", "decM", "decV", "decG"].map((name): [string, number] => [name, n * d * 4]),
    ["along", n * 8],
    ["offsets", (n + 1) * 4],
    ["colSum", threads * d * 8],
    ["rowSum", threads * d * 4],
    ["bPre", d * 4],
    ["gLat", n * 4],
    ["staging", 0],
    ["x", cap * d * 4],
    ["xc", cap * d * 4],
    ["r", cap * d * 4],
    ["rA", cap * d * 4],
    ["indices", cap * k * 4],
    ["values", cap * k * 4],
    ["auxIndices", cap * kAux * 4],
    ["auxValues", cap * kAux * 4],
    ["pairIdx", cap * kk * 4],
    ["pairDec", cap * kk * 4],
    ["pairEnc", cap * kk * 4],
    ["order", cap * kk * 4],
    ["sse", cap * 8],
    ["auxSse", cap * 8],
  ];
  const out: Record<string, number> = {};
  let offset = 0;
  for (const [name, bytes] of sizes) {
    out[name] = offset;
    offset += align16(bytes);
  }
  return { ...out, total: offset, staging: out.staging! };
}

/** Split [0, total) into `parts` contiguous ranges (some may be empty). */
function splitEven(total: number, parts: number): [number, number][] {
  return Array.from({ length: parts }, (_, t): [number, number] => [Math.floor((total * t) / parts), Math.floor((total * (t + 1)) / parts)]);
}

// --- The state. -----------------------------------------------------------------------------------------------

/**
 * The resident buffers and the step's passes. With the "wasm" backend every buffer is a view of one
 * WebAssembly memory; a batch bigger than the capacity grows it, which replaces every view (`ensureBatch`
 * says when). Call `close` to stop the worker threads.
 */
export class CpuKernels {
  enc!: MatrixSlots;
  dec!: MatrixSlots;
  staging!: StepStaging;
  /**
   * True when onnxruntime can read and write the staging and `enc.p` directly (one thread: an ordinary
   * memory). Otherwise use `encoderForOrt` and copy the selections in.
   */
  readonly ortCanShare: boolean;
  private alongF!: Float64Array;
  private colSumTD!: Float64Array;
  private rowSumTD!: Float32Array;
  private bPreD!: Float32Array;
  private gLatF!: Float32Array;
  private offsets!: Int32Array;
  private order!: Int32Array;
  private capacity: number;
  /** Ordinary-memory copy of the encoder weights for onnxruntime (threads > 1). */
  private readonly encMirror: Float32Array | undefined;
  private readonly memory: WasmMemory | undefined;
  private readonly pool: KernelPool<KernelName> | undefined;
  readonly threads: number;

  /** True when WebAssembly SIMD is available here and the buffers fit one wasm32 memory. */
  static wasmSupported(shape: CpuShape): boolean {
    if (Math.ceil(layout(shape).total / WASM_PAGE) > WASM_MAX_PAGES) return false;
    try {
      return wasmApi.validate(kernelModule(1));
    } catch {
      return false;
    }
  }

  /**
   * @param timing fault injection for the worker handoff (tests and the stress harness only)
   */
  constructor(
    readonly shape: CpuShape,
    readonly backend: CpuBackend,
    timing: KernelPoolTiming = {},
  ) {
    this.threads = backend === "js" ? 1 : Math.max(1, Math.floor(shape.threads));
    this.shape = { ...shape, threads: this.threads };
    this.capacity = shape.batchCapacity;
    const bytes = layout(this.shape).total;
    if (backend === "js") {
      this.memory = undefined;
      this.pool = undefined;
      this.encMirror = undefined;
      this.ortCanShare = true;
      this.bind(new ArrayBuffer(bytes));
      return;
    }
    const shared = this.threads > 1;
    const pages = Math.ceil(bytes / WASM_PAGE);
    const memory = new wasmApi.Memory({ initial: pages, maximum: WASM_MAX_PAGES, shared });
    const module = new wasmApi.Module(kernelModule(pages, shared));
    const instance = new wasmApi.Instance(module, { env: { mem: memory } });
    this.memory = memory;
    const kernels = instance.exports as Record<KernelName, (...args: number[]) => number>;
    this.pool = new KernelPool(kernels, module, memory, KERNEL_NAMES, this.threads, timing);
    this.ortCanShare = !shared;
    this.encMirror = shared ? new Float32Array(shape.n * shape.d) : undefined;
    this.bind(memory.buffer);
  }

  private bind(buffer: ArrayBufferLike): void {
    const { n, d, k, kAux } = this.shape;
    const cap = this.capacity;
    const threads = this.threads;
    const l = layout({ ...this.shape, batchCapacity: cap });
    const f32 = (name: string, len: number): Float32Array => new Float32Array(buffer, l[name]!, len);
    const i32 = (name: string, len: number): Int32Array => new Int32Array(buffer, l[name]!, len);
    const f64 = (name: string, len: number): Float64Array => new Float64Array(buffer, l[name]!, len);
    this.enc = { p: f32("encP", n * d), m: f32("encM", n * d), v: f32("encV", n * d), g: f32("encG", n * d) };
    this.dec = { p: f32("decP", n * d), m: f32("decM", n * d), v: f32("decV", n * d), g: f32("decG", n * d) };
    this.alongF = f64("along", n);
    this.colSumTD = f64("colSum", threads * d);
    this.rowSumTD = f32("rowSum", threads * d);
    this.bPreD = f32("bPre", d);
    this.gLatF = f32("gLat", n);
    this.offsets = i32("offsets", n + 1);
    const kk = k + kAux;
    this.order = i32("order", cap * kk);
    this.staging = {
      x: f32("x", cap * d),
      indices: i32("indices", cap * k),
      values: f32("values", cap * k),
      auxIndices: i32("auxIndices", cap * kAux),
      auxValues: f32("auxValues", cap * kAux),
      pairIdx: i32("pairIdx", cap * kk),
      pairDec: f32("pairDec", cap * kk),
      pairEnc: f32("pairEnc", cap * kk),
      xc: f32("xc", cap * d),
      r: f32("r", cap * d),
      rA: f32("rA", cap * d),
      sse: f64("sse", cap),
      auxSse: f64("auxSse", cap),
      colSum: this.colSumTD.subarray(0, d),
    };
  }

  /** The encoder weights as onnxruntime must see them (the resident view, or its mirror with threads). */
  encoderForOrt(): Float32Array {
    return this.encMirror ?? this.enc.p;
  }

  /** Refresh the mirror after the encoder weights changed outside the passes (e.g. the initial load). */
  syncEncoderMirror(): void {
    this.encMirror?.set(this.enc.p);
  }

  /**
   * Make room for a batch of `b` rows. Growing keeps the resident values but replaces every view: returns true
   * when the caller must re-read `enc`, `dec` and `staging`.
   */
  ensureBatch(b: number): boolean {
    if (b <= this.capacity) return false;
    const keep = layout(this.shape).staging;
    const after = layout({ ...this.shape, batchCapacity: b }).total;
    if (this.memory) {
      this.memory.grow(Math.ceil(after / WASM_PAGE) - this.memory.buffer.byteLength / WASM_PAGE);
      this.capacity = b;
      this.bind(this.memory.buffer);
    } else {
      const buffer = new ArrayBuffer(after);
      new Uint8Array(buffer).set(new Uint8Array(this.enc.p.buffer, 0, keep));
      this.capacity = b;
      this.bind(buffer);
    }
    return true;
  }

  /**
   * The sparse forward and backward of a batch of `b` rows whose selections are staged (see `cpu-kernels.ts`):
   * fills the pairs and row vectors and `staging.colSum` = Σ_b (x̂ − x)_b; returns Σ‖x̂ − x‖² and Σ‖ê − e‖².
   * @param s 2 / (B·D·denom): dL/dx̂ = s·(x̂ − x)
   */
  decode(b: number, ka: number, s: number, bPreD: Float32Array): { sse: number; auxSse: number } {
    const { d, k } = this.shape;
    const st = this.staging;
    this.colSumTD.fill(0);
    if (!this.pool) {
      decodeRows(st, bPreD, this.dec.p, k, ka, s, d, 0, b);
    } else {
      this.bPreD.set(bPreD);
      const at = (a: { byteOffset: number }): number => a.byteOffset;
      const common = [at(st.x), at(this.bPreD), at(this.dec.p), at(st.indices), at(st.values), k, at(st.auxIndices), at(st.auxValues), ka, s];
      const outs = [at(st.xc), at(st.r), at(st.rA), at(st.pairIdx), at(st.pairDec), at(st.pairEnc), at(st.sse), at(st.auxSse)];
      const ranges = splitEven(b, Math.min(this.threads, b));
      this.pool.run(
        "decode",
        ranges.map(([b0, b1], t) => [...common, ...outs, at(this.colSumTD) + t * d * 8, d, b0, b1]),
      );
      for (let t = 1; t < ranges.length; t++) for (let i = 0; i < d; i++) this.colSumTD[i]! += this.colSumTD[t * d + i]!;
    }
    let sse = 0;
    let auxSse = 0;
    for (let r = 0; r < b; r++) {
      sse += st.sse[r]!;
      auxSse += st.auxSse[r]!;
    }
    return { sse, auxSse };
  }

  /** Accumulate the `[F, D]` gradients from the staged pairs of `b` rows (`kk` pairs per row, `kMain` main). */
  accumulateGradients(b: number, kk: number, kMain: number): void {
    const { n, d } = this.shape;
    const { pairIdx, pairDec, pairEnc, r, rA, xc } = this.staging;
    groupPairsByLatent(pairIdx, b * kk, n, this.offsets, this.order);
    if (!this.pool) {
      accumulateRowsInPlace(this.dec.g, 0, n, d, this.offsets, this.order, pairDec, r, rA, kk, kMain);
      accumulateRowsInPlace(this.enc.g, 0, n, d, this.offsets, this.order, pairEnc, xc, xc, kk, kk);
      return;
    }
    // Latent ranges with about equal numbers of pairs (the work), not of latents.
    const pairs = b * kk;
    const cuts = [0];
    for (let t = 1, j = 0; t < this.threads; t++) {
      while (j < n && this.offsets[j]! < (pairs * t) / this.threads) j++;
      cuts.push(j);
    }
    cuts.push(n);
    const at = (a: { byteOffset: number }): number => a.byteOffset;
    const common = [d, at(this.offsets), at(this.order)];
    const ranges = cuts.slice(1).map((j1, t): [number, number] => [cuts[t]!, j1]);
    this.pool.run("accumulate", ranges.map(([j0, j1]) => [at(this.dec.g), j0, j1, ...common, at(pairDec), at(r), at(rA), kk, kMain]));
    this.pool.run("accumulate", ranges.map(([j0, j1]) => [at(this.enc.g), j0, j1, ...common, at(pairEnc), at(xc), at(xc), kk, kk]));
  }

  /** Per-thread latent ranges for the `[F, D]` passes, as [first row, rows]. */
  private rowRanges(): [number, number][] {
    return splitEven(this.shape.n, this.threads).map(([j0, j1]) => [j0, j1 - j0]);
  }

  /** Σ g² over the encoder gradient (float64 across rows). */
  encoderNormSq(): number {
    const { d } = this.shape;
    if (!this.pool) return sumSquares(this.enc.g);
    const base = this.enc.g.byteOffset;
    return sum(this.pool.run("sumSq", this.rowRanges().map(([j0, rows]) => [base + j0 * d * 4, rows, d])));
  }

  /** Step 9 (pass 1): per-row along_j = g_j·w_j, kept for the update; returns Σ_j ‖g_j − along_j·w_j‖². */
  decoderProjectedNormSq(): number {
    const { n, d } = this.shape;
    const dec = this.dec;
    if (!this.pool) return projectedNormSq(dec.g, dec.p, this.alongF, n, d);
    const [g, w, along] = [dec.g.byteOffset, dec.p.byteOffset, this.alongF.byteOffset];
    return sum(this.pool.run("project", this.rowRanges().map(([j0, rows]) => [g + j0 * d * 4, w + j0 * d * 4, rows, d, along + j0 * 8])));
  }

  /**
   * Steps 11–12 (pass 2) for both matrices: Adam with the clipped gradient coef·g (the decoder's projected with
   * pass 1's along_j), then the decoder rows back to unit norm.
   */
  adamInPlace(coef: number, s: AdamScalars): void {
    const { n, d } = this.shape;
    const { enc, dec } = this;
    if (!this.pool) {
      adamRowsInPlace(enc.p, enc.m, enc.v, enc.g, n, d, coef, s);
      adamRowsInPlace(dec.p, dec.m, dec.v, dec.g, n, d, coef, s, this.alongF, true);
      return;
    }
    const scalars = [s.beta1, s.beta2, (1 - s.beta1) * coef, (1 - s.beta2) * coef * coef, s.stepSize, 1 / s.sqrtBc2, s.eps];
    const along = this.alongF.byteOffset;
    for (const [slots, flags] of [[enc, 0], [dec, ADAM_PROJECT | ADAM_RENORM]] as const) {
      const ptrs = [slots.p, slots.m, slots.v, slots.g].map((a) => a.byteOffset);
      this.pool.run(
        "adam",
        this.rowRanges().map(([j0, rows]) => [...ptrs.map((p) => p + j0 * d * 4), rows, d, along + j0 * 8, flags, ...scalars]),
      );
    }
    this.syncEncoderMirror();
  }

  /** outD = Σ_j coefF[j]·wEnc_j (the encoder's share of the pre-bias gradient). */
  encoderWeightedRowSum(coefF: Float32Array, outD: Float32Array): void {
    const { n, d } = this.shape;
    if (!this.pool) {
      weightedRowSum(outD, this.enc.p, coefF, n, d);
      return;
    }
    this.gLatF.set(coefF);
    const [out, w, coef] = [this.rowSumTD.byteOffset, this.enc.p.byteOffset, this.gLatF.byteOffset];
    const ranges = this.rowRanges();
    this.pool.run("weightedRowSum", ranges.map(([j0, rows], t) => [out + t * d * 4, w + j0 * d * 4, coef + j0 * 4, rows, d]));
    const acc = new Float64Array(d);
    for (let t = 0; t < ranges.length; t++) for (let i = 0; i < d; i++) acc[i]! += this.rowSumTD[t * d + i]!;
    outD.set(acc);
  }

  /** Stop the worker threads. */
  async close(): Promise<void> {
    await this.pool?.close();
  }
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
