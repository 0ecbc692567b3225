/**
 * API tests for src/explore/server.ts through hono's `app.request` (no socket), on the synthetic fixture run
 * (tests/explore/fixture.ts): every endpoint of src/explore/api.ts, every validation error, traversal
 * attempts, oversized bodies, unknown ids; the feature page's neighbours checked by hand against the
 * fixture's decoder and its co-occurrence against the overlap coefficient computed from the codes; a run
 * without labels and families; and no machine path in any response.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cosine } from "../../src/core/vector.js";
import { allCooccurrence } from "../../src/explore/derive.js";
import { overlap, pairCount } from "../../src/families/cooccurrence.js";
import { MAX_BODY_BYTES, MAX_TEXT_CHARS, type DomainsResponse, type FamiliesResponse, type FamilyResponse, type FeatureResponse, type SearchResponse } from "../../src/explore/api.js";
import { buildExplorerDb } from "../../src/explore/build.js";
import { ExplorerDb } from "../../src/explore/db.js";
import { createExplorerApp, type OpenedContext, openExplorerContext, scrubPaths } from "../../src/explore/server.js";
import { CHILDREN, childOf, N_FEATURES, TOPICS } from "../fixtures/families/synthetic-sae.js";
import { type Fixture, FIXTURE_DOMAIN as X, fixtureInputs, OTHER_N } from "./fixture.js";

const root = mkdtempSync(join(tmpdir(), "saerch-explore-server-"));
const savedData = process.env.SAERCH_DATA;
/** Every response body seen, to check that none holds a machine path. */
const bodies: string[] = [];

interface Served {
  fx: Fixture;
  app: Hono;
  db: ExplorerDb;
  opened: OpenedContext;
}

async function serveFixture(name: string, opts: { labels?: boolean; families?: boolean; maps?: boolean } = {}): Promise<Served> {
  const fx = await fixtureInputs(join(root, name), opts);
  const path = join(root, name, "explorer.sqlite");
  await buildExplorerDb(fx.inputs, { path, embedder: fx.embedder, progress: false, maps: opts.maps ?? true, mapEpochs: 30 });
  const db = ExplorerDb.open(path);
  const web = join(root, name, "web");
  mkdirSync(join(web, "assets"), { recursive: true });
  writeFileSync(join(web, "index.html"), "<!doctype html><title>explorer</title>");
  writeFileSync(join(web, "app.js"), "console.log('app');");
  writeFileSync(join(web, "assets", "app.css"), "body{}");
  const opened = openExplorerContext({ db, store: fx.inputs.store, embedder: fx.embedder, saes: fx.inputs.domains.map((d) => ({ domain: d.domain, params: d.params, k: d.k })), webDir: web, threads: 1 });
  return { fx, app: createExplorerApp(opened.ctx), db, opened };
}

async function call(app: Hono, path: string, init?: { method?: string; body?: unknown; raw?: string; type?: string }): Promise<{ status: number; json: Record<string, unknown> & { error?: string; fix?: string }; text: string; type: string }> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (init?.raw !== undefined || init?.body !== undefined) {
    headers["content-type"] = init.type ?? "application/json";
    body = init.raw ?? JSON.stringify(init.body);
  }
  const res = await app.request(path, { method: init?.method ?? (body !== undefined ? "POST" : "GET"), headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  bodies.push(text);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // static files
  }
  return { status: res.status, json, text, type: res.headers.get("content-type") ?? "" };
}

let full: Served;
let bare: Served;

beforeAll(async () => {
  process.env.SAERCH_DATA = join(root, "data");
  full = await serveFixture("full");
  bare = await serveFixture("bare", { labels: false, families: false, maps: false });
});

afterAll(async () => {
  for (const s of [full, bare]) {
    await s?.opened.close();
    s?.db.close();
  }
  if (savedData === undefined) delete process.env.SAERCH_DATA;
  else process.env.SAERCH_DATA = savedData;
  rmSync(root, { recursive: true, force: true });
});

describe("GET /api/domains", () => {
  it("lists the domain with its sizes and nothing missing", async () => {
    const r = await call(full.app, "/api/domains");
    expect(r.status).toBe(200);
    const d = (r.json as unknown as DomainsResponse).domains;
    expect(d).toEqual([{ domain: X, sae: `${X}-n${N_FEATURES}-k4`, n: N_FEATURES, k: 4, documents: 600, labelled: N_FEATURES, families: expect.any(Number), maps: true, missing: [] }]);
    expect(d[0]!.families).toBeGreaterThanOrEqual(TOPICS);
  });

  it("says what is missing and which notebook makes it", async () => {
    const d = ((await call(bare.app, "/api/domains")).json as unknown as DomainsResponse).domains[0]!;
    expect(d.missing).toEqual(["no labels: run notebooks/04-interpret.ipynb", "no families: run notebooks/05-families.ipynb"]);
    expect(d).toMatchObject({ labelled: 0, families: 0, maps: false });
  });
});

describe("POST /api/search", () => {
  const search = (body: unknown, app = full.app) => call(app, "/api/search", { body });

  it("returns the top hits with metadata and the query's active features as sliders", async () => {
    const r = await search({ domain: X, query: "galaxy cluster" });
    expect(r.status).toBe(200);
    const s = r.json as unknown as SearchResponse;
    expect(s.hits).toHaveLength(10);
    expect(s.hits[0]).toMatchObject({ id: expect.stringMatching(/^p3-\d{4}$/), title: expect.stringMatching(/^Paper \d+ on /), year: expect.any(Number), categories: expect.any(Array) });
    expect(s.hits[0]!.url).toBe(`https://arxiv.org/abs/${s.hits[0]!.id}`);
    for (let i = 1; i < s.hits.length; i++) expect(s.hits[i]!.score).toBeLessThanOrEqual(s.hits[i - 1]!.score);
    expect(s.active.length).toBeGreaterThan(0);
    expect(s.active.length).toBeLessThanOrEqual(4);
    for (const a of s.active) {
      expect(a.label).toEqual(expect.any(String));
      expect(a.maxActivation).toBeGreaterThan(0);
      expect(a.hidden).toBe(false);
    }
    // Clamp without the error term (the app's form): cos(q, q') is below 1 even unedited.
    expect(s.cos).toBeGreaterThan(0);
    expect(s.cos).toBeLessThan(1);
  });

  it("changes the results when a slider moves, and marks dense features hidden", async () => {
    const base = (await search({ domain: X, query: "galaxy cluster" })).json as unknown as SearchResponse;
    const moved = (await search({ domain: X, query: "galaxy cluster", features: [{ feature: childOf(2, 0), value: 5 }] })).json as unknown as SearchResponse;
    expect(moved.hits.map((h) => h.id)).not.toEqual(base.hits.map((h) => h.id));
    const add = (await search({ domain: X, query: "galaxy cluster", form: "add", features: [{ feature: 3, value: 0 }] })).json as unknown as SearchResponse;
    expect(add.cos).toBeCloseTo(1, 6);
    const hidden = (await search({ domain: X, query: "galaxy cluster", maxDensity: 0 })).json as unknown as SearchResponse;
    expect(hidden.active.every((a) => a.hidden)).toBe(true);
    const k3 = (await search({ domain: X, query: "galaxy cluster", k: 3 })).json as unknown as SearchResponse;
    expect(k3.hits).toHaveLength(3);
  });

  it("steers by a whole family", async () => {
    const fams = ((await call(full.app, `/api/families/${X}`)).json as unknown as FamiliesResponse).families;
    const r = await search({ domain: X, query: "galaxy cluster", families: [{ id: fams[0]!.id, value: 3 }] });
    expect(r.status).toBe(200);
    expect((r.json as unknown as SearchResponse).cos).toBeLessThan(1);
  });

  it.each([
    ["no domain", { query: "x" }],
    ["an empty query", { domain: X, query: "" }],
    ["a query over the limit", { domain: X, query: "a".repeat(MAX_TEXT_CHARS + 1) }],
    ["k = 0", { domain: X, query: "x", k: 0 }],
    ["k = 51", { domain: X, query: "x", k: 51 }],
    ["a fractional k", { domain: X, query: "x", k: 2.5 }],
    ["an unknown form", { domain: X, query: "x", form: "scale" }],
    ["an unknown field", { domain: X, query: "x", extra: 1 }],
    ["a value over the bound", { domain: X, query: "x", features: [{ feature: 1, value: 101 }] }],
    ["a non-number value", { domain: X, query: "x", features: [{ feature: 1, value: "1" }] }],
    ["a negative feature id", { domain: X, query: "x", features: [{ feature: -1, value: 1 }] }],
    ["too many edits", { domain: X, query: "x", features: Array.from({ length: 65 }, (_, i) => ({ feature: i % 64, value: 1 })) }],
    ["maxDensity > 1", { domain: X, query: "x", maxDensity: 2 }],
    ["a traversal as domain", { domain: "../../etc", query: "x" }],
    ["a blank query", { domain: X, query: "   " }],
  ])("answers 400 for %s", async (_name, body) => {
    const r = await search(body);
    expect(r.status).toBe(400);
    expect(r.json.error).toEqual(expect.any(String));
  });

  it("answers 400 for a body that is not JSON or not declared as JSON", async () => {
    expect((await call(full.app, "/api/search", { raw: "{not json" })).status).toBe(400);
    const r = await call(full.app, "/api/search", { raw: JSON.stringify({ domain: X, query: "x" }), type: "text/plain" });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/JSON/);
    expect((await call(full.app, "/api/search", { method: "POST" })).status).toBe(400);
  });

  it("answers 404 for an unknown domain, feature or family", async () => {
    const d = await search({ domain: "hep-th", query: "x" });
    expect(d.status).toBe(404);
    expect(d.json.error).toBe('unknown domain "hep-th"');
    expect(d.json.fix).toBe(`use one of: ${X}`);
    const f = await search({ domain: X, query: "x", features: [{ feature: N_FEATURES, value: 1 }] });
    expect(f.status).toBe(404);
    expect(f.json.error).toBe(`feature ${N_FEATURES} does not exist in ${X} (${N_FEATURES} features: 0 … ${N_FEATURES - 1})`);
    const fam = await search({ domain: X, query: "x", families: [{ id: 9999, value: 1 }] });
    expect(fam.status).toBe(404);
    expect(fam.json.error).toBe(`family 9999 does not exist in ${X}`);
    expect(fam.json.fix).toMatch(/^\d+ families: see \/api\/families\/x$/);
    const none = await search({ domain: X, query: "x", families: [{ id: 0, value: 1 }] }, bare.app);
    expect(none.status).toBe(404);
    expect(none.json.fix).toMatch(/notebooks\/05-families\.ipynb/);
  });

  it("refuses a body over MAX_BODY_BYTES with 413", async () => {
    const r = await call(full.app, "/api/search", { raw: JSON.stringify({ domain: X, query: "x", pad: "a".repeat(MAX_BODY_BYTES) }) });
    expect(r.status).toBe(413);
    expect(r.json.error).toMatch(/larger than/);
  });
});

describe("GET /api/features/:domain/:id", () => {
  const feature = async (id: number, app = full.app): Promise<FeatureResponse> => (await call(app, `/api/features/${X}/${id}`)).json as unknown as FeatureResponse;

  it("shows the label, scores, density, histogram and top documents", async () => {
    const f = await feature(0);
    const rec = full.fx.planted.interpret.records[0]!;
    expect(f).toMatchObject({ domain: X, feature: 0, label: "galaxy, cluster", scorer: rec.scorer, f1: rec.f1, pearson: rec.pearson });
    expect(f.density).toBeCloseTo(full.fx.planted.sae.features.densityF[0]!, 12);
    expect(f.histogram.counts.reduce((a, b) => a + b, 0)).toBe(full.fx.planted.sae.features.countF[0]);
    expect(f.histogram.edges).toHaveLength(f.histogram.counts.length + 1);
    expect(f.top).toHaveLength(10);
    for (let i = 1; i < f.top.length; i++) expect(f.top[i]!.activation).toBeLessThanOrEqual(f.top[i - 1]!.activation);
    // Root 0 fires on every sixth document, the topic's own ("Paper i on galaxy cluster").
    for (const d of f.top) expect(d.title).toMatch(/on galaxy cluster$/);
    expect(f.quantiles.map((q) => q.quantile)).toEqual([0.5, 0.1]);
    for (const q of f.quantiles) {
      expect(q.docs).toHaveLength(5);
      expect(q.docs[0]!.activation).toBeLessThanOrEqual(f.top[f.top.length - 1]!.activation);
    }
  });

  it("lists the 5 most and least similar features by decoder cosine, correctly indexed (checked by hand)", async () => {
    const { wDecFD, d } = full.fx.planted.sae.params;
    for (const target of [0, 17, N_FEATURES - 1]) {
      const f = await feature(target);
      const row = (j: number): Float32Array => wDecFD.subarray(j * d, (j + 1) * d);
      const others = Array.from({ length: N_FEATURES }, (_, j) => j)
        .filter((j) => j !== target)
        .map((j) => ({ j, c: cosine(row(target), row(j)) }));
      const hi = [...others].sort((a, b) => b.c - a.c).slice(0, 5);
      const lo = [...others].sort((a, b) => a.c - b.c).slice(0, 5);
      expect(f.similar.map((x) => x.feature)).toEqual(hi.map((x) => x.j));
      expect(f.dissimilar.map((x) => x.feature)).toEqual(lo.map((x) => x.j));
      // Each listed cosine is the cosine of the listed feature (an off-by-one would pair them wrongly).
      for (const x of [...f.similar, ...f.dissimilar]) expect(x.cosine).toBeCloseTo(cosine(row(target), row(x.feature)), 5);
      expect(f.similar.some((x) => x.feature === target)).toBe(false);
      expect(f.similar[0]!.label).toEqual(expect.any(String));
    }
  });

  it("lists co-occurring features by the overlap coefficient from the codes, not by counts", async () => {
    const c = allCooccurrence(full.fx.inputs.domains[0]!.codes, N_FEATURES);
    // A child fires only beside its root: overlap 1 with it, though the root's denser noise partners share more documents with others.
    const child = childOf(1, 2);
    const f = await feature(child);
    expect(f.cooccurring[0]).toMatchObject({ feature: 1, overlap: 1 });
    for (const x of f.cooccurring) expect(x.overlap).toBeCloseTo(overlap(c, child, x.feature), 12);
    for (let i = 1; i < f.cooccurring.length; i++) expect(f.cooccurring[i]!.overlap).toBeLessThanOrEqual(f.cooccurring[i - 1]!.overlap);
    // For a root, all its children (overlap 1) come before any noise feature, whatever the raw counts say.
    const root = await feature(2);
    const kids = Array.from({ length: CHILDREN }, (_, i) => childOf(2, i));
    expect(root.cooccurring.slice(0, CHILDREN).map((x) => x.feature).sort((a, b) => a - b)).toEqual(kids);
    const byCount = Array.from({ length: N_FEATURES }, (_, j) => j).filter((j) => j !== 2).sort((a, b) => pairCount(c, 2, b) - pairCount(c, 2, a));
    expect(byCount.slice(0, CHILDREN).sort((a, b) => a - b)).not.toEqual(kids);
  });

  it("lists its families and its nearest features in the other SAE size", async () => {
    const f = await feature(0);
    expect(f.families.some((x) => x.role === "root")).toBe(true);
    const child = await feature(childOf(0, 1));
    expect(child.families.some((x) => x.role === "member")).toBe(true);
    expect(f.splitting).toEqual([{ sae: `${X}-sweep-n${OTHER_N}-k4`, feature: 0, cosine: expect.any(Number) }]);
    expect(f.splitting[0]!.cosine).toBeGreaterThan(0.9);
  });

  it("works without labels or families (nulls and empty lists)", async () => {
    const f = await feature(0, bare.app);
    expect(f).toMatchObject({ label: null, scorer: null, f1: null, pearson: null, families: [] });
    expect(f.similar).toHaveLength(5);
    expect(f.similar[0]!.label).toBeNull();
  });

  it.each([
    [`/api/features/${X}/abc`, 400],
    [`/api/features/${X}/-1`, 400],
    [`/api/features/${X}/1e3`, 400],
    [`/api/features/${X}/0x10`, 400],
    [`/api/features/${X}/1.5`, 400],
    [`/api/features/${X}/${N_FEATURES}`, 404],
    [`/api/features/${X}/99999999`, 404],
    ["/api/features/hep-th/1", 404],
    ["/api/features/..%2f..%2fetc/1", 400],
    ["/api/features/%2e%2e%2f%2e%2e%2fetc%2fpasswd/1", 400],
    [`/api/features/${X}/1%2f..%2f..`, 400],
  ])("answers GET %s with %i", async (path, status) => {
    const r = await call(full.app, path);
    expect(r.status).toBe(status);
    expect(r.json.error).toEqual(expect.any(String));
  });
});

describe("POST /api/features/:domain/:id/activation", () => {
  it("gives the feature's activation on a text and the text's active features", async () => {
    const r = await call(full.app, `/api/features/${X}/0/activation`, { body: { text: "galaxy cluster" } });
    expect(r.status).toBe(200);
    const a = r.json as unknown as { feature: number; activation: number; preActivation: number; active: Array<{ feature: number; activation: number; label: string | null }> };
    expect(a.feature).toBe(0);
    expect(a.active.length).toBeGreaterThan(0);
    const self = a.active.find((x) => x.feature === 0);
    expect(a.activation).toBe(self?.activation ?? 0);
    if (self) expect(a.preActivation).toBeCloseTo(self.activation, 5);
    expect(a.preActivation).toBeGreaterThanOrEqual(0);
    // The same text through a search gives the same active features.
    const s = (await call(full.app, "/api/search", { body: { domain: X, query: "galaxy cluster" } })).json as unknown as SearchResponse;
    expect(a.active.map((x) => x.feature)).toEqual(s.active.map((x) => x.feature));
  });

  it.each([
    [{ text: "" }, 400],
    [{ text: "a".repeat(MAX_TEXT_CHARS + 1) }, 400],
    [{ text: "  " }, 400],
    [{ words: "x" }, 400],
  ])("answers %j with %i", async (body, status) => {
    expect((await call(full.app, `/api/features/${X}/0/activation`, { body })).status).toBe(status);
  });

  it("answers 404 for an unknown feature", async () => {
    expect((await call(full.app, `/api/features/${X}/${N_FEATURES}/activation`, { body: { text: "x" } })).status).toBe(404);
  });
});

describe("GET /api/labels", () => {
  it("finds labels by keyword (FTS5) and by meaning (label embeddings)", async () => {
    const kw = await call(full.app, `/api/labels?domain=${X}&q=galaxy&limit=50`);
    expect(kw.status).toBe(200);
    const results = (kw.json as unknown as { results: Array<{ feature: number; label: string; score: number; density: number }> }).results;
    // "galaxy, cluster" and its six "galaxy, subtopic …" children.
    expect(results.map((r) => r.feature).sort((a, b) => a - b)).toEqual([0, ...Array.from({ length: CHILDREN }, (_, i) => childOf(0, i))]);
    // Prefix match, and FTS5 syntax in the input is treated as words.
    expect(((await call(full.app, `/api/labels?domain=${X}&q=gal`)).json as unknown as { results: unknown[] }).results.length).toBeGreaterThan(0);
    expect((await call(full.app, `/api/labels?domain=${X}&q=${encodeURIComponent('galaxy" OR noise*')}`)).status).toBe(200);
    expect(((await call(full.app, `/api/labels?domain=${X}&q=%22%2A%28`)).json as unknown as { results: unknown[] }).results).toEqual([]);
    // By meaning: the fake embedder maps a text to a fixed random vector, so the exact label ranks first.
    const mean = (await call(full.app, `/api/labels?domain=${X}&q=${encodeURIComponent("reinforcement, reward")}&mode=meaning&limit=3`)).json as unknown as { results: Array<{ feature: number; score: number }> };
    expect(mean.results).toHaveLength(3);
    expect(mean.results[0]).toMatchObject({ feature: 3 });
    expect(mean.results[0]!.score).toBeCloseTo(1, 5);
  });

  it.each([
    [`/api/labels?domain=${X}`, 400],
    [`/api/labels?q=x`, 400],
    [`/api/labels?domain=${X}&q=x&limit=51`, 400],
    [`/api/labels?domain=${X}&q=x&limit=0`, 400],
    [`/api/labels?domain=${X}&q=x&mode=fuzzy`, 400],
    [`/api/labels?domain=${X}&q=${"a".repeat(201)}`, 400],
    [`/api/labels?domain=${X}&q=x&path=/etc/passwd`, 400],
    ["/api/labels?domain=hep-th&q=x", 404],
  ])("answers GET %s with %i", async (path, status) => {
    expect((await call(full.app, path)).status).toBe(status);
  });

  it("without labels: no keyword hits, and search by meaning says which notebook to run", async () => {
    expect(((await call(bare.app, `/api/labels?domain=${X}&q=galaxy`)).json as unknown as { results: unknown[] }).results).toEqual([]);
    const m = await call(bare.app, `/api/labels?domain=${X}&q=galaxy&mode=meaning`);
    expect(m.status).toBe(404);
    expect(m.json.fix).toMatch(/notebooks\/04-interpret\.ipynb/);
  });
});

describe("families", () => {
  it("lists the forest and shows one family with its members, block and nested families", async () => {
    const list = (await call(full.app, `/api/families/${X}`)).json as unknown as FamiliesResponse;
    expect(list.featureSet).toBe("clean");
    // The planted families: each root with its six children.
    const roots = list.families.filter((f) => f.depth === 0).map((f) => f.root).sort((a, b) => a - b);
    expect(roots).toEqual(Array.from({ length: TOPICS }, (_, t) => t));
    const fam = list.families.find((f) => f.root === 4)!;
    expect(fam).toMatchObject({ rootLabel: "graph, neural", size: CHILDREN + 1 });
    const r = await call(full.app, `/api/families/${X}/${fam.id}`);
    expect(r.status).toBe(200);
    const f = r.json as unknown as FamilyResponse;
    expect(f.root).toEqual({ feature: 4, label: "graph, neural" });
    expect(f.members.map((m) => m.feature).sort((a, b) => a - b)).toEqual(Array.from({ length: CHILDREN }, (_, i) => childOf(4, i)));
    for (const m of f.members) expect(m).toMatchObject({ parent: 4, depth: 1, label: expect.stringMatching(/^graph, subtopic/) });
    expect(f.block.features).toEqual([4, ...f.members.map((m) => m.feature)]);
    expect(f.block.overlap).toHaveLength(49);
    // The diagonal is 1; the root's row is 1 everywhere (every child fires only beside it).
    for (let i = 0; i < 7; i++) expect(f.block.overlap[i * 7 + i]).toBe(1);
    expect(f.block.overlap.slice(0, 7)).toEqual(new Array(7).fill(1));
    expect(f.nested).toEqual([]);
  });

  it.each([
    [`/api/families/${X}/9999`, 404],
    [`/api/families/${X}/x`, 400],
    ["/api/families/hep-th", 404],
    ["/api/families/..%2F..", 400],
  ])("answers GET %s with %i", async (path, status) => {
    expect((await call(full.app, path)).status).toBe(status);
  });

  it("without families: an empty forest, and a family page that names notebook 05", async () => {
    expect(((await call(bare.app, `/api/families/${X}`)).json as unknown as FamiliesResponse).families).toEqual([]);
    const r = await call(bare.app, `/api/families/${X}/0`);
    expect(r.status).toBe(404);
    expect(r.json.fix).toBe("this SAE has no families: run notebooks/05-families.ipynb");
  });
});

describe("GET /api/maps/:domain/:kind", () => {
  it("serves the feature map and the document map, each in [−1, 1]", async () => {
    const fm = (await call(full.app, `/api/maps/${X}/features`)).json as unknown as { points: number[]; ids: number[]; names: string[]; density: number[]; family: Array<number | null> };
    expect(fm.ids).toEqual(Array.from({ length: N_FEATURES }, (_, i) => i));
    expect(fm.points).toHaveLength(2 * N_FEATURES);
    expect(fm.names[0]).toBe("galaxy, cluster");
    expect(fm.density).toHaveLength(N_FEATURES);
    expect(fm.family[0]).toEqual(expect.any(Number));
    for (const v of fm.points) expect(Math.abs(v)).toBeLessThanOrEqual(1);
    expect(Math.max(...fm.points.map(Math.abs))).toBe(1);
    const dm = (await call(full.app, `/api/maps/${X}/documents`)).json as unknown as { points: number[]; ids: string[]; names: string[]; domainOf: string[] };
    expect(dm.ids).toHaveLength(600);
    expect(dm.points).toHaveLength(1200);
    expect(dm.domainOf.every((d) => d === X)).toBe(true);
    for (const v of dm.points) expect(Math.abs(v)).toBeLessThanOrEqual(1);
  });

  it.each([
    [`/api/maps/${X}/topics`, 400],
    ["/api/maps/hep-th/features", 404],
  ])("answers GET %s with %i", async (path, status) => {
    expect((await call(full.app, path)).status).toBe(status);
  });

  it("answers 404 with the fix when the database was built without maps", async () => {
    const r = await call(bare.app, `/api/maps/${X}/features`);
    expect(r.status).toBe(404);
    expect(r.json.fix).toMatch(/explore:build/);
  });
});

describe("lists", () => {
  it("saves a list, lists it, reads it back, and runs one text across it", async () => {
    const saved = await call(full.app, "/api/lists", { body: { domain: X, name: "  galaxies  ", features: [0, 6, 6, 7] } });
    expect(saved.status).toBe(200);
    expect(saved.json).toEqual({ id: expect.any(Number), domain: X, name: "galaxies", features: [0, 6, 7] });
    const all = (await call(full.app, `/api/lists?domain=${X}`)).json as unknown as { lists: unknown[] };
    expect(all.lists).toContainEqual(saved.json);
    expect((await call(full.app, `/api/lists/${saved.json.id as number}`)).json).toEqual(saved.json);
    const run = await call(full.app, "/api/lists/run", { body: { domain: X, features: [0, 6, 7], text: "galaxy cluster" } });
    expect(run.status).toBe(200);
    const res = (run.json as unknown as { results: Array<{ feature: number; label: string; activation: number; preActivation: number }> }).results;
    expect(res.map((r) => r.feature)).toEqual([0, 6, 7]);
    expect(res[0]!.label).toBe("galaxy, cluster");
    for (const r of res) expect(r.preActivation).toBeGreaterThanOrEqual(r.activation > 0 ? r.activation - 1e-5 : 0);
  });

  it.each([
    ["/api/lists", { domain: X, name: "", features: [1] }, 400],
    ["/api/lists", { domain: X, name: "   ", features: [1] }, 400],
    ["/api/lists", { domain: X, name: "a".repeat(81), features: [1] }, 400],
    ["/api/lists", { domain: X, name: "n", features: [] }, 400],
    ["/api/lists", { domain: X, name: "n", features: Array.from({ length: 201 }, () => 1) }, 400],
    ["/api/lists", { domain: X, name: "n", features: [N_FEATURES] }, 404],
    ["/api/lists", { domain: "hep-th", name: "n", features: [1] }, 404],
    ["/api/lists/run", { domain: X, features: [1], text: "" }, 400],
    ["/api/lists/run", { domain: X, features: [], text: "x" }, 400],
    ["/api/lists/run", { domain: X, features: [N_FEATURES], text: "x" }, 404],
  ])("answers POST %s %j with %i", async (path, body, status) => {
    expect((await call(full.app, path, { body })).status).toBe(status);
  });

  it.each([
    ["/api/lists/99999", 404],
    ["/api/lists/abc", 400],
    ["/api/lists?domain=..%2F..", 400],
    ["/api/lists?domain=hep-th", 404],
  ])("answers GET %s with %i", async (path, status) => {
    expect((await call(full.app, path)).status).toBe(status);
  });
});

describe("routing and static files", () => {
  it("serves the front end and falls back to index.html for page routes only", async () => {
    const index = await call(full.app, "/");
    expect(index.status).toBe(200);
    expect(index.type).toMatch(/text\/html/);
    expect(index.text).toContain("<title>explorer</title>");
    expect((await call(full.app, "/app.js")).type).toMatch(/javascript/);
    expect((await call(full.app, "/assets/app.css")).text).toBe("body{}");
    expect((await call(full.app, `/feature/${X}/3`)).text).toContain("<title>explorer</title>");
    expect((await call(full.app, "/missing.js")).status).toBe(404);
  });

  it.each(["/../package.json", "/..%2fpackage.json", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd", "/assets/..%2f..%2fpackage.json", "/%2e%2e%2fpackage.json", "//etc/passwd", "/index.html/../../package.json"])(
    "never serves a file outside the front end for %s",
    async (path) => {
      const r = await call(full.app, path);
      expect(r.text).not.toMatch(/saerch-ts|root:/);
      if (r.status === 200) expect(r.text).toContain("<title>explorer</title>");
      else expect(r.status).toBe(404);
    },
  );

  it("answers unknown API routes and methods with JSON 404", async () => {
    const r = await call(full.app, "/api/nothing");
    expect(r.status).toBe(404);
    expect(r.json.error).toMatch(/no API endpoint GET \/api\/nothing/);
    expect((await call(full.app, "/api/domains", { method: "DELETE" })).status).toBe(404);
  });
});

describe("responses", () => {
  it("never hold a machine path or a key", () => {
    expect(bodies.length).toBeGreaterThan(50);
    for (const b of bodies) {
      expect(b).not.toContain(root);
      expect(b).not.toContain(tmpdir());
      expect(b).not.toMatch(/\/work\/|\/home\/|sk-[A-Za-z0-9]{10}/);
    }
  });

  it("scrubs absolute paths from error messages", () => {
    expect(scrubPaths("cannot read /tmp/x/data/embed/store (missing)")).toBe("cannot read <path> (missing)");
    expect(scrubPaths("feature 3 does not exist in cs.LG")).toBe("feature 3 does not exist in cs.LG");
    expect(scrubPaths("C:/Users/me/data/x.npy is missing")).toBe("<path> is missing");
    expect(scrubPaths("64 families: see /api/families/x; run notebooks/05-families.ipynb")).toBe("64 families: see /api/families/x; run notebooks/05-families.ipynb");
  });
});
