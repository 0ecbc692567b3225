/**
 * The default, fast training step of the top-k SAE (METHOD.md §2, THE STEP SPEC) on onnxruntime-node, with
 * the step count, the dead latents, the batch-variance denominator and the dead-latent tracker handled in JS.
 *
 * Where the work after the encoder product runs (`update`):
 * - "wasm" (CPU default): onnxruntime runs the select graph — the encoder GEMM (its one dense product) and the
 *   two top-k selections — and WebAssembly SIMD kernels do the rest on resident buffers (`cpu-kernels.ts`):
 *   the sparse decode and backward pass, gradient accumulation latent by latent, projection, clip, Adam and
 *   renormalisation, split across threads (`cpu-step.ts`). Parameters and moments stay in one WebAssembly
 *   memory and never cross the binding: on one thread onnxruntime reads and writes views of it (inputs and
 *   pre-allocated outputs); with worker threads the memory is shared, which onnxruntime-node rejects, so the
 *   encoder weights are mirrored into an ordinary buffer after each update and the selections copied in.
 * - "js": the same kernels in plain JS (fallback when WebAssembly SIMD is missing or the buffers exceed 4 GiB).
 * - "graph" (CUDA default): the whole step is one ONNX graph (`buildStepGraph`) and its outputs become the new
 *   state. On the CPU it is ~2.5× slower: the gathers, scatters and ~15 elementwise Adam passes are memory-bound
 *   ops, and onnxruntime-node copies every output (pre-allocated ones too) into a fresh ArrayBuffer.
 */
import { availableParallelism } from "node:os";
import type * as Ort from "onnxruntime-node";
import { SaerchError } from "../core/errors.js";
import type { ResolvedSaeConfig } from "./config.js";
import { adamRowsInPlace, sumSquares, type AdamScalars } from "./cpu-kernels.js";
import { CpuKernels } from "./cpu-step.js";
import type { KernelPoolTiming } from "./kernel-pool.js";
import { buildSelectGraph, buildStepGraph, momentName, nextName, PARAM_NAMES, type ParamName } from "./onnx-graph.js";
import { cloneAdamState, cloneParams, DeadLatentTracker, type AdamState, type SaeParams } from "./params.js";
import { batchVariance, checkTrainBatch, checkTrainState, type StepStats, type TrainState, type TrainStep } from "./train-step.js";

/** PyTorch clip_grad_norm_'s guard: coef = gradClip / (norm + 1e-6). */
const CLIP_NORM_EPS = 1e-6;
/**
 * The AuxK denominator Σ‖e − ē‖² is computed as Σ‖e‖² − ‖Σe‖²/B; when it is below this fraction of Σ‖e‖² the
 * cancellation could cost digits, and it is recomputed in two passes.
 */
const AUX_VAR_CANCELLATION = 1e-4;

/** Where the work after the encoder product runs (see the module comment). */
export type OnnxUpdate = "wasm" | "js" | "graph";

/** Options of the onnx engine. */
export interface OnnxStepOptions {
  /** CPU threads (onnxruntime intra-op, and the WebAssembly kernels up to one per core); default one per core. */
  threads?: number;
  /** Execution provider; "cuda" needs onnxruntime-node's CUDA binaries (installed separately). */
  provider?: "cpu" | "cuda";
  /** Default "wasm" on the CPU ("js" when WebAssembly SIMD is unavailable), "graph" on CUDA. */
  update?: OnnxUpdate;
  /** Write onnxruntime's per-node profile (JSON) to a file starting with this prefix when the engine closes. */
  profilePrefix?: string;
  /** Fault injection for the kernel threads' handoff (the stress harness and tests only; see kernel-pool.ts). */
  poolTiming?: KernelPoolTiming;
}

type OrtModule = typeof Ort;
type Feeds = Record<string, Ort.Tensor>;

/** What the JS around the session works out before a step. */
interface StepPlan {
  b: number;
  /** mean((x̄ − x)²). */
  denom: number;
  /** Dead latents, ascending. */
  deadIdx: bigint[];
  /** AuxK latents per row this step: min(kAux, nDead), 0 when AuxK is off. */
  kAuxUsed: number;
}

/**
 * The onnx engine. Create with `OnnxTrainStep.create`; parameters and Adam moments stay resident in it (in the
 * kernels' WebAssembly memory for "wasm").
 */
export class OnnxTrainStep implements TrainStep {
  readonly engine: string;
  /**
   * Threads the step's sums are split over: the WebAssembly kernels' count (min(threads, cores)), or the
   * intra-op count for the CPU graph update; undefined on CUDA.
   */
  readonly threads: number | undefined;
  private readonly tracker: DeadLatentTracker;
  private params: SaeParams;
  private adam: AdamState;
  /** Tensor over the resident encoder weights (the CPU path; rebuilt when a bigger batch grows the memory). */
  private wEncTensor: Ort.Tensor | undefined;
  private profiling = false;

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    private readonly config: ResolvedSaeConfig,
    private readonly cpu: CpuKernels | undefined,
    init: TrainState,
    engine: string,
    threads: number | undefined,
  ) {
    const { d, n } = config;
    this.engine = engine;
    this.threads = threads;
    this.tracker = new DeadLatentTracker(n, config.deadWindow, init.sinceFiredF);
    if (!cpu) {
      this.params = cloneParams(init.params);
      this.adam = cloneAdamState(init.adam);
      return;
    }
    // The big matrices are copied into the kernels' memory; the small tensors stay JS arrays.
    const { enc, dec } = cpu;
    enc.p.set(init.params.wEncFD);
    dec.p.set(init.params.wDecFD);
    for (const m of ["m", "v"] as const) {
      enc[m].set(init.adam[m].wEncFD);
      dec[m].set(init.adam[m].wDecFD);
    }
    cpu.syncEncoderMirror();
    const small = (m: "m" | "v"): AdamState["m"] => ({ wEncFD: enc[m], bLatF: init.adam[m].bLatF.slice(), wDecFD: dec[m], bPreD: init.adam[m].bPreD.slice() });
    this.params = { d, n, wEncFD: enc.p, bLatF: init.params.bLatF.slice(), wDecFD: dec.p, bPreD: init.params.bPreD.slice() };
    this.adam = { t: init.adam.t, m: small("m"), v: small("v") };
    this.bindResident(cpu, d, n);
  }

  /** Point the state at the kernels' (possibly new) views of the big matrices. */
  private bindResident(cpu: CpuKernels, d: number, n: number): void {
    const { enc, dec } = cpu;
    this.params = { ...this.params, wEncFD: enc.p, wDecFD: dec.p };
    this.adam.m = { ...this.adam.m, wEncFD: enc.m, wDecFD: dec.m };
    this.adam.v = { ...this.adam.v, wEncFD: enc.v, wDecFD: dec.v };
    this.wEncTensor = new this.ort.Tensor("float32", cpu.encoderForOrt(), [n, d]);
  }

  /**
   * Build the graph and its session.
   * @param init parameters, Adam state and dead counters, copied in (never aliased)
   */
  static async create(config: ResolvedSaeConfig, init: TrainState, opts: OnnxStepOptions = {}): Promise<OnnxTrainStep> {
    checkTrainState(config, init, "onnx SAE step");
    const { d, n, k } = config;
    const provider = opts.provider ?? "cpu";
    let update = opts.update ?? (provider === "cuda" ? "graph" : "wasm");
    const threads = opts.threads ?? availableParallelism();
    // Kernel threads beyond the cores would only take turns.
    const shape = { n, d, k, kAux: config.kAux, batchCapacity: config.batch, threads: Math.min(threads, availableParallelism()) };
    if (update === "wasm" && !CpuKernels.wasmSupported(shape)) update = "js";
    const ort = await import("onnxruntime-node");
    const model =
      update === "graph"
        ? buildStepGraph({ d, n, k, beta1: config.beta1, beta2: config.beta2, gradClip: config.gradClip })
        : buildSelectGraph({ d, n, k });
    let session: Ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model, {
        executionProviders: provider === "cuda" ? ["cuda", "cpu"] : ["cpu"],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: "sequential",
        graphOptimizationLevel: "all",
        // Idle intra-op threads must sleep, not spin: the kernels run on this thread right after each run.
        extra: { session: { intra_op: { allow_spinning: "0" } } },
        ...(opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
      });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new SaerchError(
        `onnx SAE step: could not create the onnxruntime session (${provider}): ${msg.split("\n")[0]}`,
        provider === "cuda" ? "install onnxruntime-node's CUDA binaries or use provider \"cpu\"" : undefined,
      );
    }
    const cpu = update === "graph" ? undefined : new CpuKernels(shape, update, opts.poolTiming);
    const name = provider === "cuda" ? `onnx cuda (update in ${update})` : `onnx cpu (${threads} threads, update in ${update})`;
    const splitOver = cpu ? cpu.threads : provider === "cuda" ? undefined : threads;
    const step = new OnnxTrainStep(ort, session, config, cpu, init, name, splitOver);
    step.profiling = opts.profilePrefix !== undefined;
    return step;
  }

  /** One step on `xBD` `[B, D]` (B ≥ 2; B may change between calls). */
  async step(xBD: Float32Array): Promise<StepStats> {
    const plan = this.plan(xBD);
    const { n, auxCoef } = this.config;
    const adamScalars = this.adamScalars(this.adam.t + 1);
    const r = this.cpu ? await this.stepCpu(this.cpu, xBD, plan, adamScalars) : await this.stepGraph(xBD, plan, adamScalars);
    this.adam.t += 1;
    this.tracker.updateInPlace(r.indices, plan.b);
    return { loss: r.nmse + auxCoef * r.auxk, nmse: r.nmse, auxk: r.auxk, deadFraction: plan.deadIdx.length / n, gradNorm: r.gradNorm };
  }

  /** Validate the batch and work out what the step needs from JS (step 1 and the NMSE denominator). */
  private plan(xBD: Float32Array): StepPlan {
    const { d, n, kAux } = this.config;
    const b = checkTrainBatch(xBD, d, "onnx SAE step");
    const denom = batchVariance(xBD, b, d);
    if (!(denom > 0)) {
      throw new SaerchError(
        `onnx SAE step: the ${b} batch rows are identical, so the NMSE denominator mean((x̄ − x)²) is 0`,
        "shuffle the training rows and drop duplicate embeddings",
      );
    }
    // 1. Dead latents from the counters before this step; AuxK needs at most min(kAux, nDead) of them.
    const deadIdx: bigint[] = [];
    for (let j = 0; j < n; j++) if (this.tracker.sinceFiredF[j]! >= this.tracker.window) deadIdx.push(BigInt(j));
    return { b, denom, deadIdx, kAuxUsed: kAux > 0 ? Math.min(kAux, deadIdx.length) : 0 };
  }

  /** Feeds both graphs share. */
  private commonFeeds(xBD: Float32Array, plan: StepPlan): Feeds {
    const { d, n } = this.config;
    const T = this.ort.Tensor;
    return {
      x: new T("float32", xBD, [plan.b, d]),
      wEnc: this.wEncTensor ?? new T("float32", this.params.wEncFD, [n, d]),
      bLat: new T("float32", this.params.bLatF, [n]),
      bPre: new T("float32", this.params.bPreD, [d]),
      deadIdx: new T("int64", BigInt64Array.from(plan.deadIdx), [plan.deadIdx.length]),
      kAux: new T("int64", BigInt64Array.of(BigInt(plan.kAuxUsed)), [1]),
    };
  }

  /** The CPU path: select graph, then the kernels. */
  private async stepCpu(cpu: CpuKernels, xBD: Float32Array, plan: StepPlan, s: AdamScalars): Promise<StepResult> {
    const { d, n, k, auxCoef, gradClip } = this.config;
    const { b, kAuxUsed: ka } = plan;
    if (cpu.ensureBatch(b)) this.bindResident(cpu, d, n);
    const st = cpu.staging;
    st.x.set(xBD);
    const T = this.ort.Tensor;
    if (cpu.ortCanShare) {
      // The selections land in the kernels' staging (pre-allocated outputs).
      await this.session.run(this.commonFeeds(xBD, plan), {
        indices: new T("int32", st.indices.subarray(0, b * k), [b, k]),
        values: new T("float32", st.values.subarray(0, b * k), [b, k]),
        auxIndices: new T("int32", st.auxIndices.subarray(0, b * ka), [b, ka]),
        auxValues: new T("float32", st.auxValues.subarray(0, b * ka), [b, ka]),
      });
    } else {
      // Shared memory (worker threads): onnxruntime allocates, the selections are copied in (≈ B·(K + KA) values).
      const out = (await this.session.run(this.commonFeeds(xBD, plan))) as Record<string, Ort.Tensor>;
      st.indices.set(out.indices!.data as Int32Array);
      st.values.set(out.values!.data as Float32Array);
      st.auxIndices.set(out.auxIndices!.data as Int32Array);
      st.auxValues.set(out.auxValues!.data as Float32Array);
    }

    // The kernels index the decoder with these: a latent outside [0, n) is a fault in the selection, named here
    // rather than left to read another buffer's rows (or trap in whichever thread holds that row).
    checkSelectionIndices(st.indices.subarray(0, b * k), k, n, "top-k");
    checkSelectionIndices(st.auxIndices.subarray(0, b * ka), ka, n, "AuxK");

    // Sparse forward and backward (steps 4–8).
    const mseScale = 1 / (b * d * plan.denom);
    const { sse, auxSse } = cpu.decode(b, ka, 2 * mseScale, this.params.bPreD);
    let auxk = 0;
    let auxScale = 0;
    if (ka > 0) {
      const auxVar = this.auxVariance(cpu, b, sse, 2 * mseScale);
      if (auxVar > 0) {
        auxk = auxSse / auxVar;
        auxScale = (2 * auxCoef) / auxVar;
      }
    }
    const kk = k + ka;
    const gLat = new Float64Array(n);
    for (let row = 0; row < b; row++) {
      for (let q = 0; q < kk; q++) {
        const slot = row * kk + q;
        if (q >= k) {
          st.pairDec[slot]! *= auxScale;
          st.pairEnc[slot]! *= auxScale;
        }
        gLat[st.pairIdx[slot]!]! += st.pairEnc[slot]!;
      }
    }
    const gLatF = Float32Array.from(gLat);
    // gPre = Σ_b r_b − Σ_j gLat_j·wEnc_j.
    const gPreD = new Float32Array(d);
    cpu.encoderWeightedRowSum(gLatF, gPreD);
    for (let i = 0; i < d; i++) gPreD[i] = 2 * mseScale * st.colSum[i]! - gPreD[i]!;
    cpu.accumulateGradients(b, kk, k);

    // Steps 9–12.
    const gradNorm = Math.sqrt(cpu.encoderNormSq() + cpu.decoderProjectedNormSq() + sumSquares(gLatF) + sumSquares(gPreD));
    const coef = Math.min(1, gradClip / (gradNorm + CLIP_NORM_EPS));
    cpu.adamInPlace(coef, s);
    const { params: p, adam: a } = this;
    adamRowsInPlace(p.bLatF, a.m.bLatF, a.v.bLatF, gLatF, 1, n, coef, s);
    adamRowsInPlace(p.bPreD, a.m.bPreD, a.v.bPreD, gPreD, 1, d, coef, s);
    return { nmse: sse * mseScale, auxk, gradNorm, indices: st.indices.subarray(0, b * k) };
  }

  /** Σ_b ‖e_b − ē‖² from Σ‖e‖² and Σ_b e_b (two passes over r = s·e when that would cancel). */
  private auxVariance(cpu: CpuKernels, b: number, sse: number, s: number): number {
    const { d } = this.config;
    const col = cpu.staging.colSum;
    let colSq = 0;
    for (let i = 0; i < d; i++) colSq += col[i]! * col[i]!;
    const onePass = sse - colSq / b;
    if (onePass > AUX_VAR_CANCELLATION * sse) return onePass;
    const r = cpu.staging.r;
    let acc = 0;
    for (let row = 0; row < b; row++) for (let i = 0; i < d; i++) acc += (r[row * d + i]! / s - col[i]! / b) ** 2;
    return acc;
  }

  /** The "graph" path: the whole step in onnxruntime; its outputs become the state. */
  private async stepGraph(xBD: Float32Array, plan: StepPlan, s: AdamScalars): Promise<StepResult> {
    const { d, n, auxCoef } = this.config;
    const { b, kAuxUsed } = plan;
    const T = this.ort.Tensor;
    const feeds = this.commonFeeds(xBD, plan);
    feeds.wDec = new T("float32", this.params.wDecFD, [n, d]);
    feeds.auxWeight = new T("float32", Float32Array.of(kAuxUsed > 0 ? auxCoef : 0), []);
    feeds.mseScale = new T("float32", Float32Array.of(1 / (b * d * plan.denom)), []);
    const dims: Record<ParamName, number[]> = { wEnc: [n, d], bLat: [n], wDec: [n, d], bPre: [d] };
    for (const name of PARAM_NAMES) {
      const key = paramKey(name);
      feeds[momentName("m", name)] = new T("float32", this.adam.m[key], dims[name]);
      feeds[momentName("v", name)] = new T("float32", this.adam.v[key], dims[name]);
    }
    feeds.adamStep = new T("float32", Float32Array.of(s.stepSize * s.sqrtBc2), []);
    feeds.adamEps = new T("float32", Float32Array.of(s.eps * s.sqrtBc2), []);
    const out = (await this.session.run(feeds)) as Record<string, Ort.Tensor>;
    const scalar = (name: string): number => Number((out[name]!.data as Float64Array)[0]);
    const auxVar = scalar("auxVar");
    const next = (name: string): Float32Array => out[nextName(name)]!.data as Float32Array;
    this.params = { d, n, wEncFD: next("wEnc"), bLatF: next("bLat"), wDecFD: next("wDec"), bPreD: next("bPre") };
    const moments = (m: "m" | "v"): AdamState["m"] => ({
      wEncFD: next(momentName(m, "wEnc")),
      bLatF: next(momentName(m, "bLat")),
      wDecFD: next(momentName(m, "wDec")),
      bPreD: next(momentName(m, "bPre")),
    });
    this.adam = { t: this.adam.t, m: moments("m"), v: moments("v") };
    return {
      nmse: scalar("sse") / (b * d * plan.denom),
      auxk: kAuxUsed > 0 && auxVar > 0 ? scalar("auxSse") / auxVar : 0,
      gradNorm: Math.sqrt(scalar("gradSq")),
      indices: out.indices!.data as Int32Array,
    };
  }

  private adamScalars(t: number): AdamScalars {
    const { lr, beta1, beta2, eps } = this.config;
    return { beta1, beta2, eps, stepSize: lr / (1 - beta1 ** t), sqrtBc2: Math.sqrt(1 - beta2 ** t) };
  }

  /** Copies of the current parameters, Adam state and dead counters. */
  async state(): Promise<TrainState> {
    return { params: cloneParams(this.params), adam: cloneAdamState(this.adam), sinceFiredF: this.tracker.sinceFiredF.slice() };
  }

  /** Release the session and the kernel threads (writing the profile first when one was asked for). */
  async close(): Promise<void> {
    if (this.profiling) this.session.endProfiling();
    await this.session.release();
    await this.cpu?.close();
  }
}

/** What either path reports back to `step`. */
interface StepResult {
  nmse: number;
  auxk: number;
  gradNorm: number;
  /** `[B, K]` main selection (for the tracker). */
  indices: Int32Array;
}

/**
 * Check a selection's latent ids before the kernels read decoder rows through them.
 * @param indicesBK `[B, K]` latent ids of one selection
 * @param k ids per row
 * @param n latents
 * @param what which selection ("top-k", "AuxK"), for the message
 * @throws SaerchError naming the first id outside [0, n), its row and slot
 */
export function checkSelectionIndices(indicesBK: Int32Array, k: number, n: number, what: string): void {
  for (let p = 0; p < indicesBK.length; p++) {
    const j = indicesBK[p]!;
    if (j < 0 || j >= n) {
      throw new SaerchError(
        `onnx SAE step: the ${what} selection gave latent ${j} (row ${Math.floor(p / k)}, slot ${p % k}), outside [0, ${n})`,
        "a fault in the select graph's output or its copy into the kernels' staging: report it with this message",
      );
    }
  }
}

/** `wEnc` → `wEncFD` (the SaeParams / AdamState key of a graph parameter). */
function paramKey(name: ParamName): "wEncFD" | "bLatF" | "wDecFD" | "bPreD" {
  return ({ wEnc: "wEncFD", bLat: "bLatF", wDec: "wDecFD", bPre: "bPreD" } as const)[name];
}

