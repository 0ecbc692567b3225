/**
 * Feature splitting across SAE sizes (METHOD.md §6, the paper's §5 / Figure 3): compare the decoder
 * directions of a smaller and a larger SAE by cosine similarity, assign each large-SAE feature to its most
 * similar small-SAE feature (that small feature's "children"), and summarise the match in both directions.
 *
 * Only the decoders are used, so the same code serves same-k/different-n pairs (SAE n=1024 → n=2048) and
 * same-n/different-k pairs (SAE16 → SAE32, where the paper reports mean max cosines 0.77 / 0.70 / 0.59).
 * Cosines are signed: a decoder direction and its negation are different features under a ReLU code.
 */
import { SaerchError } from "../core/errors.js";
import { median } from "../core/stats.js";
import { type MaxCosine, maxCosinePerRow } from "../core/vector.js";
import type { SaeParams } from "../sae/params.js";
import { maxCosineBothWays } from "./cosine-onnx.js";

/** A small-SAE feature with at least this many children has split (METHOD.md §6). */
export const MIN_CHILDREN_FOR_SPLIT = 2;

/** Best decoder matches between two SAEs, in both directions. */
export interface FeatureMatch {
  /** Latents of the smaller SAE (S). */
  nSmall: number;
  /** Latents of the larger SAE (L). */
  nLarge: number;
  /** Shared input dimension D. */
  d: number;
  /** For each large feature `[L]`: index of its most similar small feature and that cosine. */
  largeToSmall: MaxCosine;
  /** For each small feature `[S]`: index of its most similar large feature and that cosine. */
  smallToLarge: MaxCosine;
}

/** One child of a small-SAE feature: a large-SAE feature whose best match it is. */
export interface FeatureChild {
  /** Index of the feature in the larger SAE. */
  index: number;
  /** Decoder cosine between the child and its parent. */
  cosine: number;
}

/** Headline numbers of a {@link FeatureMatch}. */
export interface SplittingSummary {
  /** Mean over large features of their max cosine to the small SAE. */
  meanMaxCosineLargeToSmall: number;
  /** Mean over small features of their max cosine to the large SAE. */
  meanMaxCosineSmallToLarge: number;
  /** Small features with ≥ {@link MIN_CHILDREN_FOR_SPLIT} children (features that split). */
  splitCount: number;
  /** Small features with no child (no large feature is closest to them). */
  childlessCount: number;
  /** Median number of children per small feature. */
  medianChildren: number;
  /** Largest number of children of one small feature. */
  maxChildren: number;
}

function decoderMatrix(p: SaeParams, which: string): { rows: number; cols: number; data: Float32Array } {
  if (!Number.isInteger(p.n) || p.n < 1 || !Number.isInteger(p.d) || p.d < 1 || p.wDecFD.length !== p.n * p.d) {
    throw new SaerchError(
      `matchFeatures: the ${which} SAE's decoder has ${p.wDecFD.length} values, not n·d = ${p.n}·${p.d}`,
      "pass SaeParams as loaded by src/sae/checkpoint.ts (wDecFD is [F, D], one row per latent)",
    );
  }
  return { rows: p.n, cols: p.d, data: p.wDecFD };
}

/**
 * Match the decoder rows of two SAEs both ways by cosine similarity. Inputs are not mutated.
 * Cost: two `[L, D]·[S, D]ᵀ` products done blockwise by {@link maxCosinePerRow}; ties go to the lowest index.
 * @param small the SAE whose features are the parents, decoder `wDecFD [S, D]`
 * @param large the SAE whose features are the children, decoder `wDecFD [L, D]` (L ≥ S is usual, not required)
 * @throws SaerchError when the two decoders have different D
 */
export function matchFeatures(small: SaeParams, large: SaeParams): FeatureMatch {
  const smallSD = decoderMatrix(small, "small");
  const largeLD = decoderMatrix(large, "large");
  if (small.d !== large.d) {
    throw new SaerchError(
      `matchFeatures: the small SAE has d = ${small.d} and the large SAE d = ${large.d}; decoders can only be compared in the same space`,
      "compare SAEs trained on the same embeddings (same embedding model and dimension)",
    );
  }
  return {
    nSmall: small.n,
    nLarge: large.n,
    d: small.d,
    largeToSmall: maxCosinePerRow(largeLD, smallSD),
    smallToLarge: maxCosinePerRow(smallSD, largeLD),
  };
}

/**
 * Children of every small-SAE feature: the large-SAE features whose best match it is, most similar first
 * (ties by lower index).
 * @param largeToSmall best small match of each large feature `[L]` ({@link FeatureMatch.largeToSmall})
 * @param nSmall number of small-SAE features S
 * @returns `[S]` lists of children
 */
export function childrenOf(largeToSmall: MaxCosine, nSmall: number): FeatureChild[][] {
  if (!Number.isInteger(nSmall) || nSmall < 0) {
    throw new SaerchError(`childrenOf: nSmall must be a non-negative integer, got ${nSmall}`);
  }
  const { indexN, valueN } = largeToSmall;
  if (indexN.length !== valueN.length) {
    throw new SaerchError(`childrenOf: ${indexN.length} indices but ${valueN.length} cosines; pass one MaxCosine as returned`);
  }
  const children: FeatureChild[][] = Array.from({ length: nSmall }, () => []);
  for (let j = 0; j < indexN.length; j++) {
    const parent = indexN[j]!;
    if (parent < 0 || parent >= nSmall) {
      throw new SaerchError(
        `childrenOf: large feature ${j} points at small feature ${parent}, outside [0, ${nSmall})`,
        "pass match.largeToSmall with nSmall = match.nSmall",
      );
    }
    children[parent]!.push({ index: j, cosine: valueN[j]! });
  }
  for (const list of children) list.sort((a, b) => b.cosine - a.cosine || a.index - b.index);
  return children;
}

function meanOf(x: Float32Array): number {
  let acc = 0;
  for (let i = 0; i < x.length; i++) acc += x[i]!;
  return x.length > 0 ? acc / x.length : Number.NaN;
}

/** Mean max cosine both ways and how the large features distribute over small parents. */
export function splittingSummary(match: FeatureMatch): SplittingSummary {
  const counts = childrenOf(match.largeToSmall, match.nSmall).map((c) => c.length);
  return {
    meanMaxCosineLargeToSmall: meanOf(match.largeToSmall.valueN),
    meanMaxCosineSmallToLarge: meanOf(match.smallToLarge.valueN),
    splitCount: counts.filter((c) => c >= MIN_CHILDREN_FOR_SPLIT).length,
    childlessCount: counts.filter((c) => c === 0).length,
    medianChildren: counts.length > 0 ? median(counts) : Number.NaN,
    maxChildren: counts.reduce((a, b) => Math.max(a, b), 0),
  };
}

/**
 * {@link matchFeatures} on onnxruntime: both directions from one decoder product (seconds for thousands of
 * latents). Same result as the plain-JS version up to float rounding of the cosines.
 */
export async function matchFeaturesFast(small: SaeParams, large: SaeParams): Promise<FeatureMatch> {
  const smallSD = decoderMatrix(small, "small");
  const largeLD = decoderMatrix(large, "large");
  if (small.d !== large.d) {
    throw new SaerchError(`matchFeaturesFast: the small SAE has d = ${small.d} and the large SAE d = ${large.d}`);
  }
  const { aToB, bToA } = await maxCosineBothWays(smallSD.data, largeLD.data, small.d);
  return { nSmall: small.n, nLarge: large.n, d: small.d, largeToSmall: bToA, smallToLarge: aToB };
}
