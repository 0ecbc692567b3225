/**
 * The HTTP end of the LLM client seam (METHOD.md §4: the paper's Interpreter, GPT-4o, and Predictor,
 * GPT-4o-mini, at temperature 0): chat completions through the `openai` package against any
 * OpenAI-compatible server.
 *
 * The SDK's own retries are off (`maxRetries: 0`); `withRetries` (src/net/retry.ts) owns them, so every
 * remote call backs off the same way: a server's `retry-after-ms` / `Retry-After` is honoured, else
 * exponential backoff with jitter. Retried: `isRetryableStatus` (408, 409, 429, ≥ 500), connection errors,
 * timeouts, a 200 whose body is not JSON (the SDK throws a bare `SyntaxError` from `response.json()`), and a
 * reply with no choices or blank content. Not retried: any other status (400, 401, 403, 404, 422 …), a
 * refusal, a malformed request: a `LlmRequestError` quoting the server and naming the fix.
 *
 * A semaphore bounds requests in flight per client (`concurrency`); callers may fire everything at once and
 * the rest queue. A request holds its slot through its backoff waits, so a rate-limited server sees fewer
 * requests, not a burst when the wait ends.
 */
import OpenAI from "openai";
import { z } from "zod";
import { SaerchError } from "../core/errors.js";
import { classifyOpenAiError, quoteServerText } from "../net/openai-errors.js";
import { ApiRequestError, apiRetryAfterMs, isRetryableApiError, withRetries } from "../net/retry.js";
import { countChatTokens, countTokens } from "../tokenizer/tokens.js";
import { OPENAI_CHAT_BASE_URL, type LlmConfig } from "./config.js";
import type { ChatMessage, LlmClient, LlmRequest, LlmResponse, LlmUsage } from "./types.js";

/** Sent as the key to servers that need none (the SDK insists on some string). */
const PLACEHOLDER_API_KEY = "no-key";
const HTTP_UNAUTHORIZED = 401;
const HTTP_FORBIDDEN = 403;
const HTTP_NOT_FOUND = 404;
const CHAT_ROLES: ReadonlySet<string> = new Set(["system", "user", "assistant"]);

/** What went wrong with one chat request. */
export type LlmFailure = "http" | "timeout" | "network" | "malformed" | "empty" | "refused" | "request";

/** One failed chat-completion attempt (or a request that cannot be sent), with the server's word on it. */
export class LlmRequestError extends ApiRequestError<LlmFailure> {}

/** The same failure with `context` prefixed to its message (the fix kept once). */
function withContext(err: LlmRequestError, context: string): LlmRequestError {
  return new LlmRequestError(err.kind, `${context}, ${err.bareMessage}`, err.details());
}

/** A 200 reply with no choices or blank content: retried (the next sample may well have text). */
class EmptyReplyError extends LlmRequestError {
  constructor(message: string) {
    super("empty", message, { retryable: true });
    this.name = "EmptyReplyError";
  }
}

/** What `onRetry` hears before each backoff wait. */
export interface LlmRetryInfo {
  /** The attempt that failed (1-based). */
  attempt: number;
  /** How long the client waits before the next attempt. */
  delayMs: number;
  /** The failed attempt's error (usually a `LlmRequestError`). */
  error: unknown;
}

/** Options of `OpenAiLlmClient` beyond the config. */
export interface OpenAiLlmClientOptions {
  /** The API key (default `process.env[cfg.apiKeyEnv]`); keys never live in config files. */
  apiKey?: string;
  /** Jitter source in [0, 1) (default Math.random; tests pass `() => 0`). */
  random?: () => number;
  /** Called before each backoff wait, for logs. */
  onRetry?: (info: LlmRetryInfo) => void;
}

/** Shape of a chat-completions reply, as far as this client reads it (unknown fields are ignored). */
const ChatReply = z.object({
  model: z.string().optional(),
  choices: z.array(
    z.object({
      message: z
        .object({ content: z.string().nullish(), refusal: z.string().nullish() })
        .nullish(),
    }),
  ),
});
/** Token usage as the API reports it. */
const ChatUsage = z.object({
  prompt_tokens: z.number().int().min(0),
  completion_tokens: z.number().int().min(0),
});

/** `baseURL` without trailing slashes. */
function normalizeBaseURL(baseURL: string): string {
  return baseURL.replace(/\/+$/, "");
}

function isOpenAiBaseURL(baseURL: string): boolean {
  return normalizeBaseURL(baseURL) === OPENAI_CHAT_BASE_URL;
}

/**
 * True when the LLM path can run: a key is set in `env[cfg.apiKeyEnv]`, or the base URL is not OpenAI's
 * (a local or self-hosted server needs none). The stage's `scorer: "auto"` picks the LLMs when this holds,
 * else the offline baseline.
 */
export function hasLlmCredentials(cfg: LlmConfig, env: NodeJS.ProcessEnv = process.env): boolean {
  const key = env[cfg.apiKeyEnv];
  return (key !== undefined && key !== "") || !isOpenAiBaseURL(cfg.baseURL);
}

/** Fix for a non-retryable status. */
function fixForStatus(status: number, cfg: LlmConfig, model: string): string {
  if (status === HTTP_UNAUTHORIZED || status === HTTP_FORBIDDEN) {
    return `check the key in the environment variable ${cfg.apiKeyEnv} (and that it may use ${model}), or set scorer: "baseline" to label offline`;
  }
  if (status === HTTP_NOT_FOUND) {
    return `check baseURL (${cfg.baseURL}) and the model name "${model}": one of them is unknown to the server`;
  }
  return `the server rejected the request: check the model name "${model}", maxTokens and the prompt's length`;
}

/** Throw a non-retryable error when `req` cannot be sent as it is. */
function checkRequest(req: LlmRequest): void {
  const bad = (msg: string): never => {
    throw new LlmRequestError("request", `invalid LLM request (${req.role}, ${req.model}): ${msg}`, {
      retryable: false,
      fix: "build requests with the prompt builders in src/interpret/prompts.ts",
    });
  };
  if (typeof req.model !== "string" || req.model === "") bad("model is empty");
  if (!Array.isArray(req.messages) || req.messages.length === 0) bad("no messages");
  for (const [i, m] of req.messages.entries()) {
    if (!CHAT_ROLES.has(m.role) || typeof m.content !== "string") bad(`message ${i} is not {role, content: string}`);
  }
  if (!Number.isInteger(req.maxTokens) || req.maxTokens < 1) bad(`maxTokens ${req.maxTokens} is not a positive integer`);
  if (!Number.isFinite(req.temperature) || req.temperature < 0) bad(`temperature ${req.temperature} is not ≥ 0`);
}

/** FIFO counting semaphore; a waiter whose signal aborts leaves the queue. */
class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  /** Wait for a slot; the returned function gives it back (idempotent). */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw signal.reason;
    if (this.active < this.limit) {
      this.active++;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(wake);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason);
      };
      const wake = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.waiters.push(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      // Hand the slot straight to the next waiter; `active` stays the same.
      if (next) next();
      else this.active--;
    };
  }
}

/**
 * `LlmClient` over the `openai` package for any OpenAI-compatible chat-completions server.
 *
 * Sends `{model, messages, temperature, max_tokens}`; `role` is for accounting only and never sent.
 * Each attempt is bounded by `cfg.timeoutMs` from send to parsed body; retries, backoff and their limits
 * come from `cfg` (see the module header for what is retried).
 *
 * Usage: read from the reply's `usage` (`prompt_tokens`, `completion_tokens`). A server that omits it
 * (some local servers do) gets a count instead (src/tokenizer/tokens.ts: `countChatTokens` of the messages,
 * `countTokens` of the reply): exact for OpenAI models, approximate for others.
 */
export class OpenAiLlmClient implements LlmClient {
  /** "openai:<baseURL>". */
  readonly id: string;
  private readonly cfg: LlmConfig;
  private readonly baseURL: string;
  private readonly sdk: OpenAI;
  private readonly slots: Semaphore;
  private readonly random: (() => number) | undefined;
  private readonly onRetry: ((info: LlmRetryInfo) => void) | undefined;
  private closed = false;

  /**
   * @param cfg parsed LLM settings (tests: `LlmConfig.parse({baseURL: server.baseURL, …})`)
   * @throws SaerchError when the base URL is OpenAI's and no key is given or set in `cfg.apiKeyEnv`
   */
  constructor(cfg: LlmConfig, opts: OpenAiLlmClientOptions = {}) {
    this.cfg = cfg;
    this.baseURL = normalizeBaseURL(cfg.baseURL);
    const key = opts.apiKey ?? process.env[cfg.apiKeyEnv] ?? "";
    if (key === "" && isOpenAiBaseURL(this.baseURL)) {
      throw new SaerchError(
        `no OpenAI API key: environment variable ${cfg.apiKeyEnv} is not set (needed for ${OPENAI_CHAT_BASE_URL})`,
        `export ${cfg.apiKeyEnv}=sk-… in the shell that runs this, point llm.baseURL at a local OpenAI-compatible server, or set scorer: "baseline" to label offline without an LLM`,
      );
    }
    this.id = `openai:${this.baseURL}`;
    this.sdk = new OpenAI({
      baseURL: this.baseURL,
      apiKey: key === "" ? PLACEHOLDER_API_KEY : key,
      timeout: cfg.timeoutMs,
      maxRetries: 0,
    });
    this.slots = new Semaphore(cfg.concurrency);
    this.random = opts.random;
    this.onRetry = opts.onRetry;
  }

  /**
   * Answer one request, waiting for a free slot first.
   * @param signal aborts the wait, the request in flight and further retries (rejects with its reason)
   * @returns the reply with `cached: false`
   * @throws LlmRequestError (not retryable: HTTP 4xx, refusal, invalid request); `RetriesExhaustedError`
   *   from src/net/retry.ts ("… failed after N attempts: <last error>", with `attempts`, `lastError`)
   *   when every attempt failed retryably
   */
  async complete(req: LlmRequest, signal?: AbortSignal): Promise<LlmResponse> {
    if (this.closed) throw new SaerchError(`${this.id}: the LLM client is closed`);
    checkRequest(req);
    const label = `chat completion (${req.role}, ${req.model}) at ${this.baseURL}`;
    const release = await this.slots.acquire(signal);
    try {
      return await withRetries((attempt) => this.attempt(req, attempt, signal), {
        maxRetries: this.cfg.maxRetries,
        baseDelayMs: this.cfg.baseDelayMs,
        maxDelayMs: this.cfg.maxDelayMs,
        isRetryable: isRetryableApiError,
        retryAfterMs: apiRetryAfterMs,
        ...(signal ? { signal } : {}),
        ...(this.random ? { random: this.random } : {}),
        ...(this.onRetry ? { onRetry: this.onRetry } : {}),
        label,
      });
    } catch (err) {
      // Not retried (4xx, refusal): say which request; RetriesExhaustedError already does.
      if (err instanceof LlmRequestError) throw withContext(err, label);
      throw err;
    } finally {
      release();
    }
  }

  /** One attempt: send, wait at most `timeoutMs` for the parsed body, validate. */
  private async attempt(req: LlmRequest, attempt: number, outer?: AbortSignal): Promise<LlmResponse> {
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), this.cfg.timeoutMs);
    let raw: unknown;
    try {
      raw = await this.sdk.chat.completions.create(
        {
          model: req.model,
          messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
          temperature: req.temperature,
          max_tokens: req.maxTokens,
        },
        { signal: outer ? AbortSignal.any([outer, timer.signal]) : timer.signal },
      );
    } catch (err) {
      if (outer?.aborted) throw outer.reason;
      throw this.classify(err, `attempt ${attempt}`, req.model, timer.signal.aborted);
    } finally {
      clearTimeout(timeout);
    }
    return this.readReply(raw, req, `attempt ${attempt}`);
  }

  /** Map whatever the SDK threw onto a `LlmRequestError` that says whether to retry. */
  private classify(err: unknown, where: string, model: string, timedOut: boolean): LlmRequestError {
    if (err instanceof LlmRequestError) return err;
    const f = classifyOpenAiError(err, timedOut);
    switch (f.kind) {
      case "timeout":
        return new LlmRequestError("timeout", `${where}: no complete reply within ${this.cfg.timeoutMs} ms`, { retryable: true });
      case "network": {
        const cause = f.cause !== undefined ? ` (${f.cause})` : "";
        return new LlmRequestError("network", `${where}: connection failed: ${f.message}${cause}`, { retryable: true });
      }
      case "http":
        return new LlmRequestError("http", `${where}: HTTP ${f.status}: "${f.serverMessage}"`, {
          retryable: f.retryable,
          status: f.status,
          serverMessage: f.serverMessage,
          ...(f.retryAfterMs !== undefined ? { retryAfterMs: f.retryAfterMs } : {}),
          ...(f.retryable ? {} : { fix: fixForStatus(f.status, this.cfg, model) }),
        });
      case "malformed":
        return new LlmRequestError("malformed", `${where}: the reply body is not valid JSON (${f.message})`, { retryable: true });
      case "other":
        return new LlmRequestError("network", `${where}: ${f.message}`, { retryable: true });
    }
  }

  /** Validate a parsed reply and turn it into a `LlmResponse`. */
  private readReply(raw: unknown, req: LlmRequest, where: string): LlmResponse {
    const parsed = ChatReply.safeParse(raw);
    if (!parsed.success) {
      const shown = typeof raw === "string" ? `"${quoteServerText(raw)}"` : quoteServerText(JSON.stringify(raw) ?? String(raw));
      throw new LlmRequestError("malformed", `${where}: the reply is not a chat completion: ${shown}`, { retryable: true });
    }
    const message = parsed.data.choices[0]?.message;
    if (!message) throw new EmptyReplyError(`${where}: the reply has no choices`);
    const refusal = message.refusal ?? "";
    const content = message.content ?? "";
    if (content.trim() === "" && refusal.trim() !== "") {
      throw new LlmRequestError("refused", `${where}: the model refused: "${quoteServerText(refusal)}"`, {
        retryable: false,
        fix: "check the prompt; a refusal at temperature 0 repeats, so it is not retried",
      });
    }
    if (content.trim() === "") throw new EmptyReplyError(`${where}: the reply's content is empty`);
    return { content, usage: usageOf(raw, req.messages, content, req.model), model: parsed.data.model ?? req.model, cached: false };
  }

  /** Stop accepting requests. The SDK holds no sockets of its own (global fetch), so this is all; safe twice. */
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** The reply's usage, or our count when it has none (see `OpenAiLlmClient`). */
function usageOf(raw: unknown, messages: readonly ChatMessage[], content: string, model: string): LlmUsage {
  const usage = ChatUsage.safeParse((raw as { usage?: unknown }).usage);
  if (usage.success) return { promptTokens: usage.data.prompt_tokens, completionTokens: usage.data.completion_tokens };
  return { promptTokens: countChatTokens(messages, model).tokens, completionTokens: countTokens(content, model).tokens };
}
