/**
 * `npm run bench:explore`, the server side (issue 12's speed targets): latency of POST /api/search for a
 * plain search (a new query each time: embed with USE-lite, encode, decode, exact top-10 over every store
 * row) and for a slider change (the same query, one feature's value changed: the query's vector comes from
 * the embedder cache), p50/p95 over 200 requests each, through `app.request` (no socket) or a real socket
 * on 127.0.0.1. Target: p95 ≤ 50 ms at N = 25k. Measurements only: nothing here gates CI.
 * Then every page loaded cold in Chromium (time to first paint and to interactive, target ≤ 1.5 s), and with
 * --screenshots the README's figures/explorer-*.png. `runExploreServerBench(app, …)` is the reusable part.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import { describeError, SaerchError } from "../core/errors.js";
import { quantile } from "../core/stats.js";
import { createUseLiteEmbedder } from "../embed/use-lite.js";
import { displayPath, figuresDir } from "../io/paths.js";
import { writeBenchRecord } from "../tools/bench-record.js";
import { resolveProfile } from "../compute/profile.js";
import type { SearchResponse } from "./api.js";
import { ensureWeb } from "./cli.js";
import { ExplorerDb } from "./db.js";
import { loadDefaultInputs } from "./inputs.js";
import { ensureExplorerDb } from "./run.js";
import { createExplorerApp, openExplorerContext } from "./server.js";
import { captureExplorerScreenshots, measurePageTimes, type PageTime, type ScreenshotOptions } from "./web-bench.js";

/** The target: p95 of a search or a slider change, milliseconds. */
export const EXPLORE_P95_TARGET_MS = 50;

/** Settings of one bench. */
export interface ExploreBenchSettings {
  domain: string;
  /** Distinct query texts for the plain searches (cycled if fewer than `requests`). */
  queries: readonly string[];
  /** Timed requests per case (default 200). */
  requests?: number;
  /** Untimed requests first (default 10). */
  warmup?: number;
  /** Through a real socket on 127.0.0.1 instead of app.request. */
  socket?: boolean;
  /** Rows the app's index holds (reported beside the timings). */
  indexedRows: number;
}

/** Latency of one case. */
export interface LatencyRow {
  case: string;
  requests: number;
  p50Ms: number;
  p95Ms: number;
  meanMs: number;
  maxMs: number;
}

/** What the server bench measured. */
export interface ExploreServerBench {
  domain: string;
  /** Rows the search ranks over. */
  documents: number;
  transport: "app.request" | "socket";
  rows: LatencyRow[];
  targetP95Ms: number;
}

function row(name: string, ms: number[]): LatencyRow {
  return { case: name, requests: ms.length, p50Ms: quantile(ms, 0.5), p95Ms: quantile(ms, 0.95), meanMs: ms.reduce((a, b) => a + b, 0) / ms.length, maxMs: Math.max(...ms) };
}

/**
 * Time plain searches and slider changes against an explorer app.
 * @throws SaerchError when a search fails (the bench reports nothing half-measured)
 */
export async function runExploreServerBench(app: Hono, s: ExploreBenchSettings): Promise<ExploreServerBench> {
  const requests = s.requests ?? 200;
  const warmup = s.warmup ?? 10;
  if (s.queries.length === 0) throw new SaerchError("the bench needs at least one query");
  let server: ReturnType<typeof serve> | undefined;
  let base = "http://explorer.local";
  if (s.socket) {
    server = await new Promise<ReturnType<typeof serve>>((ok) => {
      const srv = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => ok(srv));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const post = async (body: unknown): Promise<SearchResponse> => {
    const init = { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
    const res = s.socket ? await fetch(`${base}/api/search`, init) : await app.request("/api/search", init);
    const json = (await res.json()) as SearchResponse & { error?: string };
    if (res.status !== 200) throw new SaerchError(`POST /api/search answered ${res.status}: ${json.error ?? "?"}`);
    return json;
  };
  const time = async (body: unknown): Promise<number> => {
    const t0 = performance.now();
    await post(body);
    return performance.now() - t0;
  };
  try {
    const q = (i: number): string => s.queries[i % s.queries.length]!;
    for (let i = 0; i < warmup; i++) await post({ domain: s.domain, query: `${q(i)} (warm-up)` });
    const plain: number[] = [];
    for (let i = 0; i < requests; i++) plain.push(await time({ domain: s.domain, query: q(i) }));
    // A slider: the first query's strongest feature, moved through its range.
    const first = await post({ domain: s.domain, query: q(0) });
    const top = first.active[0];
    if (top === undefined) throw new SaerchError(`the query "${q(0)}" has no active feature to move`);
    const range = Math.max(top.maxActivation, top.activation, 1e-3);
    const slider: number[] = [];
    for (let i = 0; i < requests; i++) slider.push(await time({ domain: s.domain, query: q(0), features: [{ feature: top.feature, value: (range * (i % 20)) / 19 }] }));
    return {
      domain: s.domain,
      documents: s.indexedRows,
      transport: s.socket ? "socket" : "app.request",
      rows: [row("search (new query)", plain), row("slider change (same query, one feature)", slider)],
      targetP95Ms: EXPLORE_P95_TARGET_MS,
    };
  } finally {
    if (server) await new Promise<void>((ok) => server!.close(() => ok()));
  }
}

/** Options of the command. */
export interface BenchExploreArgs {
  requests?: string;
  domain?: string;
  socket?: boolean;
  json?: boolean;
  out?: string;
  /** Skip the Chromium page timings. */
  "no-pages"?: boolean;
  /** Also save the README's screenshots, figures/explorer-*.png. */
  screenshots?: boolean;
  help?: boolean;
}

export const BENCH_EXPLORE_USAGE = `usage: node scripts/bench-explore.mjs [options]
  --requests <n>   timed requests per case (default 200)
  --domain <d>     domain to search (default: each domain of the default run)
  --socket         through a real socket on 127.0.0.1 (default: app.request, no socket)
  --json           print one JSON line instead of the table
  --out <file>     write the report here (default data/bench/explore-<timestamp>.json)
  --no-pages       skip the page timings in Chromium (time to first paint and to interactive, cold)
  --screenshots    also save figures/explorer-*.png (the README's screenshots)`;

/** Target: every page interactive within this many ms of navigation start. */
export const PAGE_INTERACTIVE_TARGET_MS = 1500;
/** Cold loads per page; the median is reported. */
const PAGE_RUNS = 3;
/** What the README's screenshots show: a search steered towards lensing, a lensing feature list. */
const SCREENSHOTS: ScreenshotOptions = {
  query: "dark matter halo density profiles",
  steer: { label: "gravitational lensing", form: "add", value: 0.6 },
  listLabel: "lensing",
  listText: "Weak gravitational lensing measurements of galaxy cluster masses and halo profiles",
};

/** The page-timing table (Markdown). */
export function formatPageTimes(pages: readonly PageTime[]): string {
  const lines = ["| page | first paint (ms) | interactive (ms) | target |", "|---|---|---|---|"];
  for (const p of pages) lines.push(`| ${p.page} | ${p.firstPaintMs} | ${p.interactiveMs} | ≤ ${PAGE_INTERACTIVE_TARGET_MS} ${p.interactiveMs <= PAGE_INTERACTIVE_TARGET_MS ? "met" : "missed"} |`);
  return lines.join("\n");
}

/** The table of a report. */
export function formatExploreBench(benches: readonly ExploreServerBench[]): string {
  const lines = ["| domain | case | rows searched | requests | p50 ms | p95 ms | max ms | p95 target |", "|---|---|---|---|---|---|---|---|"];
  for (const b of benches) {
    for (const r of b.rows) lines.push(`| ${b.domain} | ${r.case} | ${b.documents} | ${r.requests} | ${r.p50Ms.toFixed(1)} | ${r.p95Ms.toFixed(1)} | ${r.maxMs.toFixed(1)} | ≤ ${b.targetP95Ms} ${r.p95Ms <= b.targetP95Ms ? "met" : "missed"} |`);
  }
  return lines.join("\n");
}

/** `npm run bench:explore` (server side): returns the exit code. */
export async function benchExploreMain(args: BenchExploreArgs): Promise<number> {
  if (args.help) {
    console.log(BENCH_EXPLORE_USAGE);
    return 0;
  }
  const embedder = await createUseLiteEmbedder({ workers: 1 });
  try {
    const requests = args.requests === undefined ? 200 : Number(args.requests);
    if (!Number.isInteger(requests) || requests < 1) throw new SaerchError(`--requests must be a positive integer, got "${args.requests}"`);
    const startedAt = new Date().toISOString();
    const log = (line: string): void => void process.stderr.write(`${line}\n`);
    const inputs = await loadDefaultInputs({ profile: resolveProfile(), embedder, log });
    const { path } = await ensureExplorerDb(inputs, { embedder, log });
    const db = ExplorerDb.open(path);
    const webDir = args["no-pages"] ? undefined : ensureWeb({ build: true });
    if (!args["no-pages"] && !webDir) throw new SaerchError("the front end is not built, so its pages cannot be timed", "run npm run build:web, or pass --no-pages");
    const opened = openExplorerContext({ db, store: inputs.store, embedder, saes: inputs.domains.map((d) => ({ domain: d.domain, params: d.params, k: d.k })), ...(webDir ? { webDir } : {}) });
    const app = createExplorerApp(opened.ctx);
    const benches: ExploreServerBench[] = [];
    let pages: PageTime[] | undefined;
    let screenshots: string[] | undefined;
    try {
      for (const dom of inputs.domains.filter((d) => args.domain === undefined || d.domain === args.domain)) {
        // Queries: titles of the domain's documents, spread over it (a stand-in for real user queries).
        const step = Math.max(1, Math.floor(dom.rows.length / requests));
        const queries = Array.from({ length: Math.min(requests, dom.rows.length) }, (_, i) => inputs.docs[dom.rows[i * step]!]!.title);
        benches.push(await runExploreServerBench(app, { domain: dom.domain, queries, requests, socket: args.socket ?? false, indexedRows: inputs.store.count }));
      }
      if (webDir) {
        const server = await new Promise<ReturnType<typeof serve>>((ok) => {
          const srv = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => ok(srv));
        });
        try {
          const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
          log("timing every page cold in Chromium (3 loads each) …");
          pages = await measurePageTimes(base, { runs: PAGE_RUNS });
          if (args.screenshots) screenshots = (await captureExplorerScreenshots(base, figuresDir(), SCREENSHOTS)).map(displayPath);
        } finally {
          await new Promise<void>((ok) => server.close(() => ok()));
        }
      }
    } finally {
      await opened.close();
      db.close();
    }
    if (benches.length === 0) throw new SaerchError(`no domain ${args.domain ?? ""} in the default run`);
    const report = {
      documents: inputs.store.count,
      benches,
      ...(pages ? { pages, pageTargetMs: PAGE_INTERACTIVE_TARGET_MS } : {}),
      ...(screenshots ? { screenshots } : {}),
    };
    const config = { requests, domain: args.domain ?? "all", socket: args.socket ?? false, pages: !args["no-pages"], pageRuns: PAGE_RUNS, profile: resolveProfile() };
    const { path: out } = writeBenchRecord("explore", { config, figures: report, startedAt, ...(args.out ? { out: args.out } : {}) });
    if (args.json) console.log(JSON.stringify({ ...report, out: displayPath(out) }));
    else console.log(`${formatExploreBench(benches)}${pages ? `\n\n${formatPageTimes(pages)}` : ""}\n\nrecorded in ${displayPath(out)}`);
    return 0;
  } catch (err) {
    console.error(describeError(err));
    return 1;
  } finally {
    await embedder.close();
  }
}
