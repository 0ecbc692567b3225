/**
 * Top-k SAE inference (METHOD.md §2, after Gao et al. 2024): encode rows to k sparse codes, decode codes back,
 * reconstruct, and the per-batch NMSE. Fast enough to encode a whole corpus (row blocks, cached matmul).
 *
 *   encode:  h = (x − bPre)·wEncᵀ + bLat;   z = ReLU(top-k(h))   (top-k by value, ties → lower latent index)
 *   decode:  x̂ = bPre + Σ_q z_q · wDec[idx_q]                    (wDec rows are unit-norm latent directions)
 */
import { SaerchError } from "../core/errors.js";
import { matmulTransB } from "../core/matrix.js";
import { rowTopK } from "../core/topk.js";
import type { SaeParams } from "./params.js";

/** Rows encoded per block: bounds the dense `[rows, F]` pre-activation buffer (256 × 16384 × 4 B = 16 MiB). */
const ENCODE_BLOCK_ROWS = 256;

/** A batch's sparse codes: row b's k latents are at `[b·k, (b + 1)·k)`, largest pre-activation first. */
export interface SparseCodesBK {
  /** `[B, K]` latent indices. */
  indicesBK: Int32Array;
  /** `[B, K]` activations z = ReLU(h) at those indices (0 where the pre-activation was ≤ 0). */
  valuesBK: Float32Array;
}

/**
 * Throw a SaerchError unless the parameter buffers have the shapes their (d, n) promise.
 * @param where the caller's name, for the message
 */
export function checkSaeParams(params: SaeParams, where: string): void {
  const { d, n } = params;
  if (!Number.isInteger(d) || !Number.isInteger(n) || d < 1 || n < 1) {
    throw new SaerchError(`${where}: SAE params need positive integer d and n, got d = ${d}, n = ${n}`);
  }
  const expected: [string, Float32Array, number][] = [
    ["wEncFD", params.wEncFD, n * d],
    ["bLatF", params.bLatF, n],
    ["wDecFD", params.wDecFD, n * d],
    ["bPreD", params.bPreD, d],
  ];
  for (const [name, buf, len] of expected) {
    if (buf.length !== len) {
      throw new SaerchError(
        `${where}: params.${name} has ${buf.length} values but (d = ${d}, n = ${n}) needs ${len}`,
        "load parameters and config from the same checkpoint",
      );
    }
  }
}

/** Throw unless `xBD` is `[b, d]`. */
function checkRows(where: string, xBD: Float32Array, b: number, d: number): void {
  if (!Number.isInteger(b) || b < 0 || xBD.length !== b * d) {
    throw new SaerchError(`${where}: input has ${xBD.length} values, which is not [B = ${b}, D = ${d}]`);
  }
}

/** Throw unless k is an integer in [1, n]. */
function checkK(where: string, k: number, n: number): void {
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new SaerchError(`${where}: k must be an integer in [1, n = ${n}], got ${k}`);
  }
}

/**
 * Encode rows to their top-k codes: h = (x − bPre)·wEncᵀ + bLat, keep the k largest (ties → lower index),
 * ReLU. Works in blocks of rows, so a corpus of any size needs only a `[256, F]` scratch buffer.
 * @param xBD `[B, D]` row-major inputs (not mutated)
 * @returns `[B, K]` indices and ReLU'd values, largest pre-activation first
 */
export function encodeTopK(params: SaeParams, xBD: Float32Array, b: number, k: number): SparseCodesBK {
  checkSaeParams(params, "encodeTopK");
  const { d, n } = params;
  checkRows("encodeTopK", xBD, b, d);
  checkK("encodeTopK", k, n);
  const indicesBK: Int32Array = new Int32Array(b * k);
  const valuesBK: Float32Array = new Float32Array(b * k);
  const wEnc = { rows: n, cols: d, data: params.wEncFD };
  for (let r0 = 0; r0 < b; r0 += ENCODE_BLOCK_ROWS) {
    const rows = Math.min(ENCODE_BLOCK_ROWS, b - r0);
    const xcRD = xBD.slice(r0 * d, (r0 + rows) * d);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < d; i++) xcRD[r * d + i]! -= params.bPreD[i]!;
    }
    const hRF = matmulTransB({ rows, cols: d, data: xcRD }, wEnc).data;
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < n; j++) hRF[r * n + j]! += params.bLatF[j]!;
    }
    const top = rowTopK(hRF, rows, n, k);
    indicesBK.set(top.indicesNK, r0 * k);
    for (let q = 0; q < rows * k; q++) valuesBK[r0 * k + q] = Math.max(0, top.valuesNK[q]!);
  }
  return { indicesBK, valuesBK };
}

/**
 * Decode sparse codes: x̂[b] = bPre + Σ_q z[b, q] · wDec[idx[b, q]] (float64 accumulation per row).
 * @param indicesBK `[B, K]` latent indices in [0, F)
 * @param valuesBK `[B, K]` activations
 * @returns `[B, D]` reconstructions
 */
export function decodeSparse(
  params: SaeParams,
  indicesBK: Int32Array,
  valuesBK: Float32Array,
  b: number,
  k: number,
): Float32Array {
  checkSaeParams(params, "decodeSparse");
  const { d, n } = params;
  if (!Number.isInteger(k) || k < 0 || indicesBK.length !== b * k || valuesBK.length !== b * k) {
    throw new SaerchError(
      `decodeSparse: indices (${indicesBK.length}) and values (${valuesBK.length}) must both be [B = ${b}, K = ${k}]`,
    );
  }
  const outBD: Float32Array = new Float32Array(b * d);
  const accD = new Float64Array(d);
  for (let r = 0; r < b; r++) {
    accD.set(params.bPreD);
    for (let q = 0; q < k; q++) {
      const j = indicesBK[r * k + q]!;
      if (j < 0 || j >= n) {
        throw new SaerchError(`decodeSparse: latent index ${j} at row ${r} is outside [0, ${n})`);
      }
      const z = valuesBK[r * k + q]!;
      if (z === 0) continue;
      for (let i = 0; i < d; i++) accD[i]! += z * params.wDecFD[j * d + i]!;
    }
    outBD.set(accD, r * d);
  }
  return outBD;
}

/**
 * Encode then decode: the SAE's reconstruction x̂ of each row.
 * @param xBD `[B, D]` inputs (not mutated)
 * @returns `[B, D]` reconstructions
 */
export function reconstruct(params: SaeParams, xBD: Float32Array, b: number, k: number): Float32Array {
  const { indicesBK, valuesBK } = encodeTopK(params, xBD, b, k);
  return decodeSparse(params, indicesBK, valuesBK, b, k);
}

/**
 * Normalised MSE (the fraction of variance unexplained), in float64:
 * mean_{b,i}((x̂ − x)²) / mean_{b,i}((x̄_i − x[b, i])²), with x̄ the column mean of x over the B rows.
 * @param xBD `[B, D]` inputs
 * @param xHatBD `[B, D]` reconstructions
 * @throws SaerchError when the rows do not vary (B < 2 or all rows equal: the denominator is 0)
 */
export function nmse(xBD: ArrayLike<number>, xHatBD: ArrayLike<number>, b: number, d: number): number {
  if (!Number.isInteger(b) || !Number.isInteger(d) || xBD.length !== b * d || xHatBD.length !== b * d) {
    throw new SaerchError(
      `nmse: inputs (${xBD.length}) and reconstructions (${xHatBD.length}) must both be [B = ${b}, D = ${d}]`,
    );
  }
  const meanD = new Float64Array(d);
  for (let r = 0; r < b; r++) for (let i = 0; i < d; i++) meanD[i]! += xBD[r * d + i]!;
  for (let i = 0; i < d; i++) meanD[i]! /= b;
  let err = 0;
  let variance = 0;
  for (let r = 0; r < b; r++) {
    for (let i = 0; i < d; i++) {
      const x = xBD[r * d + i]!;
      err += (xHatBD[r * d + i]! - x) ** 2;
      variance += (meanD[i]! - x) ** 2;
    }
  }
  if (!(variance > 0)) {
    throw new SaerchError(
      `nmse: the ${b} input rows do not vary, so the denominator mean((x̄ − x)²) is 0`,
      "evaluate on at least two distinct rows",
    );
  }
  return err / variance;
}
