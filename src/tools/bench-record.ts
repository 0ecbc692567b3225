/**
 * The record every `npm run bench:*` keeps: one JSON file per run under `data/bench/` with the machine, the
 * versions, the settings, the measured figures, when it ran and the command that ran it, so a number quoted
 * in README or environment.md can be traced to the run that made it. Benchmarks never gate CI; they keep
 * what they print.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { join, relative } from "node:path";
import { writeJsonAtomic } from "../io/atomic.js";
import { benchDir, repoPath, repoRoot } from "../io/paths.js";
import { packageVersion } from "./environment.js";

/** The machine a benchmark ran on (no host name: records may be shared). */
export interface BenchMachine {
  cpuModel: string;
  /** Cores Node may use (`os.availableParallelism()`). */
  cpus: number;
  memoryGiB: number;
  platform: string;
  arch: string;
  /** 1-minute load average when the record was written (other jobs make wall times noisy). */
  loadAverage: number;
}

/** One benchmark run, as written to `data/bench/<kind>-<time>.json`. */
export interface BenchRecord<C = unknown, F = unknown> {
  /** Which benchmark: "sae", "embed", "interpret", "families", "steer", "explore". */
  kind: string;
  /** The command line that ran it, e.g. `npm run bench:sae -- --engine onnx`. */
  command: string;
  /** ISO time the run started. */
  startedAt: string;
  /** ISO time the record was written (the run's end). */
  finishedAt: string;
  machine: BenchMachine;
  /** Node, this package, the git commit and the compute packages the figures depend on. */
  versions: Record<string, string>;
  /** The settings the run used. */
  config: C;
  /** What it measured. */
  figures: F;
}

/** Packages whose versions a benchmark's figures depend on. */
const BENCH_PACKAGES = ["onnxruntime-node", "@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-node-gpu", "openai"] as const;

/** The machine, read now. */
export function benchMachine(): BenchMachine {
  return {
    cpuModel: cpus()[0]?.model ?? "unknown",
    cpus: availableParallelism(),
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    platform: process.platform,
    arch: process.arch,
    loadAverage: loadavg()[0] ?? 0,
  };
}

/** The checked-out commit (with "-dirty" when the tree has changes), or "unknown" outside git. */
function gitCommit(): string {
  const head = spawnSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: repoRoot(), encoding: "utf8" });
  if (head.status !== 0 || head.error) return "unknown";
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: repoRoot(), encoding: "utf8" });
  return `${head.stdout.trim()}${dirty.status === 0 && dirty.stdout.trim() !== "" ? "-dirty" : ""}`;
}

/** Versions of the runtime, this package, its commit and the compute packages. */
export function benchVersions(): Record<string, string> {
  const own = JSON.parse(readFileSync(repoPath("package.json"), "utf8")) as { version?: string };
  const out: Record<string, string> = { node: process.versions.node, "saerch-ts": own.version ?? "unknown", commit: gitCommit() };
  for (const name of BENCH_PACKAGES) out[name] = packageVersion(name);
  return out;
}

const quote = (arg: string): string => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

/**
 * The command that ran this process, as a user would retype it: `npm run <script> -- <args>` when npm
 * started a `bench:*` script, else `node <script relative to the repo> <args>`.
 * @param argv process.argv (node, script, args…)
 * @param env process.env (npm sets `npm_lifecycle_event` to the script's name)
 */
export function benchCommand(argv: readonly string[] = process.argv, env: NodeJS.ProcessEnv = process.env): string {
  const args = argv.slice(2).map(quote);
  const event = env.npm_lifecycle_event;
  if (event !== undefined && event.startsWith("bench:")) return [`npm run ${event}`, ...(args.length > 0 ? ["--", ...args] : [])].join(" ");
  const script = argv[1] === undefined ? "" : relative(repoRoot(), argv[1]) || argv[1];
  return ["node", ...(script ? [quote(script)] : []), ...args].join(" ");
}

/** Default path of a record: `<data>/bench/<kind>-<ISO start time, colons and dots replaced>.json`. */
export function benchRecordPath(kind: string, startedAt: string): string {
  return join(benchDir(), `${kind}-${startedAt.replace(/[:.]/g, "-")}.json`);
}

/**
 * Write one benchmark's record atomically.
 * @param kind the benchmark's name (the file name's prefix)
 * @param run.config the settings used; run.figures what was measured; run.startedAt ISO start time
 *   (default now); run.out a path instead of the default; run.command instead of this process's
 * @returns where it went and what was written
 */
export function writeBenchRecord<C, F>(
  kind: string,
  run: { config: C; figures: F; startedAt?: string; out?: string; command?: string },
): { path: string; record: BenchRecord<C, F> } {
  const startedAt = run.startedAt ?? new Date().toISOString();
  const record: BenchRecord<C, F> = {
    kind,
    command: run.command ?? benchCommand(),
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: benchMachine(),
    versions: benchVersions(),
    config: run.config,
    figures: run.figures,
  };
  const path = run.out ?? benchRecordPath(kind, startedAt);
  writeJsonAtomic(path, record);
  return { path, record };
}
