/**
 * Families on real codes (METHOD.md §5; skipped only when the shared folder is absent): 3,000 astro-ph
 * embeddings of the shared USE-lite store, a small SAE trained on them, and the alive feature set. Checks
 * the invariants that must hold on any data — every member sparser than its parent and its root, every
 * tree edge at least its round's threshold, no family below the size floor, no two kept families over the
 * dedupe Jaccard — and that two runs give byte-identical output (the second in a fresh data folder).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { adoptNpy } from "../../src/embed/adopt-npy.js";
import { DOMAINS_FILE } from "../../src/embed/stage.js";
import { EmbeddingStore } from "../../src/embed/store-reader.js";
import { jaccardSorted } from "../../src/families/build.js";
import { BUILD_FILE, type FamiliesResult, runFamiliesStage } from "../../src/families/stage.js";
import { readNpyRows, writeNpy } from "../../src/io/npy.js";
import { sharedDir } from "../../src/io/paths.js";
import { runSaeStage, type SaeDomainResult } from "../../src/sae/stage.js";

const SHARED = join(sharedDir(), "embeddings", "use-lite-512");
const HAVE_SHARED = existsSync(join(SHARED, "embeddings.npy"));
const DOCS = 3000;
const root = mkdtempSync(join(tmpdir(), "saerch-families-real-"));
const savedData = process.env.SAERCH_DATA;
afterAll(() => {
  vi.restoreAllMocks();
  if (savedData === undefined) delete process.env.SAERCH_DATA;
  else process.env.SAERCH_DATA = savedData;
  rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!HAVE_SHARED)("families on real codes (3,000 astro-ph abstracts, SAE n 256, k 8)", () => {
  let store: EmbeddingStore;
  let sae: SaeDomainResult;
  let result: FamiliesResult;

  beforeAll(async () => {
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    process.env.SAERCH_DATA = join(root, "data-1");
    const ids = JSON.parse(readFileSync(join(SHARED, "ids.json"), "utf8")) as string[];
    const domains = JSON.parse(readFileSync(join(SHARED, "domains.json"), "utf8")) as string[];
    const rows = ids.map((_, i) => i).filter((i) => domains[i] === "astro-ph").slice(0, DOCS);
    const first = readNpyRows(join(SHARED, "embeddings.npy"), 0, rows[rows.length - 1]! + 1);
    const dim = first.shape[1]!;
    const src = first.data as Float32Array;
    const embND = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => embND.set(src.subarray(r * dim, (r + 1) * dim), i * dim));
    mkdirSync(join(root, "real"), { recursive: true });
    writeNpy(join(root, "real", "emb.npy"), embND, [rows.length, dim]);
    writeFileSync(join(root, "real", "ids.json"), JSON.stringify(rows.map((r) => ids[r])));
    const storeDir = join(root, "real", "store");
    adoptNpy({ embeddingsPath: join(root, "real", "emb.npy"), idsPath: join(root, "real", "ids.json"), dir: storeDir, provider: "use-lite", model: "use-lite", embedderId: "use-lite:512" });
    writeFileSync(join(storeDir, DOMAINS_FILE), JSON.stringify(rows.map(() => "astro-ph")));
    store = EmbeddingStore.open(storeDir);
    [sae] = (await runSaeStage(store, ["astro-ph"], { n: 256, k: 8, steps: 300, batch: 256, checkpointEvery: 300, logEvery: 100, threads: 1 })) as [SaeDomainResult];
    [result] = (await runFamiliesStage({ store, texts: new Map(), saes: [sae], featureSets: ["alive"], config: { label: false }, quiet: true })) as [FamiliesResult];
  }, 120_000);
  afterAll(() => store?.close());

  it("invariants hold on every family", () => {
    const { build, cooc } = result;
    expect(build.families.length).toBeGreaterThan(0);
    const count = (f: number): number => cooc.countM[cooc.featuresM.indexOf(f)]!;
    for (const fam of build.families) {
      expect(fam.members.length).toBeGreaterThanOrEqual(4);
      for (const m of fam.members) {
        expect(count(m.feature)).toBeLessThanOrEqual(count(m.parent));
        expect(count(m.feature)).toBeLessThanOrEqual(count(fam.root));
        expect(m.weight).toBeGreaterThanOrEqual(fam.threshold);
        expect(m.feature).not.toBe(fam.root);
      }
      expect(new Set(fam.members.map((m) => m.feature)).size).toBe(fam.members.length);
    }
    const sets = build.families.map((f) => Int32Array.from(f.members.map((m) => m.feature)).sort());
    for (let i = 0; i < sets.length; i++) for (let j = i + 1; j < sets.length; j++) expect(jaccardSorted(sets[i]!, sets[j]!)).toBeLessThanOrEqual(0.6);
    // Label-free evidence holds on real codes: parents explain their children better than density-matched stand-ins.
    expect(result.stats.medianParentGivenChild!).toBeGreaterThan(result.stats.medianRandomGivenChild!);
  });

  it("two runs in fresh data folders write byte-identical builds", async () => {
    process.env.SAERCH_DATA = join(root, "data-2");
    const [again] = (await runFamiliesStage({ store, texts: new Map(), saes: [sae], featureSets: ["alive"], config: { label: false }, quiet: true })) as [FamiliesResult];
    expect(again.reopened).toBe(false);
    expect(readFileSync(join(again.dir, BUILD_FILE))).toEqual(readFileSync(join(result.dir, BUILD_FILE)));
  });
});
