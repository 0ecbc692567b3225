/**
 * The `npm run bench:sae` command: a table over engines and shapes, or one JSON line for scripted use; every
 * run keeps its record in `data/bench/sae-<timestamp>.json` (src/tools/bench-record.ts).
 */
import { describeError } from "../core/errors.js";
import { displayPath, sharedPath } from "../io/paths.js";
import { writeBenchRecord } from "../tools/bench-record.js";
import { readNpyRows } from "../io/npy.js";
import { SaerchError } from "../core/errors.js";
import { type BenchStream, benchSaeEngine, benchTorchPeer, type SaeBenchResult } from "./bench.js";
import type { EngineName } from "./engines.js";

/** Command-line options (strings as parsed). */
export interface BenchSaeArgs {
  engine?: string;
  d?: string;
  n?: string;
  k?: string;
  batch?: string;
  steps?: string;
  /** "overlap" or "sequential": gather batches from shuffled rows through the trainer's batch stream (bench.ts). */
  stream?: string;
  json?: boolean;
}

/** What the rows of a case are (recorded in its config). */
const SYNTHETIC = "synthetic unit-norm rows";
const REAL_ROWS = "shared use-lite-512 embeddings, first 8192 rows";

const num = (v: string | undefined, fallback: number): number => (v === undefined ? fallback : Number(v));

/** The --stream value, checked. */
function streamArg(v: string | undefined): BenchStream | undefined {
  if (v === undefined || v === "overlap" || v === "sequential") return v;
  throw new SaerchError(`--stream must be "overlap" or "sequential", got ${JSON.stringify(v)}`);
}

function row(r: SaeBenchResult): Record<string, string> {
  const streamed: Record<string, string> =
    r.stream === undefined
      ? {}
      : {
          stream: r.stream,
          "gather (ms/batch)": (r.gatherMsPerBatch ?? Number.NaN).toFixed(2),
          ...(r.overlappedMsPerStep === undefined ? {} : { "overlapped host (ms/step)": r.overlappedMsPerStep.toFixed(2) }),
        };
  return {
    engine: r.engine,
    shape: `d ${r.d}, n ${r.n}, k ${r.k}, B ${r.batch}`,
    "steps/s": r.stepsPerSecond.toFixed(2),
    "samples/s": Math.round(r.samplesPerSecond).toLocaleString("en-US"),
    "encoder GEMM (ms)": (r.encoderGemmSeconds * 1000).toFixed(1),
    "step / GEMM": r.stepOverGemm.toFixed(2),
    "peak RSS (MB)": Math.round(r.peakRssMB).toString(),
    ...streamed,
  };
}

/** Printed after a webgpu measurement on a CPU rasteriser. */
export const SOFTWARE_NOTE =
  "software adapter (CPU rasteriser): a correctness run — the full-size step ran end to end on the device — not a speed figure; " +
  "measure on a machine with a GPU and its vendor's Vulkan driver";

/** Run the benchmark; returns the exit code. */
export async function benchSaeMain(args: BenchSaeArgs): Promise<number> {
  try {
    const startedAt = new Date().toISOString();
    const steps = num(args.steps, 5);
    if (args.engine) {
      const stream = streamArg(args.stream);
      const config = {
        engine: args.engine as EngineName,
        d: num(args.d, 1536),
        n: num(args.n, 8192),
        k: num(args.k, 32),
        batch: num(args.batch, 1024),
        steps,
        ...(stream ? { stream } : {}),
      };
      const r = await benchSaeEngine(config);
      const { path } = writeBenchRecord("sae", { config, figures: { results: [r] }, startedAt });
      if (args.json) console.log(JSON.stringify(r.softwareAdapter ? { ...r, note: SOFTWARE_NOTE } : r));
      else {
        console.table([row(r)]);
        if (r.adapter !== undefined) console.log(`adapter: ${r.adapter}`);
        if (r.softwareAdapter) console.log(SOFTWARE_NOTE);
      }
      // stdout stays one JSON line with --json; the record's path goes to stderr.
      console.error(`recorded in ${displayPath(path)}`);
      return 0;
    }
    // The paper's shape on synthetic unit-norm rows, then the real 512-d shared embeddings (tfjs takes
    // seconds per step, so it runs fewer).
    const cases = [
      ...(["onnx", "tfjs"] as const).map((engine) => ({ engine, d: 1536, n: 8192, k: 32, batch: 1024, steps: engine === "tfjs" ? 2 : steps, data: SYNTHETIC })),
      ...(["onnx", "tfjs"] as const).map((engine) => ({ engine, d: 512, n: 4096, k: 32, batch: 1024, steps: engine === "tfjs" ? 3 : 20, data: REAL_ROWS })),
    ];
    const results: SaeBenchResult[] = [];
    let realRD: Float32Array | undefined;
    for (const { data, ...shape } of cases) {
      if (data === REAL_ROWS) realRD ??= readNpyRows(sharedPath("embeddings", "use-lite-512", "embeddings.npy"), 0, 8192).data as Float32Array;
      results.push(await benchSaeEngine(data === REAL_ROWS ? { ...shape, dataRD: realRD } : shape));
    }
    console.table(results.map(row));
    const torchConfig = { d: 1536, n: 8192, k: 32, batch: 1024, steps };
    const torch = benchTorchPeer(torchConfig);
    if (torch.ok) {
      const onnx = results[0]!;
      console.log(
        `${torch.engine}: ${torch.stepsPerSecond.toFixed(2)} steps/s, encoder GEMM ${(torch.encoderGemmSeconds * 1000).toFixed(1)} ms` +
          `\nonnx engine / PyTorch: ${(onnx.stepsPerSecond / torch.stepsPerSecond).toFixed(2)}x steps/s (target ≥ 3x)`,
      );
    } else console.log(`PyTorch peer: not run (${torch.reason})`);
    const { path } = writeBenchRecord("sae", { config: { cases, torchPeer: torchConfig }, figures: { results, torchPeer: torch }, startedAt });
    console.log(`\nrecorded in ${displayPath(path)}`);
    return 0;
  } catch (err) {
    console.error(describeError(err));
    return 1;
  }
}
