/**
 * What this machine runs: versions of the runtime and the packages the stages depend on, the Jupyter and
 * browser pieces, and where data and artefacts live. Notebook 00 prints this as its first table.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import { join } from "node:path";
import { dataDir, displayPath, figuresDir, repoPath, sharedDir } from "../io/paths.js";
import { findBrowser } from "../plot/render.js";
import { jupyterPython } from "./notebooks.js";
import { resolveProfile } from "../compute/profile.js";

/** One row of a two-column report table. */
export interface ReportRow {
  item: string;
  value: string;
}

/** Packages whose versions matter for reproducing numbers. */
const REPORTED_PACKAGES = [
  "typescript",
  "tslab",
  "onnxruntime-node",
  "@tensorflow/tfjs",
  "@tensorflow/tfjs-backend-wasm",
  "@tensorflow/tfjs-node-gpu",
  "@tensorflow/tfjs-backend-webgpu",
  "webgpu",
  "arquero",
  "plotly.js-dist-min",
  "playwright-core",
  "zod",
] as const;

/** Installed version of an npm package in this repo, or "not installed". */
export function packageVersion(name: string): string {
  const pkg = repoPath("node_modules", name, "package.json");
  if (!existsSync(pkg)) return "not installed";
  return (JSON.parse(readFileSync(pkg, "utf8")) as { version?: string }).version ?? "unknown";
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0 || r.error) return "not found";
  return (r.stdout || r.stderr).trim().split("\n")[0] ?? "unknown";
}

/** Runtime, package, Jupyter and browser versions. */
export function versionReport(): ReportRow[] {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const rows: ReportRow[] = [
    { item: "node", value: process.versions.node },
    { item: "platform", value: `${process.platform} ${process.arch}` },
    { item: "cpu", value: `${availableParallelism()} × ${cpu}` },
    { item: "memory", value: `${(totalmem() / 2 ** 30).toFixed(1)} GiB` },
    { item: "PROFILE", value: resolveProfile() },
  ];
  for (const name of REPORTED_PACKAGES) rows.push({ item: name, value: packageVersion(name) });
  const jupyter = firstLine(jupyterPython(), [
    "-c",
    "import sys, nbclient, nbformat; print(f'python {sys.version.split()[0]}, nbclient {nbclient.__version__}, nbformat {nbformat.__version__}')",
  ]);
  rows.push({ item: "jupyter", value: jupyter });
  const browser = findBrowser();
  rows.push({ item: "browser", value: browser ? firstLine(browser, ["--version"]) : "none (figures are saved as JSON only)" });
  return rows;
}

function sizeOf(path: string): string {
  if (!existsSync(path)) return "missing";
  const st = statSync(path);
  return st.isDirectory() ? "present" : `${(st.size / 2 ** 20).toFixed(1)} MiB`;
}

/** Where inputs, artefacts and figures live (relative to the repo), and whether the shared inputs exist. */
export function pathReport(): ReportRow[] {
  const shared = sharedDir();
  return [
    { item: "artefacts (SAERCH_DATA)", value: displayPath(dataDir()) },
    { item: "figures (SAERCH_FIGURES)", value: displayPath(figuresDir()) },
    { item: "shared inputs (SAERCH_SHARED)", value: displayPath(shared) },
    { item: "corpus", value: sizeOf(join(shared, "corpus", "arxiv-cs-astro-2025.jsonl.gz")) },
    { item: "precomputed embeddings", value: sizeOf(join(shared, "embeddings", "use-lite-512", "embeddings.npy")) },
  ];
}
