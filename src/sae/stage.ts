/**
 * The SAE stage in one call (METHOD.md §2): for each domain of an embedding store, train a top-k SAE on
 * that domain's rows (resumable, under `data/sae/<runId>/`), encode the rows to sparse codes, and report
 * reconstruction quality and per-feature statistics. Rerunning with the same config reopens finished runs
 * (and encodes again when the codes of a finished run are incomplete). Each run directory is locked while
 * its domain is trained and encoded: one process per run. The run id holds the store's identity (corpus
 * content, embedder id and revision), the SAE config and SAE_STAGE_VERSION; the trained weights' SHA-256
 * (weights.json) is checked on every reopen and recorded with the codes, so swapped weights are refused
 * and codes of other weights are made again.
 */
import { join } from "node:path";
import { SaerchError } from "../core/errors.js";
import { artefactRun, withNewRunCleanup } from "../io/artefact.js";
import { storeIdentityKey } from "../embed/identity.js";
import { readJsonlLog } from "../io/jsonl.js";
import { withRunLock } from "../io/run-lock.js";
import { readStoreDomains } from "../embed/stage.js";
import type { EmbeddingStore } from "../embed/store-reader.js";
import type { ResolvedSaeConfig, SaeConfigInput } from "./config.js";
import { codesProblem, encodeEngine, encodeStore, type FeatureStats, featureStats, loadCodes, reconstructionReport } from "./encode.js";
import { createTrainStep } from "./engines.js";
import type { SaeParams } from "./params.js";
import { METRICS_FILE, type TrainMetrics, trainSae } from "./trainer.js";
import { verifiedWeightsHash } from "./weights-hash.js";

/**
 * Version of the SAE training and encoding behaviour (trainer, engines' math, encoding); bump it with every
 * change that changes trained weights or codes, so runs of the old behaviour are not reopened.
 */
export const SAE_STAGE_VERSION = 1;

/** Label of cross-listed documents, which belong to every domain's training set (as in the paper's corpora). */
const OVERLAP_LABEL = "both";

/** One domain's trained SAE and what it measured. */
export interface SaeDomainResult {
  domain: string;
  /** Run directory `data/sae/<runId>`. */
  dir: string;
  /** Training rows (the domain's documents, cross-listed ones included). */
  rows: Int32Array;
  config: ResolvedSaeConfig;
  params: SaeParams;
  /** Every logged metrics window. */
  metrics: TrainMetrics[];
  /** Reconstruction over all training rows: fraction of variance unexplained and mean cosine(x, x̂). */
  reconstruction: { nmse: number; meanCosine: number };
  /** Per-feature density and activation statistics over the training rows. */
  features: FeatureStats;
  /** True when a finished run was reopened. */
  resumed: boolean;
  /** SHA-256 of the run's `sae.safetensors`, as training recorded it (checked on reopen). */
  weightsSha256: string;
}

/**
 * The identity a domain's SAE run id is derived from (also used to find a run without creating it).
 * @param config the SAE config with `d`
 */
export function saeRunIdentity(store: EmbeddingStore, domain: string, config: SaeConfigInput): { identity: Record<string, unknown>; prefix: string } {
  return {
    identity: { embedderId: store.manifest.embedderId, store: store.dir.split("/").pop(), ...storeIdentityKey(store), algorithm: SAE_STAGE_VERSION, domain, sae: config },
    prefix: `${domain}-n${config.n}-k${config.k}`,
  };
}

/**
 * Store rows of one domain: documents labelled `domain`, plus cross-listed ones.
 * @throws SaerchError naming the labels there are when no row is labelled `domain`
 */
export function domainRows(labels: readonly string[], domain: string): Int32Array {
  if (!labels.includes(domain)) {
    throw new SaerchError(`no rows of domain "${domain}"`, `use one of: ${[...new Set(labels)].join(", ")}`);
  }
  const rows: number[] = [];
  labels.forEach((l, i) => {
    if (l === domain || l === OVERLAP_LABEL) rows.push(i);
  });
  return Int32Array.from(rows);
}

/**
 * Train (or reopen) one SAE per domain.
 * @param store the embedding store (its `domains.json` gives each row's domain)
 * @param sae the SAE config without `d` (taken from the store), e.g. `saePreset(profile, d)`
 */
export async function runSaeStage(store: EmbeddingStore, domains: string[], sae: Omit<SaeConfigInput, "d">): Promise<SaeDomainResult[]> {
  const labels = readStoreDomains(store);
  const results: SaeDomainResult[] = [];
  for (const domain of domains) {
    const rows = domainRows(labels, domain);
    const config: SaeConfigInput = { ...sae, d: store.dim };
    const { identity, prefix } = saeRunIdentity(store, domain, config);
    const run = artefactRun("sae", identity, prefix);
    results.push(await withNewRunCleanup(run, () => withRunLock(run.dir, "SAE stage", () => trainAndEncode(store, domain, rows, config, run.dir))));
  }
  return results;
}

/** One domain's training, codes and reports, in its (locked) run directory. */
async function trainAndEncode(store: EmbeddingStore, domain: string, rows: Int32Array, config: SaeConfigInput, dir: string): Promise<SaeDomainResult> {
  const trained = await trainSae({ config, store, rows, dir, createStep: (c, init) => createTrainStep(c, init) });
  const weightsSha256 = verifiedWeightsHash(dir);
  const reuseCodes = trained.resumed && codesProblem(dir, { count: rows.length, k: trained.config.k, weightsSha256 }) === undefined;
  const features = reuseCodes
    ? featureStats(loadCodes(dir), trained.params.n)
    : (await encodeStore({ params: trained.params, k: trained.config.k, store, rows, dir, weightsSha256, engine: encodeEngine(trained.config.engine) })).stats;
  const reconstruction = await reconstructionReport(trained.params, store, rows, trained.config.k, undefined, encodeEngine(trained.config.engine));
  return {
    domain,
    dir,
    rows,
    config: trained.config,
    params: trained.params,
    metrics: readJsonlLog(join(dir, METRICS_FILE)) as TrainMetrics[],
    reconstruction,
    features,
    resumed: trained.resumed,
    weightsSha256,
  };
}
