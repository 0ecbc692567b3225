/**
 * The `npm run stress:sae` command (stress.ts): `--runs N` trainings on two threads, each checked against a
 * repeat and the one-thread run; `--load` adds one busy-looping process per core, `--jitter MS` random delays
 * in the workers, `--late-notify MS` a second notify of the idle workers that long after every pass, `--shape tiny` the tiny profile's notebook-02 training (d 512 from the shared embeddings,
 * 300 astro-ph rows, n 1024, k 16, B 256, 150 steps); `--json` prints one JSON line.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { describeError, SaerchError } from "../core/errors.js";
import { sharedPath } from "../io/paths.js";
import { readNpyRows } from "../io/npy.js";
import { runStress, type StressConfig } from "./stress.js";
import { saePreset } from "./config.js";

/** Command-line options (strings as parsed). */
export interface StressSaeArgs {
  runs?: string;
  load?: boolean;
  jitter?: string;
  lateNotify?: string;
  shape?: string;
  threads?: string;
  steps?: string;
  seed?: string;
  json?: boolean;
}

/** Rows the tiny profile trains per domain (embedPreset tiny: 300 abstracts per domain). */
const TINY_ROWS = 300;

/** The first `rows` astro-ph rows of the shared USE-lite store `[rows, 512]`. */
function sharedDomainRows(rows: number): { rowsMD: Float32Array; d: number } {
  const dir = sharedPath("embeddings", "use-lite-512");
  const domains = JSON.parse(readFileSync(`${dir}/domains.json`, "utf8")) as string[];
  const picks = domains.flatMap((dom, i) => (dom === "astro-ph" ? [i] : [])).slice(0, rows);
  const all = readNpyRows(`${dir}/embeddings.npy`, 0, picks[picks.length - 1]! + 1);
  const d = all.shape[1]!;
  const src = all.data as Float32Array;
  const rowsMD = new Float32Array(picks.length * d);
  picks.forEach((r, i) => rowsMD.set(src.subarray(r * d, (r + 1) * d), i * d));
  return { rowsMD, d };
}

const int = (name: string, v: string): number => {
  const x = Number(v);
  if (!Number.isInteger(x)) throw new SaerchError(`--${name} must be an integer, got "${v}"`);
  return x;
};

/** Run the harness; returns the exit code (1 when any run failed or mismatched). */
export async function stressSaeMain(args: StressSaeArgs): Promise<number> {
  try {
    const input: Partial<StressConfig> = { load: args.load ? availableParallelism() : 0 };
    if (args.runs !== undefined) input.runs = int("runs", args.runs);
    if (args.jitter !== undefined) input.jitterMs = Number(args.jitter);
    if (args.lateNotify !== undefined) input.lateNotifyMs = Number(args.lateNotify);
    if (args.threads !== undefined) input.threads = int("threads", args.threads);
    if (args.seed !== undefined) input.seed = int("seed", args.seed);
    let data: { rowsMD: Float32Array; d: number } | undefined;
    if (args.shape === "tiny") {
      data = sharedDomainRows(TINY_ROWS);
      const p = saePreset("tiny", data.d);
      // 150 steps: one- and two-thread runs pick different top-k sets and diverge by design, so that
      // comparison is reported, not counted; the repeat and the kernel passes must still match bit for bit.
      Object.assign(input, { n: p.n, k: p.k, batch: p.batch, steps: p.steps, stateEvery: p.checkpointEvery, oneThreadTolerance: null });
    } else if (args.shape !== undefined && args.shape !== "small") {
      throw new SaerchError(`--shape must be small or tiny, got "${args.shape}"`);
    }
    if (args.steps !== undefined) input.steps = int("steps", args.steps);
    const quiet = args.json === true;
    const report = await runStress(input, data, (i, ok) => {
      if (!quiet && (!ok || (i + 1) % 25 === 0)) process.stderr.write(`run ${i + 1}${ok ? "" : " FAILED or MISMATCHED"}\n`);
    });
    if (args.json) console.log(JSON.stringify(report));
    else {
      console.log(
        `${report.runs} runs on ${report.threads} threads (d ${report.shape.d}, n ${report.shape.n}, k ${report.shape.k}, B ${report.shape.batch}, ` +
          `${report.shape.steps} steps; load ${report.load} processes, jitter ${report.jitterMs} ms, late notify ${report.lateNotifyMs} ms): ${report.failures} failures, ` +
          `${report.mismatches} mismatches (repeat ${report.repeatMismatches}, one thread ${report.oneThreadMismatches}, kernel passes ` +
          `${report.kernelMismatches}); largest difference to one thread ${report.maxOneThreadDiff.toExponential(2)}; training ` +
          `${report.trainSecondsMedian.toFixed(3)} s median, ${report.trainSecondsMax.toFixed(3)} s max; ${report.seconds.toFixed(1)} s in all`,
      );
      for (const e of report.errors) console.log(`  ${e}`);
    }
    return report.failures + report.mismatches > 0 ? 1 : 0;
  } catch (err) {
    console.error(describeError(err));
    return 2;
  }
}
