/**
 * The autograd training step of the top-k SAE on TensorFlow.js (METHOD.md §2, after Gao et al. 2024): the
 * readable reference and the GPU engine (tfjs-node-gpu when installed, else WebAssembly). The forward and the
 * loss are written densely, like the PyTorch recipe, and differentiated by tfjs:
 *
 *   h = (x − bPre)·wEncᵀ + bLat;   z = ReLU(keepTopK(h));   x̂ = z·wDec + bPre      (z dense [B, F])
 *   loss = nmse(x̂, x) + auxCoef · nmse(ReLU(keepTopKAux(h over dead latents))·wDec, e = detach(x − x̂))
 *
 * then the decoder-gradient projection, the global-norm clip, Adam (PyTorch semantics) and the decoder
 * renormalisation as tensor ops on resident variables; the dead-latent counters stay in JS. Three custom
 * gradients, none of them a hand-derived loss gradient: keepTopK (tf.topk has no gradient: the selection is a
 * constant mask), detach (tfjs has no stopGradient) and matMul (tfjs-wasm's matMul with transpose flags, which
 * tfjs's own matMul gradient uses, is 9–37× slower than transposing first; docs/STACK.md).
 * Precision: float32 throughout, except the data-only NMSE denominator (float64 in JS). Cost per step: six
 * dense B·D·F products (nine with AuxK); the sparse-aware onnx engine is the fast one (wasm measured ≈ 2 s per
 * step at d 512, n 4096, k 32, B 1024; tfjs-wasm runs single-threaded in Node, so config.threads is unused).
 */
import type * as Tf from "@tensorflow/tfjs";
import { SaerchError } from "../core/errors.js";
import type { ResolvedSaeConfig } from "./config.js";
import { DeadLatentTracker, type AdamState, type SaeParams } from "./params.js";
import { loadTfjs, selectTfjsBackend, type TfjsBackendChoice, type TfjsRuntime, type TfModule } from "./tfjs-backend.js";
import { batchVariance, checkTrainBatch, checkTrainState, type StepStats, type TrainState, type TrainStep } from "./train-step.js";

/** PyTorch clip_grad_norm_'s guard: coef = gradClip / (norm + 1e-6). */
const CLIP_NORM_EPS = 1e-6;

/**
 * AuxK's score for latents that are not dead: the lowest finite float32, where the spec says −∞. Finite because
 * keepTopK multiplies by a 0/1 mask (−∞·0 = NaN) and tfjs-cpu's top-k orders by subtraction (−∞ − (−∞) = NaN
 * scrambles its selection). Like −∞, ReLU maps it to 0 with gradient 0, so which padding latents fill a row
 * short of dead ones never matters.
 */
const NOT_DEAD_SCORE = -3.4028234663852886e38;

/** Parameter names, in the order of SaeParams and AdamState's moments. */
const PARAM_NAMES = ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const;
type ParamName = (typeof PARAM_NAMES)[number];
/** One resident tfjs variable per parameter (or per Adam moment of a parameter). */
type ParamVars = Record<ParamName, Tf.Variable>;

/** Options of {@link TfjsTrainStep.create}. */
export interface TfjsStepOptions {
  /** tfjs backend: "auto" (default) = tensorflow (tfjs-node-gpu) when it loads, else wasm. */
  backend?: TfjsBackendChoice;
}

/** Loss terms the loss closure hands out besides the differentiated scalar (kept tensors: dispose them). */
interface LossSideOutputs {
  nmse?: Tf.Scalar;
  auxk?: Tf.Scalar;
  /** `[B, K]` int32 main top-k latent indices (for the dead-latent counters). */
  indicesBK?: Tf.Tensor2D;
}

/** a·b `[M, K]`·`[K, N]`, with its gradient written with explicit transposes (fast on tfjs-wasm). */
function matMul(tf: TfModule, aMK: Tf.Tensor2D, bKN: Tf.Tensor2D): Tf.Tensor2D {
  const product = tf.customGrad((...args) => {
    const [a, b, save] = args as [Tf.Tensor2D, Tf.Tensor2D, Tf.GradSaveFunc];
    save([a, b]);
    return {
      value: tf.matMul(a, b),
      // d(a·b)/da = dy·bᵀ, d(a·b)/db = aᵀ·dy
      gradFunc: (dy: Tf.Tensor, [sa, sb]: Tf.Tensor[]) => [
        tf.matMul(dy as Tf.Tensor2D, tf.transpose(sb as Tf.Tensor2D)),
        tf.matMul(tf.transpose(sa as Tf.Tensor2D), dy as Tf.Tensor2D),
      ],
    };
  });
  return product(aMK, bKN) as Tf.Tensor2D;
}

/** The value of `x` with no gradient flowing back through it (PyTorch's `.detach()`). */
function detach<T extends Tf.Tensor>(tf: TfModule, x: T): T {
  const stop = tf.customGrad((...args) => ({ value: tf.clone(args[0] as T), gradFunc: (dy: T) => tf.zerosLike(dy) }));
  return stop(x) as T;
}

/**
 * Each row's top-k entries of `scoresBF` kept, all others 0 (ties → lower index, as tf.topk on every backend).
 * Gradient: dy on the kept entries, 0 elsewhere (the selection is a constant mask).
 * @param onIndices receives the `[B, K]` int32 indices, kept (the caller disposes them)
 */
function keepTopK(
  tf: TfModule,
  scoresBF: Tf.Tensor2D,
  k: number,
  onIndices?: (indicesBK: Tf.Tensor2D) => void,
): Tf.Tensor2D {
  const keep = tf.customGrad((...args) => {
    const [scores, save] = args as [Tf.Tensor2D, Tf.GradSaveFunc];
    const [b, f] = scores.shape;
    const { indices } = tf.topk(scores, k);
    const rowsBK = tf.broadcastTo(tf.reshape(tf.range(0, b, 1, "int32"), [b, 1]), [b, k]);
    const maskBF = tf.scatterND(tf.stack([rowsBK, indices], 2), tf.ones([b, k]), [b, f]) as Tf.Tensor2D;
    onIndices?.(tf.keep(indices));
    save([maskBF]);
    return { value: tf.mul(scores, maskBF) as Tf.Tensor, gradFunc: (dy: Tf.Tensor, [mask]: Tf.Tensor[]) => tf.mul(dy, mask!) };
  });
  return keep(scoresBF) as Tf.Tensor2D;
}

/** mean_{b,i}(a[b, i]²), summed per row first (float32 sums stay short). */
function meanSquare(tf: TfModule, aBD: Tf.Tensor2D): Tf.Scalar {
  return tf.mean(tf.mean(tf.square(aBD), 1));
}

/** mean_{b,i}((colmean_i − y[b, i])²) of a batch, on tfjs. */
function batchVarianceTf(tf: TfModule, yBD: Tf.Tensor2D): Tf.Scalar {
  return meanSquare(tf, tf.sub(tf.mean(yBD, 0), yBD));
}

/**
 * THE STEP SPEC on TensorFlow.js with autograd. Parameters and Adam moments live in tfjs variables between
 * steps; every intermediate is freed inside the step (tensor count constant across steps).
 */
export class TfjsTrainStep implements TrainStep {
  /** "tfjs wasm", "tfjs cpu" or "tfjs-node-gpu". */
  readonly engine: string;
  private t: number;
  private closed = false;
  private readonly tracker: DeadLatentTracker;

  private constructor(
    private readonly rt: TfjsRuntime,
    private readonly config: ResolvedSaeConfig,
    private readonly params: ParamVars,
    private readonly m: ParamVars,
    private readonly v: ParamVars,
    init: TrainState,
  ) {
    this.engine = rt.label;
    this.t = init.adam.t;
    this.tracker = new DeadLatentTracker(config.n, config.deadWindow, init.sinceFiredF);
  }

  /**
   * Load tfjs on the requested backend and upload `init` (copied, never aliased).
   * @throws SaerchError when `init` does not match the config, or the requested backend cannot load
   */
  static async create(config: ResolvedSaeConfig, init: TrainState, opts: TfjsStepOptions = {}): Promise<TfjsTrainStep> {
    checkTrainState(config, init, "tfjs SAE step");
    const rt = await loadTfjs(opts.backend ?? "auto");
    const { tf } = rt;
    const { d, n } = config;
    const shapes: Record<ParamName, [number] | [number, number]> = { wEncFD: [n, d], bLatF: [n], wDecFD: [n, d], bPreD: [d] };
    const upload = (bufs: Record<ParamName, Float32Array>, trainable: boolean): ParamVars =>
      tf.tidy(() => {
        const out = {} as ParamVars;
        for (const name of PARAM_NAMES) out[name] = tf.variable(tf.tensor(bufs[name].slice(), shapes[name]), trainable);
        return out;
      });
    return new TfjsTrainStep(rt, config, upload(init.params, true), upload(init.adam.m, false), upload(init.adam.v, false), init);
  }

  /** One step on `xBD` `[B, D]` (B ≥ 2, finite; B may change between calls). */
  async step(xBD: Float32Array): Promise<StepStats> {
    if (this.closed) throw new SaerchError("tfjs SAE step: step() after close()");
    const { d, n, kAux } = this.config;
    const b = checkTrainBatch(xBD, this.config.d, "tfjs SAE step");
    const denom = batchVariance(xBD, b, d);
    if (!(denom > 0)) {
      throw new SaerchError(
        `tfjs SAE step: the ${b} batch rows are identical, so the NMSE denominator mean((x̄ − x)²) is 0`,
        "shuffle the training rows and drop duplicate embeddings",
      );
    }
    await selectTfjsBackend(this.rt);
    const { tf } = this.rt;

    // 1. Dead latents: the counters before this step.
    const deadMaskF = this.tracker.deadMaskF();
    const nDead = this.tracker.deadCount();
    const auxOn = nDead > 0 && kAux > 0;
    const t = this.t + 1;

    const { statsT, indicesBK } = tf.tidy(() => {
      const x = tf.tensor2d(xBD, [b, d]);
      const deadF = auxOn ? tf.tensor1d(deadMaskF, "bool") : undefined;
      const p = this.params;
      const side: LossSideOutputs = {};

      // 2–7. The loss; 8. its gradients by tfjs autograd.
      const { value: loss, grads: byVarName } = tf.variableGrads(
        () => this.loss(x, denom, deadF, side),
        PARAM_NAMES.map((name) => p[name]),
      );
      const g = {} as Record<ParamName, Tf.Tensor>;
      for (const name of PARAM_NAMES) g[name] = byVarName[p[name].name]!;

      // 9. Decoder-gradient projection: gDec[j] −= (gDec[j]·wDec[j])·wDec[j].
      g.wDecFD = tf.sub(g.wDecFD, tf.mul(tf.sum(tf.mul(g.wDecFD, p.wDecFD), 1, true), p.wDecFD));

      // 10. Global norm and PyTorch's clip coefficient.
      const gradNorm = tf.sqrt(tf.addN(PARAM_NAMES.map((name) => tf.sum(tf.square(g[name])))));
      const coef = tf.minimum<Tf.Scalar>(1, tf.div(this.config.gradClip, tf.add(gradNorm, CLIP_NORM_EPS)));

      // 11. Adam (PyTorch): every parameter, zero gradients included.
      this.adamUpdate(t, g, coef);

      // 12. Decoder rows back to unit norm (an all-zero row stays zero).
      const sqF1 = tf.sum(tf.square(p.wDecFD), 1, true);
      p.wDecFD.assign(tf.mul(p.wDecFD, tf.where(tf.greater(sqF1, 0), tf.div(1, tf.sqrt(sqF1)), 1)));

      const statsT = tf.stack([loss, side.nmse!, side.auxk!, gradNorm]);
      tf.dispose([side.nmse!, side.auxk!]);
      return { statsT, indicesBK: side.indicesBK! };
    });
    this.t = t;

    const [stats, indices] = await Promise.all([statsT.data(), indicesBK.data()]);
    tf.dispose([statsT, indicesBK]);
    // 13. Dead counters from the main selection.
    this.tracker.updateInPlace(indices as Int32Array, b);
    return { loss: stats[0]!, nmse: stats[1]!, auxk: stats[2]!, deadFraction: nDead / n, gradNorm: stats[3]! };
  }

  /**
   * Steps 2–7: the loss of one batch, written forward for tfjs to differentiate. Hands out nmse, auxk and the
   * main top-k indices through `side` (kept tensors: the caller disposes them).
   * @param xBD `[B, D]` batch
   * @param denom the NMSE denominator mean((x̄ − x)²) (a constant: it depends on the data only)
   * @param deadF `[F]` bool dead mask; undefined when AuxK is off
   */
  private loss(xBD: Tf.Tensor2D, denom: number, deadF: Tf.Tensor1D | undefined, side: LossSideOutputs): Tf.Scalar {
    const { tf } = this.rt;
    const { k, kAux, auxCoef } = this.config;
    const { bLatF, bPreD } = this.params;
    const wEncFD = this.params.wEncFD as Tf.Tensor2D;
    const wDecFD = this.params.wDecFD as Tf.Tensor2D;
    // h = (x − bPre)·wEncᵀ + bLat;  z = ReLU(top-k(h)) as a dense [B, F];  x̂ = z·wDec + bPre
    const hBF = tf.add<Tf.Tensor2D>(matMul(tf, tf.sub(xBD, bPreD), tf.transpose(wEncFD)), bLatF);
    const zBF = tf.relu(keepTopK(tf, hBF, k, (idx) => (side.indicesBK = idx)));
    const xHatBD = tf.add<Tf.Tensor2D>(matMul(tf, zBF, wDecFD), bPreD);
    const nmse = tf.div<Tf.Scalar>(meanSquare(tf, tf.sub(xHatBD, xBD)), denom);
    let auxk: Tf.Scalar = tf.scalar(0);
    if (deadF) {
      // hd = h on dead latents, a "never chosen" score elsewhere; ê = ReLU(top-kAux(hd))·wDec (no bias)
      const hdBF = tf.where<Tf.Tensor2D>(deadF, hBF, NOT_DEAD_SCORE);
      const eHatBD = matMul(tf, tf.relu(keepTopK(tf, hdBF, kAux)), wDecFD);
      const eBD = detach(tf, tf.sub<Tf.Tensor2D>(xBD, xHatBD));
      // auxk = mean((ê − e)²) / mean((ē − e)²); 0 when every row's residual is identical (nothing to explain),
      // with a NaN-free gradient: spread = sign(denomA) ∈ {0, 1} (sign has a gradient in tfjs, comparisons do not).
      const denomA = batchVarianceTf(tf, eBD);
      const spread = tf.sign(denomA);
      auxk = tf.mul(spread, tf.div(meanSquare(tf, tf.sub(eHatBD, eBD)), tf.add(denomA, tf.sub(1, spread))));
    }
    side.nmse = tf.keep(nmse);
    side.auxk = tf.keep(auxk);
    return tf.add(nmse, tf.mul(auxCoef, auxk));
  }

  /** Step 11 on every parameter at step `t` (already incremented) with gradient coef·g. Call inside a tidy. */
  private adamUpdate(t: number, g: Record<ParamName, Tf.Tensor>, coef: Tf.Scalar): void {
    const { tf } = this.rt;
    const { lr, beta1, beta2, eps } = this.config;
    const stepSize = lr / (1 - beta1 ** t);
    const sqrtBc2 = Math.sqrt(1 - beta2 ** t);
    for (const name of PARAM_NAMES) {
      const gc = tf.mul(g[name], coef);
      const m = tf.add(tf.mul(beta1, this.m[name]), tf.mul(1 - beta1, gc));
      const v = tf.add(tf.mul(beta2, this.v[name]), tf.mul(1 - beta2, tf.square(gc)));
      this.m[name].assign(m);
      this.v[name].assign(v);
      const p = this.params[name];
      p.assign(tf.sub(p, tf.div(tf.mul(stepSize, m), tf.add(tf.div(tf.sqrt(v), sqrtBc2), eps))));
    }
  }

  /** Copies of the current parameters, Adam state and dead counters. */
  async state(): Promise<TrainState> {
    if (this.closed) throw new SaerchError("tfjs SAE step: state() after close()");
    await selectTfjsBackend(this.rt);
    const read = async (vars: ParamVars): Promise<Record<ParamName, Float32Array>> => {
      const out = {} as Record<ParamName, Float32Array>;
      // .slice(): the cpu backend hands out its own storage.
      for (const name of PARAM_NAMES) out[name] = ((await vars[name].data()) as Float32Array).slice();
      return out;
    };
    const { d, n } = this.config;
    const params: SaeParams = { d, n, ...(await read(this.params)) };
    const adam: AdamState = { t: this.t, m: await read(this.m), v: await read(this.v) };
    return { params, adam, sinceFiredF: this.tracker.sinceFiredF.slice() };
  }

  /** Free the variables (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const vars of [this.params, this.m, this.v]) for (const name of PARAM_NAMES) vars[name].dispose();
  }
}
