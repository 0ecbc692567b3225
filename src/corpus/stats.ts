/**
 * Corpus statistics (../shared/paper/METHOD.md §1): document count, per-category and per-domain counts,
 * abstract lengths in characters (code points) and the date range. Built by an accumulator so a streamed
 * corpus never has to sit in memory; the lengths array `[N]` is ready for `histogram()` from core/stats.
 */
import { median } from "../core/stats.js";
import { PAPER_DOMAINS } from "./config.js";
import type { Doc } from "./document.js";
import { charLength } from "./load.js";
import { domainsOf } from "./select.js";

/** Abstract length summary, in characters. */
export interface LengthSummary {
  min: number;
  mean: number;
  median: number;
  max: number;
}

/** Statistics of a set of documents. */
export interface CorpusStats {
  /** Number of documents N. */
  count: number;
  /** Documents per category (a document counts once per category it carries), largest first. */
  categoryCounts: Record<string, number>;
  /** Documents per domain (prefix match; a cross-listed document counts in each of its domains). */
  domainCounts: Record<string, number>;
  /** Documents in two or more domains (e.g. astro-ph ∩ cs.LG). */
  multiDomain: number;
  /** Abstract length summary (undefined when N = 0). */
  abstractChars: LengthSummary | undefined;
  /** Abstract length of every document, `[N]`, in input order: pass to `histogram()`. */
  abstractLengthsN: Int32Array;
  /** Earliest and latest date (undefined when no document has one). */
  dateRange: { from: string; to: string } | undefined;
  /** Documents without a date. */
  undated: number;
}

/** Sort a count table by count (descending), then name. */
function sortCounts(counts: Map<string, number>): Record<string, number> {
  const entries = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return Object.fromEntries(entries);
}

/** Accumulates {@link CorpusStats} one document at a time. */
export class CorpusStatsAccumulator {
  private readonly domains: Readonly<Record<string, readonly string[]>>;
  private readonly categories = new Map<string, number>();
  private readonly domainCounts: Map<string, number>;
  private lengths: Int32Array = new Int32Array(1024);
  private count = 0;
  private multiDomain = 0;
  private undated = 0;
  private from: string | undefined;
  private to: string | undefined;

  /** @param domains domain name → category prefixes (default: the paper's astro-ph and cs.LG) */
  constructor(domains: Readonly<Record<string, readonly string[]>> = PAPER_DOMAINS) {
    this.domains = domains;
    this.domainCounts = new Map(Object.keys(domains).map((d) => [d, 0]));
  }

  /** Add one document. */
  add(doc: Doc): void {
    if (this.count === this.lengths.length) {
      const grown = new Int32Array(this.lengths.length * 2);
      grown.set(this.lengths);
      this.lengths = grown;
    }
    this.lengths[this.count++] = charLength(doc.abstract);
    for (const c of doc.categories) this.categories.set(c, (this.categories.get(c) ?? 0) + 1);
    const ds = domainsOf(doc, this.domains);
    for (const d of ds) this.domainCounts.set(d, this.domainCounts.get(d)! + 1);
    if (ds.length > 1) this.multiDomain++;
    if (doc.date === undefined) this.undated++;
    else {
      if (this.from === undefined || doc.date < this.from) this.from = doc.date;
      if (this.to === undefined || doc.date > this.to) this.to = doc.date;
    }
  }

  /** The statistics of everything added so far. */
  result(): CorpusStats {
    const lengthsN = this.lengths.slice(0, this.count);
    let summary: LengthSummary | undefined;
    if (this.count > 0) {
      let min = Number.POSITIVE_INFINITY;
      let max = 0;
      let sum = 0;
      for (const v of lengthsN) {
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
      }
      summary = { min, mean: sum / this.count, median: median(lengthsN), max };
    }
    return {
      count: this.count,
      categoryCounts: sortCounts(this.categories),
      domainCounts: Object.fromEntries(this.domainCounts),
      multiDomain: this.multiDomain,
      abstractChars: summary,
      abstractLengthsN: lengthsN,
      dateRange: this.from !== undefined && this.to !== undefined ? { from: this.from, to: this.to } : undefined,
      undated: this.undated,
    };
  }
}

/**
 * Statistics of documents held in memory (synchronous).
 * @param docs documents
 * @param domains domain name → category prefixes (default: astro-ph and cs.LG)
 */
export function corpusStatsOf(
  docs: Iterable<Doc>,
  domains: Readonly<Record<string, readonly string[]>> = PAPER_DOMAINS,
): CorpusStats {
  const acc = new CorpusStatsAccumulator(domains);
  for (const d of docs) acc.add(d);
  return acc.result();
}

/**
 * Statistics of documents held in memory or streamed.
 * @param docs documents (array, iterable or async iterable such as `streamDocs()`)
 * @param domains domain name → category prefixes (default: astro-ph and cs.LG)
 */
export async function corpusStats(
  docs: Iterable<Doc> | AsyncIterable<Doc>,
  domains: Readonly<Record<string, readonly string[]>> = PAPER_DOMAINS,
): Promise<CorpusStats> {
  const acc = new CorpusStatsAccumulator(domains);
  for await (const d of docs) acc.add(d);
  return acc.result();
}
