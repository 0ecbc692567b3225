/**
 * Artefact directories: `data/<stage>/<runId>/…` with the producing `config.json` beside every artefact.
 * A run id is derived from the config (stable JSON → SHA-256), never typed by hand, so the same config
 * twice finds the same directory instead of recomputing. A stage that fails before writing any result
 * into a new run directory removes it again (`withNewRunCleanup`), so failed configs leave nothing behind.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SaerchError } from "../core/errors.js";
import { writeJsonAtomic } from "./atomic.js";
import { dataDir } from "./paths.js";

/** JSON with object keys sorted recursively, so equal configs serialise identically. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/** A deep copy of `value` with object keys sorted (arrays keep their order). */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Length of the hex hash in a run id: 10 hex digits = 40 bits, collision-free at any realistic scale. */
const RUN_ID_HASH_CHARS = 10;

/**
 * Run id for a config: `<prefix>-<hash>` (or just the hash), hash = first 10 hex of SHA-256 of the stable JSON.
 * @param config any JSON-serialisable config
 * @param prefix optional readable prefix, e.g. "astro-n4096-k32" (letters, digits, '.', '_', '-')
 */
export function runIdFor(config: unknown, prefix?: string): string {
  const hash = createHash("sha256").update(stableStringify(config)).digest("hex").slice(0, RUN_ID_HASH_CHARS);
  if (!prefix) return hash;
  if (!/^[A-Za-z0-9._-]+$/.test(prefix)) {
    throw new SaerchError(`run id prefix "${prefix}" has characters other than letters, digits, '.', '_', '-'`);
  }
  return `${prefix}-${hash}`;
}

/** Where a stage's run lives. */
export interface ArtefactRun {
  /** Stage folder name, e.g. "sae". */
  stage: string;
  /** Derived run id. */
  runId: string;
  /** Absolute directory `data/<stage>/<runId>`. */
  dir: string;
  /** True when `config.json` was already there (an earlier run with the same config). */
  existed: boolean;
}

/**
 * Resolve (and create) the artefact directory for `config`, writing `config.json` beside the artefacts.
 * Throws if a `config.json` already there differs from `config` (a hash collision or a hand-edited file).
 */
export function artefactRun(stage: string, config: unknown, prefix?: string): ArtefactRun {
  const runId = runIdFor(config, prefix);
  const dir = join(dataDir(), stage, runId);
  const configPath = join(dir, "config.json");
  const existed = existsSync(configPath);
  if (existed) {
    const onDisk = stableStringify(JSON.parse(readFileSync(configPath, "utf8")));
    if (onDisk !== stableStringify(config)) {
      throw new SaerchError(
        `${configPath} does not match the config whose run id it carries`,
        "delete that run directory, or restore its config.json",
      );
    }
  } else {
    writeJsonAtomic(configPath, sortKeys(config));
  }
  return { stage, runId, dir, existed };
}

/** Files a run directory may hold and still count as holding no result (a lock left there means a live process: kept). */
const NO_RESULT_FILES = new Set(["config.json"]);

/**
 * Run `fn` for a run that `artefactRun` resolved; when `fn` throws and the directory was new (`existed`
 * false) and still holds nothing but its `config.json`, remove the directory before rethrowing, so a
 * failed config leaves no run directory behind. A directory with any result in it (a checkpoint, a
 * partial log) is kept for the rerun to resume.
 */
export async function withNewRunCleanup<T>(run: ArtefactRun, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!run.existed) removeIfNoResult(run.dir);
    throw err;
  }
}

/** Remove `dir` when it holds only NO_RESULT_FILES (or nothing); returns whether it was removed. */
export function removeIfNoResult(dir: string): boolean {
  if (!existsSync(dir)) return false;
  if (!readdirSync(dir).every((f) => NO_RESULT_FILES.has(f))) return false;
  rmSync(dir, { recursive: true, force: true });
  return true;
}
