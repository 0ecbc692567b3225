/**
 * Tables for notebooks and reports: plain rows → an HTML table through arquero, which also carries the
 * stage result tables (CSV/JSON) of later stages.
 */
import * as aq from "arquero";

/**
 * HTML for a table of plain objects (one column per key of the first row).
 * @param rows records with the same keys
 * @param opts.limit rows shown (default all)
 */
export function htmlTable(rows: ReadonlyArray<object>, opts: { limit?: number } = {}): string {
  return aq.from(rows as Array<Record<string, unknown>>).toHTML({ limit: opts.limit ?? rows.length });
}

/** One line of a paper-versus-ours table: what is compared, the paper's value, ours, and an optional note. */
export interface ComparisonRow {
  /** What is compared, e.g. "α, k = 16". */
  quantity: string;
  /** The paper's value (from a constant in `src/<stage>/paper.ts`), or "not reported". */
  paper: string | number;
  /** Ours, computed from this run's results. */
  ours: string | number;
  /** Why the two differ, or how ours was measured. */
  note?: string;
}

/** Column headings of a comparison table. */
export interface ComparisonHeadings {
  /** Default "paper". */
  paper?: string;
  /** Default "ours". */
  ours?: string;
}

/**
 * HTML for a paper-versus-ours table, so a notebook's "Compared with the paper" section is computed from the
 * run instead of copied into markdown (a rerun cannot leave it stale). The note column appears when any row
 * has a note.
 * @param rows one per compared quantity, in display order
 */
export function comparisonTable(rows: readonly ComparisonRow[], headings: ComparisonHeadings = {}): string {
  const paper = headings.paper ?? "paper";
  const ours = headings.ours ?? "ours";
  const withNote = rows.some((r) => r.note !== undefined && r.note !== "");
  return htmlTable(
    rows.map((r) => ({ quantity: r.quantity, [paper]: r.paper, [ours]: r.ours, ...(withNote ? { note: r.note ?? "" } : {}) })),
  );
}
