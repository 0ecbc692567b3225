/**
 * Where a run's explorer database lives and whether it is up to date: `data/explore/<runId>/explorer.sqlite`,
 * the run id derived from the inputs' identities (their run ids: store, SAEs, labels, families, sweep cells);
 * the database is stale when its schema version or the hash of its input files (src/explore/inputs.ts)
 * differs, and is then rebuilt.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Embedder } from "../embed/embedder.js";
import { artefactRun } from "../io/artefact.js";
import { type BuildReport, buildExplorerDb } from "./build.js";
import { EXPLORER_DB_FILE, EXPLORER_DB_VERSION } from "./db.js";
import { type ExplorerInputs, inputsHash, inputsIdentity } from "./inputs.js";

/** Stage folder of explorer runs under data/. */
export const EXPLORE_STAGE = "explore";

/** The explorer run directory of `inputs` (created, with its config.json). */
export function explorerRunDir(inputs: ExplorerInputs): string {
  // The schema version is not part of the id: a new version rebuilds in place, keeping the saved lists.
  return artefactRun(EXPLORE_STAGE, inputsIdentity(inputs), `explore-${inputs.profile}`).dir;
}

/** Why a database needs building, or null when it is up to date. */
export function staleness(path: string, inputs: ExplorerInputs): string | null {
  if (!existsSync(path)) return "there is no explorer database yet";
  let meta: Record<string, string>;
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      meta = Object.fromEntries((db.prepare("SELECT key, value FROM meta").all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    } finally {
      db.close();
    }
  } catch {
    return "the explorer database cannot be read";
  }
  if (meta.version !== String(EXPLORER_DB_VERSION)) return `the explorer database has schema version ${meta.version ?? "?"}, not ${EXPLORER_DB_VERSION}`;
  if (meta.inputs_hash !== inputsHash(inputs.pieces)) return "its inputs changed since it was built";
  return null;
}

/** Options of ensureExplorerDb. */
export interface EnsureOptions {
  embedder: Embedder;
  /** Rebuild even when up to date. */
  force?: boolean;
  /** Database file (default: the run directory's explorer.sqlite). */
  path?: string;
  progress?: boolean;
  maps?: boolean;
  mapEpochs?: number;
  log?: (line: string) => void;
}

/** Build the database of `inputs` unless it is up to date. */
export async function ensureExplorerDb(inputs: ExplorerInputs, opts: EnsureOptions): Promise<{ path: string; built: BuildReport | null }> {
  const path = opts.path ?? join(explorerRunDir(inputs), EXPLORER_DB_FILE);
  const why = opts.force ? "a rebuild was asked for" : staleness(path, inputs);
  if (why === null) return { path, built: null };
  opts.log?.(`building the explorer database (${why}) …`);
  const built = await buildExplorerDb(inputs, {
    path,
    embedder: opts.embedder,
    ...(opts.progress !== undefined ? { progress: opts.progress } : {}),
    ...(opts.maps !== undefined ? { maps: opts.maps } : {}),
    ...(opts.mapEpochs !== undefined ? { mapEpochs: opts.mapEpochs } : {}),
  });
  return { path, built };
}
