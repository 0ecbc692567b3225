/**
 * End-to-end tests of the explorer's front end in Debian's headless Chromium (playwright-core; WebGL through
 * SwiftShader for the maps), against the real server over the synthetic fixture run (fixture-server.ts:
 * domain "x", 64 labelled features in 6 planted families, 600 documents). The bundle is built first
 * (scripts/build-web.mjs: a no-op when up to date). Skipped, saying why, when no Chromium is installed.
 */
import { execFileSync } from "node:child_process";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MapResponse } from "../../src/explore/api.js";
import { findChromium, launchChromium, waitForPage } from "../../src/explore/web-bench.js";
import { repoPath } from "../../src/io/paths.js";
import { type FixtureServer, startFixtureServer } from "./fixture-server.js";

const CHROMIUM = findChromium();
const SUITE = CHROMIUM ? "explorer in chromium" : "explorer in chromium (skipped: no Chromium at /usr/bin/chromium; apt-get install -y chromium or set SAERCH_CHROMIUM)";
const D = "x";
/** Long enough for a cold page on a busy 2-core machine. */
const STEP_MS = 20_000;

function buildWeb(): void {
  execFileSync(process.execPath, [repoPath("scripts", "build-web.mjs")], { stdio: "pipe" });
}

/** The result ids shown, in order. */
function hitIds(page: Page): Promise<string[]> {
  return page.locator(".hit").evaluateAll((els) => els.map((e) => e.getAttribute("data-id") ?? ""));
}

/** An element as the page-side callbacks below use it (this file is type-checked without DOM types). */
interface RangeInput {
  value: string;
  dispatchEvent(event: Event): boolean;
}

/** Move a range input to `value` the way a drag does (input events). */
async function slide(page: Page, selector: string, value: number): Promise<void> {
  await page.locator(selector).evaluate((el: RangeInput, v: number) => {
    el.value = String(v);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }, value);
}

/** Wait for a condition evaluated in the page (a JS expression). */
async function until(page: Page, expression: string): Promise<void> {
  await page.waitForFunction(expression, null, { timeout: STEP_MS });
}

/** Wait until the results have been redrawn more than `count` times and no search is in flight. */
async function searchesAfter(page: Page, count: number): Promise<void> {
  await until(page, `Number(document.querySelector(".results")?.dataset.searches ?? 0) > ${count}`);
  await until(page, `!document.querySelector(".results")?.classList.contains("stale")`);
}

async function searches(page: Page): Promise<number> {
  return Number((await page.locator(".results").getAttribute("data-searches")) ?? 0);
}

describe.skipIf(!CHROMIUM)(SUITE, () => {
  let server: FixtureServer;
  let browser: Browser;
  const errors: string[] = [];

  beforeAll(async () => {
    buildWeb();
    server = await startFixtureServer();
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A fresh page (own context: no shared state) that records uncaught page errors. */
  async function open(hash: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(`${hash}: ${e.message}`));
    await page.goto(`${server.url}/${hash}`);
    await waitForPage(page, STEP_MS);
    return page;
  }

  it("types a query and shows the top 10 with the query's features as sliders", async () => {
    const page = await open(`#/search?d=${D}`);
    await page.fill("input.query", "galaxy cluster");
    await page.press("input.query", "Enter");
    await page.waitForSelector(".hit", { timeout: STEP_MS });
    expect(await page.locator(".hit").count()).toBe(10);
    expect(await page.locator(".hit-title").first().getAttribute("href")).toMatch(/^https:\/\/arxiv\.org\/abs\//);
    expect(await page.locator(".sliders:not(.added):not(.families) .slider-row").count()).toBeGreaterThan(0);
    expect(page.url()).toContain("q=galaxy+cluster");
    // Sliders span the feature's observed range, not 0–1.
    const maxes = await page.locator(".slider-row input[type=range]").evaluateAll((els) => els.map((e) => Number(e.getAttribute("max"))));
    expect(maxes.some((m) => m !== 1)).toBe(true);
    await page.context().close();
  });

  it("moves a slider and the results and cos(q, q′) change live; a shared URL reloads the same steered results", async () => {
    const page = await open(`#/search?d=${D}&q=galaxy+cluster`);
    await page.waitForSelector(".hit", { timeout: STEP_MS });
    const before = await hitIds(page);
    const cosBefore = await page.locator("#cos strong").textContent();
    const n = await searches(page);
    // Push the weakest active feature to the top of its range: the query now means something else.
    const last = page.locator(".sliders:not(.added):not(.families) .slider-row input[type=range]").last();
    const max = Number(await last.getAttribute("max"));
    const id = await last.getAttribute("data-id");
    await slide(page, `.slider-row[data-id="${id}"] input[type=range]`, max);
    await searchesAfter(page, n);
    const after = await hitIds(page);
    expect(after).not.toEqual(before);
    expect(await page.locator("#cos strong").textContent()).not.toBe(cosBefore);
    expect(page.url()).toContain(`f=${id}%3A`);

    const shared = page.url();
    const cos = await page.locator("#cos strong").textContent();
    const again = await open(shared.slice(server.url.length + 1));
    await again.waitForSelector(".hit", { timeout: STEP_MS });
    expect(await hitIds(again)).toEqual(after);
    expect(await again.locator("#cos strong").textContent()).toBe(cos);
    expect(await again.locator(`.slider-row.edited[data-id="${id}"]`).count()).toBe(1);
    await page.context().close();
    await again.context().close();
  });

  it("switches to the add form and steers with a strength", async () => {
    const page = await open(`#/search?d=${D}&q=galaxy+cluster`);
    await page.waitForSelector(".hit", { timeout: STEP_MS });
    const before = await hitIds(page);
    const n = await searches(page);
    await page.check("input[name=form][value=add]");
    await searchesAfter(page, n);
    const input = page.locator(".sliders:not(.added):not(.families) .slider-row input[type=range]").first();
    expect(Number(await input.getAttribute("min"))).toBeLessThan(0);
    const id = await input.getAttribute("data-id");
    const m = await searches(page);
    await slide(page, `.slider-row[data-id="${id}"] input[type=range]`, -5);
    await searchesAfter(page, m);
    expect(page.url()).toContain("form=add");
    expect(await hitIds(page)).not.toEqual(before);
    await page.context().close();
  });

  it("adds a feature by label search and a family slider", async () => {
    const page = await open(`#/search?d=${D}&q=galaxy+cluster`);
    await page.waitForSelector(".hit", { timeout: STEP_MS });
    await page.fill("input.label-query", "supernova");
    const add = page.locator(".label-results button.add-feature").first();
    await add.waitFor({ timeout: STEP_MS });
    const feature = await add.getAttribute("data-feature");
    await add.click();
    await page.waitForSelector(`.sliders.added .slider-row[data-id="${feature}"]`, { timeout: STEP_MS });
    expect(page.url()).toContain(`${feature}%3A`);

    await page.fill("input.family-query", "supernova");
    const addFamily = page.locator(".family-results button.add-family").first();
    await addFamily.waitFor({ timeout: STEP_MS });
    const family = await addFamily.getAttribute("data-family");
    await addFamily.click();
    const row = `.sliders.families .slider-row[data-id="${family}"]`;
    await page.waitForSelector(row, { timeout: STEP_MS });
    const n = await searches(page);
    const max = Number(await page.locator(`${row} input[type=range]`).getAttribute("max"));
    await slide(page, `${row} input[type=range]`, max);
    await searchesAfter(page, n);
    expect(page.url()).toContain(`fam=${family}%3A`);
    // Strongly steered towards supernovae: the top result is about them.
    expect((await page.locator(".hit-title").first().textContent())?.toLowerCase()).toContain("supernova");
    await page.context().close();
  });

  it("opens a feature page from a search and tests a text on it", async () => {
    const page = await open(`#/search?d=${D}&q=galaxy+cluster`);
    await page.waitForSelector(".slider-row a.feature-link", { timeout: STEP_MS });
    const link = page.locator(".sliders:not(.added) .slider-row a.feature-link").first();
    const label = (await link.getAttribute("title")) ?? "";
    await link.click();
    await page.waitForURL(/#\/feature\/\d+/, { timeout: STEP_MS });
    await waitForPage(page, STEP_MS);
    expect(await page.locator("h1.feature-label").textContent()).toBe(label);
    await page.waitForSelector(".histogram .main-svg", { timeout: STEP_MS });
    expect(await page.locator("table.docs").first().locator("tbody tr").count()).toBeGreaterThan(0);
    expect(await page.locator(".neighbours").count()).toBe(3);
    await page.fill("textarea.test-text", "galaxy cluster galaxy cluster");
    await page.click(".test-form button[type=submit]");
    await page.waitForSelector(".test-result .activation", { timeout: STEP_MS });
    expect(await page.locator(".test-result .activation strong").textContent()).toMatch(/^\d+\.\d{3}$/);
    await page.context().close();
  });

  it("expands a family in the tree and opens its page with graph and co-occurrence block", async () => {
    const page = await open(`#/families?d=${D}`);
    const node = page.locator("details.family-node").first();
    await node.locator("summary").click();
    await node.locator(".member-tree li").first().waitFor({ timeout: STEP_MS });
    expect(await node.locator(".member-tree li").count()).toBeGreaterThan(1);
    await node.locator("a.open-family").click();
    await page.waitForURL(/#\/family\/\d+/, { timeout: STEP_MS });
    await waitForPage(page, STEP_MS);
    await page.waitForSelector(".family-graph .main-svg", { timeout: STEP_MS });
    await page.waitForSelector(".family-block .main-svg", { timeout: STEP_MS });
    expect(await page.locator(".family-block .heatmaplayer").count()).toBe(1);
    await page.context().close();
  });

  it("clicks a point on the features map and lands on its feature page", async () => {
    const res = await fetch(`${server.url}/api/maps/${D}/features`);
    const map = (await res.json()) as MapResponse;
    // The most isolated point, so the click cannot hit a neighbour.
    const n = map.ids.length;
    let best = 0;
    let bestGap = -1;
    for (let i = 0; i < n; i++) {
      let gap = Infinity;
      for (let j = 0; j < n; j++) {
        if (i !== j) gap = Math.min(gap, Math.hypot(map.points[2 * i]! - map.points[2 * j]!, map.points[2 * i + 1]! - map.points[2 * j + 1]!));
      }
      if (gap > bestGap) [best, bestGap] = [i, gap];
    }
    const page = await open(`#/maps?d=${D}&kind=features`);
    await until(page, "window.explorerMap !== undefined");
    const at = (await page.evaluate(`window.explorerMap.pagePosition(${best})`)) as [number, number] | null;
    expect(at).not.toBeNull();
    await page.mouse.move(at![0], at![1]);
    await page.waitForSelector(".map-tooltip:not([hidden])", { timeout: STEP_MS });
    expect(await page.locator(".map-tooltip").textContent()).toContain(`#${map.ids[best]}`);
    await page.mouse.click(at![0], at![1]);
    await page.waitForURL(new RegExp(`#/feature/${map.ids[best]}\\?`), { timeout: STEP_MS });
    await waitForPage(page, STEP_MS);
    expect(await page.locator("h1.feature-label").count()).toBe(1);
    await page.context().close();
  });

  it("highlights a search's results on the documents map", async () => {
    const page = await open(`#/maps?d=${D}&kind=documents&q=supernova+remnant`);
    await page.waitForSelector(".highlights .hits li", { timeout: STEP_MS });
    expect(await page.locator(".highlights .hits li.on-map").count()).toBe(10);
    await page.context().close();
  });

  it("saves a feature list and runs a text across it", async () => {
    const page = await open(`#/lists?d=${D}`);
    await page.fill("input.list-name", "galaxies");
    await page.fill("input.label-query", "galaxy");
    await page.locator(".label-results button.add-feature").first().waitFor({ timeout: STEP_MS });
    for (let i = 0; i < 3; i++) await page.locator(".label-results button.add-feature:not([disabled])").first().click();
    expect(await page.locator(".chip").count()).toBe(3);
    await page.click("button.save-list");
    await until(page, `/saved as list \\d+/.test(document.querySelector(".save-status")?.textContent ?? "")`);
    await page.waitForSelector(".saved-lists li a", { timeout: STEP_MS });
    await page.fill("textarea.list-text", "a galaxy cluster at high redshift");
    await page.click(".list-run-form button[type=submit]");
    await page.waitForSelector("table.list-run tbody tr", { timeout: STEP_MS });
    expect(await page.locator("table.list-run tbody tr").count()).toBe(3);
    expect(page.url()).toMatch(/name=galaxies&f=\d+%2C\d+%2C\d+&text=/);
    await page.context().close();
  });

  it("names what is wrong with a malformed URL and still shows the page", async () => {
    const page = await open(`#/search?d=${D}&q=galaxy&f=abc:1,5:zz,7:0.2&form=sideways&t=7`);
    const problems = page.locator(".url-problems");
    await problems.waitFor({ timeout: STEP_MS });
    const text = (await problems.textContent()) ?? "";
    expect(text).toContain("malformed feature edit");
    expect(text).toContain('"sideways" is not an intervention form');
    expect(text).toContain("density threshold");
    await page.waitForSelector(".hit", { timeout: STEP_MS });
    expect(await page.locator(".slider-row.edited[data-id='7']").count()).toBe(1);
    await page.context().close();

    for (const [hash, expected] of [
      [`#/feature/99999?d=${D}`, "Feature 99999 is not in this SAE"],
      [`#/feature/abc?d=${D}`, '"abc" is not a feature id'],
      [`#/family/4242?d=${D}`, "Family 4242 is not among"],
      [`#/nowhere?d=${D}`, 'there is no page "nowhere"'],
      [`#/search?d=nosuchdomain`, 'this run has no domain "nosuchdomain"'],
      [`#/search?d=${D}&q=galaxy&f=99999:0.5`, "feature 99999 is not in this SAE"],
    ] as const) {
      const p = await open(hash);
      await until(p, `document.body.textContent.includes(${JSON.stringify(expected)})`);
      expect(await p.locator("body").textContent()).not.toMatch(/at \w+ \(|TypeError|undefined/);
      await p.context().close();
    }
  });

  it("threw no uncaught errors in any page", () => {
    expect(errors).toEqual([]);
  });
});

describe.skipIf(!CHROMIUM)(`${SUITE}: a run without labels or families`, () => {
  let server: FixtureServer;
  let browser: Browser;

  beforeAll(async () => {
    buildWeb();
    server = await startFixtureServer({ labels: false, families: false });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("says what is missing and which notebook makes it; search still works", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/#/families?d=${D}`);
    await waitForPage(page, STEP_MS);
    expect(await page.locator("main").textContent()).toContain("notebooks/05-families.ipynb");
    expect(await page.locator("#notices .missing").textContent()).toContain("notebooks/04");

    const search = await context.newPage();
    await search.goto(`${server.url}/#/search?d=${D}&q=galaxy&fam=0:0.5`);
    await waitForPage(search, STEP_MS);
    await search.waitForSelector(".hit", { timeout: STEP_MS });
    expect(await search.locator(".family-picker").textContent()).toContain("notebooks/05-families.ipynb");
    expect(await search.locator(".url-problems").textContent()).toContain("family edits in the link were dropped");
    expect(await search.locator(".slider-row .feature-link").first().textContent()).toContain("unlabelled");

    const feature = await context.newPage();
    await feature.goto(`${server.url}/#/feature/3?d=${D}`);
    await waitForPage(feature, STEP_MS);
    expect(await feature.locator(".page-head").textContent()).toContain("no labels: run notebooks/04-interpret.ipynb");
    await context.close();
  });
});
