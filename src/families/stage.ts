/**
 * The feature-family stage (METHOD.md §5) in one call: for each stage-2 SAE and feature set, check the
 * inputs (codes against the SAE, labels against the SAE), stream the co-occurrence from the codes, build
 * the families (or reopen them), label and score them (the LLMs through stage 4's client stack, or the
 * offline baseline), compute the statistics, and write everything under `data/families/<runId>/`:
 * `config.json`, `build.json`, `family-labels.jsonl`, `stats.json`, and the families as JSON, GraphML and
 * GEXF. Every check runs before the run directory exists, so bad input leaves no partial artefact. One
 * process per run directory (its run lock), and `budgetUsd` holds per run: LLM labelling appends what it
 * pays to the run's `spend.jsonl`, which later runs count against the budget. The run id also holds
 * FAMILIES_STAGE_VERSION, the SAE's weights hash, the corpus's content hash and, when the LLMs label, the
 * prompts' hash and the endpoint.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { SaerchError } from "../core/errors.js";
import type { Embedder } from "../embed/embedder.js";
import type { EmbeddingStore } from "../embed/store-reader.js";
import { createUseLiteEmbedder } from "../embed/use-lite.js";
import { artefactRun, withNewRunCleanup } from "../io/artefact.js";
import { storeIdentityKey } from "../embed/identity.js";
import { verifiedWeightsHash } from "../sae/weights-hash.js";
import { buildFamilyLabelMessages, buildFamilyPredictorMessages, familiesPromptsHash, parseFamilyLabel } from "./prompts.js";
import { writeJsonAtomic } from "../io/atomic.js";
import { dataDir } from "../io/paths.js";
import { RunInUseError, withRunLock } from "../io/run-lock.js";
import { BaselineScorer } from "../interpret/baseline.js";
import { selectCleanFeatures } from "../interpret/clean.js";
import { BudgetedLlmClient, CostMeter } from "../interpret/cost.js";
import { buildFeatureIndex } from "../interpret/examples.js";
import { hasLlmCredentials, OpenAiLlmClient } from "../interpret/llm-client.js";
import { CachedLlmClient, RequestCache } from "../interpret/request-cache.js";
import { withRunSpend } from "../interpret/spend-ledger.js";
import { docLookup, type InterpretResult, LLM_CACHE_FILE, storeEmbedderId } from "../interpret/stage.js";
import { buildDocFreq } from "../interpret/terms.js";
import type { LabelRecord, LlmClient, LlmRequest, ScorerKind } from "../interpret/types.js";
import { CODES_INDICES_FILE, loadCodes, type SparseCodes } from "../sae/encode.js";
import type { SaeDomainResult } from "../sae/stage.js";
import { matchFeaturesFast } from "../scaling/splitting.js";
import { buildFamilies, checkFeatureSet, type FamilyBuild } from "./build.js";
import { FamiliesConfig, type FamiliesConfigInput } from "./config.js";
import { type Cooccurrence, cooccurrenceFromNpy } from "./cooccurrence.js";
import { familiesToJson } from "./families-json.js";
import { familyGraph, writeGexf, writeGraphml } from "./graph-export.js";
import { type FamilyLabelRecord, labelFamilies, readFamilyLabels } from "./labeller.js";
import { BaselineFamilyScorer, type FamilyScorer, LlmFamilyScorer } from "./scorer.js";
import { type DocumentStability, documentStability, type FamilyStability, familyStability } from "./stability.js";
import { type FamilyStats, familyStats, type PairEvidence, pairEvidence } from "./stats.js";

/**
 * Version of the families stage's behaviour (co-occurrence, forest, extraction, labelling, statistics);
 * bump it with every change that changes a run's files, so runs of the old behaviour are not reopened.
 */
export const FAMILIES_STAGE_VERSION = 1;

/** Keep a family-labeller reply in the request cache only when it carries a parsable label. */
export function acceptFamilyReply(req: LlmRequest, content: string): boolean {
  return req.role !== "interpreter" || parseFamilyLabel(content) !== undefined;
}

/** File of the build (families, rounds, duplicates). */
export const BUILD_FILE = "build.json";
/** File of the statistics. */
export const STATS_FILE = "stats.json";
/** Exported families (saerch-ts JSON, GraphML and GEXF for Gephi). */
export const EXPORT_FILES = { json: "families.json", graphml: "families.graphml", gexf: "families.gexf" } as const;

/** Which feature set a run uses. */
export type FeatureSetKind = "clean" | "alive";

/** One SAE's families for one feature set. */
export interface FamiliesResult {
  /** e.g. "astro-ph-n4096-k32". */
  name: string;
  domain: string;
  featureSet: FeatureSetKind;
  /** `data/families/<runId>`. */
  dir: string;
  build: FamilyBuild;
  cooc: Cooccurrence;
  /** The SAE's dictionary size F. */
  n: number;
  /** Latest label record of each family (empty when labelling is off). */
  records: FamilyLabelRecord[];
  /** Stage 4's label of each feature that has one. */
  featureLabels: Map<number, string>;
  scorer: ScorerKind | null;
  stats: FamilyStats;
  evidence: PairEvidence;
  /** True when the build was reopened from disk. */
  reopened: boolean;
  /** Why labelling stopped early (budget), if it did. */
  stopped?: string;
}

/** Arguments of runFamiliesStage. */
export interface FamiliesStageArgs {
  store: EmbeddingStore;
  /** Text of every document id the SAEs cover. */
  texts: ReadonlyMap<string, string>;
  /** Stage 2's SAEs. */
  saes: readonly SaeDomainResult[];
  /** Stage 4's results; each SAE's labels are found by its directory. Needed for 'clean' and for labelled families. */
  interpret?: readonly InterpretResult[];
  /** Feature sets to build (default: the config's `build.featureSet`). */
  featureSets?: readonly FeatureSetKind[];
  config: FamiliesConfigInput;
  /** LLM client to use instead of one built from `config.llm` (tests, custom servers); selects the LLM path under "auto". */
  client?: LlmClient;
  /** The store's embedder for the baseline predictor (default: USE-lite, built when needed). */
  embedder?: Embedder;
  /** Request cache file (default: stage 4's `data/interpret/llm-cache.jsonl`). */
  cachePath?: string;
  quiet?: boolean;
}

/** A (SAE, feature set) pair that could not be built, and why. */
export interface FamiliesSkipped {
  name: string;
  domain: string;
  featureSet: FeatureSetKind;
  /** The clear message of the check that failed. */
  skipped: string;
}

/** Codes of an SAE, checked against it: shape [rows, k], every latent inside [0, n). */
export function checkedCodes(sae: Pick<SaeDomainResult, "dir" | "rows"> & { config: { n: number; k: number } }): SparseCodes {
  const codes = loadCodes(sae.dir);
  const rows = codes.indices.length / codes.k;
  if (codes.k !== sae.config.k || rows !== sae.rows.length) {
    throw new SaerchError(
      `${sae.dir}: codes are [${rows}, ${codes.k}] but the SAE (k = ${sae.config.k}) was trained on ${sae.rows.length} rows`,
      "re-encode the SAE (rerun notebook 02) so its codes match it",
    );
  }
  for (let p = 0; p < codes.indices.length; p++) {
    const j = codes.indices[p]!;
    if (!(j >= 0 && j < sae.config.n)) {
      throw new SaerchError(`${sae.dir}: codes hold latent ${j}, outside the SAE's dictionary [0, ${sae.config.n})`, "re-encode the SAE (rerun notebook 02)");
    }
  }
  return codes;
}

/** Stage 4's labels of an SAE, checked against it (same SAE directory, features inside its dictionary). */
export function labelsFor(sae: Pick<SaeDomainResult, "dir"> & { config: { n: number } }, interpret: readonly InterpretResult[] | undefined): InterpretResult | undefined {
  const r = interpret?.find((x) => x.target.saeDir === sae.dir);
  if (r === undefined) {
    const others = (interpret ?? []).filter((x) => x.target.domain === (sae as { domain?: string }).domain);
    if (others.length > 0) {
      throw new SaerchError(
        `the labels given for domain ${others[0]!.target.domain} are of SAE run ${basename(others[0]!.target.saeDir)}, not ${basename(sae.dir)}`,
        "label this SAE (notebook 04) and pass its interpretation results",
      );
    }
    return undefined;
  }
  if (r.target.n !== sae.config.n) {
    throw new SaerchError(`the labels in ${r.dir} are of an SAE with ${r.target.n} features, not ${sae.config.n}`, "pass the interpretation results of this SAE");
  }
  const bad = r.records.find((x) => x.feature < 0 || x.feature >= sae.config.n);
  if (bad) throw new SaerchError(`${r.dir}: a label names feature ${bad.feature}, outside [0, ${sae.config.n})`, "relabel this SAE (rerun notebook 04)");
  return r;
}

/** The feature set of one SAE: stage 4's clean features, or every feature in the density band. */
function featureSetOf(kind: FeatureSetKind, cfg: FamiliesConfig, sae: SaeDomainResult, labels: readonly LabelRecord[] | undefined): number[] {
  if (cfg.build.features !== undefined) return [...cfg.build.features];
  if (kind === "clean") {
    if (labels === undefined) throw new SaerchError(`no labels for ${sae.dir}: the clean feature set needs stage 4's labels`, "run notebook 04 first, or use featureSet 'alive'");
    return selectCleanFeatures(labels, cfg.clean).clean.map((c) => c.feature);
  }
  const { min, max } = cfg.build.aliveDensity;
  const out: number[] = [];
  sae.features.densityF.forEach((dens, j) => {
    if (dens >= min && dens < max) out.push(j);
  });
  return out;
}

/** The scorer kind a config resolves to ("auto": the LLMs when credentials are configured or a client is passed). */
export function resolveFamilyScorer(cfg: FamiliesConfig, client: LlmClient | undefined, env: NodeJS.ProcessEnv = process.env): ScorerKind {
  if (cfg.scorer !== "auto") return cfg.scorer;
  return client !== undefined || hasLlmCredentials(cfg.llm, env) ? "llm" : "baseline";
}

/** The name of an SAE in run ids and tables. */
const saeName = (sae: SaeDomainResult): string => `${sae.domain}-n${sae.config.n}-k${sae.config.k}`;

/**
 * Build, label and score families for each SAE and feature set.
 * @returns one entry per (SAE, feature set), in order: a result, or the message of the check that failed
 */
export async function runFamiliesStage(args: FamiliesStageArgs): Promise<Array<FamiliesResult | FamiliesSkipped>> {
  const parsed = FamiliesConfig.safeParse(args.config);
  if (!parsed.success) throw new SaerchError(`invalid families config: ${parsed.error.message}`);
  const cfg = parsed.data;
  const kind = resolveFamilyScorer(cfg, args.client);
  const docOf = docLookup(args.store, args.texts);
  let cache: RequestCache | undefined;
  let llm: LlmFamilyScorer | undefined;
  let endpoint: string | null = null;
  const meter = new CostMeter(cfg.prices, cfg.budgetUsd);
  if (cfg.label && kind === "llm") {
    cache = RequestCache.open(args.cachePath ?? join(dataDir(), "interpret", LLM_CACHE_FILE));
    const raw = args.client ?? new OpenAiLlmClient(cfg.llm);
    endpoint = raw.id;
    llm = new LlmFamilyScorer(new BudgetedLlmClient(new CachedLlmClient(raw, cache, { accept: acceptFamilyReply }), meter), cfg.llm);
  }
  let ownEmbedder: Promise<Embedder> | undefined;
  const embedder = (): Promise<Embedder> => (args.embedder ? Promise.resolve(args.embedder) : (ownEmbedder ??= createUseLiteEmbedder({})));
  const out: Array<FamiliesResult | FamiliesSkipped> = [];
  try {
    for (const sae of args.saes) {
      for (const setKind of args.featureSets ?? [cfg.build.featureSet]) {
        const name = saeName(sae);
        try {
          out.push(await familiesForSae({ args, cfg, sae, setKind, kind, llm, endpoint, meter, docOf, embedder }));
        } catch (err) {
          // A run directory in use by another process stops the stage: it is no property of the input.
          if (!(err instanceof SaerchError) || err instanceof StopStage || err instanceof RunInUseError) throw err;
          out.push({ name, domain: sae.domain, featureSet: setKind, skipped: err.message });
        }
      }
    }
  } finally {
    await llm?.close();
    cache?.close();
    await ownEmbedder?.then((e) => e.close(), () => undefined);
  }
  return out;
}

/** An error that must stop the stage rather than skip one SAE (never raised for bad input). */
class StopStage extends SaerchError {}

async function familiesForSae(ctx: {
  args: FamiliesStageArgs;
  cfg: FamiliesConfig;
  sae: SaeDomainResult;
  setKind: FeatureSetKind;
  kind: ScorerKind;
  llm: LlmFamilyScorer | undefined;
  endpoint: string | null;
  meter: CostMeter;
  docOf: (row: number) => { id: string; text: string };
  embedder: () => Promise<Embedder>;
}): Promise<FamiliesResult> {
  const { args, cfg, sae, setKind, kind } = ctx;
  const n = sae.config.n;
  // Every check before the run directory exists.
  const codes = checkedCodes(sae);
  const labels = labelsFor(sae, args.interpret);
  const featureSet = featureSetOf(setKind, cfg, sae, labels?.records);
  checkFeatureSet(featureSet, cfg.build, setKind);
  const name = saeName(sae);
  const run = artefactRun(
    "families",
    {
      sae: basename(sae.dir),
      weights: verifiedWeightsHash(sae.dir),
      ...storeIdentityKey(args.store),
      algorithm: FAMILIES_STAGE_VERSION,
      rows: sae.rows.length,
      labels: labels ? basename(labels.dir) : null,
      featureSet: setKind,
      build: cfg.build,
      clean: setKind === "clean" ? cfg.clean : null,
      ...(cfg.label ? { score: cfg.score, scorer: kind, ...(kind === "llm" ? { models: [cfg.llm.interpreterModel, cfg.llm.predictorModel], temperature: cfg.llm.temperature, prompts: familiesPromptsHash({ label: buildFamilyLabelMessages, predictor: buildFamilyPredictorMessages }), endpoint: ctx.endpoint } : { baseline: cfg.baseline }) } : {}),
    },
    `${name}-${setKind}`,
  );
  // One process per run directory; what its labelling pays is kept in its spend ledger.
  return withNewRunCleanup(run, () => withRunLock(run.dir, "families", async () => {
    const cooc = cooccurrenceFromNpy(join(sae.dir, CODES_INDICES_FILE), featureSet, n);
    const buildPath = join(run.dir, BUILD_FILE);
    const reopened = existsSync(buildPath);
    const build: FamilyBuild = reopened ? readBuild(buildPath) : buildFamilies(cooc, cfg.build);
    if (!reopened) writeJsonAtomic(buildPath, { ...build, featuresM: Array.from(build.featuresM) });
    const featureLabels = new Map<number, string>();
    for (const r of labels?.records ?? []) if (r.label !== null) featureLabels.set(r.feature, r.label);

    let records: FamilyLabelRecord[] = readFamilyLabels(run.dir);
    let stopped: string | undefined;
    if (cfg.label && build.families.length > 0) {
      const scorer: FamilyScorer = ctx.llm ?? (await baselineScorer(ctx, sae));
      const index = buildFeatureIndex(codes, n);
      const eligibleN = Uint8Array.from(sae.rows, (r) => (ctx.docOf(r).text.length > cfg.score.minChars ? 1 : 0));
      const label = (): ReturnType<typeof labelFamilies> => labelFamilies({
        dir: run.dir,
        families: build.families,
        src: { codes, index, rowsN: sae.rows, docOf: ctx.docOf, eligible: (row) => eligibleN[row] === 1 },
        n,
        featureLabels,
        scorer,
        config: cfg.score,
        ...(args.quiet !== undefined ? { quiet: args.quiet } : {}),
      });
      const res = ctx.llm ? await withRunSpend(ctx.meter, run.dir, label) : await label();
      records = res.records;
      stopped = res.stopped;
    }
    const evidence = pairEvidence(cooc, build.families, n, { wDecFD: sae.params.wDecFD, d: sae.params.d, seed: cfg.score.seed });
    const stats = familyStats({ build, cooc, n, records, evidence, wellScored: cfg.score.wellScored, seed: cfg.score.seed });
    writeJsonAtomic(join(run.dir, STATS_FILE), { name, domain: sae.domain, featureSet: setKind, scorer: cfg.label ? kind : null, ...stats, ...(stopped ? { stopped } : {}) });
    writeJsonAtomic(join(run.dir, EXPORT_FILES.json), familiesToJson(build, featureLabels));
    const graph = familyGraph(build, cooc, featureLabels);
    writeGraphml(graph, join(run.dir, EXPORT_FILES.graphml));
    writeGexf(graph, join(run.dir, EXPORT_FILES.gexf));
    return {
      name,
      domain: sae.domain,
      featureSet: setKind,
      dir: run.dir,
      build,
      cooc,
      n,
      records,
      featureLabels,
      scorer: cfg.label ? kind : null,
      stats,
      evidence,
      reopened,
      ...(stopped !== undefined ? { stopped } : {}),
    };
  }));
}

/** The offline family scorer of one SAE: stage 4's baseline over the SAE's documents. */
async function baselineScorer(ctx: { args: FamiliesStageArgs; cfg: FamiliesConfig; docOf: (row: number) => { id: string; text: string }; embedder: () => Promise<Embedder> }, sae: SaeDomainResult): Promise<FamilyScorer> {
  const emb = await ctx.embedder();
  const embedderId = ctx.args.embedder?.id ?? storeEmbedderId(ctx.args.store);
  const inner = new BaselineScorer({
    config: ctx.cfg.baseline,
    docFreq: buildDocFreq(Array.from(sae.rows, (r) => ctx.docOf(r).text), { bigrams: ctx.cfg.baseline.bigrams }),
    embedLabels: (labels) => emb.embed(labels),
    embeddingsOf: (rows) => ctx.args.store.gather(rows),
    embedderId,
  });
  return new BaselineFamilyScorer(inner, { labelTerms: ctx.cfg.score.labelTerms, bigrams: ctx.cfg.baseline.bigrams });
}

/** Read a build.json back. */
export function readBuild(path: string): FamilyBuild {
  const raw = JSON.parse(readFileSync(path, "utf8")) as Omit<FamilyBuild, "featuresM"> & { featuresM: number[] };
  return { ...raw, featuresM: Int32Array.from(raw.featuresM) };
}

/** Both stability measures of one pair of SAEs. */
export interface FamiliesStability {
  /** Families matched through decoder-matched features. */
  features: FamilyStability;
  /** Families matched through the documents they fire on. */
  documents: DocumentStability;
}

/**
 * Stability of a result's families in the same build on another SAE of the same documents (e.g. the same
 * config, another seed): features matched by decoder cosine (onnxruntime), then families by best Jaccard;
 * and families matched by the documents they fire on.
 */
export async function familiesStability(a: { result: FamiliesResult; sae: SaeDomainResult }, b: { result: FamiliesResult; sae: SaeDomainResult }, seed = 0): Promise<FamiliesStability> {
  const match = await matchFeaturesFast(a.sae.params, b.sae.params);
  const familiesA = a.result.build.families;
  const familiesB = b.result.build.families;
  const featureSetA = a.result.build.featuresM;
  return {
    features: familyStability({ familiesA, familiesB, matchAB: match.smallToLarge, featureSetA, seed }),
    documents: documentStability({ familiesA, familiesB, codesA: checkedCodes(a.sae), codesB: checkedCodes(b.sae), nA: a.result.n, nB: b.result.n, featureSetA, seed }),
  };
}
