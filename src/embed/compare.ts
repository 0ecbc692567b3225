/**
 * Notebook 01's "Compared with the paper" table (METHOD.md §1), computed from the run: corpus size, model and
 * width, norms, and the domain separation, beside the paper's corpus constants.
 */
import type { ComparisonRow } from "../tools/display.js";
import { PAPER_CORPUS } from "./paper.js";

/** What notebook 01 measured. */
export interface EmbedComparisonInput {
  /** Documents per domain label of the selection (a paper in both domains has its own label). */
  counts: Readonly<Record<string, number>>;
  embedderId: string;
  /** Embedding dimension D. */
  dim: number;
  /** Smallest and largest row norm. */
  normMin: number;
  normMax: number;
  /** Mean cosine of sampled pairs by kind ("within astro-ph", "between astro-ph / cs.LG", …). */
  cosineMeans: Readonly<Record<string, number>>;
  /** Fraction of the variance on the first principal component. */
  pc1VarianceFraction: number;
}

const NOT_REPORTED = "not reported";
const thousands = (x: number): string => `${(x / 1000).toFixed(1)}k`;
const int = (x: number): string => x.toLocaleString("en-US");

/** Rows of notebook 01's comparison table. */
export function embedPaperRows(ours: EmbedComparisonInput): ComparisonRow[] {
  const paperDomains = Object.entries(PAPER_CORPUS.abstracts);
  const paperTotal = paperDomains.reduce((a, [, c]) => a + c, 0);
  const ourTotal = Object.values(ours.counts).reduce((a, c) => a + c, 0);
  return [
    {
      quantity: "abstracts",
      paper: `≈ ${thousands(paperTotal)} (${paperDomains.map(([d, c]) => `${d} ${thousands(c)}`).join(", ")})`,
      ours: `${int(ourTotal)} (${Object.entries(ours.counts).map(([d, c]) => `${d} ${int(c)}`).join(", ")})`,
    },
    {
      quantity: "embedding model",
      paper: `${PAPER_CORPUS.model}, d = ${PAPER_CORPUS.dim}`,
      ours: `${ours.embedderId}, d = ${ours.dim}`,
    },
    {
      quantity: "paper ÷ ours",
      paper: "—",
      ours: `${(paperTotal / ourTotal).toFixed(1)}× the abstracts, ${(PAPER_CORPUS.dim / ours.dim).toFixed(1)}× the dimension`,
      note: "later stages size their dictionaries as multiples of d, as the paper does",
    },
    {
      quantity: "row norms",
      paper: PAPER_CORPUS.unitNorm ? "unit" : "not unit",
      ours: `${ours.normMin.toFixed(6)} … ${ours.normMax.toFixed(6)}`,
    },
    {
      quantity: "mean cosine of random pairs",
      paper: NOT_REPORTED,
      ours: Object.entries(ours.cosineMeans).map(([k, v]) => `${k} ${v.toFixed(3)}`).join("; "),
    },
    {
      quantity: "variance on the first principal component",
      paper: NOT_REPORTED,
      ours: `${(100 * ours.pc1VarianceFraction).toFixed(1)} %`,
    },
  ];
}
