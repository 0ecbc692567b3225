/**
 * The paper's SAE-training findings (METHOD.md §2), to put beside ours in notebook 02. Final NMSE per size
 * is in src/scaling/paper.ts (the scaling grid).
 */

/** Dead latents at the end of training: none in the astro SAE64, ≈ 11–12 % dead or near-dead in cs.LG SAE16/32. */
export const PAPER_DEAD_LATENTS = {
  astroSae64: 0,
  csLgSae16And32: [0.11, 0.12],
} as const;
