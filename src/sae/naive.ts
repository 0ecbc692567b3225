/**
 * The plain-JS reference training step of the top-k SAE (METHOD.md §2, after Gao et al. 2024): THE STEP SPEC
 * line by line, with simple loops. The onnx and tfjs engines are tested against this file.
 *
 *   h = (x − bPre)·wEncᵀ + bLat;   z = ReLU(top-k(h));   x̂ = bPre + z·wDec
 *   loss = nmse(x̂, x) + auxCoef · nmse(ReLU(top-kAux(h over dead latents))·wDec, e = x − x̂ detached)
 *
 * then backprop, decoder-gradient projection, global-norm clip, Adam (PyTorch semantics), decoder rows back to
 * unit norm, dead-latent counters. Precision: parameters, Adam moments and returned gradients are float32 (as
 * in every engine); every intermediate (h, x̂, losses, gradient sums, norms) is float64. Top-k ranks the float32
 * rounding of h, as a float32 engine would (ties → lower latent index, src/core/topk.ts); the selected values
 * themselves are the float64 h. Cost: one dense [B, D]·[D, F] product; everything else is O(B·K·D + F·D).
 */
import { SaerchError } from "../core/errors.js";
import { rowTopK } from "../core/topk.js";
import { normalizeRowsInPlace } from "../core/vector.js";
import type { ResolvedSaeConfig } from "./config.js";
import { cloneAdamState, cloneParams, DeadLatentTracker, type SaeParams } from "./params.js";
import { batchVariance, checkParamsForConfig, checkTrainBatch, checkTrainState, type StepStats, type TrainState, type TrainStep } from "./train-step.js";

/** PyTorch clip_grad_norm_'s guard: coef = gradClip / (norm + 1e-6). */
const CLIP_NORM_EPS = 1e-6;

/** Gradients of the loss, one float32 buffer per parameter, shaped like the parameter. */
export interface SaeGradients {
  /** `[F, D]` */
  wEncFD: Float32Array;
  /** `[F]` */
  bLatF: Float32Array;
  /** `[F, D]` */
  wDecFD: Float32Array;
  /** `[D]` */
  bPreD: Float32Array;
}

/** The loss of one batch and its two terms (step 7 of the spec). */
export interface NaiveLoss {
  /** nmse + auxCoef · auxk. */
  loss: number;
  /** Normalised MSE of the reconstruction. */
  nmse: number;
  /** Normalised MSE of the dead latents' reconstruction of the residual; 0 when AuxK is off. */
  auxk: number;
}

/** Loss, raw gradients (before projection and clipping) and the selections of one batch. */
export interface NaiveGradients extends NaiveLoss {
  /** Raw gradients of `loss` (steps 1–8 of the spec; no projection, no clipping). */
  grads: SaeGradients;
  /** `[B, K]` main top-k latent indices (what the dead-latent tracker records). */
  indicesBK: Int32Array;
  /** `[B, KA]` AuxK latent indices; undefined when AuxK is off (no dead latents or kAux = 0). */
  auxIndicesBK: Int32Array | undefined;
  /** Dead latents used by AuxK (Σ deadMaskF). */
  nDead: number;
}

/** Everything the forward pass computes that the backward pass needs. */
interface Forward extends NaiveLoss {
  b: number;
  /** `[B, D]` x − bPre. */
  xcBD: Float64Array;
  /** `[B, K]` main selection. */
  indicesBK: Int32Array;
  /** `[B, K]` z = ReLU(h) at the main selection. */
  zBK: Float64Array;
  /** `[B, D]` dLoss/dx̂ (the nmse term only: e is detached, so AuxK sends nothing back through x̂). */
  gradXHatBD: Float64Array;
  nDead: number;
  /** AuxK selection and dLoss/dê; undefined when AuxK is off. */
  aux: { indicesBK: Int32Array; zBK: Float64Array; gradEHatBD: Float64Array } | undefined;
}

/** Engine name in error messages. */
const WHO = "naive SAE step";

/** Validate the shapes of one batch against the config and parameters; returns B. */
function checkBatch(config: ResolvedSaeConfig, params: SaeParams, deadMaskF: Uint8Array, xBD: Float32Array): number {
  checkParamsForConfig(config, params, WHO);
  if (deadMaskF.length !== config.n) {
    throw new SaerchError(`${WHO}: dead mask has ${deadMaskF.length} entries, expected n = ${config.n}`);
  }
  return checkTrainBatch(xBD, config.d, WHO);
}

/** Steps 2–4 for one set of parameters: xc, h, the top-k selection, z and x̂. */
interface EncodeDecode {
  /** `[B, D]` x − bPre. */
  xcBD: Float64Array;
  /** `[B, F]` pre-activations. */
  hBF: Float64Array;
  /** `[B, K]` main selection. */
  indicesBK: Int32Array;
  /** `[B, K]` z = ReLU(h) at the selection. */
  zBK: Float64Array;
  /** `[B, D]` reconstruction. */
  xHatBD: Float64Array;
}

/** Steps 2–4 of the spec. */
function encodeDecode(config: ResolvedSaeConfig, params: SaeParams, xBD: Float32Array, b: number): EncodeDecode {
  const { d, n, k } = config;
  const { wEncFD, bLatF, wDecFD, bPreD } = params;

  // 2. xc = x − bPre; h = xc·wEncᵀ + bLat (the one dense product).
  const xcBD = new Float64Array(b * d);
  for (let r = 0; r < b; r++) for (let i = 0; i < d; i++) xcBD[r * d + i] = xBD[r * d + i]! - bPreD[i]!;
  const hBF = preActivations(xcBD, wEncFD, bLatF, b, n, d);

  // 3. Top-k per row (ranked on float32 h, ties → lower index); z = ReLU(h) at the selection.
  const indicesBK = rowTopK(new Float32Array(hBF), b, n, k).indicesNK;
  const zBK = new Float64Array(b * k);
  for (let r = 0; r < b; r++) {
    for (let q = 0; q < k; q++) zBK[r * k + q] = Math.max(0, hBF[r * n + indicesBK[r * k + q]!]!);
  }

  // 4. x̂ = bPre + Σ_q z·wDec[idx].
  const xHatBD = new Float64Array(b * d);
  for (let r = 0; r < b; r++) {
    for (let i = 0; i < d; i++) xHatBD[r * d + i] = bPreD[i]!;
    for (let q = 0; q < k; q++) {
      const j = indicesBK[r * k + q]!;
      const z = zBK[r * k + q]!;
      for (let i = 0; i < d; i++) xHatBD[r * d + i]! += z * wDecFD[j * d + i]!;
    }
  }
  return { xcBD, hBF, indicesBK, zBK, xHatBD };
}

/**
 * Steps 1–7: the forward pass and the loss. `detachAt` are the parameters at which the AuxK residual
 * e = x − x̂ is evaluated (normally `params` itself; see naiveLoss).
 */
function forward(
  config: ResolvedSaeConfig,
  params: SaeParams,
  deadMaskF: Uint8Array,
  xBD: Float32Array,
  detachAt: SaeParams,
): Forward {
  const b = checkBatch(config, params, deadMaskF, xBD);
  const { d, n, kAux, auxCoef } = config;
  const { wDecFD } = params;

  // 1. Dead latents (the caller's mask is the tracker's state before this step).
  let nDead = 0;
  for (let j = 0; j < n; j++) if (deadMaskF[j]) nDead++;

  // 2–4.
  const { xcBD, hBF, indicesBK, zBK, xHatBD } = encodeDecode(config, params, xBD, b);

  // 5. nmse = mean((x̂ − x)²) / mean((x̄ − x)²).
  const xBD64 = new Float64Array(xBD);
  const denom = batchVariance(xBD64, b, d);
  if (!(denom > 0)) {
    throw new SaerchError(
      `naive SAE step: the ${b} batch rows are identical, so the NMSE denominator mean((x̄ − x)²) is 0`,
      "shuffle the training rows and drop duplicate embeddings",
    );
  }
  const nmse = meanSquaredDiff(xHatBD, xBD64) / denom;
  const gradXHatBD = new Float64Array(b * d);
  const scale = 2 / (b * d * denom);
  for (let p = 0; p < b * d; p++) gradXHatBD[p] = scale * (xHatBD[p]! - xBD64[p]!);

  // 6. AuxK: the dead latents' top-kAux reconstructs the detached residual e = x − x̂, without bias.
  let auxk = 0;
  let aux: Forward["aux"];
  if (nDead > 0 && kAux > 0) {
    const hdBF = new Float32Array(b * n);
    for (let r = 0; r < b; r++) {
      for (let j = 0; j < n; j++) hdBF[r * n + j] = deadMaskF[j] ? hBF[r * n + j]! : Number.NEGATIVE_INFINITY;
    }
    const auxIndicesBK = rowTopK(hdBF, b, n, kAux).indicesNK;
    // za = ReLU(hd): the −∞ padding (fewer than kAux dead latents) gives 0.
    const zaBK = new Float64Array(b * kAux);
    for (let r = 0; r < b; r++) {
      for (let q = 0; q < kAux; q++) {
        const j = auxIndicesBK[r * kAux + q]!;
        zaBK[r * kAux + q] = deadMaskF[j] ? Math.max(0, hBF[r * n + j]!) : 0;
      }
    }
    if (detachAt !== params) checkBatch(config, detachAt, deadMaskF, xBD);
    const xHatDetachedBD = detachAt === params ? xHatBD : encodeDecode(config, detachAt, xBD, b).xHatBD;
    const eBD = new Float64Array(b * d);
    for (let p = 0; p < b * d; p++) eBD[p] = xBD64[p]! - xHatDetachedBD[p]!;
    const eHatBD = new Float64Array(b * d);
    for (let r = 0; r < b; r++) {
      for (let q = 0; q < kAux; q++) {
        const j = auxIndicesBK[r * kAux + q]!;
        const za = zaBK[r * kAux + q]!;
        for (let i = 0; i < d; i++) eHatBD[r * d + i]! += za * wDecFD[j * d + i]!;
      }
    }
    const denomA = batchVariance(eBD, b, d);
    // Degenerate case (every row's residual identical, e.g. exact reconstruction): nothing to explain, term 0.
    if (denomA > 0) {
      auxk = meanSquaredDiff(eHatBD, eBD) / denomA;
      const gradEHatBD = new Float64Array(b * d);
      const scaleA = (auxCoef * 2) / (b * d * denomA);
      for (let p = 0; p < b * d; p++) gradEHatBD[p] = scaleA * (eHatBD[p]! - eBD[p]!);
      aux = { indicesBK: auxIndicesBK, zBK: zaBK, gradEHatBD };
    }
  }

  // 7. loss.
  return { loss: nmse + auxCoef * auxk, nmse, auxk, b, xcBD, indicesBK, zBK, gradXHatBD, nDead, aux };
}

/**
 * Step 2's dense product h[r, j] = Σ_i xc[r, i]·wEnc[j, i] + bLat[j], `[B, F]` in float64. Tiled 2 rows × 2
 * latents so that each load serves two dot products (about 3× faster than one dot product at a time). With odd
 * B or F the last row (latent) pairs with itself: computed twice, stored once, same value.
 */
function preActivations(
  xcBD: Float64Array,
  wEncFD: Float32Array,
  bLatF: Float32Array,
  b: number,
  n: number,
  d: number,
): Float64Array {
  const hBF = new Float64Array(b * n);
  for (let r0 = 0; r0 < b; r0 += 2) {
    const r1 = Math.min(r0 + 1, b - 1);
    for (let j0 = 0; j0 < n; j0 += 2) {
      const j1 = Math.min(j0 + 1, n - 1);
      let h00 = 0;
      let h01 = 0;
      let h10 = 0;
      let h11 = 0;
      for (let i = 0; i < d; i++) {
        const x0 = xcBD[r0 * d + i]!;
        const x1 = xcBD[r1 * d + i]!;
        const w0 = wEncFD[j0 * d + i]!;
        const w1 = wEncFD[j1 * d + i]!;
        h00 += x0 * w0;
        h01 += x0 * w1;
        h10 += x1 * w0;
        h11 += x1 * w1;
      }
      hBF[r0 * n + j0] = h00 + bLatF[j0]!;
      hBF[r0 * n + j1] = h01 + bLatF[j1]!;
      hBF[r1 * n + j0] = h10 + bLatF[j0]!;
      hBF[r1 * n + j1] = h11 + bLatF[j1]!;
    }
  }
  return hBF;
}

/** mean((a − b)²) in float64. */
function meanSquaredDiff(a: Float64Array, b: Float64Array): number {
  let acc = 0;
  for (let p = 0; p < a.length; p++) acc += (a[p]! - b[p]!) ** 2;
  return acc / a.length;
}

/**
 * The loss of one batch (steps 1–7 of the spec), for finite-difference checks and engine comparisons.
 * @param deadMaskF `[F]` 1 where a latent is dead (tracker state before the step)
 * @param xBD `[B, D]` batch, B ≥ 2 (not mutated)
 * @param detachAt parameters at which the AuxK residual e = x − x̂ is computed (default `params`). The step
 *   treats e as a constant, so a finite-difference check of the gradient must hold it fixed: perturb `params`
 *   and pass the unperturbed parameters here.
 */
export function naiveLoss(
  config: ResolvedSaeConfig,
  params: SaeParams,
  deadMaskF: Uint8Array,
  xBD: Float32Array,
  detachAt: SaeParams = params,
): NaiveLoss {
  const f = forward(config, params, deadMaskF, xBD, detachAt);
  return { loss: f.loss, nmse: f.nmse, auxk: f.auxk };
}

/**
 * Steps 1–8 of the spec: the loss and its raw gradients by backprop (before the decoder projection and the
 * clip). Internal to the reference; exported for the gradient checks.
 * @param deadMaskF `[F]` 1 where a latent is dead (tracker state before the step)
 * @param xBD `[B, D]` batch, B ≥ 2 (not mutated)
 */
export function naiveGradients(
  config: ResolvedSaeConfig,
  params: SaeParams,
  deadMaskF: Uint8Array,
  xBD: Float32Array,
): NaiveGradients {
  const f = forward(config, params, deadMaskF, xBD, params);
  const { d, n, k, kAux } = config;
  const { wEncFD, wDecFD } = params;
  const b = f.b;
  const gWEncFD = new Float64Array(n * d);
  const gBLatF = new Float64Array(n);
  const gWDecFD = new Float64Array(n * d);
  const gBPreD = new Float64Array(d);
  const gXcBD = new Float64Array(b * d);
  const xcBD = f.xcBD;

  // Backprop through one decoded selection, out[r] += Σ_q z[r, q]·wDec[j_q] with z = ReLU(h[r, j_q]), given
  // the upstream gradient gOutBD = dL/dout.
  const backpropSelection = (indicesBK: Int32Array, zBK: Float64Array, kk: number, gOutBD: Float64Array): void => {
    for (let r = 0; r < b; r++) {
      for (let q = 0; q < kk; q++) {
        const j = indicesBK[r * kk + q]!;
        const z = zBK[r * kk + q]!;
        if (!(z > 0)) continue; // z = 0: no decoder term and ReLU'(h) = 0
        let gz = 0;
        for (let i = 0; i < d; i++) {
          gWDecFD[j * d + i]! += z * gOutBD[r * d + i]!;
          gz += gOutBD[r * d + i]! * wDecFD[j * d + i]!;
        }
        // h = xc·wEnc[j] + bLat[j]
        gBLatF[j]! += gz;
        for (let i = 0; i < d; i++) {
          gWEncFD[j * d + i]! += gz * xcBD[r * d + i]!;
          gXcBD[r * d + i]! += gz * wEncFD[j * d + i]!;
        }
      }
    }
  };

  // x̂ = bPre + Σ z·wDec: bPre gets dL/dx̂ directly.
  for (let r = 0; r < b; r++) for (let i = 0; i < d; i++) gBPreD[i]! += f.gradXHatBD[r * d + i]!;
  backpropSelection(f.indicesBK, f.zBK, k, f.gradXHatBD);
  // ê = Σ za·wDec (no bias); e is a constant.
  if (f.aux) backpropSelection(f.aux.indicesBK, f.aux.zBK, kAux, f.aux.gradEHatBD);
  // xc = x − bPre.
  for (let r = 0; r < b; r++) for (let i = 0; i < d; i++) gBPreD[i]! -= gXcBD[r * d + i]!;

  return {
    loss: f.loss,
    nmse: f.nmse,
    auxk: f.auxk,
    grads: {
      wEncFD: new Float32Array(gWEncFD),
      bLatF: new Float32Array(gBLatF),
      wDecFD: new Float32Array(gWDecFD),
      bPreD: new Float32Array(gBPreD),
    },
    indicesBK: f.indicesBK,
    auxIndicesBK: f.aux?.indicesBK,
    nDead: f.nDead,
  };
}

/** Step 9: remove from each decoder row's gradient its component along the row. Mutates `gWDecFD`. */
function projectDecoderGradientInPlace(gWDecFD: Float32Array, wDecFD: Float32Array, n: number, d: number): void {
  for (let j = 0; j < n; j++) {
    let along = 0;
    for (let i = 0; i < d; i++) along += gWDecFD[j * d + i]! * wDecFD[j * d + i]!;
    for (let i = 0; i < d; i++) gWDecFD[j * d + i]! -= along * wDecFD[j * d + i]!;
  }
}

/** Step 10: global L2 norm of all gradients (float64). */
function globalNorm(grads: SaeGradients): number {
  let acc = 0;
  for (const g of [grads.wEncFD, grads.bLatF, grads.wDecFD, grads.bPreD]) {
    for (let p = 0; p < g.length; p++) acc += g[p]! * g[p]!;
  }
  return Math.sqrt(acc);
}

/**
 * Step 11 for one parameter: Adam as PyTorch (no weight decay, no amsgrad) with gradient `coef·g`, at step t
 * (already incremented). Mutates `p`, `m`, `v` (float32, like PyTorch's tensors).
 */
function adamUpdateInPlace(
  config: ResolvedSaeConfig,
  t: number,
  coef: number,
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
): void {
  const { lr, beta1, beta2, eps } = config;
  const stepSize = lr / (1 - beta1 ** t);
  const sqrtBc2 = Math.sqrt(1 - beta2 ** t);
  for (let q = 0; q < p.length; q++) {
    const gc = Math.fround(g[q]! * coef); // the clipped float32 gradient
    m[q] = beta1 * m[q]! + (1 - beta1) * gc;
    v[q] = beta2 * v[q]! + (1 - beta2) * gc * gc;
    p[q]! -= (stepSize * m[q]!) / (Math.sqrt(v[q]!) / sqrtBc2 + eps);
  }
}

/**
 * One full training step of THE STEP SPEC on batch `xBD`, mutating `state` (params, Adam state, dead counters).
 * @param state params, Adam state and `sinceFiredF` `[F]`; updated in place
 * @param xBD `[B, D]` batch, B ≥ 2 (not mutated)
 * @returns the step's stats (measured before the update) and the gradients after the decoder projection,
 *   before clipping
 */
export function naiveStepInPlace(
  config: ResolvedSaeConfig,
  state: TrainState,
  xBD: Float32Array,
): { stats: StepStats; grads: SaeGradients } {
  checkTrainState(config, state, WHO);
  const { d, n, gradClip } = config;
  const { params, adam } = state;

  // 1. Dead latents from the counters before this step.
  const tracker = new DeadLatentTracker(n, config.deadWindow, state.sinceFiredF);
  // 2–8. Loss and raw gradients.
  const g = naiveGradients(config, params, tracker.deadMaskF(), xBD);
  const grads = g.grads;
  // 9. Decoder-gradient projection.
  projectDecoderGradientInPlace(grads.wDecFD, params.wDecFD, n, d);
  // 10. Global-norm clip (applied inside the Adam update, so `grads` stays unclipped for the caller).
  const gradNorm = globalNorm(grads);
  const coef = Math.min(1, gradClip / (gradNorm + CLIP_NORM_EPS));
  // 11. Adam on every parameter, t += 1 first.
  adam.t += 1;
  for (const name of ["wEncFD", "bLatF", "wDecFD", "bPreD"] as const) {
    adamUpdateInPlace(config, adam.t, coef, params[name], adam.m[name], adam.v[name], grads[name]);
  }
  // 12. Decoder rows back to unit norm.
  normalizeRowsInPlace(params.wDecFD, n, d);
  // 13. Dead counters: main selection only.
  tracker.updateInPlace(g.indicesBK, xBD.length / d);
  state.sinceFiredF.set(tracker.sinceFiredF);

  const stats: StepStats = { loss: g.loss, nmse: g.nmse, auxk: g.auxk, deadFraction: g.nDead / n, gradNorm };
  return { stats, grads };
}

/** A deep copy of a training state. */
function cloneTrainState(s: TrainState): TrainState {
  return { params: cloneParams(s.params), adam: cloneAdamState(s.adam), sinceFiredF: s.sinceFiredF.slice() };
}

/**
 * The reference engine: `naiveStepInPlace` behind the TrainStep interface. Slow (single-threaded float64 loops)
 * but exact; for tests and tiny runs.
 */
export class NaiveTrainStep implements TrainStep {
  readonly engine = "naive";
  private readonly current: TrainState;

  /** @param initialState copied in; the caller's buffers are never aliased or mutated */
  constructor(
    private readonly config: ResolvedSaeConfig,
    initialState: TrainState,
  ) {
    checkTrainState(config, initialState, WHO);
    this.current = cloneTrainState(initialState);
  }

  /** One step on `xBD` `[B, D]` (B ≥ 2). */
  async step(xBD: Float32Array): Promise<StepStats> {
    return naiveStepInPlace(this.config, this.current, xBD).stats;
  }

  /** Copies of the current parameters, Adam state and dead counters. */
  async state(): Promise<TrainState> {
    return cloneTrainState(this.current);
  }

  /** Nothing to release. */
  async close(): Promise<void> {}
}
