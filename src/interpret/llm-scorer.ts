/**
 * The paper's scorer (METHOD.md §4): an interpreter LLM labels each feature from its shown examples, a
 * predictor LLM rates each held-out document against the label. Prompts and parsing live in prompts.ts;
 * transport, caching, retries, concurrency and the budget live in the `LlmClient` this wraps.
 */
import { SaerchError } from "../core/errors.js";
import type { LlmConfig } from "./config.js";
import { BudgetExceededError } from "./cost.js";
import {
  buildInterpreterMessages,
  buildPredictorMessages,
  INTERPRETER_MARKER,
  parseInterpretation,
  parsePrediction,
  REPLY_QUOTE_CHARS,
} from "./prompts.js";
import type { FeatureScorer, FeatureTask, Interpretation, LlmClient, LlmRequest, LlmResponse, Prediction } from "./types.js";

/** Any rejection as an Error (clients reject with Errors; this guards against anything else). */
function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** Send one request; a client that throws synchronously becomes a rejected promise like any other failure. */
function send(client: LlmClient, req: LlmRequest): Promise<LlmResponse> {
  try {
    return client.complete(req);
  } catch (err) {
    return Promise.reject(asError(err));
  }
}

/**
 * Settle every promise; if any rejected with a `BudgetExceededError`, throw the first such error once all
 * have settled (so no request is left running behind the caller's back), else return the outcomes.
 */
async function settleOrStopOnBudget<T>(promises: ReadonlyArray<Promise<T>>): Promise<Array<PromiseSettledResult<T>>> {
  const settled = await Promise.allSettled(promises);
  for (const s of settled) {
    if (s.status === "rejected" && s.reason instanceof BudgetExceededError) throw s.reason;
  }
  return settled;
}

/** The end of a reply, whitespace collapsed, at most `REPLY_QUOTE_CHARS` characters (the marker belongs there). */
function quoteReply(reply: string): string {
  const flat = reply.replace(/\s+/g, " ").trim();
  return flat.length <= REPLY_QUOTE_CHARS ? flat : `…${flat.slice(flat.length - REPLY_QUOTE_CHARS)}`;
}

/** Labels features with the interpreter model and scores the labels with the predictor model. */
export class LlmScorer implements FeatureScorer {
  readonly kind = "llm" as const;
  readonly models: { interpreter: string; predictor: string };
  readonly endpoint?: string;
  private readonly client: LlmClient;
  private readonly cfg: LlmConfig;

  /**
   * @param client answers chat requests (bounds concurrency, retries, caches, enforces the budget)
   * @param cfg models per role, temperature and completion caps
   * @param opts `endpoint`: the server the client asks, recorded in every label (the raw client's id)
   */
  constructor(client: LlmClient, cfg: LlmConfig, opts: { endpoint?: string } = {}) {
    this.client = client;
    this.cfg = cfg;
    this.models = { interpreter: cfg.interpreterModel, predictor: cfg.predictorModel };
    if (opts.endpoint !== undefined) this.endpoint = opts.endpoint;
  }

  /**
   * One interpreter request per task, all issued at once (the client bounds concurrency); each task gets
   * its `Interpretation`, or an `Error` when its request failed or its reply had no label.
   * @throws BudgetExceededError when the budget stops any request, after all requests have settled
   */
  async interpret(tasks: readonly FeatureTask[]): Promise<Array<Interpretation | Error>> {
    const settled = await settleOrStopOnBudget(
      tasks.map((task) =>
        send(this.client, {
          role: "interpreter",
          model: this.cfg.interpreterModel,
          messages: buildInterpreterMessages({ top: task.top, zero: task.zero }),
          temperature: this.cfg.temperature,
          maxTokens: this.cfg.interpreterMaxTokens,
        }),
      ),
    );
    return settled.map((s) => {
      if (s.status === "rejected") return asError(s.reason);
      const interp = parseInterpretation(s.value.content);
      if (interp) return interp;
      return new SaerchError(
        `the interpreter's reply had no "${INTERPRETER_MARKER}" line with a label: "${quoteReply(s.value.content)}"`,
        "raise llm.interpreterMaxTokens if replies are cut off, or use an interpreter model that follows the answer format",
      );
    });
  }

  /**
   * One predictor request per held-out document of every item, all issued at once; each item gets its
   * predictions in `task.heldOut` order, or the first `Error` among its requests.
   * @throws BudgetExceededError when the budget stops any request, after all requests have settled
   */
  async predict(items: ReadonlyArray<{ task: FeatureTask; label: string }>): Promise<Array<Prediction[] | Error>> {
    const perItem = items.map(({ task, label }) =>
      task.heldOut.map((doc) =>
        send(this.client, {
          role: "predictor",
          model: this.cfg.predictorModel,
          messages: buildPredictorMessages(label, doc.text),
          temperature: this.cfg.temperature,
          maxTokens: this.cfg.predictorMaxTokens,
        }),
      ),
    );
    const settled = await settleOrStopOnBudget(perItem.flat());
    let next = 0;
    return perItem.map((requests) => {
      const outcomes = settled.slice(next, next + requests.length);
      next += requests.length;
      const predictions: Prediction[] = [];
      for (const s of outcomes) {
        if (s.status === "rejected") return asError(s.reason);
        predictions.push(parsePrediction(s.value.content));
      }
      return predictions;
    });
  }

  /** Close the client (safe to call twice). */
  async close(): Promise<void> {
    await this.client.close();
  }
}
