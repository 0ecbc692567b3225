/**
 * Tests for src/explore/build.ts, db.ts and run.ts on the fixture run: the schema a researcher can query,
 * FTS5 over labels and titles, the run directory derived from the inputs, staleness (an input file changes
 * → rebuilt; unchanged → reused), the atomic write (no temporary file left, a failed build keeps the old
 * database), saved lists carried over a rebuild, and the embedder check.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildExplorerDb } from "../../src/explore/build.js";
import { EXPLORER_DB_FILE, EXPLORER_DB_VERSION, ExplorerDb, ftsQuery } from "../../src/explore/db.js";
import { ensureExplorerDb, explorerRunDir, staleness } from "../../src/explore/run.js";
import { openExplorerContext } from "../../src/explore/server.js";
import { writeNpy } from "../../src/io/npy.js";
import { CODES_VALUES_FILE } from "../../src/sae/encode.js";
import { FakeEmbedder } from "../fixtures/embed/fake-embedder.js";
import { type Fixture, FIXTURE_DOMAIN as X, fixtureInputs } from "./fixture.js";

const root = mkdtempSync(join(tmpdir(), "saerch-explore-build-"));
const savedData = process.env.SAERCH_DATA;
let fx: Fixture;

beforeAll(async () => {
  process.env.SAERCH_DATA = join(root, "data");
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  fx = await fixtureInputs(join(root, "run"));
});
afterAll(() => {
  vi.restoreAllMocks();
  if (savedData === undefined) delete process.env.SAERCH_DATA;
  else process.env.SAERCH_DATA = savedData;
  rmSync(root, { recursive: true, force: true });
});

describe("the explorer database", () => {
  it("holds every table of the schema, queryable with plain SQL", async () => {
    const path = join(root, "schema", EXPLORER_DB_FILE);
    const report = await buildExplorerDb(fx.inputs, { path, embedder: fx.embedder, maps: false });
    expect(report.mapDocuments).toBe(0);
    const db = new Database(path, { readonly: true });
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%fts_%' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
    expect(tables).toEqual(["cooccurrence", "documents", "documents_fts", "domains", "families", "family_blocks", "family_members", "feature_docs", "features", "label_vectors", "labels_fts", "lists", "map_points", "meta", "neighbours", "splitting"]);
    const count = (t: string): number => (db.prepare(`SELECT COUNT(*) AS c FROM ${t}`).get() as { c: number }).c;
    expect(count("documents")).toBe(600);
    expect(count("features")).toBe(64);
    expect(count("neighbours")).toBe(64 * 10);
    expect(count("label_vectors")).toBe(64);
    expect(count("splitting")).toBe(64);
    // A researcher's query: the densest labelled features of the domain.
    const dense = db.prepare("SELECT feature, label FROM features WHERE domain = ? ORDER BY density DESC, feature LIMIT 6").all(X) as Array<{ feature: number }>;
    expect(dense.map((r) => r.feature)).toEqual([0, 1, 2, 3, 4, 5]);
    // FTS5 over titles.
    const titles = db.prepare("SELECT rowid FROM documents_fts WHERE documents_fts MATCH 'exoplanet' ORDER BY rowid LIMIT 3").all() as Array<{ rowid: number }>;
    expect(titles.map((r) => r.rowid)).toEqual([1, 7, 13]);
    const meta = Object.fromEntries((db.prepare("SELECT key, value FROM meta").all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    expect(meta).toMatchObject({ version: String(EXPLORER_DB_VERSION), profile: "fixture", embedder_id: fx.embedder.id });
    db.close();
    const edb = ExplorerDb.open(path);
    expect(edb.titlesByKeyword("exoplanet transit", 2).map((r) => r.row)).toEqual([1, 7]);
    edb.close();
    expect(readdirSync(dirname(path))).toEqual([EXPLORER_DB_FILE]);
  });

  it("quotes every word of a keyword query, so FTS5 syntax cannot be injected", () => {
    expect(ftsQuery('galaxy" OR x*')).toBe('"galaxy"* "or"* "x"*');
    expect(ftsQuery("NEAR(a b) -c ^d")).toBe('"near"* "a"* "b"* "c"* "d"*');
    expect(ftsQuery("*()\"")).toBe("");
  });

  it("lives in a run directory derived from the inputs' identities", () => {
    const dir = explorerRunDir(fx.inputs);
    expect(dirname(dir)).toBe(join(root, "data", "explore"));
    expect(basename(dir)).toMatch(/^explore-fixture-[0-9a-f]{10}$/);
    expect(explorerRunDir(fx.inputs)).toBe(dir);
    expect(existsSync(join(dir, "config.json"))).toBe(true);
  });

  it("is rebuilt when an input changes and reused when none does; lists survive the rebuild", async () => {
    const first = await ensureExplorerDb(fx.inputs, { embedder: fx.embedder, progress: false, maps: false });
    expect(first.built).not.toBeNull();
    expect(staleness(first.path, fx.inputs)).toBeNull();
    const again = await ensureExplorerDb(fx.inputs, { embedder: fx.embedder, progress: false, maps: false });
    expect(again.built).toBeNull();
    let db = ExplorerDb.open(first.path);
    const list = db.saveList(X, "kept", [1, 2, 3]);
    const maxBefore = db.feature(X, 0)!.maxActivation;
    db.close();

    // Notebook 02 re-encodes: the codes' values change on disk (and in the reopened inputs).
    const dom = fx.inputs.domains[0]!;
    const values = dom.codes.values.map((v) => v * 2);
    writeNpy(join(dom.saeDir, CODES_VALUES_FILE), values, [values.length / dom.k, dom.k]);
    const changed = { ...fx.inputs, domains: [{ ...dom, codes: { ...dom.codes, values }, features: { ...dom.features, maxActivationF: dom.features.maxActivationF.map((v) => v * 2) } }] };
    expect(staleness(first.path, changed)).toBe("its inputs changed since it was built");
    const rebuilt = await ensureExplorerDb(changed, { embedder: fx.embedder, progress: false, maps: false });
    expect(rebuilt.built).not.toBeNull();
    expect(rebuilt.path).toBe(first.path);
    db = ExplorerDb.open(rebuilt.path);
    expect(db.feature(X, 0)!.maxActivation).toBeCloseTo(2 * maxBefore, 5);
    expect(db.lists()).toEqual([list]);
    expect(db.feature(X, 0)!.histogram.edges.at(-1)).toBeCloseTo(2 * maxBefore, 5);
    db.close();
    expect(staleness(rebuilt.path, changed)).toBeNull();
    expect((await ensureExplorerDb(changed, { embedder: fx.embedder, progress: false, maps: false, force: true })).built).not.toBeNull();
    // Restore the fixture's codes for the other tests.
    writeNpy(join(dom.saeDir, CODES_VALUES_FILE), dom.codes.values, [dom.codes.values.length / dom.k, dom.k]);
  });

  it("reports a database of another schema version, or an unreadable one, as stale", async () => {
    const path = join(root, "version", EXPLORER_DB_FILE);
    expect(staleness(path, fx.inputs)).toBe("there is no explorer database yet");
    await buildExplorerDb(fx.inputs, { path, embedder: fx.embedder, progress: false, maps: false });
    const db = new Database(path);
    db.prepare("UPDATE meta SET value = '0' WHERE key = 'version'").run();
    db.close();
    expect(staleness(path, fx.inputs)).toBe(`the explorer database has schema version 0, not ${EXPLORER_DB_VERSION}`);
  });

  it("keeps the old database and leaves no temporary file when a build fails", async () => {
    const path = join(root, "atomic", EXPLORER_DB_FILE);
    // A temporary file of a killed build (no such process) is cleaned up by the next build.
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(join(dirname(path), `.${EXPLORER_DB_FILE}.tmp-999999999-abcd`), "partial");
    await buildExplorerDb(fx.inputs, { path, embedder: fx.embedder, progress: false, maps: false });
    expect(readdirSync(dirname(path))).toEqual([EXPLORER_DB_FILE]);
    const broken = new FakeEmbedder({ dim: 48, id: fx.embedder.id, corrupt: () => "short" });
    const failing = { ...broken, embed: () => Promise.reject(new Error("embedder died")) } as unknown as FakeEmbedder;
    await expect(buildExplorerDb(fx.inputs, { path, embedder: failing, progress: false, maps: false })).rejects.toThrow(/embedder died/);
    expect(readdirSync(dirname(path))).toEqual([EXPLORER_DB_FILE]);
    const db = ExplorerDb.open(path);
    expect(db.domains()).toHaveLength(1);
    db.close();
  });

  it("refuses an embedder other than the store's, for building and for serving", async () => {
    const other = new FakeEmbedder({ dim: 48, id: "other:48" });
    await expect(buildExplorerDb(fx.inputs, { path: join(root, "other", EXPLORER_DB_FILE), embedder: other, progress: false })).rejects.toThrow(/embedded with other:48 but the store holds/);
    const path = join(root, "schema", EXPLORER_DB_FILE);
    const db = ExplorerDb.open(path);
    expect(() => openExplorerContext({ db, store: fx.inputs.store, embedder: other, saes: [] })).toThrow(/other:48/);
    expect(() => openExplorerContext({ db, store: fx.inputs.store, embedder: fx.embedder, saes: [] })).toThrow(/no SAE was given for it/);
    db.close();
  });
});
