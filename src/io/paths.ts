/**
 * Where things live. Every path in the project comes from here, resolved from the repository root, so the
 * same code works from the repo root (CLI, tests) and from `notebooks/` (the Jupyter kernel's cwd).
 *
 * Overrides (environment): SAERCH_ROOT (repo root), SAERCH_DATA (artefacts, default `<root>/data`),
 * SAERCH_FIGURES (default `<root>/figures`), SAERCH_SHARED (read-only inputs, default `<root>/../shared`).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SaerchError } from "../core/errors.js";

const PACKAGE_NAME = "saerch-ts";

let cachedRoot: string | undefined;

/** True when `dir/package.json` exists and names this project. */
function isProjectRoot(dir: string): boolean {
  const pkg = join(dir, "package.json");
  if (!existsSync(pkg)) return false;
  try {
    return (JSON.parse(readFileSync(pkg, "utf8")) as { name?: unknown }).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

/** Walk up from `start` to the first directory that is the project root, or undefined. */
export function findRepoRoot(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (isProjectRoot(dir)) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The repository root: SAERCH_ROOT, else found from this module's location, else from the cwd. */
export function repoRoot(): string {
  if (process.env.SAERCH_ROOT) return resolve(process.env.SAERCH_ROOT);
  if (cachedRoot) return cachedRoot;
  const here = dirname(fileURLToPath(import.meta.url));
  const found = findRepoRoot(here) ?? findRepoRoot(process.cwd());
  if (!found) {
    throw new SaerchError(
      `cannot find the saerch-ts repository root above ${here} or ${process.cwd()}`,
      "run from inside the repository or set SAERCH_ROOT",
    );
  }
  cachedRoot = found;
  return found;
}

/** A path inside the repository. */
export function repoPath(...parts: string[]): string {
  return join(repoRoot(), ...parts);
}

/** Root of derived artefacts (git-ignored): SAERCH_DATA or `<root>/data`. */
export function dataDir(): string {
  return process.env.SAERCH_DATA ? resolve(process.env.SAERCH_DATA) : repoPath("data");
}

/** Benchmark records (`npm run bench:*`, one JSON file per run): `<data>/bench`. */
export function benchDir(): string {
  return join(dataDir(), "bench");
}

/** Committed figures: SAERCH_FIGURES or `<root>/figures`. */
export function figuresDir(): string {
  return process.env.SAERCH_FIGURES ? resolve(process.env.SAERCH_FIGURES) : repoPath("figures");
}

/** Read-only shared inputs (corpus, precomputed embeddings): SAERCH_SHARED or `<root>/../shared`. */
export function sharedDir(): string {
  return process.env.SAERCH_SHARED ? resolve(process.env.SAERCH_SHARED) : resolve(repoRoot(), "..", "shared");
}

/** A path under the shared inputs; throws a clear error naming the override when it does not exist. */
export function sharedPath(...parts: string[]): string {
  const p = join(sharedDir(), ...parts);
  if (!existsSync(p)) {
    throw new SaerchError(`shared input not found: ${p}`, "set SAERCH_SHARED to the folder that holds corpus/ and embeddings/");
  }
  return p;
}

/** Show a path relative to the repo root (for notebook output: no machine paths in committed cells). */
export function displayPath(p: string): string {
  const root = repoRoot();
  const abs = resolve(p);
  if (abs === root) return ".";
  if (abs.startsWith(`${root}/`)) return abs.slice(root.length + 1);
  const parent = dirname(root);
  if (abs.startsWith(`${parent}/`)) return `../${abs.slice(parent.length + 1)}`;
  return abs;
}
