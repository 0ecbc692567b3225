/**
 * Configuration of the corpus stage (../shared/paper/METHOD.md §1): where the abstracts come from and how
 * their fields are named, which records count as usable, the category/date filters, the per-domain sample,
 * and the arXiv API harvester. One zod schema per concern; every default lives in the schema and every
 * field says why it has it.
 */
import { join } from "node:path";
import { z } from "zod";
import { SaerchError } from "../core/errors.js";
import { dataDir, sharedDir } from "../io/paths.js";

/** The shared corpus file, relative to the shared folder (see `sharedDir()`; override with SAERCH_SHARED). */
export const SHARED_CORPUS_FILE = "corpus/arxiv-cs-astro-2025.jsonl.gz";

/**
 * Shortest abstract (in characters) kept by default. The paper's interpretation step only shows documents
 * longer than 100 characters to the interpreter (METHOD.md §4), and anything shorter is a stub ("This paper
 * has been withdrawn", "See the attached PDF") whose embedding carries no topic.
 */
export const MIN_ABSTRACT_CHARS = 100;

/** The paper's two domains as category prefixes: any astro-ph.* paper, and cs.LG (METHOD.md §1). */
export const PAPER_DOMAINS: Record<string, string[]> = { "astro-ph": ["astro-ph"], "cs.LG": ["cs.LG"] };

/** arXiv's public query endpoint (Atom feed), https://info.arxiv.org/help/api/user-manual.html. */
export const ARXIV_API_URL = "https://export.arxiv.org/api/query";

/** arXiv's terms of use ask for no more than one request every 3 seconds. */
export const ARXIV_POLITE_DELAY_MS = 3000;

/** The default corpus path: `<shared>/corpus/arxiv-cs-astro-2025.jsonl.gz`. */
export function defaultCorpusPath(): string {
  return join(sharedDir(), SHARED_CORPUS_FILE);
}

/**
 * Validate `value` against `schema` (filling defaults); a failure becomes one SaerchError listing every bad
 * field, instead of a raw ZodError.
 * @param schema one of this module's schemas
 * @param value user input
 * @param what what is being configured, for the message ("corpus source options")
 */
export function parseCorpusConfig<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new SaerchError(`invalid ${what}:\n${z.prettifyError(r.error)}`, "fix the fields listed (each is described in src/corpus/config.ts)");
  }
  return r.data;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A calendar day written YYYY-MM-DD (the form the shared corpus and the filters use). */
export const IsoDate = z
  .string()
  .regex(ISO_DATE, "expected a date written YYYY-MM-DD")
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)), "not a valid calendar date")
  .describe("a calendar day, YYYY-MM-DD; string order equals date order");

/** Which source field holds each Doc field. */
export const FieldMapping = z.object({
  id: z.string().min(1).default("id").describe("field with the unique document id (an arXiv id in the shared corpus)"),
  title: z.string().min(1).default("title").describe("field with the title (whitespace is normalised on load)"),
  abstract: z
    .string()
    .min(1)
    .default("abstract")
    .describe("field with the abstract (whitespace is normalised on load)"),
  categories: z
    .string()
    .min(1)
    .default("categories")
    .describe("field with the arXiv categories: an array, or a space/comma-separated string as CSV files hold them"),
  date: z
    .string()
    .default("listing_date")
    .describe(
      "optional date field (YYYY-MM-DD, or an ISO timestamp whose day is kept); the shared corpus calls it " +
        "listing_date, the arXiv harvester writes published; empty string = no date",
    ),
});
/** Which source field holds each Doc field. */
export type FieldMapping = z.infer<typeof FieldMapping>;

/** Where the documents come from and which records are usable. */
export const CorpusSource = z.object({
  path: z
    .string()
    .min(1)
    .default(defaultCorpusPath)
    .describe("corpus file; defaults to the shared corpus under sharedDir() (SAERCH_SHARED overrides), never copied into the repo"),
  format: z
    .enum(["auto", "jsonl", "csv", "parquet"])
    .default("auto")
    .describe("file format; auto picks it from the extension (.jsonl/.ndjson[.gz], .csv[.gz], .parquet)"),
  fields: FieldMapping.prefault({}).describe("source field names; the defaults match the shared corpus"),
  minAbstractChars: z
    .number()
    .int()
    .min(0)
    .default(MIN_ABSTRACT_CHARS)
    .describe(
      "abstracts shorter than this (characters, after whitespace normalisation) are dropped and counted as short: " +
        "the paper only interprets texts over 100 characters (METHOD.md §4) and shorter ones are stubs",
    ),
  onError: z
    .enum(["throw", "skip"])
    .default("throw")
    .describe(
      "a malformed record (bad JSON/CSV, missing or mistyped required field) throws a FormatError naming file, " +
        "line and field by default; skip drops it and counts it in the load report",
    ),
  dedupe: z
    .boolean()
    .default(true)
    .describe("drop records whose id was already kept (first kept wins) and count them as duplicates"),
});
/** Where the documents come from and which records are usable. */
export type CorpusSource = z.infer<typeof CorpusSource>;

/** Category and date filters. */
export const CorpusFilter = z
  .object({
    categories: z
      .array(z.string().min(1))
      .default([])
      .describe("keep documents carrying any of these categories; empty keeps all"),
    categoryMatch: z
      .enum(["prefix", "exact"])
      .default("prefix")
      .describe(
        'prefix: "astro-ph" also matches "astro-ph.GA" (whole dot-separated parts, so "cs.L" matches nothing); ' +
          "exact: the category string must be equal",
      ),
    from: IsoDate.optional().describe("keep documents dated on or after this day (inclusive); undated documents are dropped"),
    to: IsoDate.optional().describe("keep documents dated on or before this day (inclusive); undated documents are dropped"),
  })
  .refine((f) => f.from === undefined || f.to === undefined || f.from <= f.to, {
    message: "from must not be after to",
  });
/** Category and date filters. */
export type CorpusFilter = z.infer<typeof CorpusFilter>;

/** A deterministic per-domain (stratified) sample. */
export const CorpusSampleConfig = z.object({
  domains: z
    .record(z.string().min(1), z.array(z.string().min(1)).min(1))
    .default(PAPER_DOMAINS)
    .describe("domain name → category prefixes (prefix match); the paper's two corpora are astro-ph and cs.LG"),
  perDomain: z
    .number()
    .int()
    .min(0)
    .default(1000)
    .describe("documents drawn per domain (a domain with fewer gives all it has); notebooks pick it per PROFILE"),
  seed: z
    .union([z.number().int(), z.string()])
    .default(0)
    .describe("RNG seed: the same seed and the same documents give the same sample, whatever their input order"),
  overlap: z
    .enum(["exclude", "first", "separate"])
    .default("exclude")
    .describe(
      "a document in two or more domains (195 astro-ph ∩ cs.LG papers in the shared corpus): exclude drops it so " +
        "every domain label is unambiguous; first gives it to the first domain listed; separate puts it in its " +
        "own stratum named overlapLabel (as the shared embeddings' domains.json does)",
    ),
  overlapLabel: z
    .string()
    .min(1)
    .default("both")
    .describe('name of the overlap stratum when overlap = "separate"; "both" as in the shared embeddings'),
});
/** A deterministic per-domain (stratified) sample. */
export type CorpusSampleConfig = z.infer<typeof CorpusSampleConfig>;

/** The whole corpus stage: source, filters, sample. */
export const CorpusConfig = z.object({
  source: CorpusSource.prefault({}).describe("where the abstracts come from"),
  filter: CorpusFilter.prefault({}).describe("which abstracts to keep"),
  sample: CorpusSampleConfig.prefault({}).describe("how many per domain to draw"),
});
/** The whole corpus stage: source, filters, sample. */
export type CorpusConfig = z.infer<typeof CorpusConfig>;

/** The arXiv API harvester (`npm run corpus:arxiv`). */
export const ArxivHarvestConfig = z
  .object({
    baseUrl: z
      .url()
      .default(ARXIV_API_URL)
      .describe("query endpoint; tests point it at a local server on 127.0.0.1"),
    category: z
      .string()
      .regex(/^[a-z][a-z-]*(\.[A-Za-z][A-Za-z-]*)?$/, 'expected an arXiv category such as "cs.LG" or "astro-ph.GA"')
      .describe("arXiv category to harvest (search_query cat:…)"),
    from: IsoDate.describe("first submission day, inclusive (submittedDate from 00:00)"),
    to: IsoDate.describe("last submission day, inclusive (submittedDate to 23:59)"),
    max: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe("stop once the output holds this many records (counted across resumed runs)"),
    pageSize: z
      .number()
      .int()
      .min(1)
      .max(2000)
      .default(100)
      .describe("max_results per request; arXiv allows up to 2000 but answers small pages faster and more reliably"),
    delayMs: z
      .number()
      .int()
      .min(0)
      .default(ARXIV_POLITE_DELAY_MS)
      .describe("minimum pause between requests; arXiv's terms ask for 3 s"),
    maxRetries: z
      .number()
      .int()
      .min(0)
      .default(5)
      .describe("retries per page on HTTP 408/409/429/5xx, network errors and timeouts (src/net/retry.ts) before giving up"),
    backoffMs: z
      .number()
      .int()
      .min(0)
      .default(ARXIV_POLITE_DELAY_MS)
      .describe("first retry wait, doubled per retry with jitter (capped by maxBackoffMs) unless the server sends Retry-After"),
    maxBackoffMs: z
      .number()
      .int()
      .min(0)
      .default(120_000)
      .describe("longest wait between retries, Retry-After included, so a bad header cannot stall the run for hours"),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .default(60_000)
      .describe("per-request timeout; arXiv can take tens of seconds on large pages"),
    emptyPageRetries: z
      .number()
      .int()
      .min(0)
      .default(3)
      .describe("arXiv sometimes answers an empty page before the end of the results; re-ask this many times"),
    maxPages: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("stop after this many pages in this run (a rerun resumes); unset = run to the end"),
    out: z
      .string()
      .min(1)
      .optional()
      .describe("output .jsonl (plain, append-only, crash-safe); default data/corpus/arxiv-<category>-<from>-<to>.jsonl"),
  })
  .refine((c) => c.from <= c.to, { message: "from must not be after to", path: ["to"] })
  .refine((c) => c.out === undefined || !c.out.endsWith(".gz"), {
    message:
      "the harvester writes plain .jsonl (an append-only log survives a crash; a gzip stream does not); " +
      "name the output .jsonl and gzip it afterwards if wanted — the loader reads both",
    path: ["out"],
  });
/** The arXiv API harvester (`npm run corpus:arxiv`). */
export type ArxivHarvestConfig = z.infer<typeof ArxivHarvestConfig>;

/** Default harvester output: `<data>/corpus/arxiv-<category>-<from>-<to>.jsonl`. */
export function defaultArxivOutPath(c: Pick<ArxivHarvestConfig, "category" | "from" | "to">): string {
  return join(dataDir(), "corpus", `arxiv-${c.category}-${c.from}-${c.to}.jsonl`);
}
