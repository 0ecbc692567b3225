/**
 * `npm run tune:baseline` (METHOD.md §4): tune the offline baseline's parameters on a TUNING SAE per domain —
 * the profile's stage-2 SAE config (same store, n, k, steps) trained with a seed no reported SAE uses — so the
 * scores notebook 04 reports for the stage-2 and sweep SAEs (seed 0) come from parameters that never saw
 * their features. A seeded sample of the tuning SAE's features (examples chosen and held out exactly as the
 * interpretation stage does) is scored by `tuneBaselineParams`; a second, disjoint sample validates the
 * choice. The record goes to `data/tune-baseline/<runId>/tuning.json`.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { z } from "zod";
import { describeError, SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { type Doc, docText } from "../corpus/document.js";
import { embedPreset } from "../embed/config.js";
import type { Embedder } from "../embed/embedder.js";
import { runEmbedStage } from "../embed/stage.js";
import type { EmbeddingStore } from "../embed/store-reader.js";
import { createUseLiteEmbedder } from "../embed/use-lite.js";
import { artefactRun } from "../io/artefact.js";
import { writeJsonAtomic } from "../io/atomic.js";
import { displayPath, sharedPath } from "../io/paths.js";
import { withRunLock } from "../io/run-lock.js";
import { PROFILES, type Profile } from "../compute/profile.js";
import { saePreset } from "../sae/config.js";
import { featureStats, loadCodes } from "../sae/encode.js";
import { runSaeStage, type SaeDomainResult } from "../sae/stage.js";
import { sweepPreset } from "../scaling/sweep.js";
import { BaselineScorer, baselineModels } from "./baseline.js";
import { BaselineConfig, ExamplesConfig } from "./config.js";
import { exampleSource, featureTask } from "./labeller.js";
import { docLookup, storeEmbedderId, targetFromSae } from "./stage.js";
import { buildDocFreq } from "./terms.js";
import { alwaysFiresF1, BaselineGrid, type TuneDomain, TuneObjective, type TuneResult, tuneBaselineParams } from "./tune-baseline.js";
import type { FeatureTask } from "./types.js";

/**
 * Seed of the tuning SAEs. The reported SAEs use seed 0 (stage 2 and the sweep: the presets' default) and
 * seed 1 (notebook 05's stability check); tests/interpret/tune-baseline-stage.test.ts checks this against
 * the presets of every profile and the notebooks' sources.
 */
export const TUNING_SAE_SEED = 7;

/** File of the tuning record in its run directory. */
export const TUNING_FILE = "tuning.json";

/** The tuning run's config. */
export const TuneBaselineConfig = z.strictObject({
  profile: z.enum(PROFILES).default("default").describe("whose embedding store and stage-2 SAE config (n, k, steps) the tuning SAEs copy"),
  seed: z.number().int().default(TUNING_SAE_SEED).describe("SAE seed of the tuning SAEs: must differ from every reported SAE's seed (0 and 1)"),
  domains: z.array(z.string().min(1)).min(1).default(["astro-ph", "cs.LG"]).describe("one tuning SAE per domain, as the reported ones"),
  features: z.number().int().min(1).default(150).describe("features per domain scored by the search (a seeded sample of those with enough examples)"),
  validationFeatures: z.number().int().min(0).default(150).describe("further features per domain, never seen by the search, scoring the start and chosen configs"),
  featureSeed: z.number().int().default(0).describe("seeds the feature samples (each domain its own stream)"),
  objective: TuneObjective.default("f1+pearson").describe("what the search maximises: F1 alone rewards an always-fires predictor (see tune-baseline.ts)"),
  rounds: z.number().int().min(1).default(3).describe("most coordinate-search rounds (the search stops earlier once a round changes nothing)"),
  grid: BaselineGrid.prefault({}).describe("values tried per parameter"),
  start: BaselineConfig.prefault({}).describe("where the search starts (BaselineConfig's defaults)"),
  examples: ExamplesConfig.prefault({}).describe("example selection, as the interpretation stage's (the same defaults)"),
});
/** Parsed tuning config. */
export type TuneBaselineConfig = z.infer<typeof TuneBaselineConfig>;
/** Tuning config as a caller writes it. */
export type TuneBaselineConfigInput = z.input<typeof TuneBaselineConfig>;

/** One domain's tuning SAE. */
export interface TuningSaeInfo {
  domain: string;
  /** Run directory, repo-relative. */
  dir: string;
  seed: number;
  n: number;
  k: number;
  steps: number;
  /** Reconstruction NMSE over its training rows. */
  nmse: number;
}

/** What `tuning.json` holds. */
export interface TuneBaselineRecord {
  config: TuneBaselineConfig;
  embedderId: string;
  store: string;
  tuningSaes: TuningSaeInfo[];
  /** Features sampled per domain: those the search scored, and the validation ones. */
  features: Record<string, { tuning: number[]; validation: number[] }>;
  /** F1 of an always-fires predictor with these held-out counts (the F1 a tuned threshold must beat). */
  alwaysFiresF1: number;
  result: TuneResult;
  /** Wall time of the search (the SAEs and embeddings excluded), seconds. */
  searchSeconds: number;
}

/** The SAE seeds a profile's reported SAEs use through the presets (stage 2 and every sweep cell). */
export function presetSaeSeeds(profile: Profile): number[] {
  // The presets' seeds do not depend on the embedding dimension; 512 stands in for it.
  const sae = saePreset(profile, 512) as { seed?: number };
  const sweepTrain = (sweepPreset(profile).train ?? {}) as { seed?: unknown };
  return [...new Set([sae.seed ?? 0, typeof sweepTrain.seed === "number" ? sweepTrain.seed : 0])];
}

/** A seeded sample of a domain's features that have enough examples: `count` for tuning, then `validation` more. */
function sampleTasks(
  tasksOf: (feature: number) => FeatureTask | undefined,
  n: number,
  rng: Rng,
  count: number,
  validation: number,
): { tuning: FeatureTask[]; validation: FeatureTask[] } {
  const out = { tuning: [] as FeatureTask[], validation: [] as FeatureTask[] };
  for (const j of rng.permutation(n)) {
    if (out.tuning.length >= count && out.validation.length >= validation) break;
    const t = tasksOf(j);
    if (t === undefined) continue;
    (out.tuning.length < count ? out.tuning : out.validation).push(t);
  }
  return out;
}

/** `embed` with every label embedded once: `[L, D]` rows assembled from a per-label cache. */
function cachedLabelEmbedder(embed: (labels: string[]) => Promise<Float32Array>): (labels: string[]) => Promise<Float32Array> {
  const cache = new Map<string, Float32Array>();
  return async (labels) => {
    const missing = [...new Set(labels.filter((l) => !cache.has(l)))];
    if (missing.length > 0) {
      const vecsMD = await embed(missing);
      const d = vecsMD.length / missing.length;
      missing.forEach((l, i) => cache.set(l, vecsMD.slice(i * d, (i + 1) * d)));
    }
    const d = cache.get(labels[0]!)?.length ?? 0;
    const outLD = new Float32Array(labels.length * d);
    labels.forEach((l, i) => outLD.set(cache.get(l)!, i * d));
    return outLD;
  };
}

/** Options of runTuneBaseline. */
export interface RunTuneBaselineOptions {
  /** Recompute even when this config's record exists (default false: reopen it). */
  force?: boolean;
  /** The store's embedder for label texts (default: USE-lite built here, and closed). */
  embedder?: Embedder;
  /** Progress lines (default console.log). */
  log?: (line: string) => void;
}

/**
 * Train (or reopen) the tuning SAEs, sample their features, run the search and write the record.
 * @throws SaerchError when the seed is one a reported SAE of the profile uses
 */
export async function runTuneBaseline(input: TuneBaselineConfigInput, opts: RunTuneBaselineOptions = {}): Promise<TuneBaselineRecord & { dir: string }> {
  const cfg = TuneBaselineConfig.parse(input);
  const log = opts.log ?? ((line: string) => console.log(line));
  const reported = presetSaeSeeds(cfg.profile);
  if (reported.includes(cfg.seed)) {
    throw new SaerchError(`tuning seed ${cfg.seed} is a seed of the reported SAEs (${reported.join(", ")})`, `pick another seed (default ${TUNING_SAE_SEED})`);
  }
  const embed = await runEmbedStage(embedPreset(cfg.profile, { corpusDir: sharedPath("corpus"), embeddingsDir: sharedPath("embeddings", "use-lite-512") }));
  const store = embed.store;
  const saeConfig = { ...saePreset(cfg.profile, store.dim), seed: cfg.seed };
  const saes: SaeDomainResult[] = [];
  for (const domain of cfg.domains) {
    log(`tuning SAE ${domain} (seed ${cfg.seed}): training or reopening`);
    saes.push((await runSaeStage(store, [domain], saeConfig))[0]!);
  }
  const embedderId = opts.embedder?.id ?? storeEmbedderId(store);
  const run = artefactRun(
    "tune-baseline",
    { config: cfg, embedderId, store: basename(store.dir), saes: saes.map((s) => basename(s.dir)), models: baselineModels(embedderId) },
    `seed${cfg.seed}`,
  );
  const file = join(run.dir, TUNING_FILE);
  if (!opts.force && existsSync(file)) return { ...(JSON.parse(readFileSync(file, "utf8")) as TuneBaselineRecord), dir: run.dir };
  return withRunLock(run.dir, "baseline tuning", async () => {
    const embedder = opts.embedder ?? (await createUseLiteEmbedder({}));
    try {
      const record = await tuneOnSaes(cfg, store, embed.selection.docs, saes, embedder, embedderId, log);
      writeJsonAtomic(file, record);
      return { ...record, dir: run.dir };
    } finally {
      if (opts.embedder === undefined) await embedder.close();
    }
  });
}

async function tuneOnSaes(
  cfg: TuneBaselineConfig,
  store: EmbeddingStore,
  docs: readonly Doc[],
  saes: readonly SaeDomainResult[],
  embedder: Embedder,
  embedderId: string,
  log: (line: string) => void,
): Promise<TuneBaselineRecord> {
  const texts = new Map(docs.map((d) => [d.id, docText(d)]));
  const docOf = docLookup(store, texts);
  const embedLabels = cachedLabelEmbedder((labels) => embedder.embed(labels));
  const rng = new Rng(cfg.featureSeed);
  const domains: TuneDomain[] = [];
  const features: TuneBaselineRecord["features"] = {};
  for (const sae of saes) {
    const target = targetFromSae(sae);
    const codes = loadCodes(sae.dir);
    const densityF = featureStats(codes, target.n).densityF;
    const src = exampleSource({ codes, n: target.n, rowsN: target.rowsN, docOf, examples: cfg.examples });
    const taskOf = (j: number): FeatureTask | undefined => {
      const t = featureTask(src, j, densityF[j]!);
      return "reason" in t ? undefined : t;
    };
    const sample = sampleTasks(taskOf, target.n, rng.fork(`tune:${sae.domain}`), cfg.features, cfg.validationFeatures);
    features[sae.domain] = { tuning: sample.tuning.map((t) => t.feature), validation: sample.validation.map((t) => t.feature) };
    const docFreq = buildDocFreq(Array.from(target.rowsN, (r) => docOf(r).text), { bigrams: cfg.start.bigrams });
    domains.push({
      name: sae.domain,
      tasks: sample.tuning,
      validation: sample.validation,
      scorerFor: (config) => new BaselineScorer({ config, docFreq, embedLabels, embeddingsOf: (rows) => store.gather(rows), embedderId }),
    });
    log(`${sae.domain}: ${sample.tuning.length} tuning + ${sample.validation.length} validation features`);
  }
  const t0 = performance.now();
  const result = await tuneBaselineParams({ domains, grid: cfg.grid, start: cfg.start, objective: cfg.objective, rounds: cfg.rounds });
  return {
    config: cfg,
    embedderId,
    store: basename(store.dir),
    tuningSaes: saes.map((s) => ({
      domain: s.domain,
      dir: displayPath(s.dir),
      seed: s.config.seed,
      n: s.config.n,
      k: s.config.k,
      steps: s.config.steps,
      nmse: s.reconstruction.nmse,
    })),
    features,
    alwaysFiresF1: alwaysFiresF1(cfg.examples.heldTop, cfg.examples.heldZero),
    result,
    searchSeconds: (performance.now() - t0) / 1000,
  };
}

/** Command-line options (strings as parsed by `node:util` parseArgs). */
export interface TuneBaselineArgs {
  profile?: string;
  seed?: string;
  features?: string;
  "validation-features"?: string;
  objective?: string;
  rounds?: string;
  force?: boolean;
  json?: boolean;
  help?: boolean;
}

/** The usage text of `--help`. */
export const TUNE_BASELINE_USAGE = `usage: npm run tune:baseline -- [options]
  --profile <p>                 tiny | default (default) | paper: the store and SAE config to copy
  --seed <n>                    seed of the tuning SAEs (default ${TUNING_SAE_SEED}; 0 and 1 are refused or reported)
  --features <n>                tuning features per domain (default 150)
  --validation-features <n>     validation features per domain (default 150)
  --objective <o>               f1+pearson (default) | f1 | pearson
  --rounds <n>                  most coordinate-search rounds (default 3)
  --force                       recompute even when the record exists
  --json                        print the record as JSON instead of the summary`;

const fmt = (x: number | undefined): string => (x === undefined ? "—" : x.toFixed(3));

/** The summary printed after a run: start vs chosen, per domain, on the tuning and validation features. */
export function tuneSummaryLines(record: TuneBaselineRecord & { dir: string }): string[] {
  const r = record.result;
  const row = (what: string, ev: TuneResult["start"]): string[] => [
    `  ${what}: objective ${fmt(ev.score.objective)}, mean F1 ${fmt(ev.score.meanF1)}, mean Pearson ${fmt(ev.score.meanPearson)} (${ev.score.pearsonUndefined} undefined), F1 & Pearson ≥ 0.8: ${ev.score.wellScored}`,
    ...Object.entries(ev.perDomain).map(([d, s]) => `    ${d}: F1 ${fmt(s.meanF1)}, Pearson ${fmt(s.meanPearson)}, labelled ${s.labelled}/${s.features}`),
  ];
  return [
    `tuning SAEs: ${record.tuningSaes.map((s) => `${s.domain} seed ${s.seed} n ${s.n} k ${s.k} (${s.dir})`).join("; ")}`,
    `objective ${r.objective}; ${r.evaluations.length} configs scored in ${r.rounds} rounds, ${record.searchSeconds.toFixed(0)} s; always-fires F1 ${record.alwaysFiresF1.toFixed(3)}`,
    `start  ${JSON.stringify(r.start.params)}`,
    `chosen ${JSON.stringify(r.chosen.params)}`,
    "tuning features:",
    ...row("start ", r.start),
    ...row("chosen", r.chosen),
    ...(r.validation ? ["validation features (never seen by the search):", ...row("start ", r.validation.start), ...row("chosen", r.validation.chosen)] : []),
    `record: ${displayPath(join(record.dir, TUNING_FILE))}`,
  ];
}

function intOption(name: string, value: string): number {
  const x = Number(value);
  if (value.trim() === "" || !Number.isInteger(x)) throw new SaerchError(`--${name} must be an integer, got "${value}"`, "see `npm run tune:baseline -- --help`");
  return x;
}

/** The tuning config from command-line strings (validated by TuneBaselineConfig). */
export function tuneConfigFromArgs(args: TuneBaselineArgs): TuneBaselineConfigInput {
  const c: Record<string, unknown> = {};
  if (args.profile !== undefined) c.profile = args.profile;
  if (args.seed !== undefined) c.seed = intOption("seed", args.seed);
  if (args.features !== undefined) c.features = intOption("features", args.features);
  if (args["validation-features"] !== undefined) c.validationFeatures = intOption("validation-features", args["validation-features"]);
  if (args.objective !== undefined) c.objective = args.objective;
  if (args.rounds !== undefined) c.rounds = intOption("rounds", args.rounds);
  const parsed = TuneBaselineConfig.safeParse(c);
  if (!parsed.success) throw new SaerchError(`invalid tuning options: ${z.prettifyError(parsed.error)}`, "see `npm run tune:baseline -- --help`");
  return c as TuneBaselineConfigInput;
}

/** `npm run tune:baseline`: exit code 0 on success, 1 with the error printed. */
export async function tuneBaselineMain(args: TuneBaselineArgs): Promise<number> {
  if (args.help) {
    console.log(TUNE_BASELINE_USAGE);
    return 0;
  }
  try {
    const config = tuneConfigFromArgs(args);
    const record = await runTuneBaseline(config, { force: args.force ?? false, log: args.json ? () => undefined : undefined });
    console.log(args.json ? JSON.stringify(record) : tuneSummaryLines(record).join("\n"));
    return 0;
  } catch (err) {
    console.error(describeError(err));
    return 1;
  }
}
