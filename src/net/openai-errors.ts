/**
 * What the `openai` SDK threw, read once for every client that calls an OpenAI-compatible server (METHOD.md
 * §1 the embeddings, §4 the interpreter's and predictor's chat completions): a timeout, a failed connection,
 * an HTTP error status with the server's own words and its Retry-After, or a body that is not JSON. Each
 * client words its own error from this (it knows the URL, the model and the fix); the retry policy itself
 * is in `retry.ts`.
 */
import OpenAI from "openai";
import { describeError } from "../core/errors.js";
import { isRetryableStatus, retryAfterFromHeaders } from "./retry.js";

/** A server's text is quoted up to this many characters, then cut with "…". */
const MAX_QUOTED_CHARS = 500;

/** One failure of an SDK call, classified. Every kind but a non-retryable `http` status may be retried. */
export type OpenAiFailure =
  /** No complete reply within the caller's time limit (its own timer, or the SDK's). */
  | { kind: "timeout"; retryable: true }
  /** The connection failed; `message` is the SDK's, `cause` the socket error's under it, when there is one. */
  | { kind: "network"; retryable: true; message: string; cause?: string }
  /** The server answered with an error status. */
  | { kind: "http"; retryable: boolean; status: number; serverMessage: string; retryAfterMs?: number }
  /** A 200 whose body is not JSON: a proxy cut it short or the server broke; the next attempt may be whole. */
  | { kind: "malformed"; retryable: true; message: string }
  /** Anything else (a bug, an abort from elsewhere): reported as a network failure and retried. */
  | { kind: "other"; retryable: true; message: string };

/** A server's text, trimmed and cut to `MAX_QUOTED_CHARS`. */
export function quoteServerText(text: string): string {
  const t = text.trim();
  return t.length > MAX_QUOTED_CHARS ? `${t.slice(0, MAX_QUOTED_CHARS)}…` : t;
}

/** The server's error text from a raw body: `error.message` (or `error`, `message`) of a JSON body, else the body. */
export function serverMessageOfBody(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof parsed.error === "string") return quoteServerText(parsed.error);
    if (parsed.error && typeof parsed.error.message === "string") return quoteServerText(parsed.error.message);
    if (typeof parsed.message === "string") return quoteServerText(parsed.message);
  } catch {
    // not JSON: quote the text
  }
  return quoteServerText(body) || "(empty body)";
}

/** The server's own words from an SDK `APIError`: `error.message` of its body, else the body text. */
export function serverMessageOfSdkError(err: InstanceType<typeof OpenAI.APIError>): string {
  const body: unknown = err.error;
  if (typeof body === "string" && body !== "") return serverMessageOfBody(body);
  const msg = (body as { message?: unknown } | undefined)?.message;
  if (typeof msg === "string" && msg !== "") return quoteServerText(msg);
  if (body !== undefined && body !== null) return serverMessageOfBody(JSON.stringify(body));
  // The SDK's message is "<status> <body text>" when the body was not JSON.
  const text = err.status !== undefined ? err.message.replace(new RegExp(`^${err.status}\\s*`), "") : err.message;
  return quoteServerText(text) || "(empty body)";
}

/**
 * Classify what an SDK call threw.
 * @param err the thrown value
 * @param timedOut true when the caller's own timer aborted the call
 */
export function classifyOpenAiError(err: unknown, timedOut: boolean): OpenAiFailure {
  if (timedOut || err instanceof OpenAI.APIConnectionTimeoutError) return { kind: "timeout", retryable: true };
  if (err instanceof OpenAI.APIConnectionError) {
    return { kind: "network", retryable: true, message: err.message, ...(err.cause instanceof Error ? { cause: err.cause.message } : {}) };
  }
  if (err instanceof OpenAI.APIError && err.status !== undefined) {
    const retryAfterMs = err.headers ? retryAfterFromHeaders(err.headers) : undefined;
    return {
      kind: "http",
      retryable: isRetryableStatus(err.status),
      status: err.status,
      serverMessage: serverMessageOfSdkError(err),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }
  if (err instanceof SyntaxError) return { kind: "malformed", retryable: true, message: err.message };
  return { kind: "other", retryable: true, message: describeError(err) };
}
