/**
 * Selecting documents (../shared/paper/METHOD.md §1): category and date filters, dedupe by id, domain
 * membership and a deterministic stratified sample. The paper's corpora are arXiv astro-ph (any astro-ph.*)
 * and cs.LG; categories are matched with "contains", never "first category equals".
 *
 * Category prefixes match whole dot-separated parts: "astro-ph" matches "astro-ph" and "astro-ph.GA", "cs"
 * matches every "cs.*", "cs.LG" matches only "cs.LG"; "cs.L" matches nothing.
 *
 * A document in two or more domains (an astro-ph paper cross-listed in cs.LG) is handled by the sample's
 * `overlap` policy: "exclude" (default: drop it, so every label is unambiguous), "first" (the first domain
 * listed), or "separate" (its own stratum, `overlapLabel`, "both" as in the shared embeddings' domains.json).
 */
import { Rng } from "../core/rng.js";
import { SaerchError } from "../core/errors.js";
import { CorpusConfig, CorpusFilter, parseCorpusConfig, CorpusSampleConfig } from "./config.js";
import { docText, type Doc } from "./document.js";
import { streamDocs, emptyLoadReport, type LoadReport } from "./load.js";
import type { z } from "zod";

/** True when `category` equals `prefix` or starts with `prefix + "."`. */
export function categoryHasPrefix(category: string, prefix: string): boolean {
  return category === prefix || (category.length > prefix.length && category.startsWith(prefix) && category[prefix.length] === ".");
}

/**
 * True when the document carries any of `wanted` (exact, or by dotted prefix with `match: "prefix"`).
 * @param doc the document
 * @param wanted categories or prefixes; an empty list matches nothing
 * @param match "prefix" (default) or "exact"
 */
export function hasAnyCategory(doc: Pick<Doc, "categories">, wanted: readonly string[], match: "prefix" | "exact" = "prefix"): boolean {
  for (const c of doc.categories) {
    for (const w of wanted) {
      if (match === "exact" ? c === w : categoryHasPrefix(c, w)) return true;
    }
  }
  return false;
}

/** True when the document's date lies in [from, to] (inclusive; either end optional; undated fails a set range). */
export function inDateRange(doc: Pick<Doc, "date">, from?: string, to?: string): boolean {
  if (from === undefined && to === undefined) return true;
  if (doc.date === undefined) return false;
  return (from === undefined || doc.date >= from) && (to === undefined || doc.date <= to);
}

/**
 * A predicate for a `CorpusFilter` (validated here; unset fields take the schema defaults: keep everything).
 * @param filter categories (any of), categoryMatch, from/to (inclusive)
 */
export function docFilter(filter: z.input<typeof CorpusFilter> = {}): (doc: Doc) => boolean {
  const f = parseCorpusConfig(CorpusFilter, filter, "corpus filter");
  const cats = f.categories;
  return (doc) =>
    (cats.length === 0 || hasAnyCategory(doc, cats, f.categoryMatch)) && inDateRange(doc, f.from, f.to);
}

/** The documents that pass `filter`, in input order. */
export function filterDocs(docs: readonly Doc[], filter: z.input<typeof CorpusFilter> = {}): Doc[] {
  return docs.filter(docFilter(filter));
}

/** Stream the documents of `source` that pass `filter` (for the streaming loader). */
export async function* filterStream(
  source: AsyncIterable<Doc> | Iterable<Doc>,
  filter: z.input<typeof CorpusFilter> = {},
): AsyncGenerator<Doc> {
  const keep = docFilter(filter);
  for await (const doc of source) if (keep(doc)) yield doc;
}

/**
 * Drop documents whose id was already seen; the first one wins.
 * @returns the unique documents in input order and how many duplicates were dropped
 */
export function dedupeById(docs: readonly Doc[]): { docs: Doc[]; duplicates: number } {
  const seen = new Set<string>();
  const out: Doc[] = [];
  for (const d of docs) {
    if (seen.has(d.id)) continue;
    seen.add(d.id);
    out.push(d);
  }
  return { docs: out, duplicates: docs.length - out.length };
}

/** The texts to embed, `[N]`: `docText(doc)` = title + "\n\n" + abstract, as in the paper. */
export function docTexts(docs: readonly Doc[]): string[] {
  return docs.map(docText);
}

/**
 * The domains a document belongs to, in the order `domains` lists them (prefix match on its categories).
 * @param domains domain name → category prefixes
 */
export function domainsOf(doc: Pick<Doc, "categories">, domains: Readonly<Record<string, readonly string[]>>): string[] {
  const out: string[] = [];
  for (const [name, prefixes] of Object.entries(domains)) if (hasAnyCategory(doc, prefixes, "prefix")) out.push(name);
  return out;
}

/**
 * The one stratum a document is sampled in under an overlap policy, or undefined (in no domain, or excluded).
 * @param doc the document
 * @param cfg domains, overlap, overlapLabel
 */
export function stratumOf(
  doc: Pick<Doc, "categories">,
  cfg: Pick<CorpusSampleConfig, "domains" | "overlap" | "overlapLabel">,
): string | undefined {
  const names = domainsOf(doc, cfg.domains);
  if (names.length <= 1) return names[0];
  if (cfg.overlap === "first") return names[0];
  if (cfg.overlap === "separate") return cfg.overlapLabel;
  return undefined;
}

/** A stratified sample: documents, the stratum of each, and per-stratum sizes. */
export interface StratifiedSample {
  /** Sampled documents `[M]`, grouped by stratum (domains in listed order, then the overlap stratum), id-sorted within. */
  docs: Doc[];
  /** Stratum name of each document `[M]`. */
  labels: string[];
  /** Documents drawn per stratum (= min(perDomain, available)). */
  counts: Record<string, number>;
  /** Documents available per stratum before sampling. */
  available: Record<string, number>;
}

/**
 * Draw up to `perDomain` documents per domain, deterministically: each stratum's members are sorted by id,
 * then `new Rng(seed).fork(stratumName).sample(size, k)` picks k of them. The sample therefore depends only on
 * the seed and the set of documents, not on their input order, and adding a domain leaves the others' samples
 * unchanged. A stratum with fewer than `perDomain` members gives all of them.
 * @param docs candidate documents (dedupe first: a repeated id can be drawn twice)
 * @param config domains, perDomain, seed, overlap policy (see the module header)
 */
export function stratifiedSample(docs: readonly Doc[], config: z.input<typeof CorpusSampleConfig> = {}): StratifiedSample {
  const cfg = parseCorpusConfig(CorpusSampleConfig, config, "sample config");
  const names = Object.keys(cfg.domains);
  if (cfg.overlap === "separate" && names.includes(cfg.overlapLabel)) {
    throw new SaerchError(
      `overlapLabel "${cfg.overlapLabel}" is also a domain name`,
      "choose another overlapLabel or rename the domain",
    );
  }
  const strata = cfg.overlap === "separate" ? [...names, cfg.overlapLabel] : names;
  const members = new Map<string, Doc[]>(strata.map((s) => [s, []]));
  for (const doc of docs) {
    const s = stratumOf(doc, cfg);
    if (s !== undefined) members.get(s)!.push(doc);
  }
  const root = new Rng(cfg.seed);
  const out: StratifiedSample = { docs: [], labels: [], counts: {}, available: {} };
  for (const name of strata) {
    const pool = members.get(name)!.slice().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const k = Math.min(cfg.perDomain, pool.length);
    const picksK = root.fork(name).sample(pool.length, k).sort();
    for (const i of picksK) {
      out.docs.push(pool[i]!);
      out.labels.push(name);
    }
    out.counts[name] = k;
    out.available[name] = pool.length;
  }
  return out;
}

/**
 * A uniform sample of `n` documents (all when there are fewer), seeded, in input order.
 * @param docs candidates
 * @param n how many
 * @param seed RNG seed
 */
export function sampleDocs(docs: readonly Doc[], n: number, seed: number | string): Doc[] {
  const k = Math.min(n, docs.length);
  return Array.from(new Rng(seed).sample(docs.length, k).sort(), (i) => docs[i]!);
}

/** The corpus stage's output: the sampled documents, their strata and what happened on the way. */
export interface CorpusSelection extends StratifiedSample {
  /** Load report of the source file. */
  report: LoadReport;
  /** Documents that passed the filter (before sampling). */
  filtered: number;
  /** The validated config, defaults filled in (save it beside any artefact built from the selection). */
  config: CorpusConfig;
}

/**
 * The whole corpus stage in one call: stream the source (dedupe, short/empty abstracts dropped), keep what
 * passes the filter, then draw the stratified sample.
 * @param config source, filter and sample sections (every field optional; defaults: the shared corpus, no
 *   filter, 1000 per paper domain with overlap excluded)
 */
export async function selectCorpus(config: z.input<typeof CorpusConfig> = {}): Promise<CorpusSelection> {
  const cfg = parseCorpusConfig(CorpusConfig, config, "corpus config");
  const report = emptyLoadReport();
  const kept: Doc[] = [];
  for await (const doc of filterStream(streamDocs({ ...cfg.source, report }), cfg.filter)) kept.push(doc);
  return { ...stratifiedSample(kept, cfg.sample), report, filtered: kept.length, config: cfg };
}
