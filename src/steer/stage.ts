/**
 * The steering stage (METHOD.md §7) in one call: for each stage-2 SAE, hold a seeded sample of its
 * domain's abstracts out of the index and use their titles as queries (or read a query file), draw the
 * paired trials, steer every query at every grid point with every method, rank over the exact index, judge
 * (activation, text, and the LLM judge when one is configured), aggregate with bootstrap intervals, compare
 * family-level with single-feature steering, and keep a worked example. Results live in
 * `data/steer/<runId>/results.json` with `config.json`; a rerun with the same inputs reopens them. One
 * process per run directory (its run lock); the LLM judge's and rewrites' spend goes to the run's
 * `spend.jsonl` and counts against `budgetUsd` on a rerun. The run id also holds STEER_STAGE_VERSION,
 * the SAE's weights hash, the corpus's content hash and, with the LLMs, the prompts' hash and the endpoint.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import type { Embedder } from "../embed/embedder.js";
import type { EmbeddingStore } from "../embed/store-reader.js";
import { createStoreEmbedder } from "../embed/store-embedder.js";
import { localIndex, pairCount } from "../families/cooccurrence.js";
import type { FamiliesResult, FamiliesSkipped } from "../families/stage.js";
import { artefactRun, withNewRunCleanup } from "../io/artefact.js";
import { storeIdentityKey } from "../embed/identity.js";
import { verifiedWeightsHash } from "../sae/weights-hash.js";
import { acceptSteerReply, steerPromptsHash } from "./prompts.js";
import { writeJsonAtomic } from "../io/atomic.js";
import { dataDir } from "../io/paths.js";
import { withRunLock } from "../io/run-lock.js";
import { cleanLabel, selectCleanFeatures } from "../interpret/clean.js";
import { CleanConfig } from "../interpret/config.js";
import { BudgetedLlmClient, BudgetExceededError, CostMeter } from "../interpret/cost.js";
import { hasLlmCredentials, OpenAiLlmClient } from "../interpret/llm-client.js";
import { titleOf } from "../interpret/report.js";
import { CachedLlmClient, RequestCache } from "../interpret/request-cache.js";
import { withRunSpend } from "../interpret/spend-ledger.js";
import { docLookup, type InterpretResult, LLM_CACHE_FILE } from "../interpret/stage.js";
import { termSet } from "../interpret/terms.js";
import type { LlmClient } from "../interpret/types.js";
import { checkedCodes } from "../families/stage.js";
import type { SaeDomainResult } from "../sae/stage.js";
import { GRID_METHODS, SteerConfig, type SteerConfigInput } from "./config.js";
import {
  aggregatePoint,
  familyVersusParent,
  type FamilySteerPoint,
  type GridPoint,
  type JudgeRequest,
  judgePoint,
  planTrials,
  type PointResult,
  type Ranker,
  type SteerDomain,
  steeredQuery,
  type Trial,
} from "./evaluate.js";
import { addDirections, type SteerFamily } from "./interventions.js";
import type { Verdict } from "./judges.js";
import { buildJudgeMessages, buildRewriteMessages, parseJudge, parseRewrite } from "./prompts.js";
import { checkQueryText } from "./search.js";

/** Results of one domain. */
export interface SteerResultFile {
  name: string;
  domain: string;
  queries: number;
  /** Trials used (queries with a clean feature active on them). */
  trials: number;
  noActiveClean: number;
  /** Trials with a family for their up feature (the family method and comparison). */
  withFamily: number;
  llm: boolean;
  points: PointResult[];
  familyVsParent: FamilySteerPoint[];
  example: WorkedExample | null;
  /** Why the LLM part stopped early, if it did. */
  stopped?: string;
}

/** One query, its active features, and its top results before and after turning a feature up and one down. */
export interface WorkedExample {
  query: string;
  active: Array<{ feature: number; label: string | null; activation: number }>;
  up: { feature: number; label: string; strength: number };
  down: { feature: number; label: string; strength: number };
  before: string[];
  afterUp: string[];
  afterDown: string[];
}

/** A domain's outcome. */
export interface SteerStageResult extends SteerResultFile {
  dir: string;
  reopened: boolean;
}

/** A domain that could not be evaluated, and why. */
export interface SteerSkipped {
  name: string;
  domain: string;
  skipped: string;
}

/** Builds the ranker over a set of store rows (default: the exact index). */
export type RankerFactory = (store: EmbeddingStore, rows: Int32Array) => Promise<{ rank: Ranker; close?: () => void }>;

/** Arguments of runSteerStage. */
export interface SteerStageArgs {
  store: EmbeddingStore;
  texts: ReadonlyMap<string, string>;
  saes: readonly SaeDomainResult[];
  interpret: readonly InterpretResult[];
  families?: ReadonlyArray<FamiliesResult | FamiliesSkipped>;
  config: SteerConfigInput;
  /** The ranker (default: `ExactIndex` over the rows). */
  ranker: RankerFactory;
  /** Query embedder (default: the store's own, from its config or manifest — `createStoreEmbedder`). */
  embedder?: Embedder;
  client?: LlmClient;
  cachePath?: string;
  /** The clean filter notebook 04 used (default: the paper's). */
  clean?: CleanConfig;
}

/**
 * Version of the steering stage's behaviour (queries, trials, interventions, judges, aggregation); bump
 * it with every change that changes results.json, so runs of the old behaviour are not reopened.
 */
export const STEER_STAGE_VERSION = 1;

/** Too few candidate features to steer a domain: it is reported, not evaluated. */
class TooFewFeaturesError extends SaerchError {}

/** Whether the LLM rewriter and judge run. */
export function resolveSteerLlm(cfg: SteerConfig, client: LlmClient | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (cfg.useLlm === "no") return false;
  if (cfg.useLlm === "yes") return true;
  return client !== undefined || hasLlmCredentials(cfg.llm, env);
}

/** The families of an SAE for steering (the clean build if there is one, else the alive build), with P(member | parent). */
export function steerFamilies(sae: SaeDomainResult, families: ReadonlyArray<FamiliesResult | FamiliesSkipped> | undefined): SteerFamily[] {
  const built = (families ?? []).filter((r): r is FamiliesResult => !("skipped" in r) && r.dir !== "" && r.name === `${sae.domain}-n${sae.config.n}-k${sae.config.k}`);
  const r = built.find((x) => x.featureSet === "clean") ?? built.find((x) => x.featureSet === "alive");
  if (r === undefined) return [];
  const localF = localIndex(r.cooc.featuresM, r.n);
  return r.build.families.map((f) => {
    const root = localF[f.root]!;
    const nRoot = r.cooc.countM[root]!;
    return { root: f.root, members: f.members.map((m) => ({ feature: m.feature, givenParent: nRoot === 0 ? 0 : pairCount(r.cooc, root, localF[m.feature]!) / nRoot })) };
  });
}

/** The grid points of the config, in order. */
export function gridPoints(cfg: SteerConfig): GridPoint[] {
  const out: GridPoint[] = [];
  for (const method of cfg.eval.methods) {
    if (GRID_METHODS.includes(method)) {
      for (const down of cfg.eval.strengthsDown) for (const up of cfg.eval.strengthsUp) out.push({ method, up, down });
    } else out.push({ method, up: null, down: null });
  }
  return out;
}

/** Whether the LLM judge sees a point. */
function llmSees(cfg: SteerConfig, p: GridPoint): boolean {
  return cfg.eval.llmPoints.some((q) => q.method === p.method && (q.up === undefined || q.up === p.up) && (q.down === undefined || q.down === p.down));
}

/**
 * Run the stage for every SAE.
 * @returns one entry per SAE: its results, or why it could not be evaluated (too few clean features)
 */
export async function runSteerStage(args: SteerStageArgs): Promise<Array<SteerStageResult | SteerSkipped>> {
  const parsed = SteerConfig.safeParse(args.config);
  if (!parsed.success) throw new SaerchError(`invalid steering config: ${parsed.error.message}`);
  const cfg = parsed.data;
  const useLlm = resolveSteerLlm(cfg, args.client);
  const cleanCfg = args.clean ?? CleanConfig.parse({});
  const docOf = docLookup(args.store, args.texts);
  let cache: RequestCache | undefined;
  let llm: LlmClient | undefined;
  let endpoint: string | null = null;
  const meter = new CostMeter(cfg.prices, cfg.budgetUsd);
  if (useLlm) {
    cache = RequestCache.open(args.cachePath ?? join(dataDir(), "interpret", LLM_CACHE_FILE));
    const raw = args.client ?? new OpenAiLlmClient(cfg.llm);
    endpoint = raw.id;
    llm = new BudgetedLlmClient(new CachedLlmClient(raw, cache, { accept: acceptSteerReply }), meter);
  }
  let ownEmbedder: Promise<Embedder> | undefined;
  const embedder = (): Promise<Embedder> => (args.embedder ? Promise.resolve(args.embedder) : (ownEmbedder ??= createStoreEmbedder(args.store.dir)));
  const out: Array<SteerStageResult | SteerSkipped> = [];
  try {
    for (const sae of args.saes) {
      const labels = args.interpret.find((r) => r.target.saeDir === sae.dir);
      if (labels === undefined) throw new SaerchError(`no labels for ${sae.dir}: steering needs stage 4's clean features`, "run notebook 04 first");
      const name = `${sae.domain}-n${sae.config.n}-k${sae.config.k}`;
      const run = artefactRun(
        "steer",
        {
          sae: basename(sae.dir),
          weights: verifiedWeightsHash(sae.dir),
          ...storeIdentityKey(args.store),
          algorithm: STEER_STAGE_VERSION,
          labels: basename(labels.dir),
          featureSet: cfg.featureSet,
          // The candidates themselves, so relabelled features (same run directory) are never reopened stale.
          candidates: createHash("sha256").update(JSON.stringify(candidateFeatures(cfg, labels, cleanCfg))).digest("hex").slice(0, 16),
          families: steerFamilies(sae, args.families).length, queries: cfg.queries, eval: cfg.eval, llm: useLlm ? { model: cfg.llm.interpreterModel, endpoint, prompts: steerPromptsHash({ rewrite: buildRewriteMessages, judge: buildJudgeMessages }) } : null },
        name,
      );
      // One process per run directory; what its LLM calls pay is kept in its spend ledger. An SAE with too
      // few features is skipped through the cleanup path, so it leaves no run directory behind.
      try {
        out.push(
          await withNewRunCleanup(run, () => withRunLock(run.dir, "steering evaluation", async (): Promise<SteerStageResult> => {
            const resultsPath = join(run.dir, "results.json");
            if (existsSync(resultsPath)) return { ...(JSON.parse(readFileSync(resultsPath, "utf8")) as SteerResultFile), dir: run.dir, reopened: true };
            const evaluate = (): Promise<SteerResultFile> => steerDomain({ args, cfg, sae, labels, cleanCfg, docOf, embedder, llm, name });
            const result = llm ? await withRunSpend(meter, run.dir, evaluate) : await evaluate();
            writeJsonAtomic(resultsPath, result);
            return { ...result, dir: run.dir, reopened: false };
          })),
        );
      } catch (err) {
        if (!(err instanceof TooFewFeaturesError)) throw err;
        out.push({ name, domain: sae.domain, skipped: err.message });
      }
    }
  } finally {
    cache?.close();
    await ownEmbedder?.then((e) => e.close(), () => undefined);
  }
  return out;
}

/** The features up, down and distractors are drawn from, with their cleaned labels. */
function candidateFeatures(cfg: SteerConfig, labels: InterpretResult, cleanCfg: CleanConfig): Array<{ feature: number; label: string }> {
  return cfg.featureSet === "clean"
    ? selectCleanFeatures(labels.records, cleanCfg).clean.map((c) => ({ feature: c.feature, label: c.label }))
    : labels.records.filter((r) => r.status === "labelled" && r.label !== null).map((r) => ({ feature: r.feature, label: cleanLabel(r.label!, cleanCfg) }));
}

/** The queries of a domain and the index rows (domain rows minus held-out queries). */
function queriesOf(cfg: SteerConfig, sae: SaeDomainResult, docOf: (r: number) => { id: string; text: string }): { texts: string[]; indexRows: Int32Array } {
  if (cfg.queries.source === "file") {
    if (cfg.queries.path === undefined) throw new SaerchError("queries.source is 'file' but queries.path is not set", "set queries.path to a text file with one query a line");
    const lines = readFileSync(cfg.queries.path, "utf8").split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
    return { texts: lines.slice(0, cfg.queries.perDomain).map((l) => checkQueryText(l, cfg.queries.maxChars)), indexRows: sae.rows };
  }
  const n = Math.min(cfg.queries.perDomain, Math.floor(sae.rows.length / 2));
  const picks = new Rng(`${cfg.queries.seed}:queries:${sae.domain}`).sample(sae.rows.length, n);
  const held = new Set(Array.from(picks, (i) => sae.rows[i]!));
  return {
    texts: Array.from(picks, (i) => checkQueryText(titleOf(docOf(sae.rows[i]!).text, cfg.queries.maxChars), cfg.queries.maxChars)),
    indexRows: Int32Array.from(Array.from(sae.rows).filter((r) => !held.has(r))),
  };
}

async function steerDomain(ctx: {
  args: SteerStageArgs;
  cfg: SteerConfig;
  sae: SaeDomainResult;
  labels: InterpretResult;
  cleanCfg: CleanConfig;
  docOf: (r: number) => { id: string; text: string };
  embedder: () => Promise<Embedder>;
  llm: LlmClient | undefined;
  name: string;
}): Promise<SteerResultFile> {
  const { args, cfg, sae, docOf } = ctx;
  const d = sae.params.d;
  const topK = cfg.eval.topK;
  const codes = checkedCodes(sae);
  const codesRowOf = new Map<number, number>();
  sae.rows.forEach((r, i) => codesRowOf.set(r, i));
  const fires = (storeRow: number, f: number): boolean => {
    const i = codesRowOf.get(storeRow);
    if (i === undefined) return false;
    for (let p = i * codes.k; p < (i + 1) * codes.k; p++) if (codes.indices[p] === f) return true;
    return false;
  };
  const termsCache = new Map<number, Set<string>>();
  const termsOf = (r: number): Set<string> => {
    let t = termsCache.get(r);
    if (t === undefined) termsCache.set(r, (t = termSet(docOf(r).text, { bigrams: true })));
    return t;
  };
  const clean = candidateFeatures(cfg, ctx.labels, ctx.cleanCfg);
  const labelOf = new Map(ctx.labels.records.filter((r) => r.label !== null).map((r) => [r.feature, cleanLabel(r.label!, ctx.cleanCfg)]));
  const label = (f: number): string => labelOf.get(f) ?? `feature ${f}`;
  const { texts, indexRows } = queriesOf(cfg, sae, docOf);
  const emb = await ctx.embedder();
  if (emb.id !== args.store.manifest.embedderId) {
    throw new SaerchError(`queries would be embedded with ${emb.id} but the store holds ${args.store.manifest.embedderId} vectors`, "pass the store's own embedder");
  }
  const qND = await emb.embed(texts);
  // Difference of means over the index documents, per feature on demand.
  const embRD = args.store.gather(indexRows);
  const sumD = new Float64Array(d);
  for (let r = 0; r < indexRows.length; r++) for (let i = 0; i < d; i++) sumD[i]! += embRD[r * d + i]!;
  const diffCache = new Map<number, Float32Array>();
  const diffMeans = (f: number): Float32Array => {
    let v = diffCache.get(f);
    if (v !== undefined) return v;
    const inD = new Float64Array(d);
    let nIn = 0;
    indexRows.forEach((row, r) => {
      if (!fires(row, f)) return;
      nIn++;
      for (let i = 0; i < d; i++) inD[i]! += embRD[r * d + i]!;
    });
    const nOut = indexRows.length - nIn;
    v = Float32Array.from(inD, (x, i) => (nIn === 0 || nOut === 0 ? 0 : x / nIn - (sumD[i]! - x) / nOut));
    diffCache.set(f, v);
    return v;
  };
  const dom: SteerDomain = {
    name: ctx.name,
    params: sae.params,
    k: sae.config.k,
    queries: texts.map((text, i) => ({ text, qD: qND.slice(i * d, (i + 1) * d) })),
    clean,
    families: steerFamilies(sae, args.families),
    fires,
    termsOf,
    diffMeans,
  };
  if (clean.length < cfg.eval.distractors + 2) {
    throw new TooFewFeaturesError(`${ctx.name}: ${clean.length} ${cfg.featureSet} features; steering needs at least ${cfg.eval.distractors + 2} (up, down and the distractors)`, "label the SAE (notebook 04) so more features pass the clean filter");
  }
  const plan = planTrials(dom, cfg.eval.distractors, cfg.queries.seed);
  const trials = plan.trials;
  const ranker = await args.ranker(args.store, indexRows);
  const rank = ranker.rank;
  try {
    const batch = (qs: ReadonlyArray<Float32Array | null>): Float32Array => {
      const bd = new Float32Array(qs.length * d);
      qs.forEach((q, i) => {
        if (q !== null) bd.set(q, i * d);
      });
      return bd;
    };
    const rankSome = async (qs: ReadonlyArray<Float32Array | null>): Promise<Array<Int32Array | null>> => {
      const idx = qs.map((q, i) => (q === null ? -1 : i)).filter((i) => i >= 0);
      const hits = idx.length === 0 ? [] : await rank(batch(idx.map((i) => qs[i]!)), idx.length, topK);
      const res: Array<Int32Array | null> = qs.map(() => null);
      idx.forEach((i, j) => (res[i] = hits[j]!));
      return res;
    };
    const originals = (await rankSome(trials.map((t) => t.code.xD))) as Int32Array[];
    const points: PointResult[] = [];
    let stopped: string | undefined;
    const judges = cfg.eval.judges.filter((j) => j !== "llm" || ctx.llm !== undefined);
    for (const p of gridPoints(cfg)) {
      if ((p.method === "rewrite-llm" && ctx.llm === undefined) || (stopped !== undefined && p.method === "rewrite-llm")) continue;
      const steeredQueries = await steeredQueriesAt(p, dom, trials, cfg, emb, ctx.llm, label);
      const steered = await rankSome(steeredQueries);
      const wantLlm = ctx.llm !== undefined && judges.includes("llm") && llmSees(cfg, p) && stopped === undefined;
      const { judged, llmRequests } = judgePoint({ dom, point: p, trials, originals, steered, steeredQueries, judges, labelOf: label, wantLlm });
      if (wantLlm) {
        try {
          const verdicts = await llmJudge(ctx.llm!, llmRequests, cfg, (r) => titleOf(docOf(r).text), label);
          llmRequests.forEach((req, i) => {
            const j = judged.find((x) => trials[x.trial] === req.trial);
            if (j) j.verdicts["llm:standard"] = verdicts[i] ?? null;
          });
        } catch (err) {
          if (!(err instanceof BudgetExceededError)) throw err;
          stopped = `budget: ${err.message}`;
        }
      }
      points.push(...aggregatePoint(p, trials, judged, cfg.eval.bootstrap, cfg.queries.seed));
    }
    const familyVsParent = await familyVersusParent({ dom, trials, strengths: cfg.eval.familyStrengths, weighting: cfg.eval.familyWeighting, rank, topK });
    const example = await workedExample(dom, trials, rank, topK, label, (r) => titleOf(docOf(r).text));
    return {
      name: ctx.name,
      domain: sae.domain,
      queries: texts.length,
      trials: trials.length,
      noActiveClean: plan.noActiveClean,
      withFamily: trials.filter((t) => t.family !== null).length,
      llm: ctx.llm !== undefined,
      points,
      familyVsParent,
      example,
      ...(stopped !== undefined ? { stopped } : {}),
    };
  } finally {
    ranker.close?.();
  }
}

/** The steered queries of every trial at one point (rewrites are embedded; null where a method does not apply). */
async function steeredQueriesAt(p: GridPoint, dom: SteerDomain, trials: readonly Trial[], cfg: SteerConfig, emb: Embedder, llm: LlmClient | undefined, label: (f: number) => string): Promise<Array<Float32Array | null>> {
  if (p.method !== "rewrite-llm" && p.method !== "rewrite-offline") return trials.map((t) => steeredQuery(dom, t, p, cfg.eval.familyWeighting));
  let rewrites: Array<string | null>;
  if (p.method === "rewrite-offline") rewrites = trials.map((t) => `${t.text} and ${label(t.up)}`);
  else {
    const replies = await Promise.allSettled(
      trials.map((t) => llm!.complete({ role: "interpreter", model: cfg.llm.interpreterModel, messages: buildRewriteMessages(t.text, label(t.down), label(t.up)), temperature: cfg.llm.temperature, maxTokens: cfg.llm.interpreterMaxTokens })),
    );
    for (const r of replies) if (r.status === "rejected" && r.reason instanceof BudgetExceededError) throw r.reason;
    rewrites = replies.map((r) => (r.status === "fulfilled" ? (parseRewrite(r.value.content) ?? null) : null));
  }
  const texts = rewrites.filter((r): r is string => r !== null);
  const embedded = texts.length > 0 ? await emb.embed(texts) : new Float32Array(0);
  const d = dom.params.d;
  let next = 0;
  return rewrites.map((r) => (r === null ? null : embedded.slice(next * d, ++next * d)));
}

/** The LLM judge over a point's requests: a verdict each, null when its reply could not be read. */
async function llmJudge(client: LlmClient, reqs: readonly JudgeRequest[], cfg: SteerConfig, titleOfRow: (r: number) => string, label: (f: number) => string): Promise<Array<Verdict | null>> {
  const replies = await Promise.allSettled(
    reqs.map((r) =>
      client.complete({
        role: "interpreter",
        model: cfg.llm.interpreterModel,
        messages: buildJudgeMessages(Array.from(r.original, titleOfRow), Array.from(r.steered, titleOfRow), r.candidates.map(label)),
        temperature: cfg.llm.temperature,
        maxTokens: cfg.llm.interpreterMaxTokens,
      }),
    ),
  );
  for (const r of replies) if (r.status === "rejected" && r.reason instanceof BudgetExceededError) throw r.reason;
  return replies.map((r, i) => (r.status === "fulfilled" ? (parseJudge(r.value.content, reqs[i]!.candidates.length) ?? null) : null));
}

/** Strength of the worked example's up and down edits. */
export const EXAMPLE_STRENGTH = 2.5;

/** The first trial as a worked example: its active features, the top-k before, after up, after down. */
async function workedExample(dom: SteerDomain, trials: readonly Trial[], rank: Ranker, topK: number, label: (f: number) => string, title: (r: number) => string): Promise<WorkedExample | null> {
  const t = trials[0];
  if (t === undefined) return null;
  const d = dom.params.d;
  const qs = [t.code.xD, addDirections(dom.params, t.code.xD, [{ feature: t.up, value: EXAMPLE_STRENGTH }]), addDirections(dom.params, t.code.xD, [{ feature: t.down, value: -EXAMPLE_STRENGTH }])];
  const bd = new Float32Array(3 * d);
  qs.forEach((q, i) => bd.set(q, i * d));
  const [before, afterUp, afterDown] = await rank(bd, 3, topK);
  return {
    query: t.text,
    active: Array.from(t.code.indicesK, (f, i) => ({ feature: f, label: dom.clean.some((c) => c.feature === f) ? label(f) : null, activation: t.code.valuesK[i]! })).filter((a) => a.activation > 0),
    up: { feature: t.up, label: label(t.up), strength: EXAMPLE_STRENGTH },
    down: { feature: t.down, label: label(t.down), strength: EXAMPLE_STRENGTH },
    before: Array.from(before!, title),
    afterUp: Array.from(afterUp!, title),
    afterDown: Array.from(afterDown!, title),
  };
}
