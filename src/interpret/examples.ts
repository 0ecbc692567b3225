/**
 * Example documents of each feature for the interpreter and the predictor (METHOD.md §4): the top-activating
 * documents (the feature in the document's top-k, sorted by activation, text longer than `minChars`) and the
 * zero-activating ones (the feature not in the document's top-k at all).
 *
 * `buildFeatureIndex` inverts the `[N, K]` codes once per SAE into a per-feature list (CSR) of the rows
 * where the feature is active, highest activation first; `selectExamples` then picks one feature's shown
 * and held-out examples from it:
 * - top: the eligible active rows in activation order; the first `top` are shown, the next `heldTop` are
 *   held out for the predictor (the paper: 5 shown, 3 held out).
 * - zero, "random" (the paper's code): a seeded sample without replacement of `zero + heldZero` eligible
 *   rows whose top-k lacks the feature, drawn from the feature's own stream `${seed}:zero:${feature}`; the
 *   first `zero` drawn are shown, the rest held out.
 * - zero, "hard" (an older version of the paper): the `zero + heldZero` eligible non-activating rows with the
 *   largest dot product with the mean embedding of the shown top rows (ties: lower row first), then shuffled
 *   with the stream `${seed}:hard:${feature}` before the first `zero` are shown and the rest held out. The
 *   shuffle makes the shown and the held-out negatives equally hard; without it the interpreter would see
 *   the nearest negatives and the predictor only the easier, farther ones.
 *
 * A row whose top-k holds the feature with activation 0 (a ReLU'd pre-activation ≤ 0) is neither a top nor a
 * zero example: it is in the top-k, so it is not zero-activating, and it does not fire.
 * All rows here are codes rows 0..N−1 (the caller maps them to store rows and documents).
 */
import { SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import type { SparseCodes } from "../sae/encode.js";
import type { ExamplesConfig } from "./config.js";

/** Slices up to this length are sorted by insertion sort (fast, stable); longer ones by comparator sort. */
const INSERTION_SORT_MAX = 24;
/** Random zero-activating sampling: draws allowed per needed row before falling back to an exact scan. */
const ZERO_DRAWS_PER_NEEDED = 64;
/** Random zero-activating sampling: extra draws allowed on top of ZERO_DRAWS_PER_NEEDED · needed. */
const ZERO_DRAWS_SLACK = 256;

/**
 * Per-feature inverted index of sparse codes (CSR): feature j's active rows are
 * `rowsE[offsetsF1[j] .. offsetsF1[j + 1])`, sorted by activation descending (ties: row ascending), with
 * their activations at the same positions of `valuesE`. Only entries with activation > 0 are listed.
 */
export interface FeatureIndex {
  /** Features F. */
  n: number;
  /** Documents (codes rows) N. */
  count: number;
  /** Active latents per document K. */
  k: number;
  /** `[F + 1]` start of each feature's slice in `rowsE` / `valuesE`; `offsetsF1[F]` = E. */
  offsetsF1: Int32Array;
  /** `[E]` codes rows, grouped by feature, highest activation first. */
  rowsE: Int32Array;
  /** `[E]` activations (all > 0), aligned with `rowsE`. */
  valuesE: Float32Array;
}

/** A codes row and the feature's activation on it. */
export interface RowActivation {
  /** Codes row in [0, N). */
  row: number;
  /** The feature's activation on the row (> 0). */
  activation: number;
}

/** One feature's examples as codes rows, or why there are not enough of them. */
export type ExampleSelection =
  | {
      ok: true;
      /** `[top]` shown top-activating rows, highest activation first. */
      top: RowActivation[];
      /** `[zero]` shown zero-activating rows. */
      zero: number[];
      /** `[heldTop]` held-out top-activating rows (the next ones in activation order). */
      heldTop: RowActivation[];
      /** `[heldZero]` held-out zero-activating rows. */
      heldZero: number[];
    }
  | {
      ok: false;
      /** Readable reason, e.g. "2 eligible activating documents, 8 needed (active in 5)". */
      reason: string;
    };

/** Options of `selectExamples`. */
export interface SelectExamplesOptions {
  /** Counts, negatives kind and seed. */
  config: ExamplesConfig;
  /**
   * Whether a codes row may be an example (its text is longer than `config.minChars`). Called often (also
   * by rejection sampling), so precompute it: e.g. `(row) => eligibleN[row] === 1`.
   */
  eligible: (row: number) => boolean;
  /** `[N, D]` unit-norm embeddings in codes-row order; required for negatives "hard". */
  embeddingsND?: Float32Array;
  /** D; required with `embeddingsND`. */
  dim?: number;
}

function checkCodes(codes: SparseCodes, fn: string): number {
  const { indices, values, k } = codes;
  if (!Number.isInteger(k) || k < 1) throw new SaerchError(`${fn}: codes.k must be a positive integer, got ${k}`);
  if (indices.length !== values.length || indices.length % k !== 0) {
    throw new SaerchError(`${fn}: codes indices (${indices.length}) and values (${values.length}) are not both [N, K = ${k}]`, "load both files with loadCodes");
  }
  return indices.length / k;
}

/** Stable in-place sort of one slice by activation descending (rows already ascending within the slice). */
function sortSliceInPlace(rowsE: Int32Array, valuesE: Float32Array, start: number, end: number): void {
  const len = end - start;
  if (len < 2) return;
  if (len <= INSERTION_SORT_MAX) {
    for (let i = start + 1; i < end; i++) {
      const v = valuesE[i]!;
      const r = rowsE[i]!;
      let j = i - 1;
      while (j >= start && valuesE[j]! < v) {
        valuesE[j + 1] = valuesE[j]!;
        rowsE[j + 1] = rowsE[j]!;
        j--;
      }
      valuesE[j + 1] = v;
      rowsE[j + 1] = r;
    }
    return;
  }
  const rowsL = rowsE.slice(start, end);
  const valuesL = valuesE.slice(start, end);
  const permL = new Int32Array(len);
  for (let i = 0; i < len; i++) permL[i] = i;
  permL.sort((a, b) => {
    const va = valuesL[a]!;
    const vb = valuesL[b]!;
    return va > vb ? -1 : va < vb ? 1 : rowsL[a]! - rowsL[b]!;
  });
  for (let i = 0; i < len; i++) {
    const p = permL[i]!;
    rowsE[start + i] = rowsL[p]!;
    valuesE[start + i] = valuesL[p]!;
  }
}

/**
 * Invert `[N, K]` codes into a per-feature index of active rows (see `FeatureIndex`): a counting sort by
 * feature (rows come out ascending within each feature), then each feature's slice sorted by activation.
 * O(N·K + E log(E / F)) time.
 * @param codes `[N, K]` codes
 * @param n features F
 * @throws SaerchError when a latent index is outside [0, F) or a row lists the same latent twice
 */
export function buildFeatureIndex(codes: SparseCodes, n: number): FeatureIndex {
  if (!Number.isInteger(n) || n < 1) throw new SaerchError(`buildFeatureIndex: n (features) must be a positive integer, got ${n}`);
  const count = checkCodes(codes, "buildFeatureIndex");
  const { indices, values, k } = codes;
  const offsetsF1 = new Int32Array(n + 1);
  for (let p = 0; p < indices.length; p++) {
    const j = indices[p]!;
    if (!(j >= 0 && j < n)) {
      throw new SaerchError(`buildFeatureIndex: latent index ${j} (row ${Math.floor(p / k)}) is outside [0, ${n})`, "pass the SAE's dictionary size n");
    }
    if (values[p]! > 0) offsetsF1[j + 1]!++;
  }
  for (let j = 0; j < n; j++) offsetsF1[j + 1]! += offsetsF1[j]!;
  const total = offsetsF1[n]!;
  const rowsE = new Int32Array(total);
  const valuesE = new Float32Array(total);
  const cursorF = offsetsF1.slice(0, n);
  const lastRowF = new Int32Array(n).fill(-1);
  for (let row = 0; row < count; row++) {
    for (let p = row * k; p < (row + 1) * k; p++) {
      const j = indices[p]!;
      if (lastRowF[j] === row) throw new SaerchError(`buildFeatureIndex: row ${row} lists latent ${j} twice`, "codes must come from a top-k encoder (distinct latents per row)");
      lastRowF[j] = row;
      const v = values[p]!;
      if (v > 0) {
        const e = cursorF[j]!++;
        rowsE[e] = row;
        valuesE[e] = v;
      }
    }
  }
  for (let j = 0; j < n; j++) sortSliceInPlace(rowsE, valuesE, offsetsF1[j]!, offsetsF1[j + 1]!);
  return { n, count, k, offsetsF1, rowsE, valuesE };
}

/** Whether `row`'s top-k holds `feature` (with any value, 0 included). */
function inTopK(indices: Int32Array, k: number, row: number, feature: number): boolean {
  const end = (row + 1) * k;
  for (let p = row * k; p < end; p++) if (indices[p] === feature) return true;
  return false;
}

/** "1 eligible … document" / "3 eligible … documents". */
function docs(m: number, what: string): string {
  return `${m} eligible ${what} document${m === 1 ? "" : "s"}`;
}

/**
 * Random zero-activating rows: rejection sampling of uniform rows without replacement (each row is tested
 * once), which needs about `needed / (fraction of candidates)` draws; if the draw budget runs out (few
 * candidates), an exact sample from the full candidate list of the same stream. Returns undefined when
 * fewer than `needed` candidates exist, with their count in `found.count`.
 */
function sampleZeroRows(
  rng: Rng,
  count: number,
  needed: number,
  isCandidate: (row: number) => boolean,
  found: { count: number },
): number[] | undefined {
  if (count === 0) return needed === 0 ? [] : undefined;
  const chosen: number[] = [];
  const tested = new Set<number>();
  const maxDraws = ZERO_DRAWS_PER_NEEDED * needed + ZERO_DRAWS_SLACK;
  for (let d = 0; d < maxDraws && chosen.length < needed && tested.size < count; d++) {
    const row = rng.int(count);
    if (tested.has(row)) continue;
    tested.add(row);
    if (isCandidate(row)) chosen.push(row);
  }
  if (chosen.length === needed) return chosen;
  const candidates: number[] = [];
  for (let row = 0; row < count; row++) if (isCandidate(row)) candidates.push(row);
  found.count = candidates.length;
  if (candidates.length < needed) return undefined;
  return Array.from(rng.sample(candidates.length, needed), (i) => candidates[i]!);
}

/**
 * Hard zero-activating rows: the `needed` candidates with the largest dot product with `meanD`, ties to
 * the lower row, best first. Returns fewer when fewer candidates exist. O(N·D).
 */
function nearestZeroRows(
  embeddingsND: Float32Array,
  dim: number,
  count: number,
  meanD: Float64Array,
  needed: number,
  isCandidate: (row: number) => boolean,
): number[] {
  const bestRows: number[] = [];
  const bestScores: number[] = [];
  for (let row = 0; row < count; row++) {
    if (!isCandidate(row)) continue;
    let score = 0;
    const base = row * dim;
    for (let i = 0; i < dim; i++) score += embeddingsND[base + i]! * meanD[i]!;
    if (bestRows.length === needed && !(score > bestScores[needed - 1]!)) continue;
    // Insert after every kept row scoring ≥ score (rows arrive ascending, so ties keep the lower row first).
    let at = bestRows.length;
    while (at > 0 && bestScores[at - 1]! < score) at--;
    bestRows.splice(at, 0, row);
    bestScores.splice(at, 0, score);
    if (bestRows.length > needed) {
      bestRows.pop();
      bestScores.pop();
    }
  }
  return bestRows;
}

/**
 * Choose one feature's shown and held-out examples (see the module header): `top` + `heldTop` eligible
 * activating rows in activation order, and `zero` + `heldZero` eligible rows whose top-k lacks the feature,
 * random or hard. Held-out rows are never among the shown ones. Deterministic for a given config.seed.
 * @param index from `buildFeatureIndex(codes, F)`
 * @param codes `[N, K]` the codes the index was built from
 * @param feature feature in [0, F)
 * @returns `{ ok: false, reason }` when there are too few eligible activating or zero-activating rows
 * @throws SaerchError on a feature out of range, an index of other codes, or "hard" without embeddings
 */
export function selectExamples(index: FeatureIndex, codes: SparseCodes, feature: number, opts: SelectExamplesOptions): ExampleSelection {
  const { config, eligible } = opts;
  const count = checkCodes(codes, "selectExamples");
  if (index.count !== count || index.k !== codes.k) {
    throw new SaerchError(`selectExamples: the index is of [${index.count}, ${index.k}] codes but the codes are [${count}, ${codes.k}]`, "build the index from these codes");
  }
  if (!Number.isInteger(feature) || feature < 0 || feature >= index.n) {
    throw new SaerchError(`selectExamples: feature ${feature} is outside [0, ${index.n})`);
  }

  // Top-activating rows: the index slice is already in activation order.
  const start = index.offsetsF1[feature]!;
  const end = index.offsetsF1[feature + 1]!;
  const neededTop = config.top + config.heldTop;
  const tops: RowActivation[] = [];
  for (let e = start; e < end && tops.length < neededTop; e++) {
    const row = index.rowsE[e]!;
    if (eligible(row)) tops.push({ row, activation: index.valuesE[e]! });
  }
  if (tops.length < neededTop) {
    return { ok: false, reason: `${docs(tops.length, "activating")}, ${neededTop} needed (active in ${end - start})` };
  }
  const top = tops.slice(0, config.top);
  const heldTop = tops.slice(config.top);

  // Zero-activating rows.
  const neededZero = config.zero + config.heldZero;
  const { indices, k } = codes;
  const isCandidate = (row: number): boolean => !inTopK(indices, k, row, feature) && eligible(row);
  let zeros: number[];
  if (config.negatives === "random") {
    const found = { count: 0 };
    const sampled = sampleZeroRows(new Rng(`${config.seed}:zero:${feature}`), count, neededZero, isCandidate, found);
    if (!sampled) return { ok: false, reason: `${docs(found.count, "zero-activating")}, ${neededZero} needed` };
    zeros = sampled;
  } else {
    const { embeddingsND, dim } = opts;
    if (!embeddingsND || dim === undefined) {
      throw new SaerchError('selectExamples: negatives "hard" needs embeddingsND and dim', 'pass the [N, D] embeddings in codes-row order, or use negatives "random"');
    }
    if (!Number.isInteger(dim) || dim < 1 || embeddingsND.length !== count * dim) {
      throw new SaerchError(`selectExamples: embeddingsND has ${embeddingsND.length} values, expected [N = ${count}, D = ${dim}]`, "pass the embeddings of the encoded rows, in codes-row order");
    }
    const meanD = new Float64Array(dim);
    for (const { row } of top) {
      for (let i = 0; i < dim; i++) meanD[i]! += embeddingsND[row * dim + i]! / top.length;
    }
    zeros = nearestZeroRows(embeddingsND, dim, count, meanD, neededZero, isCandidate);
    if (zeros.length < neededZero) return { ok: false, reason: `${docs(zeros.length, "zero-activating")}, ${neededZero} needed` };
    new Rng(`${config.seed}:hard:${feature}`).shuffleInPlace(zeros);
  }
  return { ok: true, top, zero: zeros.slice(0, config.zero), heldTop, heldZero: zeros.slice(config.zero) };
}
