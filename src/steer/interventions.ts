/**
 * Interventions on a query embedding through the SAE (METHOD.md §7), each a pure function:
 * - `clampQuery`: set chosen latents of the query's sparse code to given values and decode
 *   (W_dec z + b_pre, no error term — the authors' app), optionally adding back the SAE error
 *   x − x̂ so that an unedited query ranks exactly as the raw query;
 * - `addDirections`: q' = q + Σ s_f · d_f over unit decoder directions (keeps the error — the paper's
 *   evaluation);
 * - `familyEdits`: one strength for a whole family spread over its members, by their co-occurrence with
 *   the parent (w_m ∝ P(m | parent), the parent itself 1) or equally, usable in either form.
 * Bad input (a feature id outside the dictionary, a non-finite value) is an error, never a silent zero.
 */
import { SaerchError } from "../core/errors.js";
import { decodeSparse, encodeTopK } from "../sae/model.js";
import type { SaeParams } from "../sae/params.js";

/** A query embedding and its SAE code. */
export interface QueryCode {
  /** `[D]` the query embedding q. */
  xD: Float32Array;
  /** `[K]` active latents, largest pre-activation first. */
  indicesK: Int32Array;
  /** `[K]` their activations. */
  valuesK: Float32Array;
  /** `[D]` the SAE error q − x̂. */
  errorD: Float32Array;
}

/** One latent edit: a feature and a value (clamp) or a strength (add). */
export interface FeatureEdit {
  feature: number;
  value: number;
}

/** Throw unless every edit names a feature in [0, n) with a finite value. */
export function checkEdits(edits: readonly FeatureEdit[], n: number): void {
  for (const e of edits) {
    if (!Number.isInteger(e.feature) || e.feature < 0 || e.feature >= n) {
      throw new SaerchError(`feature ${e.feature} is outside the SAE's dictionary [0, ${n})`, "use a feature id from this SAE");
    }
    if (!Number.isFinite(e.value)) throw new SaerchError(`the value for feature ${e.feature} is ${e.value}, not a finite number`);
  }
}

/**
 * Encode one query embedding.
 * @param xD `[D]` the query embedding (same space as the SAE's training data)
 * @param k active latents (the SAE's k)
 */
export function encodeQuery(params: SaeParams, xD: Float32Array, k: number): QueryCode {
  if (xD.length !== params.d) {
    throw new SaerchError(`the query embedding has ${xD.length} dimensions but the SAE expects ${params.d}`, "embed queries with the model that built the SAE's store");
  }
  for (const v of xD) if (!Number.isFinite(v)) throw new SaerchError("the query embedding holds a non-finite value", "check the embedder");
  const { indicesBK, valuesBK } = encodeTopK(params, xD, 1, k);
  const xHatD = decodeSparse(params, indicesBK, valuesBK, 1, k);
  const errorD = Float32Array.from(xD, (v, i) => v - xHatD[i]!);
  return { xD: Float32Array.from(xD), indicesK: indicesBK, valuesK: valuesBK, errorD };
}

/** The query's activation of each active feature, as a map. */
export function activeFeatures(code: Pick<QueryCode, "indicesK" | "valuesK">): Map<number, number> {
  const out = new Map<number, number>();
  code.indicesK.forEach((f, i) => {
    if (code.valuesK[i]! > 0) out.set(f, code.valuesK[i]!);
  });
  return out;
}

/**
 * Clamp: the query's code with each edited latent set to its value (0 removes it, a new feature is added),
 * decoded as W_dec z + b_pre; with `keepError` the SAE error is added back.
 * @returns `[D]` the steered query q'
 */
export function clampQuery(params: SaeParams, code: QueryCode, edits: readonly FeatureEdit[], opts: { keepError?: boolean } = {}): Float32Array {
  checkEdits(edits, params.n);
  const z = activeFeatures(code);
  for (const e of edits) z.set(e.feature, e.value);
  const entries = [...z.entries()];
  const outD = decodeSparse(params, Int32Array.from(entries, ([f]) => f), Float32Array.from(entries, ([, v]) => v), 1, entries.length);
  if (opts.keepError) for (let i = 0; i < outD.length; i++) outD[i]! += code.errorD[i]!;
  return outD;
}

/**
 * Add: q' = q + Σ s_f · d_f, with d_f the unit decoder direction of feature f (`wDecFD` rows are unit-norm).
 * @param qD `[D]` the query embedding (not mutated)
 * @returns `[D]` the steered query
 */
export function addDirections(params: SaeParams, qD: Float32Array, edits: readonly FeatureEdit[]): Float32Array {
  checkEdits(edits, params.n);
  if (qD.length !== params.d) throw new SaerchError(`the query has ${qD.length} dimensions but the SAE expects ${params.d}`);
  const outD = Float32Array.from(qD);
  const d = params.d;
  for (const e of edits) {
    for (let i = 0; i < d; i++) outD[i]! += e.value * params.wDecFD[e.feature * d + i]!;
  }
  return outD;
}

/**
 * Add an arbitrary direction: q' = q + s · u / |u|.
 * @param dirD `[D]` a non-zero direction
 */
export function addDirection(qD: Float32Array, dirD: Float32Array, strength: number): Float32Array {
  if (!Number.isFinite(strength)) throw new SaerchError(`strength ${strength} is not a finite number`);
  let norm = 0;
  for (const v of dirD) norm += v * v;
  norm = Math.sqrt(norm);
  if (!(norm > 0)) throw new SaerchError("cannot steer along a zero direction");
  return Float32Array.from(qD, (v, i) => v + (strength * dirD[i]!) / norm);
}

/** How a family strength is spread over its features. */
export type FamilyWeighting = "cooccurrence" | "equal";

/** A family for steering: its parent feature and members, with P(member | parent) when known. */
export interface SteerFamily {
  root: number;
  /** Members besides the root, each with the fraction of the parent's documents where it fires. */
  members: ReadonlyArray<{ feature: number; givenParent: number }>;
}

/**
 * Edits for a whole family at one strength: weight 1 for the parent and P(member | parent) for each member
 * (`cooccurrence`) or 1 for every feature (`equal`); then scaled so the weights sum to 1 (`sum`: the add
 * form, so the added vector's norm is at most |s|) or so the largest is 1 (`max`: the clamp form, so the
 * parent is set to s).
 */
export function familyEdits(family: SteerFamily, strength: number, weighting: FamilyWeighting, normalize: "sum" | "max"): FeatureEdit[] {
  if (!Number.isFinite(strength)) throw new SaerchError(`strength ${strength} is not a finite number`);
  const raw = [{ feature: family.root, w: 1 }, ...family.members.map((m) => ({ feature: m.feature, w: weighting === "equal" ? 1 : m.givenParent }))];
  const scale = normalize === "sum" ? raw.reduce((a, x) => a + x.w, 0) : Math.max(...raw.map((x) => x.w));
  return raw.map((x) => ({ feature: x.feature, value: (strength * x.w) / scale }));
}

/** cos(a, b) in float64. */
export function cosineOf(aD: ArrayLike<number>, bD: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < aD.length; i++) {
    ab += aD[i]! * bD[i]!;
    aa += aD[i]! * aD[i]!;
    bb += bD[i]! * bD[i]!;
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}
