/**
 * A real explorer server on a free loopback port over the synthetic fixture run (tests/explore/fixture.ts),
 * for the browser tests: `const s = await startFixtureServer(); … page.goto(s.url) …; await s.close()`.
 * Serves the built front end from dist/explore/web/ when it is there (build it first with
 * scripts/build-web.mjs), and the whole API in any case. Everything lives in a temporary directory that
 * `close()` removes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import { buildExplorerDb } from "../../src/explore/build.js";
import { EXPLORER_DB_FILE, ExplorerDb } from "../../src/explore/db.js";
import { createExplorerApp, openExplorerContext } from "../../src/explore/server.js";
import { repoPath } from "../../src/io/paths.js";
import { fixtureInputs } from "./fixture.js";

/** A running fixture server. */
export interface FixtureServer {
  /** e.g. "http://127.0.0.1:41234" (no trailing slash). */
  url: string;
  close(): Promise<void>;
}

/** Options of startFixtureServer. */
export interface FixtureServerOptions {
  /** Folder of the built front end (default dist/explore/web). */
  webDir?: string;
  /** Build without labels or families (pages must say what is missing). */
  labels?: boolean;
  families?: boolean;
}

/** The fixture's app without a socket, with what it owns. */
export interface FixtureApp {
  app: Hono;
  close(): Promise<void>;
}

/** Build the fixture run's database in a temporary directory and open its app (no socket). */
export async function openFixtureApp(opts: FixtureServerOptions = {}): Promise<FixtureApp> {
  const root = mkdtempSync(join(tmpdir(), "saerch-explore-fixture-"));
  const saved = process.env.SAERCH_DATA;
  process.env.SAERCH_DATA = join(root, "data");
  let opened: ReturnType<typeof openExplorerContext> | undefined;
  let db: ExplorerDb | undefined;
  try {
    const fx = await fixtureInputs(join(root, "run"), { ...(opts.labels !== undefined ? { labels: opts.labels } : {}), ...(opts.families !== undefined ? { families: opts.families } : {}) });
    const path = join(root, "data", "explore", "fixture", EXPLORER_DB_FILE);
    await buildExplorerDb(fx.inputs, { path, embedder: fx.embedder, progress: false, mapEpochs: 50 });
    db = ExplorerDb.open(path);
    opened = openExplorerContext({
      db,
      store: fx.inputs.store,
      embedder: fx.embedder,
      saes: fx.inputs.domains.map((d) => ({ domain: d.domain, params: d.params, k: d.k })),
      webDir: opts.webDir ?? repoPath("dist", "explore", "web"),
      threads: 1,
    });
    const ctx = opened;
    const database = db;
    return {
      app: createExplorerApp(opened.ctx),
      close: async () => {
        await ctx.close();
        database.close();
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await opened?.close();
    db?.close();
    rmSync(root, { recursive: true, force: true });
    throw err;
  } finally {
    if (saved === undefined) delete process.env.SAERCH_DATA;
    else process.env.SAERCH_DATA = saved;
  }
}

/** Start the fixture server; resolves once it listens. */
export async function startFixtureServer(opts: FixtureServerOptions = {}): Promise<FixtureServer> {
  const fixture = await openFixtureApp(opts);
  try {
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: fixture.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    const port = (server.address() as AddressInfo).port;
    return {
      url: `http://127.0.0.1:${port}`,
      close: async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await fixture.close();
      },
    };
  } catch (err) {
    await fixture.close();
    throw err;
  }
}
