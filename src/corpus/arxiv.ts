/**
 * arXiv harvester (../shared/paper/METHOD.md §1: the paper's corpora are arXiv astro-ph and cs.LG abstracts).
 * Pages through arXiv's public query API (an Atom feed) for one category and submission-date range, politely
 * (one request per `delayMs`, 3 s by default as arXiv's terms ask), retrying 408/409/429/5xx, network errors
 * and timeouts by the shared policy of src/net/retry.ts (exponential backoff with jitter, or the server's
 * Retry-After).
 *
 * Resume: every new paper is appended to the output as one complete JSON line through a crash-safe
 * append-only log (JsonlAppender); after each page a small state file `<out>.state.json` (the query, the next
 * `start` offset) is replaced atomically. A rerun reads both, continues at `start`, and skips ids already in
 * the output, so a crash between the append and the state write repeats one request but never an id.
 *
 * The output is plain `.jsonl` (a gzip stream cannot be appended to crash-safely); `loadDocs` reads it with
 * `fields: ARXIV_FIELDS`. Ids drop their version suffix (2401.01234v2 → 2401.01234), so a paper has one id
 * across revisions, as in the shared corpus.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import { describeError, FormatError, SaerchError } from "../core/errors.js";
import { writeJsonAtomic } from "../io/atomic.js";
import { JsonlAppender, readJsonlLog } from "../io/jsonl.js";
import {
  ApiRequestError,
  apiRetryAfterMs,
  isRetryableApiError,
  isRetryableStatus,
  parseRetryAfter,
  RetriesExhaustedError,
  withRetries,
} from "../net/retry.js";
import { ArxivHarvestConfig, defaultArxivOutPath, FieldMapping, parseCorpusConfig } from "./config.js";
import { normalizeWhitespace } from "./load.js";

/** One paper of an arXiv Atom feed. */
export interface ArxivEntry {
  /** arXiv id without version suffix, e.g. "2401.01234" or "hep-th/9901001". */
  id: string;
  /** Title, XML-unescaped and whitespace normalised. */
  title: string;
  /** The `<summary>` (abstract), XML-unescaped and whitespace normalised. */
  abstract: string;
  /** Every category term, the primary one first. */
  categories: string[];
  /** Day of the first version's submission, YYYY-MM-DD (from `<published>`). */
  published: string;
}

/** One page of results. */
export interface ArxivFeed {
  /** Papers matching the query in all (opensearch:totalResults). */
  totalResults: number;
  /** Offset of this page's first entry (opensearch:startIndex; the request's start when absent). */
  startIndex: number;
  /** The entries of this page, in feed order. */
  entries: ArxivEntry[];
}

/** A line of the harvester's output. */
export interface ArxivRecord extends ArxivEntry {
  /** Provenance: "arxiv-api". */
  source: string;
}

/** Field mapping for loading harvester output with `loadDocs` (the date is `published`). */
export const ARXIV_FIELDS: FieldMapping = FieldMapping.parse({ date: "published" });

const XML_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Replace the five XML entities and numeric character references (&#233; &#xE9;); unknown ones stay. */
export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref[0] === "#") {
      const code = ref[1] === "x" || ref[1] === "X" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return XML_ENTITIES[ref] ?? whole;
  });
}

/** Text content of an element body: CDATA sections verbatim, everything else XML-unescaped. */
function xmlText(body: string): string {
  const parts = body.split(/<!\[CDATA\[([\s\S]*?)\]\]>/);
  return parts.map((p, i) => (i % 2 === 1 ? p : unescapeXml(p))).join("");
}

/** Body text of the first `<name>` (any namespace prefix) in `block`; "" for `<name/>`; undefined when absent. */
function elementText(block: string, name: string): string | undefined {
  const re = new RegExp(`<(?:[\\w.-]+:)?${name}\\b[^>]*?(?:/>|>([\\s\\S]*?)</(?:[\\w.-]+:)?${name}\\s*>)`);
  const m = re.exec(block);
  return m ? xmlText(m[1] ?? "") : undefined;
}

/** The path segment before the id in an entry's `<id>` URL. */
const ABS_PATH = "/abs/";
/** How much of an unexpected response body an error message quotes. */
const QUOTED_BODY_CHARS = 200;

/**
 * The arXiv id of an entry's `<id>` URL without its version: "http://arxiv.org/abs/2401.01234v2" →
 * "2401.01234", ".../abs/hep-th/9901001v1" → "hep-th/9901001". A bare id is accepted too.
 */
export function arxivIdFromUrl(url: string): string {
  const u = url.trim();
  const at = u.indexOf(ABS_PATH);
  const id = at >= 0 ? u.slice(at + ABS_PATH.length) : u;
  return id.replace(/v\d+$/, "");
}

/**
 * Parse one page of arXiv's Atom feed with small, tolerant string matching (no XML library): namespace
 * prefixes, attribute order, CDATA and entities are handled; anything that is not a complete feed is an error.
 * @param xml the response body
 * @param source where it came from (the request URL), named in errors
 * @throws FormatError when the body is not a complete Atom feed or an entry lacks id/title/summary/published
 * @throws SaerchError when arXiv answers with its error entry (a bad query)
 */
export function parseArxivFeed(xml: string, source: string): ArxivFeed {
  const fix = "rerun to resume; if it persists, open the URL in a browser to see what arXiv answers";
  if (!/<(?:[\w.-]+:)?feed\b/.test(xml)) {
    throw new FormatError(source, `not an Atom feed (no <feed> element; starts ${JSON.stringify(xml.slice(0, QUOTED_BODY_CHARS))})`, fix);
  }
  if (!/<\/(?:[\w.-]+:)?feed\s*>/.test(xml)) throw new FormatError(source, "truncated Atom feed (no closing </feed>)", fix);
  const total = elementText(xml, "totalResults");
  if (total === undefined || !/^\s*\d+\s*$/.test(total)) {
    throw new FormatError(source, "Atom feed without a numeric <opensearch:totalResults>", fix);
  }
  const startText = elementText(xml, "startIndex");
  const startIndex = startText !== undefined && /^\s*\d+\s*$/.test(startText) ? Number(startText) : Number.NaN;
  const opened = (xml.match(/<(?:[\w.-]+:)?entry\b/g) ?? []).length;
  const blocks = [...xml.matchAll(/<(?:[\w.-]+:)?entry\b[^>]*>([\s\S]*?)<\/(?:[\w.-]+:)?entry\s*>/g)].map((m) => m[1]!);
  if (blocks.length !== opened) {
    throw new FormatError(source, `Atom feed has ${opened} <entry> tags but ${blocks.length} complete entries`, fix);
  }
  const entries = blocks.map((block, i): ArxivEntry => {
    const where = `${source} (entry ${i + 1})`;
    const field = (name: string): string => {
      const v = elementText(block, name);
      if (v === undefined) throw new FormatError(where, `entry without <${name}>`, fix);
      return v;
    };
    const idUrl = field("id").trim();
    if (idUrl.includes("/api/errors")) {
      throw new SaerchError(
        `arXiv API error: ${normalizeWhitespace(elementText(block, "summary") ?? idUrl)}`,
        "check the category and dates of the query",
      );
    }
    const id = arxivIdFromUrl(idUrl);
    if (id === "" || /\s/.test(id)) throw new FormatError(where, `unexpected <id> ${JSON.stringify(idUrl)}`, fix);
    const published = /^\s*(\d{4}-\d{2}-\d{2})/.exec(field("published"))?.[1];
    if (published === undefined) throw new FormatError(where, "<published> is not an ISO date", fix);
    const categories: string[] = [];
    for (const m of block.matchAll(/<(?:[\w.-]+:)?(primary_)?category\b([^>]*)>/g)) {
      const term = /\bterm\s*=\s*(?:"([^"]*)"|'([^']*)')/.exec(m[2]!);
      const value = term ? unescapeXml(term[1] ?? term[2] ?? "").trim() : "";
      if (value === "" || categories.includes(value)) continue;
      if (m[1] !== undefined) categories.unshift(value);
      else categories.push(value);
    }
    return {
      id,
      title: normalizeWhitespace(field("title")),
      abstract: normalizeWhitespace(field("summary")),
      categories,
      published,
    };
  });
  return { totalResults: Number(total), startIndex, entries };
}

/** arXiv's search_query for a category and an inclusive range of submission days (YYYY-MM-DD). */
export function arxivSearchQuery(category: string, from: string, to: string): string {
  const day = (d: string): string => d.replaceAll("-", "");
  return `cat:${category} AND submittedDate:[${day(from)}0000 TO ${day(to)}2359]`;
}

/** The request URL for one page: oldest submissions first, so offsets stay stable for a past date range. */
export function arxivQueryUrl(baseUrl: string, searchQuery: string, start: number, maxResults: number): string {
  const params = new URLSearchParams({
    search_query: searchQuery,
    sortBy: "submittedDate",
    sortOrder: "ascending",
    start: String(start),
    max_results: String(maxResults),
  });
  return `${baseUrl}?${params.toString()}`;
}

/** Retry and pacing settings for {@link PoliteFetcher}. */
export type FetchPolicy = Pick<ArxivHarvestConfig, "delayMs" | "maxRetries" | "backoffMs" | "maxBackoffMs" | "timeoutMs">;

/** Hooks for {@link PoliteFetcher} and {@link harvestArxiv}. */
export interface HarvestOptions {
  /** Abort to stop between (or during) requests; the harvest returns with `stopped: "aborted"`. */
  signal?: AbortSignal;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Called after each page is saved (tests abort here to simulate an interruption). */
  onPage?: (progress: HarvestProgress) => void;
  /** Backoff jitter source in [0, 1) (default Math.random; tests pass a seeded one). */
  random?: () => number;
}

/** True when `signal` has fired: whatever the error then (AbortError, the abort reason), the run was stopped. */
function isAbort(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** A network error as one line: fetch's "fetch failed" plus the socket error it wraps (ECONNREFUSED, …). */
function networkProblem(err: Error): string {
  type Cause = { code?: string; message?: string; errors?: Cause[] };
  const cause = (err as Error & { cause?: Cause }).cause;
  const inner = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message;
  return inner ? `${err.message} (${inner})` : err.message;
}

/** What went wrong with one arXiv request. */
export type ArxivFailure = "http" | "timeout" | "network";

/** One failed arXiv request (retryable or not, by src/net/retry.ts's policy). */
export class ArxivRequestError extends ApiRequestError<ArxivFailure> {}

/**
 * GET with a minimum gap between requests and retries by the shared policy (`withRetries`,
 * `isRetryableStatus`: 408/409/429/5xx, network errors, timeouts): the server's Retry-After when sent (at
 * most `maxBackoffMs`), else `backoffMs · 2^retry` with jitter, capped at `maxBackoffMs`; never less than
 * `delayMs`.
 */
export class PoliteFetcher {
  private lastRequestAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly policy: FetchPolicy,
    private readonly opts: Pick<HarvestOptions, "signal" | "log" | "random"> = {},
  ) {}

  /**
   * The body of `url` as text.
   * @throws ArxivRequestError on a status that is not retried; SaerchError after `maxRetries` retries;
   *   AbortError (or the signal's reason) when the signal fires
   */
  async getText(url: string): Promise<string> {
    const { signal } = this.opts;
    const log = this.opts.log ?? ((line: string): void => void process.stderr.write(`${line}\n`));
    const { delayMs, maxRetries, backoffMs, maxBackoffMs } = this.policy;
    try {
      return await withRetries(() => this.attempt(url), {
        maxRetries,
        baseDelayMs: backoffMs,
        maxDelayMs: maxBackoffMs,
        minDelayMs: delayMs,
        isRetryable: isRetryableApiError,
        // A longer Retry-After is capped (waiting the cap is politer than the shorter backoff).
        retryAfterMs: (err) => {
          const asked = apiRetryAfterMs(err);
          return asked === undefined ? undefined : Math.min(asked, maxBackoffMs);
        },
        maxRetryAfterMs: maxBackoffMs,
        ...(signal ? { signal } : {}),
        ...(this.opts.random ? { random: this.opts.random } : {}),
        onRetry: ({ attempt, delayMs: wait, error }) => {
          const problem = error instanceof ArxivRequestError ? error.bareMessage : describeError(error);
          log(`  ${problem}; retry ${attempt}/${maxRetries} in ${(wait / 1000).toFixed(1)} s`);
          this.lastRequestAt = Number.NEGATIVE_INFINITY; // the wait already spaces the requests
        },
        label: url,
      });
    } catch (err) {
      if (err instanceof RetriesExhaustedError) {
        const last = err.lastError instanceof ArxivRequestError ? err.lastError.bareMessage : describeError(err.lastError);
        throw new SaerchError(
          `${url} failed after ${err.attempts} attempts: ${last}`,
          "rerun the same command later: the harvest resumes where it stopped",
        );
      }
      throw err;
    }
  }

  /** One request, after the polite gap since the last one. */
  private async attempt(url: string): Promise<string> {
    const { signal } = this.opts;
    const gap = this.lastRequestAt + this.policy.delayMs - Date.now();
    if (gap > 0) await delay(gap, undefined, { signal });
    this.lastRequestAt = Date.now();
    let res: Response;
    let body: string;
    try {
      const timeout = AbortSignal.timeout(this.policy.timeoutMs);
      res = await fetch(url, {
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        headers: { "user-agent": "saerch-ts corpus harvester" },
      });
      body = await res.text();
    } catch (err) {
      if (isAbort(signal)) throw err;
      const e = err as Error;
      if (e.name === "TimeoutError") {
        throw new ArxivRequestError("timeout", `no answer within ${this.policy.timeoutMs} ms`, { retryable: true });
      }
      throw new ArxivRequestError("network", networkProblem(e), { retryable: true });
    }
    if (res.ok) return body;
    const problem = `HTTP ${res.status} ${res.statusText}`.trim();
    if (!isRetryableStatus(res.status)) {
      throw new ArxivRequestError("http", `${url} answered ${problem}: ${body.slice(0, QUOTED_BODY_CHARS)}`, {
        retryable: false,
        status: res.status,
        serverMessage: body.slice(0, QUOTED_BODY_CHARS),
        fix: "check the query (category, dates) and baseUrl",
      });
    }
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
    throw new ArxivRequestError("http", problem, {
      retryable: true,
      status: res.status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
}

/** The state file saved after each page. */
export const HarvestState = z.object({
  version: z.literal(1).describe("state format version"),
  query: z.string().describe("the search_query this state belongs to; a different query refuses to resume"),
  nextStart: z.number().int().min(0).describe("offset of the next page to request"),
  written: z.number().int().min(0).describe("records in the output after the last saved page"),
  totalResults: z.number().int().min(0).describe("papers matching the query, as arXiv last reported"),
  exhausted: z.boolean().describe("true once every matching paper has been read"),
});
/** The state file saved after each page. */
export type HarvestState = z.infer<typeof HarvestState>;

/** Where the state of a harvest into `out` lives: `<out>.state.json`. */
export function arxivStatePath(out: string): string {
  return `${out}.state.json`;
}

function readState(path: string): HarvestState | undefined {
  if (!existsSync(path)) return undefined;
  const fix = `delete ${path} to restart the harvest (ids already in the output are still skipped)`;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new FormatError(path, `invalid JSON (${(err as Error).message})`, fix);
  }
  const parsed = HarvestState.safeParse(raw);
  if (!parsed.success) throw new FormatError(path, `not a harvest state file: ${z.prettifyError(parsed.error)}`, fix);
  return parsed.data;
}

/** Progress after one page. */
export interface HarvestProgress {
  /** Pages fetched in this run. */
  pages: number;
  /** Offset of the next page. */
  nextStart: number;
  /** Records in the output. */
  written: number;
  /** Records appended in this run. */
  added: number;
  /** Papers matching the query. */
  totalResults: number;
}

/** How a harvest ended. */
export interface HarvestResult extends HarvestProgress {
  /** The output file (.jsonl). */
  out: string;
  /** The state file. */
  statePath: string;
  /** complete: no more results; max: the output holds `max` records; max-pages / aborted: rerun to resume. */
  stopped: "complete" | "max" | "max-pages" | "aborted";
}

/**
 * Harvest one category and date range into `out` (see the module header for the resume protocol).
 * @param config query, limits and politeness (defaults: 3 s between requests, 5 retries, 100 per page)
 * @param opts abort signal, progress log, per-page hook
 */
export async function harvestArxiv(
  config: z.input<typeof ArxivHarvestConfig>,
  opts: HarvestOptions = {},
): Promise<HarvestResult> {
  const cfg = parseCorpusConfig(ArxivHarvestConfig, config, "arXiv harvest config");
  const log = opts.log ?? ((line: string): void => void process.stderr.write(`${line}\n`));
  const out = resolve(cfg.out ?? defaultArxivOutPath(cfg));
  const statePath = arxivStatePath(out);
  const query = arxivSearchQuery(cfg.category, cfg.from, cfg.to);
  const prior = readState(statePath);
  if (prior && prior.query !== query) {
    throw new SaerchError(
      `${statePath} belongs to the query "${prior.query}", not "${query}"`,
      "choose another --out for this query, or delete the output and its state file to start over",
    );
  }
  const seen = new Set<string>();
  for (const rec of readJsonlLog<{ id?: unknown }>(out)) if (typeof rec.id === "string") seen.add(rec.id);
  if (!prior && seen.size > 0) log(`${out} has ${seen.size} records but no state file: restarting at 0, skipping known ids`);
  const progress: HarvestProgress = {
    pages: 0,
    nextStart: prior?.nextStart ?? 0,
    written: seen.size,
    added: 0,
    totalResults: prior?.totalResults ?? 0,
  };
  const result = (stopped: HarvestResult["stopped"]): HarvestResult => ({ ...progress, out, statePath, stopped });
  if (prior?.exhausted) return result("complete");
  if (progress.written >= cfg.max) return result("max");
  if (prior) log(`resuming ${query} at start ${prior.nextStart} (${seen.size} records in ${out})`);

  const fetcher = new PoliteFetcher(cfg, { ...(opts.signal ? { signal: opts.signal } : {}), log, ...(opts.random ? { random: opts.random } : {}) });
  const appender = new JsonlAppender(out);
  let emptyTries = 0;
  try {
    for (;;) {
      if (progress.written >= cfg.max) return result("max");
      if (cfg.maxPages !== undefined && progress.pages >= cfg.maxPages) return result("max-pages");
      if (opts.signal?.aborted) return result("aborted");
      const url = arxivQueryUrl(cfg.baseUrl, query, progress.nextStart, cfg.pageSize);
      let xml: string;
      try {
        xml = await fetcher.getText(url);
      } catch (err) {
        if (isAbort(opts.signal)) return result("aborted");
        throw err;
      }
      const feed = parseArxivFeed(xml, url);
      progress.totalResults = feed.totalResults;
      if (feed.entries.length === 0 && progress.nextStart < feed.totalResults) {
        if (emptyTries++ < cfg.emptyPageRetries) {
          log(`  empty page at start ${progress.nextStart} of ${feed.totalResults}; asking again`);
          continue;
        }
        throw new SaerchError(
          `arXiv answered ${emptyTries} empty pages at start ${progress.nextStart} of ${feed.totalResults} results`,
          "rerun later: the harvest resumes at this page",
        );
      }
      emptyTries = 0;
      let consumed = 0;
      for (const entry of feed.entries) {
        if (progress.written >= cfg.max) break;
        consumed++;
        if (seen.has(entry.id)) continue;
        const record: ArxivRecord = { ...entry, source: "arxiv-api" };
        appender.append(record);
        seen.add(entry.id);
        progress.written++;
        progress.added++;
      }
      progress.nextStart += consumed;
      progress.pages++;
      const exhausted = feed.entries.length === 0 || progress.nextStart >= feed.totalResults;
      const state: HarvestState = {
        version: 1,
        query,
        nextStart: progress.nextStart,
        written: progress.written,
        totalResults: feed.totalResults,
        exhausted,
      };
      writeJsonAtomic(statePath, state);
      log(
        `arxiv ${cfg.category} ${cfg.from}..${cfg.to}: page ${progress.pages}, next start ${progress.nextStart}/` +
          `${feed.totalResults}, ${progress.written}/${cfg.max} written (+${progress.added} this run)`,
      );
      opts.onPage?.({ ...progress });
      if (exhausted) return result("complete");
    }
  } finally {
    appender.close();
  }
}
