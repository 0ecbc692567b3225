/**
 * The paper's interpretability numbers (METHOD.md §4), to put beside ours: mean Pearson between predicted
 * and true activation with GPT-4o as Interpreter and GPT-4o-mini as Predictor, per SAE size.
 */

/** One of the paper's SAE sizes and its mean Pearson per domain. */
export interface PaperInterpretScore {
  /** The paper's name for the SAE. */
  sae: string;
  /** Active latents k. */
  k: number;
  /** Dictionary size n (d = 1536). */
  n: number;
  /** Mean Pearson per domain. */
  meanPearson: { "astro-ph": number; "cs.LG": number };
}

/** Mean Pearson of the paper's SAE16 / SAE32 / SAE64 (METHOD.md §4). */
export const PAPER_MEAN_PEARSON: readonly PaperInterpretScore[] = [
  { sae: "SAE16", k: 16, n: 3072, meanPearson: { "astro-ph": 0.74, "cs.LG": 0.56 } },
  { sae: "SAE32", k: 32, n: 6144, meanPearson: { "astro-ph": 0.67, "cs.LG": 0.52 } },
  { sae: "SAE64", k: 64, n: 9216, meanPearson: { "astro-ph": 0.67, "cs.LG": 0.48 } },
];

/** GPT-4o in both roles on a sample of features (METHOD.md §4). */
export const PAPER_GPT4O_BOTH_ROLES = { pearson: 0.59, f1: 0.74 } as const;
