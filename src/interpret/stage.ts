/**
 * The interpretation stage (METHOD.md §4): label and score every feature of one or more trained SAEs with
 * the paper's Interpreter/Predictor LLM pair — through any OpenAI-compatible server, cached, cost-accounted,
 * budget-capped — or, when no API key is configured, with the offline baseline, so the pipeline runs end to
 * end without one. Each SAE gets `data/interpret/<runId>/` with `config.json`, `labels.jsonl` and
 * `summary.json` (and, on the LLM path, `spend.jsonl`: what the run has paid, across processes); the run id
 * follows from the SAE, the scorer and the settings that change the labels. One process per run: each run
 * directory is locked while it is labelled, and `budgetUsd` caps what the runs of a call have paid in all
 * sessions together, not what this process pays. The run id also holds INTERPRET_STAGE_VERSION, the
 * prompts' hash, the LLM endpoint, the SAE's weights hash and the corpus's content hash, so a change of
 * any of them labels into a new run directory instead of reopening the old labels.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { z } from "zod";
import { SaerchError } from "../core/errors.js";
import type { Embedder } from "../embed/embedder.js";
import { readStoreDomains } from "../embed/stage.js";
import type { EmbeddingStore } from "../embed/store-reader.js";
import { createUseLiteEmbedder } from "../embed/use-lite.js";
import { artefactRun, runIdFor, withNewRunCleanup } from "../io/artefact.js";
import { storeIdentityKey } from "../embed/identity.js";
import { verifiedWeightsHash } from "../sae/weights-hash.js";
import { dataDir } from "../io/paths.js";
import { withRunLock } from "../io/run-lock.js";
import { loadCodes, type SparseCodes } from "../sae/encode.js";
import { domainRows, type SaeDomainResult } from "../sae/stage.js";
import { SWEEP_RUN_PREFIX, SweepConfig, splitRows, sweepRunConfig, type SweepRecord } from "../scaling/sweep.js";
import { BaselineScorer, baselineModels } from "./baseline.js";
import { InterpretConfig, type InterpretConfigInput } from "./config.js";
import { countChatTokens } from "../tokenizer/tokens.js";
import { BudgetedLlmClient, CostMeter, estimateLabellingCost, type RoleEstimate } from "./cost.js";
import { exampleSource, featureTask, type LabelRunResult, labelFeatures, requestedFeatures } from "./labeller.js";
import { hasLlmCredentials, OpenAiLlmClient } from "./llm-client.js";
import { LlmScorer } from "./llm-scorer.js";
import { sizeLadder } from "./report.js";
import { buildInterpreterMessages, buildPredictorMessages, interpretPromptsHash, parseInterpretation } from "./prompts.js";
import { CachedLlmClient, RequestCache } from "./request-cache.js";
import { type RunSpend, withRunSpend } from "./spend-ledger.js";
import { buildDocFreq } from "./terms.js";
import type { FeatureScorer, FeatureTask, Interpretation, LlmClient, LlmRequest, Prediction, ScorerKind } from "./types.js";

/**
 * Version of the interpretation stage's behaviour (example selection, scoring, record format); bump it
 * with every change that changes labels or scores, so runs of the old behaviour are not reopened.
 */
export const INTERPRET_STAGE_VERSION = 1;

/**
 * Keep an interpreter reply in the request cache only when it carries a parsable label (predictor replies
 * are always kept: an unparsable one counts as 0, as in the paper). A reply without a label is asked again
 * on the next run instead of failing its feature forever.
 */
export function acceptInterpretReply(req: LlmRequest, content: string): boolean {
  return req.role !== "interpreter" || parseInterpretation(content) !== undefined;
}

/** The request cache shared by every interpretation run (keyed by endpoint and request, so sharing is safe). */
export const LLM_CACHE_FILE = "llm-cache.jsonl";

/** One SAE to interpret: where its weights and codes are, and which store rows the codes cover. */
export interface InterpretTarget {
  /** Short name for run ids, tables and figures, e.g. "astro-ph-n4096-k32". */
  name: string;
  domain: string;
  /** Directory holding the SAE's codes.indices.npy / codes.values.npy. */
  saeDir: string;
  /** Dictionary size F. */
  n: number;
  /** Active latents K. */
  k: number;
  /** `[N]` store row of each codes row. */
  rowsN: Int32Array;
}

/** The target of a stage-2 SAE (its codes cover the domain's training rows). */
export function targetFromSae(r: SaeDomainResult): InterpretTarget {
  return { name: `${r.domain}-n${r.config.n}-k${r.config.k}`, domain: r.domain, saeDir: r.dir, n: r.config.n, k: r.config.k, rowsN: r.rows };
}

/**
 * Targets of finished scaling-sweep cells (their codes cover each domain's training split), read from the
 * sweep's results.json without retraining.
 * @param sweepInput the sweep config notebook 03 ran (e.g. `sweepPreset(profile)`)
 * @param pick which cells to keep (default all)
 * @throws SaerchError when the sweep has not finished
 */
export function sweepTargets(
  store: EmbeddingStore,
  sweepInput: z.input<typeof SweepConfig>,
  pick: (r: Pick<SweepRecord, "domain" | "n" | "k">) => boolean = () => true,
): InterpretTarget[] {
  const cfg = SweepConfig.parse(sweepInput);
  // The sweep's directory, found without creating it (runSweep makes it).
  const resultsPath = join(dataDir(), "scaling", runIdFor(sweepRunConfig(store, cfg), SWEEP_RUN_PREFIX), "results.json");
  if (!existsSync(resultsPath)) throw new SaerchError(`${resultsPath} is missing: the sweep has not finished`, "run notebook 03 (the scaling sweep) first");
  const labels = readStoreDomains(store);
  const records = JSON.parse(readFileSync(resultsPath, "utf8")) as SweepRecord[];
  return records.filter(pick).map((r) => ({
    name: `${r.domain}-sweep-n${r.n}-k${r.k}`,
    domain: r.domain,
    saeDir: r.runDir,
    n: r.n,
    k: r.k,
    rowsN: splitRows(domainRows(labels, r.domain), cfg.heldOutFraction, cfg.splitSeed, r.domain).train,
  }));
}

/**
 * Targets along the sweep's size ladder (smallest n with smallest k, and so on: the analogue of the paper's
 * SAE16 / SAE32 / SAE64), for every domain of the sweep.
 */
export function sweepLadderTargets(store: EmbeddingStore, sweepInput: z.input<typeof SweepConfig>): InterpretTarget[] {
  const cfg = SweepConfig.parse(sweepInput);
  const ladder = sizeLadder(cfg.nMultiples.map((m) => Math.round(m * store.dim)), cfg.ks);
  return sweepTargets(store, sweepInput, (r) => ladder.some((c) => c.n === r.n && c.k === r.k));
}

/** Arguments of runInterpretStage. */
export interface InterpretStageArgs {
  store: EmbeddingStore;
  /** Text (title + "\n\n" + abstract) of every document id the targets cover. */
  texts: ReadonlyMap<string, string>;
  targets: readonly InterpretTarget[];
  config: InterpretConfigInput;
  /** Use this LLM client instead of one built from `config.llm` (tests, custom servers); with `scorer: "auto"` it selects the LLM path. */
  client?: LlmClient;
  /** Embed label texts for the baseline predictor (`[L, D]`, the store's embedder); default: built from the store's manifest. */
  embedder?: Embedder;
  /** The request cache file (default `data/interpret/llm-cache.jsonl`). */
  cachePath?: string;
  /** No progress output (default false). */
  quiet?: boolean;
}

/** One target's outcome. */
export interface InterpretResult extends LabelRunResult {
  target: InterpretTarget;
  /** Run directory `data/interpret/<runId>`. */
  dir: string;
}

/** The scorer a config resolves to: "auto" picks the LLMs when credentials are configured. */
export function resolveScorerKind(config: InterpretConfig, env: NodeJS.ProcessEnv = process.env): ScorerKind {
  if (config.scorer !== "auto") return config.scorer;
  return hasLlmCredentials(config.llm, env) ? "llm" : "baseline";
}

/** The id of the embedder behind a store (labels must be embedded in the same space as its rows). */
export function storeEmbedderId(store: EmbeddingStore): string {
  const id = store.manifest.embedderId;
  if (id.startsWith("use-lite:")) return id;
  throw new SaerchError(
    `the baseline predictor needs the store's embedder (${id}) to embed labels, and builds only USE-lite itself`,
    "pass `embedder` to runInterpretStage (the same model that built the store), or use the LLM scorer",
  );
}

/**
 * A scorer built on first use: rerunning a finished run never pays for building it (the baseline's term
 * statistics over the corpus, loading the embedder).
 */
class LazyScorer implements FeatureScorer {
  private inner: Promise<FeatureScorer> | undefined;

  constructor(
    readonly kind: ScorerKind,
    readonly models: FeatureScorer["models"],
    private readonly build: () => Promise<FeatureScorer>,
  ) {}

  private scorer(): Promise<FeatureScorer> {
    this.inner ??= this.build();
    return this.inner;
  }

  async interpret(tasks: readonly FeatureTask[]): Promise<Array<Interpretation | Error>> {
    return (await this.scorer()).interpret(tasks);
  }

  async predict(items: ReadonlyArray<{ task: FeatureTask; label: string }>): Promise<Array<Prediction[] | Error>> {
    return (await this.scorer()).predict(items);
  }

  async close(): Promise<void> {
    if (this.inner !== undefined) await (await this.inner).close();
  }
}

/** Document id and text of a store row. */
export function docLookup(store: EmbeddingStore, texts: ReadonlyMap<string, string>): (row: number) => { id: string; text: string } {
  return (row) => {
    const id = store.ids[row]!;
    const text = texts.get(id);
    if (text === undefined) throw new SaerchError(`no text for document ${id} (store row ${row})`, "pass the texts of the corpus selection the store was built from");
    return { id, text };
  };
}

function checkCodes(target: InterpretTarget): SparseCodes {
  const codes = loadCodes(target.saeDir);
  if (codes.k !== target.k || codes.indices.length !== target.rowsN.length * codes.k) {
    throw new SaerchError(
      `${target.saeDir}: codes are [${codes.indices.length / codes.k}, ${codes.k}] but target ${target.name} expects [${target.rowsN.length}, ${target.k}]`,
      "re-encode the SAE (rerun its stage) so its codes cover the target's rows",
    );
  }
  return codes;
}

/**
 * What changes labels or scores: it makes the run id. Besides the settings: the stage's version, the
 * prompts' hash and the endpoint (LLM path), the SAE's verified weights hash and the corpus's content.
 * @throws WeightsMismatchError when the target's `sae.safetensors` is not the one trained there
 */
export function interpretRunIdentity(
  cfg: InterpretConfig,
  target: InterpretTarget,
  kind: ScorerKind,
  scorer: Pick<FeatureScorer, "models" | "endpoint">,
  store: EmbeddingStore,
): Record<string, unknown> {
  return {
    sae: basename(target.saeDir),
    weights: verifiedWeightsHash(target.saeDir),
    ...storeIdentityKey(store),
    algorithm: INTERPRET_STAGE_VERSION,
    rows: target.rowsN.length,
    scorer: kind,
    models: scorer.models,
    ...(kind === "llm" ? { prompts: interpretPromptsHash({ interpreter: buildInterpreterMessages, predictor: buildPredictorMessages }), endpoint: scorer.endpoint ?? null } : {}),
    examples: cfg.examples,
    ...(kind === "baseline" ? { baseline: cfg.baseline } : { temperature: cfg.llm.temperature, maxTokens: [cfg.llm.interpreterMaxTokens, cfg.llm.predictorMaxTokens] }),
    features: cfg.features ?? null,
    maxFeatures: cfg.maxFeatures ?? null,
  };
}

/** A cost estimate made before any call. */
export interface CostEstimate {
  /** Features to label. */
  features: number;
  /** Mean prompt tokens of real prompts of sampled features (src/tokenizer: exact for OpenAI models). */
  interpreterPromptTokens: number;
  predictorPromptTokens: number;
  /** Per role; `promptTokensExact` false means the model's tokenizer is unknown and the count approximate. */
  interpreter: RoleEstimate;
  predictor: RoleEstimate;
  totalUsd: number;
}

/**
 * Estimate what labelling `features` features of a target costs with the config's LLMs, from the real
 * prompts of a sample of its features (no call is made). Completion lengths are the dry-run assumptions.
 */
export function estimateInterpretCost(args: {
  store: EmbeddingStore;
  texts: ReadonlyMap<string, string>;
  target: InterpretTarget;
  config: InterpretConfigInput;
  /** Features to price (default: the config's requested features of the target). */
  features?: number;
}): CostEstimate {
  const cfg = InterpretConfig.parse(args.config);
  const codes = checkCodes(args.target);
  const src = exampleSource({
    codes,
    n: args.target.n,
    rowsN: args.target.rowsN,
    docOf: docLookup(args.store, args.texts),
    examples: cfg.examples,
    ...(cfg.examples.negatives === "hard" ? { embeddingsND: args.store.gather(args.target.rowsN), dim: args.store.dim } : {}),
  });
  const label = Array.from({ length: cfg.dryRun.labelWords }, () => "word").join(" ");
  let interp = 0;
  let pred = 0;
  let sampled = 0;
  let predSampled = 0;
  for (let j = 0; j < args.target.n && sampled < cfg.dryRun.sampleFeatures; j++) {
    const task = featureTask(src, j, 0);
    if ("reason" in task) continue;
    interp += countChatTokens(buildInterpreterMessages(task), cfg.llm.interpreterModel).tokens;
    for (const doc of task.heldOut) pred += countChatTokens(buildPredictorMessages(label, doc.text), cfg.llm.predictorModel).tokens;
    predSampled += task.heldOut.length;
    sampled++;
  }
  if (sampled === 0) throw new SaerchError(`no feature of ${args.target.name} has enough examples to price`, "check examples.minChars and the counts");
  const features = args.features ?? requestedFeatures(cfg, args.target.n).length;
  const interpreterPromptTokens = interp / sampled;
  const predictorPromptTokens = pred / predSampled;
  const est = estimateLabellingCost({
    features,
    predictionsPerFeature: cfg.examples.heldTop + cfg.examples.heldZero,
    interpreterPromptTokens,
    predictorPromptTokens,
    interpreterCompletionTokens: cfg.dryRun.interpreterCompletionTokens,
    predictorCompletionTokens: cfg.dryRun.predictorCompletionTokens,
    interpreterModel: cfg.llm.interpreterModel,
    predictorModel: cfg.llm.predictorModel,
    prices: cfg.prices,
  });
  return { features, interpreterPromptTokens, predictorPromptTokens, ...est };
}

/**
 * Label and score every requested feature of each target, resuming finished work.
 * @returns one result per target, in order
 */
export async function runInterpretStage(args: InterpretStageArgs): Promise<InterpretResult[]> {
  const parsed = InterpretConfig.safeParse(args.config);
  if (!parsed.success) throw new SaerchError(`invalid interpret config: ${parsed.error.message}`);
  const cfg = parsed.data;
  // A client passed in means the LLM path (unless the config asks for the baseline outright).
  const kind = cfg.scorer === "auto" && args.client !== undefined ? "llm" : resolveScorerKind(cfg);
  const docOf = docLookup(args.store, args.texts);
  const meter = new CostMeter(cfg.prices, cfg.budgetUsd);
  let llmScorer: LlmScorer | undefined;
  let cache: RequestCache | undefined;
  if (kind === "llm") {
    cache = RequestCache.open(args.cachePath ?? join(dataDir(), "interpret", LLM_CACHE_FILE));
    const raw = args.client ?? new OpenAiLlmClient(cfg.llm);
    llmScorer = new LlmScorer(new BudgetedLlmClient(new CachedLlmClient(raw, cache, { accept: acceptInterpretReply }), meter), cfg.llm, { endpoint: raw.id });
  }
  // The baseline's embedder (built from the store's manifest unless given) is loaded only if a run has work.
  const embedderId = kind === "baseline" ? (args.embedder?.id ?? storeEmbedderId(args.store)) : "";
  let ownEmbedder: Promise<Embedder> | undefined;
  const labelEmbedder = (): Promise<Embedder> => {
    if (args.embedder !== undefined) return Promise.resolve(args.embedder);
    ownEmbedder ??= createUseLiteEmbedder({});
    return ownEmbedder;
  };
  const baselineFor = (target: InterpretTarget): FeatureScorer =>
    new LazyScorer("baseline", baselineModels(embedderId), async () => {
      const emb = await labelEmbedder();
      return new BaselineScorer({
        config: cfg.baseline,
        docFreq: buildDocFreq(Array.from(target.rowsN, (r) => docOf(r).text), { bigrams: cfg.baseline.bigrams }),
        embedLabels: (labels) => emb.embed(labels),
        embeddingsOf: (rows) => args.store.gather(rows),
        embedderId,
      });
    });
  const results: InterpretResult[] = [];
  try {
    for (const target of args.targets) {
      const codes = checkCodes(target);
      const targetScorer: FeatureScorer = llmScorer ?? baselineFor(target);
      const run = artefactRun("interpret", interpretRunIdentity(cfg, target, kind, targetScorer, args.store), `${target.name}-${kind}`);
      const label = (spend: (() => RunSpend) | undefined): Promise<LabelRunResult> => labelFeatures({
        dir: run.dir,
        codes,
        n: target.n,
        rowsN: target.rowsN,
        docOf,
        scorer: targetScorer,
        config: cfg,
        ...(cfg.examples.negatives === "hard" ? { embeddingsND: args.store.gather(target.rowsN), dim: args.store.dim } : {}),
        summaryExtra: () => ({
          target: target.name,
          domain: target.domain,
          n: target.n,
          k: target.k,
          ...(spend ? { costThisSession: meter.summary(), runSpend: spend() } : {}),
        }),
        ...(args.quiet !== undefined ? { quiet: args.quiet } : {}),
      });
      const res = await withNewRunCleanup(run, () => withRunLock(run.dir, "labelling", () => (kind === "llm" ? withRunSpend(meter, run.dir, label) : label(undefined))));
      if (targetScorer !== llmScorer) await targetScorer.close();
      results.push({ ...res, target, dir: run.dir });
      if (res.summary.stopped !== undefined) break;
    }
  } finally {
    await llmScorer?.close();
    cache?.close();
    // An embedder that failed to load has nothing to close (its error already reached the caller).
    await ownEmbedder?.then((e) => e.close(), () => undefined);
  }
  return results;
}
