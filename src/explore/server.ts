/**
 * The explorer's HTTP server (METHOD.md §8, the contract in src/explore/api.ts): a hono app over an
 * explorer database, the SAEs and the store's exact index, testable with `app.request(...)` without a
 * socket. Every input is validated with the zod schemas of the contract (bounded lengths, counts and
 * ranges): malformed input → 400, unknown domain, feature, family or list → 404, each with a clear message;
 * bodies are capped at MAX_BODY_BYTES. No path is built from input — the static front end is read into
 * memory at start and looked up by name — and no response carries a key or a machine path.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import { describeError, SaerchError } from "../core/errors.js";
import type { Embedder } from "../embed/embedder.js";
import type { EmbeddingStore } from "../embed/store-reader.js";
import type { SaeParams } from "../sae/params.js";
import { encodeQuery, type SteerFamily } from "../steer/interventions.js";
import { ExactIndex } from "../steer/exact-index.js";
import { searchTargetOf } from "../steer/ranker.js";
import { type SearchTarget, steeredSearch } from "../steer/search.js";
import {
  ActivationRequest,
  type ActivationResponse,
  type ApiError,
  type DomainsResponse,
  DomainPath,
  type FamiliesResponse,
  type FamilyResponse,
  type FeatureResponse,
  ItemPath,
  LabelSearchQuery,
  type LabelSearchResponse,
  ListPath,
  ListRequest,
  type ListResponse,
  ListRunRequest,
  type ListRunResponse,
  ListsQuery,
  type ListsResponse,
  MapPath,
  type MapResponse,
  MAX_BODY_BYTES,
  SearchRequest,
  type SearchResponse,
} from "./api.js";
import { type DomainRow, DOCUMENTS_MAP, type ExplorerDb, featuresMap } from "./db.js";

/** One domain's SAE, as the server needs it. */
export interface DomainRuntime {
  params: SaeParams;
  /** Active latents K. */
  k: number;
  /** Families for steering, by id (P(member | parent) from the database). */
  families: Map<number, SteerFamily>;
}

/** What the app serves. */
export interface ExplorerContext {
  db: ExplorerDb;
  /** The store's embedder (queries, test texts, label search by meaning). */
  embedder: Embedder;
  /** Exact search over every store row. */
  target: SearchTarget;
  domains: Map<string, DomainRuntime>;
  /** The bundled front end, read once (url path → file), or undefined: API only. */
  web?: StaticFiles;
  /** Why the database is out of date, when it is served anyway (listed by /api/domains). */
  stale?: string;
}

/** Files of the bundled front end by url path ("/index.html", "/app.js", …). */
export type StaticFiles = Map<string, { body: Buffer; type: string }>;

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".wasm": "application/wasm",
  ".txt": "text/plain; charset=utf-8",
};
/** Largest front-end file read into memory. */
const MAX_STATIC_BYTES = 32 * 1024 * 1024;
/** Search results per page when the request does not say. */
const ARXIV_ABS = "https://arxiv.org/abs/";

/**
 * Read a built front end (e.g. dist/explore/web/) into memory: every regular file below `dir`, keyed by its
 * url path. Requests are then answered from this map only, so no request can name a file outside it.
 */
export function readStaticFiles(dir: string): StaticFiles {
  const out: StaticFiles = new Map();
  const walk = (d: string, depth: number): void => {
    if (depth > 8) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith(".")) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.isFile() && statSync(p).size <= MAX_STATIC_BYTES) {
        const url = `/${relative(dir, p).split(sep).join("/")}`;
        out.set(url, { body: readFileSync(p), type: CONTENT_TYPES[extname(e.name).toLowerCase()] ?? "application/octet-stream" });
      }
    }
  };
  if (existsSync(dir)) walk(dir, 0);
  return out;
}

/** An API error response. */
class HttpError extends Error {
  constructor(
    readonly status: 400 | 404 | 413 | 500,
    message: string,
    readonly fix?: string,
  ) {
    super(message);
  }
}

/** zod issues as one line: "k: Too big: expected number to be <=50; query: …". */
function issues(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "request"}: ${i.message}`)
    .join("; ");
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw new HttpError(400, `invalid ${what}: ${issues(r.error)}`);
  return r.data as z.infer<T>;
}

async function jsonBody(c: Context): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/json")) throw new HttpError(400, "the request body must be JSON", "send Content-Type: application/json");
  try {
    return await c.req.json();
  } catch {
    throw new HttpError(400, "the request body is not valid JSON");
  }
}

/** The error message of a SaerchError without its fix line (the fix goes in its own field). */
function plainMessage(err: SaerchError): string {
  return err.fix === undefined ? err.message : err.message.slice(0, err.message.indexOf("\n  fix:"));
}

/** Remove anything that looks like an absolute machine path (not an API route) from a message shown to a client. */
export function scrubPaths(text: string): string {
  return text.replace(/(?<![\w/.])(?!\/api\/)(?:[A-Za-z]:)?(?:\/[\w.@+-]+){2,}\/?/g, "<path>");
}

/**
 * The explorer app.
 * @returns a hono app; `app.request(url, init)` answers without a socket
 */
export function createExplorerApp(ctx: ExplorerContext): Hono {
  const app = new Hono();
  const { db } = ctx;
  const domainRows = new Map(db.domains().map((d) => [d.domain, d]));
  const labelVectors = new Map<string, ReturnType<ExplorerDb["labelVectors"]>>();

  const domainOf = (domain: string): { row: DomainRow; rt: DomainRuntime } => {
    const row = domainRows.get(domain);
    const rt = ctx.domains.get(domain);
    if (row === undefined || rt === undefined) throw new HttpError(404, `unknown domain "${domain}"`, `use one of: ${[...domainRows.keys()].join(", ")}`);
    return { row, rt };
  };
  const checkFeature = (row: DomainRow, feature: number): void => {
    if (feature >= row.n) throw new HttpError(404, `feature ${feature} does not exist in ${row.domain} (${row.n} features: 0 … ${row.n - 1})`);
  };
  const labelOf = (domain: string, f: number): string | null => db.featureColumns(domain).labelF[f] ?? null;

  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json<ApiError>({ error: scrubPaths(err.message), ...(err.fix ? { fix: scrubPaths(err.fix) } : {}) }, err.status);
    if (err instanceof SaerchError) return c.json<ApiError>({ error: scrubPaths(plainMessage(err)), ...(err.fix ? { fix: scrubPaths(err.fix) } : {}) }, 400);
    console.error(`explorer: ${c.req.method} ${new URL(c.req.url).pathname}: ${describeError(err)}`);
    return c.json<ApiError>({ error: "internal error", fix: "see the server's console" }, 500);
  });
  app.use(
    "/api/*",
    bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json<ApiError>({ error: `the request body is larger than ${MAX_BODY_BYTES} bytes` }, 413) }),
  );

  app.get("/api/domains", (c) =>
    c.json<DomainsResponse>({
      domains: [...domainRows.values()].map((d) => ({ domain: d.domain, sae: d.sae, n: d.n, k: d.k, documents: d.documents, labelled: d.labelled, families: d.families, maps: d.maps, missing: d.missing })),
      ...(ctx.stale !== undefined ? { stale: ctx.stale } : {}),
    }),
  );

  app.post("/api/search", async (c) => {
    const req = parse(SearchRequest, await jsonBody(c), "search");
    const { row, rt } = domainOf(req.domain);
    for (const e of req.features) checkFeature(row, e.feature);
    for (const f of req.families) if (!rt.families.has(f.id)) throw new HttpError(404, `family ${f.id} does not exist in ${row.domain}`, rt.families.size === 0 ? "this SAE has no families: run notebooks/05-families.ipynb" : `${rt.families.size} families: see /api/families/${row.domain}`);
    const res = await steeredSearch({
      text: req.query,
      embedder: ctx.embedder,
      params: rt.params,
      saeK: rt.k,
      target: ctx.target,
      request: { form: req.form, features: req.features, families: req.families },
      families: rt.families,
      k: req.k,
    });
    const cols = db.featureColumns(row.domain);
    const docs = db.documents();
    return c.json<SearchResponse>({
      domain: row.domain,
      cos: res.cos,
      active: res.active.map(({ feature, activation }) => ({
        feature,
        activation,
        label: cols.labelF[feature] ?? null,
        density: cols.densityF[feature] ?? 0,
        maxActivation: cols.maxActivationF[feature] ?? 0,
        hidden: (cols.densityF[feature] ?? 0) > req.maxDensity,
      })),
      hits: res.hits.map((h) => {
        const d = docs[h.row]!;
        return { id: d.id, title: d.title, year: d.year, categories: d.categories, score: h.score, url: `${ARXIV_ABS}${encodeURIComponent(d.id)}` };
      }),
    });
  });

  app.get("/api/features/:domain/:id", (c) => {
    const p = parse(ItemPath, c.req.param(), "feature path");
    const { row } = domainOf(p.domain);
    checkFeature(row, p.id);
    const f = db.feature(row.domain, p.id)!;
    const docs = db.documents();
    const doc = (r: { row: number; activation: number }): { id: string; title: string; activation: number } => ({ id: docs[r.row]!.id, title: docs[r.row]!.title, activation: r.activation });
    const fdocs = db.featureDocs(row.domain, p.id);
    const quantiles = [...new Set(fdocs.filter((d) => d.quantile < 1).map((d) => d.quantile))].sort((a, b) => b - a);
    return c.json<FeatureResponse>({
      domain: row.domain,
      feature: p.id,
      label: f.label,
      scorer: f.scorer,
      f1: f.f1,
      pearson: f.pearson,
      density: f.density,
      histogram: f.histogram,
      top: fdocs.filter((d) => d.quantile === 1).map(doc),
      quantiles: quantiles.map((q) => ({ quantile: q, docs: fdocs.filter((d) => d.quantile === q).map(doc) })),
      similar: db.neighbours(row.domain, p.id, "similar").map((x) => ({ feature: x.other, label: labelOf(row.domain, x.other), cosine: x.cosine })),
      dissimilar: db.neighbours(row.domain, p.id, "dissimilar").map((x) => ({ feature: x.other, label: labelOf(row.domain, x.other), cosine: x.cosine })),
      cooccurring: db.cooccurring(row.domain, p.id).map((x) => ({ feature: x.other, label: labelOf(row.domain, x.other), overlap: x.overlap })),
      families: db.familiesOfFeature(row.domain, p.id).map((x) => ({ id: x.id, label: x.label, role: x.role, size: x.size })),
      splitting: db.splitting(row.domain, p.id).map((x) => ({ sae: x.sae, feature: x.other, cosine: x.cosine })),
    });
  });

  /** The text's code: top-k activations and, for chosen features, pre-activations. */
  const textCode = async (domain: string, text: string, features: readonly number[]): Promise<{ active: Map<number, number>; pre: Map<number, number> }> => {
    const t = text.trim();
    if (t.length === 0) throw new HttpError(400, "the text is empty", "type a sentence or an abstract");
    const { rt } = domainOf(domain);
    const p = rt.params;
    const xD = (await ctx.embedder.embed([t])).slice(0, p.d);
    const code = encodeQuery(p, xD, rt.k);
    const active = new Map<number, number>();
    code.indicesK.forEach((f, i) => {
      if (code.valuesK[i]! > 0) active.set(f, code.valuesK[i]!);
    });
    const pre = new Map<number, number>();
    for (const f of features) {
      let acc = p.bLatF[f]!;
      for (let j = 0; j < p.d; j++) acc += p.wEncFD[f * p.d + j]! * (xD[j]! - p.bPreD[j]!);
      pre.set(f, Math.max(0, acc));
    }
    return { active, pre };
  };

  app.post("/api/features/:domain/:id/activation", async (c) => {
    const p = parse(ItemPath, c.req.param(), "feature path");
    const { row } = domainOf(p.domain);
    checkFeature(row, p.id);
    const req = parse(ActivationRequest, await jsonBody(c), "activation request");
    const { active, pre } = await textCode(row.domain, req.text, [p.id]);
    return c.json<ActivationResponse>({
      feature: p.id,
      activation: active.get(p.id) ?? 0,
      preActivation: pre.get(p.id) ?? 0,
      active: [...active.entries()].sort((a, b) => b[1] - a[1]).map(([feature, activation]) => ({ feature, activation, label: labelOf(row.domain, feature) })),
    });
  });

  app.get("/api/labels", async (c) => {
    const q = parse(LabelSearchQuery, c.req.query(), "label search");
    const { row } = domainOf(q.domain);
    const cols = db.featureColumns(row.domain);
    if (q.mode === "keyword") {
      return c.json<LabelSearchResponse>({ results: db.labelsByKeyword(row.domain, q.q, q.limit).map((r) => ({ ...r, density: cols.densityF[r.feature] ?? 0 })) });
    }
    let lv = labelVectors.get(row.domain);
    if (lv === undefined) {
      lv = db.labelVectors(row.domain);
      labelVectors.set(row.domain, lv);
    }
    if (lv.featuresL.length === 0) throw new HttpError(404, `${row.domain} has no labels to search`, "run notebooks/04-interpret.ipynb, then rebuild the explorer database");
    const qD = await ctx.embedder.embed([q.q]);
    const { vectorsLD, d } = lv;
    const scores = Array.from(lv.featuresL, (f, i) => {
      let dot = 0;
      let nn = 0;
      let qq = 0;
      for (let j = 0; j < d; j++) {
        const v = vectorsLD[i * d + j]!;
        dot += v * qD[j]!;
        nn += v * v;
        qq += qD[j]! * qD[j]!;
      }
      return { feature: f, score: nn === 0 || qq === 0 ? 0 : dot / Math.sqrt(nn * qq) };
    });
    scores.sort((a, b) => b.score - a.score || a.feature - b.feature);
    return c.json<LabelSearchResponse>({ results: scores.slice(0, q.limit).map((s) => ({ feature: s.feature, label: cols.labelF[s.feature] ?? "", score: s.score, density: cols.densityF[s.feature] ?? 0 })) });
  });

  app.get("/api/families/:domain", (c) => {
    const p = parse(DomainPath, c.req.param(), "families path");
    const { row } = domainOf(p.domain);
    return c.json<FamiliesResponse>({
      domain: row.domain,
      featureSet: row.featureSet ?? "",
      families: db.families(row.domain).map((f) => ({ id: f.id, label: f.label, root: f.root, rootLabel: labelOf(row.domain, f.root), size: f.size, depth: f.depth, parentFamily: f.parentFamily, f1: f.f1, pearson: f.pearson })),
    });
  });

  app.get("/api/families/:domain/:id", (c) => {
    const p = parse(ItemPath, c.req.param(), "family path");
    const { row } = domainOf(p.domain);
    const f = db.family(row.domain, p.id);
    if (f === undefined) {
      throw new HttpError(404, `family ${p.id} does not exist in ${row.domain}`, row.families === 0 ? "this SAE has no families: run notebooks/05-families.ipynb" : `${row.families} families: see /api/families/${row.domain}`);
    }
    return c.json<FamilyResponse>({
      domain: row.domain,
      id: f.id,
      label: f.label,
      root: { feature: f.root, label: labelOf(row.domain, f.root) },
      members: db.members(row.domain, f.id).map((m) => ({ feature: m.feature, label: labelOf(row.domain, m.feature), parent: m.parent, weight: m.weight, depth: m.depth })),
      block: db.familyBlock(row.domain, f.id) ?? { features: [], overlap: [] },
      nested: db.nested(row.domain, f.id),
    });
  });

  const mapCache = new Map<string, MapResponse>();
  app.get("/api/maps/:domain/:kind", (c) => {
    const p = parse(MapPath, c.req.param(), "map path");
    const { row } = domainOf(p.domain);
    const key = `${row.domain}/${p.kind}`;
    let res = mapCache.get(key);
    if (res === undefined) {
      if (p.kind === "features") {
        const pts = db.mapPoints(featuresMap(row.domain));
        const cols = db.featureColumns(row.domain);
        const fam = db.familyOfFeatures(row.domain);
        res = {
          domain: row.domain,
          kind: "features",
          points: pts.flatMap((q) => [q.x, q.y]),
          ids: pts.map((q) => q.idx),
          names: pts.map((q) => cols.labelF[q.idx] ?? `feature ${q.idx}`),
          density: pts.map((q) => cols.densityF[q.idx] ?? 0),
          family: pts.map((q) => fam.get(q.idx) ?? null),
        };
      } else {
        const pts = db.mapPoints(DOCUMENTS_MAP);
        const docs = db.documents();
        res = { domain: row.domain, kind: "documents", points: pts.flatMap((q) => [q.x, q.y]), ids: pts.map((q) => docs[q.idx]!.id), names: pts.map((q) => docs[q.idx]!.title), domainOf: pts.map((q) => docs[q.idx]!.domain) };
      }
      if (res.points.length === 0) throw new HttpError(404, `no ${p.kind} map for ${row.domain}`, "rebuild the explorer database with maps (npm run explore:build)");
      mapCache.set(key, res);
    }
    return c.json<MapResponse>(res);
  });

  app.get("/api/lists", (c) => {
    const q = parse(ListsQuery, c.req.query(), "lists query");
    if (q.domain !== undefined) domainOf(q.domain);
    return c.json<ListsResponse>({ lists: db.lists(q.domain) });
  });

  app.get("/api/lists/:id", (c) => {
    const p = parse(ListPath, c.req.param(), "list path");
    const l = db.list(p.id);
    if (l === undefined) throw new HttpError(404, `list ${p.id} does not exist`, "save one with POST /api/lists");
    return c.json<ListResponse>(l);
  });

  app.post("/api/lists", async (c) => {
    const req = parse(ListRequest, await jsonBody(c), "list");
    const { row } = domainOf(req.domain);
    for (const f of req.features) checkFeature(row, f);
    const name = req.name.trim();
    if (name.length === 0) throw new HttpError(400, "the list name is empty");
    return c.json<ListResponse>(db.saveList(row.domain, name, [...new Set(req.features)]));
  });

  app.post("/api/lists/run", async (c) => {
    const req = parse(ListRunRequest, await jsonBody(c), "list run");
    const { row } = domainOf(req.domain);
    for (const f of req.features) checkFeature(row, f);
    const features = [...new Set(req.features)];
    const { active, pre } = await textCode(row.domain, req.text, features);
    return c.json<ListRunResponse>({ results: features.map((f) => ({ feature: f, label: labelOf(row.domain, f), activation: active.get(f) ?? 0, preActivation: pre.get(f) ?? 0 })) });
  });

  app.all("/api/*", (c) => c.json<ApiError>({ error: `no API endpoint ${c.req.method} ${new URL(c.req.url).pathname.slice(0, 200)}`, fix: "see src/explore/api.ts" }, 404));

  // The front end: files by exact name, and index.html for page routes (paths without an extension).
  app.get("*", (c) => {
    const web = ctx.web;
    if (web === undefined || web.size === 0) return c.json<ApiError>({ error: "the front end is not built", fix: "run npm run explore (it builds it), or node scripts/build-web.mjs" }, 404);
    const path = new URL(c.req.url).pathname;
    const file = web.get(path === "/" ? "/index.html" : path) ?? (extname(path) === "" ? web.get("/index.html") : undefined);
    if (file === undefined) return c.json<ApiError>({ error: "not found" }, 404);
    return c.body(file.body as unknown as ArrayBuffer, 200, { "content-type": file.type, "cache-control": "no-cache", "x-content-type-options": "nosniff" });
  });
  return app;
}

/** The steering families of a domain, from the database. */
export function steerFamiliesFromDb(db: ExplorerDb, domain: string): Map<number, SteerFamily> {
  const out = new Map<number, { root: number; members: Array<{ feature: number; givenParent: number }> }>();
  for (const f of db.families(domain)) out.set(f.id, { root: f.root, members: [] });
  for (const m of db.allMembers(domain)) out.get(m.family)?.members.push({ feature: m.feature, givenParent: m.givenParent });
  return out;
}

/** Arguments of openExplorerContext. */
export interface OpenContextArgs {
  db: ExplorerDb;
  store: EmbeddingStore;
  embedder: Embedder;
  /** Each domain's SAE weights and k. */
  saes: ReadonlyArray<{ domain: string; params: SaeParams; k: number }>;
  /** The built front end's folder (read into memory once). */
  webDir?: string;
  /** Index threads (default: one per core). */
  threads?: number;
  stale?: string;
}

/** A context with the resources it owns. */
export interface OpenedContext {
  ctx: ExplorerContext;
  index: ExactIndex;
  close(): Promise<void>;
}

/**
 * Build the in-memory side of the server: the exact index over every store row, each domain's SAE and
 * families, the embedder (wrapped in a small cache so a slider change does not embed its query again).
 * @throws SaerchError when a domain of the database has no SAE, or the embedder does not match the store
 */
export function openExplorerContext(args: OpenContextArgs): OpenedContext {
  if (args.embedder.id !== args.store.manifest.embedderId) {
    throw new SaerchError(`queries would be embedded with ${args.embedder.id} but the store holds ${args.store.manifest.embedderId} vectors`, "serve with the store's own embedder");
  }
  const domains = new Map<string, DomainRuntime>();
  for (const d of args.db.domains()) {
    const sae = args.saes.find((s) => s.domain === d.domain);
    if (sae === undefined) throw new SaerchError(`the explorer database lists domain ${d.domain} but no SAE was given for it`);
    if (sae.params.n !== d.n) throw new SaerchError(`the SAE of ${d.domain} has ${sae.params.n} features but the database was built for ${d.n}`, "rebuild the explorer database (npm run explore:build)");
    domains.set(d.domain, { params: sae.params, k: sae.k, families: steerFamiliesFromDb(args.db, d.domain) });
  }
  const index = ExactIndex.fromStore(args.store, args.threads !== undefined ? { threads: args.threads } : {});
  const ctx: ExplorerContext = {
    db: args.db,
    embedder: new CachedEmbedder(args.embedder),
    target: searchTargetOf(index, args.store),
    domains,
    ...(args.webDir !== undefined ? { web: readStaticFiles(args.webDir) } : {}),
    ...(args.stale !== undefined ? { stale: args.stale } : {}),
  };
  return {
    ctx,
    index,
    close: async () => {
      await index.close();
    },
  };
}

/** Texts whose vectors are kept (a slider change re-runs the same query). */
const EMBED_CACHE_TEXTS = 256;

/** An Embedder that remembers the vectors of the last texts it embedded one at a time. */
export class CachedEmbedder implements Embedder {
  readonly id: string;
  readonly provider: string;
  readonly model: string;
  readonly dim: number;
  readonly normalized: boolean;
  readonly maxBatch: number;
  private readonly cache = new Map<string, Float32Array>();

  constructor(private readonly inner: Embedder) {
    this.id = inner.id;
    this.provider = inner.provider;
    this.model = inner.model;
    this.dim = inner.dim;
    this.normalized = inner.normalized;
    this.maxBatch = inner.maxBatch;
  }

  async embed(texts: string[]): Promise<Float32Array> {
    if (texts.length !== 1) return this.inner.embed(texts);
    const t = texts[0]!;
    const hit = this.cache.get(t);
    if (hit !== undefined) {
      this.cache.delete(t);
      this.cache.set(t, hit);
      return hit.slice();
    }
    const v = await this.inner.embed([t]);
    this.cache.set(t, v.slice());
    if (this.cache.size > EMBED_CACHE_TEXTS) this.cache.delete(this.cache.keys().next().value!);
    return v;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
