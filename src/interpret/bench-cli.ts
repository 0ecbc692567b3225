/**
 * The `npm run bench:interpret` command (METHOD.md §4): labelling throughput against a local server with a
 * simulated latency, and the paper-scale cost estimate; prints two tables and writes the full report to
 * `data/bench/interpret-<timestamp>.json`.
 */
import { describeError, SaerchError } from "../core/errors.js";
import { displayPath } from "../io/paths.js";
import { writeBenchRecord } from "../tools/bench-record.js";
import { runInterpretBench, type InterpretBenchConfigInput, type InterpretBenchReport } from "./bench.js";

/** Command-line options (strings as parsed by `node:util` parseArgs). */
export interface BenchInterpretArgs {
  "latency-ms"?: string;
  concurrency?: string;
  features?: string;
  docs?: string;
  domain?: string;
  seed?: string;
  quick?: boolean;
  /** Print the report as one JSON document instead of the tables. */
  json?: boolean;
  /** Write the report here instead of data/bench/interpret-<timestamp>.json. */
  out?: string;
  help?: boolean;
}

/** The usage text of `--help`. */
export const BENCH_INTERPRET_USAGE = `usage: node scripts/bench-interpret.mjs [options]
  --latency-ms <ms>        simulated server latency per request (default 250)
  --concurrency <list>     client concurrencies to time, e.g. 1,4,16 (default)
  --features <list>        features labelled per run: one count, or one per concurrency
                           (default: sized so each run takes ~14 s)
  --docs <n>               real abstracts read per domain (default 3000)
  --domain <name>          astro-ph (default) or cs.LG: whose abstracts the runs label
  --seed <n>               seeds the synthetic codes and the cost samples (default 0)
  --quick                  smoke run: ~1.5 s per run, 300 abstracts, 10 cost samples
  --json                   print the report as JSON instead of tables
  --out <file>             write the report here (default data/bench/interpret-<timestamp>.json)`;

/** A positive number from an option, or a clear error naming it. */
function numberOption(name: string, value: string): number {
  const x = Number(value);
  if (value.trim() === "" || !Number.isFinite(x)) throw new SaerchError(`--${name} must be a number, got "${value}"`, "see `node scripts/bench-interpret.mjs --help`");
  return x;
}

/** A comma-separated list of numbers from an option. */
function listOption(name: string, value: string): number[] {
  return value.split(",").map((v) => numberOption(name, v));
}

/** Bench settings from the command-line strings (validation happens in `resolveInterpretBenchConfig`). */
export function benchSettingsFromArgs(args: BenchInterpretArgs): InterpretBenchConfigInput {
  const s: InterpretBenchConfigInput = {};
  if (args["latency-ms"] !== undefined) s.latencyMs = numberOption("latency-ms", args["latency-ms"]);
  if (args.concurrency !== undefined) s.concurrency = listOption("concurrency", args.concurrency);
  if (args.features !== undefined) s.features = listOption("features", args.features);
  if (args.docs !== undefined) s.docsPerDomain = numberOption("docs", args.docs);
  if (args.domain !== undefined) {
    if (args.domain !== "astro-ph" && args.domain !== "cs.LG") throw new SaerchError(`--domain must be astro-ph or cs.LG, got "${args.domain}"`);
    s.domain = args.domain;
  }
  if (args.seed !== undefined) s.seed = numberOption("seed", args.seed);
  if (args.quick) s.quick = true;
  return s;
}

const int = (x: number): string => Math.round(x).toLocaleString("en-US");
const usd = (x: number): string => `$${x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** The throughput table, one row per concurrency. */
export function throughputRows(report: InterpretBenchReport): Array<Record<string, string>> {
  const first = report.throughput.runs[0]?.concurrency ?? 1;
  return report.throughput.runs.map((r) => ({
    concurrency: String(r.concurrency),
    features: `${r.labelled}/${r.features}`,
    "time (s)": r.seconds.toFixed(1),
    "features/min": r.featuresPerMinute.toFixed(1),
    "ideal features/min": r.idealFeaturesPerMinute === null ? "-" : r.idealFeaturesPerMinute.toFixed(1),
    "requests/s": r.requestsPerSecond.toFixed(2),
    [`speed-up vs c=${first}`]: `${r.speedupOverFirst.toFixed(2)}x`,
    "server max in flight": String(r.maxInFlight),
    "requests (cached, retries)": `${r.requests} (${r.cachedRequests}, ${r.retries})`,
  }));
}

/** The cost table: one row per paper SAE (both domains) and a total row. */
export function costRows(report: InterpretBenchReport): Array<Record<string, string>> {
  const c = report.cost;
  const rows = c.perSae.map((s) => ({
    SAE: s.sae,
    "n per domain": int(s.n),
    "features (2 domains)": int(s.features),
    requests: int(s.requests),
    [`interpreter (${c.interpreterModel})`]: usd(s.interpreterUsd),
    [`predictor (${c.predictorModel})`]: usd(s.predictorUsd),
    total: usd(s.totalUsd),
  }));
  rows.push({
    SAE: "all three",
    "n per domain": int(c.perSae.reduce((a, s) => a + s.n, 0)),
    "features (2 domains)": int(c.total.features),
    requests: int(c.total.requests),
    [`interpreter (${c.interpreterModel})`]: usd(c.total.interpreterUsd),
    [`predictor (${c.predictorModel})`]: usd(c.total.predictorUsd),
    total: usd(c.total.totalUsd),
  });
  return rows;
}

/** Print the report as tables with the notes that say what was simulated and estimated. */
export function printInterpretBench(report: InterpretBenchReport, path: string): void {
  const t = report.throughput;
  console.log(`\nlabelling throughput (METHOD.md §4), ${t.requestsPerFeature} requests per feature (1 interpreter + ${t.requestsPerFeature - 1} predictor):`);
  for (const n of report.notes.slice(0, 3)) console.log(`  - ${n}`);
  console.table(throughputRows(report));
  const c = report.cost;
  console.log(`\ncost of labelling every feature of the paper's SAEs, both domains (astro-ph, cs.LG), at list prices:`);
  const price = (m: string): string => {
    const p = c.prices[m];
    return p === undefined ? `${m}: no price` : `${m} $${p.inputPerMTok}/$${p.outputPerMTok} per 1M in/out tokens`;
  };
  console.log(`  - interpreter ${price(c.interpreterModel)}; predictor ${price(c.predictorModel)}`);
  for (const s of c.promptSizes) {
    console.log(
      `  - ${s.domain}: mean prompt ${s.interpreterPromptTokens.toFixed(0)} tokens (interpreter, 5 + 5 real abstracts), ` +
        `${s.predictorPromptTokens.toFixed(0)} tokens (predictor, 5-word label + 1 abstract), over ${s.samples} samples`,
    );
  }
  console.log(
    `  - prompt tokens counted with ${c.tokenCounting.interpreter} (interpreter) / ${c.tokenCounting.predictor} (predictor)` +
      `${c.tokenCounting.interpreter === "heuristic" || c.tokenCounting.predictor === "heuristic" ? " (heuristic: APPROXIMATE)" : ", exact"}; completions assumed ${c.interpreterCompletionTokens} (interpreter) and ` +
      `${c.predictorCompletionTokens} (predictor) tokens, the dry-run defaults; ${c.predictionsPerFeature} predictor requests per feature`,
  );
  console.table(costRows(report));
  if (c.unpricedModels.length > 0) console.log(`models with no price (counted at $0): ${c.unpricedModels.join(", ")}`);
  console.log(`\nrecorded in ${displayPath(path)}`);
}

/** Run the benchmark; returns the exit code. */
export async function benchInterpretMain(args: BenchInterpretArgs): Promise<number> {
  if (args.help) {
    console.log(BENCH_INTERPRET_USAGE);
    return 0;
  }
  try {
    const settings = benchSettingsFromArgs(args);
    const report = await runInterpretBench(settings, (r) => {
      if (!args.json) console.log(`  concurrency ${r.concurrency}: ${r.labelled} features in ${r.seconds.toFixed(1)} s`);
    });
    const { settings: used, startedAt, ...figures } = report;
    const { path } = writeBenchRecord("interpret", { config: used, figures, startedAt, ...(args.out ? { out: args.out } : {}) });
    if (args.json) console.log(JSON.stringify(report));
    else printInterpretBench(report, path);
    return 0;
  } catch (err) {
    console.error(describeError(err));
    return 1;
  }
}
