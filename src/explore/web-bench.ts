/**
 * Page timings of the explorer in headless Chromium, for `npm run bench:explore` (issue target: every page
 * interactive in ≤ 1.5 s). Each page is opened cold (a fresh browser context: nothing cached) and timed
 * from navigation start to its first contentful paint and to the front end's "explorer-ready" mark (set
 * when the page has drawn its data: src/explore/web/app.ts). Also the Chromium launch shared with the
 * browser tests (tests/explore/browser.test.ts): Debian's chromium, headless, WebGL through SwiftShader.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { SaerchError } from "../core/errors.js";
import type { DomainsResponse, FamiliesResponse, FamilyResponse } from "./api.js";

/** Where Chromium is looked for when SAERCH_CHROMIUM is not set (never a downloaded browser). */
const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** Headless, offline, and WebGL on the CPU (SwiftShader) so the maps draw without a GPU. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--use-angle=swiftshader",
  "--enable-unsafe-swiftshader",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The Chromium executable: SAERCH_CHROMIUM when set (empty: none), else the usual Debian locations. */
export function findChromium(): string | undefined {
  const override = process.env.SAERCH_CHROMIUM;
  if (override !== undefined) return override !== "" && existsSync(override) ? override : undefined;
  return CANDIDATES.find((p) => existsSync(p));
}

/** Launch headless Chromium for the explorer. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new SaerchError("no Chromium found to time the explorer's pages", "apt-get install -y chromium, or set SAERCH_CHROMIUM");
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}

/** JS run in the page: true once the front end has drawn (or shown an error). */
export const PAGE_SETTLED = "document.documentElement.dataset.ready === 'ready' || document.documentElement.dataset.ready === 'error'";

/** Wait until the page at its current URL has drawn; returns its final state ("ready" or "error"). */
export async function waitForPage(page: Page, timeoutMs = 20_000): Promise<string> {
  await page.waitForFunction(PAGE_SETTLED, null, { timeout: timeoutMs });
  return (await page.evaluate("document.documentElement.dataset.ready")) as string;
}

/** Longest wait for the browser's paint timing entry after a page is ready. */
const PAINT_WAIT_MS = 5_000;

/** One page's timings (ms from navigation start; medians over the runs). */
export interface PageTime {
  page: string;
  firstPaintMs: number;
  interactiveMs: number;
}

export interface MeasureOptions {
  /** Query of the search page (and the documents map's highlight). */
  query?: string;
  /** Cold loads per page; the median is reported (default 3). */
  runs?: number;
  /** Viewport (default 1280 × 900). */
  width?: number;
  height?: number;
}

async function getJson<T>(url: string): Promise<T | null> {
  try {
    const res = await fetch(url);
    return res.ok ? ((await res.json()) as T) : null;
  } catch {
    return null;
  }
}

/** The pages to time, with ids picked from the run itself (its first domain and first family). */
async function pagesOf(baseUrl: string, query: string): Promise<Array<{ page: string; hash: string }>> {
  const domains = await getJson<DomainsResponse>(`${baseUrl}/api/domains`);
  const d = domains?.domains[0];
  if (!d) throw new SaerchError(`the explorer at ${baseUrl} lists no domains`, "start it with `npm run explore` on a run with trained SAEs");
  const dq = `d=${encodeURIComponent(d.domain)}`;
  const families = d.families > 0 ? await getJson<FamiliesResponse>(`${baseUrl}/api/families/${encodeURIComponent(d.domain)}`) : null;
  const fam = families?.families[0];
  const detail = fam ? await getJson<FamilyResponse>(`${baseUrl}/api/families/${encodeURIComponent(d.domain)}/${fam.id}`) : null;
  const feature = fam?.root ?? 0;
  const listFeatures = [feature, ...(detail?.members.slice(0, 4).map((m) => m.feature) ?? [])].join(",");
  const q = encodeURIComponent(query);
  return [
    { page: "search", hash: `#/search?${dq}&q=${q}` },
    { page: "feature", hash: `#/feature/${feature}?${dq}` },
    { page: "families", hash: `#/families?${dq}` },
    ...(fam ? [{ page: "family", hash: `#/family/${fam.id}?${dq}` }] : []),
    ...(d.maps
      ? [
          { page: "maps (features)", hash: `#/maps?${dq}&kind=features` },
          { page: "maps (documents)", hash: `#/maps?${dq}&kind=documents&q=${q}` },
        ]
      : []),
    { page: "lists", hash: `#/lists?${dq}&name=bench&f=${listFeatures}&text=${q}` },
  ];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * Time to first paint and to interactive of every explorer page, each loaded cold in Chromium.
 * @param baseUrl the running explorer, e.g. "http://127.0.0.1:8450"
 * @throws SaerchError when there is no Chromium, the explorer lists no domains, or a page never draws
 */
export async function measurePageTimes(baseUrl: string, opts: MeasureOptions = {}): Promise<PageTime[]> {
  const base = baseUrl.replace(/\/+$/, "");
  const pages = await pagesOf(base, opts.query ?? "dark matter halos");
  const runs = Math.max(1, opts.runs ?? 3);
  const browser = await launchChromium();
  try {
    const out: PageTime[] = [];
    for (const { page: name, hash } of pages) {
      const paints: number[] = [];
      const ready: number[] = [];
      for (let r = 0; r < runs; r++) {
        const context = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 } });
        try {
          const page = await context.newPage();
          await page.goto(`${base}/${hash}`);
          const state = await waitForPage(page);
          if (state !== "ready") throw new SaerchError(`the ${name} page showed an error (${hash})`, "open it in a browser to read the message");
          // The paint entry can be recorded a frame after the page is ready.
          await page.waitForFunction("performance.getEntriesByType('paint').length > 0", null, { timeout: PAINT_WAIT_MS }).catch(() => undefined);
          const t = (await page.evaluate(
            `(() => { const p = performance.getEntriesByName("first-contentful-paint")[0] ?? performance.getEntriesByName("first-paint")[0];
              const r = performance.getEntriesByName("explorer-ready")[0];
              return { paint: p ? p.startTime : NaN, ready: r ? r.startTime : NaN }; })()`,
          )) as { paint: number; ready: number };
          paints.push(t.paint);
          ready.push(t.ready);
        } finally {
          await context.close();
        }
      }
      out.push({ page: name, firstPaintMs: Math.round(median(paints)), interactiveMs: Math.round(median(ready)) });
    }
    return out;
  } finally {
    await browser.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Screenshots of every page (figures/explorer-*.png, linked from README).

/** Strength of an "add" steer when none is given. */
const DEFAULT_ADD_STRENGTH = 0.5;
/** Tallest screenshot, CSS px: long pages are cut here. */
const SHOT_MAX_HEIGHT = 1700;

export interface ScreenshotOptions {
  /** Domain shown (default: the run's first). */
  domain?: string;
  /** The search page's query. */
  query?: string;
  /**
   * A label searched for (keyword mode) whose best match steers the search: clamped to `value` (default: its
   * largest activation) or added with strength `value` (default 0.5).
   */
  steer?: { label: string; form: "clamp" | "add"; value?: number };
  /** The lists page: its features are the best matches of this label search (default: the steer's label). */
  listLabel?: string;
  /** The test text of the lists page (default: the title of the first list feature's top document). */
  listText?: string;
}

/**
 * Open each page of a running explorer and save `explorer-<page>.png` into `outDir`: search (steered),
 * feature, families (first family opened), family, maps (documents map with the search highlighted), lists.
 * @returns the files written
 */
export async function captureExplorerScreenshots(baseUrl: string, outDir: string, opts: ScreenshotOptions = {}): Promise<string[]> {
  const base = baseUrl.replace(/\/+$/, "");
  const domains = await getJson<DomainsResponse>(`${base}/api/domains`);
  const d = domains?.domains.find((x) => x.domain === (opts.domain ?? x.domain));
  if (!d) throw new SaerchError(`the explorer at ${base} has no domain ${opts.domain ?? ""}`.trim());
  const dq = encodeURIComponent(d.domain);
  const query = opts.query ?? "dark matter halo density profiles";
  const labels = async (q: string, limit: number): Promise<number[]> => {
    const res = await getJson<{ results: Array<{ feature: number }> }>(`${base}/api/labels?domain=${dq}&q=${encodeURIComponent(q)}&limit=${limit}`);
    return res?.results.map((r) => r.feature) ?? [];
  };
  let steer = "";
  const steerFeature = opts.steer ? (await labels(opts.steer.label, 1))[0] : undefined;
  if (opts.steer && steerFeature !== undefined) {
    let value = opts.steer.value ?? DEFAULT_ADD_STRENGTH;
    if (opts.steer.form === "clamp" && opts.steer.value === undefined) {
      const f = await getJson<{ histogram: { edges: number[] } }>(`${base}/api/features/${dq}/${steerFeature}`);
      value = f?.histogram.edges.at(-1) ?? 0.1;
    }
    steer = `${opts.steer.form === "add" ? "&form=add" : ""}&f=${steerFeature}%3A${Number(value.toPrecision(3))}`;
  }
  const families = d.families > 0 ? await getJson<FamiliesResponse>(`${base}/api/families/${dq}`) : null;
  const family = families?.families.find((f) => f.size >= 8 && f.size <= 30) ?? families?.families[0];
  const feature = family?.root ?? 0;
  const listLabel = opts.listLabel ?? opts.steer?.label ?? query.split(" ")[0] ?? "data";
  const listIds = await labels(listLabel, 8);
  const listFeatures = listIds.join(",") || String(feature);
  const firstTop = await getJson<{ top: Array<{ title: string }> }>(`${base}/api/features/${dq}/${listIds[0] ?? feature}`);
  const listText = opts.listText ?? firstTop?.top[0]?.title ?? query;
  const q = encodeURIComponent(query);
  const shots: Array<{ name: string; hash: string; then?: (page: Page) => Promise<void> }> = [
    { name: "search", hash: `#/search?d=${dq}&q=${q}${steer}` },
    { name: "feature", hash: `#/feature/${feature}?d=${dq}` },
    {
      name: "families",
      hash: `#/families?d=${dq}`,
      then: async (page) => {
        await page.locator("details.family-node > summary").first().click();
        await page.waitForSelector(".member-tree", { timeout: 10_000 });
      },
    },
    ...(family ? [{ name: "family", hash: `#/family/${family.id}?d=${dq}` }] : []),
    { name: "maps", hash: `#/maps?d=${dq}&kind=documents&color=domain&q=${q}${steer}` },
    { name: "lists", hash: `#/lists?d=${dq}&name=${encodeURIComponent(listLabel)}&f=${listFeatures}&text=${encodeURIComponent(listText)}` },
  ];
  const browser = await launchChromium();
  const written: string[] = [];
  try {
    for (const shot of shots) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      try {
        const page = await context.newPage();
        await page.goto(`${base}/${shot.hash}`);
        if ((await waitForPage(page)) !== "ready") throw new SaerchError(`the ${shot.name} page showed an error (${shot.hash})`);
        await shot.then?.(page);
        await page.waitForTimeout(300); // let charts finish their transitions
        const height = Math.min(SHOT_MAX_HEIGHT, (await page.evaluate("document.documentElement.scrollHeight")) as number);
        const path = `${outDir.replace(/\/+$/, "")}/explorer-${shot.name}.png`;
        await page.screenshot({ path, fullPage: true, clip: { x: 0, y: 0, width: 1280, height } });
        written.push(path);
      } finally {
        await context.close();
      }
    }
  } finally {
    await browser.close();
  }
  return written;
}
