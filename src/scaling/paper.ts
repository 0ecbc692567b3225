/**
 * The paper's scaling numbers (METHOD.md §3 and §6, read off the authors' table and plots), to put beside
 * ours. NMSE for the astro SAEs at n = 3072 … 12288 (d = 1536); where only the end points are known, only
 * those are listed.
 */

/** Authors' final NMSE per k at the listed n (astro-ph, text-embedding-3-small, d = 1536). */
export const PAPER_ASTRO_NMSE: ReadonlyArray<{ k: number; n: number[]; nmse: number[] }> = [
  { k: 16, n: [3072, 4608, 6144, 9216, 12288], nmse: [0.23, 0.217, 0.211, 0.199, 0.194] },
  { k: 32, n: [3072, 12288], nmse: [0.175, 0.146] },
  { k: 64, n: [3072, 12288], nmse: [0.142, 0.115] },
  { k: 128, n: [3072, 12288], nmse: [0.111, 0.092] },
];

/** The range of power-law exponents α the paper reports across k. */
export const PAPER_ALPHA_RANGE: readonly [number, number] = [0.12, 0.18];

/** The range of compute-law exponents β (final NMSE = a·FLOPs^(−β) per k) the paper reports (METHOD.md §3). */
export const PAPER_COMPUTE_BETA_RANGE: readonly [number, number] = [0.11, 0.16];

/** Mean max decoder cosine between the paper's SAE16 (n 3072), SAE32 (n 6144) and SAE64 (n 9216), METHOD.md §6. */
export const PAPER_SPLITTING_COSINE: Readonly<Record<string, number>> = {
  "SAE16–SAE32": 0.77,
  "SAE16–SAE64": 0.7,
  "SAE32–SAE64": 0.59,
};
