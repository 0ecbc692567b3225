/**
 * SAE parameters, Adam state, initialisation and dead-latent tracking (METHOD.md §2).
 *
 * Layout: both weight matrices are stored with one row per latent, `[F, D]` (F = n latents, D = d):
 * `wEncFD` is the released `encoder.weight [n, d]` as is; `wDecFD` is the released `decoder.weight [d, n]`
 * transposed, so that a latent's decoder direction is one contiguous row (the sparse step gathers and
 * scatters rows). Forward: h = (x − bPre)·wEncᵀ + bLat; z = ReLU(top-k(h)); x̂ = z·wDec + bPre.
 */
import { columnMedian } from "../core/matrix.js";
import { Rng } from "../core/rng.js";
import { normalizeRowsInPlace } from "../core/vector.js";

/** The trainable parameters of a top-k SAE. */
export interface SaeParams {
  /** Input dimension D. */
  d: number;
  /** Latents F (the paper's n). */
  n: number;
  /** Encoder rows `[F, D]` (= released `encoder.weight [n, d]`). */
  wEncFD: Float32Array;
  /** Latent bias `[F]`. */
  bLatF: Float32Array;
  /** Decoder directions, one unit-norm row per latent, `[F, D]` (= released `decoder.weight [d, n]`ᵀ). */
  wDecFD: Float32Array;
  /** Pre-bias `[D]`, subtracted before encoding and added after decoding. */
  bPreD: Float32Array;
}

/** Adam's first and second moments for every parameter, and the number of steps taken. */
export interface AdamState {
  /** Steps taken (t of the bias corrections). */
  t: number;
  m: { wEncFD: Float32Array; bLatF: Float32Array; wDecFD: Float32Array; bPreD: Float32Array };
  v: { wEncFD: Float32Array; bLatF: Float32Array; wDecFD: Float32Array; bPreD: Float32Array };
}

/** Zeroed Adam state for parameters of size (d, n). */
export function zeroAdamState(d: number, n: number): AdamState {
  const zeros = () => ({
    wEncFD: new Float32Array(n * d),
    bLatF: new Float32Array(n),
    wDecFD: new Float32Array(n * d),
    bPreD: new Float32Array(d),
  });
  return { t: 0, m: zeros(), v: zeros() };
}

/** A deep copy of parameters (engines and tests must never share buffers by accident). */
export function cloneParams(p: SaeParams): SaeParams {
  return { d: p.d, n: p.n, wEncFD: p.wEncFD.slice(), bLatF: p.bLatF.slice(), wDecFD: p.wDecFD.slice(), bPreD: p.bPreD.slice() };
}

/** A deep copy of Adam state. */
export function cloneAdamState(s: AdamState): AdamState {
  const copy = (x: AdamState["m"]) => ({
    wEncFD: x.wEncFD.slice(),
    bLatF: x.bLatF.slice(),
    wDecFD: x.wDecFD.slice(),
    bPreD: x.bPreD.slice(),
  });
  return { t: s.t, m: copy(s.m), v: copy(s.v) };
}

/**
 * The paper's initialisation: pre-bias = coordinate-wise median of `sampleRD` (a sample of training rows);
 * decoder rows random Gaussian then unit L2 norm; encoder = decoder (tied at init only); latent bias 0.
 * @param sampleRD row-major `[R, D]` sample of training embeddings
 */
export function initSaeParams(d: number, n: number, sampleRD: Float32Array, seed: number): SaeParams {
  const rows = sampleRD.length / d;
  const bPreD = columnMedian({ rows, cols: d, data: sampleRD });
  const rng = new Rng(seed).fork("sae-init");
  const wDecFD = new Float32Array(n * d);
  rng.fillNormalInPlace(wDecFD);
  normalizeRowsInPlace(wDecFD, n, d);
  return { d, n, wEncFD: wDecFD.slice(), bLatF: new Float32Array(n), wDecFD, bPreD: Float32Array.from(bPreD) };
}

/**
 * Dead-latent tracking: per latent, training examples seen since it was last in some input's top-k.
 * A latent is dead when that count reaches the window (METHOD.md §2).
 */
export class DeadLatentTracker {
  /** Examples since each latent last fired `[F]` (float64: exact integers far beyond 2^31). */
  readonly sinceFiredF: Float64Array;

  constructor(
    readonly n: number,
    readonly window: number,
    sinceFiredF?: Float64Array,
  ) {
    this.sinceFiredF = sinceFiredF ? sinceFiredF.slice() : new Float64Array(n);
  }

  /** Dead mask `[F]`: 1 where dead, else 0. */
  deadMaskF(): Uint8Array {
    const out = new Uint8Array(this.n);
    for (let j = 0; j < this.n; j++) out[j] = this.sinceFiredF[j]! >= this.window ? 1 : 0;
    return out;
  }

  /** Number of dead latents. */
  deadCount(): number {
    let c = 0;
    for (let j = 0; j < this.n; j++) if (this.sinceFiredF[j]! >= this.window) c++;
    return c;
  }

  /**
   * Record one batch: latents in any row's top-k restart at 0, every other latent ages by `batch` examples.
   * @param indicesBK the batch's top-k latent indices `[B, K]` (int32 or int64)
   */
  updateInPlace(indicesBK: Int32Array | BigInt64Array, batch: number): void {
    const fired = new Uint8Array(this.n);
    for (let i = 0; i < indicesBK.length; i++) fired[Number(indicesBK[i]!)] = 1;
    for (let j = 0; j < this.n; j++) this.sinceFiredF[j] = fired[j] ? 0 : this.sinceFiredF[j]! + batch;
  }
}
