/**
 * `npm run bench:paper-scale`: every stage that touches the whole corpus, at the paper's scale (paper §1:
 * ≈ 270k abstracts embedded with text-embedding-3-small, D = 1536; §2: top-k SAEs, n up to 9216), on a
 * seeded synthetic store (src/embed/synthetic-npy.ts) adopted through the npy provider. Each step runs in
 * its own child process, so its peak RSS (`process.resourceUsage().maxRSS`) is its own:
 *
 * synth (write the `.npy` in chunks) → adopt (adoptNpy) → open (EmbeddingStore.open: the O(N) ids alone) →
 * stats (notebook 01's calls: storeStats, storeDomainCosines, the PCA map on a 5,000-row sample) → train
 * (trainSae, onnx engine) → encode (encodeStore) → cooc (cooccurrenceFromNpy over the features in the
 * families stage's default density band).
 *
 * Measurements only: nothing here gates CI. Files live under `<data>/paper-scale/n<N>/` and are deleted
 * at the end unless `keep`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { pcaFit, pcaProject } from "../core/pca.js";
import { SaerchError } from "../core/errors.js";
import { sampleDocs } from "../corpus/select.js";
import { adoptNpy } from "../embed/adopt-npy.js";
import { storeDomainCosines } from "../embed/checks.js";
import { EmbeddingStore, storeStats } from "../embed/store-reader.js";
import { SYNTHETIC_DOMAINS, syntheticLabels, writeSyntheticEmbeddingsNpy } from "../embed/synthetic-npy.js";
import { cooccurrenceFromNpy } from "../families/cooccurrence.js";
import { dataDir } from "../io/paths.js";
import { loadSaeWeights } from "../sae/checkpoint.js";
import { CODES_INDICES_FILE, encodeStore } from "../sae/encode.js";
import { createTrainStep } from "../sae/engines.js";
import { trainSae } from "../sae/trainer.js";

/** The steps, in the order they run. */
export const PAPER_SCALE_STEPS = ["synth", "adopt", "open", "stats", "train", "encode", "cooc"] as const;
/** One step's name. */
export type PaperScaleStep = (typeof PAPER_SCALE_STEPS)[number];

/** Settings of one run of the measurement. */
export const PaperScaleConfig = z.strictObject({
  sizes: z.array(z.number().int().min(2048)).min(1).default([25_000, 270_000]).describe("corpus sizes N: the default profile's ≈ 25k and the paper's ≈ 270k"),
  dim: z.number().int().min(2).default(1536).describe("embedding dimension D: text-embedding-3-small's 1536 (paper §1)"),
  n: z.number().int().min(2).default(9216).describe("SAE dictionary size F: the paper's largest, 9216 = 6·D (§2)"),
  k: z.number().int().min(1).default(32).describe("active latents K: 32, the paper's mid-range k (§2)"),
  batch: z.number().int().min(1).default(1024).describe("training batch B: 1024 as in the paper"),
  steps: z.number().int().min(1).default(300).describe("training steps: a few hundred, enough to show the step time and that RSS does not grow with N"),
  threads: z.number().int().min(1).default(2).describe("engine threads: the reference machine's 2 cores"),
  encodeRows: z.number().int().min(1).optional().describe("encode only the first this many rows (a prefix) when the whole corpus would take too long; default every row"),
  cosinePairs: z.number().int().min(1).default(5000).describe("pairs per group of the domain cosines: notebook 01's 5000"),
  pcaRows: z.number().int().min(2).default(5000).describe("rows the PCA map is fitted on: notebook 01's 5000 sampled rows"),
  mapRows: z.number().int().min(1).default(4000).describe("rows projected onto the map: notebook 01's 4000"),
  seed: z.number().int().default(0).describe("seeds the synthetic data and the SAE"),
  keep: z.boolean().default(false).describe("keep the synthetic files (≈ 2 × N·D·4 bytes) instead of deleting them at the end"),
});
/** Parsed settings. */
export type PaperScaleConfig = z.infer<typeof PaperScaleConfig>;

/** What one step measured. */
export interface PaperScaleStepResult {
  step: PaperScaleStep;
  /** Corpus size N. */
  rows: number;
  /** Wall seconds of the step's work (process start and module loading excluded). */
  seconds: number;
  /** Peak resident set of the step's process, MB (10^6 bytes). */
  peakRssMB: number;
  /** Step-specific figures (NMSE, throughput, …). */
  details: Record<string, number | string>;
}

/** Files of one size. */
function layout(root: string, rows: number) {
  const dir = join(root, `n${rows}`);
  return { dir, npy: join(dir, "embeddings.npy"), ids: join(dir, "ids.json"), store: join(dir, "store"), sae: join(dir, "sae"), features: join(dir, "features.json") };
}

/** The measurement root (`<data>/paper-scale`). */
export const paperScaleRoot = (): string => join(dataDir(), "paper-scale");

/**
 * Run one step in this process (the child's side) and return what it measured.
 * @param rows corpus size N
 */
export async function runPaperScaleStep(step: PaperScaleStep, rows: number, cfg: PaperScaleConfig, root = paperScaleRoot()): Promise<PaperScaleStepResult> {
  const f = layout(root, rows);
  const t0 = performance.now();
  const details: Record<string, number | string> = {};
  switch (step) {
    case "synth":
      mkdirSync(f.dir, { recursive: true });
      writeSyntheticEmbeddingsNpy(f.npy, f.ids, { rows, dim: cfg.dim, seed: cfg.seed });
      details.bytes = rows * cfg.dim * 4;
      break;
    case "adopt": {
      const r = adoptNpy({ embeddingsPath: f.npy, idsPath: f.ids, dir: f.store, model: "synthetic-unit" });
      details.shards = r.shards;
      break;
    }
    case "open":
      details.count = EmbeddingStore.open(f.store).count;
      break;
    case "stats": {
      const store = EmbeddingStore.open(f.store);
      const labels = syntheticLabels(store.count);
      const norms = storeStats(store);
      const cos = storeDomainCosines(store, labels, SYNTHETIC_DOMAINS, { pairs: cfg.cosinePairs, seed: 0 });
      const fitRows = sampleDocs(store.ids.map((id) => ({ id, title: "", abstract: "", categories: [] })), cfg.pcaRows, 2).map((doc) => store.indexOf(doc.id));
      const pca = pcaFit(store.gather(fitRows), fitRows.length, store.dim, { components: 2, seed: 0 });
      const shown = fitRows.slice(0, cfg.mapRows);
      pcaProject(store.gather(shown), shown.length, pca);
      details.normMean = norms.normMean;
      for (const [name, mean] of Object.entries(cos.means)) details[`cosine ${name}`] = Number(mean.toFixed(4));
      details.pc1Fraction = Number((pca.varianceC[0]! / pca.totalVariance).toFixed(4));
      details.readAllRefused = store.count * store.dim * 4 > 2 ** 30 ? "yes" : "no";
      break;
    }
    case "train": {
      rmSync(f.sae, { recursive: true, force: true });
      const store = EmbeddingStore.open(f.store);
      const r = await trainSae({
        config: { d: cfg.dim, n: cfg.n, k: cfg.k, batch: cfg.batch, steps: cfg.steps, threads: cfg.threads, seed: cfg.seed, checkpointEvery: cfg.steps, logEvery: Math.min(50, cfg.steps) },
        store,
        dir: f.sae,
        createStep: createTrainStep,
        quiet: true,
      });
      details.steps = r.steps;
      details.nmse = Number((r.stats?.nmse ?? NaN).toFixed(4));
      details.stepsPerSecond = Number((r.stats?.stepsPerSecond ?? NaN).toFixed(2));
      break;
    }
    case "encode": {
      const store = EmbeddingStore.open(f.store);
      const { params, k } = loadSaeWeights(join(f.sae, "sae.safetensors"));
      const count = Math.min(cfg.encodeRows ?? store.count, store.count);
      const te = performance.now();
      const r = await encodeStore({ params, k, store, dir: f.sae, quiet: true, ...(count < store.count ? { rows: Int32Array.from({ length: count }, (_, i) => i) } : {}) });
      const alive: number[] = [];
      r.stats.densityF.forEach((dens, j) => {
        if (dens >= 0.0005 && dens < 0.2) alive.push(j);
      });
      writeFileSync(f.features, JSON.stringify(alive));
      details.encoded = r.count;
      details.docsPerSecond = Math.round(r.count / ((performance.now() - te) / 1000));
      details.neverActive = r.stats.neverActive;
      break;
    }
    case "cooc": {
      const features = JSON.parse(readFileSync(f.features, "utf8")) as number[];
      const c = cooccurrenceFromNpy(join(f.sae, CODES_INDICES_FILE), features, cfg.n);
      details.features = features.length;
      details.docs = c.docs;
      details.pairsMB = Number((c.pairs.byteLength / 1e6).toFixed(1));
      break;
    }
  }
  return { step, rows, seconds: (performance.now() - t0) / 1000, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1000), details };
}

/** Line prefix of a child's result on stdout. */
const RESULT_PREFIX = "paper-scale-result ";

/** The child's entry point: run `step` and print its result line. */
export async function paperScaleChildMain(step: string, rows: number, cfg: PaperScaleConfig): Promise<void> {
  if (!(PAPER_SCALE_STEPS as readonly string[]).includes(step)) throw new SaerchError(`unknown paper-scale step "${step}"`, `one of ${PAPER_SCALE_STEPS.join(", ")}`);
  const r = await runPaperScaleStep(step as PaperScaleStep, rows, cfg);
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(r)}\n`);
}

/**
 * Run every step for every size, each in a child `node <script> --child <step> --rows <N> --config <json>`.
 * @param script the CLI script the children run (scripts/paper-scale.mjs)
 * @param onResult called after each step (for live output)
 */
export function runPaperScale(cfg: PaperScaleConfig, script: string, onResult?: (r: PaperScaleStepResult) => void): PaperScaleStepResult[] {
  const out: PaperScaleStepResult[] = [];
  for (const rows of cfg.sizes) {
    const f = layout(paperScaleRoot(), rows);
    try {
      for (const step of PAPER_SCALE_STEPS) {
        if (step === "synth" && existsSync(f.npy) && existsSync(f.ids) && cfg.keep) continue;
        const child = spawnSync(process.execPath, [script, "--child", step, "--rows", String(rows), "--config", JSON.stringify(cfg)], { encoding: "utf8", maxBuffer: 64 * 2 ** 20, stdio: ["ignore", "pipe", "inherit"] });
        const line = child.stdout.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
        if (child.status !== 0 || line === undefined) throw new SaerchError(`paper-scale step ${step} at N = ${rows} failed (exit ${child.status ?? child.signal})`, "see its error above");
        const r = JSON.parse(line.slice(RESULT_PREFIX.length)) as PaperScaleStepResult;
        out.push(r);
        onResult?.(r);
      }
    } finally {
      if (!cfg.keep) rmSync(f.dir, { recursive: true, force: true });
    }
  }
  return out;
}

/** A Markdown table of the results: one row per step, one column pair (seconds, peak RSS) per size. */
export function paperScaleTable(results: readonly PaperScaleStepResult[]): string {
  const sizes = [...new Set(results.map((r) => r.rows))];
  const head = `| step | ${sizes.map((n) => `N ${n.toLocaleString("en-US")}: s | peak RSS MB`).join(" | ")} | details (largest N) |`;
  const rule = `|---|${sizes.map(() => "---|---").join("|")}|---|`;
  const lines = PAPER_SCALE_STEPS.filter((s) => results.some((r) => r.step === s)).map((step) => {
    const cells = sizes.map((n) => {
      const r = results.find((x) => x.step === step && x.rows === n);
      return r ? `${r.seconds.toFixed(1)} | ${r.peakRssMB}` : "— | —";
    });
    const last = results.filter((x) => x.step === step).at(-1);
    const details = last ? Object.entries(last.details).map(([k, v]) => `${k} ${v}`).join(", ") : "";
    return `| ${step} | ${cells.join(" | ")} | ${details} |`;
  });
  return [head, rule, ...lines].join("\n");
}
