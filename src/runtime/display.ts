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
