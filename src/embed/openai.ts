/**
 * OpenAI embeddings provider (METHOD.md §1: the paper embeds `title + "\n\n" + abstract` with
 * `text-embedding-3-small`, d = 1536, unit-norm vectors, texts truncated to the model's token limit).
 *
 * Requests go through the `openai` package (`embeddings.create`), the same client as the chat stage, against
 * any OpenAI-compatible server (a local one needs no key, and then no Authorization header is sent). The
 * SDK's own retries are off (`maxRetries: 0`); the shared policy of src/net/retry.ts retries 408 / 409 /
 * 429 / 5xx, timeouts, network errors and malformed JSON, honouring Retry-After. Texts are split into
 * requests bounded by input count and tokens, sent with bounded concurrency, validated, and reassembled in
 * input order by each item's `index`. A failed request is never stored as zeros (the paper's code did
 * that): the whole `embed` call rejects.
 *
 * Tokens: text-embedding-3-* are counted exactly with their tokenizer (cl100k_base, src/tokenizer) and texts
 * over `maxInputTokens` (the API's 8191) are truncated to exactly that many tokens, as in the paper; other
 * models get the tokenizer module's heuristic (approximate), and a text the server still finds too long
 * fails with its 400 message.
 */
import OpenAI from "openai";
import { z } from "zod";
import { SaerchError, describeError } from "../core/errors.js";
import type { Embedder, EmbedProgress } from "./embedder.js";
import { mapWithConcurrency } from "../net/concurrency.js";
import { classifyOpenAiError } from "../net/openai-errors.js";
import { ApiRequestError, apiRetryAfterMs, isRetryableApiError, withRetries } from "../net/retry.js";
import { truncateToTokens } from "../tokenizer/tokens.js";

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
/** Sent as the key to servers that need none (the SDK insists on some string; the header is then removed). */
const PLACEHOLDER_API_KEY = "no-key";
const HTTP_UNAUTHORIZED = 401;
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
      .describe("Tokens per request (exact for text-embedding-3-*); below the API's 300k limit, headroom for other models' heuristic count"),
    maxInputTokens: z
      .number()
      .int()
      .min(1)
      .max(API_MAX_INPUT_TOKENS)
      .default(API_MAX_INPUT_TOKENS)
      .describe("Per-text token limit (8191 for text-embedding-3); longer texts are truncated to it, as in the paper"),
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

/**
 * Split texts into consecutive batches of at most `maxInputs` texts and `maxTokens` tokens.
 * @param tokensN `[N]` tokens per text (each ≤ maxTokens)
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
  const sdk = new OpenAI({
    baseURL,
    apiKey: apiKey === "" ? PLACEHOLDER_API_KEY : apiKey,
    maxRetries: 0,
    timeout: o.timeoutMs,
    // No key: send no Authorization header at all (a local server must not see a fake one).
    ...(apiKey === "" ? { defaultHeaders: { Authorization: null } } : {}),
  });

  /** Map what the SDK threw onto an EmbedRequestError that says whether to retry. */
  function classify(err: unknown, timedOut: boolean): EmbedRequestError {
    const f = classifyOpenAiError(err, timedOut);
    switch (f.kind) {
      case "timeout":
        return new EmbedRequestError("timeout", `no complete reply within ${o.timeoutMs} ms from POST ${url}`, { retryable: true });
      case "network": {
        const cause = f.cause !== undefined ? `: ${f.cause}` : "";
        return new EmbedRequestError("network", `network error on POST ${url}: ${f.message}${cause}`, { retryable: true });
      }
      case "http":
        return new EmbedRequestError("http", `HTTP ${f.status} from POST ${url}: ${f.serverMessage}`, {
          status: f.status,
          serverMessage: f.serverMessage,
          retryable: f.retryable,
          ...(f.retryAfterMs !== undefined ? { retryAfterMs: f.retryAfterMs } : {}),
          ...(f.status === HTTP_UNAUTHORIZED ? { fix: `check the key in ${o.apiKeyEnv}` } : {}),
        });
      case "malformed":
        // Retried: a body cut short by a proxy or a reset connection looks the same as a broken server.
        return new EmbedRequestError("malformed", `malformed JSON in the reply from POST ${url} (${f.message})`, { retryable: true });
      case "other":
        return new EmbedRequestError("network", `POST ${url}: ${f.message}`, { retryable: true });
    }
  }

  /** One attempt at one batch; the timer covers the whole call, body included (the SDK's stops at headers). */
  async function request(texts: string[], outer: AbortSignal): Promise<unknown> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), o.timeoutMs);
    try {
      return await sdk.embeddings.create(
        {
          model: o.model,
          input: texts,
          encoding_format: o.encodingFormat,
          ...(o.dimensions !== undefined ? { dimensions: o.dimensions } : {}),
        },
        { signal: AbortSignal.any([outer, timeout.signal]) },
      );
    } catch (err) {
      if (outer.aborted) throw outer.reason;
      throw classify(err, timeout.signal.aborted);
    } finally {
      clearTimeout(timer);
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
        const cut = truncateToTokens(t, o.maxInputTokens, o.model);
        sent[i] = cut.text;
        tokensB[i] = cut.tokens;
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
      // The SDK holds no sockets of its own (global fetch).
    },
  };
}
