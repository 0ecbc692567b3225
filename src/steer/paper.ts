/**
 * The paper's steering numbers (METHOD.md §7, read off the authors' figure, ≈): up/down accuracy of the
 * decoder-direction intervention at three values of cos(q, q'), the LLM-rewrite baseline, and chance.
 */

/** One reported point. */
export interface PaperSteerPoint {
  method: "intervention" | "LLM rewrite";
  cos: number;
  up: number;
  down: number;
}

/** The paper's points (astronomy, 50 real queries, GPT judge). */
export const PAPER_STEERING: readonly PaperSteerPoint[] = [
  { method: "intervention", cos: 0.05, up: 0.9, down: 0.56 },
  { method: "intervention", cos: 0.7, up: 0.78, down: 0.52 },
  { method: "intervention", cos: 0.9, up: 0.42, down: 0.38 },
  { method: "LLM rewrite", cos: 0.72, up: 0.58, down: 0.4 },
];

/** Chance accuracy with five candidates. */
export const PAPER_STEERING_CHANCE = 0.2;
