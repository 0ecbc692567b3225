/** The family examples, the labelling loop (resume, failures, budget stop) and the baseline's term ranking (METHOD.md §5). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildFamilies, familyFeatures } from "../../src/families/build.js";
import { FamilyScoreConfig } from "../../src/families/config.js";
import { cooccurrence } from "../../src/families/cooccurrence.js";
import { type FamilyExampleSource, familyTask, firingRows, topDecileRows } from "../../src/families/examples.js";
import { labelFamilies, readFamilyLabels } from "../../src/families/labeller.js";
import { type FamilyLabel, type FamilyScorer, pickTerms, rankMemberTerms } from "../../src/families/scorer.js";
import { BudgetExceededError } from "../../src/interpret/cost.js";
import { buildFeatureIndex } from "../../src/interpret/examples.js";
import type { FeatureTask, Prediction } from "../../src/interpret/types.js";
import { N_FEATURES, plantedCodes } from "../fixtures/families/synthetic-sae.js";

const root = mkdtempSync(join(tmpdir(), "saerch-family-labeller-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const { codes, topicN } = plantedCodes(600);
const build = buildFamilies(cooccurrence(codes.indices, codes.k, Array.from({ length: 42 }, (_, i) => i), N_FEATURES));
const index = buildFeatureIndex(codes, N_FEATURES);
const rowsN = Int32Array.from({ length: 600 }, (_, i) => i);
const src: FamilyExampleSource = {
  codes,
  index,
  rowsN,
  docOf: (r) => ({ id: `d${r}`, text: `document ${r} `.repeat(20) }),
  eligible: () => true,
};
const cfg = FamilyScoreConfig.parse({});

describe("familyTask", () => {
  it("positives come from the members' top-decile documents, negatives from documents where no member fires", () => {
    const fam = build.families[0]!;
    const feats = familyFeatures(fam);
    const task = familyTask(src, fam, N_FEATURES, cfg) as FeatureTask;
    const pool = topDecileRows(index, feats, cfg.topQuantile);
    const fires = firingRows(codes, N_FEATURES, feats);
    expect(task.heldOut).toHaveLength(8);
    expect(task.truth).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    for (const d of [...task.top, ...task.heldOut.slice(0, 4)]) expect(pool.has(d.row)).toBe(true);
    for (const d of [...task.zero, ...task.heldOut.slice(4)]) expect(fires[d.row]).toBe(0);
    // Every document is used once, and the family's topic is the topic of every positive.
    const rows = [...task.top, ...task.zero, ...task.heldOut].map((d) => d.row);
    expect(new Set(rows).size).toBe(rows.length);
    for (const d of task.heldOut.slice(0, 4)) expect(topicN[d.row]).toBe(fam.root);
    // Density: the family fires wherever its root does (one sixth of the documents).
    expect(task.density).toBeCloseTo(1 / 6, 12);
    // Seeded: the same draw twice.
    expect(familyTask(src, fam, N_FEATURES, cfg)).toEqual(task);
    // A member's top decile: ceil(10 % of its activations), at least one row each.
    expect(pool.size).toBeLessThanOrEqual(feats.reduce((s, f) => s + Math.max(1, Math.ceil((index.offsetsF1[f + 1]! - index.offsetsF1[f]!) * 0.1)), 0));
  });

  it("too few documents: the reason", () => {
    const r = familyTask({ ...src, eligible: (row) => row < 20 }, build.families[0]!, N_FEATURES, cfg);
    expect(r).toMatchObject({ reason: expect.stringMatching(/eligible top-decile documents, 9 needed/) });
  });
});

/** A scorer whose answers the test scripts per family root. */
class ScriptedScorer implements FamilyScorer {
  readonly kind = "llm" as const;
  readonly models = { labeller: "l", predictor: "p" };
  labelled: number[] = [];
  constructor(private readonly failPredict: Set<number>, private readonly budgetAt = Infinity) {}
  async label(items: ReadonlyArray<{ task: FeatureTask }>): Promise<Array<FamilyLabel | Error>> {
    return items.map((it) => {
      this.labelled.push(it.task.feature);
      if (this.labelled.length > this.budgetAt) throw new BudgetExceededError("budget reached");
      return { label: `family ${it.task.feature}`, reasoning: "r", source: "llm" };
    });
  }
  async predict(items: ReadonlyArray<{ task: FeatureTask; label: string }>): Promise<Array<Prediction[] | Error>> {
    return items.map(({ task }) => (this.failPredict.has(task.feature) ? new Error("server down") : task.truth.map((t) => ({ value: t ? 0.9 : -0.9, parsed: true }))));
  }
  async close(): Promise<void> {}
}

describe("labelFamilies", () => {
  const args = (dir: string, scorer: FamilyScorer) => ({ dir, families: build.families, src, n: N_FEATURES, featureLabels: new Map<number, string>(), scorer, config: cfg, quiet: true });

  it("records failures, resumes only what is not done, and scores with stage 4's code", async () => {
    const dir = join(root, "resume");
    const first = await labelFamilies(args(dir, new ScriptedScorer(new Set([1]))));
    expect(first.records.map((r) => r.status)).toEqual(build.families.map((f) => (f.id === 1 ? "failed" : "labelled")));
    expect(first.records[1]!.error).toMatch(/^predictor: .*server down/);
    expect(first.records[0]).toMatchObject({ f1: 1, label: "family 0", source: "llm", scorer: "llm" });
    expect(first.records[0]!.pearson!).toBeCloseTo(1, 12);
    const again = new ScriptedScorer(new Set());
    const second = await labelFamilies(args(dir, again));
    expect(again.labelled).toEqual([1]);
    expect(second.records.every((r) => r.status === "labelled")).toBe(true);
    expect(readFamilyLabels(dir)).toEqual(second.records);
  });

  it("a budget stop ends the loop cleanly and a rerun continues", async () => {
    const dir = join(root, "budget");
    const stopped = await labelFamilies(args(dir, new ScriptedScorer(new Set(), 0)));
    expect(stopped.stopped).toMatch(/budget: budget reached/);
    expect(stopped.records).toHaveLength(0);
    const done = await labelFamilies(args(dir, new ScriptedScorer(new Set())));
    expect(done.stopped).toBeUndefined();
    expect(done.records).toHaveLength(build.families.length);
  });
});

describe("baseline family label terms", () => {
  it("ranks member-label terms by members × (share in family documents − share in negatives)", () => {
    const doc = (text: string) => ({ row: 0, id: "", text, activation: 1 });
    const task = { top: [doc("dark matter halo"), doc("dark matter lensing"), doc("halo mass")], zero: [doc("halo occupation"), doc("transformer")] };
    const ranked = rankMemberTerms(["dark matter, halo", "dark matter", "halo model", null], task, true);
    // "dark matter": 2 labels × (2/3 − 0) = 4/3; "dark", "matter" likewise; "halo": 2 × (2/3 − 1/2) = 1/3; "model": 0 (dropped).
    expect(ranked.map((t) => t.term)).toEqual(["dark matter", "dark", "matter", "halo"]);
    expect(ranked[0]!.score).toBeCloseTo(4 / 3, 12);
    expect(ranked[3]!.score).toBeCloseTo(1 / 3, 12);
    expect(pickTerms(ranked, 3).map((t) => t.term)).toEqual(["dark matter", "halo"]);
  });
});
