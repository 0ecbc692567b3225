/**
 * Persistent request cache of the interpretation stage (METHOD.md §4): every finished chat completion is
 * kept, keyed by what determines its reply, so a rerun (after a crash, a budget stop, or with more
 * features) pays for nothing twice. The key includes the endpoint (the client's id, e.g.
 * `openai:http://127.0.0.1:1234/v1`): two servers answering for the same model name never share replies,
 * and every record names the endpoint that answered. Only replies the caller's parser accepts are kept
 * (`accept`): a reply with no parsable label is returned once and asked again on the next run, so a
 * feature does not stay failed after the server is fixed.
 *
 * Storage: one append-only JSON Lines file through `JsonlAppender`; one record per finished request
 * (`{key, endpoint, model, content, usage, savedAt}`), fsynced before the reply is returned. A crash can only tear
 * the last line, which is ignored on open (and cut off before the next append). Records are never
 * rewritten; a key written twice keeps its last record.
 *
 * One process per cache file: records are appended whole, but a second process neither sees the first
 * one's new records nor is kept from writing the same key. Give parallel runs their own files.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { FormatError } from "../core/errors.js";
import { stableStringify } from "../io/artefact.js";
import { JsonlAppender, readJsonlLog } from "../io/jsonl.js";
import type { LlmClient, LlmRequest, LlmResponse } from "./types.js";

/** One line of the cache file. */
const CacheRecord = z.object({
  key: z.string().regex(/^[0-9a-f]{64}$/),
  endpoint: z.string().optional(),
  model: z.string(),
  content: z.string(),
  usage: z.object({ promptTokens: z.number().min(0), completionTokens: z.number().min(0) }),
  savedAt: z.string(),
});
/** One stored reply, as written to the cache file. */
export type CacheRecord = z.infer<typeof CacheRecord>;

/**
 * The cache key of a request sent to `endpoint`: SHA-256 (hex) of the stable JSON of `{endpoint, model,
 * messages, temperature, maxTokens}`. `role` is left out: it only routes the cost accounting, the reply
 * does not depend on it.
 * @param endpoint which server answers (CachedLlmClient passes its inner client's id)
 */
export function requestKey(req: LlmRequest, endpoint: string): string {
  const keyed = {
    endpoint,
    model: req.model,
    messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
    temperature: req.temperature,
    maxTokens: req.maxTokens,
  };
  return createHash("sha256").update(stableStringify(keyed)).digest("hex");
}

/** The persistent map request key → reply (see the module header; one process per file). */
export class RequestCache {
  /** The cache file. */
  readonly path: string;
  private readonly entries: Map<string, CacheRecord>;
  private readonly log: JsonlAppender;

  private constructor(path: string, entries: Map<string, CacheRecord>, log: JsonlAppender) {
    this.path = path;
    this.entries = entries;
    this.log = log;
  }

  /**
   * Open (creating if needed) the cache at `path` and load every complete record; a torn last line left
   * by a crash is ignored and cut off.
   * @param opts `fsync` after every record (default true: a returned reply survives a crash)
   * @throws FormatError naming the line when a complete line is not a cache record
   */
  static open(path: string, opts: { fsync?: boolean } = {}): RequestCache {
    // The appender truncates a torn tail first, so the read below sees only complete lines.
    const log = new JsonlAppender(path, opts.fsync === undefined ? {} : { fsync: opts.fsync });
    const entries = new Map<string, CacheRecord>();
    try {
      const rows = readJsonlLog(path);
      for (const [i, row] of rows.entries()) {
        const rec = CacheRecord.safeParse(row);
        if (!rec.success) {
          throw new FormatError(
            path,
            `record ${i + 1} is not an LLM cache record (${z.prettifyError(rec.error).replace(/\n/g, "; ")})`,
            "move the file away to start an empty cache (its replies are then requested, and paid, again)",
          );
        }
        entries.set(rec.data.key, rec.data);
      }
    } catch (err) {
      log.close();
      throw err;
    }
    return new RequestCache(path, entries, log);
  }

  /** Distinct requests stored. */
  get size(): number {
    return this.entries.size;
  }

  /** True when the reply of `req` at `endpoint` is stored. */
  has(req: LlmRequest, endpoint: string): boolean {
    return this.entries.has(requestKey(req, endpoint));
  }

  /** The stored reply of `req` at `endpoint` (with `cached: true`), or undefined. */
  get(req: LlmRequest, endpoint: string): LlmResponse | undefined {
    const rec = this.entries.get(requestKey(req, endpoint));
    if (rec === undefined) return undefined;
    return { content: rec.content, usage: { ...rec.usage }, model: rec.model, cached: true, endpoint: rec.endpoint ?? endpoint };
  }

  /**
   * Store `res` as the reply of `req` at `endpoint` (appended and fsynced); a key already stored is left
   * as it is unless `replace` (a stored reply the caller's parser now rejects).
   */
  put(req: LlmRequest, res: LlmResponse, endpoint: string, opts: { replace?: boolean } = {}): void {
    const key = requestKey(req, endpoint);
    if (this.entries.has(key) && opts.replace !== true) return;
    const rec: CacheRecord = {
      key,
      endpoint,
      model: res.model,
      content: res.content,
      usage: { promptTokens: res.usage.promptTokens, completionTokens: res.usage.completionTokens },
      savedAt: new Date().toISOString(),
    };
    this.log.append(rec);
    this.entries.set(key, rec);
  }

  /** Close the file; safe twice. Stored replies stay readable through `get`. */
  close(): void {
    this.log.close();
  }
}

/**
 * `LlmClient` that answers from a `RequestCache` when it can and stores every new reply.
 *
 * Hit: the stored reply with `cached: true`, no call. Miss: `inner.complete`, stored, returned with
 * `cached: false`. Identical requests in flight at the same time share one inner call: the first caller
 * gets `cached: false`, the others `cached: true` (they made no call and cost nothing). The shared call
 * runs under the first caller's signal, so aborting it fails the others too. Failures are not cached.
 */
export class CachedLlmClient implements LlmClient {
  readonly id: string;
  /** The endpoint replies are keyed and recorded by: the inner client's id (`openai:<baseURL>`). */
  readonly endpoint: string;
  private readonly inFlight = new Map<string, Promise<LlmResponse>>();
  private readonly accept: (req: LlmRequest, content: string) => boolean;

  /**
   * @param inner the client that makes the calls
   * @param cache the persistent store
   * @param opts `accept`: whether a reply is worth keeping (default every reply); a rejected reply is
   *   returned but not stored, and a stored reply it rejects is asked again
   */
  constructor(
    private readonly inner: LlmClient,
    readonly cache: RequestCache,
    opts: { accept?: (req: LlmRequest, content: string) => boolean } = {},
  ) {
    this.id = `cached:${inner.id}`;
    this.endpoint = inner.id;
    this.accept = opts.accept ?? (() => true);
  }

  /** The stored reply of `req` that `accept` takes, or undefined. */
  private hit(req: LlmRequest): LlmResponse | undefined {
    const hit = this.cache.get(req, this.endpoint);
    return hit !== undefined && this.accept(req, hit.content) ? hit : undefined;
  }

  /** True when `req` would be answered without a call (stored and accepted, or identical to one in flight). */
  isCached(req: LlmRequest): boolean {
    return this.hit(req) !== undefined || this.inFlight.has(requestKey(req, this.endpoint));
  }

  /** Answer from the cache, or through the inner client (storing the reply when `accept` takes it). */
  async complete(req: LlmRequest, signal?: AbortSignal): Promise<LlmResponse> {
    const hit = this.hit(req);
    if (hit !== undefined) return hit;
    const key = requestKey(req, this.endpoint);
    const shared = this.inFlight.get(key);
    if (shared !== undefined) return { ...(await shared), cached: true };
    const call = (async (): Promise<LlmResponse> => {
      try {
        const res = { ...(await this.inner.complete(req, signal)), endpoint: this.endpoint };
        // A stored reply that was rejected above is replaced by an accepted one.
        if (this.accept(req, res.content)) this.cache.put(req, res, this.endpoint, { replace: true });
        return res;
      } finally {
        this.inFlight.delete(key);
      }
    })();
    this.inFlight.set(key, call);
    return { ...(await call), cached: false };
  }

  /** Close the inner client and the cache file; safe twice. */
  async close(): Promise<void> {
    await this.inner.close();
    this.cache.close();
  }
}
