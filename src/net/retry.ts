/**
 * The one retry policy of every remote call (METHOD.md §1 the arXiv harvest and the embeddings, §4 the chat
 * completions of the interpreter and predictor): which HTTP statuses another attempt may fix, exponential
 * backoff with jitter, the server's Retry-After / retry-after-ms, and a give-up error after N attempts.
 * Nothing here knows about bodies or models: callers say which errors are retryable and how long the
 * server asked them to wait.
 *
 * Why it exists (METHOD.md §1): the paper's code stored a zero vector when an embedding call failed. Here a
 * call either succeeds after bounded retries or the whole operation rejects with the last error.
 */
import { SaerchError, describeError } from "../core/errors.js";

/** Backoff grows by this factor per failed attempt (exponential backoff). */
const BACKOFF_FACTOR = 2;
/** Jitter keeps at least this fraction of the computed delay ("equal jitter": delay · [0.5, 1)). */
const JITTER_FLOOR = 0.5;
/** Statuses another attempt may fix: request timeout, lock conflict, rate limit (and every 5xx). */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 409, 429]);
const HTTP_SERVER_ERROR = 500;
/** A server's Retry-After longer than this (1 min) is not trusted; the computed backoff is used instead. */
const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;
const MS_PER_SECOND = 1000;

/** What is known about one failed request to a remote API. */
export interface ApiFailureDetails {
  /** True when another attempt may succeed. */
  retryable: boolean;
  /** HTTP status, when the server replied with an error status. */
  status?: number;
  /** The server's error message (its `error.message`, else the body text), quoted. */
  serverMessage?: string;
  /** The wait the server asked for (Retry-After), in ms. */
  retryAfterMs?: number;
  /** What to do about it. */
  fix?: string;
}

/**
 * One failed request to a remote API (the embeddings provider, the LLM client): the kind of failure, the
 * server's word on it, and whether and when to retry. Providers subclass it with their own failure kinds.
 */
export class ApiRequestError<K extends string = string> extends SaerchError {
  readonly kind: K;
  readonly status: number | undefined;
  readonly serverMessage: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(kind: K, message: string, extra: ApiFailureDetails) {
    super(message, extra.fix);
    this.name = new.target.name;
    this.kind = kind;
    this.status = extra.status;
    this.serverMessage = extra.serverMessage;
    this.retryable = extra.retryable;
    this.retryAfterMs = extra.retryAfterMs;
  }

  /** The message without its "fix:" line. */
  get bareMessage(): string {
    return this.fix === undefined ? this.message : this.message.slice(0, this.message.length - `\n  fix: ${this.fix}`.length);
  }

  /** The details, to report the same failure with another message. */
  details(): ApiFailureDetails {
    return {
      retryable: this.retryable,
      ...(this.status !== undefined ? { status: this.status } : {}),
      ...(this.serverMessage !== undefined ? { serverMessage: this.serverMessage } : {}),
      ...(this.retryAfterMs !== undefined ? { retryAfterMs: this.retryAfterMs } : {}),
      ...(this.fix !== undefined ? { fix: this.fix } : {}),
    };
  }
}

/**
 * True for the HTTP statuses another attempt may fix: 408, 409, 429 and ≥ 500 (the `openai` SDK's own
 * policy). Every other status (400, 401, 403, 404, 422 …) repeats, so it is not retried.
 */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status) || status >= HTTP_SERVER_ERROR;
}

/** `withRetries`' `isRetryable` for API clients: an ApiRequestError that says so. */
export function isRetryableApiError(err: unknown): boolean {
  return err instanceof ApiRequestError && err.retryable;
}

/** `withRetries`' `retryAfterMs` for API clients: the wait an ApiRequestError carries. */
export function apiRetryAfterMs(err: unknown): number | undefined {
  return err instanceof ApiRequestError ? err.retryAfterMs : undefined;
}

/** How `withRetries` decides whether, and how long, to wait before another attempt. */
export interface RetryOptions {
  /** Retries after the first attempt; `maxRetries + 1` attempts in all. */
  maxRetries: number;
  /** Delay before the first retry (before jitter); doubles per retry. */
  baseDelayMs: number;
  /** Upper bound on one computed delay. */
  maxDelayMs: number;
  /** Lower bound on every wait, the server's included (default 0; arXiv's polite gap between requests). */
  minDelayMs?: number;
  /** True when another attempt may succeed (default: every error is retryable). */
  isRetryable?: (err: unknown) => boolean;
  /** The wait the server asked for (e.g. from Retry-After), in ms, or undefined. */
  retryAfterMs?: (err: unknown) => number | undefined;
  /** Server-requested waits above this are ignored in favour of the computed backoff (default 60 s). */
  maxRetryAfterMs?: number;
  /** Called before each wait, for logging. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Stops waiting and retrying when aborted. */
  signal?: AbortSignal;
  /** Jitter source in [0, 1) (default Math.random; tests pass a constant). */
  random?: () => number;
  /** What the operation is, for the give-up message (default "operation"). */
  label?: string;
}

/** Thrown by `withRetries` when every attempt failed with a retryable error. */
export class RetriesExhaustedError extends SaerchError {
  /** Attempts made (= maxRetries + 1). */
  readonly attempts: number;
  /** The last attempt's error. */
  readonly lastError: unknown;

  constructor(label: string, attempts: number, lastError: unknown) {
    super(
      `${label} failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${describeError(lastError)}`,
      "check the service's status and your rate limits, or raise maxRetries / timeoutMs",
    );
    this.name = "RetriesExhaustedError";
    this.attempts = attempts;
    this.lastError = lastError;
  }
}

/**
 * Backoff before retry number `retry` (0-based): `min(maxDelayMs, baseDelayMs · 2^retry) · (0.5 + 0.5·u)`
 * with u uniform in [0, 1) — exponential growth, and jitter so parallel clients do not retry in lockstep.
 */
export function backoffDelayMs(retry: number, baseDelayMs: number, maxDelayMs: number, u: number): number {
  const raw = Math.min(maxDelayMs, baseDelayMs * BACKOFF_FACTOR ** retry);
  return raw * (JITTER_FLOOR + (1 - JITTER_FLOOR) * u);
}

/** Resolve after `ms`; reject with the signal's reason when aborted first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Run `fn` until it succeeds, retrying retryable errors with exponential backoff and jitter; a wait the
 * server asked for (`retryAfterMs`) replaces the computed one when it is between 0 and `maxRetryAfterMs`;
 * no wait is shorter than `minDelayMs`.
 * @param fn the operation; receives the 1-based attempt number
 * @returns fn's first successful result
 * @throws the error itself when it is not retryable; `RetriesExhaustedError` (with `attempts`, `lastError`)
 *   when `maxRetries + 1` attempts all failed; the signal's reason when aborted
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const maxRetries = Math.max(0, Math.floor(opts.maxRetries));
  const isRetryable = opts.isRetryable ?? ((): boolean => true);
  const random = opts.random ?? Math.random;
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    try {
      return await fn(attempt);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (!isRetryable(err)) throw err;
      if (attempt > maxRetries) throw new RetriesExhaustedError(opts.label ?? "operation", attempt, err);
      const asked = opts.retryAfterMs?.(err);
      const delayMs = Math.max(
        opts.minDelayMs ?? 0,
        asked !== undefined && asked >= 0 && asked <= maxRetryAfterMs
          ? asked
          : backoffDelayMs(attempt - 1, opts.baseDelayMs, opts.maxDelayMs, random()),
      );
      opts.onRetry?.({ attempt, delayMs, error: err });
      await sleep(delayMs, opts.signal);
    }
  }
}

/**
 * Parse an HTTP `Retry-After` value: delay-seconds (decimals accepted, e.g. "0.2") or an HTTP date.
 * @param now the current time in ms since the epoch (a date in the past gives 0)
 * @returns the wait in ms, or undefined when the value is absent or unparseable
 */
export function parseRetryAfter(headerValue: string | null | undefined, now: number = Date.now()): number | undefined {
  if (headerValue === null || headerValue === undefined) return undefined;
  const v = headerValue.trim();
  if (v === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * MS_PER_SECOND;
  // An HTTP date always names a weekday or month; this rejects bare junk like "-1" or "soon".
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Anything with a case-insensitive `get(name)`, e.g. fetch's `Headers`. */
export interface HeaderGetter {
  get(name: string): string | null;
}

/**
 * The wait a response asks for: `retry-after-ms` (OpenAI's, milliseconds) when present and valid, else
 * `retry-after` (seconds or HTTP date); undefined when neither parses.
 */
export function retryAfterFromHeaders(headers: HeaderGetter, now: number = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Number(ms);
  return parseRetryAfter(headers.get("retry-after"), now);
}
