/**
 * Headless notebook runtime: executes `notebooks/NN-*.ipynb` in order with the project-local tslab kernel
 * (Debian Jupyter + nbclient), in place, stopping at the first failing cell with that cell's real error
 * text (nbconvert's own message is empty for tslab type errors: the text is in the cell's stderr).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { SaerchError } from "../core/errors.js";
import { sortKeys } from "../io/artefact.js";
import { writeFileAtomic } from "../io/atomic.js";
import { dataDir, repoPath, repoRoot } from "../io/paths.js";
import { type Profile, resolveProfile } from "../compute/profile.js";

/** The Python that has Debian's Jupyter (a pyenv python3 on PATH may have none); SAERCH_JUPYTER_PYTHON overrides. */
export function jupyterPython(): string {
  return process.env.SAERCH_JUPYTER_PYTHON || "/usr/bin/python3";
}
/** Kernel name registered by `npm run setup`. */
export const KERNEL_NAME = "tslab";
/** Seconds one cell may run before the notebook fails: training cells of the default profile take minutes. */
const DEFAULT_CELL_TIMEOUT_S = 3600;
/** The shell command that installs the Jupyter pieces (used in fix hints). */
const APT_JUPYTER =
  "apt-get install -y --no-install-recommends jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel";

/** Project-local Jupyter data dir holding the tslab kernel spec. */
export function jupyterPath(): string {
  return repoPath(".jupyter", "share", "jupyter");
}

/** Problems that stop notebooks from running, each with its fix; empty when all is well. */
export function jupyterProblems(): string[] {
  const problems: string[] = [];
  const python = jupyterPython();
  if (!existsSync(python)) {
    problems.push(`${python} not found — fix: ${APT_JUPYTER} (or npm run setup)`);
    return problems;
  }
  const probe = spawnSync(python, ["-c", "import nbclient, nbformat, jupyter_client, ipykernel"], {
    encoding: "utf8",
  });
  if (probe.status !== 0) {
    problems.push(`Jupyter is not installed for ${python} — fix: ${APT_JUPYTER} (or npm run setup)`);
  }
  const spec = join(jupyterPath(), "kernels", KERNEL_NAME, "kernel.json");
  if (!existsSync(spec)) {
    problems.push("the tslab kernel is not registered in .jupyter/ — fix: npm run setup");
  } else {
    const argv0 = (JSON.parse(readFileSync(spec, "utf8")) as { argv?: string[] }).argv?.[0];
    if (!argv0 || !existsSync(argv0)) {
      problems.push(`the tslab kernel points at a missing binary (${argv0}) — fix: npm run setup`);
    }
  }
  return problems;
}

/** Notebook file names in pipeline order, optionally only those starting with one of `prefixes`. */
export function listNotebooks(prefixes: string[] = [], dir: string = repoPath("notebooks")): string[] {
  const all = readdirSync(dir)
    .filter((f) => /^\d{2}-.+\.ipynb$/.test(f))
    .sort();
  if (prefixes.length === 0) return all;
  const unknown = prefixes.filter((p) => !all.some((f) => f.startsWith(p)));
  if (unknown.length > 0) {
    throw new SaerchError(`no notebook starts with ${unknown.map((p) => `"${p}"`).join(", ")}`, `choose from: ${all.join(", ")}`);
  }
  return all.filter((f) => prefixes.some((p) => f.startsWith(p)));
}

/** Minimal notebook JSON shapes (nbformat 4). */
interface NbOutput {
  output_type: string;
  name?: string;
  text?: string | string[];
  ename?: string;
  evalue?: string;
  traceback?: string[];
  data?: Record<string, unknown>;
}
interface NbCell {
  cell_type: string;
  execution_count?: number | null;
  source: string | string[];
  outputs?: NbOutput[];
  metadata?: Record<string, unknown>;
}
/** A notebook as JSON. */
export interface NotebookJson {
  cells: NbCell[];
  metadata?: Record<string, unknown>;
  nbformat?: number;
  nbformat_minor?: number;
}

const joinText = (t: string | string[] | undefined): string => (Array.isArray(t) ? t.join("") : (t ?? ""));
// eslint-disable-next-line no-control-regex -- ANSI escape sequences start with ESC.
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

/** Where and why a notebook failed. */
export interface CellFailure {
  /** 1-based position of the cell in the notebook (markdown cells counted). */
  cellNumber: number;
  /** The cell's source. */
  source: string;
  /** The cell's own error text: error outputs (name, value, traceback) and stderr, ANSI stripped. */
  errorText: string;
}

/**
 * The failure report for cell `index` (0-based) of an executed notebook. Falls back to `fallback`
 * (the executor's message) when the cell recorded no error text.
 */
export function cellFailure(nb: NotebookJson, index: number, fallback = ""): CellFailure {
  const cell = nb.cells[index];
  if (!cell) return { cellNumber: index + 1, source: "", errorText: fallback };
  const parts: string[] = [];
  for (const out of cell.outputs ?? []) {
    if (out.output_type === "error") {
      const head = [out.ename, out.evalue].filter(Boolean).join(": ");
      const tb = (out.traceback ?? []).join("\n").replace(ANSI, "").trim();
      parts.push(tb && !tb.includes(head) ? `${head}\n${tb}` : tb || head);
    } else if (out.output_type === "stream" && out.name === "stderr") {
      parts.push(joinText(out.text).replace(ANSI, "").trimEnd());
    }
  }
  const errorText = parts.filter((p) => p.trim() !== "").join("\n") || fallback.trim();
  return { cellNumber: index + 1, source: joinText(cell.source), errorText };
}

/**
 * Replace machine paths in text outputs (repo root → ".", home → "~") and drop per-run execution
 * metadata, so committed notebooks carry no machine paths. Mutates `nb`; returns the replacement count.
 */
export function scrubNotebookInPlace(nb: NotebookJson, root: string = repoRoot(), home: string = homedir()): number {
  let count = 0;
  const scrub = (s: string): string => {
    let out = s;
    for (const [from, to] of [
      [root, "."],
      [home, "~"],
    ] as const) {
      if (from.length > 1 && out.includes(from)) {
        count += out.split(from).length - 1;
        out = out.split(from).join(to);
      }
    }
    return out;
  };
  const scrubText = (t: string | string[]): string | string[] => (Array.isArray(t) ? t.map(scrub) : scrub(t));
  for (const cell of nb.cells) {
    if (cell.metadata) delete cell.metadata.execution;
    for (const out of cell.outputs ?? []) {
      if (out.text !== undefined) out.text = scrubText(out.text);
      if (out.traceback) out.traceback = out.traceback.map(scrub);
      if (out.evalue) out.evalue = scrub(out.evalue);
      for (const mime of ["text/plain", "text/html", "text/markdown"]) {
        const v = out.data?.[mime];
        if (typeof v === "string" || Array.isArray(v)) out.data![mime] = scrubText(v as string | string[]);
      }
    }
  }
  return count;
}

/** Serialise a notebook like nbformat does (sorted keys, 1-space indent, trailing newline). */
export function formatNotebook(nb: NotebookJson): string {
  return `${JSON.stringify(sortKeys(nb), null, 1)}\n`;
}

/** Outcome of executing one notebook. */
export interface NotebookRun {
  name: string;
  ok: boolean;
  seconds: number;
  failure?: CellFailure;
  /** Where the partially executed notebook was kept (on failure; the committed one is left untouched). */
  failedCopy?: string;
  /** Where the executed notebook was written: the notebook itself when published, else its copy. */
  output?: string;
}

/** The profile whose runs update the committed notebooks and figures (`npm run pipeline`). */
export const PUBLISHED_PROFILE: Profile = "default";

/**
 * Where a run at `profile` keeps its executed notebook and its figures when it does not publish:
 * `data/notebook-runs/<profile>/` (figures in its `figures/` folder).
 */
export function notebookRunDir(profile: Profile): string {
  return join(dataDir(), "notebook-runs", profile);
}

/**
 * Execute one notebook. At the published profile (default) it is executed in place and its figures go to
 * `figures/`; at any other profile (tiny in CI, paper) the committed notebook and figures are left as they
 * are: the executed copy is written to `data/notebook-runs/<profile>/<name>` and the figures to
 * `data/notebook-runs/<profile>/figures/` (unless SAERCH_FIGURES says otherwise). On failure the
 * original is left as it was and the partial run is kept for inspection.
 */
export function executeNotebook(
  name: string,
  opts: { profile?: Profile; cellTimeoutS?: number; dir?: string; publish?: boolean } = {},
): NotebookRun {
  const dir = opts.dir ?? repoPath("notebooks");
  const profile = opts.profile ?? resolveProfile();
  const publish = opts.publish ?? profile === PUBLISHED_PROFILE;
  const src = join(dir, name);
  const runDir = notebookRunDir(profile);
  const out = join(runDir, publish ? `${name}.partial` : name);
  writeFileAtomic(out, readFileSync(src)); // also creates the folder
  const figures = publish ? {} : { SAERCH_FIGURES: process.env.SAERCH_FIGURES ?? join(runDir, "figures") };
  const t0 = performance.now();
  const r = spawnSync(
    jupyterPython(),
    [repoPath("scripts", "run_notebook.py"), src, out, KERNEL_NAME, String(opts.cellTimeoutS ?? DEFAULT_CELL_TIMEOUT_S)],
    {
      encoding: "utf8",
      env: { ...process.env, ...figures, PROFILE: profile, JUPYTER_PATH: jupyterPath(), PYDEVD_DISABLE_FILE_VALIDATION: "1" },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  const lastLine = r.stdout?.trim().split("\n").pop() ?? "";
  let status: { ok: boolean; failed_cell: number | null; error: string | null };
  try {
    status = JSON.parse(lastLine);
  } catch {
    const why = (r.stderr || r.stdout || String(r.error ?? "")).trim().split("\n").slice(-15).join("\n");
    return {
      name,
      ok: false,
      seconds,
      failure: { cellNumber: 0, source: "", errorText: `the notebook executor did not start:\n${why}` },
      failedCopy: out,
    };
  }
  const nb = JSON.parse(readFileSync(out, "utf8")) as NotebookJson;
  if (!status.ok) {
    return {
      name,
      ok: false,
      seconds,
      failure: cellFailure(nb, status.failed_cell ?? 0, status.error ?? ""),
      failedCopy: out,
    };
  }
  scrubNotebookInPlace(nb);
  if (!publish) {
    writeFileAtomic(out, formatNotebook(nb));
    return { name, ok: true, seconds, output: out };
  }
  writeFileAtomic(src, formatNotebook(nb));
  rmSync(out, { force: true });
  return { name, ok: true, seconds, output: src };
}
