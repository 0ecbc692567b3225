/**
 * Tests for tests/explore/fixture-server.ts, the helper the browser tests start: a real socket on a free
 * loopback port with the fixture run's API (and the built front end when dist/explore/web exists), closed
 * cleanly; and the server-side bench over it (src/explore/bench.ts).
 */
import { describe, expect, it } from "vitest";
import type { DomainsResponse, SearchResponse } from "../../src/explore/api.js";
import { formatExploreBench, formatPageTimes, runExploreServerBench } from "../../src/explore/bench.js";
import { findChromium, measurePageTimes } from "../../src/explore/web-bench.js";
import { openFixtureApp, startFixtureServer } from "./fixture-server.js";

describe("startFixtureServer", () => {
  it("serves the fixture run on 127.0.0.1 and closes", async () => {
    const s = await startFixtureServer();
    try {
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const d = (await (await fetch(`${s.url}/api/domains`)).json()) as DomainsResponse;
      expect(d.domains.map((x) => x.domain)).toEqual(["x"]);
      const r = await fetch(`${s.url}/api/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ domain: "x", query: "galaxy cluster" }) });
      expect(r.status).toBe(200);
      expect(((await r.json()) as SearchResponse).hits).toHaveLength(10);
      expect((await fetch(`${s.url}/api/features/x/64`)).status).toBe(404);
    } finally {
      await s.close();
    }
    await expect(fetch(`${s.url}/api/domains`)).rejects.toThrow();
  });

  it("can start without labels or families", async () => {
    const s = await startFixtureServer({ labels: false, families: false });
    try {
      const d = (await (await fetch(`${s.url}/api/domains`)).json()) as DomainsResponse;
      expect(d.domains[0]!.missing).toHaveLength(2);
    } finally {
      await s.close();
    }
  });
});

describe("runExploreServerBench", () => {
  it.each([false, true])("times searches and slider changes (socket: %s) and formats the table", async (socket) => {
    const fixture = await openFixtureApp();
    try {
      const b = await runExploreServerBench(fixture.app, { domain: "x", queries: ["galaxy cluster", "exoplanet transit"], requests: 8, warmup: 1, indexedRows: 600, socket });
      expect(b.transport).toBe(socket ? "socket" : "app.request");
      expect(b.rows.map((r) => r.case)).toEqual(["search (new query)", "slider change (same query, one feature)"]);
      for (const r of b.rows) {
        expect(r.requests).toBe(8);
        expect(r.p95Ms).toBeGreaterThanOrEqual(r.p50Ms);
        expect(r.maxMs).toBeGreaterThanOrEqual(r.p95Ms);
      }
      const table = formatExploreBench([b]);
      expect(table.split("\n")).toHaveLength(4);
      expect(table).toContain("| x | search (new query) | 600 | 8 |");
    } finally {
      await fixture.close();
    }
  });
});

describe.skipIf(!findChromium())("measurePageTimes", () => {
  it("loads every page of the fixture run cold and reports paint before interactive", async () => {
    const s = await startFixtureServer();
    try {
      const pages = await measurePageTimes(s.url, { runs: 1, query: "galaxy cluster" });
      expect(pages.map((p) => p.page)).toEqual(["search", "feature", "families", "family", "maps (features)", "maps (documents)", "lists"]);
      for (const p of pages) {
        expect(Number.isFinite(p.firstPaintMs) && p.firstPaintMs > 0).toBe(true);
        expect(p.interactiveMs).toBeGreaterThan(0);
      }
      const table = formatPageTimes(pages).split("\n");
      expect(table).toHaveLength(2 + pages.length);
      expect(table[2]).toMatch(/^\| search \| \d+ \| \d+ \| ≤ 1500 (met|missed) \|$/);
    } finally {
      await s.close();
    }
  }, 120_000);
});
