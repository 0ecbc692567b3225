/**
 * What the explorer shows, gathered from the artefacts of notebooks 01–05 (METHOD.md §8): the embedding
 * store and its documents, each domain's SAE (weights, codes, feature statistics), stage 4's labels,
 * stage 5's families and the scaling sweep's size ladder (feature splitting). `loadDefaultInputs` opens them
 * exactly as the notebooks do — the same stage calls, which reopen finished artefacts — but never starts
 * work a notebook should do: a piece that is not there yet (no labels, no families, no sweep) is recorded
 * in `missing` with the notebook that makes it, and the rest is still served.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { SaerchError } from "../core/errors.js";
import type { Doc } from "../corpus/document.js";
import { docText } from "../corpus/document.js";
import { embedPreset } from "../embed/config.js";
import type { Embedder } from "../embed/embedder.js";
import { type EmbedStageResult, runEmbedStage } from "../embed/stage.js";
import type { EmbeddingStore } from "../embed/store-reader.js";
import { familiesPreset } from "../families/config.js";
import { type FamiliesResult, runFamiliesStage } from "../families/stage.js";
import { interpretPreset } from "../interpret/config.js";
import { type InterpretResult, runInterpretStage, sweepLadderTargets, targetFromSae } from "../interpret/stage.js";
import type { LabelRecord } from "../interpret/types.js";
import { runIdFor } from "../io/artefact.js";
import { fileSha256 } from "../io/identity.js";
import { dataDir, sharedPath } from "../io/paths.js";
import type { Profile } from "../compute/profile.js";
import { loadSaeWeights } from "../sae/checkpoint.js";
import { saePreset } from "../sae/config.js";
import { type FeatureStats, loadCodes, type SparseCodes } from "../sae/encode.js";
import type { SaeParams } from "../sae/params.js";
import { runSaeStage, saeRunIdentity } from "../sae/stage.js";
import { verifiedWeightsHash } from "../sae/weights-hash.js";
import { sweepPreset } from "../scaling/sweep.js";

/** The domains of the default run (notebooks 02–06). */
export const DEFAULT_DOMAINS = ["astro-ph", "cs.LG"] as const;
/** Which families the explorer shows: the paper's clean set when it was built, else every alive feature. */
export const FAMILY_SETS = ["clean", "alive"] as const;
/** File of an SAE run's released weights. */
export const SAE_WEIGHTS_FILE = "sae.safetensors";

/** A document as the explorer lists it. */
export interface ExplorerDoc {
  id: string;
  title: string;
  year: number | null;
  categories: string[];
}

/** Another SAE of the same domain (a sweep cell), for the feature-splitting list. */
export interface OtherSae {
  /** e.g. "astro-ph-sweep-n1024-k16". */
  name: string;
  params: SaeParams;
}

/** One domain's SAE and what later stages made of it. */
export interface DomainInputs {
  domain: string;
  /** e.g. "astro-ph-n4096-k32". */
  sae: string;
  saeDir: string;
  /** `[N_dom]` the store row of each codes row. */
  rows: Int32Array;
  params: SaeParams;
  /** Active latents K. */
  k: number;
  codes: SparseCodes;
  features: FeatureStats;
  /** Stage 4's label records (null: not labelled yet). */
  labels: LabelRecord[] | null;
  labelsDir: string | null;
  /** Stage 5's families (clean set preferred), or null. */
  families: FamiliesResult | null;
  /** The sweep's size ladder in this domain (empty without a sweep). */
  others: OtherSae[];
  /** Missing pieces, each naming the notebook that makes it. */
  missing: string[];
}

/** Everything one explorer database is built from. */
export interface ExplorerInputs {
  /** The profile (or "fixture") the inputs belong to. */
  profile: string;
  store: EmbeddingStore;
  /** `[N]` title, year and categories of each store row (a row outside the corpus selection gets its id as title). */
  docs: ExplorerDoc[];
  /** `[N]` each row's domain label ("astro-ph", "cs.LG", "both", "other"). */
  rowDomains: string[];
  domains: DomainInputs[];
  /** Files whose content the database depends on; their hash decides whether it is stale. */
  pieces: InputPiece[];
  /** The embedder made by `DefaultInputsOptions.embedder` when that was a factory (the caller closes it). */
  embedder?: Embedder;
}

/** A directory and the files of it that an explorer database depends on. */
export interface InputPiece {
  dir: string;
  files: string[];
}

/**
 * Hash of the pieces' files (each file's content hash, "absent" for a missing one), each named relative to
 * the data directory: the explorer database is stale when it changes. Content, never modification times:
 * large files (weights, codes of sweep cells) are hashed once per process while their stat is unchanged.
 */
export function inputsHash(pieces: readonly InputPiece[]): string {
  const h = createHash("sha256");
  const root = dataDir();
  for (const piece of [...pieces].sort((a, b) => a.dir.localeCompare(b.dir))) {
    for (const file of [...piece.files].sort()) {
      const path = join(piece.dir, file);
      h.update(`${relative(root, path)}\n`);
      if (!existsSync(path)) {
        h.update("absent\n");
        continue;
      }
      h.update(`${fileSha256(path)}\n`);
    }
  }
  return h.digest("hex");
}

/** The files of a directory that exist (non-recursive), among `wanted` (all regular files when omitted). */
export function piece(dir: string, wanted?: readonly string[]): InputPiece {
  if (wanted) return { dir, files: [...wanted] };
  const files = existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && !e.name.startsWith(".")).map((e) => e.name) : [];
  return { dir, files };
}

/** The year of a YYYY-MM-DD date (null when unknown). */
export function yearOf(date: string | undefined): number | null {
  const m = date === undefined ? null : /^(\d{4})/.exec(date);
  return m ? Number(m[1]) : null;
}

/** Explorer documents of every store row, from the corpus selection's documents. */
export function explorerDocs(store: Pick<EmbeddingStore, "ids">, docs: readonly Doc[]): ExplorerDoc[] {
  const byId = new Map(docs.map((d) => [d.id, d]));
  return store.ids.map((id) => {
    const d = byId.get(id);
    return d ? { id, title: d.title, year: yearOf(d.date), categories: [...d.categories] } : { id, title: id, year: null, categories: [] };
  });
}

/** The families to show for one SAE: the clean set when it was built, else the alive set. */
export function preferredFamilies(results: ReadonlyArray<FamiliesResult | { skipped: string; domain: string }>, domain: string): FamiliesResult | null {
  const built = results.filter((r): r is FamiliesResult => !("skipped" in r) && r.domain === domain);
  for (const set of FAMILY_SETS) {
    const r = built.find((x) => x.featureSet === set && x.build.families.length > 0);
    if (r) return r;
  }
  return built[0] ?? null;
}

/** Finished interpretation runs of an SAE directory (labels.jsonl and summary.json beside a config naming it). */
function finishedRunsFor(stage: string, saeDir: string, has: string): string[] {
  const root = join(dataDir(), stage);
  if (!existsSync(root)) return [];
  return readdirSync(root).filter((name) => {
    const dir = join(root, name);
    try {
      const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { sae?: unknown };
      return cfg.sae === basename(saeDir) && existsSync(join(dir, has));
    } catch {
      return false;
    }
  });
}

/** The identity of the inputs (their run ids and the SAEs' verified weights hashes), from which the explorer's own run id is derived. */
export function inputsIdentity(inputs: ExplorerInputs): Record<string, unknown> {
  return {
    profile: inputs.profile,
    store: basename(inputs.store.dir),
    domains: inputs.domains.map((d) => ({
      domain: d.domain,
      sae: basename(d.saeDir),
      weights: verifiedWeightsHash(d.saeDir),
      labels: d.labelsDir === null ? null : basename(d.labelsDir),
      families: d.families === null ? null : basename(d.families.dir),
      others: d.others.map((o) => o.name),
    })),
  };
}

/** Options of loadDefaultInputs. */
export interface DefaultInputsOptions {
  profile: Profile;
  /**
   * The store's embedder, shared with the server (used by stages 4–5 only if they have work left), or a
   * factory that makes it from the store's directory once the store is open (`createStoreEmbedder`); the
   * embedder it made is returned as `ExplorerInputs.embedder`, and closed here if loading fails.
   */
  embedder: Embedder | ((storeDir: string) => Promise<Embedder>);
  domains?: readonly string[];
  log?: (line: string) => void;
}

/**
 * Open the default run's artefacts the way notebooks 05 and 06 do (each stage call reopens what is
 * finished). Labels and families are only reopened when a finished run of them exists, so the explorer
 * never starts labelling or building on its own; the SAEs themselves are required.
 * @throws SaerchError naming notebook 01 or 02 when the store or an SAE has not been made
 */
export async function loadDefaultInputs(opts: DefaultInputsOptions): Promise<ExplorerInputs> {
  const log = opts.log ?? (() => undefined);
  log("reopening the artefacts of notebooks 01–05 …");
  const embed = await runEmbedStage(embedPreset(opts.profile, { corpusDir: sharedPath("corpus"), embeddingsDir: sharedPath("embeddings", "use-lite-512") }));
  if (typeof opts.embedder !== "function") return loadWithEmbedder(opts, embed, opts.embedder);
  const made = await opts.embedder(embed.store.dir);
  try {
    return { ...(await loadWithEmbedder(opts, embed, made)), embedder: made };
  } catch (err) {
    await made.close();
    throw err;
  }
}

/** The rest of `loadDefaultInputs`, once the store is open and its embedder made. */
async function loadWithEmbedder(opts: DefaultInputsOptions, embed: EmbedStageResult, embedder: Embedder): Promise<ExplorerInputs> {
  const { profile } = opts;
  const log = opts.log ?? (() => undefined);
  const domains = opts.domains ?? DEFAULT_DOMAINS;
  const store = embed.store;
  const texts = new Map(embed.selection.docs.map((d) => [d.id, docText(d)]));
  const saeConfig = saePreset(profile, store.dim);
  const saes = await runSaeStageIfTrained(store, domains, saeConfig, log);
  const pieces: InputPiece[] = [piece(store.dir, ["manifest.json", "domains.json", "config.json"])];

  const labelled = saes.filter((s) => finishedRunsFor("interpret", s.dir, "summary.json").length > 0);
  const labels: InterpretResult[] = labelled.length > 0 ? await runInterpretStage({ store, texts, targets: labelled.map(targetFromSae), config: interpretPreset(profile), quiet: true, embedder }) : [];
  const withFamilies = saes.filter((s) => finishedRunsFor("families", s.dir, "build.json").length > 0);
  const families = withFamilies.length > 0 ? await runFamiliesStage({ store, texts, saes: withFamilies, interpret: labels, featureSets: [...FAMILY_SETS], config: familiesPreset(profile), quiet: true, embedder }) : [];
  let ladder: ReturnType<typeof sweepLadderTargets> = [];
  let sweepMissing: string | undefined;
  try {
    ladder = sweepLadderTargets(store, sweepPreset(profile));
  } catch (err) {
    if (!(err instanceof SaerchError)) throw err;
    sweepMissing = "no scaling sweep (feature splitting): run notebooks/03-scaling-laws.ipynb";
  }

  const out: DomainInputs[] = [];
  for (const sae of saes) {
    const missing: string[] = [];
    const lab = labels.find((l) => l.target.saeDir === sae.dir) ?? null;
    if (lab === null) missing.push("no labels: run notebooks/04-interpret.ipynb");
    const fam = preferredFamilies(families, sae.domain);
    if (fam === null) missing.push("no families: run notebooks/05-families.ipynb");
    else if (fam.featureSet !== "clean") missing.push(`families of the "${fam.featureSet}" feature set (no clean-set families: run notebooks/04-interpret.ipynb, then notebooks/05-families.ipynb)`);
    const others: OtherSae[] = [];
    for (const t of ladder.filter((x) => x.domain === sae.domain)) {
      const path = join(t.saeDir, SAE_WEIGHTS_FILE);
      if (!existsSync(path)) continue;
      others.push({ name: t.name, params: loadSaeWeights(path).params });
      pieces.push(piece(t.saeDir, [SAE_WEIGHTS_FILE]));
    }
    if (sweepMissing) missing.push(sweepMissing);
    pieces.push(piece(sae.dir, ["config.json", SAE_WEIGHTS_FILE, "codes.indices.npy", "codes.values.npy"]));
    if (lab) pieces.push(piece(lab.dir, ["config.json", "labels.jsonl"]));
    if (fam) pieces.push(piece(fam.dir, ["config.json", "build.json", "family-labels.jsonl"]));
    out.push({
      domain: sae.domain,
      sae: `${sae.domain}-n${sae.config.n}-k${sae.config.k}`,
      saeDir: sae.dir,
      rows: sae.rows,
      params: sae.params,
      k: sae.config.k,
      codes: loadCodes(sae.dir),
      features: sae.features,
      labels: lab?.records ?? null,
      labelsDir: lab?.dir ?? null,
      families: fam,
      others,
      missing,
    });
  }
  return { profile, store, docs: explorerDocs(store, embed.selection.docs), rowDomains: embed.labels, domains: out, pieces };
}

/**
 * runSaeStage for the domains whose SAE has finished training (the stage would otherwise train it): the
 * run directory is found by the stage's own run id (src/sae/stage.ts), without creating it.
 */
async function runSaeStageIfTrained(store: EmbeddingStore, domains: readonly string[], config: ReturnType<typeof saePreset>, log: (line: string) => void): ReturnType<typeof runSaeStage> {
  const trained = domains.filter((domain) => {
    const sae = { ...config, d: store.dim };
    const { identity, prefix } = saeRunIdentity(store, domain, sae);
    const runId = runIdFor(identity, prefix);
    const dir = join(dataDir(), "sae", runId);
    const ok = existsSync(join(dir, SAE_WEIGHTS_FILE)) && existsSync(join(dir, "codes.indices.npy"));
    if (!ok) log(`no trained SAE for ${domain} (run notebooks/02-train-sae.ipynb): the explorer leaves it out`);
    return ok;
  });
  if (trained.length === 0) {
    throw new SaerchError(`no trained SAE for ${domains.join(", ")} at n = ${config.n}, k = ${config.k}`, "run notebooks/02-train-sae.ipynb first (the explorer needs a trained SAE)");
  }
  return runSaeStage(store, [...trained], config);
}
