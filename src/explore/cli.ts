/**
 * The commands behind `npm run explore` and `npm run explore:build` (METHOD.md §8): reopen the default run's
 * artefacts, build (or reuse) its explorer database, build the front end if needed, and serve everything on
 * 127.0.0.1 — one command, no network. Binding beyond loopback needs an explicit `--host` and prints a
 * warning. Failures print one clear message (never a stack trace) and return a non-zero exit code.
 */
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { serve } from "@hono/node-server";
import { describeError, SaerchError } from "../core/errors.js";
import type { Embedder } from "../embed/embedder.js";
import { EmbeddingStore } from "../embed/store-reader.js";
import { createStoreEmbedder } from "../embed/store-embedder.js";
import { dataDir, displayPath, repoPath } from "../io/paths.js";
import { resolveProfile } from "../compute/profile.js";
import { loadSaeWeights } from "../sae/checkpoint.js";
import { EXPLORER_DB_FILE, ExplorerDb } from "./db.js";
import { inputsHash, type InputPiece, loadDefaultInputs, SAE_WEIGHTS_FILE } from "./inputs.js";
import { ensureExplorerDb } from "./run.js";
import { createExplorerApp, type OpenedContext, openExplorerContext } from "./server.js";

/** Default port of `npm run explore`. */
export const DEFAULT_PORT = 8450;
/** Default host: loopback only. */
export const DEFAULT_HOST = "127.0.0.1";
const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

/** Options of the two commands (strings as node:util parseArgs gives them). */
export interface ExploreArgs {
  run?: string;
  port?: string;
  host?: string;
  profile?: string;
  force?: boolean;
  "no-maps"?: boolean;
  "no-web"?: boolean;
  help?: boolean;
}

export const EXPLORE_USAGE = `usage: npm run explore [-- options]
  --run <dir>       serve the explorer database in <dir> (a data/explore/<runId> folder) instead of the default run's
  --port <p>        port (default ${DEFAULT_PORT})
  --host <h>        interface to bind (default ${DEFAULT_HOST}; anything else is reachable from other machines)
  --profile <p>     tiny | default | paper (default: $PROFILE, else default)
  --force           rebuild the database even when it is up to date
  --no-web          do not build the front end (serve what dist/explore/web holds, or the API only)
npm run explore:build [-- --profile <p> --force --no-maps] builds the database only.`;

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/**
 * Build the front end with the front-end's own script (scripts/build-web.mjs, which does nothing when its
 * output is up to date), unless asked not to.
 * @returns the folder to serve, or undefined when there is nothing to serve
 */
export function ensureWeb(opts: { build: boolean }): string | undefined {
  const out = repoPath("dist", "explore", "web");
  const script = repoPath("scripts", "build-web.mjs");
  if (opts.build) {
    if (!existsSync(script)) log("the front end's build script scripts/build-web.mjs is missing: serving the API only");
    else {
      const r = spawnSync(process.execPath, [script], { stdio: "inherit", cwd: repoPath() });
      if (r.status !== 0) throw new SaerchError(`scripts/build-web.mjs failed (exit ${r.status ?? "signal"})`, "fix the front end's build, or start with --no-web");
    }
  }
  return existsSync(join(out, "index.html")) ? out : undefined;
}

/** `npm run explore:build`. */
export async function exploreBuildMain(args: ExploreArgs): Promise<number> {
  if (args.help) {
    console.log(EXPLORE_USAGE);
    return 0;
  }
  let embedder: Embedder | undefined;
  try {
    const profile = resolveProfile(args.profile);
    const t0 = performance.now();
    const inputs = await loadDefaultInputs({ profile, embedder: (dir) => createStoreEmbedder(dir), log });
    embedder = inputs.embedder!;
    log(`artefacts reopened in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const { path, built } = await ensureExplorerDb(inputs, { embedder, force: args.force ?? false, maps: !(args["no-maps"] ?? false), log });
    if (built === null) console.log(`explorer database up to date: ${displayPath(path)} (${mb(path)} MB)`);
    else {
      const maps = Object.entries(built.mapSeconds).map(([m, s]) => `${m} ${s.toFixed(1)} s`).join(", ");
      console.log(`explorer database built in ${built.seconds.toFixed(1)} s: ${displayPath(path)} (${mb(path)} MB); UMAP: ${maps || "skipped"}; ${built.mapDocuments} documents on the map`);
    }
    for (const d of inputs.domains) for (const m of d.missing) console.log(`${d.domain}: ${m}`);
    return 0;
  } catch (err) {
    console.error(describeError(err));
    return 1;
  } finally {
    await embedder?.close();
  }
}

const mb = (path: string): string => (statSync(path).size / 2 ** 20).toFixed(1);

/** Open an explorer database folder built earlier (`--run`): its store and SAEs from the directories its meta records. */
export async function openRunDir(dir: string, embedder: Embedder | ((storeDir: string) => Promise<Embedder>), webDir: string | undefined): Promise<OpenedContext & { embedder: Embedder }> {
  const path = existsSync(join(dir, EXPLORER_DB_FILE)) ? join(dir, EXPLORER_DB_FILE) : dir;
  if (!existsSync(path) || !statSync(path).isFile()) throw new SaerchError(`no explorer database in ${dir}`, "pass a data/explore/<runId> folder built by npm run explore:build");
  const db = ExplorerDb.open(path);
  let made: Embedder | undefined;
  try {
    const meta = db.meta();
    const at = (rel: string | undefined): string => resolve(dataDir(), rel ?? ".");
    const store = EmbeddingStore.open(at(meta.store_dir));
    if (typeof embedder === "function") {
      made = await embedder(store.dir);
      embedder = made;
    }
    const saeDirs = JSON.parse(meta.sae_dirs ?? "{}") as Record<string, string>;
    const saes = Object.entries(saeDirs).map(([domain, rel]) => {
      const w = loadSaeWeights(join(at(rel), SAE_WEIGHTS_FILE));
      return { domain, params: w.params, k: w.k };
    });
    const pieces = (JSON.parse(meta.pieces ?? "[]") as InputPiece[]).map((p) => ({ dir: at(p.dir), files: p.files }));
    const stale = inputsHash(pieces) === meta.inputs_hash ? undefined : "the artefacts this database was built from have changed since: run npm run explore:build";
    if (stale) log(`warning: ${stale}`);
    const opened = openExplorerContext({ db, store, embedder, saes, ...(webDir ? { webDir } : {}), ...(stale ? { stale } : {}) });
    return { ...opened, embedder, close: async () => (await opened.close(), db.close()) };
  } catch (err) {
    await made?.close();
    db.close();
    throw err;
  }
}

/** `npm run explore`. */
export async function exploreMain(args: ExploreArgs): Promise<number> {
  if (args.help) {
    console.log(EXPLORE_USAGE);
    return 0;
  }
  let opened: OpenedContext | undefined;
  let embedder: Embedder | undefined;
  try {
    const port = args.port === undefined ? DEFAULT_PORT : Number(args.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SaerchError(`--port ${args.port} is not a port number`, `use e.g. --port ${DEFAULT_PORT}`);
    const host = args.host ?? DEFAULT_HOST;
    const webDir = ensureWeb({ build: !(args["no-web"] ?? false) });
    const makeEmbedder = (dir: string): Promise<Embedder> => createStoreEmbedder(dir);
    if (args.run !== undefined) {
      const o = await openRunDir(resolve(args.run), makeEmbedder, webDir);
      embedder = o.embedder;
      opened = o;
    } else {
      const profile = resolveProfile(args.profile);
      const inputs = await loadDefaultInputs({ profile, embedder: makeEmbedder, log });
      embedder = inputs.embedder!;
      const { path } = await ensureExplorerDb(inputs, { embedder, force: args.force ?? false, log });
      const db = ExplorerDb.open(path);
      const o = openExplorerContext({ db, store: inputs.store, embedder, saes: inputs.domains.map((d) => ({ domain: d.domain, params: d.params, k: d.k })), ...(webDir ? { webDir } : {}) });
      opened = { ...o, close: async () => (await o.close(), db.close()) };
    }
    const app = createExplorerApp(opened.ctx);
    if (!LOOPBACK.has(host)) log(`warning: binding to ${host}: the explorer is reachable from other machines on this network (it has no authentication)`);
    const server = serve({ fetch: app.fetch, port, hostname: host });
    await new Promise<void>((ok, fail) => {
      server.once("listening", ok);
      server.once("error", (err: NodeJS.ErrnoException) => fail(err.code === "EADDRINUSE" ? new SaerchError(`port ${port} on ${host} is in use`, "pick another with --port") : err));
    });
    const shown = host.includes(":") ? `[${host}]` : host;
    console.log(`explorer: http://${shown}:${port}/${webDir ? "" : "  (front end not built: API only)"}  — Ctrl-C stops it`);
    await new Promise<void>((done) => {
      const stop = (): void => {
        server.close(() => done());
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    return 0;
  } catch (err) {
    console.error(describeError(err));
    return 1;
  } finally {
    await opened?.close();
    await embedder?.close();
  }
}
