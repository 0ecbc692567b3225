/**
 * OpenAI embeddings provider (METHOD.md §1: the paper embeds `title + "\n\n" + abstract` with
 * `text-embedding-3-small`, d = 1536, unit-norm vectors, texts truncated to the model's token limit).
 *
 * Plain `fetch` against `${baseURL}/embeddings` in the OpenAI wire format, so any compatible server works
 * (a local one needs no key). Texts are split into requests bounded by input count and estimated tokens,
 * sent with bounded concurrency, retried with backoff on 429 / 5xx / timeouts / network errors / malformed
 * JSON, validated, and reassembled in input order by each item's `index`. A failed request is never
 * stored as zeros (the paper's code did that): the whole `embed` call rejects.
 *
 * Token estimate: no tokenizer ships offline, so tokens are estimated as ceil(UTF-8 bytes / 3). cl100k_base
 * averages about 4 bytes per token on English prose, so this overestimates by ~25 %; CJK characters
 * (3 bytes) count as at least one token each. Texts above `maxInputTokens` by this estimate are cut at a
 * character boundary; a text the server still finds too long fails with its 400 message.
 */
import { z } from "zod";
import { SaerchError, describeError } from "../core/errors.js";
import type { Embedder, EmbedProgress } from "./embedder.js";
import { mapWithConcurrency } from "../net/concurrency.js";
import { ApiRequestError, apiRetryAfterMs, isRetryableApiError, retryAfterFromHeaders, withRetries } from "../net/retry.js";

/** OpenAI's public endpoint; the only base URL that requires an API key. */
export const OPENAI_BASE_URL = "https://api.openai.com/v1";

/** Native output dimension of the models this provider knows. */
export const OPENAI_MODEL_DIMS: Readonly<Record<string, number>> = {
  "text-embedding-3-small": 1536,
  "text-embedding-3-large": 3072,
};

/** API limits: at most 2048 inputs and 300k tokens per request, 8191 tokens per input (text-embedding-3). */
const API_MAX_INPUTS = 2048;
const API_MAX_BATCH_TOKENS = 300_000;
const API_MAX_INPUT_TOKENS = 8191;
/** Conservative UTF-8 bytes per token for the estimate (see the header). */
const DEFAULT_BYTES_PER_TOKEN = 3;
/** Longest server error text quoted in a message. */
const MAX_QUOTED_CHARS = 500;
const HTTP_TOO_MANY_REQUESTS = 429;
const HTTP_SERVER_ERROR = 500;
const FLOAT32_BYTES = 4;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
/** Rows whose norm is within this of 1 are stored bit-exact as received; others are rescaled to unit norm. */
const UNIT_NORM_TOL = 1e-4;

/** Options of the OpenAI embeddings provider. */
export const OpenAIEmbedOptions = z
  .object({
    model: z
      .string()
      .min(1)
      .default("text-embedding-3-small")
      .describe("Embedding model; the paper used text-embedding-3-small (d 1536); text-embedding-3-large is d 3072"),
    dimensions: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Output dimension D; omitted = the model's native one (1536 / 3072) and not sent on the wire"),
    encodingFormat: z
      .enum(["base64", "float"])
      .default("base64")
      .describe("Wire encoding; base64 little-endian float32 (the official client's default) is ~4x smaller than JSON floats"),
    baseURL: z
      .url()
      .default(OPENAI_BASE_URL)
      .describe("API root; point it at any OpenAI-compatible server (which may need no key)"),
    apiKeyEnv: z
      .string()
      .min(1)
      .default("OPENAI_API_KEY")
      .describe("Environment variable holding the API key; keys are never read from config files"),
    maxBatchInputs: z
      .number()
      .int()
      .min(1)
      .max(API_MAX_INPUTS)
      .default(256)
      .describe("Texts per request (API limit 2048); 256 keeps each request small enough to retry cheaply"),
    maxBatchTokens: z
      .number()
      .int()
      .min(1)
      .max(API_MAX_BATCH_TOKENS)
      .default(250_000)
      .describe("Estimated tokens per request; below the API's 300k per-request limit to absorb estimate error"),
    maxInputTokens: z
      .number()
      .int()
      .min(1)
      .max(API_MAX_INPUT_TOKENS)
      .default(API_MAX_INPUT_TOKENS)
      .describe("Per-text token limit (8191 for text-embedding-3); longer texts are truncated, as in the paper"),
    bytesPerToken: z
      .number()
      .positive()
      .default(DEFAULT_BYTES_PER_TOKEN)
      .describe("UTF-8 bytes per token assumed by the estimate; 3 overestimates English (≈4) to stay under limits"),
    concurrency: z
      .number()
      .int()
      .min(1)
      .default(4)
      .describe("Requests in flight at once; 4 stays well inside typical rate limits"),
    maxRetries: z
      .number()
      .int()
      .min(0)
      .default(6)
      .describe("Retries per request after the first attempt (429, 5xx, timeouts, network errors, malformed JSON)"),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .default(60_000)
      .describe("Per-attempt timeout including the body; a hung request is aborted and retried"),
    initialBackoffMs: z
      .number()
      .nonnegative()
      .default(500)
      .describe("Backoff before the first retry, doubling per retry (with jitter) unless the server sends Retry-After"),
    maxBackoffMs: z
      .number()
      .nonnegative()
      .default(20_000)
      .describe("Cap on one computed backoff"),
  })
  .superRefine((o, ctx) => {
    if (o.maxInputTokens > o.maxBatchTokens) {
      ctx.addIssue({
        code: "custom",
        path: ["maxInputTokens"],
        message: `maxInputTokens (${o.maxInputTokens}) must not exceed maxBatchTokens (${o.maxBatchTokens})`,
      });
    }
  });

/** Parsed options (all defaults filled). */
export type OpenAIEmbedOptions = z.infer<typeof OpenAIEmbedOptions>;
/** Options as written by a caller (every field optional). */
export type OpenAIEmbedOptionsInput = z.input<typeof OpenAIEmbedOptions>;

/** What went wrong with one request. */
export type EmbedRequestFailure = "http" | "timeout" | "network" | "malformed" | "invalid";

/** One failed embeddings request: HTTP status and server message where there was a reply. */
export class EmbedRequestError extends ApiRequestError<EmbedRequestFailure> {}

/** The same failure with `context` prefixed to its message. */
function withContext(err: EmbedRequestError, context: string): EmbedRequestError {
  return new EmbedRequestError(err.kind, `${context}: ${err.bareMessage}`, err.details());
}

/** Estimated token count of a text: ceil(UTF-8 bytes / bytesPerToken) (conservative; see the header). */
export function estimateTokens(text: string, bytesPerToken: number = DEFAULT_BYTES_PER_TOKEN): number {
  return Math.ceil(Buffer.byteLength(text, "utf8") / bytesPerToken);
}

/**
 * The longest prefix of `text` whose estimated token count is ≤ maxTokens (the text itself when it fits).
 * Cuts on a code-point boundary, never inside a surrogate pair.
 */
export function truncateToTokenEstimate(
  text: string,
  maxTokens: number,
  bytesPerToken: number = DEFAULT_BYTES_PER_TOKEN,
): string {
  const maxBytes = Math.floor(maxTokens * bytesPerToken);
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + len > maxBytes) break;
    bytes += len;
    end += ch.length;
  }
  return text.slice(0, end);
}

/**
 * Split texts into consecutive batches of at most `maxInputs` texts and `maxTokens` estimated tokens.
 * @param tokensN `[N]` estimated tokens per text (each ≤ maxTokens)
 * @returns `[start, end)` index ranges covering 0…N−1 in order
 */
export function planBatches(tokensN: ArrayLike<number>, maxInputs: number, maxTokens: number): [number, number][] {
  const ranges: [number, number][] = [];
  let start = 0;
  let tokens = 0;
  for (let i = 0; i < tokensN.length; i++) {
    const t = tokensN[i]!;
    if (i > start && (i - start >= maxInputs || tokens + t > maxTokens)) {
      ranges.push([start, i]);
      start = i;
      tokens = 0;
    }
    tokens += t;
  }
  if (start < tokensN.length) ranges.push([start, tokensN.length]);
  return ranges;
}

/** Decode base64 little-endian float32 (the API's `encoding_format: "base64"`) into a `[D]` vector. */
export function decodeBase64Float32(b64: string): Float32Array {
  // Buffer.from silently skips invalid characters: check first so garbage is an error, not a short vector.
  if (!BASE64_RE.test(b64)) throw new SaerchError("embedding string is not base64");
  const bytes = Buffer.from(b64, "base64");
  if (bytes.length % FLOAT32_BYTES !== 0) {
    throw new SaerchError(`base64 embedding decodes to ${bytes.length} bytes, not a multiple of 4`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Float32Array = new Float32Array(bytes.length / FLOAT32_BYTES);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * FLOAT32_BYTES, true);
  return out;
}

function quote(text: string): string {
  const t = text.trim();
  return t.length > MAX_QUOTED_CHARS ? `${t.slice(0, MAX_QUOTED_CHARS)}…` : t;
}

/** The server's error text: `error.message` of an OpenAI error body, else the raw body. */
function serverMessageOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof parsed.error === "string") return quote(parsed.error);
    if (parsed.error && typeof parsed.error.message === "string") return quote(parsed.error.message);
    if (typeof parsed.message === "string") return quote(parsed.message);
  } catch {
    // not JSON: quote the text
  }
  return quote(body) || "(empty body)";
}

/**
 * Check one reply and write its vectors into `outBD` at rows start…start+n−1.
 * @throws EmbedRequestError (kind "invalid", not retried) naming the first problem found
 */
function storeReply(reply: unknown, n: number, dim: number, start: number, outBD: Float32Array, what: string): void {
  const invalid = (msg: string): EmbedRequestError =>
    new EmbedRequestError("invalid", `${what}: invalid reply: ${msg}`, {
      retryable: false,
      fix: "check that baseURL points at an OpenAI-compatible embeddings API and that `dimensions` matches the model",
    });
  const data = (reply as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) throw invalid("no `data` array");
  if (data.length !== n) throw invalid(`${data.length} embeddings for ${n} inputs`);
  const seen = new Uint8Array(n);
  for (const item of data as unknown[]) {
    const { index, embedding } = (item ?? {}) as { index?: unknown; embedding?: unknown };
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= n) {
      throw invalid(`index ${JSON.stringify(index)} is not an integer in [0, ${n})`);
    }
    if (seen[index]) throw invalid(`index ${index} appears twice`);
    seen[index] = 1;
    let vec: Float32Array;
    if (typeof embedding === "string") {
      try {
        vec = decodeBase64Float32(embedding);
      } catch (err) {
        throw invalid(`embedding ${index}: ${describeError(err)}`);
      }
    } else if (Array.isArray(embedding)) {
      if (!embedding.every((v) => typeof v === "number")) throw invalid(`embedding ${index} holds non-numbers`);
      vec = Float32Array.from(embedding as number[]);
    } else {
      throw invalid(`embedding ${index} is neither a base64 string nor a number array`);
    }
    if (vec.length !== dim) throw invalid(`embedding ${index} has dimension ${vec.length}, expected ${dim}`);
    let sq = 0;
    for (let p = 0; p < dim; p++) {
      const v = vec[p]!;
      if (!Number.isFinite(v)) throw invalid(`embedding ${index} has a non-finite value at ${p}`);
      sq += v * v;
    }
    if (sq === 0) throw invalid(`embedding ${index} is all zeros`);
    const len = Math.sqrt(sq);
    if (Math.abs(len - 1) > UNIT_NORM_TOL) for (let p = 0; p < dim; p++) vec[p]! /= len;
    outBD.set(vec, (start + index) * dim);
  }
}

/**
 * Create the OpenAI embedder. The API key is read from `process.env[apiKeyEnv]` now; it is required only
 * for OpenAI's own base URL.
 *
 * `id` is "openai:<model>:<D>", with "@<host>" appended for any other base URL (another server's vectors
 * must not be mistaken for OpenAI's in the cache). `maxBatch` = maxBatchInputs · concurrency, so one
 * `embed` call keeps every request slot busy. OpenAI's unit vectors are stored bit-exact as received; a
 * row off unit norm by more than 1e-4 (another server) is rescaled, so `normalized` always holds.
 */
export function createOpenAIEmbedder(input: OpenAIEmbedOptionsInput = {}): Embedder {
  const parsed = OpenAIEmbedOptions.safeParse(input);
  if (!parsed.success) {
    throw new SaerchError(`invalid OpenAI embedding options: ${z.prettifyError(parsed.error)}`);
  }
  const o = parsed.data;
  const baseURL = o.baseURL.replace(/\/+$/, "");
  const isOpenAI = baseURL === OPENAI_BASE_URL;
  const nativeDim = OPENAI_MODEL_DIMS[o.model];
  const dim = o.dimensions ?? nativeDim;
  if (dim === undefined) {
    throw new SaerchError(
      `unknown OpenAI embedding model "${o.model}": its dimension is not known`,
      `set \`dimensions\` explicitly, or use one of ${Object.keys(OPENAI_MODEL_DIMS).join(", ")}`,
    );
  }
  if (nativeDim !== undefined && dim > nativeDim) {
    throw new SaerchError(`dimensions ${dim} exceeds ${o.model}'s native ${nativeDim}`, `set dimensions ≤ ${nativeDim}`);
  }
  const apiKey = process.env[o.apiKeyEnv] ?? "";
  if (isOpenAI && apiKey === "") {
    throw new SaerchError(
      `no OpenAI API key: environment variable ${o.apiKeyEnv} is not set`,
      `export ${o.apiKeyEnv}=sk-… in the shell that runs this (keys are never read from config files)`,
    );
  }
  const url = `${baseURL}/embeddings`;
  const host = isOpenAI ? "" : `@${new URL(baseURL).host}`;

  /** One attempt at one batch. */
  async function request(texts: string[], outer: AbortSignal): Promise<unknown> {
    const body: Record<string, unknown> = { model: o.model, input: texts, encoding_format: o.encodingFormat };
    if (o.dimensions !== undefined) body.dimensions = o.dimensions;
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    if (apiKey !== "") headers.authorization = `Bearer ${apiKey}`;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), o.timeoutMs);
    let status: number;
    let text: string;
    let resHeaders: Headers;
    try {
      const res = await fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.any([outer, timeout.signal]),
      });
      status = res.status;
      resHeaders = res.headers;
      text = await res.text();
    } catch (err) {
      if (outer.aborted) throw outer.reason;
      if (timeout.signal.aborted) {
        throw new EmbedRequestError("timeout", `no complete reply within ${o.timeoutMs} ms from POST ${url}`, {
          retryable: true,
        });
      }
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
      throw new EmbedRequestError("network", `network error on POST ${url}: ${describeError(err)}${cause}`, {
        retryable: true,
      });
    } finally {
      clearTimeout(timer);
    }
    if (status < 200 || status >= 300) {
      const serverMessage = serverMessageOf(text);
      const retryable = status === HTTP_TOO_MANY_REQUESTS || status >= HTTP_SERVER_ERROR;
      const retryAfterMs = retryAfterFromHeaders(resHeaders);
      throw new EmbedRequestError("http", `HTTP ${status} from POST ${url}: ${serverMessage}`, {
        status,
        serverMessage,
        retryable,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        ...(status === 401 ? { fix: `check the key in ${o.apiKeyEnv}` } : {}),
      });
    }
    try {
      return JSON.parse(text);
    } catch (err) {
      // Retried: a body cut short by a proxy or a reset connection looks the same as a broken server.
      throw new EmbedRequestError(
        "malformed",
        `malformed JSON in the HTTP ${status} reply from POST ${url} (${describeError(err)}): ${quote(text) || "(empty body)"}`,
        { status, retryable: true },
      );
    }
  }

  return {
    id: `openai:${o.model}:${dim}${host}`,
    provider: "openai",
    model: o.model,
    dim,
    normalized: true,
    maxBatch: o.maxBatchInputs * o.concurrency,

    async embed(texts: string[], onProgress?: EmbedProgress): Promise<Float32Array> {
      const b = texts.length;
      const outBD: Float32Array = new Float32Array(b * dim);
      if (b === 0) return outBD;
      const sent: string[] = new Array<string>(b);
      const tokensB: Float64Array = new Float64Array(b);
      for (let i = 0; i < b; i++) {
        const t = texts[i];
        if (typeof t !== "string" || t.length === 0) {
          throw new SaerchError(`text ${i} is ${typeof t === "string" ? "empty" : typeof t}`, "the embeddings API rejects empty inputs: drop or fill them first");
        }
        sent[i] = truncateToTokenEstimate(t, o.maxInputTokens, o.bytesPerToken);
        tokensB[i] = estimateTokens(sent[i]!, o.bytesPerToken);
      }
      const ranges = planBatches(tokensB, o.maxBatchInputs, o.maxBatchTokens);
      let done = 0;
      await mapWithConcurrency(ranges, o.concurrency, async ([start, end], r, signal) => {
        const what = `OpenAI embeddings (${o.model}) request ${r + 1} of ${ranges.length} (texts ${start}–${end - 1})`;
        const batch = sent.slice(start, end);
        let attempts = 0;
        let reply: unknown;
        try {
          reply = await withRetries(
            (attempt) => {
              attempts = attempt;
              return request(batch, signal);
            },
            {
              maxRetries: o.maxRetries,
              baseDelayMs: o.initialBackoffMs,
              maxDelayMs: o.maxBackoffMs,
              isRetryable: isRetryableApiError,
              retryAfterMs: apiRetryAfterMs,
              signal,
              label: what,
            },
          );
        } catch (err) {
          // Not retryable (e.g. HTTP 400/401): say which request and attempt; RetriesExhaustedError already does.
          if (err instanceof EmbedRequestError) throw withContext(err, `${what} failed on attempt ${attempts}`);
          throw err;
        }
        storeReply(reply, end - start, dim, start, outBD, what);
        done += end - start;
        onProgress?.(done);
      });
      return outBD;
    },

    async close(): Promise<void> {
      // fetch keeps no per-embedder state.
    },
  };
}
