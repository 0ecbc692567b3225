/**
 * Build an explorer database (src/explore/db.ts) from a run's inputs (src/explore/inputs.ts): documents,
 * features with their labels, scores, histograms and documents by quantile, decoder-cosine neighbours,
 * co-occurrence by the overlap coefficient, families and their members and blocks, feature splitting,
 * label embeddings (the store's embedder) and the UMAP maps. Written into a temporary file beside the
 * target and renamed over it, so a reader sees the old database or the new one, never half of one; the
 * saved lists of the old one are carried over.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import Database from "better-sqlite3";
import { SaerchError } from "../core/errors.js";
import { progress as startProgress } from "../core/progress.js";
import type { Embedder } from "../embed/embedder.js";
import { familyFeatures } from "../families/build.js";
import { localIndex, overlap, pairCount } from "../families/cooccurrence.js";
import { fsyncDir, tempPathFor } from "../io/atomic.js";
import { stableStringify } from "../io/artefact.js";
import { dataDir } from "../io/paths.js";
import { maxCosinePerRow } from "../core/vector.js";
import {
  activationHistogram,
  allCooccurrence,
  decoderNeighbours,
  featureActivations,
  QUANTILE_DOCS,
  QUANTILES,
  quantileWindow,
  TOP_DOCS,
  topCooccurring,
} from "./derive.js";
import { blobOf, DOCUMENTS_MAP, halvesOf, EXPLORER_DB_VERSION, featuresMap, SCHEMA } from "./db.js";
import { type DomainInputs, type ExplorerInputs, inputsHash, inputsIdentity } from "./inputs.js";
import { mapRows, umapLayout } from "./maps.js";

/** Most features in a family's stored overlap block (root, then members by depth): the largest families have hundreds. */
export const MAX_BLOCK_FEATURES = 256;
/** Labels embedded per call. */
const LABEL_BATCH = 256;
/** Seed of the maps. */
export const MAP_SEED = 0;

/** Options of buildExplorerDb. */
export interface BuildOptions {
  /** Target file (its directory is created). */
  path: string;
  /** The store's embedder, for the label vectors (its id must match the store's). */
  embedder: Embedder;
  /** Progress bar on stderr (default true). */
  progress?: boolean;
  /** Skip the UMAP maps (tests that do not look at them). */
  maps?: boolean;
  /** UMAP epochs (default: the library's choice). */
  mapEpochs?: number;
}

/** What a build did. */
export interface BuildReport {
  path: string;
  seconds: number;
  /** Seconds per UMAP map, by map id. */
  mapSeconds: Record<string, number>;
  /** Documents on the document map. */
  mapDocuments: number;
  inputsHash: string;
}

/** A path stored in the meta table: relative to the data directory (never shown in a response). */
const stored = (p: string): string => relative(dataDir(), p);

/**
 * Build the database for `inputs` at `opts.path` (atomically; the lists of an existing one are kept).
 * @throws SaerchError when the embedder does not match the store
 */
export async function buildExplorerDb(inputs: ExplorerInputs, opts: BuildOptions): Promise<BuildReport> {
  const t0 = performance.now();
  if (opts.embedder.id !== inputs.store.manifest.embedderId) {
    throw new SaerchError(`labels would be embedded with ${opts.embedder.id} but the store holds ${inputs.store.manifest.embedderId} vectors`, "build with the store's own embedder");
  }
  mkdirSync(dirname(opts.path), { recursive: true });
  removeAbandonedTemps(opts.path);
  const tmp = tempPathFor(opts.path);
  const db = new Database(tmp);
  const withMaps = opts.maps ?? true;
  const steps = 1 + inputs.domains.length * (withMaps ? 8 : 7) + (withMaps ? 1 : 0);
  const bar = opts.progress === false ? undefined : startProgress(steps, "building the explorer database", { unit: "steps" });
  let done = 0;
  const step = (): void => bar?.update(++done);
  const mapSeconds: Record<string, number> = {};
  let mapDocuments = 0;
  const hash = inputsHash(inputs.pieces);
  try {
    db.pragma("journal_mode = OFF");
    db.pragma("synchronous = OFF");
    db.exec(SCHEMA);
    insertDocuments(db, inputs);
    step();
    for (const dom of inputs.domains) {
      await insertDomain(db, dom, opts.embedder, withMaps, step);
      if (withMaps) {
        const layout = umapLayout(dom.params.wDecFD, dom.params.n, dom.params.d, MAP_SEED, mapOpts(opts));
        insertMap(db, featuresMap(dom.domain), Int32Array.from({ length: dom.params.n }, (_, i) => i), layout.pointsM2);
        mapSeconds[featuresMap(dom.domain)] = layout.seconds;
        step();
      }
    }
    if (withMaps) {
      const rows = mapRows(inputs.store.count);
      const layout = umapLayout(inputs.store.gather(rows), rows.length, inputs.store.dim, MAP_SEED, mapOpts(opts));
      insertMap(db, DOCUMENTS_MAP, rows, layout.pointsM2);
      mapSeconds[DOCUMENTS_MAP] = layout.seconds;
      mapDocuments = rows.length;
      step();
    }
    copyLists(db, opts.path);
    const meta: Record<string, string> = {
      version: String(EXPLORER_DB_VERSION),
      profile: inputs.profile,
      inputs_hash: hash,
      identity: stableStringify(inputsIdentity(inputs)),
      pieces: JSON.stringify(inputs.pieces.map((p) => ({ dir: stored(p.dir), files: p.files }))),
      store_dir: stored(inputs.store.dir),
      sae_dirs: JSON.stringify(Object.fromEntries(inputs.domains.map((d) => [d.domain, stored(d.saeDir)]))),
      embedder_id: opts.embedder.id,
      map_seconds: JSON.stringify(mapSeconds),
      map_documents: String(mapDocuments),
      built_at: new Date().toISOString(),
      build_seconds: ((performance.now() - t0) / 1000).toFixed(1),
    };
    const put = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
    db.transaction(() => {
      for (const [k, v] of Object.entries(meta)) put.run(k, v);
    })();
    db.close();
    renameSync(tmp, opts.path);
    fsyncDir(dirname(opts.path));
  } catch (err) {
    if (db.open) db.close();
    rmSync(tmp, { force: true });
    throw err;
  }
  bar?.finish();
  return { path: opts.path, seconds: (performance.now() - t0) / 1000, mapSeconds, mapDocuments, inputsHash: hash };
}

const mapOpts = (opts: BuildOptions): { epochs?: number } => (opts.mapEpochs !== undefined ? { epochs: opts.mapEpochs } : {});

function insertDocuments(db: Database.Database, inputs: ExplorerInputs): void {
  const put = db.prepare("INSERT INTO documents (row, id, title, year, categories, domain) VALUES (?, ?, ?, ?, ?, ?)");
  db.transaction(() => {
    inputs.docs.forEach((d, row) => put.run(row, d.id, d.title, d.year, JSON.stringify(d.categories), inputs.rowDomains[row] ?? "other"));
  })();
  db.exec("INSERT INTO documents_fts (rowid, title) SELECT row, title FROM documents");
}

async function insertDomain(db: Database.Database, dom: DomainInputs, embedder: Embedder, withMaps: boolean, step: () => void): Promise<void> {
  const { params, codes, features } = dom;
  const n = params.n;
  const domain = dom.domain;
  const rowOf = (codesRow: number): number => dom.rows[codesRow]!;
  const labelOf = new Map((dom.labels ?? []).map((r) => [r.feature, r]));
  const acts = featureActivations(codes, n);

  // Features, their histograms and documents by quantile.
  const putFeature = db.prepare(
    "INSERT INTO features (domain, feature, label, scorer, f1, pearson, density, count, mean_activation, max_activation, hist_edges, hist_counts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const putFts = db.prepare("INSERT INTO labels_fts (label, domain, feature) VALUES (?, ?, ?)");
  const putDoc = db.prepare("INSERT INTO feature_docs (domain, feature, quantile, rank, row, activation) VALUES (?, ?, ?, ?, ?, ?)");
  db.transaction(() => {
    for (let f = 0; f < n; f++) {
      const rec = labelOf.get(f);
      const label = rec?.label ?? null;
      const a = acts.startF[f]!;
      const m = acts.startF[f + 1]! - a;
      const values = acts.values.subarray(a, a + m);
      const hist = activationHistogram(values);
      putFeature.run(domain, f, label, rec?.scorer ?? null, rec?.f1 ?? null, rec?.pearson ?? null, features.densityF[f]!, features.countF[f]!, features.meanActivationF[f]!, features.maxActivationF[f]!, JSON.stringify(hist.edges.map(round6)), JSON.stringify(hist.counts));
      if (label !== null) putFts.run(label, domain, f);
      for (let r = 0; r < Math.min(TOP_DOCS, m); r++) putDoc.run(domain, f, 1, r, rowOf(acts.rows[a + r]!), values[r]!);
      // Lower quantiles only where they are not just the top documents again.
      if (m > TOP_DOCS + QUANTILE_DOCS) {
        for (const q of QUANTILES) quantileWindow(m, q).forEach((pos, r) => putDoc.run(domain, f, q, r, rowOf(acts.rows[a + pos]!), values[pos]!));
      }
    }
  })();
  step();

  // Decoder-cosine neighbours.
  const nb = decoderNeighbours(params.wDecFD, n, params.d);
  const putNb = db.prepare("INSERT INTO neighbours (domain, feature, kind, rank, other, cosine) VALUES (?, ?, ?, ?, ?, ?)");
  db.transaction(() => {
    for (let f = 0; f < n; f++) {
      for (let r = 0; r < nb.k; r++) {
        putNb.run(domain, f, "similar", r, nb.similarFK[f * nb.k + r]!, nb.similarCosFK[f * nb.k + r]!);
        putNb.run(domain, f, "dissimilar", r, nb.dissimilarFK[f * nb.k + r]!, nb.dissimilarCosFK[f * nb.k + r]!);
      }
    }
  })();
  step();

  // Co-occurrence over the whole dictionary, listed by the overlap coefficient.
  const cooc = allCooccurrence(codes, n);
  const putCo = db.prepare("INSERT INTO cooccurrence (domain, feature, rank, other, overlap, count) VALUES (?, ?, ?, ?, ?, ?)");
  db.transaction(() => {
    for (let f = 0; f < n; f++) topCooccurring(cooc, f).forEach((c, r) => putCo.run(domain, f, r, c.feature, c.overlap, c.count));
  })();
  step();

  // Families, members and their overlap blocks.
  const fam = dom.families;
  if (fam !== null) {
    const famLabel = new Map(fam.records.map((r) => [r.family, r]));
    const localF = localIndex(fam.cooc.featuresM, fam.n);
    const putFam = db.prepare("INSERT INTO families (domain, id, root, label, size, depth, parent_family, round, f1, pearson, feature_set) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    const putMem = db.prepare("INSERT INTO family_members (domain, family, feature, parent, weight, depth, given_parent) VALUES (?, ?, ?, ?, ?, ?, ?)");
    const putBlock = db.prepare("INSERT INTO family_blocks (domain, family, features, overlap) VALUES (?, ?, ?, ?)");
    db.transaction(() => {
      for (const f of fam.build.families) {
        const rec = famLabel.get(f.id);
        putFam.run(domain, f.id, f.root, rec?.label ?? null, f.members.length + 1, f.depth, f.parentFamily, f.round, rec?.f1 ?? null, rec?.pearson ?? null, fam.featureSet);
        const root = localF[f.root]!;
        const nRoot = fam.cooc.countM[root]!;
        for (const m of f.members) putMem.run(domain, f.id, m.feature, m.parent, m.weight, m.depth, nRoot === 0 ? 0 : pairCount(fam.cooc, root, localF[m.feature]!) / nRoot);
        const block = familyFeatures(f).slice(0, MAX_BLOCK_FEATURES);
        const local = block.map((x) => localF[x]!);
        const ov = new Float32Array(block.length * block.length);
        local.forEach((a, i) => local.forEach((b, j) => (ov[i * block.length + j] = overlap(fam.cooc, a, b))));
        putBlock.run(domain, f.id, blobOf(Int32Array.from(block)), blobOf(ov));
      }
    })();
  }
  step();

  // Feature splitting: the nearest decoder direction in each other SAE size of the sweep.
  const putSplit = db.prepare("INSERT INTO splitting (domain, feature, sae, other, cosine) VALUES (?, ?, ?, ?, ?)");
  for (const other of dom.others) {
    if (other.params.d !== params.d) continue;
    const best = maxCosinePerRow({ rows: n, cols: params.d, data: params.wDecFD }, { rows: other.params.n, cols: other.params.d, data: other.params.wDecFD });
    db.transaction(() => {
      for (let f = 0; f < n; f++) putSplit.run(domain, f, other.name, best.indexN[f]!, best.valueN[f]!);
    })();
  }
  step();

  // Label vectors with the store's embedder, for label search by meaning.
  const labelled = [...labelOf.values()].filter((r) => r.label !== null);
  const putVec = db.prepare("INSERT INTO label_vectors (domain, feature, vector) VALUES (?, ?, ?)");
  for (let i = 0; i < labelled.length; i += LABEL_BATCH) {
    const batch = labelled.slice(i, i + LABEL_BATCH);
    const vecs = await embedder.embed(batch.map((r) => r.label!));
    const d = vecs.length / batch.length;
    db.transaction(() => batch.forEach((r, j) => putVec.run(domain, r.feature, halvesOf(vecs.slice(j * d, (j + 1) * d)))))();
  }
  step();

  db.prepare("INSERT INTO domains (domain, sae, n, k, documents, labelled, families, feature_set, maps, missing) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").run(
    domain,
    dom.sae,
    n,
    dom.k,
    dom.rows.length,
    labelled.length,
    fam?.build.families.length ?? 0,
    fam?.featureSet ?? null,
    withMaps ? 1 : 0,
    JSON.stringify(dom.missing),
  );
  step();
}

function insertMap(db: Database.Database, map: string, idx: Int32Array, pointsM2: Float32Array): void {
  const put = db.prepare("INSERT INTO map_points (map, idx, x, y) VALUES (?, ?, ?, ?)");
  db.transaction(() => idx.forEach((i, p) => put.run(map, i, round6(pointsM2[2 * p]!), round6(pointsM2[2 * p + 1]!))))();
}

/** Carry the saved lists of an existing database at `path` into the new one. */
function copyLists(db: Database.Database, path: string): void {
  if (!existsSync(path)) return;
  let old: Database.Database | undefined;
  try {
    old = new Database(path, { readonly: true, fileMustExist: true });
    const rows = old.prepare("SELECT id, domain, name, features, created FROM lists ORDER BY id").all() as Array<{ id: number; domain: string; name: string; features: string; created: string }>;
    const put = db.prepare("INSERT INTO lists (id, domain, name, features, created) VALUES (?, ?, ?, ?, ?)");
    db.transaction(() => rows.forEach((r) => put.run(r.id, r.domain, r.name, r.features, r.created)))();
  } catch {
    // An unreadable or older database has no lists to keep; the new one starts without.
  } finally {
    old?.close();
  }
}

/** Delete temporary files of `target` left by a build that was killed (their process is gone). */
function removeAbandonedTemps(target: string): void {
  const prefix = `.${basename(target)}.tmp-`;
  for (const name of readdirSync(dirname(target))) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split("-")[0]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      // No such process: the file is abandoned.
    }
    if (!alive) rmSync(join(dirname(target), name), { force: true });
  }
}

const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;
