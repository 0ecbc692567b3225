/**
 * Tests for src/corpus/arxiv.ts and arxiv-cli.ts against a real HTTP server on 127.0.0.1 (port 0) that serves
 * Atom feeds written here: feed parsing, paging, retry on 503 / 429 + Retry-After / dropped connections,
 * malformed feeds, and interruption + resume (max pages, abort signal, a lost state write, a raised --max).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { FormatError, SaerchError } from "../../src/core/errors.js";
import {
  ARXIV_FIELDS,
  arxivIdFromUrl,
  arxivQueryUrl,
  arxivSearchQuery,
  arxivStatePath,
  harvestArxiv,
  parseArxivFeed,
  unescapeXml,
  type ArxivRecord,
  type HarvestState,
} from "../../src/corpus/arxiv.js";
import { arxivCliMain } from "../../src/corpus/arxiv-cli.js";
import { ArxivHarvestConfig } from "../../src/corpus/config.js";
import { loadDocs } from "../../src/corpus/load.js";
import { readJsonlLog } from "../../src/io/jsonl.js";

// ---------------------------------------------------------------------------------------------------------
// Feeds

interface Paper {
  id: string; // with version suffix, as arXiv sends it
  title: string;
  summary: string;
  cats: string[]; // primary first
  published: string;
}

const PAPERS: Paper[] = Array.from({ length: 7 }, (_, i) => ({
  id: `2401.0${1000 + i}v${(i % 3) + 1}`,
  title: `Paper ${i}: scaling &amp; &lt;sparse&gt;\n   autoencoders`,
  summary: `  We study topic ${i} with &#233;lan and &#x3b1; = 0.${i}.\n  A second line.  `,
  cats: i % 2 === 0 ? ["cs.LG", "stat.ML"] : ["cs.LG"],
  published: `2024-01-${String(i + 2).padStart(2, "0")}T18:00:0${i}Z`,
}));

function entryXml(p: Paper): string {
  return `  <entry>
    <id>http://arxiv.org/abs/${p.id}</id>
    <updated>${p.published}</updated>
    <published>${p.published}</published>
    <title>${p.title}</title>
    <summary>${p.summary}</summary>
    <author><name>A. Author</name></author>
    <link href="http://arxiv.org/abs/${p.id}" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/${p.id}" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="${p.cats[0]}" scheme="http://arxiv.org/schemas/atom"/>
${p.cats.map((c) => `    <category term="${c}" scheme="http://arxiv.org/schemas/atom"/>`).join("\n")}
  </entry>`;
}

function feedXml(total: number, start: number, entries: Paper[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=cat:cs.LG&amp;id_list=&amp;start=${start}</title>
  <id>http://arxiv.org/api/abc</id>
  <updated>2024-02-02T00:00:00-05:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">${total}</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">${start}</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">${entries.length}</opensearch:itemsPerPage>
${entries.map(entryXml).join("\n")}
</feed>
`;
}

// ---------------------------------------------------------------------------------------------------------
// Server: `respond` is replaced per test; every request is logged with its start offset and time.

type Responder = (req: IncomingMessage, res: ServerResponse, q: URLSearchParams, n: number) => void;
interface Hit {
  start: number;
  maxResults: number;
  query: string;
  at: number;
}

const QUERY = arxivSearchQuery("cs.LG", "2024-01-01", "2024-02-01");

/** Serves PAPERS in pages, like arXiv. */
const serveFeed: Responder = (_req, res, q) => {
  const start = Number(q.get("start"));
  const max = Number(q.get("max_results"));
  res.writeHead(200, { "content-type": "application/atom+xml" });
  res.end(feedXml(PAPERS.length, start, PAPERS.slice(start, start + max)));
};

let server: Server;
let baseUrl: string;
let respond: Responder = serveFeed;
let hits: Hit[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const q = new URL(req.url ?? "/", "http://x").searchParams;
    hits.push({ start: Number(q.get("start")), maxResults: Number(q.get("max_results")), query: q.get("search_query") ?? "", at: Date.now() });
    respond(req, res, q, hits.length);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/query`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

let dir: string;
let out: string;
const logs: string[] = [];
const log = (line: string): void => void logs.push(line);
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "saerch-arxiv-"));
  out = join(dir, "cs.LG.jsonl");
  respond = serveFeed;
  hits = [];
  logs.length = 0;
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Harvester config for the local server: no polite delay, short backoff. */
const cfg = (over: Partial<Parameters<typeof harvestArxiv>[0]> = {}): Parameters<typeof harvestArxiv>[0] => ({
  baseUrl,
  category: "cs.LG",
  from: "2024-01-01",
  to: "2024-02-01",
  max: 100,
  pageSize: 3,
  delayMs: 0,
  backoffMs: 10,
  out,
  ...over,
});

const starts = (): number[] => hits.map((h) => h.start);

/** The output of an uninterrupted run (computed once, in its own directory). */
async function referenceOutput(): Promise<string> {
  const refDir = mkdtempSync(join(tmpdir(), "saerch-arxiv-ref-"));
  try {
    const ref = join(refDir, "ref.jsonl");
    await harvestArxiv(cfg({ out: ref }), { log });
    return readFileSync(ref, "utf8");
  } finally {
    rmSync(refDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------

describe("Atom parsing", () => {
  it("unescapes entities and strips id versions", () => {
    expect(unescapeXml("a &amp;lt; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233; &#x3B1; &nbsp;")).toBe(
      "a &lt; b <c> \"d\" 'e' é α &nbsp;",
    );
    expect(arxivIdFromUrl("http://arxiv.org/abs/2401.01234v2")).toBe("2401.01234");
    expect(arxivIdFromUrl("https://arxiv.org/abs/hep-th/9901001v12 ")).toBe("hep-th/9901001");
    expect(arxivIdFromUrl("2401.01234")).toBe("2401.01234");
  });

  it("parses a page into entries", () => {
    const feed = parseArxivFeed(feedXml(7, 3, PAPERS.slice(3, 5)), "test");
    expect(feed.totalResults).toBe(7);
    expect(feed.startIndex).toBe(3);
    expect(feed.entries).toEqual([
      {
        id: "2401.01003",
        title: "Paper 3: scaling & <sparse> autoencoders",
        abstract: "We study topic 3 with élan and α = 0.3. A second line.",
        categories: ["cs.LG"],
        published: "2024-01-05",
      },
      {
        id: "2401.01004",
        title: "Paper 4: scaling & <sparse> autoencoders",
        abstract: "We study topic 4 with élan and α = 0.4. A second line.",
        categories: ["cs.LG", "stat.ML"],
        published: "2024-01-06",
      },
    ]);
  });

  it("puts the primary category first, reads CDATA and single-quoted attributes", () => {
    const xml = feedXml(1, 0, []).replace(
      "</feed>",
      `<entry><id>http://arxiv.org/abs/2401.00001v1</id><published>2024-01-01T00:00:00Z</published>
       <title><![CDATA[A <b>bold</b> & title]]></title><summary>s</summary>
       <category term='astro-ph.CO'/><arxiv:primary_category term="astro-ph.GA"/><category term="astro-ph.GA"/></entry></feed>`,
    );
    const [e] = parseArxivFeed(xml, "test").entries;
    expect(e!.title).toBe("A <b>bold</b> & title");
    expect(e!.categories).toEqual(["astro-ph.GA", "astro-ph.CO"]);
  });

  it("rejects malformed feeds with the source named", () => {
    const good = feedXml(7, 0, PAPERS.slice(0, 2));
    const err = (xml: string): Error => {
      try {
        parseArxivFeed(xml, "http://h/q?start=0");
      } catch (e) {
        return e as Error;
      }
      throw new Error("expected a parse error");
    };
    expect(err("<html><body>Service Unavailable</body></html>")).toBeInstanceOf(FormatError);
    expect(err("<html>oops</html>").message).toMatch(/^http:\/\/h\/q\?start=0: not an Atom feed/);
    expect(err(good.slice(0, good.length - 200)).message).toMatch(/truncated Atom feed/);
    expect(err(good.replace(/<opensearch:totalResults[^]*?<\/opensearch:totalResults>/, "")).message).toMatch(/totalResults/);
    expect(err(good.replace("</entry>", "")).message).toMatch(/2 <entry> tags but 1 complete entries/);
    expect(err(good.replace(/<published>[^<]*<\/published>/, "")).message).toMatch(/\(entry 1\): entry without <published>/);
    const apiError = feedXml(1, 0, []).replace(
      "</feed>",
      "<entry><id>http://arxiv.org/api/errors#incorrect_id_format</id><title>Error</title><summary>incorrect id format for 1234</summary></entry></feed>",
    );
    const e = err(apiError);
    expect(e).toBeInstanceOf(SaerchError);
    expect(e.message).toMatch(/arXiv API error: incorrect id format for 1234/);
  });

  it("builds the query and URL as arXiv expects", () => {
    expect(QUERY).toBe("cat:cs.LG AND submittedDate:[202401010000 TO 202402012359]");
    const url = new URL(arxivQueryUrl("https://export.arxiv.org/api/query", QUERY, 200, 100));
    expect(url.searchParams.get("search_query")).toBe(QUERY);
    expect(url.searchParams.get("sortBy")).toBe("submittedDate");
    expect(url.searchParams.get("start")).toBe("200");
    expect(url.searchParams.get("max_results")).toBe("100");
  });

  it("validates the config: dates, category, plain .jsonl output, 3 s default delay", () => {
    const base = { category: "cs.LG", from: "2024-01-01", to: "2024-02-01" };
    expect(ArxivHarvestConfig.parse(base).delayMs).toBe(3000);
    expect(() => ArxivHarvestConfig.parse({ ...base, out: "x.jsonl.gz" })).toThrow(/plain \.jsonl/);
    expect(() => ArxivHarvestConfig.parse({ ...base, from: "2024-03-01" })).toThrow(/from must not be after to/);
    expect(() => ArxivHarvestConfig.parse({ ...base, category: "cat:cs.LG" })).toThrow(/arXiv category/);
  });
});

describe("harvestArxiv", () => {
  it("pages through the results and writes loader-ready JSONL", async () => {
    const r = await harvestArxiv(cfg(), { log });
    expect(r).toMatchObject({ stopped: "complete", written: 7, added: 7, pages: 3, nextStart: 7, totalResults: 7 });
    expect(starts()).toEqual([0, 3, 6]);
    expect(hits.every((h) => h.query === QUERY && h.maxResults === 3)).toBe(true);
    const recs = readJsonlLog<ArxivRecord>(out);
    expect(recs.map((x) => x.id)).toEqual(PAPERS.map((_, i) => `2401.0${1000 + i}`));
    expect(recs[0]).toEqual({
      id: "2401.01000",
      title: "Paper 0: scaling & <sparse> autoencoders",
      abstract: "We study topic 0 with élan and α = 0.0. A second line.",
      categories: ["cs.LG", "stat.ML"],
      published: "2024-01-02",
      source: "arxiv-api",
    });
    const state = JSON.parse(readFileSync(arxivStatePath(out), "utf8")) as HarvestState;
    expect(state).toEqual({ version: 1, query: QUERY, nextStart: 7, written: 7, totalResults: 7, exhausted: true });
    expect(logs.filter((l) => l.includes("page"))).toHaveLength(3);
    // The loader reads the output with ARXIV_FIELDS (date = published).
    const { docs } = await loadDocs({ path: out, fields: ARXIV_FIELDS, minAbstractChars: 10 });
    expect(docs).toHaveLength(7);
    expect(docs[6]!.date).toBe("2024-01-08");
    // A finished harvest makes no further request.
    await harvestArxiv(cfg(), { log });
    expect(hits).toHaveLength(3);
  });

  it("retries a 503, then succeeds", async () => {
    respond = (req, res, q, n) => {
      if (n === 2) {
        res.writeHead(503, { "content-type": "text/plain" });
        res.end("busy");
      } else serveFeed(req, res, q, n);
    };
    const r = await harvestArxiv(cfg(), { log });
    expect(r.stopped).toBe("complete");
    expect(starts()).toEqual([0, 3, 3, 6]);
    expect(readJsonlLog<ArxivRecord>(out)).toHaveLength(7);
    expect(logs.some((l) => l.includes("HTTP 503") && l.includes("retry 1/5"))).toBe(true);
  });

  it("honours Retry-After on 429", async () => {
    respond = (req, res, q, n) => {
      if (n === 1) {
        res.writeHead(429, { "retry-after": "1" });
        res.end("slow down");
      } else serveFeed(req, res, q, n);
    };
    await harvestArxiv(cfg({ backoffMs: 0 }), { log });
    expect(starts()).toEqual([0, 0, 3, 6]);
    expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it("honours Retry-After as an HTTP date, capped at maxBackoffMs, and retries a 408 by the shared policy", async () => {
    respond = (req, res, q, n) => {
      if (n === 1) {
        // An HTTP date one hour ahead: capped at maxBackoffMs (300 ms), never the shorter 10 ms backoff.
        res.writeHead(429, { "retry-after": new Date(Date.now() + 3_600_000).toUTCString() });
        res.end("slow down");
      } else if (n === 2) {
        res.writeHead(408);
        res.end("request timeout");
      } else serveFeed(req, res, q, n);
    };
    await harvestArxiv(cfg({ maxBackoffMs: 300 }), { log, random: () => 0 });
    expect(starts()).toEqual([0, 0, 0, 3, 6]);
    expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(290);
    expect(hits[1]!.at - hits[0]!.at).toBeLessThan(2000);
    expect(logs.filter((l) => l.includes("retry "))).toEqual([
      "  HTTP 429 Too Many Requests; retry 1/5 in 0.3 s",
      "  HTTP 408 Request Timeout; retry 2/5 in 0.0 s",
    ]);
  });

  it("retries a dropped connection, and gives up after maxRetries with a clear error", async () => {
    respond = (req, res, q, n) => {
      if (n === 1) req.socket.destroy();
      else serveFeed(req, res, q, n);
    };
    expect((await harvestArxiv(cfg(), { log })).written).toBe(7);

    rmSync(out);
    rmSync(arxivStatePath(out));
    hits = [];
    respond = (_req, res) => {
      res.writeHead(502);
      res.end();
    };
    const err = await harvestArxiv(cfg({ maxRetries: 2 }), { log }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(SaerchError);
    expect((err as Error).message).toMatch(/failed after 3 attempts: HTTP 502/);
    expect((err as Error).message).toMatch(/resumes/);
    expect(hits).toHaveLength(3);
  });

  it("does not retry other 4xx answers", async () => {
    respond = (_req, res) => {
      res.writeHead(400);
      res.end("bad query");
    };
    const err = await harvestArxiv(cfg(), { log }).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/answered HTTP 400.*bad query/);
    expect(hits).toHaveLength(1);
  });

  it("fails clearly on a malformed feed, keeping the pages already saved", async () => {
    respond = (req, res, q, n) => {
      if (Number(q.get("start")) === 3) {
        res.writeHead(200);
        res.end("<feed><entry><id>x</id>"); // truncated
      } else serveFeed(req, res, q, n);
    };
    const err = await harvestArxiv(cfg(), { log }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toContain(`${baseUrl}?`);
    expect((err as Error).message).toMatch(/truncated Atom feed/);
    expect(readJsonlLog<ArxivRecord>(out)).toHaveLength(3);
    respond = serveFeed;
    hits = [];
    expect((await harvestArxiv(cfg(), { log })).written).toBe(7);
    expect(starts()).toEqual([3, 6]);
  });

  it("asks again after an empty page before the end of the results", async () => {
    respond = (req, res, q, n) => {
      if (n === 2) {
        res.writeHead(200);
        res.end(feedXml(7, 3, []));
      } else serveFeed(req, res, q, n);
    };
    expect((await harvestArxiv(cfg(), { log })).written).toBe(7);
    expect(starts()).toEqual([0, 3, 3, 6]);
  });

  it("resumes after maxPages with the same content as an uninterrupted run", async () => {
    const reference = await referenceOutput();
    hits = [];
    const first = await harvestArxiv(cfg({ maxPages: 2 }), { log });
    expect(first).toMatchObject({ stopped: "max-pages", pages: 2, written: 6, nextStart: 6 });
    expect(starts()).toEqual([0, 3]);
    const second = await harvestArxiv(cfg(), { log });
    expect(second).toMatchObject({ stopped: "complete", pages: 1, written: 7, added: 1 });
    expect(starts()).toEqual([0, 3, 6]); // continued at page 3
    expect(readFileSync(out, "utf8")).toBe(reference);
  });

  it("stops on an abort signal and resumes from the next page", async () => {
    const reference = await referenceOutput();
    hits = [];
    const controller = new AbortController();
    const r = await harvestArxiv(cfg(), {
      log,
      signal: controller.signal,
      onPage: (p) => {
        if (p.pages === 2) controller.abort();
      },
    });
    expect(r).toMatchObject({ stopped: "aborted", written: 6, nextStart: 6 });
    await harvestArxiv(cfg(), { log });
    expect(starts()).toEqual([0, 3, 6]);
    expect(readFileSync(out, "utf8")).toBe(reference);
  });

  it("stops during a polite delay when aborted", async () => {
    const controller = new AbortController();
    const t0 = Date.now();
    const pending = harvestArxiv(cfg({ delayMs: 5000 }), { log, signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    const r = await pending;
    expect(r.stopped).toBe("aborted");
    expect(r.written).toBe(3);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it("never duplicates ids when the state file lags the output (crash between append and state write)", async () => {
    const reference = await referenceOutput();
    await harvestArxiv(cfg({ maxPages: 2 }), { log });
    const statePath = arxivStatePath(out);
    const state = JSON.parse(readFileSync(statePath, "utf8")) as HarvestState;
    writeFileSync(statePath, JSON.stringify({ ...state, nextStart: 3, written: 3 })); // page 2's state "lost"
    writeFileSync(out, `${readFileSync(out, "utf8")}{"id": "2401.01006", "tit`, { flag: "w" }); // torn last line
    hits = [];
    const r = await harvestArxiv(cfg(), { log });
    expect(starts()).toEqual([3, 6]);
    expect(r.added).toBe(1);
    const ids = readJsonlLog<ArxivRecord>(out).map((x) => x.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(readFileSync(out, "utf8")).toBe(reference);
  });

  it("resumes from the output alone when the state file is missing", async () => {
    const reference = await referenceOutput();
    await harvestArxiv(cfg({ maxPages: 1 }), { log });
    rmSync(arxivStatePath(out));
    hits = [];
    await harvestArxiv(cfg(), { log });
    expect(starts()).toEqual([0, 3, 6]);
    expect(readFileSync(out, "utf8")).toBe(reference);
    expect(logs.some((l) => l.includes("no state file"))).toBe(true);
  });

  it("stops at max and continues when max is raised", async () => {
    const reference = await referenceOutput();
    hits = [];
    const r = await harvestArxiv(cfg({ max: 5 }), { log });
    expect(r).toMatchObject({ stopped: "max", written: 5, nextStart: 5 });
    expect(readJsonlLog(out)).toHaveLength(5);
    expect((await harvestArxiv(cfg({ max: 5 }), { log })).stopped).toBe("max");
    expect(hits).toHaveLength(2); // no request when the output is already full
    await harvestArxiv(cfg({ max: 7 }), { log });
    expect(starts()).toEqual([0, 3, 5]);
    expect(readFileSync(out, "utf8")).toBe(reference);
  });

  it("refuses to resume a different query into the same output", async () => {
    await harvestArxiv(cfg({ maxPages: 1 }), { log });
    const err = await harvestArxiv(cfg({ category: "cs.CV" }), { log }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(SaerchError);
    expect((err as Error).message).toMatch(/belongs to the query "cat:cs.LG/);
  });

  it("waits delayMs between requests", async () => {
    await harvestArxiv(cfg({ delayMs: 150 }), { log });
    expect(hits).toHaveLength(3);
    expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(140);
    expect(hits[2]!.at - hits[1]!.at).toBeGreaterThanOrEqual(140);
  });
});

describe("arxivCliMain", () => {
  it("harvests from command-line flags", async () => {
    const stderr = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const code = await arxivCliMain([
        "--", "--category", "cs.LG", "--from", "2024-01-01", "--to", "2024-02-01", "--max", "5",
        "--page-size", "3", "--delay-ms", "0", "--base-url", baseUrl, "--out", out,
      ]);
      expect(code).toBe(0);
      expect(readJsonlLog(out)).toHaveLength(5);
      expect(stderr.mock.calls.flat().join("\n")).toMatch(/done \(reached --max\): 5 records/);
      expect(await arxivCliMain(["--category", "cs.LG", "--from", "2024-01-01"])).toBe(2);
      expect(stderr.mock.calls.flat().join("\n")).toMatch(/to/);
      expect(await arxivCliMain(["--category", "cs.LG", "--from", "2024-01-01", "--to", "2024-02-01", "--max", "many"])).toBe(2);
      expect(await arxivCliMain(["--bogus"])).toBe(2);
      expect(await arxivCliMain(["--help"])).toBe(0);
      respond = (_req, res) => {
        res.writeHead(404);
        res.end("no");
      };
      const out2 = join(dir, "other.jsonl");
      expect(
        await arxivCliMain(["--category", "cs.LG", "--from", "2024-01-01", "--to", "2024-02-01", "--base-url", baseUrl, "--out", out2]),
      ).toBe(1);
      expect(stderr.mock.calls.flat().join("\n")).toMatch(/answered HTTP 404/);
      expect(existsSync(arxivStatePath(out2))).toBe(false);
    } finally {
      stderr.mockRestore();
      write.mockRestore();
    }
  });
});
