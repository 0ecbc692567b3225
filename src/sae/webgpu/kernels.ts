/**
 * WGSL sources of the webgpu engine's training step (METHOD.md §2, THE STEP SPEC of naive.ts), one compute
 * kernel per pass, generated per shape (D, F, K, KA and the optimiser constants are baked in; the batch B
 * arrives each step in a uniform). Every sum runs in a fixed order and no kernel uses float atomics, so a step
 * is deterministic: a resume reproduces an uninterrupted run bit for bit.
 *
 *   dead       per latent:  dead[j] = sinceFired[j] ≥ window; nDead (u32 atomic count)
 *   gemm       tiled 64×64: h[B, F] = (x − bPre)·wEncᵀ + bLat (the step's one dense product)
 *   select     per row:     top-K of h and top-KA of h over dead latents (ties → lower index), written to the
 *                           pair list [B, KK] (KK = K + KA) and the slot map [B, F] (latent → pair, per row)
 *   decode     per (b, i):  dM = x̂ − x, dA = ê − e with e = x − x̂ (the detached AuxK target)
 *   colstats   per column:  Σ dM², Σ dA², Σ (e − ē)²            → scalars1: sse, asse, evar, gradient scales
 *   pairs      per pair:    gz = scale · dA/dM[b]·wDec[j] (0 where z ≤ 0)
 *   gpre       per column:  ∂/∂bPre = Σ_b scaleMain·dM − Σ_pairs gz·wEnc[j]
 *   accumulate per latent:  walks column j of the slot map in row order (compacted 64 rows at a time):
 *                           ∂wDec[j], ∂wEnc[j], ∂bLat[j]; projects ∂wDec[j] off wDec[j]; its squared norm;
 *                           dead counter; clears the slots it read → scalars2: global norm, clip coefficient
 *   adamEnc / adamSmall / adamDec: Adam (PyTorch semantics) with the clipped gradient; decoder rows renormalised
 *
 * Buffer layouts (float32 unless noted): x [B, D]; h [B, F]; slots [B, F] u32 (main pair q + 1 in the low 16
 * bits, AuxK pair q + 1 in the high 16, 0 = none); pairIdx [B, KK] u32 (NONE when fewer dead latents than KA);
 * pairs [2, B, KK] (z, then gz at offset B·KK); resid [2, B, D] (dM, then dA at B·D); grads [2, F, D]
 * (∂wEnc, then ∂wDec at F·D); latF [2, F] (∂bLat, per-latent squared gradient norm); since [2, F] u32 (examples since each latent fired: low
 * words, then high words — exact to 2⁵³ like the Float64Array it mirrors); colPart [4, D]
 * (Σ dM², Σ dA², Σ (e − ē)², ∂bPre).
 */

/** Threads per workgroup of the one-dimensional kernels. */
export const WG = 64;
/** Output tile of the encoder GEMM (rows × latents); each of its 16×16 threads computes 4×4. */
export const GEMM_TILE = 64;
/** "No latent" in the pair list (AuxK with fewer dead latents than KA). */
export const NONE = 0xffffffff;
/** Max workgroups per dispatch dimension WebGPU guarantees; larger grids wrap into y. */
export const MAX_GROUPS_X = 65535;

/** The constants a kernel set is generated for. */
export interface KernelShape {
  d: number;
  n: number;
  k: number;
  /** AuxK latents per row (0: no AuxK). */
  kAux: number;
  /** Dead after this many examples without firing (an integer below 2⁵³). */
  deadWindow: number;
  auxCoef: number;
  gradClip: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** A kernel: WGSL source and the storage buffers it binds, in binding order (binding 0 is the uniform). */
export interface KernelSource {
  name: string;
  code: string;
  buffers: readonly string[];
}

/** Storage types of the engine's buffers. */
const BUFFER_TYPES: Record<string, string> = {
  since: "array<u32>",
  dead: "array<u32>",
  slots: "array<u32>",
  pairIdx: "array<u32>",
  scalars: "Scalars",
};

/** A WGSL float literal that round-trips the number (abstract float, converted to f32 where used). */
function f(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`kernel constant ${x} is not finite`);
  const s = x.toPrecision(17);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** Declarations shared by every kernel: constants, the uniform, the scalar block and the linear index. */
function prelude(s: KernelShape): string {
  const kk = s.k + s.kAux;
  return `
const D: u32 = ${s.d}u;
const F: u32 = ${s.n}u;
const K: u32 = ${s.k}u;
const KA: u32 = ${s.kAux}u;
const KK: u32 = ${kk}u;
const WINDOW_LO: u32 = ${s.deadWindow % 2 ** 32}u;
const WINDOW_HI: u32 = ${Math.floor(s.deadWindow / 2 ** 32)}u;
const AUX_COEF: f32 = ${f(s.auxCoef)};
const GRAD_CLIP: f32 = ${f(s.gradClip)};
const BETA1: f32 = ${f(s.beta1)};
const BETA2: f32 = ${f(s.beta2)};
const EPS: f32 = ${f(s.eps)};
const NONE: u32 = ${NONE}u;
const WG: u32 = ${WG}u;
const PER: u32 = ${Math.ceil(s.d / WG)}u;
struct Step { b: u32, denom: f32, stepSize: f32, sqrtBc2: f32 }
struct Scalars { nDead: atomic<u32>, sse: f32, asse: f32, evar: f32, scaleMain: f32, scaleAux: f32, gradSq: f32, coef: f32 }
@group(0) @binding(0) var<uniform> step: Step;
fn groupIndex(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }
`;
}

function declare(buffers: readonly string[]): string {
  return buffers
    .map((name, i) => `@group(0) @binding(${i + 1}) var<storage, read_write> ${name}: ${BUFFER_TYPES[name] ?? "array<f32>"};`)
    .join("\n");
}

/** A workgroup tree reduction over `red` (WG entries), result in red[0] for every thread. */
const REDUCE = `
var<workgroup> red: array<f32, ${WG}>;
fn reduceSum(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var off = WG / 2u; off > 0u; off = off / 2u) {
    if (t < off) { red[t] = red[t] + red[t + off]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}`;

function kernel(s: KernelShape, name: string, buffers: readonly string[], body: string): KernelSource {
  return { name, buffers, code: `${prelude(s)}\n${declare(buffers)}\n${body}` };
}

/** Every kernel of the training step, in dispatch order. */
export function stepKernels(s: KernelShape): Record<string, KernelSource> {
  const list = [
    kernel(s, "dead", ["since", "dead", "scalars"], `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let j = groupIndex(wid, nwg) * WG + t;
  if (j >= F) { return; }
  let hi = since[F + j];
  let isDead = hi > WINDOW_HI || (hi == WINDOW_HI && since[j] >= WINDOW_LO);
  dead[j] = select(0u, 1u, isDead);
  if (isDead) { atomicAdd(&scalars.nDead, 1u); }
}`),
    gemmKernel(s),
    selectKernel(s),
    kernel(s, "decode", ["x", "bPre", "wDec", "pairIdx", "pairs", "resid"], `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let p = groupIndex(wid, nwg) * WG + t;
  let b = step.b;
  if (p >= b * D) { return; }
  let r = p / D;
  let i = p % D;
  var xhat = bPre[i];
  for (var q = 0u; q < K; q++) {
    let j = pairIdx[r * KK + q];
    xhat = xhat + pairs[r * KK + q] * wDec[j * D + i];
  }
  let dM = xhat - x[p];
  resid[p] = dM;
  if (KA > 0u) {
    var ehat = 0.0;
    for (var q = K; q < KK; q++) {
      let j = pairIdx[r * KK + q];
      if (j != NONE) { ehat = ehat + pairs[r * KK + q] * wDec[j * D + i]; }
    }
    resid[b * D + p] = ehat + dM; // ê − e, e = x − x̂
  }
}`),
    kernel(s, "colstats", ["resid", "colPart"], `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let i = groupIndex(wid, nwg) * WG + t;
  let b = step.b;
  if (i >= D) { return; }
  var sse = 0.0;
  var sumE = 0.0;
  var asse = 0.0;
  for (var r = 0u; r < b; r++) {
    let dM = resid[r * D + i];
    sse = sse + dM * dM;
    sumE = sumE - dM;
    if (KA > 0u) { let dA = resid[b * D + r * D + i]; asse = asse + dA * dA; }
  }
  var evar = 0.0;
  if (KA > 0u) {
    let mean = sumE / f32(b);
    for (var r = 0u; r < b; r++) { let c = -resid[r * D + i] - mean; evar = evar + c * c; }
  }
  colPart[i] = sse;
  colPart[D + i] = asse;
  colPart[2u * D + i] = evar;
}`),
    kernel(s, "scalars1", ["colPart", "scalars"], `${REDUCE}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32) {
  var sse = 0.0;
  var asse = 0.0;
  var evar = 0.0;
  for (var i = t; i < D; i += WG) { sse = sse + colPart[i]; asse = asse + colPart[D + i]; evar = evar + colPart[2u * D + i]; }
  sse = reduceSum(t, sse);
  asse = reduceSum(t, asse);
  evar = reduceSum(t, evar);
  if (t == 0u) {
    scalars.sse = sse;
    scalars.asse = asse;
    scalars.evar = evar;
    scalars.scaleMain = 2.0 / (f32(step.b * D) * step.denom);
    let auxOn = KA > 0u && atomicLoad(&scalars.nDead) > 0u && evar > 0.0;
    scalars.scaleAux = select(0.0, AUX_COEF * 2.0 / evar, auxOn);
  }
}`),
    kernel(s, "pairs", ["pairIdx", "pairs", "resid", "wDec", "scalars"], `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let p = groupIndex(wid, nwg) * WG + t;
  let b = step.b;
  if (p >= b * KK) { return; }
  let r = p / KK;
  let q = p % KK;
  let j = pairIdx[p];
  let z = pairs[p];
  var gz = 0.0;
  if (j != NONE && z > 0.0) {
    let isMain = q < K;
    let base = select(b * D, 0u, isMain) + r * D;
    var acc = 0.0;
    for (var i = 0u; i < D; i++) { acc = acc + resid[base + i] * wDec[j * D + i]; }
    gz = select(scalars.scaleAux, scalars.scaleMain, isMain) * acc;
  }
  pairs[b * KK + p] = gz;
}`),
    kernel(s, "gpre", ["pairIdx", "pairs", "resid", "wEnc", "colPart", "scalars"], `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let i = groupIndex(wid, nwg) * WG + t;
  let b = step.b;
  if (i >= D) { return; }
  let scaleMain = scalars.scaleMain;
  var acc = 0.0;
  for (var r = 0u; r < b; r++) {
    acc = acc + scaleMain * resid[r * D + i];
    for (var q = 0u; q < KK; q++) {
      let j = pairIdx[r * KK + q];
      if (j != NONE) { acc = acc - pairs[b * KK + r * KK + q] * wEnc[j * D + i]; }
    }
  }
  colPart[3u * D + i] = acc;
}`),
    accumulateKernel(s),
    kernel(s, "scalars2", ["latF", "colPart", "scalars"], `${REDUCE}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32) {
  var acc = 0.0;
  for (var j = t; j < F; j += WG) { acc = acc + latF[F + j]; }
  for (var i = t; i < D; i += WG) { let g = colPart[3u * D + i]; acc = acc + g * g; }
  acc = reduceSum(t, acc);
  if (t == 0u) {
    scalars.gradSq = acc;
    scalars.coef = min(1.0, GRAD_CLIP / (sqrt(acc) + 1e-6));
  }
}`),
    kernel(s, "adamEnc", ["wEnc", "mEnc", "vEnc", "grads", "scalars"], `${ADAM}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let e = groupIndex(wid, nwg) * WG + t;
  if (e >= F * D) { return; }
  let u = adam(wEnc[e], mEnc[e], vEnc[e], grads[e] * scalars.coef);
  wEnc[e] = u.p; mEnc[e] = u.m; vEnc[e] = u.v;
}`),
    kernel(s, "adamSmall", ["bLat", "mLat", "vLat", "latF", "bPre", "mPre", "vPre", "colPart", "scalars"], `${ADAM}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let e = groupIndex(wid, nwg) * WG + t;
  let coef = scalars.coef;
  if (e < F) {
    let u = adam(bLat[e], mLat[e], vLat[e], latF[e] * coef);
    bLat[e] = u.p; mLat[e] = u.m; vLat[e] = u.v;
  } else if (e < F + D) {
    let i = e - F;
    let u = adam(bPre[i], mPre[i], vPre[i], colPart[3u * D + i] * coef);
    bPre[i] = u.p; mPre[i] = u.m; vPre[i] = u.v;
  }
}`),
    kernel(s, "adamDec", ["wDec", "mDec", "vDec", "grads", "scalars"], `${ADAM}${REDUCE}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let j = groupIndex(wid, nwg);
  if (j >= F) { return; }
  let coef = scalars.coef;
  var row: array<f32, PER>;
  var sq = 0.0;
  for (var c = 0u; c < PER; c++) {
    let i = t + c * WG;
    if (i < D) {
      let e = j * D + i;
      let u = adam(wDec[e], mDec[e], vDec[e], grads[F * D + e] * coef);
      mDec[e] = u.m; vDec[e] = u.v;
      row[c] = u.p;
      sq = sq + u.p * u.p;
    }
  }
  sq = reduceSum(t, sq);
  let inv = select(1.0, 1.0 / sqrt(sq), sq > 0.0);
  for (var c = 0u; c < PER; c++) {
    let i = t + c * WG;
    if (i < D) { wDec[j * D + i] = row[c] * inv; }
  }
}`),
  ];
  return Object.fromEntries(list.map((k) => [k.name, k]));
}

/** Adam as PyTorch (no weight decay): g is the clipped gradient. */
const ADAM = `
struct Upd { p: f32, m: f32, v: f32 }
fn adam(p: f32, m0: f32, v0: f32, g: f32) -> Upd {
  let m = BETA1 * m0 + (1.0 - BETA1) * g;
  let v = BETA2 * v0 + (1.0 - BETA2) * g * g;
  return Upd(p - step.stepSize * m / (sqrt(v) / step.sqrtBc2 + EPS), m, v);
}`;

/** The encoder GEMM, tiled 64 × 64 over (rows, latents) with a depth of 16 per shared-memory stage. */
function gemmKernel(s: KernelShape): KernelSource {
  return kernel(s, "gemm", ["x", "bPre", "wEnc", "bLat", "h"], `
const TM: u32 = ${GEMM_TILE}u;
const TK: u32 = 16u;
var<workgroup> As: array<f32, ${16 * GEMM_TILE}>;
var<workgroup> Ws: array<f32, ${16 * GEMM_TILE}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let b = step.b;
  let rowBase = wid.y * TM;
  let colBase = wid.x * TM;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < D; k0 += TK) {
    for (var l = 0u; l < 4u; l++) {
      let idx = t + l * 256u;
      let m = idx / TK;
      let kk = idx % TK;
      let col = k0 + kk;
      let row = rowBase + m;
      var a = 0.0;
      if (row < b && col < D) { a = x[row * D + col] - bPre[col]; }
      As[kk * TM + m] = a;
      let lat = colBase + m;
      var w = 0.0;
      if (lat < F && col < D) { w = wEnc[lat * D + col]; }
      Ws[kk * TM + m] = w;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var av: array<f32, 4>;
      var wv: array<f32, 4>;
      for (var u = 0u; u < 4u; u++) { av[u] = As[kk * TM + lid.y * 4u + u]; wv[u] = Ws[kk * TM + lid.x * 4u + u]; }
      for (var u = 0u; u < 4u; u++) { for (var v = 0u; v < 4u; v++) { acc[u * 4u + v] = acc[u * 4u + v] + av[u] * wv[v]; } }
    }
    workgroupBarrier();
  }
  for (var u = 0u; u < 4u; u++) {
    let row = rowBase + lid.y * 4u + u;
    for (var v = 0u; v < 4u; v++) {
      let lat = colBase + lid.x * 4u + v;
      if (row < b && lat < F) { h[row * F + lat] = acc[u * 4u + v] + bLat[lat]; }
    }
  }
}`);
}

/**
 * Top-K and top-KA (dead latents only) per row, one workgroup per row: round q finds the largest (h, −j) below
 * round q − 1's pick (values descending, ties by ascending index), so no element needs marking.
 */
function selectKernel(s: KernelShape): KernelSource {
  return kernel(s, "select", ["h", "dead", "pairIdx", "pairs", "slots"], `
var<workgroup> bestV: array<f32, ${WG}>;
var<workgroup> bestJ: array<u32, ${WG}>;
const LOWEST: f32 = -3.4028234663852886e38;
fn better(v1: f32, j1: u32, v2: f32, j2: u32) -> bool { return v1 > v2 || (v1 == v2 && j1 < j2); }
fn pick(t: u32, r: u32, deadOnly: bool, first: bool, pv: f32, pj: u32) -> vec2<u32> {
  var bv = LOWEST;
  var bj = NONE;
  for (var j = t; j < F; j += WG) {
    let v = h[r * F + j];
    let eligible = (first || v < pv || (v == pv && j > pj)) && (!deadOnly || dead[j] != 0u);
    if (eligible && better(v, j, bv, bj)) { bv = v; bj = j; }
  }
  bestV[t] = bv;
  bestJ[t] = bj;
  workgroupBarrier();
  for (var off = WG / 2u; off > 0u; off = off / 2u) {
    if (t < off && better(bestV[t + off], bestJ[t + off], bestV[t], bestJ[t])) {
      bestV[t] = bestV[t + off];
      bestJ[t] = bestJ[t + off];
    }
    workgroupBarrier();
  }
  let out = vec2<u32>(bitcast<u32>(bestV[0]), bestJ[0]);
  workgroupBarrier();
  return out;
}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let r = groupIndex(wid, nwg);
  if (r >= step.b) { return; }
  let b = step.b;
  var pv = 0.0;
  var pj = NONE;
  for (var q = 0u; q < KK; q++) {
    if (q == K) { pv = 0.0; pj = NONE; }
    let got = pick(t, r, q >= K, q == 0u || q == K, pv, pj);
    pv = bitcast<f32>(got.x);
    pj = got.y;
    if (t == 0u) {
      pairIdx[r * KK + q] = pj;
      pairs[r * KK + q] = select(0.0, max(pv, 0.0), pj != NONE);
    }
  }
  if (t == 0u) {
    for (var q = 0u; q < KK; q++) {
      let j = pairIdx[r * KK + q];
      if (j == NONE) { continue; }
      if (q < K) { slots[r * F + j] = q + 1u; } else { slots[r * F + j] = slots[r * F + j] | ((q + 1u) << 16u); }
    }
  }
}`);
}

/** Per latent: gradients from its pairs in row order, projection, squared norm, dead counter (see module header). */
function accumulateKernel(s: KernelShape): KernelSource {
  return kernel(s, "accumulate", ["slots", "pairs", "resid", "x", "bPre", "wDec", "grads", "latF", "since", "scalars"], `${REDUCE}
var<workgroup> flags: array<u32, ${WG}>;
var<workgroup> listRow: array<u32, ${WG}>;
var<workgroup> listSlot: array<u32, ${WG}>;
var<workgroup> fired: atomic<u32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let j = groupIndex(wid, nwg);
  if (j >= F) { return; }
  let b = step.b;
  let scaleMain = scalars.scaleMain;
  let scaleAux = scalars.scaleAux;
  var accDec: array<f32, PER>;
  var accEnc: array<f32, PER>;
  var gLat = 0.0;
  for (var base = 0u; base < b; base += WG) {
    let r = base + t;
    var sl = 0u;
    if (r < b) {
      sl = slots[r * F + j];
      if (sl != 0u) {
        slots[r * F + j] = 0u;
        if ((sl & 0xffffu) != 0u) { atomicOr(&fired, 1u); }
      }
    }
    let flag = select(0u, 1u, sl != 0u);
    flags[t] = flag;
    workgroupBarrier();
    for (var off = 1u; off < WG; off = off * 2u) {
      var v = flags[t];
      if (t >= off) { v = v + flags[t - off]; }
      workgroupBarrier();
      flags[t] = v;
      workgroupBarrier();
    }
    let total = flags[WG - 1u];
    if (flag == 1u) {
      let pos = flags[t] - 1u;
      listRow[pos] = r;
      listSlot[pos] = sl;
    }
    workgroupBarrier();
    for (var e = 0u; e < total; e++) {
      let row = listRow[e];
      let sv = listSlot[e];
      let qm = sv & 0xffffu;
      let qa = sv >> 16u;
      var zM = 0.0;
      var zA = 0.0;
      var g = 0.0;
      if (qm != 0u) { zM = pairs[row * KK + qm - 1u] * scaleMain; g = g + pairs[b * KK + row * KK + qm - 1u]; }
      if (qa != 0u) { zA = pairs[row * KK + qa - 1u] * scaleAux; g = g + pairs[b * KK + row * KK + qa - 1u]; }
      gLat = gLat + g;
      for (var c = 0u; c < PER; c++) {
        let i = t + c * WG;
        if (i < D) {
          var dd = zM * resid[row * D + i];
          if (KA > 0u) { dd = dd + zA * resid[b * D + row * D + i]; }
          accDec[c] = accDec[c] + dd;
          accEnc[c] = accEnc[c] + g * (x[row * D + i] - bPre[i]);
        }
      }
    }
    workgroupBarrier();
  }
  var along = 0.0;
  for (var c = 0u; c < PER; c++) {
    let i = t + c * WG;
    if (i < D) { along = along + accDec[c] * wDec[j * D + i]; }
  }
  along = reduceSum(t, along);
  var sq = 0.0;
  for (var c = 0u; c < PER; c++) {
    let i = t + c * WG;
    if (i < D) {
      let gd = accDec[c] - along * wDec[j * D + i];
      grads[j * D + i] = accEnc[c];
      grads[F * D + j * D + i] = gd;
      sq = sq + gd * gd + accEnc[c] * accEnc[c];
    }
  }
  sq = reduceSum(t, sq);
  if (t == 0u) {
    latF[j] = gLat;
    latF[F + j] = sq + gLat * gLat;
    if (atomicLoad(&fired) != 0u) {
      since[j] = 0u;
      since[F + j] = 0u;
    } else {
      let lo = since[j] + b; // 64-bit add with carry
      since[F + j] = since[F + j] + select(0u, 1u, lo < b);
      since[j] = lo;
    }
  }
}`);
}
