/**
 * The explorer database: one SQLite file per run (`data/explore/<runId>/explorer.sqlite`, better-sqlite3)
 * holding everything the pages show, so the server answers from it and a researcher can open it in any
 * SQLite client. Built by src/explore/build.ts; this module holds the schema and the reads.
 *
 * Tables (every per-SAE table is keyed by `domain`; feature ids are the SAE's latent indices, documents are
 * store rows):
 *   meta(key, value)                         version, profile, inputs hash, input run directories, timings
 *   domains(domain, sae, n, k, documents, labelled, families, feature_set, maps, missing)
 *   documents(row, id, title, year, categories, domain)           + documents_fts(title) FTS5
 *   features(domain, feature, label, scorer, f1, pearson, density, count, mean_activation, max_activation,
 *            hist_edges, hist_counts)                            + labels_fts(label) FTS5
 *   label_vectors(domain, feature, vector)  the label embedded with the store's embedder, float16 blob (LE)
 *   feature_docs(domain, feature, quantile, rank, row, activation)   quantile 1 = the top documents
 *   neighbours(domain, feature, kind, rank, other, cosine)      kind 'similar' | 'dissimilar' (decoder cosine)
 *   cooccurrence(domain, feature, rank, other, overlap, count)  by the overlap coefficient C/min(n_i, n_j)
 *   families(domain, id, root, label, size, depth, parent_family, round, f1, pearson, feature_set)
 *   family_members(domain, family, feature, parent, weight, depth, given_parent)
 *   family_blocks(domain, family, features, overlap)            int32 / float32 blobs, row-major
 *   splitting(domain, feature, sae, other, cosine)             nearest decoder in the sweep's other sizes
 *   map_points(map, idx, x, y)   map 'features:<domain>' (idx = feature) or 'documents' (idx = store row)
 *   lists(id, domain, name, features, created)                  saved feature lists (kept across rebuilds)
 */
import Database from "better-sqlite3";
import { float16ToFloat32, float32ToFloat16 } from "../io/npy.js";

/** Schema version: a database of another version is rebuilt. */
export const EXPLORER_DB_VERSION = 2;
/** File name of the database inside its run directory. */
export const EXPLORER_DB_FILE = "explorer.sqlite";
/** The map id of the document map (shared by the domains). */
export const DOCUMENTS_MAP = "documents";
/** The map id of a domain's feature map. */
export const featuresMap = (domain: string): string => `features:${domain}`;

/** The schema, statement by statement. */
export const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE domains (
  domain TEXT PRIMARY KEY, sae TEXT NOT NULL, n INTEGER NOT NULL, k INTEGER NOT NULL, documents INTEGER NOT NULL,
  labelled INTEGER NOT NULL, families INTEGER NOT NULL, feature_set TEXT, maps INTEGER NOT NULL, missing TEXT NOT NULL
);
CREATE TABLE documents (row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT NOT NULL, year INTEGER, categories TEXT NOT NULL, domain TEXT NOT NULL);
CREATE VIRTUAL TABLE documents_fts USING fts5(title, content='documents', content_rowid='row');
CREATE TABLE features (
  domain TEXT NOT NULL, feature INTEGER NOT NULL, label TEXT, scorer TEXT, f1 REAL, pearson REAL,
  density REAL NOT NULL, count INTEGER NOT NULL, mean_activation REAL NOT NULL, max_activation REAL NOT NULL,
  hist_edges TEXT NOT NULL, hist_counts TEXT NOT NULL,
  PRIMARY KEY (domain, feature)
);
CREATE VIRTUAL TABLE labels_fts USING fts5(label, domain UNINDEXED, feature UNINDEXED);
CREATE TABLE label_vectors (domain TEXT NOT NULL, feature INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (domain, feature));
CREATE TABLE feature_docs (domain TEXT NOT NULL, feature INTEGER NOT NULL, quantile REAL NOT NULL, rank INTEGER NOT NULL, row INTEGER NOT NULL, activation REAL NOT NULL, PRIMARY KEY (domain, feature, quantile, rank));
CREATE TABLE neighbours (domain TEXT NOT NULL, feature INTEGER NOT NULL, kind TEXT NOT NULL, rank INTEGER NOT NULL, other INTEGER NOT NULL, cosine REAL NOT NULL, PRIMARY KEY (domain, feature, kind, rank));
CREATE TABLE cooccurrence (domain TEXT NOT NULL, feature INTEGER NOT NULL, rank INTEGER NOT NULL, other INTEGER NOT NULL, overlap REAL NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (domain, feature, rank));
CREATE TABLE families (
  domain TEXT NOT NULL, id INTEGER NOT NULL, root INTEGER NOT NULL, label TEXT, size INTEGER NOT NULL, depth INTEGER NOT NULL,
  parent_family INTEGER, round INTEGER NOT NULL, f1 REAL, pearson REAL, feature_set TEXT NOT NULL,
  PRIMARY KEY (domain, id)
);
CREATE TABLE family_members (domain TEXT NOT NULL, family INTEGER NOT NULL, feature INTEGER NOT NULL, parent INTEGER NOT NULL, weight REAL NOT NULL, depth INTEGER NOT NULL, given_parent REAL NOT NULL, PRIMARY KEY (domain, family, feature));
CREATE INDEX family_members_by_feature ON family_members (domain, feature);
CREATE TABLE family_blocks (domain TEXT NOT NULL, family INTEGER NOT NULL, features BLOB NOT NULL, overlap BLOB NOT NULL, PRIMARY KEY (domain, family));
CREATE TABLE splitting (domain TEXT NOT NULL, feature INTEGER NOT NULL, sae TEXT NOT NULL, other INTEGER NOT NULL, cosine REAL NOT NULL, PRIMARY KEY (domain, feature, sae));
CREATE TABLE map_points (map TEXT NOT NULL, idx INTEGER NOT NULL, x REAL NOT NULL, y REAL NOT NULL, PRIMARY KEY (map, idx));
CREATE TABLE lists (id INTEGER PRIMARY KEY AUTOINCREMENT, domain TEXT NOT NULL, name TEXT NOT NULL, features TEXT NOT NULL, created TEXT NOT NULL);
`;

/** A row of `domains`. */
export interface DomainRow {
  domain: string;
  sae: string;
  n: number;
  k: number;
  documents: number;
  labelled: number;
  families: number;
  featureSet: string | null;
  maps: boolean;
  missing: string[];
}

/** A row of `features`, parsed. */
export interface FeatureRow {
  feature: number;
  label: string | null;
  scorer: string | null;
  f1: number | null;
  pearson: number | null;
  density: number;
  count: number;
  meanActivation: number;
  maxActivation: number;
  histogram: { edges: number[]; counts: number[] };
}

/** A document as the pages list it. */
export interface DocRow {
  row: number;
  id: string;
  title: string;
  year: number | null;
  categories: string[];
  domain: string;
}

/** A family row. */
export interface FamilyRow {
  id: number;
  root: number;
  label: string | null;
  size: number;
  depth: number;
  parentFamily: number | null;
  round: number;
  f1: number | null;
  pearson: number | null;
  featureSet: string;
}

/** A family member row. */
export interface MemberRow {
  feature: number;
  parent: number;
  weight: number;
  depth: number;
  givenParent: number;
}

/** A saved list. */
export interface ListRow {
  id: number;
  domain: string;
  name: string;
  features: number[];
}

/** Per-domain feature columns kept in memory (labels, densities, slider ranges) for fast search responses. */
export interface FeatureColumns {
  labelF: Array<string | null>;
  densityF: Float64Array;
  maxActivationF: Float32Array;
}

type Raw = Record<string, unknown>;

/** A float32 blob as a Float32Array (copied, so it does not alias SQLite's buffer). */
export function floatsOf(blob: Buffer): Float32Array {
  const out = new Float32Array(blob.byteLength / 4);
  new Uint8Array(out.buffer).set(blob);
  return out;
}

/** An int32 blob as an Int32Array (copied). */
export function intsOf(blob: Buffer): Int32Array {
  const out = new Int32Array(blob.byteLength / 4);
  new Uint8Array(out.buffer).set(blob);
  return out;
}

/** A float32 vector as a float16 blob (half the bytes; cosines change by ~1e-3, enough to rank labels). */
export function halvesOf(vD: Float32Array): Buffer {
  const h = float32ToFloat16(vD);
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength);
}

/** A float16 blob as a Float32Array. */
export function fromHalves(blob: Buffer): Float32Array {
  const h = new Uint16Array(blob.byteLength / 2);
  new Uint8Array(h.buffer).set(blob);
  return float16ToFloat32(h);
}

/** A typed array as a blob. */
export function blobOf(a: Float32Array | Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * An FTS5 MATCH expression for free text: its words (letters and digits), each quoted and prefix-matched,
 * all required. Quoting makes every FTS5 operator in the input a plain word; empty when there are none.
 */
export function ftsQuery(text: string): string {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return words
    .slice(0, 16)
    .map((w) => `"${w}"*`)
    .join(" ");
}

/** Reads (and list writes) over an explorer database. */
export class ExplorerDb {
  readonly db: Database.Database;
  private readonly columns = new Map<string, FeatureColumns>();
  private docs: DocRow[] | undefined;
  private readonly stmts = new Map<string, Database.Statement>();

  private constructor(db: Database.Database) {
    this.db = db;
  }

  /** Open a built database (read-write: saved lists are written to it). */
  static open(path: string, opts: { readonly?: boolean } = {}): ExplorerDb {
    const db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: true });
    db.pragma("journal_mode = DELETE");
    return new ExplorerDb(db);
  }

  close(): void {
    this.db.close();
  }

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /** The meta table as a record. */
  meta(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const r of this.stmt("SELECT key, value FROM meta").all() as Array<{ key: string; value: string }>) out[r.key] = r.value;
    return out;
  }

  domains(): DomainRow[] {
    return (this.stmt("SELECT * FROM domains ORDER BY domain").all() as Raw[]).map((r) => ({
      domain: r.domain as string,
      sae: r.sae as string,
      n: r.n as number,
      k: r.k as number,
      documents: r.documents as number,
      labelled: r.labelled as number,
      families: r.families as number,
      featureSet: (r.feature_set as string | null) ?? null,
      maps: r.maps === 1,
      missing: JSON.parse(r.missing as string) as string[],
    }));
  }

  domain(domain: string): DomainRow | undefined {
    return this.domains().find((d) => d.domain === domain);
  }

  feature(domain: string, feature: number): FeatureRow | undefined {
    const r = this.stmt("SELECT * FROM features WHERE domain = ? AND feature = ?").get(domain, feature) as Raw | undefined;
    if (r === undefined) return undefined;
    return {
      feature: r.feature as number,
      label: (r.label as string | null) ?? null,
      scorer: (r.scorer as string | null) ?? null,
      f1: (r.f1 as number | null) ?? null,
      pearson: (r.pearson as number | null) ?? null,
      density: r.density as number,
      count: r.count as number,
      meanActivation: r.mean_activation as number,
      maxActivation: r.max_activation as number,
      histogram: { edges: JSON.parse(r.hist_edges as string) as number[], counts: JSON.parse(r.hist_counts as string) as number[] },
    };
  }

  /** Labels, densities and slider ranges of every feature of a domain (cached). */
  featureColumns(domain: string): FeatureColumns {
    let c = this.columns.get(domain);
    if (c === undefined) {
      const rows = this.stmt("SELECT feature, label, density, max_activation FROM features WHERE domain = ? ORDER BY feature").all(domain) as Raw[];
      const n = rows.length === 0 ? 0 : (rows[rows.length - 1]!.feature as number) + 1;
      c = { labelF: new Array<string | null>(n).fill(null), densityF: new Float64Array(n), maxActivationF: new Float32Array(n) };
      for (const r of rows) {
        const f = r.feature as number;
        c.labelF[f] = (r.label as string | null) ?? null;
        c.densityF[f] = r.density as number;
        c.maxActivationF[f] = r.max_activation as number;
      }
      this.columns.set(domain, c);
    }
    return c;
  }

  /** Every document, by store row (cached). */
  documents(): DocRow[] {
    this.docs ??= (this.stmt("SELECT * FROM documents ORDER BY row").all() as Raw[]).map((r) => ({
      row: r.row as number,
      id: r.id as string,
      title: r.title as string,
      year: (r.year as number | null) ?? null,
      categories: JSON.parse(r.categories as string) as string[],
      domain: r.domain as string,
    }));
    return this.docs;
  }

  /** Documents of a feature at one quantile (1 = the top documents), by rank. */
  featureDocs(domain: string, feature: number): Array<{ quantile: number; rank: number; row: number; activation: number }> {
    return this.stmt("SELECT quantile, rank, row, activation FROM feature_docs WHERE domain = ? AND feature = ? ORDER BY quantile DESC, rank").all(domain, feature) as Array<{ quantile: number; rank: number; row: number; activation: number }>;
  }

  neighbours(domain: string, feature: number, kind: "similar" | "dissimilar"): Array<{ other: number; cosine: number }> {
    return this.stmt("SELECT other, cosine FROM neighbours WHERE domain = ? AND feature = ? AND kind = ? ORDER BY rank").all(domain, feature, kind) as Array<{ other: number; cosine: number }>;
  }

  cooccurring(domain: string, feature: number): Array<{ other: number; overlap: number; count: number }> {
    return this.stmt("SELECT other, overlap, count FROM cooccurrence WHERE domain = ? AND feature = ? ORDER BY rank").all(domain, feature) as Array<{ other: number; overlap: number; count: number }>;
  }

  splitting(domain: string, feature: number): Array<{ sae: string; other: number; cosine: number }> {
    return this.stmt("SELECT sae, other, cosine FROM splitting WHERE domain = ? AND feature = ? ORDER BY sae").all(domain, feature) as Array<{ sae: string; other: number; cosine: number }>;
  }

  /** Families a feature is in: as root, or as a member. */
  familiesOfFeature(domain: string, feature: number): Array<FamilyRow & { role: "root" | "member" }> {
    const roots = (this.stmt("SELECT * FROM families WHERE domain = ? AND root = ? ORDER BY id").all(domain, feature) as Raw[]).map((r) => ({ ...familyRow(r), role: "root" as const }));
    const members = (this.stmt("SELECT f.* FROM family_members m JOIN families f ON f.domain = m.domain AND f.id = m.family WHERE m.domain = ? AND m.feature = ? ORDER BY f.id").all(domain, feature) as Raw[]).map((r) => ({ ...familyRow(r), role: "member" as const }));
    return [...roots, ...members];
  }

  families(domain: string): FamilyRow[] {
    return (this.stmt("SELECT * FROM families WHERE domain = ? ORDER BY id").all(domain) as Raw[]).map(familyRow);
  }

  family(domain: string, id: number): FamilyRow | undefined {
    const r = this.stmt("SELECT * FROM families WHERE domain = ? AND id = ?").get(domain, id) as Raw | undefined;
    return r === undefined ? undefined : familyRow(r);
  }

  members(domain: string, family: number): MemberRow[] {
    return (this.stmt("SELECT feature, parent, weight, depth, given_parent FROM family_members WHERE domain = ? AND family = ? ORDER BY depth, feature").all(domain, family) as Raw[]).map((r) => ({
      feature: r.feature as number,
      parent: r.parent as number,
      weight: r.weight as number,
      depth: r.depth as number,
      givenParent: r.given_parent as number,
    }));
  }

  /** All members of every family of a domain (for the steering map). */
  allMembers(domain: string): Array<MemberRow & { family: number }> {
    return (this.stmt("SELECT family, feature, parent, weight, depth, given_parent FROM family_members WHERE domain = ? ORDER BY family, depth, feature").all(domain) as Raw[]).map((r) => ({
      family: r.family as number,
      feature: r.feature as number,
      parent: r.parent as number,
      weight: r.weight as number,
      depth: r.depth as number,
      givenParent: r.given_parent as number,
    }));
  }

  familyBlock(domain: string, family: number): { features: number[]; overlap: number[] } | undefined {
    const r = this.stmt("SELECT features, overlap FROM family_blocks WHERE domain = ? AND family = ?").get(domain, family) as { features: Buffer; overlap: Buffer } | undefined;
    if (r === undefined) return undefined;
    return { features: Array.from(intsOf(r.features)), overlap: Array.from(floatsOf(r.overlap), (v) => Math.round(v * 1e4) / 1e4) };
  }

  /** Nested families of a family (those whose parent_family it is). */
  nested(domain: string, family: number): number[] {
    return (this.stmt("SELECT id FROM families WHERE domain = ? AND parent_family = ? ORDER BY id").all(domain, family) as Array<{ id: number }>).map((r) => r.id);
  }

  /** Points of one map, by idx. */
  mapPoints(map: string): Array<{ idx: number; x: number; y: number }> {
    return this.stmt("SELECT idx, x, y FROM map_points WHERE map = ? ORDER BY idx").all(map) as Array<{ idx: number; x: number; y: number }>;
  }

  /** The first family of each feature (root first, then member; lowest id), for colouring maps. */
  familyOfFeatures(domain: string): Map<number, number> {
    const out = new Map<number, number>();
    for (const r of this.stmt("SELECT root AS feature, id FROM families WHERE domain = ? UNION ALL SELECT feature, family AS id FROM family_members WHERE domain = ? ORDER BY id").all(domain, domain) as Array<{ feature: number; id: number }>) {
      if (!out.has(r.feature)) out.set(r.feature, r.id);
    }
    return out;
  }

  /** Keyword search over labels (FTS5, bm25 rank). */
  labelsByKeyword(domain: string, q: string, limit: number): Array<{ feature: number; label: string; score: number }> {
    const match = ftsQuery(q);
    if (match === "") return [];
    const rows = this.stmt("SELECT feature, label, bm25(labels_fts) AS rank FROM labels_fts WHERE labels_fts MATCH ? AND domain = ? ORDER BY rank, feature LIMIT ?").all(match, domain, limit) as Array<{ feature: number; label: string; rank: number }>;
    return rows.map((r) => ({ feature: r.feature, label: r.label, score: -r.rank }));
  }

  /** Keyword search over document titles (FTS5). */
  titlesByKeyword(q: string, limit: number): Array<{ row: number; score: number }> {
    const match = ftsQuery(q);
    if (match === "") return [];
    return (this.stmt("SELECT rowid AS row, bm25(documents_fts) AS rank FROM documents_fts WHERE documents_fts MATCH ? ORDER BY rank, rowid LIMIT ?").all(match, limit) as Array<{ row: number; rank: number }>).map((r) => ({ row: r.row, score: -r.rank }));
  }

  /** `[L, D]` label vectors of a domain with their feature ids. */
  labelVectors(domain: string): { featuresL: Int32Array; vectorsLD: Float32Array; d: number } {
    const rows = this.stmt("SELECT feature, vector FROM label_vectors WHERE domain = ? ORDER BY feature").all(domain) as Array<{ feature: number; vector: Buffer }>;
    const d = rows.length > 0 ? rows[0]!.vector.byteLength / 2 : 0;
    const vectorsLD = new Float32Array(rows.length * d);
    rows.forEach((r, i) => vectorsLD.set(fromHalves(r.vector), i * d));
    return { featuresL: Int32Array.from(rows, (r) => r.feature), vectorsLD, d };
  }

  saveList(domain: string, name: string, features: readonly number[]): ListRow {
    const info = this.stmt("INSERT INTO lists (domain, name, features, created) VALUES (?, ?, ?, ?)").run(domain, name, JSON.stringify(features), new Date().toISOString());
    return { id: Number(info.lastInsertRowid), domain, name, features: [...features] };
  }

  lists(domain?: string): ListRow[] {
    const rows = (domain === undefined ? this.stmt("SELECT * FROM lists ORDER BY id").all() : this.stmt("SELECT * FROM lists WHERE domain = ? ORDER BY id").all(domain)) as Raw[];
    return rows.map(listRow);
  }

  list(id: number): ListRow | undefined {
    const r = this.stmt("SELECT * FROM lists WHERE id = ?").get(id) as Raw | undefined;
    return r === undefined ? undefined : listRow(r);
  }
}

function familyRow(r: Raw): FamilyRow {
  return {
    id: r.id as number,
    root: r.root as number,
    label: (r.label as string | null) ?? null,
    size: r.size as number,
    depth: r.depth as number,
    parentFamily: (r.parent_family as number | null) ?? null,
    round: r.round as number,
    f1: (r.f1 as number | null) ?? null,
    pearson: (r.pearson as number | null) ?? null,
    featureSet: r.feature_set as string,
  };
}

function listRow(r: Raw): ListRow {
  return { id: r.id as number, domain: r.domain as string, name: r.name as string, features: JSON.parse(r.features as string) as number[] };
}
