/**
 * The `npm run bench:families` command (METHOD.md §5): one table of family-build timings and peak memory
 * (synthetic 100k and 25k, the real stage-2 runs when present) with the comparison against the 5 s target;
 * or, with `--json`, one JSON line. Writes the full record to `data/bench/families-<timestamp>.json`.
 * With `--case <json>` it times one case in this process and prints its JSON line (the parent's child).
 */
import { describeError, SaerchError } from "../core/errors.js";
import { displayPath } from "../io/paths.js";
import { writeBenchRecord } from "../tools/bench-record.js";
import { COOC_BLOCK_ROWS } from "./cooccurrence.js";
import { FamilyCaseSpec, runFamilyBench, runFamilyCase, type FamilyBenchConfigInput, type FamilyBenchReport, type FamilyCaseResult } from "./bench.js";

/** Command-line options (strings as parsed by `node:util` parseArgs). */
export interface BenchFamiliesArgs {
  docs?: string;
  "small-docs"?: string;
  n?: string;
  k?: string;
  seed?: string;
  "no-real"?: boolean;
  "in-process"?: boolean;
  /** Print one JSON line instead of the table. */
  json?: boolean;
  /** Write the report here instead of data/bench/families-<timestamp>.json. */
  out?: string;
  /** Internal: time one case (a FamilyCaseSpec as JSON) and print its result. */
  case?: string;
  help?: boolean;
}

/** The usage text of `--help`. */
export const BENCH_FAMILIES_USAGE = `usage: node scripts/bench-families.mjs [options]
  --docs <n>          documents of the large synthetic case (default 100000)
  --small-docs <n>    documents of the small synthetic case (default 25000)
  --n <n>             synthetic dictionary size (default 9216)
  --k <n>             synthetic active latents per document (default 64)
  --seed <n>          seeds the synthetic codes (default 0)
  --no-real           skip the real stage-2 codes under data/sae
  --in-process        run every case in this process (peak RSS becomes cumulative)
  --json              print one JSON line instead of the table
  --out <file>        write the report here (default data/bench/families-<timestamp>.json)`;

function intOption(name: string, value: string): number {
  const x = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(x)) throw new SaerchError(`--${name} must be an integer, got "${value}"`, "see `node scripts/bench-families.mjs --help`");
  return x;
}

/** Bench settings from the command-line strings (validated by `FamilyBenchConfig`). */
export function benchFamiliesSettingsFromArgs(args: BenchFamiliesArgs): FamilyBenchConfigInput {
  const s: FamilyBenchConfigInput = {};
  if (args.docs !== undefined) s.docs = intOption("docs", args.docs);
  if (args["small-docs"] !== undefined) s.smallDocs = intOption("small-docs", args["small-docs"]);
  if (args.n !== undefined) s.n = intOption("n", args.n);
  if (args.k !== undefined) s.k = intOption("k", args.k);
  if (args.seed !== undefined) s.seed = intOption("seed", args.seed);
  if (args["no-real"]) s.real = false;
  if (args["in-process"]) s.inProcess = true;
  return s;
}

/** MB of the packed pair counts of a feature set of M. */
const countsMB = (m: number): number => (((m * (m - 1)) / 2) * 4) / 2 ** 20;
const int = (x: number): string => Math.round(x).toLocaleString("en-US");
const sec = (x: number): string => x.toFixed(2);

/** One table row per case. */
export function familyBenchRows(report: FamilyBenchReport): Array<Record<string, string>> {
  return report.cases.map((c: FamilyCaseResult) => ({
    case: c.label,
    N: int(c.docs),
    n: int(c.n),
    k: String(c.k),
    M: int(c.m),
    "cand. edges": int(c.candidateEdges),
    families: int(c.families),
    "counting (s)": sec(c.countingSeconds),
    "edges (s)": sec(c.edgesSeconds),
    "forest+rest (s)": sec(c.forestSeconds),
    "total (s)": sec(c.totalSeconds),
    "CPU (s)": sec(c.cpuSeconds),
    "peak RSS (MB)": int(c.peakRssMB),
  }));
}

/** Print the table, the notes and the comparison with the target. */
export function printFamilyBench(report: FamilyBenchReport, path: string): void {
  const g = report.generator;
  const large = report.cases[0]!;
  const b = report.buildConfig;
  console.log(
    `\nfamily build (METHOD.md §5): counting streamed from .npy + candidate edges + ${b.rounds} forest rounds ` +
      `(thresholds ${b.firstThreshold} then ${b.laterThreshold}, '${b.edgeWeight}' weights) + recursion + dedupe (Jaccard ${b.dedupeJaccard})`,
  );
  const mc = report.machine;
  console.log(`  - machine: ${mc.cpus} cores (${mc.cpuModel}), Node ${mc.node}, load average ${mc.loadBefore.toFixed(1)} → ${mc.loadAfter.toFixed(1)}; ${report.isolation}`);
  console.log(
    `  - synthetic codes: popularity ∝ (rank + 1 + ${g.offset})^−${g.alpha}, ${g.roots} top-level features, parent of rank r uniform in [0, r/${g.branching}), ` +
      `P(parent fires | child fires) ≥ ${g.parentProb}; seed ${g.seed}; generated in ${report.generateSeconds.toFixed(1)} s (not timed)`,
  );
  const q = large.densityQuantiles.map((x) => x.toExponential(1)).join(" / ");
  console.log(`  - densities of the ${int(large.docs)} case (min / 1% / median / 99% / max): ${q}; feature set 'alive' = density in [${b.aliveDensity.min}, ${b.aliveDensity.max})`);
  console.log(
    `  - total = counting + buildFamilies (wall); CPU = its user + system time; "edges" is candidateEdges timed alone, "forest+rest" = buildFamilies − edges; ` +
      `the density pass that picks the feature set is not in the total`,
  );
  console.table(familyBenchRows(report));
  for (const s of report.skipped) console.log(`skipped ${s.domain}: ${s.reason}`);
  const verdict = report.meetsTarget ? "meets" : "MISSES";
  console.log(
    `\n${int(large.docs)}-document build: ${report.syntheticSeconds.toFixed(2)} s vs target ≤ ${report.targetSeconds} s on this machine — ${verdict} the target` +
      `\npeak RSS ${int(large.docs)} / ${int(report.cases[1]!.docs)} documents: ${report.rssLargeOverSmall.toFixed(2)}x — memory follows M and the edges, not N: ` +
      `the M(M−1)/2 uint32 counts are ${countsMB(large.m).toFixed(0)} MB at M = ${int(large.m)}, each candidate edge 16 B, one block of codes ${int(COOC_BLOCK_ROWS)} rows`,
  );
  console.log(`\nreport: ${displayPath(path)}`);
}

/** The one JSON line of `--json`: the headline figures, then the full report. */
export function familyBenchJson(report: FamilyBenchReport, path: string): string {
  const [large, small] = report.cases;
  const { syntheticSeconds, targetSeconds, meetsTarget, rssLargeOverSmall, ...rest } = report;
  return JSON.stringify({
    syntheticSeconds,
    targetSeconds,
    meetsTarget,
    syntheticPeakRssMB: large?.peakRssMB,
    smallSyntheticSeconds: small?.totalSeconds,
    smallSyntheticPeakRssMB: small?.peakRssMB,
    rssLargeOverSmall,
    reportPath: displayPath(path),
    ...rest,
  });
}

/** Run the benchmark (or one `--case`); returns the exit code. */
export function benchFamiliesMain(args: BenchFamiliesArgs): number {
  if (args.help) {
    console.log(BENCH_FAMILIES_USAGE);
    return 0;
  }
  try {
    if (args.case !== undefined) {
      console.log(JSON.stringify(runFamilyCase(FamilyCaseSpec.parse(JSON.parse(args.case)))));
      return 0;
    }
    const settings = benchFamiliesSettingsFromArgs(args);
    const report = runFamilyBench(settings, (r) => {
      if (!args.json) console.log(`  ${r.label}: ${r.totalSeconds.toFixed(2)} s, ${Math.round(r.peakRssMB)} MB`);
    });
    const { settings: used, startedAt, ...figures } = report;
    const { path } = writeBenchRecord("families", { config: used, figures, startedAt, ...(args.out ? { out: args.out } : {}) });
    if (args.json) console.log(familyBenchJson(report, path));
    else printFamilyBench(report, path);
    return 0;
  } catch (err) {
    console.error(describeError(err));
    return 1;
  }
}
