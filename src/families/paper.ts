/**
 * The paper's feature-family numbers (METHOD.md §5), to put beside ours: the authors' released families of
 * the astro SAE64 (n 9216, k 64). That file came from an earlier variant of the method (0.6/0.6 label
 * thresholds, noise added to C, a no-op dedupe), so the comparison is in kind, not in value.
 */

/** The released astro SAE64 families. */
export const PAPER_ASTRO_SAE64_FAMILIES = {
  sae: "astro SAE64 (n 9216, k 64)",
  families: 610,
  childrenMin: 4,
  childrenMedian: 6.5,
  childrenMean: 14.8,
  childrenMax: 473,
  featuresInFamilies: 3301,
  featuresInSeveral: 2806,
} as const;
