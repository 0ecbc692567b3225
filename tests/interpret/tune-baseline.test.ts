/**
 * Tests for src/interpret/tune-baseline.ts: a synthetic scorer whose best parameters are known by
 * construction (the search must find them from the defaults), label reuse across predictor-only changes,
 * the always-fires F1 reference, and determinism of a search over the real BaselineScorer on a tiny corpus.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { BaselineScorer } from "../../src/interpret/baseline.js";
import type { BaselineConfig } from "../../src/interpret/config.js";
import { buildDocFreq } from "../../src/interpret/terms.js";
import { alwaysFiresF1, MIN_GAIN, type TuneDomain, tuneBaselineParams } from "../../src/interpret/tune-baseline.js";
import type { ExampleDoc, FeatureScorer, FeatureTask } from "../../src/interpret/types.js";

const doc = (row: number, activation: number, text = `document ${row}`): ExampleDoc => ({ row, id: `d${row}`, text, activation });

/** A task with 5 shown top, 5 shown zero, 3 held-out top (activation 1) and 3 held-out zero documents. */
function syntheticTask(feature: number): FeatureTask {
  const base = 100 * feature;
  return {
    feature,
    density: 0.01,
    top: [0, 1, 2, 3, 4].map((i) => doc(base + i, 1)),
    zero: [5, 6, 7, 8, 9].map((i) => doc(base + i, 0)),
    heldOut: [10, 11, 12].map((i) => doc(base + i, 1)).concat([13, 14, 15].map((i) => doc(base + i, 0))),
    truth: [1, 1, 1, 0, 0, 0],
  };
}

/**
 * A scorer built so the best parameters are known: held-out document i of a task gets
 *   value_i = (s_i − thresholdShare) · (1 + |overlapWeight − 0.5| · i),  s_i = 0.45 (top) or 0.35 (zero).
 * The factor is positive, so the signs (hence F1) depend only on thresholdShare: F1 = 1 exactly for
 * thresholdShare in (0.35, 0.45), 0.667 below (all fire), 0 above (none fires). The values are a linear
 * function of the truth (Pearson = 1) only when the factor is constant, i.e. overlapWeight = 0.5.
 * So on the grid below the unique best is thresholdShare 0.4, overlapWeight 0.5.
 */
function knownBestScorer(config: BaselineConfig, calls: { interpret: number }): FeatureScorer {
  return {
    kind: "baseline",
    models: { interpreter: "test", predictor: "test" },
    interpret: (tasks) => {
      calls.interpret++;
      return Promise.resolve(tasks.map(() => ({ label: "synthetic", reasoning: "" })));
    },
    predict: (items) =>
      Promise.resolve(
        items.map(({ task }) =>
          task.heldOut.map((d, i) => ({
            value: ((d.activation > 0 ? 0.45 : 0.35) - config.thresholdShare) * (1 + Math.abs(config.overlapWeight - 0.5) * i),
            parsed: true,
          })),
        ),
      ),
    close: () => Promise.resolve(),
  };
}

const PREDICTOR_GRID = { terms: [], minTopDocs: [], minCorpusDf: [], duplicateJaccard: [], gapScale: [], thresholdShare: [0.1, 0.2, 0.3, 0.4, 0.5], overlapWeight: [0, 0.5, 1, 2] };

describe("tuneBaselineParams", () => {
  it("finds the known best parameters from the defaults, and the record says how", async () => {
    const calls = { interpret: 0 };
    const domain: TuneDomain = { name: "synthetic", tasks: [1, 2, 3].map(syntheticTask), scorerFor: (c) => knownBestScorer(c, calls) };
    const r = await tuneBaselineParams({ domains: [domain], grid: PREDICTOR_GRID, start: { thresholdShare: 0.3, overlapWeight: 1 } });
    // Start: thresholdShare 0.3 (all fire: F1 2/3) and overlapWeight 1 (Pearson < 1).
    expect(r.start.params.thresholdShare).toBe(0.3);
    expect(r.start.score.meanF1).toBeCloseTo(2 / 3, 12);
    expect(r.start.score.meanPearson).toBeLessThan(1);
    expect(r.chosen.params).toMatchObject({ thresholdShare: 0.4, overlapWeight: 0.5 });
    expect(r.chosenConfig.thresholdShare).toBe(0.4);
    expect(r.chosen.score.meanF1).toBe(1);
    expect(r.chosen.score.meanPearson).toBeCloseTo(1, 12);
    expect(r.chosen.score.objective).toBeCloseTo(1, 12);
    expect(r.chosen.score.wellScored).toBe(3);
    // Round 1 moves both parameters; round 2 confirms nothing else is better and stops.
    expect(r.rounds).toBe(2);
    expect(r.steps.map((s) => [s.round, s.param, s.kept])).toEqual([
      [1, "thresholdShare", 0.4],
      [1, "overlapWeight", 0.5],
      [2, "thresholdShare", 0.4],
      [2, "overlapWeight", 0.5],
    ]);
    // Only predictor parameters vary, so the labels are computed once.
    expect(calls.interpret).toBe(1);
    // 1 start + 4 other thresholds + 3 other weights at 0.4 … every distinct config once.
    const keys = r.evaluations.map((e) => JSON.stringify(e.params));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("with F1 alone as the objective, keeps an always-fires threshold when nothing beats 2/3", async () => {
    // thresholdShare ≤ 0.35 makes every held-out document fire; a grid without (0.35, 0.45) cannot do better.
    const domain: TuneDomain = { name: "synthetic", tasks: [syntheticTask(1)], scorerFor: (c) => knownBestScorer(c, { interpret: 0 }) };
    const r = await tuneBaselineParams({ domains: [domain], grid: { ...PREDICTOR_GRID, thresholdShare: [0, 0.3, 0.5] }, start: { thresholdShare: 0.3 }, objective: "f1" });
    expect(r.chosen.score.meanF1).toBeCloseTo(alwaysFiresF1(3, 3), 12);
    expect(r.chosen.params.thresholdShare).toBe(0.3);
  });

  it("does not move a parameter for a gain of a few ulps", async () => {
    // F1 per feature: 1 of 3 tops fires (0.5), 2 fire (0.8), all tops and one zero fire (6/7). overlapWeight 2
    // gives the same three F1s to other features; their mean then differs from the start's in the last bit.
    const patterns = { tp1: [1, -1, -1, -1, -1, -1], tp2: [1, 1, -1, -1, -1, -1], tp3fp1: [1, 1, 1, 1, -1, -1] };
    const order = (ow: number): number[][] => (ow === 2 ? [patterns.tp1, patterns.tp3fp1, patterns.tp2] : [patterns.tp1, patterns.tp2, patterns.tp3fp1]);
    const scorerFor = (c: BaselineConfig): FeatureScorer => ({
      ...knownBestScorer(c, { interpret: 0 }),
      predict: (items) => Promise.resolve(items.map(({ task }) => order(c.overlapWeight)[task.feature - 1]!.map((value) => ({ value, parsed: true })))),
    });
    const domain: TuneDomain = { name: "ulps", tasks: [1, 2, 3].map(syntheticTask), scorerFor };
    const r = await tuneBaselineParams({ domains: [domain], grid: { ...PREDICTOR_GRID, thresholdShare: [], overlapWeight: [1, 2] }, start: { overlapWeight: 1 }, objective: "f1" });
    const at2 = r.evaluations.find((e) => e.params.overlapWeight === 2)!;
    expect(at2.score.objective).toBeGreaterThan(r.start.score.objective); // the ulp-sized "gain" exists …
    expect(at2.score.objective - r.start.score.objective).toBeLessThan(MIN_GAIN);
    expect(r.chosen.params.overlapWeight).toBe(1); // … and does not win
  });

  it("refuses a domain without tuning features", async () => {
    await expect(tuneBaselineParams({ domains: [{ name: "empty", tasks: [], scorerFor: (c) => knownBestScorer(c, { interpret: 0 }) }] })).rejects.toThrow(/no tuning features/);
  });
});

describe("alwaysFiresF1", () => {
  it("is 2·3 / (2·3 + 3) for the paper's 3 + 3 held-out documents", () => {
    expect(alwaysFiresF1(3, 3)).toBeCloseTo(2 / 3, 15);
    expect(alwaysFiresF1(1, 0)).toBe(1);
  });
});

/** A tiny corpus of three topics; each document's embedding is its topic's axis plus seeded noise. */
const TOPICS = [
  ["gravitational lensing", "quasar", "dark matter"],
  ["transformer", "language model", "attention"],
  ["graph neural", "message passing", "node classification"],
];
const D = 6;

function tinyCorpus(): { texts: string[]; topicOf: number[]; embND: Float32Array } {
  const rng = new Rng(3);
  const texts: string[] = [];
  const topicOf: number[] = [];
  for (let i = 0; i < 90; i++) {
    const t = i % 3;
    const words = TOPICS[t]!;
    texts.push(`${words[i % 3]} and ${words[(i + 1) % 3]} study number ${i % 7} with method ${["alpha", "beta", "gamma", "delta"][i % 4]}`);
    topicOf.push(t);
  }
  const embND = new Float32Array(texts.length * D);
  topicOf.forEach((t, i) => {
    let norm = 0;
    for (let j = 0; j < D; j++) {
      const v = (j === t ? 1 : 0) + 0.4 * rng.normal();
      embND[i * D + j] = v;
      norm += v * v;
    }
    for (let j = 0; j < D; j++) embND[i * D + j]! /= Math.sqrt(norm);
  });
  return { texts, topicOf, embND };
}

function tinyDomain(): TuneDomain {
  const { texts, topicOf, embND } = tinyCorpus();
  const docFreq = buildDocFreq(texts, { bigrams: true, minDf: 1 });
  const rowsOf = (t: number): number[] => topicOf.flatMap((x, i) => (x === t ? [i] : []));
  const other = (t: number): number[] => topicOf.flatMap((x, i) => (x !== t ? [i] : []));
  const tasks: FeatureTask[] = [0, 1, 2].map((t) => {
    const on = rowsOf(t);
    const off = other(t);
    const d = (row: number, a: number): ExampleDoc => doc(row, a, texts[row]);
    return {
      feature: t,
      density: 1 / 3,
      top: on.slice(0, 5).map((r) => d(r, 1)),
      zero: off.slice(0, 5).map((r) => d(r, 0)),
      heldOut: [...on.slice(5, 8).map((r) => d(r, 1)), ...off.slice(5, 8).map((r) => d(r, 0))],
      truth: [1, 1, 1, 0, 0, 0],
    };
  });
  // A label's embedding: the axis of the topic whose words it names (noise-free), else uniform.
  const embedLabels = (labels: string[]): Promise<Float32Array> => {
    const out = new Float32Array(labels.length * D);
    labels.forEach((l, i) => {
      const t = TOPICS.findIndex((ws) => ws.some((w) => l.includes(w)));
      for (let j = 0; j < D; j++) out[i * D + j] = t < 0 ? 1 / Math.sqrt(D) : j === t ? 1 : 0;
    });
    return Promise.resolve(out);
  };
  const embeddingsOf = (rows: Int32Array): Float32Array => {
    const out = new Float32Array(rows.length * D);
    rows.forEach((r, i) => out.set(embND.subarray(r * D, (r + 1) * D), i * D));
    return out;
  };
  return { name: "tiny", tasks, scorerFor: (config) => new BaselineScorer({ config, docFreq, embedLabels, embeddingsOf, embedderId: "test:6" }) };
}

describe("tuneBaselineParams on the real baseline", () => {
  it("is deterministic and never ends below its start", async () => {
    const grid = { terms: [1, 3], minCorpusDf: [1, 3], thresholdShare: [0.2, 0.5], gapScale: [0.5, 1], overlapWeight: [0, 1], minTopDocs: [2], duplicateJaccard: [0.5] };
    const a = await tuneBaselineParams({ domains: [tinyDomain()], grid, rounds: 2 });
    const b = await tuneBaselineParams({ domains: [tinyDomain()], grid, rounds: 2 });
    expect(b).toEqual(a);
    expect(a.chosen.score.objective).toBeGreaterThanOrEqual(a.start.score.objective);
    expect(a.chosen.score.labelled).toBe(3);
    expect(a.evaluations.length).toBeGreaterThan(1);
  });
});
