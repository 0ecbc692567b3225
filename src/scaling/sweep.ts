/**
 * Scaling sweeps (METHOD.md §3): an SAE per cell of a grid over dictionary size n (as multiples of d) and
 * sparsity k, per domain, each an ordinary resumable SAE run with its own run id. Rerunning skips finished
 * cells and resumes an interrupted one (a kill -9 loses at most one checkpoint interval). Per run it records
 * final NMSE on the training rows and on a held-out split, dead fraction, feature densities (the training
 * rows' codes are written beside the weights), steps, examples, FLOPs on the paper's axis and an estimate of
 * the engine's own arithmetic, wall time, and the training curve. Every engine runs a sweep: the cells train on
 * `train.engine`, and a webgpu sweep also encodes and evaluates each cell's rows on the device (as the SAE stage
 * does, src/sae/stage.ts), so its codes come from the arithmetic it trained with.
 */
import { join } from "node:path";
import * as aq from "arquero";
import { z } from "zod";
import { SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import type { EmbeddingStore } from "../embed/store-reader.js";
import { artefactRun } from "../io/artefact.js";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.js";
import { readJsonlLog } from "../io/jsonl.js";
import type { Profile } from "../compute/profile.js";
import type { ResolvedSaeConfig, SaeConfigInput } from "../sae/config.js";
import { encodeEngine, encodeStore, reconstructionReport } from "../sae/encode.js";
import { createTrainStep } from "../sae/engines.js";
import { domainRows, SAE_STAGE_VERSION } from "../sae/stage.js";
import { verifiedWeightsHash } from "../sae/weights-hash.js";
import { storeIdentityKey } from "../embed/identity.js";
import { METRICS_FILE, type TrainMetrics, trainSae } from "../sae/trainer.js";

/** A sweep: the grid, the held-out split and the training settings every cell shares. */
export const SweepConfig = z.strictObject({
  domains: z.array(z.string().min(1)).min(1).default(["astro-ph", "cs.LG"]).describe("one grid per domain, as the paper's two corpora"),
  nMultiples: z
    .array(z.number().positive())
    .min(1)
    .default([2, 4, 8])
    .describe("dictionary sizes as multiples of d (the paper: 2, 3, 4, 6, 8 · 1536)"),
  ks: z.array(z.number().int().min(1)).min(1).default([16, 32, 64]).describe("sparsities k (the paper: 16, 32, 64, 128)"),
  heldOutFraction: z
    .number()
    .min(0)
    .max(0.5)
    .default(0.1)
    .describe("fraction of each domain's rows kept out of training to measure held-out NMSE"),
  splitSeed: z.number().int().default(0).describe("seed of the train / held-out split"),
  train: z
    .record(z.string(), z.unknown())
    .default({})
    .describe("SAE settings shared by every cell (steps or epochs, batch, lr, …): anything of SaeConfig but d, n, k"),
});
/** Parsed sweep config. */
export type SweepConfig = z.infer<typeof SweepConfig>;

/** Sweep presets: tiny 2 × 2 with few steps (CI); default 3 × 3 at d = 512; paper 5 × 4 for 50 epochs. */
export function sweepPreset(profile: Profile): z.input<typeof SweepConfig> {
  switch (profile) {
    case "tiny":
      return { nMultiples: [1, 2], ks: [8, 16], train: { steps: 40, batch: 128, checkpointEvery: 20, logEvery: 10, threads: 2 } };
    case "default":
      return { nMultiples: [2, 4, 8], ks: [16, 32, 64], train: { steps: 800, logEvery: 50, checkpointEvery: 200 } };
    case "paper":
      return { nMultiples: [2, 3, 4, 6, 8], ks: [16, 32, 64, 128], train: { epochs: 50 } };
  }
}

/** One finished cell of the sweep. */
export interface SweepRecord {
  domain: string;
  n: number;
  k: number;
  d: number;
  runDir: string;
  trainRows: number;
  heldOutRows: number;
  /** Fraction of variance unexplained over all training rows with the final weights. */
  nmseTrain: number;
  /** The same on the held-out rows (NaN when there are none). */
  nmseHeldOut: number;
  /** Mean cosine(x, x̂) on the held-out rows (NaN when there are none). */
  cosineHeldOut: number;
  /** Dead fraction in the last logging window. */
  deadFraction: number;
  steps: number;
  examples: number;
  /** The paper's compute axis: examples × 2·d·(n + k). */
  flopsPaper: number;
  /** Estimated arithmetic of the sparse-aware step (see engineFlopsPerStep) × steps. */
  flopsEngine: number;
  /** Training wall time, seconds (summed over resumed sessions). */
  seconds: number;
  /** `[F]` feature density on the training rows (fraction of documents whose top-k holds the feature). */
  density: number[];
  /** Training curve: steps, examples and window-mean NMSE at every logged line. */
  curve: { step: number[]; examples: number[]; nmse: number[] };
}

/**
 * Estimated floating-point operations of one sparse-aware training step: the encoder product 2·B·d·n, the
 * sparse decode and its two backward products over the k + kAux selected latents (3 · 2·B·(k + kAux)·d),
 * the encoder-gradient scatter and pre-bias term (2 · 2·B·(k + kAux)·d), and ≈ 12 operations per parameter
 * for projection, clipping, Adam and renormalisation. An estimate for comparing runs, not a count.
 */
export function engineFlopsPerStep(c: Pick<ResolvedSaeConfig, "d" | "n" | "k" | "kAux" | "batch">): number {
  const sparse = 2 * c.batch * (c.k + c.kAux) * c.d;
  const params = 2 * c.n * c.d + c.n + c.d;
  return 2 * c.batch * c.d * c.n + 5 * sparse + 12 * params;
}

/** Deterministic train / held-out split of a domain's rows. */
export function splitRows(rows: Int32Array, fraction: number, seed: number, label: string): { train: Int32Array; heldOut: Int32Array } {
  const perm = new Rng(seed).fork(`split:${label}`).permutation(rows.length);
  const cut = Math.floor(fraction * rows.length);
  const heldOut = Int32Array.from(perm.subarray(0, cut), (p) => rows[p]!).sort();
  const train = Int32Array.from(perm.subarray(cut), (p) => rows[p]!).sort();
  return { train, heldOut };
}

/** The results table's columns, in order (everything but the curve). */
const COLUMNS = [
  "domain",
  "n",
  "k",
  "d",
  "trainRows",
  "heldOutRows",
  "nmseTrain",
  "nmseHeldOut",
  "cosineHeldOut",
  "deadFraction",
  "steps",
  "examples",
  "flopsPaper",
  "flopsEngine",
  "seconds",
] as const;

/** Run-id prefix of a sweep's directory (`data/scaling/sweep-<hash>`). */
export const SWEEP_RUN_PREFIX = "sweep";

/** The config a sweep's run id is derived from: the store it trains on and the parsed sweep config. */
export function sweepRunConfig(store: Pick<EmbeddingStore, "dir" | "manifest" | "ids" | "textHashes">, cfg: SweepConfig): Record<string, unknown> {
  return { embedderId: store.manifest.embedderId, store: store.dir.split("/").pop(), ...storeIdentityKey(store), algorithm: [SCALING_STAGE_VERSION, SAE_STAGE_VERSION], sweep: cfg };
}

/**
 * Version of the sweep's behaviour (splits, what each cell records); bump it with every change that
 * changes results.json, so a sweep of the old behaviour is not reopened. Cells also carry SAE_STAGE_VERSION.
 */
export const SCALING_STAGE_VERSION = 1;

/**
 * Run (or resume) every cell of a sweep on an embedding store whose `domains.json` labels its rows, and
 * save the results table as `results.csv` / `results.json` in `data/scaling/<sweepId>/`.
 * @param labels domain label of every store row `[N]`
 */
export async function runSweep(
  store: EmbeddingStore,
  labels: readonly string[],
  input: z.input<typeof SweepConfig>,
  opts: { onCell?: (done: number, total: number, record: SweepRecord) => void } = {},
): Promise<{ records: SweepRecord[]; dir: string }> {
  const parsed = SweepConfig.safeParse(input);
  if (!parsed.success) throw new SaerchError(`invalid sweep config: ${parsed.error.message}`);
  const cfg = parsed.data;
  const d = store.dim;
  const sweep = artefactRun("scaling", sweepRunConfig(store, cfg), SWEEP_RUN_PREFIX);
  const total = cfg.domains.length * cfg.nMultiples.length * cfg.ks.length;
  const records: SweepRecord[] = [];
  for (const domain of cfg.domains) {
    const { train, heldOut } = splitRows(domainRows(labels, domain), cfg.heldOutFraction, cfg.splitSeed, domain);
    for (const mult of cfg.nMultiples) {
      for (const k of cfg.ks) {
        const n = Math.round(mult * d);
        const sae = { ...(cfg.train as Omit<SaeConfigInput, "d" | "n" | "k">), d, n, k } as SaeConfigInput;
        const run = artefactRun(
          "scaling",
          { embedderId: store.manifest.embedderId, store: store.dir.split("/").pop(), ...storeIdentityKey(store), algorithm: SAE_STAGE_VERSION, domain, split: [cfg.heldOutFraction, cfg.splitSeed], sae },
          `${domain}-n${n}-k${k}`,
        );
        const res = await trainSae({ config: sae, store, rows: train, dir: run.dir, createStep: (c, init) => createTrainStep(c, init) });
        const metrics = readJsonlLog(join(run.dir, METRICS_FILE)) as TrainMetrics[];
        const last = res.stats;
        const engine = encodeEngine(res.config.engine);
        const trainReport = await reconstructionReport(res.params, store, train, k, undefined, engine);
        const weightsSha256 = verifiedWeightsHash(run.dir);
        const codes = await encodeStore({ params: res.params, k, store, rows: train, dir: run.dir, quiet: true, weightsSha256, engine });
        const held = heldOut.length >= 2 ? await reconstructionReport(res.params, store, heldOut, k, undefined, engine) : undefined;
        const examples = res.config.steps * res.config.batch;
        const record: SweepRecord = {
          domain,
          n,
          k,
          d,
          runDir: run.dir,
          trainRows: train.length,
          heldOutRows: heldOut.length,
          nmseTrain: trainReport.nmse,
          nmseHeldOut: held?.nmse ?? Number.NaN,
          cosineHeldOut: held?.meanCosine ?? Number.NaN,
          deadFraction: last?.deadFraction ?? Number.NaN,
          steps: res.config.steps,
          examples,
          flopsPaper: examples * 2 * d * (n + k),
          flopsEngine: res.config.steps * engineFlopsPerStep(res.config),
          seconds: last?.elapsed ?? Number.NaN,
          density: Array.from(codes.stats.densityF, (v) => Number(v.toPrecision(4))),
          curve: {
            step: metrics.map((m) => m.step),
            examples: metrics.map((m) => m.examples),
            nmse: metrics.map((m) => m.nmse),
          },
        };
        records.push(record);
        opts.onCell?.(records.length, total, record);
      }
    }
  }
  const table = resultsTable(records);
  writeFileAtomic(join(sweep.dir, "results.csv"), table.toCSV());
  writeJsonAtomic(join(sweep.dir, "results.json"), records);
  return { records, dir: sweep.dir };
}

/** The sweep's results as an arquero table (one row per run, the curve left out). */
export function resultsTable(records: readonly SweepRecord[]): aq.ColumnTable {
  return aq.from(records.map((r) => Object.fromEntries(COLUMNS.map((c) => [c, r[c]]))));
}
