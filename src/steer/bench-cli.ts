/**
 * The `npm run bench:steer` command (METHOD.md §7): one table of steered-query latency (encode, intervene,
 * exact rank, top 10) against the memory-bandwidth bound, per store size and precision, with the comparison
 * against the targets; or, with `--json`, one JSON line. Writes the full record to
 * `data/bench/steer-<timestamp>.json`. With `--case <json>` it times one case in this process and prints its
 * JSON line (the parent's child).
 */
import { describeError, SaerchError } from "../core/errors.js";
import { displayPath } from "../io/paths.js";
import { writeBenchRecord } from "../tools/bench-record.js";
import {
  runSteerBench,
  runSteerCase,
  STEER_P95_OVER_BOUND_TARGET,
  STEER_P95_TARGET_MS,
  SteerCaseSpec,
  type SteerBenchConfigInput,
  type SteerBenchReport,
  type SteerCaseResult,
} from "./bench.js";

/** Command-line options (strings as parsed by `node:util` parseArgs). */
export interface BenchSteerArgs {
  queries?: string;
  warmup?: string;
  k?: string;
  seed?: string;
  threads?: string;
  strength?: string;
  only?: string;
  "no-real"?: boolean;
  "no-large"?: boolean;
  "no-f16"?: boolean;
  "no-onnx"?: boolean;
  "in-process"?: boolean;
  /** Print one JSON line instead of the table. */
  json?: boolean;
  /** Write the report here instead of data/bench/steer-<timestamp>.json. */
  out?: string;
  /** Internal: time one case (a SteerCaseSpec as JSON) and print its result. */
  case?: string;
  help?: boolean;
}

/** The usage text of `--help`. */
export const BENCH_STEER_USAGE = `usage: node scripts/bench-steer.mjs [options]
  --queries <n>       timed queries per case (default 256)
  --warmup <n>        untimed queries first (default 20)
  --k <n>             hits per query (default 10)
  --strength <s>      steering strength s in q' = q + s·d_f (default 2.5)
  --seed <n>          seeds data, SAE, queries and features (default 0)
  --threads <n>       index threads (default: one per core)
  --only <text>       run only the cases whose label contains <text> (e.g. "100k × 512")
  --no-real           skip the real shared store (../shared/embeddings/use-lite-512)
  --no-large          skip the 1M-row cases
  --no-f16            skip float16 storage
  --no-onnx           skip the onnxruntime candidates
  --in-process        run every case in this process (peak RSS becomes cumulative)
  --json              print one JSON line instead of the table
  --out <file>        write the report here (default data/bench/steer-<timestamp>.json)`;

function intOption(name: string, value: string): number {
  const x = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(x)) throw new SaerchError(`--${name} must be an integer, got "${value}"`, "see `node scripts/bench-steer.mjs --help`");
  return x;
}

/** Bench settings from the command-line strings (validated by `SteerBenchConfig`). */
export function benchSteerSettingsFromArgs(args: BenchSteerArgs): SteerBenchConfigInput {
  const s: SteerBenchConfigInput = {};
  if (args.queries !== undefined) s.queries = intOption("queries", args.queries);
  if (args.warmup !== undefined) s.warmup = intOption("warmup", args.warmup);
  if (args.k !== undefined) s.k = intOption("k", args.k);
  if (args.seed !== undefined) s.seed = intOption("seed", args.seed);
  if (args.threads !== undefined) s.threads = intOption("threads", args.threads);
  if (args.strength !== undefined) {
    const x = Number(args.strength);
    if (args.strength.trim() === "" || !Number.isFinite(x)) throw new SaerchError(`--strength must be a number, got "${args.strength}"`);
    s.strength = x;
  }
  if (args.only !== undefined) s.only = args.only;
  if (args["no-real"]) s.real = false;
  if (args["no-large"]) s.large = false;
  if (args["no-f16"]) s.float16 = false;
  if (args["no-onnx"]) s.onnx = false;
  if (args["in-process"]) s.inProcess = true;
  return s;
}

const ms = (x: number): string => x.toFixed(2);
const int = (x: number): string => Math.round(x).toLocaleString("en-US");

/** One table row per case. */
export function steerBenchRows(report: SteerBenchReport): Array<Record<string, string>> {
  return report.cases.map((c: SteerCaseResult) => ({
    case: c.label,
    N: int(c.n),
    "index MB": int(c.indexMB),
    "p50 (ms)": ms(c.totalMs.p50),
    "p95 (ms)": ms(c.totalMs.p95),
    "encode p95": ms(c.encodeMs.p95),
    "rank p50": ms(c.rankMs.p50),
    "rank p95": ms(c.rankMs.p95),
    "bound (ms)": ms(c.boundMs),
    "GB/s": c.boundGBs.toFixed(1),
    "p95/bound": c.p95OverBound.toFixed(2),
    "rank p95/bound": c.rankP95OverBound.toFixed(2),
    "alone p50/p95": `${ms(c.rankAloneMs.p50)} / ${ms(c.rankAloneMs.p95)}`,
    "onnx p50/p95": c.onnx ? [c.onnx.initializer ?? c.onnx.input].map((o) => `${ms(o.p50)} / ${ms(o.p95)}`)[0]! + (c.onnx.initializer ? ` (input ${ms(c.onnx.input.p50)} / ${ms(c.onnx.input.p95)})` : "") : "",
    "RSS (MB)": int(c.peakRssMB),
  }));
}

/** Print the table, the notes and the comparison with the targets. */
export function printSteerBench(report: SteerBenchReport, path: string): void {
  const s = report.settings;
  const mc = report.machine;
  console.log(
    `\nsteered query (METHOD.md §7): encodeTopK (SAE n = ${s.expansion}·d, k = ${s.saeK}) → q' = q + ${s.strength}·d_f → exact top-${s.k} over every indexed row → hits`,
  );
  console.log(`  - machine: ${mc.cpus} cores (${mc.cpuModel}), Node ${mc.node}, load average ${mc.loadBefore.toFixed(1)} → ${mc.loadAfter.toFixed(1)}; ${report.isolation}`);
  console.log(
    `  - ${s.queries} timed queries per case after ${s.warmup} warm-up; p50/p95 of the whole steered query; "rank" = ExactIndex.searchOne alone; ` +
      `bound = best of ${s.streamRepeats} reads of the stored matrix on the index's ${s.threads} threads; ` +
      `"alone" = the index on the same steered queries back to back; "onnx" = onnxruntime MatMul+TopK with the matrix as an initializer ` +
      `(and Gemm+TopK with it as a reused input), timed the same way (float32, ≤ 100k rows)`,
  );
  console.table(steerBenchRows(report));
  const h = report.headline;
  if (h) {
    const verdict = report.meetsTargets ? "meets" : "MISSES";
    console.log(
      `\nN = ${int(h.n)}, d = ${h.d}, ${h.dtype}: p95 ${ms(h.totalMs.p95)} ms = ${h.p95OverBound.toFixed(2)}× the bound (${ms(h.boundMs)} ms); ` +
        `targets ≤ ${STEER_P95_OVER_BOUND_TARGET}× and ≤ ${STEER_P95_TARGET_MS} ms — ${verdict} the targets`,
    );
  }
  console.log(`\nreport: ${displayPath(path)}`);
}

/** The one JSON line of `--json`: the headline figures (N = 100k, d = 512, float32), then the full report. */
export function steerBenchJson(report: SteerBenchReport, path: string): string {
  const { headline, meetsTargets, ...rest } = report;
  return JSON.stringify({
    p95Ms: headline?.totalMs.p95,
    p50Ms: headline?.totalMs.p50,
    boundMs: headline?.boundMs,
    p95OverBound: headline?.p95OverBound,
    rankP95Ms: headline?.rankMs.p95,
    meetsTargets,
    reportPath: displayPath(path),
    ...rest,
  });
}

/** Run the benchmark (or one `--case`); returns the exit code. */
export async function benchSteerMain(args: BenchSteerArgs): Promise<number> {
  if (args.help) {
    console.log(BENCH_STEER_USAGE);
    return 0;
  }
  try {
    if (args.case !== undefined) {
      console.log(JSON.stringify(await runSteerCase(SteerCaseSpec.parse(JSON.parse(args.case)))));
      return 0;
    }
    const report = await runSteerBench(benchSteerSettingsFromArgs(args), (r) => {
      if (!args.json) console.log(`  ${r.label}: p95 ${ms(r.totalMs.p95)} ms, bound ${ms(r.boundMs)} ms, built in ${r.buildSeconds.toFixed(1)} s`);
    });
    const { settings: used, startedAt, ...figures } = report;
    const { path } = writeBenchRecord("steer", { config: used, figures, startedAt, ...(args.out ? { out: args.out } : {}) });
    if (args.json) console.log(steerBenchJson(report, path));
    else printSteerBench(report, path);
    return 0;
  } catch (err) {
    console.error(describeError(err));
    return 1;
  }
}
