/**
 * `npm run bench:interpret` (METHOD.md §4): how fast the labelling loop runs against an OpenAI-compatible
 * server, and what labelling the paper's SAEs would cost. Measurements only; nothing here gates CI.
 *
 * 1. Throughput: the real path — `labelFeatures` → `LlmScorer` → `BudgetedLlmClient` → `CachedLlmClient`
 *    (a fresh cache file per run, so every request reaches the server) → `OpenAiLlmClient` over HTTP —
 *    against the local server of src/testing/local-openai-server.ts with a SIMULATED fixed latency per
 *    request. Its chat handler answers deterministically: the interpreter gets a short reasoning and
 *    `LABEL: …`, the predictor `CONFIDENCE: …`, both with `usage` filled in (prompt tokens counted by
 *    src/tokenizer, fixed completion sizes). Documents are real abstracts of the shared corpus; the codes are synthetic: each
 *    document gets K seeded random features with decreasing activations. The figure is features labelled
 *    per minute at each client concurrency; the ideal is concurrency / (requests per feature · latency).
 * 2. Cost: the paper's SAE16 / SAE32 / SAE64 (n = 3072 / 6144 / 9216 per domain, astro-ph and cs.LG) with
 *    the config's interpreter and predictor at its prices, from the mean prompt tokens (src/tokenizer) of real
 *    prompts built from sampled real abstracts, and the dry-run completion assumptions.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import { PAPER_DOMAINS, SHARED_CORPUS_FILE } from "../corpus/config.js";
import { docText, type Doc } from "../corpus/document.js";
import { streamDocs } from "../corpus/load.js";
import { domainsOf } from "../corpus/select.js";
import { sharedPath } from "../io/paths.js";
import { startOpenAIServer, type RecordedRequest, type RouteHandler } from "../testing/local-openai-server.js";
import type { SparseCodes } from "../sae/encode.js";
import { InterpretConfig, type InterpretConfigInput, type ModelPrice } from "./config.js";
import { countChatTokens, encodingForModel, type TokenCounting } from "../tokenizer/tokens.js";
import { BudgetedLlmClient, CostMeter, estimateLabellingCost, type CostSummary, type RoleEstimate } from "./cost.js";
import { labelFeatures, type LabelSummary } from "./labeller.js";
import { OpenAiLlmClient } from "./llm-client.js";
import { LlmScorer } from "./llm-scorer.js";
import { PAPER_MEAN_PEARSON } from "./paper.js";
import { buildInterpreterMessages, buildPredictorMessages, INTERPRETER_MARKER, PREDICTOR_MARKER } from "./prompts.js";
import { CachedLlmClient, RequestCache } from "./request-cache.js";
import type { ChatMessage, ExampleDoc } from "./types.js";

/** The chat route the LLM client calls. */
export const BENCH_CHAT_ROUTE = "/v1/chat/completions";
/** The paper's two domains, in the order tables list them. */
export const BENCH_DOMAINS: readonly string[] = ["astro-ph", "cs.LG"];
/** Hex digits of the prompt hash that makes each simulated label unique. */
const LABEL_HASH_CHARS = 6;
/** Title words (at least this long) that make up a simulated label. */
const LABEL_MIN_WORD_CHARS = 4;
/** Title words in a simulated label (plus the hash word). */
const LABEL_TITLE_WORDS = 3;
/** Simulated predictor confidence when the abstract shares a label word. */
const CONFIDENCE_SHARED = 0.8;
/** Simulated predictor confidence when it shares none. */
const CONFIDENCE_UNSHARED = -0.6;
/** Lowest per-request latency assumed when sizing runs (a 0 ms latency would ask for unbounded features). */
const MIN_SIZING_LATENCY_MS = 10;
/** Cap on the features of one automatically sized run. */
const MAX_AUTO_FEATURES = 1024;
/** The synthetic dictionary is sized so a feature is active in about this many documents. */
const ACTIVE_DOCS_PER_FEATURE = 40;
/** …but in at most 1 / this of them, leaving the rest as zero-activating examples. */
const ZERO_DOCS_FRACTION_INVERSE = 4;
const MS_PER_SECOND = 1000;
const SECONDS_PER_MINUTE = 60;

/** Settings of the benchmark (the command line fills them; every field has the default the bench uses). */
export const InterpretBenchConfig = z.strictObject({
  latencyMs: z.number().min(0).default(250).describe("simulated server latency per request, ms (the API's typical time to a short reply)"),
  concurrency: z
    .array(z.number().int().min(1))
    .min(1)
    .default([1, 4, 16])
    .describe("client concurrencies timed (llm.concurrency): sequential, the stage default's order of magnitude, and a rate-limit-bound high one"),
  features: z
    .array(z.number().int().min(1))
    .optional()
    .describe("features labelled per run: one count for every concurrency or one per concurrency (omitted: sized to targetSeconds)"),
  targetSeconds: z.number().positive().default(14).describe("aimed wall time of one automatically sized run: long enough to dwarf start-up, short enough for a ~1 minute bench"),
  docsPerDomain: z.number().int().min(16).default(3000).describe("real abstracts read per domain (the first ones of the shared corpus)"),
  domain: z.enum(["astro-ph", "cs.LG"]).default("astro-ph").describe("domain whose abstracts the throughput runs label"),
  k: z.number().int().min(1).default(16).describe("synthetic active features per document (the paper's SAE16 k)"),
  seed: z.number().int().default(0).describe("seeds the synthetic codes and the cost samples"),
  costSamples: z.number().int().min(1).default(50).describe("sampled prompt sets per domain for the mean prompt size (the dry run's sampleFeatures)"),
  quick: z.boolean().default(false).describe("smoke run: ~1.5 s per run, 300 abstracts per domain, 10 cost samples"),
});
/** Parsed benchmark settings. */
export type InterpretBenchConfig = z.infer<typeof InterpretBenchConfig>;
/** Benchmark settings as written (defaults optional). */
export type InterpretBenchConfigInput = z.input<typeof InterpretBenchConfig>;

/** Sizes that `quick` replaces. */
const QUICK = { targetSeconds: 1.5, docsPerDomain: 300, costSamples: 10 } as const;

/**
 * Parse benchmark settings; `quick` replaces targetSeconds, docsPerDomain and costSamples unless given.
 * @throws SaerchError listing every bad field, or when `features` lists neither 1 nor one count per concurrency
 */
export function resolveInterpretBenchConfig(input: InterpretBenchConfigInput = {}): InterpretBenchConfig {
  const r = InterpretBenchConfig.safeParse(input.quick ? { ...QUICK, ...input } : input);
  if (!r.success) throw new SaerchError(`invalid bench settings:\n${z.prettifyError(r.error)}`, "fix the options listed (see `node scripts/bench-interpret.mjs --help`)");
  const cfg = r.data;
  if (cfg.features !== undefined && cfg.features.length !== 1 && cfg.features.length !== cfg.concurrency.length) {
    throw new SaerchError(
      `--features lists ${cfg.features.length} counts for ${cfg.concurrency.length} concurrencies`,
      "give one count for all, or one per concurrency (e.g. --concurrency 1,4,16 --features 8,32,128)",
    );
  }
  return cfg;
}

/** Requests per labelled feature: one interpreter request and one predictor request per held-out document. */
export function requestsPerFeature(config: InterpretConfigInput = {}): number {
  const ex = InterpretConfig.parse(config).examples;
  return 1 + ex.heldTop + ex.heldZero;
}

/**
 * Features for one run to last about `targetSeconds` if the client kept `concurrency` requests in flight:
 * round(targetSeconds · concurrency / (requestsPerFeature · latency)), at least 1, at most 1024 (latency
 * counted as at least 10 ms).
 */
export function featuresForTarget(args: { concurrency: number; latencyMs: number; targetSeconds: number; requestsPerFeature: number }): number {
  const secondsPerFeature = (args.requestsPerFeature * Math.max(args.latencyMs, MIN_SIZING_LATENCY_MS)) / MS_PER_SECOND / args.concurrency;
  return Math.min(MAX_AUTO_FEATURES, Math.max(1, Math.round(args.targetSeconds / secondsPerFeature)));
}

/**
 * The first `perDomain` usable documents (abstract ≥ 100 characters, deduplicated) of each of the paper's
 * domains in the shared corpus, in file order; papers in both domains are left out so each list is one
 * domain's. Stops reading once every domain is full.
 * @throws SaerchError naming SAERCH_SHARED when the corpus is absent
 */
export async function readBenchDocs(perDomain: number): Promise<Record<string, Doc[]>> {
  const out: Record<string, Doc[]> = Object.fromEntries(BENCH_DOMAINS.map((d) => [d, [] as Doc[]]));
  const full = (): boolean => BENCH_DOMAINS.every((d) => out[d]!.length >= perDomain);
  if (full()) return out;
  for await (const doc of streamDocs({ path: sharedPath(SHARED_CORPUS_FILE) })) {
    const domains = domainsOf(doc, PAPER_DOMAINS);
    if (domains.length !== 1) continue;
    const list = out[domains[0]!];
    if (list !== undefined && list.length < perDomain) list.push(doc);
    if (full()) break;
  }
  return out;
}

/**
 * Seeded synthetic `[N, K]` codes: each document gets K distinct features drawn uniformly from [0, F),
 * with activations drawn from (0, 1] and sorted descending (the first listed is the strongest).
 * @param args.docs N, args.n F (≥ K), args.k K
 */
export function syntheticCodes(args: { docs: number; n: number; k: number; seed: number }): SparseCodes {
  const { docs, n, k } = args;
  if (k > n) throw new SaerchError(`syntheticCodes: k = ${k} exceeds the dictionary size n = ${n}`);
  const rng = new Rng(`bench-interpret:codes:${args.seed}`);
  const indicesNK = new Int32Array(docs * k);
  const valuesNK = new Float32Array(docs * k);
  const actsK = new Float64Array(k);
  for (let i = 0; i < docs; i++) {
    indicesNK.set(rng.sample(n, k), i * k);
    for (let r = 0; r < k; r++) actsK[r] = 1 - rng.float();
    actsK.sort().reverse();
    valuesNK.set(actsK, i * k);
  }
  return { indices: indicesNK, values: valuesNK, k };
}

/**
 * Dictionary size for a synthetic run: each feature active in about A = min(40, N / 4) of the N documents
 * (F = floor(N · K / A)), so it has enough activating and zero-activating examples, but never fewer
 * features than are labelled nor fewer than K.
 */
export function syntheticDictionarySize(docs: number, k: number, features: number): number {
  const activeDocs = Math.max(1, Math.min(ACTIVE_DOCS_PER_FEATURE, Math.floor(docs / ZERO_DOCS_FRACTION_INVERSE)));
  return Math.max(features, k, Math.floor((docs * k) / activeDocs));
}

/** The user message of a recorded chat request, or undefined when the body is not a chat request. */
function chatOf(req: RecordedRequest): { model: string; user: string; promptTokens: number } | undefined {
  const body = req.body as { model?: unknown; messages?: unknown } | undefined;
  if (typeof body !== "object" || body === null || !Array.isArray(body.messages)) return undefined;
  const messages = body.messages as unknown[];
  if (!messages.every((m): m is ChatMessage => typeof (m as ChatMessage | null)?.content === "string")) return undefined;
  const user = messages.filter((m) => m.role === "user").at(-1)?.content;
  if (user === undefined) return undefined;
  return { model: typeof body.model === "string" ? body.model : "", user, promptTokens: countChatTokens(messages, typeof body.model === "string" ? body.model : "").tokens };
}

/** Lower-case words of at least `LABEL_MIN_WORD_CHARS` letters or digits. */
function contentWords(text: string): string[] {
  return text.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length >= LABEL_MIN_WORD_CHARS);
}

/** The simulated interpreter's reply: three words of the strongest example's title and a prompt hash. */
function interpreterReply(user: string): string {
  const title = /Active abstract 1 \(activation [^)]*\):\n"""\n([^\n]*)/.exec(user)?.[1] ?? "";
  const words = contentWords(title).slice(0, LABEL_TITLE_WORDS);
  const hash = createHash("sha256").update(user).digest("hex").slice(0, LABEL_HASH_CHARS);
  const label = [...words, `t${hash}`].join(" ");
  return [
    `Candidates, broad to narrow: ${words.join(", ") || "research"}.`,
    "None of them describes the inactive abstracts; the simplest survivor explains every active one.",
    `${INTERPRETER_MARKER} ${label}`,
  ].join("\n");
}

/** The simulated predictor's reply: 0.8 when the abstract shares a label word, else −0.6. */
function predictorReply(user: string): string {
  const label = /^Feature label: (.*)$/m.exec(user)?.[1] ?? "";
  const abstract = /Abstract:\n"""\n([\s\S]*?)\n"""/.exec(user)?.[1] ?? "";
  const inAbstract = new Set(contentWords(abstract));
  const shared = contentWords(label).some((w) => inAbstract.has(w));
  return `The abstract ${shared ? "matches" : "does not match"} the label.\n${PREDICTOR_MARKER} ${shared ? CONFIDENCE_SHARED : CONFIDENCE_UNSHARED}`;
}

/**
 * Chat-completions handler of the simulated LLM: deterministic replies with `usage` filled in. A request
 * whose user message ends with the `LABEL:` instruction is an interpreter request; one ending with the
 * `CONFIDENCE:` instruction a predictor request; anything else is answered 400.
 * @param completionTokens the usage reported per reply (e.g. the dry run's assumptions)
 */
export function benchChatHandler(completionTokens: { interpreter: number; predictor: number }): RouteHandler {
  return (req) => {
    const chat = chatOf(req);
    const lastLine = chat?.user.trimEnd().split("\n").at(-1) ?? "";
    const role = lastLine.startsWith(INTERPRETER_MARKER) ? "interpreter" : lastLine.startsWith(PREDICTOR_MARKER) ? "predictor" : undefined;
    if (chat === undefined || role === undefined) {
      return { status: 400, body: { error: { message: "bench server: not an interpreter or predictor request", type: "invalid_request_error" } } };
    }
    const content = role === "interpreter" ? interpreterReply(chat.user) : predictorReply(chat.user);
    const completion = completionTokens[role];
    return {
      status: 200,
      body: {
        id: `bench-${req.at.toFixed(3)}`,
        object: "chat.completion",
        created: 0,
        model: chat.model,
        choices: [{ index: 0, message: { role: "assistant", content, refusal: null }, finish_reason: "stop" }],
        usage: { prompt_tokens: chat.promptTokens, completion_tokens: completion, total_tokens: chat.promptTokens + completion },
      },
    };
  };
}

/** One throughput run. */
export interface LabellingBenchArgs {
  /** `[N]` documents the codes rows stand for (text: title + "\n\n" + abstract). */
  docs: readonly Doc[];
  /** `[N, K]` codes over `docs`. */
  codes: SparseCodes;
  /** Dictionary size F. */
  n: number;
  /** Features labelled: 0 … features − 1. */
  features: number;
  /** Client concurrency (requests in flight). */
  concurrency: number;
  /** Simulated latency of every request, ms. */
  latencyMs: number;
  /** Stage config beyond llm.baseURL / llm.concurrency / maxFeatures (default: the paper's settings). */
  config?: InterpretConfigInput;
}

/** What one throughput run measured. */
export interface LabellingBenchResult {
  concurrency: number;
  latencyMs: number;
  /** Features asked for. */
  features: number;
  labelled: number;
  tooRare: number;
  failed: number;
  /** Wall time of `labelFeatures`, seconds. */
  seconds: number;
  /** Labelled features per minute of wall time. */
  featuresPerMinute: number;
  /** concurrency · 60 / (requestsPerFeature · latency): the rate if latency were the only cost. */
  idealFeaturesPerMinute: number | null;
  /** Chat requests the server received. */
  requests: number;
  interpreterRequests: number;
  predictorRequests: number;
  /** Server requests per second of wall time. */
  requestsPerSecond: number;
  /** Most requests the server answered at once. */
  maxInFlight: number;
  /** Requests answered by the request cache (0 expected: each run starts with an empty cache). */
  cachedRequests: number;
  /** Backoff waits of the client (0 expected: the server never fails). */
  retries: number;
  /** Mean Pearson of the simulated predictions (meaningless as quality; a sanity check of the plumbing). */
  meanPearson: number | null;
  /** Predictor replies that did not parse (0 expected). */
  unparsedPredictions: number;
  /** Tokens and list-price USD the run would have cost (usage as the simulated server reported it). */
  cost: CostSummary;
}

/**
 * Label `features` features through the real LLM path against a fresh local server with a fixed
 * simulated latency and a fresh request cache (temporary directory, removed afterwards), and time it.
 */
export async function benchLabelling(args: LabellingBenchArgs): Promise<LabellingBenchResult> {
  if (args.codes.indices.length !== args.docs.length * args.codes.k) {
    throw new SaerchError(`benchLabelling: codes hold ${args.codes.indices.length / args.codes.k} rows for ${args.docs.length} documents`);
  }
  const dir = mkdtempSync(join(tmpdir(), "saerch-bench-interpret-"));
  const base = InterpretConfig.parse(args.config ?? {});
  const server = await startOpenAIServer({ latencyMs: () => args.latencyMs });
  server.setHandler(BENCH_CHAT_ROUTE, benchChatHandler({ interpreter: base.dryRun.interpreterCompletionTokens, predictor: base.dryRun.predictorCompletionTokens }));
  let retries = 0;
  try {
    const cfg = InterpretConfig.parse({
      ...(args.config ?? {}),
      scorer: "llm",
      llm: { ...base.llm, baseURL: server.baseURL, concurrency: args.concurrency },
      features: undefined,
      maxFeatures: args.features,
    });
    const meter = new CostMeter(cfg.prices);
    const http = new OpenAiLlmClient(cfg.llm, { apiKey: "bench", onRetry: () => retries++ });
    const client = new BudgetedLlmClient(new CachedLlmClient(http, RequestCache.open(join(dir, "llm-cache.jsonl"))), meter);
    const scorer = new LlmScorer(client, cfg.llm);
    const texts = args.docs.map((d) => ({ id: d.id, text: docText(d) }));
    const rowsN = Int32Array.from({ length: args.docs.length }, (_, i) => i);
    const t0 = performance.now();
    let summary: LabelSummary;
    try {
      ({ summary } = await labelFeatures({ dir: join(dir, "labels"), codes: args.codes, n: args.n, rowsN, docOf: (row) => texts[row]!, scorer, config: cfg, quiet: true }));
    } finally {
      await scorer.close();
    }
    const seconds = (performance.now() - t0) / MS_PER_SECOND;
    const cost = meter.summary();
    const interpreterRequests = cost.roles.interpreter.requests;
    const predictorRequests = cost.roles.predictor.requests;
    const requests = server.requestsTo(BENCH_CHAT_ROUTE).length;
    const perFeature = requestsPerFeature(cfg);
    return {
      concurrency: args.concurrency,
      latencyMs: args.latencyMs,
      features: summary.features,
      labelled: summary.labelled,
      tooRare: summary.tooRare,
      failed: summary.failed,
      seconds,
      featuresPerMinute: (summary.labelled / seconds) * SECONDS_PER_MINUTE,
      idealFeaturesPerMinute: args.latencyMs > 0 ? (args.concurrency * SECONDS_PER_MINUTE * MS_PER_SECOND) / (perFeature * args.latencyMs) : null,
      requests,
      interpreterRequests,
      predictorRequests,
      requestsPerSecond: requests / seconds,
      maxInFlight: server.maxInFlight,
      cachedRequests: cost.roles.interpreter.cachedRequests + cost.roles.predictor.cachedRequests,
      retries,
      meanPearson: summary.meanPearson ?? null,
      unparsedPredictions: summary.unparsedPredictions,
      cost,
    };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Mean prompt sizes of one domain's real prompts. */
export interface PromptSizes {
  domain: string;
  /** Prompt sets sampled. */
  samples: number;
  /** Mean prompt tokens (`countChatTokens`, the interpreter model's) of one interpreter request (top + zero real abstracts). */
  interpreterPromptTokens: number;
  /** Mean prompt tokens (the predictor model's) of one predictor request (a labelWords-word label, one real abstract). */
  predictorPromptTokens: number;
}

/**
 * Measure mean prompt sizes on real prompts: each sample draws `top + zero + heldTop + heldZero` distinct
 * documents; the first `top` are shown as active (synthetic decreasing activations), the next `zero` as
 * inactive (`buildInterpreterMessages`), and each held-out one is paired with a `labelWords`-word label
 * (`buildPredictorMessages`). Tokens are `countChatTokens` with the config's interpreter / predictor model.
 * @throws SaerchError when there are fewer documents than one sample needs
 */
export function measurePromptSizes(args: { domain: string; docs: readonly Doc[]; samples: number; config?: InterpretConfigInput; seed?: number }): PromptSizes {
  const cfg = InterpretConfig.parse(args.config ?? {});
  const { top, zero, heldTop, heldZero } = cfg.examples;
  const perSample = top + zero + heldTop + heldZero;
  if (args.docs.length < perSample) {
    throw new SaerchError(`measurePromptSizes: ${args.docs.length} ${args.domain} documents, one sample needs ${perSample}`, "read more documents per domain");
  }
  const rng = new Rng(`bench-interpret:prompts:${args.domain}:${args.seed ?? 0}`);
  const label = Array.from({ length: cfg.dryRun.labelWords }, () => "word").join(" ");
  const example = (i: number, activation: number): ExampleDoc => {
    const d = args.docs[i]!;
    return { row: i, id: d.id, text: docText(d), activation };
  };
  let interp = 0;
  let pred = 0;
  let predCount = 0;
  for (let s = 0; s < args.samples; s++) {
    const picked = Array.from(rng.sample(args.docs.length, perSample));
    const shownTop = picked.slice(0, top).map((i, r) => example(i, 1 - r / top));
    const shownZero = picked.slice(top, top + zero).map((i) => example(i, 0));
    interp += countChatTokens(buildInterpreterMessages({ top: shownTop, zero: shownZero }), cfg.llm.interpreterModel).tokens;
    for (const i of picked.slice(top + zero)) {
      pred += countChatTokens(buildPredictorMessages(label, docText(args.docs[i]!)), cfg.llm.predictorModel).tokens;
      predCount++;
    }
  }
  return { domain: args.domain, samples: args.samples, interpreterPromptTokens: interp / args.samples, predictorPromptTokens: pred / predCount };
}

/** The cost of labelling one paper SAE in one domain. */
export interface PaperCostRow {
  /** "SAE16", "SAE32", "SAE64". */
  sae: string;
  k: number;
  /** Dictionary size n (features per domain). */
  n: number;
  domain: string;
  interpreter: RoleEstimate;
  predictor: RoleEstimate;
  totalUsd: number;
}

/** The paper-scale cost estimate. */
export interface PaperCostReport {
  interpreterModel: string;
  predictorModel: string;
  /** USD per 1M tokens of the two models. */
  prices: Record<string, ModelPrice>;
  /** Predictor requests per feature (held-out top + zero). */
  predictionsPerFeature: number;
  /** Assumed completion tokens per reply (the config's dryRun). */
  interpreterCompletionTokens: number;
  predictorCompletionTokens: number;
  /** How prompt tokens were counted per role: an exact encoding, or "heuristic" (approximate). */
  tokenCounting: { interpreter: TokenCounting; predictor: TokenCounting };
  /** Measured mean prompt sizes per domain. */
  promptSizes: PromptSizes[];
  /** One row per SAE and domain. */
  rows: PaperCostRow[];
  /** Both domains summed, per SAE. */
  perSae: Array<{ sae: string; n: number; features: number; requests: number; interpreterUsd: number; predictorUsd: number; totalUsd: number }>;
  /** Everything summed. */
  total: { features: number; requests: number; interpreterUsd: number; predictorUsd: number; totalUsd: number };
  /** Models with no price (counted at 0 USD). */
  unpricedModels: string[];
}

/**
 * What labelling every feature of the paper's SAE16 / SAE32 / SAE64 in both domains would cost with the
 * config's models and prices (`estimateLabellingCost`), from each domain's measured prompt sizes.
 */
export function estimatePaperCost(args: { promptSizes: readonly PromptSizes[]; config?: InterpretConfigInput }): PaperCostReport {
  const cfg = InterpretConfig.parse(args.config ?? {});
  const { interpreterModel, predictorModel } = cfg.llm;
  const predictionsPerFeature = cfg.examples.heldTop + cfg.examples.heldZero;
  const unpriced = new Set<string>();
  const rows: PaperCostRow[] = [];
  for (const sae of PAPER_MEAN_PEARSON) {
    for (const sizes of args.promptSizes) {
      const est = estimateLabellingCost({
        features: sae.n,
        predictionsPerFeature,
        interpreterPromptTokens: sizes.interpreterPromptTokens,
        predictorPromptTokens: sizes.predictorPromptTokens,
        interpreterCompletionTokens: cfg.dryRun.interpreterCompletionTokens,
        predictorCompletionTokens: cfg.dryRun.predictorCompletionTokens,
        interpreterModel,
        predictorModel,
        prices: cfg.prices,
      });
      est.unpricedModels.forEach((m) => unpriced.add(m));
      rows.push({ sae: sae.sae, k: sae.k, n: sae.n, domain: sizes.domain, interpreter: est.interpreter, predictor: est.predictor, totalUsd: est.totalUsd });
    }
  }
  const sum = (rs: readonly PaperCostRow[]): { features: number; requests: number; interpreterUsd: number; predictorUsd: number; totalUsd: number } => ({
    features: rs.reduce((a, r) => a + r.interpreter.requests, 0),
    requests: rs.reduce((a, r) => a + r.interpreter.requests + r.predictor.requests, 0),
    interpreterUsd: rs.reduce((a, r) => a + r.interpreter.usd, 0),
    predictorUsd: rs.reduce((a, r) => a + r.predictor.usd, 0),
    totalUsd: rs.reduce((a, r) => a + r.totalUsd, 0),
  });
  const prices: Record<string, ModelPrice> = {};
  for (const m of [interpreterModel, predictorModel]) {
    const p = cfg.prices[m];
    if (p !== undefined) prices[m] = p;
  }
  return {
    interpreterModel,
    predictorModel,
    prices,
    predictionsPerFeature,
    interpreterCompletionTokens: cfg.dryRun.interpreterCompletionTokens,
    predictorCompletionTokens: cfg.dryRun.predictorCompletionTokens,
    tokenCounting: { interpreter: encodingForModel(interpreterModel) ?? "heuristic", predictor: encodingForModel(predictorModel) ?? "heuristic" },
    promptSizes: [...args.promptSizes],
    rows,
    perSae: PAPER_MEAN_PEARSON.map((sae) => ({ sae: sae.sae, n: sae.n, ...sum(rows.filter((r) => r.sae === sae.sae)) })),
    total: sum(rows),
    unpricedModels: [...unpriced].sort(),
  };
}

/** Everything `npm run bench:interpret` measured (written as JSON). */
export interface InterpretBenchReport {
  /** ISO time the bench started. */
  startedAt: string;
  /** The settings used. */
  settings: InterpretBenchConfig;
  /** How the throughput runs were set up, in words. */
  notes: string[];
  throughput: {
    domain: string;
    documents: number;
    /** Synthetic active features per document. */
    k: number;
    requestsPerFeature: number;
    /** One per concurrency, in the order asked. */
    runs: Array<LabellingBenchResult & { dictionarySize: number; speedupOverFirst: number }>;
  };
  cost: PaperCostReport;
}

/**
 * Run the whole benchmark: read real abstracts, time one labelling run per concurrency (each with its own
 * server, cache and synthetic dictionary sized to its feature count), then price the paper's SAEs.
 * @param onRun called after each throughput run (progress lines)
 */
export async function runInterpretBench(input: InterpretBenchConfigInput = {}, onRun?: (r: LabellingBenchResult) => void): Promise<InterpretBenchReport> {
  const settings = resolveInterpretBenchConfig(input);
  const startedAt = new Date().toISOString();
  const docsByDomain = await readBenchDocs(settings.docsPerDomain);
  const docs = docsByDomain[settings.domain]!;
  if (docs.length < settings.docsPerDomain) {
    throw new SaerchError(`the shared corpus has only ${docs.length} usable ${settings.domain} abstracts, ${settings.docsPerDomain} asked for`, "lower --docs");
  }
  const perFeature = requestsPerFeature();
  const runs: InterpretBenchReport["throughput"]["runs"] = [];
  for (const [i, concurrency] of settings.concurrency.entries()) {
    const features =
      settings.features?.[settings.features.length === 1 ? 0 : i] ??
      featuresForTarget({ concurrency, latencyMs: settings.latencyMs, targetSeconds: settings.targetSeconds, requestsPerFeature: perFeature });
    const n = syntheticDictionarySize(docs.length, settings.k, features);
    const codes = syntheticCodes({ docs: docs.length, n, k: settings.k, seed: settings.seed });
    const r = await benchLabelling({ docs, codes, n, features, concurrency, latencyMs: settings.latencyMs });
    onRun?.(r);
    const first = runs[0]?.featuresPerMinute ?? r.featuresPerMinute;
    runs.push({ ...r, dictionarySize: n, speedupOverFirst: r.featuresPerMinute / first });
  }
  const promptSizes = BENCH_DOMAINS.map((domain) => measurePromptSizes({ domain, docs: docsByDomain[domain]!, samples: settings.costSamples, seed: settings.seed }));
  return {
    startedAt,
    settings,
    notes: [
      `server latency is SIMULATED: a local OpenAI-compatible server waits ${settings.latencyMs} ms before each reply, then answers deterministically`,
      "path: labelFeatures → LlmScorer → BudgetedLlmClient → CachedLlmClient (fresh cache file per run) → OpenAiLlmClient over HTTP",
      `documents: the first ${docs.length} ${settings.domain} abstracts of the shared corpus; codes: synthetic, each document gets ${settings.k} seeded random features with decreasing activations`,
      "prompt token counts: src/tokenizer/tokens.ts (exact for OpenAI models, approximate for others)",
    ],
    throughput: { domain: settings.domain, documents: docs.length, k: settings.k, requestsPerFeature: perFeature, runs },
    cost: estimatePaperCost({ promptSizes }),
  };
}
