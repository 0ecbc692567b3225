/**
 * The labelling loop with a scripted scorer: records and summary, resuming per feature, retrying failed
 * features, too-rare features, and the budget stop.
 *
 * Codes: N = 24 documents, K = 2, F = 4. Document i holds features (i mod 3) and 3 with activations
 * 1 + i/100 and 0.5: features 0, 1, 2 are each active in 8 documents, feature 3 in all 24 (so it has no
 * zero-activating document: too rare to label with zero examples). Every text is longer than minChars
 * except document 5.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InterpretConfig } from "../../src/interpret/config.js";
import { BudgetExceededError } from "../../src/interpret/cost.js";
import { LABELS_FILE, labelFeatures, readLabels } from "../../src/interpret/labeller.js";
import type { FeatureScorer, FeatureTask, Interpretation, Prediction } from "../../src/interpret/types.js";
import { readJsonlLog } from "../../src/io/jsonl.js";
import type { SparseCodes } from "../../src/sae/encode.js";

const N = 24;
const K = 2;
const F = 4;
const root = mkdtempSync(join(tmpdir(), "saerch-labeller-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function makeCodes(): SparseCodes {
  const indices = new Int32Array(N * K);
  const values = new Float32Array(N * K);
  for (let i = 0; i < N; i++) {
    indices[i * K] = i % 3;
    values[i * K] = 1 + i / 100;
    indices[i * K + 1] = 3;
    values[i * K + 1] = 0.5;
  }
  return { indices, values, k: K };
}

/** Store rows are codes rows + 100, to check the mapping. */
const rowsN = Int32Array.from({ length: N }, (_, i) => i + 100);
const docOf = (row: number): { id: string; text: string } => ({
  id: `doc${row - 100}`,
  text: row - 100 === 5 ? "short" : `Title ${row}\n\n${"abstract text ".repeat(12)}`,
});

/** A scorer that labels feature j "topic j" and predicts the truth exactly (0.9 / −0.9), with hooks. */
class ScriptedScorer implements FeatureScorer {
  readonly kind = "baseline" as const;
  readonly models = { interpreter: "scripted-i", predictor: "scripted-p" };
  interpreted: number[] = [];
  failInterpret = new Set<number>();
  budgetAfter = Number.POSITIVE_INFINITY;
  tasks: FeatureTask[] = [];

  async interpret(tasks: readonly FeatureTask[]): Promise<Array<Interpretation | Error>> {
    return tasks.map((t) => {
      if (this.interpreted.length >= this.budgetAfter) throw new BudgetExceededError("test budget");
      this.interpreted.push(t.feature);
      this.tasks.push(t);
      return this.failInterpret.has(t.feature) ? new Error(`no label for ${t.feature}`) : { label: `topic ${t.feature}`, reasoning: "because" };
    });
  }

  async predict(items: ReadonlyArray<{ task: FeatureTask; label: string }>): Promise<Array<Prediction[] | Error>> {
    return items.map(({ task }) => task.truth.map((y) => ({ value: y === 1 ? 0.9 : -0.9, parsed: true })));
  }

  async close(): Promise<void> {}
}

const config = (over: Record<string, unknown> = {}): InterpretConfig =>
  InterpretConfig.parse({ examples: { top: 2, zero: 2, heldTop: 1, heldZero: 1, minChars: 10 }, chunk: 2, ...over });

describe("labelFeatures", () => {
  it("labels, scores and summarises every feature; held-out documents never reach the interpreter", async () => {
    const dir = join(root, "basic");
    const scorer = new ScriptedScorer();
    const res = await labelFeatures({ dir, codes: makeCodes(), n: F, rowsN, docOf, scorer, config: config(), quiet: true });
    expect(res.records.map((r) => [r.feature, r.status])).toEqual([
      [0, "labelled"],
      [1, "labelled"],
      [2, "labelled"],
      [3, "too-rare"],
    ]);
    const r0 = res.records[0]!;
    // Feature 0 is active in documents 0, 3, …, 21, highest activation last: shown 21, 18; held out 15.
    expect(r0.examples.top).toEqual(["doc21", "doc18"]);
    expect(r0.examples.heldOut[0]).toBe("doc15");
    expect(r0).toMatchObject({ label: "topic 0", reasoning: "because", pearson: 1, f1: 1, truth: [1, 0], predictions: [0.9, -0.9], scorer: "baseline" });
    expect(r0.density).toBeCloseTo(8 / 24, 12);
    expect(res.records[3]!.error).toMatch(/zero-activating/);
    for (const t of scorer.tasks) {
      const shown = new Set([...t.top, ...t.zero].map((d) => d.id));
      expect(t.heldOut.some((d) => shown.has(d.id))).toBe(false);
      expect([...t.top, ...t.zero, ...t.heldOut].some((d) => d.id === "doc5")).toBe(false);
      expect(t.top.every((d) => d.row >= 100)).toBe(true);
    }
    expect(res.summary).toMatchObject({ features: 4, labelled: 3, tooRare: 1, failed: 0, pending: 0, meanPearson: 1, meanF1: 1, pearsonUndefined: 0 });
  });

  it("records density as the fraction of documents whose top-k holds the feature, zero-valued entries included", async () => {
    const codes = makeCodes();
    codes.values[1] = 0; // document 0 keeps feature 3 in its top-k with activation 0
    const res = await labelFeatures({ dir: join(root, "density"), codes, n: F, rowsN, docOf, scorer: new ScriptedScorer(), config: config(), quiet: true });
    expect(res.records[3]!.density).toBe(1);
  });

  it("resumes: a rerun asks the scorer nothing for finished features and retries failed ones", async () => {
    const dir = join(root, "resume");
    const first = new ScriptedScorer();
    first.failInterpret.add(1);
    const a = await labelFeatures({ dir, codes: makeCodes(), n: F, rowsN, docOf, scorer: first, config: config(), quiet: true });
    expect(a.records.find((r) => r.feature === 1)).toMatchObject({ status: "failed", error: expect.stringMatching(/^interpreter: .*no label for 1/) });
    expect(a.summary.failed).toBe(1);
    const second = new ScriptedScorer();
    const b = await labelFeatures({ dir, codes: makeCodes(), n: F, rowsN, docOf, scorer: second, config: config(), quiet: true });
    expect(second.interpreted).toEqual([1]);
    expect(b.summary).toMatchObject({ labelled: 3, failed: 0 });
    // The log keeps the failed line and the later success; readLabels returns the latest per feature.
    const lines = readJsonlLog<{ feature: number; status: string }>(join(dir, LABELS_FILE));
    expect(lines.map((r) => `${r.feature}:${r.status}`).sort()).toEqual(["0:labelled", "1:failed", "1:labelled", "2:labelled", "3:too-rare"]);
    expect(lines.at(-1)).toMatchObject({ feature: 1, status: "labelled" });
    expect(readLabels(dir).map((r) => r.status)).toEqual(["labelled", "labelled", "labelled", "too-rare"]);
  });

  it("stops cleanly at the budget, keeping finished features, and continues on rerun", async () => {
    const dir = join(root, "budget");
    const scorer = new ScriptedScorer();
    scorer.budgetAfter = 2;
    const a = await labelFeatures({ dir, codes: makeCodes(), n: F, rowsN, docOf, scorer, config: config(), quiet: true });
    expect(a.summary.stopped).toMatch(/budget: test budget/);
    expect(a.summary).toMatchObject({ labelled: 2, pending: 1, tooRare: 1 });
    const b = await labelFeatures({ dir, codes: makeCodes(), n: F, rowsN, docOf, scorer: new ScriptedScorer(), config: config(), quiet: true });
    expect(b.summary).toMatchObject({ labelled: 3, pending: 0 });
    expect(b.summary.stopped).toBeUndefined();
  });

  it("labels only the requested features and rejects unknown ones", async () => {
    const dir = join(root, "subset");
    const res = await labelFeatures({ dir, codes: makeCodes(), n: F, rowsN, docOf, scorer: new ScriptedScorer(), config: config({ features: [2, 0], maxFeatures: 1 }), quiet: true });
    expect(res.records.map((r) => r.feature)).toEqual([2]);
    await expect(
      labelFeatures({ dir: join(root, "bad"), codes: makeCodes(), n: F, rowsN, docOf, scorer: new ScriptedScorer(), config: config({ features: [7] }), quiet: true }),
    ).rejects.toThrow(/feature 7 is outside/);
  });
});
