/**
 * A small synthetic explorer run: the planted-families SAE of tests/fixtures/families (600 documents, 64
 * features, k 4, 48-d geometric embeddings), its hand-made labels, families built by the real stage (label
 * off), a second "sweep" SAE for feature splitting, and the fake embedder under the store's embedder id.
 * Options drop labels or families to test what the explorer does without them.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { normalizeRowsInPlace } from "../../src/core/vector.js";
import { Rng } from "../../src/core/rng.js";
import { type FamiliesResult, runFamiliesStage } from "../../src/families/stage.js";
import type { ExplorerInputs, OtherSae } from "../../src/explore/inputs.js";
import { piece, preferredFamilies } from "../../src/explore/inputs.js";
import { loadCodes } from "../../src/sae/encode.js";
import type { SaeParams } from "../../src/sae/params.js";
import { FakeEmbedder } from "../fixtures/embed/fake-embedder.js";
import { N_FEATURES, plantedSae } from "../fixtures/families/synthetic-sae.js";

/** Documents of the fixture. */
export const FIXTURE_DOCS = 600;
/** Embedding dimension of the fixture. */
export const FIXTURE_DIM = 48;
/** Features of the fixture's "sweep" SAE. */
export const OTHER_N = 32;
/** The fixture's domain name (plantedSae's). */
export const FIXTURE_DOMAIN = "x";

/** What the fixture made. */
export interface Fixture {
  inputs: ExplorerInputs;
  embedder: FakeEmbedder;
  planted: ReturnType<typeof plantedSae>;
}

/** A second, smaller SAE over the same space: the first OTHER_N decoder rows, each nudged a little. */
function otherSae(params: SaeParams): OtherSae {
  const rng = new Rng("explore-fixture-other");
  const d = params.d;
  const wDecFD = params.wDecFD.slice(0, OTHER_N * d);
  for (let i = 0; i < wDecFD.length; i++) wDecFD[i]! += 0.05 * rng.normal();
  normalizeRowsInPlace(wDecFD, OTHER_N, d);
  return { name: `${FIXTURE_DOMAIN}-sweep-n${OTHER_N}-k4`, params: { d, n: OTHER_N, wDecFD, wEncFD: wDecFD.slice(), bLatF: new Float32Array(OTHER_N), bPreD: new Float32Array(d) } };
}

/**
 * Build the fixture's inputs under `root` (families go to the current SAERCH_DATA, which the caller sets).
 * @param opts.labels false: as if notebook 04 had not run; opts.families false: as if notebook 05 had not
 */
export async function fixtureInputs(root: string, opts: { labels?: boolean; families?: boolean; seed?: number } = {}): Promise<Fixture> {
  mkdirSync(root, { recursive: true });
  const seed = opts.seed ?? 3;
  const planted = plantedSae(join(root, "planted"), FIXTURE_DOCS, seed, { dim: FIXTURE_DIM, geometric: true });
  const embedder = new FakeEmbedder({ dim: FIXTURE_DIM, id: planted.store.manifest.embedderId, maxBatch: 64 });
  const withLabels = opts.labels ?? true;
  let families: FamiliesResult | null = null;
  if (opts.families ?? true) {
    const results = await runFamiliesStage({
      store: planted.store,
      texts: planted.texts,
      saes: [planted.sae],
      ...(withLabels ? { interpret: [planted.interpret] } : {}),
      featureSets: ["clean", "alive"],
      config: { label: false },
      quiet: true,
    });
    families = preferredFamilies(results, FIXTURE_DOMAIN);
  }
  const missing: string[] = [];
  if (!withLabels) missing.push("no labels: run notebooks/04-interpret.ipynb");
  if (families === null) missing.push("no families: run notebooks/05-families.ipynb");
  const ids = planted.store.ids;
  const docs = ids.map((id, i) => {
    const text = planted.texts.get(id)!;
    return { id, title: text.split("\n")[0]!, year: 2023 + (i % 3), categories: i % 2 === 0 ? ["astro-ph.GA"] : ["astro-ph.CO", "cs.LG"] };
  });
  const inputs: ExplorerInputs = {
    profile: "fixture",
    store: planted.store,
    docs,
    rowDomains: ids.map(() => FIXTURE_DOMAIN),
    domains: [
      {
        domain: FIXTURE_DOMAIN,
        sae: `${FIXTURE_DOMAIN}-n${N_FEATURES}-k4`,
        saeDir: planted.sae.dir,
        rows: planted.sae.rows,
        params: planted.sae.params,
        k: planted.sae.config.k,
        codes: loadCodes(planted.sae.dir),
        features: planted.sae.features,
        labels: withLabels ? planted.interpret.records : null,
        labelsDir: withLabels ? planted.interpret.dir : null,
        families,
        others: [otherSae(planted.sae.params)],
        missing,
      },
    ],
    pieces: [piece(planted.store.dir, ["manifest.json", "domains.json"]), piece(planted.sae.dir, ["codes.indices.npy", "codes.values.npy"]), ...(families ? [piece(families.dir, ["config.json", "build.json"])] : [])],
  };
  return { inputs, embedder, planted };
}
