/**
 * What a feature page shows, computed once from an SAE's codes and decoder (METHOD.md §8): activation
 * histograms, top documents and documents from lower quantiles, the most and least similar features by
 * decoder cosine — correctly indexed: the released app's list was shifted by one for neighbours above the
 * target — and the top co-occurring features by the overlap coefficient C/min(n_i, n_j), never raw counts
 * (with raw counts the densest features always win).
 */
import { SaerchError } from "../core/errors.js";
import { matmulTransB } from "../core/matrix.js";
import { normalizeRowsInPlace } from "../core/vector.js";
import { type Cooccurrence, cooccurrence, overlap, pairCount } from "../families/cooccurrence.js";
import type { SparseCodes } from "../sae/encode.js";

/** Bins of a feature's activation histogram. */
export const HIST_BINS = 24;
/** Top documents listed per feature. */
export const TOP_DOCS = 10;
/** Lower quantiles shown on a feature page (the median and the 10th percentile of its activations). */
export const QUANTILES = [0.5, 0.1] as const;
/** Documents listed per lower quantile. */
export const QUANTILE_DOCS = 5;
/** Most and least similar features by decoder cosine (METHOD.md §8: 5 each). */
export const NEIGHBOURS = 5;
/** Co-occurring features listed per feature. */
export const COOC_TOP = 10;
/**
 * Fewest shared documents for a co-occurrence to be listed: with one shared document a feature that fires
 * once has overlap 1 with everything beside it.
 */
export const MIN_COOC_DOCS = 2;

/** Each feature's (codes row, activation) pairs, activation > 0, highest first (ties: lower row). */
export interface FeatureActivations {
  /** `[F + 1]` offsets into rows/values. */
  startF: Int32Array;
  /** Codes rows (positions in the SAE's row list, not store rows). */
  rows: Int32Array;
  values: Float32Array;
}

/** Group the codes by feature (counting sort), each feature's entries sorted by activation, highest first. */
export function featureActivations(codes: SparseCodes, n: number): FeatureActivations {
  const { indices, values, k } = codes;
  const startF = new Int32Array(n + 1);
  for (let p = 0; p < indices.length; p++) if (values[p]! > 0) startF[indices[p]! + 1]!++;
  for (let f = 0; f < n; f++) startF[f + 1]! += startF[f]!;
  const fill = startF.slice(0, n);
  const rows = new Int32Array(startF[n]!);
  const vals = new Float32Array(startF[n]!);
  for (let p = 0; p < indices.length; p++) {
    if (!(values[p]! > 0)) continue;
    const f = indices[p]!;
    if (f < 0 || f >= n) throw new SaerchError(`codes hold latent ${f}, outside the dictionary [0, ${n})`);
    const at = fill[f]!++;
    rows[at] = Math.floor(p / k);
    vals[at] = values[p]!;
  }
  for (let f = 0; f < n; f++) {
    const a = startF[f]!;
    const b = startF[f + 1]!;
    const order = Array.from({ length: b - a }, (_, i) => a + i).sort((x, y) => vals[y]! - vals[x]! || rows[x]! - rows[y]!);
    const r = order.map((i) => rows[i]!);
    const v = order.map((i) => vals[i]!);
    rows.set(r, a);
    vals.set(v, a);
  }
  return { startF, rows, values: vals };
}

/** Histogram of activations (> 0) on `bins` equal bins over [0, max]. */
export function activationHistogram(valuesDesc: ArrayLike<number>, bins = HIST_BINS): { edges: number[]; counts: number[] } {
  const max = valuesDesc.length > 0 ? Math.max(...Array.from(valuesDesc)) : 0;
  if (max <= 0) return { edges: [], counts: [] };
  const edges = Array.from({ length: bins + 1 }, (_, i) => (max * i) / bins);
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < valuesDesc.length; i++) counts[Math.min(bins - 1, Math.floor((valuesDesc[i]! / max) * bins))]!++;
  return { edges, counts };
}

/**
 * Positions of the documents around quantile q of a feature's activations (sorted highest first): the
 * window of `count` documents centred on position round((1 − q)·(m − 1)).
 */
export function quantileWindow(m: number, q: number, count = QUANTILE_DOCS): number[] {
  if (m === 0) return [];
  const centre = Math.round((1 - q) * (m - 1));
  const start = Math.max(0, Math.min(m - count, centre - Math.floor(count / 2)));
  return Array.from({ length: Math.min(count, m) }, (_, i) => start + i);
}

/** The most and least similar features of every feature. */
export interface DecoderNeighbours {
  /** `[F, NEIGHBOURS]` feature ids, most similar first. */
  similarFK: Int32Array;
  similarCosFK: Float32Array;
  /** `[F, NEIGHBOURS]` feature ids, least similar (most negative cosine) first. */
  dissimilarFK: Int32Array;
  dissimilarCosFK: Float32Array;
  k: number;
}

/**
 * Decoder-cosine neighbours of every feature, the feature itself excluded: `other` is the feature id of the
 * neighbour, read from the same column index the cosine came from (no re-indexing after removing the
 * target, which is where the released app shifted its list by one). Ties go to the lower feature id.
 * @param wDecFD `[F, D]` decoder rows (not mutated)
 */
export function decoderNeighbours(wDecFD: Float32Array, n: number, d: number, k = NEIGHBOURS, blockRows = 256): DecoderNeighbours {
  if (wDecFD.length !== n * d) throw new SaerchError(`decoder has ${wDecFD.length} values, not F·D = ${n}·${d}`);
  const kk = Math.min(k, n - 1);
  const unit = wDecFD.slice();
  normalizeRowsInPlace(unit, n, d);
  const out: DecoderNeighbours = {
    similarFK: new Int32Array(n * kk),
    similarCosFK: new Float32Array(n * kk),
    dissimilarFK: new Int32Array(n * kk),
    dissimilarCosFK: new Float32Array(n * kk),
    k: kk,
  };
  const all = { rows: n, cols: d, data: unit };
  for (let i0 = 0; i0 < n; i0 += blockRows) {
    const rows = Math.min(blockRows, n - i0);
    const cos = matmulTransB({ rows, cols: d, data: unit.subarray(i0 * d, (i0 + rows) * d) }, all).data;
    for (let r = 0; r < rows; r++) {
      const i = i0 + r;
      const row = cos.subarray(r * n, (r + 1) * n);
      const hi = extremes(row, i, kk, 1);
      const lo = extremes(row, i, kk, -1);
      hi.forEach((j, q) => {
        out.similarFK[i * kk + q] = j;
        out.similarCosFK[i * kk + q] = row[j]!;
      });
      lo.forEach((j, q) => {
        out.dissimilarFK[i * kk + q] = j;
        out.dissimilarCosFK[i * kk + q] = row[j]!;
      });
    }
  }
  return out;
}

/** Column indices of the k largest (sign 1) or smallest (sign −1) values of a row, skipping `self`; ties → lower index. */
function extremes(row: Float32Array, self: number, k: number, sign: 1 | -1): number[] {
  const best: number[] = [];
  for (let j = 0; j < row.length; j++) {
    if (j === self) continue;
    const v = sign * row[j]!;
    if (best.length === k && v <= sign * row[best[k - 1]!]!) continue;
    let at = best.length;
    while (at > 0 && v > sign * row[best[at - 1]!]!) at--;
    best.splice(at, 0, j);
    if (best.length > k) best.pop();
  }
  return best;
}

/** One co-occurring feature. */
export interface CooccurringFeature {
  feature: number;
  /** C[i, j] / min(n_i, n_j). */
  overlap: number;
  /** C[i, j]: documents where both fire. */
  count: number;
}

/** Co-occurrence of every feature of a dictionary of F (from the codes; the families' counting code). */
export function allCooccurrence(codes: SparseCodes, n: number): Cooccurrence {
  return cooccurrence(codes.indices, codes.k, Int32Array.from({ length: n }, (_, i) => i), n);
}

/**
 * The top co-occurring features of local feature `a` by the overlap coefficient (ties: more shared
 * documents, then lower id), among pairs sharing at least `minDocs` documents.
 */
export function topCooccurring(c: Cooccurrence, a: number, top = COOC_TOP, minDocs = MIN_COOC_DOCS): CooccurringFeature[] {
  const out: CooccurringFeature[] = [];
  const m = c.featuresM.length;
  for (let b = 0; b < m; b++) {
    if (b === a) continue;
    const count = pairCount(c, a, b);
    if (count < minDocs) continue;
    out.push({ feature: c.featuresM[b]!, overlap: overlap(c, a, b), count });
  }
  out.sort((x, y) => y.overlap - x.overlap || y.count - x.count || x.feature - y.feature);
  return out.slice(0, top);
}
