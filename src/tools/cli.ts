/**
 * Command-line entry points behind `npm run notebooks` and `npm run pipeline`. They print one clear message
 * per failure (never a bare stack trace) and return the process exit code.
 */
import { describeError } from "../core/errors.js";
import { displayPath } from "../io/paths.js";
import { executeNotebook, jupyterProblems, listNotebooks, notebookRunDir, type NotebookRun, PUBLISHED_PROFILE } from "./notebooks.js";
import { resolveProfile } from "../compute/profile.js";

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}

function reportFailure(run: NotebookRun): void {
  const f = run.failure;
  console.error(`\n✗ ${run.name} failed at cell ${f?.cellNumber ?? "?"} after ${run.seconds.toFixed(1)} s`);
  if (f?.source) console.error(`  cell ${f.cellNumber} source:\n${indent(f.source)}`);
  console.error(`  error:\n${indent(f?.errorText || "(the cell recorded no error text)")}`);
  if (run.failedCopy) console.error(`  the partial run is kept at ${displayPath(run.failedCopy)}; the notebook itself is unchanged`);
}

/**
 * Execute notebooks in order (all, or those whose names start with one of `prefixes`); stop at the first
 * failure. Returns 0 when all passed.
 */
export function runNotebooks(prefixes: string[]): { code: number; runs: NotebookRun[] } {
  const runs: NotebookRun[] = [];
  try {
    const profile = resolveProfile();
    const problems = jupyterProblems();
    if (problems.length > 0) {
      console.error(`cannot run notebooks:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
      return { code: 1, runs };
    }
    const names = listNotebooks(prefixes);
    const where = profile === PUBLISHED_PROFILE ? "in place" : `into ${displayPath(notebookRunDir(profile))}/ (the committed notebooks and figures are published by the default profile only)`;
    console.log(`running ${names.length} notebook(s) with PROFILE=${profile}, ${where}`);
    for (const name of names) {
      process.stdout.write(`▶ ${name} … `);
      const run = executeNotebook(name, { profile });
      runs.push(run);
      if (!run.ok) {
        process.stdout.write("failed\n");
        reportFailure(run);
        return { code: 1, runs };
      }
      process.stdout.write(`ok (${run.seconds.toFixed(1)} s)\n`);
    }
    return { code: 0, runs };
  } catch (err) {
    console.error(describeError(err));
    return { code: 1, runs };
  }
}

/** `npm run notebooks [-- <prefix>…]`. */
export function notebooksMain(argv: string[]): number {
  return runNotebooks(argv.filter((a) => a !== "--")).code;
}

/** `npm run pipeline`: every stage's notebook in order at the active profile (default: "default"). */
export function pipelineMain(): number {
  const t0 = performance.now();
  const { code, runs } = runNotebooks([]);
  const minutes = (performance.now() - t0) / 60000;
  const ok = runs.filter((r) => r.ok).length;
  console.log(`pipeline: ${ok}/${runs.length} notebook(s) ok in ${minutes.toFixed(1)} min`);
  return code;
}
