/**
 * The paper's corpus and embedding model (METHOD.md §1), to put beside ours in notebook 01.
 */

/** The paper's two corpora and their embedding model. */
export const PAPER_CORPUS = {
  /** Abstracts per corpus (≈, as reported). */
  abstracts: { "astro-ph": 271_500, "cs.LG": 153_100 },
  model: "text-embedding-3-small",
  /** Embedding dimension d. */
  dim: 1536,
  /** The vectors come unit-norm and are used as they are. */
  unitNorm: true,
} as const;
