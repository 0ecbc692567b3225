/**
 * A scripted local OpenAI-compatible server on 127.0.0.1 (no network, no key) for tests, benchmarks and
 * offline dry runs: a real HTTP socket, so clients are exercised through fetch, timeouts and retries exactly
 * as against the API (METHOD.md §1 embeddings, §4 chat completions for the interpreter and predictor).
 *
 * - POST /v1/embeddings answers with deterministic unit-norm vectors derived from each input text
 *   (`hashEmbedding`), honouring `dimensions` and `encoding_format` (base64 little-endian float32 / float);
 *   `usage` counts tokens with src/tokenizer, and an input over 8191 tokens of an OpenAI model is a 400,
 *   as from the API.
 * - Any route can be scripted: `script(route, ...replies)` queues replies consumed one per request, each
 *   `{status, headers, body, delayMs}`. A reply with neither status nor body only delays, then the route's
 *   handler answers (latency injection). Routes without a handler (e.g. /v1/chat/completions until a
 *   caller installs one with `setHandler`) answer 404 unless scripted.
 * - Every request is recorded (route, method, headers, parsed body) for assertions, and the most requests
 *   in flight at once is kept (`maxInFlight`).
 * - `close()` destroys open connections (including hung ones) and resolves when the port is free.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Rng } from "../core/rng.js";
import { normalizeRowsInPlace } from "../core/vector.js";
import { countTokens } from "../tokenizer/tokens.js";

/** Default dimension per model name; other names get `FALLBACK_DIM`. */
const MODEL_DIMS: Record<string, number> = { "text-embedding-3-small": 1536, "text-embedding-3-large": 3072 };
const FALLBACK_DIM = 64;
/** Longest input of the OpenAI embedding models, in their tokens (METHOD.md §1: 8191). */
const MAX_INPUT_TOKENS = 8191;

/** One scripted reply. */
export interface ScriptedReply {
  /** HTTP status (default 200 when a body is given). */
  status?: number;
  /** Extra response headers, e.g. `{"retry-after": "0.2"}`. */
  headers?: Record<string, string>;
  /** Object → JSON; string → sent verbatim (for malformed JSON). */
  body?: unknown;
  /** Wait this long before answering (a delay past the client's timeout is a hang). */
  delayMs?: number;
}

/** One recorded request. */
export interface RecordedRequest {
  route: string;
  method: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
  /** Arrival time (performance.now()). */
  at: number;
}

/** A route's default behaviour: status and JSON body computed from the request. */
export type RouteHandler = (req: RecordedRequest) => { status: number; body: unknown; headers?: Record<string, string> };

/** A running test server. */
export interface OpenAITestServer {
  /** e.g. "http://127.0.0.1:41234/v1" — pass as the client's baseURL. */
  readonly baseURL: string;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Most requests being answered at the same time so far (checks a client's concurrency bound). */
  readonly maxInFlight: number;
  /** Queue replies for a route ("/v1/embeddings"); consumed one per request, in order. */
  script(route: string, ...replies: ScriptedReply[]): void;
  /** Install or replace a route's default handler. */
  setHandler(route: string, handler: RouteHandler): void;
  /** Requests to one route. */
  requestsTo(route: string): RecordedRequest[];
  /** Destroy connections and stop listening. */
  close(): Promise<void>;
}

/** Options of `startOpenAIServer`. */
export interface OpenAIServerOptions {
  /** Delay for every request not scripted otherwise (ms), e.g. random latencies: `(req, i) => …`. */
  latencyMs?: (req: RecordedRequest, requestNumber: number) => number;
  /** Return `data` in reverse order (clients must reassemble by `index`). */
  reverseData?: boolean;
}

/** Deterministic unit-norm `[D]` vector for a text: seeded normal draws from the text itself. */
export function hashEmbedding(text: string, dim: number): Float32Array {
  const v: Float32Array = new Float32Array(dim);
  new Rng(`embed:${text}`).fillNormalInPlace(v);
  normalizeRowsInPlace(v, 1, dim);
  return v;
}

/** Encode a vector as the API does for `encoding_format: "base64"`: little-endian float32 bytes. */
export function encodeBase64Float32(v: Float32Array): string {
  const buf = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i]!, i * 4);
  return buf.toString("base64");
}

function errorBody(message: string, type = "invalid_request_error"): unknown {
  return { error: { message, type, param: null, code: null } };
}

/** The default /v1/embeddings behaviour. */
function embeddingsHandler(reverseData: boolean): RouteHandler {
  return (req) => {
    const body = req.body as { model?: unknown; input?: unknown; encoding_format?: unknown; dimensions?: unknown };
    if (typeof body !== "object" || body === null) return { status: 400, body: errorBody("body is not JSON") };
    const inputs = typeof body.input === "string" ? [body.input] : body.input;
    if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((t) => typeof t === "string" && t !== "")) {
      return { status: 400, body: errorBody("'input' must be a non-empty string or array of non-empty strings") };
    }
    const model = typeof body.model === "string" ? body.model : "";
    const dim = typeof body.dimensions === "number" ? body.dimensions : (MODEL_DIMS[model] ?? FALLBACK_DIM);
    const base64 = body.encoding_format === "base64";
    const data = (inputs as string[]).map((text, index) => {
      const v = hashEmbedding(text, dim);
      return { object: "embedding", index, embedding: base64 ? encodeBase64Float32(v) : Array.from(v) };
    });
    if (reverseData) data.reverse();
    const counts = (inputs as string[]).map((t) => countTokens(t, model));
    const over = counts.findIndex((c) => c.exact && c.tokens > MAX_INPUT_TOKENS);
    if (over >= 0) {
      // As the API does for text-embedding-3-*: an input over the context length is an error, not truncated.
      const msg = `This model's maximum context length is ${MAX_INPUT_TOKENS + 1} tokens, however you requested ${counts[over]!.tokens} tokens (input ${over}). Please reduce your prompt; or completion length.`;
      return { status: 400, body: errorBody(msg) };
    }
    const tokens = counts.reduce((acc, c) => acc + c.tokens, 0);
    return { status: 200, body: { object: "list", data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } } };
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.writableEnded) return;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(text);
}

/** Start a server on an ephemeral port of 127.0.0.1. */
export async function startOpenAIServer(opts: OpenAIServerOptions = {}): Promise<OpenAITestServer> {
  const requests: RecordedRequest[] = [];
  const queues = new Map<string, ScriptedReply[]>();
  const handlers = new Map<string, RouteHandler>([["/v1/embeddings", embeddingsHandler(opts.reverseData ?? false)]]);
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let inFlight = 0;
  let maxInFlight = 0;

  const wait = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on("close", () => inFlight--);
    void (async () => {
      const raw = await readBody(req);
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // keep the raw text
      }
      const route = (req.url ?? "/").split("?")[0]!;
      const rec: RecordedRequest = { route, method: req.method ?? "", headers: req.headers, body, at: performance.now() };
      const requestNumber = requests.length;
      requests.push(rec);
      const scripted = queues.get(route)?.shift();
      const delayMs = scripted?.delayMs ?? opts.latencyMs?.(rec, requestNumber) ?? 0;
      if (delayMs > 0) await wait(delayMs);
      if (scripted && (scripted.status !== undefined || scripted.body !== undefined)) {
        send(res, scripted.status ?? 200, scripted.body ?? "", scripted.headers);
        return;
      }
      const handler = handlers.get(route);
      if (req.method !== "POST" || !handler) {
        send(res, 404, errorBody(`no route ${req.method} ${route}`), scripted?.headers);
        return;
      }
      const out = handler(rec);
      send(res, out.status, out.body, { ...out.headers, ...scripted?.headers });
    })().catch((err: unknown) => send(res, 500, errorBody(`test server error: ${String(err)}`, "server_error")));
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    script(route, ...replies) {
      const q = queues.get(route) ?? [];
      q.push(...replies);
      queues.set(route, q);
    },
    setHandler(route, handler) {
      handlers.set(route, handler);
    },
    requestsTo(route) {
      return requests.filter((r) => r.route === route);
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
