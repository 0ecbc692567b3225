/**
 * Token and cost accounting per LLM role, the budget cap and the dry-run estimate (METHOD.md §4: one
 * interpreter request per feature, one predictor request per held-out document — 3 + 3 in the paper).
 *
 * Prices are USD per million tokens per model (`ModelPrice`). A model with no price is counted at 0 USD
 * and listed in `unpricedModels`, never silently. Token counts come from the server's `usage`; before a
 * call (the budget check, the dry run) they are counted by src/tokenizer/tokens.ts: exactly for OpenAI
 * models (their own BPE, offline), by a heuristic marked approximate for any other model.
 *
 * The budget holds per run, not per process: what earlier processes paid on the runs in hand (their
 * `spend.jsonl`, spend-ledger.ts) is added with `addPriorSpend` and counts against the cap, and every paid
 * request is reported to the sink set with `chargeTo`, which writes it to the current run's ledger.
 */
import { SaerchError } from "../core/errors.js";
import { countChatTokens, encodingForModel } from "../tokenizer/tokens.js";
import type { ModelPrice } from "./config.js";
import type { LlmClient, LlmRequest, LlmResponse, LlmRole, LlmUsage } from "./types.js";

/** Thrown before a request that would take the spend past the budget: the run stops cleanly. */
export class BudgetExceededError extends SaerchError {
  constructor(message: string) {
    super(message, "raise budgetUsd, or rerun later: finished work is cached and not paid again");
    this.name = "BudgetExceededError";
  }
}

/** Prices are quoted per this many tokens. */
const TOKENS_PER_PRICE_UNIT = 1_000_000;
/** Decimals when a message prints dollars (1/100 of a cent). */
const USD_DECIMALS = 4;
const ROLES: readonly LlmRole[] = ["interpreter", "predictor"];

/**
 * Cost of one reply: (promptTokens · inputPerMTok + completionTokens · outputPerMTok) / 1e6.
 * @returns USD, or undefined when `prices` has no entry for `model`
 */
export function costUsd(model: string, usage: LlmUsage, prices: Readonly<Record<string, ModelPrice>>): number | undefined {
  const price = prices[model];
  if (price === undefined) return undefined;
  return (usage.promptTokens * price.inputPerMTok + usage.completionTokens * price.outputPerMTok) / TOKENS_PER_PRICE_UNIT;
}

/**
 * The most a request can cost: its prompt tokens (`countChatTokens`, exact for OpenAI models) at the input
 * price plus `maxTokens` at the output price. The completion side is a true bound; the prompt side is exact
 * for OpenAI models and approximate for others.
 * @returns USD; 0 for a model with no price
 */
export function worstCaseUsd(req: LlmRequest, prices: Readonly<Record<string, ModelPrice>>): number {
  return costUsd(req.model, { promptTokens: countChatTokens(req.messages, req.model).tokens, completionTokens: req.maxTokens }, prices) ?? 0;
}

/** Accounting of one role. */
export interface RoleCost {
  /** Requests answered by the server (paid). */
  requests: number;
  /** Requests answered from the cache (free; not in the token counts). */
  cachedRequests: number;
  /** Prompt tokens of the paid requests. */
  promptTokens: number;
  /** Completion tokens of the paid requests. */
  completionTokens: number;
  /** USD of the paid requests (unpriced models count 0). */
  usd: number;
}

/** `CostMeter.summary()`: plain JSON for summary files. */
export interface CostSummary {
  /** The cap, or null when there is none. */
  budgetUsd: number | null;
  /** USD spent by this meter (this session), both roles. */
  totalUsd: number;
  /** USD spent on the same runs by earlier sessions (counted against the budget too). */
  priorUsd: number;
  /** Per role. */
  roles: Record<LlmRole, RoleCost>;
  /** Models used with no price (their cost counted as 0), sorted. */
  unpricedModels: string[];
}

const emptyRole = (): RoleCost => ({ requests: 0, cachedRequests: 0, promptTokens: 0, completionTokens: 0, usd: 0 });

/** One paid request, as reported to a meter's sink (`CostMeter.chargeTo`). */
export interface Charge {
  role: LlmRole;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** USD charged (0 for an unpriced model). */
  usd: number;
}

/**
 * Running spend per role, against an optional budget. Reservations hold the worst case of requests in
 * flight so that parallel requests cannot jointly overshoot the cap. Share one meter among clients to cap
 * their sum.
 */
export class CostMeter {
  /** USD per 1M tokens per model. */
  readonly prices: Readonly<Record<string, ModelPrice>>;
  /** The cap in USD (undefined: no cap). */
  readonly budgetUsd: number | undefined;
  private readonly roles: Record<LlmRole, RoleCost> = { interpreter: emptyRole(), predictor: emptyRole() };
  private readonly unpriced = new Set<string>();
  private reserved = 0;
  private prior = 0;
  private sink: ((charge: Charge) => void) | undefined;

  /**
   * @param prices USD per 1M tokens per model (e.g. `DEFAULT_PRICES`)
   * @param budgetUsd the cap; omitted: no cap (spend is still counted)
   */
  constructor(prices: Readonly<Record<string, ModelPrice>>, budgetUsd?: number) {
    if (budgetUsd !== undefined && !(budgetUsd >= 0)) {
      throw new SaerchError(`budgetUsd must be a non-negative number, got ${budgetUsd}`);
    }
    this.prices = prices;
    this.budgetUsd = budgetUsd;
  }

  /** USD spent so far, both roles. */
  get totalUsd(): number {
    return this.roles.interpreter.usd + this.roles.predictor.usd;
  }

  /** USD spent on the runs in hand by earlier sessions (see `addPriorSpend`). */
  get priorUsd(): number {
    return this.prior;
  }

  /**
   * Count `usd` that earlier processes spent on a run this meter now pays for (its ledger) against the budget.
   * @param usd non-negative USD
   */
  addPriorSpend(usd: number): void {
    if (!(usd >= 0)) throw new SaerchError(`prior spend must be a non-negative number, got ${usd}`);
    this.prior += usd;
  }

  /** Report every paid request from now on to `sink` (undefined: to nobody), e.g. the current run's ledger. */
  chargeTo(sink: ((charge: Charge) => void) | undefined): void {
    this.sink = sink;
  }

  /** USD held for requests in flight. */
  get reservedUsd(): number {
    return this.reserved;
  }

  /** Models seen with no price (counted at 0 USD), sorted. */
  get unpricedModels(): string[] {
    return [...this.unpriced].sort();
  }

  /** A copy of one role's accounting. */
  role(role: LlmRole): RoleCost {
    return { ...this.roles[role] };
  }

  /**
   * Hold `usd` for a request about to be sent.
   * @param what the request, for the error message
   * @throws BudgetExceededError when spent + reserved + usd would pass the budget (nothing is held then)
   */
  reserve(usd: number, what: string): void {
    if (this.budgetUsd !== undefined && this.prior + this.totalUsd + this.reserved + usd > this.budgetUsd) {
      const f = (x: number): string => `$${x.toFixed(USD_DECIMALS)}`;
      const spent = this.prior > 0 ? `${f(this.prior + this.totalUsd)} (${f(this.prior)} of it by earlier runs of these directories)` : f(this.totalUsd);
      throw new BudgetExceededError(
        `budget of ${f(this.budgetUsd)} reached: spent ${spent}, ${f(this.reserved)} held for requests in flight, and ${what} could cost up to ${f(usd)}`,
      );
    }
    this.reserved += usd;
  }

  /** Give back a reservation made with `reserve` (after the request settled, either way). */
  release(usd: number): void {
    this.reserved = Math.max(0, this.reserved - usd);
  }

  /**
   * Count one answered request. A cached reply counts only in `cachedRequests`: no tokens, no cost.
   * @param model the model priced (the request's)
   * @returns the USD charged (0 when cached or unpriced)
   */
  record(role: LlmRole, model: string, usage: LlmUsage, cached: boolean): number {
    const r = this.roles[role];
    if (cached) {
      r.cachedRequests++;
      return 0;
    }
    const usd = costUsd(model, usage, this.prices);
    if (usd === undefined) this.unpriced.add(model);
    r.requests++;
    r.promptTokens += usage.promptTokens;
    r.completionTokens += usage.completionTokens;
    r.usd += usd ?? 0;
    this.sink?.({ role, model, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, usd: usd ?? 0 });
    return usd ?? 0;
  }

  /** Everything, as plain JSON. */
  summary(): CostSummary {
    const roles = Object.fromEntries(ROLES.map((role) => [role, this.role(role)])) as Record<LlmRole, RoleCost>;
    return { budgetUsd: this.budgetUsd ?? null, totalUsd: this.totalUsd, priorUsd: this.prior, roles, unpricedModels: this.unpricedModels };
  }
}

/** A client that can tell, without a call, that it would answer a request from its cache. */
interface CacheAware {
  isCached(req: LlmRequest): boolean;
}

function isCacheAware(client: LlmClient): client is LlmClient & CacheAware {
  return typeof (client as Partial<CacheAware>).isCached === "function";
}

/**
 * `LlmClient` that counts tokens and cost per role and refuses, before sending, any request that could
 * take the spend past the meter's budget (`BudgetExceededError`; nothing is sent).
 *
 * Before each call the worst case (`worstCaseUsd`) is reserved; the check is spent + reserved + worst case
 * ≤ budget, so parallel requests cannot overshoot together. When the reply arrives the reservation is
 * released and the actual usage recorded at the request model's price. Cached replies cost nothing and
 * count as `cachedRequests`; when the inner client can say so up front (`CachedLlmClient.isCached`), a
 * cached request is answered even with the budget spent. A failed request records nothing (what the
 * server may have billed for it is unknowable).
 */
export class BudgetedLlmClient implements LlmClient {
  readonly id: string;

  constructor(
    private readonly inner: LlmClient,
    /** The shared meter: prices, budget, running totals. */
    readonly meter: CostMeter,
  ) {
    this.id = `budgeted:${inner.id}`;
  }

  /**
   * Answer `req` through the inner client, within budget.
   * @throws BudgetExceededError before sending when the worst case does not fit; whatever the inner client throws
   */
  async complete(req: LlmRequest, signal?: AbortSignal): Promise<LlmResponse> {
    if (isCacheAware(this.inner) && this.inner.isCached(req)) {
      const res = await this.inner.complete(req, signal);
      this.meter.record(req.role, req.model, res.usage, res.cached);
      return res;
    }
    const worst = worstCaseUsd(req, this.meter.prices);
    this.meter.reserve(worst, `this ${req.role} request (${req.model})`);
    let res: LlmResponse;
    try {
      res = await this.inner.complete(req, signal);
    } finally {
      this.meter.release(worst);
    }
    this.meter.record(req.role, req.model, res.usage, res.cached);
    return res;
  }

  /** Close the inner client; safe twice. */
  async close(): Promise<void> {
    await this.inner.close();
  }
}

/** The dry-run estimate for one role. */
export interface RoleEstimate {
  requests: number;
  /** True when the role's model is counted with its own tokenizer; false: heuristic, approximate. */
  promptTokensExact: boolean;
  promptTokens: number;
  completionTokens: number;
  /** USD (0 for a model with no price: see `unpricedModels`). */
  usd: number;
}

/**
 * What labelling costs before any call (the dry run): one interpreter request per feature and
 * `predictionsPerFeature` predictor requests per feature, at the given mean tokens per request (counted
 * with `countChatTokens`; each role says whether its count is exact).
 * @returns per role and in total, plus the models with no price (counted at 0 USD)
 */
export function estimateLabellingCost(args: {
  /** Features to label. */
  features: number;
  /** Predictor requests per feature (paper: 3 + 3 held-out documents). */
  predictionsPerFeature: number;
  /** Mean prompt tokens of one interpreter request. */
  interpreterPromptTokens: number;
  /** Mean prompt tokens of one predictor request. */
  predictorPromptTokens: number;
  /** Assumed completion tokens of one interpreter reply. */
  interpreterCompletionTokens: number;
  /** Assumed completion tokens of one predictor reply. */
  predictorCompletionTokens: number;
  interpreterModel: string;
  predictorModel: string;
  prices: Readonly<Record<string, ModelPrice>>;
}): { interpreter: RoleEstimate; predictor: RoleEstimate; totalUsd: number; unpricedModels: string[] } {
  const unpriced = new Set<string>();
  const role = (requests: number, promptPer: number, completionPer: number, model: string): RoleEstimate => {
    const promptTokens = requests * promptPer;
    const completionTokens = requests * completionPer;
    const usd = costUsd(model, { promptTokens, completionTokens }, args.prices);
    if (usd === undefined) unpriced.add(model);
    return { requests, promptTokensExact: encodingForModel(model) !== undefined, promptTokens, completionTokens, usd: usd ?? 0 };
  };
  const interpreter = role(args.features, args.interpreterPromptTokens, args.interpreterCompletionTokens, args.interpreterModel);
  const predictor = role(
    args.features * args.predictionsPerFeature,
    args.predictorPromptTokens,
    args.predictorCompletionTokens,
    args.predictorModel,
  );
  return { interpreter, predictor, totalUsd: interpreter.usd + predictor.usd, unpricedModels: [...unpriced].sort() };
}
