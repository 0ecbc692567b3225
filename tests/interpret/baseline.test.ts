/**
 * Tests for src/interpret/baseline.ts: hand-made features whose label is known exactly (contrastive terms,
 * bigram preference, fallback, errors), held-out documents never reaching the interpreter, and the
 * label-similarity predictor on hand-set 2-d vectors with derived expected predictions.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BaselineConfig } from "../../src/interpret/config.js";
import {
  BaselineScorer,
  type BaselineScorerOptions,
  calibrateSimilarity,
  distinctDocs,
  MIN_HALF_GAP,
  predictFromSimilarity,
} from "../../src/interpret/baseline.js";
import { buildDocFreq, type DocFreq } from "../../src/interpret/terms.js";
import type { ExampleDoc, FeatureTask, Interpretation, Prediction } from "../../src/interpret/types.js";
import { readJsonl } from "../../src/io/jsonl.js";
import { sharedDir, sharedPath } from "../../src/io/paths.js";

/** Example documents with consecutive store rows from `firstRow`. */
const docs = (firstRow: number, texts: string[]): ExampleDoc[] =>
  texts.map((text, i) => ({ row: firstRow + i, id: `doc${firstRow + i}`, text, activation: 0 }));

/** A feature's task; its documents get store rows 1000·feature + (0…, 100…, 200…) so features never share rows. */
const task = (top: string[], zero: string[], heldOut: string[] = [], feature = 7): FeatureTask => ({
  feature,
  density: 0.01,
  top: docs(1000 * feature, top),
  zero: docs(1000 * feature + 100, zero),
  heldOut: docs(1000 * feature + 200, heldOut),
  truth: heldOut.map((_, i) => (i < heldOut.length / 2 ? 1 : 0)),
});

const LENSING_TOP = [
  "Gravitational lensing of distant quasars",
  "Weak gravitational lensing by galaxy clusters",
  "Gravitational lensing constraints on halo shapes",
  "Microlensing and gravitational lensing surveys",
  "Time delays in gravitational lensing systems",
];
const UNRELATED = [
  "Transformer language models for code",
  "Star formation in nearby galaxies",
  "Reinforcement learning for robot control",
  "Stellar spectra of galaxy clusters",
  "Graph neural networks",
];
/** Background corpus: the examples plus filler; "gravitational" and "lensing" also occur apart. */
const BACKGROUND = [...LENSING_TOP, ...UNRELATED, "Gravitational waves from mergers", "Lensing of light", "Quasars and galaxies"];

const NO_EMBEDDINGS = {
  embedLabels: (): Promise<Float32Array> => Promise.reject(new Error("not used")),
  embeddingsOf: (): Float32Array => new Float32Array(),
};

/**
 * The settings the hand derivations below assume (BaselineConfig's defaults before they were tuned on the
 * seed-7 SAEs): labels of at most 3 terms found in ≥ 2 top and ≥ 3 corpus documents, threshold 0.3 of the
 * way from the zero to the top mean, ±1 one gap away, overlap weight 1.
 */
const HAND_SET: Partial<BaselineConfig> = { terms: 3, minTopDocs: 2, minCorpusDf: 3, duplicateJaccard: 0.5, thresholdShare: 0.3, gapScale: 1, overlapWeight: 1 };

function scorer(docFreq: DocFreq, config: Partial<BaselineConfig> = {}, extra: Partial<BaselineScorerOptions> = {}): BaselineScorer {
  return new BaselineScorer({ config: BaselineConfig.parse({ ...HAND_SET, ...config }), docFreq, embedderId: "test:2", ...NO_EMBEDDINGS, ...extra });
}

async function interpretOne(s: BaselineScorer, t: FeatureTask): Promise<Interpretation> {
  const [r] = await s.interpret([t]);
  if (!r || r instanceof Error) throw new Error(`expected a label, got ${String(r)}`);
  return r;
}

describe("BaselineScorer.interpret", () => {
  const df = buildDocFreq(BACKGROUND, { bigrams: true, minDf: 1 });

  it("labels a feature with the phrase its top documents share and its zero documents lack", async () => {
    // All three of "gravitational", "lensing", "gravitational lensing" are in 5/5 top and 0/5 zero documents;
    // df: "gravitational lensing" 5, "gravitational" 6, "lensing" 6, so the bigram has the largest idf,
    // ranks first, and its two words are then redundant. No other term is in ≥ 2 top documents.
    const r = await interpretOne(scorer(df), task(LENSING_TOP, UNRELATED));
    expect(r.label).toBe("gravitational lensing");
    const idf = Math.log((1 + 13) / (1 + 5)) + 1;
    expect(r.reasoning).toBe(
      "distinctive terms of 5 top vs 5 zero documents, score = (top share − zero share) · idf:\n" +
        `"gravitational lensing": in 5/5 top, 0/5 zero, idf ${idf.toFixed(2)}, score ${idf.toFixed(2)}`,
    );
  });

  it("never reads the held-out documents", async () => {
    const s = scorer(df);
    const a = await interpretOne(s, task(LENSING_TOP, UNRELATED, []));
    const b = await interpretOne(s, task(LENSING_TOP, UNRELATED, ["Zebra crossings zebra", "Zebra stripes", "Okapi", "Okapi zebra"]));
    const c = await interpretOne(s, task(LENSING_TOP, UNRELATED, LENSING_TOP));
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    // Only the 10 shown documents were tokenized (rows 7000–7004, 7100–7104), never the held-out rows 7200+.
    expect(s.cachedRows).toBe(10);
  });

  it("cancels terms the zero documents share", async () => {
    // "galaxies": 5/5 top and 5/5 zero → score 0, not eligible; "spectra": 4/5 top, 0/5 zero.
    const top = ["Spectra of nearby galaxies", "Galaxies: spectra", "Spectra of distant galaxies", "Galaxies and their spectra", "Galaxies in clusters"];
    const zero = ["Galaxies merge", "Galaxies rotate", "Galaxies form stars", "Galaxies collide", "Galaxies evolve"];
    const s = scorer(buildDocFreq([...top, ...zero], { bigrams: true, minDf: 1 }));
    expect((await interpretOne(s, task(top, zero))).label).toBe("spectra");
  });

  it("prefers a bigram over its more frequent word when it scores nearly as well", async () => {
    // "dark": 5/5 top; "dark matter" and "matter": 4/5 top; none in zero docs. df(dark) = 5 > df(dark matter) = 4
    // = df(matter), so idf(dark matter) > idf(dark) and 0.8 · idf(dark matter) ≥ 0.8 · idf(dark) = BIGRAM_PREFERENCE ·
    // score(dark): the phrase takes the word's place, and "matter" is then redundant.
    const top = ["Dark matter halos", "Dark matter annihilation", "Dark matter detection", "Dark matter cores", "Dark energy surveys"];
    const s = scorer(buildDocFreq([...top, ...UNRELATED], { bigrams: true, minDf: 1 }));
    const r = await interpretOne(s, task(top, UNRELATED));
    expect(r.label).toBe("dark matter");
    expect(r.reasoning).toContain('"dark matter": in 4/5 top, 0/5 zero');
  });

  it("keeps a word when its phrase is much rarer, and never adds the phrase's other word", async () => {
    // N = 10. dark: 5/5 top, df 5 → score 1 · (ln(11/6) + 1) = 1.606; "dark matter": 2/5, df 2 →
    // 0.4 · (ln(11/3) + 1) = 0.920 < 0.8 · 1.606: "dark" stays. "matter" (2/5) yields to "dark matter",
    // which overlaps "dark": skipped. "surveys" (2/5, df 2, score 0.920) is next (minCorpusDf 1 lets a df-2 term in).
    const top = ["Dark matter halos", "Dark matter cores", "Dark energy surveys", "Dark sirens surveys", "Dark photons"];
    const s = scorer(buildDocFreq([...top, ...UNRELATED], { bigrams: true, minDf: 1 }), { minCorpusDf: 1 });
    expect((await interpretOne(s, task(top, UNRELATED))).label).toBe("dark, surveys");
  });

  it("treats plural and singular as the same word when choosing terms", async () => {
    const top = ["Exoplanet atmospheres", "Exoplanet radii", "Exoplanets transit", "Exoplanets orbit", "Hot exoplanets"];
    const s = scorer(buildDocFreq([...top, ...UNRELATED], { bigrams: false, minDf: 1 }), { bigrams: false });
    const label = (await interpretOne(s, task(top, UNRELATED))).label;
    expect(label.split(", ")).toHaveLength(1);
    expect(label).toMatch(/^exoplanets?$/);
  });

  it("uses only unigrams when bigrams are off", async () => {
    const s = scorer(buildDocFreq(BACKGROUND, { bigrams: false, minDf: 1 }), { bigrams: false, terms: 3 });
    // gravitational and lensing tie (5/5, df 6): alphabetical order.
    expect((await interpretOne(s, task(LENSING_TOP, UNRELATED))).label).toBe("gravitational, lensing");
  });

  it("scores against the top documents alone when no zero documents are shown", async () => {
    const r = await interpretOne(scorer(df), task(LENSING_TOP, []));
    expect(r.label).toBe("gravitational lensing");
    expect(r.reasoning).toContain("5 top vs 0 zero");
  });

  it("falls back to the best term of any top document and says so", async () => {
    // Every top word occurs in one top document only (minTopDocs 2); "aardvark" is the rarest in the background.
    const top = ["Aardvark", "Zebra", "Yak", "Okapi", "Quokka"];
    const s = scorer(buildDocFreq([...top, "Zebra yak okapi quokka", ...UNRELATED], { bigrams: true, minDf: 2 }));
    const r = await interpretOne(s, task(top, UNRELATED));
    expect(r.label).toBe("aardvark");
    // minDf 2 pruned "aardvark" (df 1): looked up as df 1 → idf ln(12/2) + 1; score = 1/5 of that.
    const idf = Math.log(12 / 2) + 1;
    expect(r.reasoning).toBe(
      "no term occurs in ≥ 2 of the 5 top documents more often than in the 5 zero documents and in ≥ 3 corpus documents; " +
        "falling back to the best term of any top document:\n" +
        `"aardvark": in 1/5 top, 0/5 zero, idf ${idf.toFixed(2)}, score ${(idf / 5).toFixed(2)}`,
    );
    // With minCorpusDf 2 the fallback keeps to terms of ≥ 2 corpus documents: zebra, yak, okapi, quokka (df 2,
    // equal scores) → alphabetical "okapi", although "aardvark" (df 1) scores higher.
    const common = scorer(buildDocFreq([...top, "Zebra yak okapi quokka", ...UNRELATED], { bigrams: true, minDf: 2 }), { minCorpusDf: 2 });
    expect((await interpretOne(common, task(top, UNRELATED))).label).toBe("okapi");
  });

  it("never labels with a term of fewer than minCorpusDf corpus documents", async () => {
    // "quasar jets" is in 2/5 top documents and nowhere else (df 2); "accretion" is in 3/5 top and 1 filler (df 4).
    // Scores with N = 16: "accretion" 0.6 · (ln(17/5) + 1) = 1.334 > "quasar jets" 0.4 · (ln(17/3) + 1) = 1.094
    // (the bigram beats its equally scored words "quasar", "jets"); the phrase is second with minCorpusDf ≤ 2 and
    // gone with 3. The two quasar documents share 3 of 9 terms (Jaccard 1/3 < 0.5): not near-duplicates.
    const top = ["Quasar jets and accretion", "Quasar jets imaged by radio telescopes", "Accretion disks", "Accretion rates", "Cold gas"];
    const background = [...top, ...UNRELATED, "Accretion physics", "Galaxies", "Stars", "Planets", "Comets", "Dust"];
    const docFreq = buildDocFreq(background, { bigrams: true, minDf: 1 });
    expect(docFreq.df("quasar jets")).toBe(2);
    expect((await interpretOne(scorer(docFreq, { minCorpusDf: 2 }), task(top, UNRELATED))).label).toBe("accretion, quasar jets");
    expect((await interpretOne(scorer(docFreq, { minCorpusDf: 3 }), task(top, UNRELATED))).label).toBe("accretion");
  });

  it("counts near-duplicate shown documents once", async () => {
    // Two copies of one paper (same text, different ids and rows) share "quasar jets"; the other top documents
    // do not. Counted twice it is in 2/5 top documents (eligible); counted once, in 1/4 (below minTopDocs 2).
    const paper = "Quasar jets and accretion";
    const top = [paper, paper, "Accretion disks", "Accretion rates", "Cold gas"];
    const background = [...top, ...UNRELATED, "Quasar jets", "Quasar jets again", "Galaxies"];
    const docFreq = buildDocFreq(background, { bigrams: true, minDf: 1 });
    const merged = await interpretOne(scorer(docFreq), task(top, UNRELATED));
    expect(merged.label).toBe("accretion");
    expect(merged.reasoning).toContain("(near-duplicates merged: 5 → 4 top, 5 → 5 zero)");
    expect(merged.reasoning).toContain('"accretion": in 3/4 top, 0/5 zero');
    // duplicateJaccard 1 still merges exact copies; different wording of the same paper below the threshold stays.
    const reworded = [paper, "Quasar jets and accretion revisited with new data", "Accretion disks", "Accretion rates", "Cold gas"];
    // term sets: {quasar, jets, accretion, quasar jets, jets accretion?}: "and" is a stopword, so no "jets accretion";
    // first = {quasar, jets, quasar jets, accretion} (4), second adds {revisited, data, accretion revisited} → Jaccard 4/7.
    expect((await interpretOne(scorer(docFreq, { duplicateJaccard: 0.6 }), task(reworded, UNRELATED))).label).toBe("accretion, quasar jets");
    expect((await interpretOne(scorer(docFreq, { duplicateJaccard: 0.5 }), task(reworded, UNRELATED))).label).toBe("accretion");
  });

  it("falls back when every frequent term is just as frequent among the zero documents", async () => {
    // The three identical documents are near-duplicates of each other: each side counts one.
    const same = ["Galaxies", "Galaxies", "Galaxies"];
    const r = await interpretOne(scorer(df), task(same, same));
    expect(r.label).toBe("galaxies");
    expect(r.reasoning).toMatch(/^no term occurs/);
    expect(r.reasoning).toContain("(near-duplicates merged: 3 → 1 top, 3 → 1 zero)");
    expect(r.reasoning).toContain('"galaxies": in 1/1 top, 1/1 zero');
  });

  it("returns an Error only for the task whose top documents hold no usable term", async () => {
    const s = scorer(df);
    const empty = task(["We propose the 2025 results.", "Our new approach: (a) and (b), 3 × 10^5."], UNRELATED, [], 3);
    const out = await s.interpret([empty, task(LENSING_TOP, UNRELATED, [], 5), task([], UNRELATED, [], 4)]);
    expect(out[0]).toBeInstanceOf(Error);
    expect((out[0] as Error).message).toMatch(/feature 3: the 2 top documents hold no usable term/);
    expect((out[1] as Interpretation).label).toBe("gravitational lensing");
    expect((out[2] as Error).message).toMatch(/feature 4: no shown top documents/);
  });

  it("names its methods and refuses a unigram-only DocFreq when bigrams are on", async () => {
    const s = scorer(df);
    expect(s.kind).toBe("baseline");
    expect(s.models).toEqual({ interpreter: "baseline:contrastive-terms", predictor: "baseline:label-similarity(test:2)" });
    await s.close();
    await s.close();
    expect(() => scorer(buildDocFreq(BACKGROUND, { bigrams: false }))).toThrow(/without bigrams/);
  });
});

describe("distinctDocs", () => {
  it("drops a document whose term set has Jaccard ≥ the threshold with an earlier kept one", () => {
    const a = Int32Array.of(1, 2, 3, 4);
    const b = Int32Array.of(1, 2, 3, 5); // with a: 3 shared of 5 → Jaccard 0.6
    const c = Int32Array.of(7, 8);
    const empty = new Int32Array(0);
    expect(distinctDocs([a, b, c], 0.6)).toEqual([a, c]);
    expect(distinctDocs([a, b, c], 0.61)).toEqual([a, b, c]);
    expect(distinctDocs([b, a], 0.6)).toEqual([b]); // the first copy stays
    expect(distinctDocs([empty, empty, a], 0.5)).toEqual([empty, empty, a]); // no terms: nothing to compare
  });
});

describe("calibrateSimilarity", () => {
  it("maps the class means to ±1 and their midpoint to 0", () => {
    // top mean 0.7, zero mean 0.1 → threshold 0.4, halfGap 0.3
    const cal = calibrateSimilarity([0.8, 0.6], [0, 0.2]);
    expect(cal.threshold).toBeCloseTo(0.4, 12);
    expect(cal.halfGap).toBeCloseTo(0.3, 12);
    expect(predictFromSimilarity(0.7, cal)).toBeCloseTo(1, 12);
    expect(predictFromSimilarity(0.1, cal)).toBeCloseTo(-1, 12);
    expect(predictFromSimilarity(2, cal)).toBe(1);
    expect(predictFromSimilarity(-2, cal)).toBe(-1);
  });

  it("floors the half-gap when the label does not separate the classes", () => {
    expect(calibrateSimilarity([0.5], [0.5])).toEqual({ threshold: 0.5, halfGap: MIN_HALF_GAP });
    const reversed = calibrateSimilarity([0.2], [0.4]);
    expect(reversed.threshold).toBeCloseTo(0.3, 12);
    expect(reversed.halfGap).toBe(MIN_HALF_GAP);
    expect(predictFromSimilarity(0.305, reversed)).toBeCloseTo(0.5, 9);
  });

  it("moves the threshold toward the zero documents and widens the scale as the shape asks", () => {
    // top mean 0.7, zero mean 0.1, gap 0.6; thresholdShare 0.3 → 0.1 + 0.18 = 0.28; gapScale 1 → halfGap 0.6
    const cal = calibrateSimilarity([0.8, 0.6], [0, 0.2], { thresholdShare: 0.3, gapScale: 1 });
    expect(cal.threshold).toBeCloseTo(0.28, 12);
    expect(cal.halfGap).toBeCloseTo(0.6, 12);
    expect(predictFromSimilarity(0.7, cal)).toBeCloseTo(0.7, 12);
    expect(predictFromSimilarity(0.1, cal)).toBeCloseTo(-0.3, 12);
    expect(predictFromSimilarity(0.28, cal)).toBeCloseTo(0, 12);
  });

  it("defaults to the parameters `npm run tune:baseline` chose on the seed-7 tuning SAEs", () => {
    // data/tune-baseline/seed7-fa401ab735/tuning.json (see the BaselineConfig and baseline.ts headers).
    const { terms, minTopDocs, minCorpusDf, duplicateJaccard, thresholdShare, gapScale, overlapWeight } = BaselineConfig.parse({});
    expect({ terms, minTopDocs, minCorpusDf, duplicateJaccard, thresholdShare, gapScale, overlapWeight }).toEqual({
      terms: 5,
      minTopDocs: 1,
      minCorpusDf: 2,
      duplicateJaccard: 0.5,
      thresholdShare: 0,
      gapScale: 1.5,
      overlapWeight: 2,
    });
  });

  it("without zero documents puts the threshold at the least similar top document", () => {
    // top 0.8, 0.6 → threshold min 0.6, halfGap mean − min = 0.1
    const cal = calibrateSimilarity([0.8, 0.6], []);
    expect(cal.threshold).toBeCloseTo(0.6, 12);
    expect(cal.halfGap).toBeCloseTo(0.1, 12);
    expect(() => calibrateSimilarity([], [0.1])).toThrow(/no shown top/);
  });
});

describe("BaselineScorer.predict", () => {
  // Unit vectors in 2-d; with label L = [2, 0] (normalised by the cosine to [1, 0]) the similarity is the
  // x-coordinate, with label M = [0, 1] the y-coordinate.
  const xy = (x: number): [number, number] => [x, Math.sqrt(1 - x * x)];
  const yx = (y: number): [number, number] => [Math.sqrt(1 - y * y), y];
  const VECTORS = new Map<number, [number, number]>([
    [0, xy(0.8)], // shown top: L 0.8, M 0.6
    [1, xy(0.6)], // shown top: L 0.6, M 0.8
    [100, xy(0)], // shown zero: L 0
    [101, xy(0.2)], // shown zero: L 0.2
    [200, xy(1)], // held out: L 1, M 0
    [201, xy(0.55)],
    [202, xy(0.4)],
    [203, xy(0.1)],
    [204, xy(0.25)],
    [205, yx(0.65)], // held out: M 0.65
    [206, yx(0.55)], // held out: M 0.55
  ]);
  const LABELS = new Map<string, [number, number]>([
    ["L", [2, 0]],
    ["M", [0, 1]],
  ]);

  /** The midpoint calibration: threshold halfway between the class means, ±1 at the class means, no term overlap. */
  const MIDPOINT: Partial<BaselineConfig> = { thresholdShare: 0.5, gapScale: 0.5, overlapWeight: 0 };

  function setup(config: Partial<BaselineConfig> = MIDPOINT): { s: BaselineScorer; labelCalls: string[][]; rowCalls: number[][] } {
    const labelCalls: string[][] = [];
    const rowCalls: number[][] = [];
    const s = scorer(buildDocFreq(BACKGROUND, { bigrams: true }), config, {
      embedLabels: (labels) => {
        labelCalls.push(labels);
        return Promise.resolve(Float32Array.from(labels.flatMap((l) => LABELS.get(l)!)));
      },
      embeddingsOf: (rows) => {
        rowCalls.push([...rows]);
        return Float32Array.from([...rows].flatMap((r) => VECTORS.get(r)!));
      },
    });
    return { s, labelCalls, rowCalls };
  }

  const mk = (top: number[], zero: number[], heldOut: number[]): FeatureTask => {
    const ex = (row: number): ExampleDoc => ({ row, id: `r${row}`, text: "irrelevant to the predictor", activation: 1 });
    return { feature: 0, density: 0.1, top: top.map(ex), zero: zero.map(ex), heldOut: heldOut.map(ex), truth: heldOut.map(() => 0) };
  };

  it("gives the derived predictions with one label embedding call per batch", async () => {
    const { s, labelCalls, rowCalls } = setup();
    const a = mk([0, 1], [100, 101], [200, 201, 202, 203, 204]);
    const b = mk([0, 1], [], [200, 205, 206]);
    const out = await s.predict([
      { task: a, label: "L" },
      { task: b, label: "M" },
      { task: a, label: "L" },
    ]);
    // Task a, label L: top s 0.8, 0.6 (mean 0.7); zero s 0, 0.2 (mean 0.1) → threshold 0.4, halfGap 0.3.
    //   s = 1 → 2 → clamped 1;  0.55 → 0.5;  0.4 → 0;  0.1 → −1;  0.25 → −0.5.
    // Task b, label M, no zero docs: top s 0.6, 0.8 → threshold = min 0.6, halfGap = 0.7 − 0.6 = 0.1.
    //   s = 0 → −6 → clamped −1;  0.65 → 0.5;  0.55 → −0.5.
    const expected = [
      [1, 0.5, 0, -1, -0.5],
      [-1, 0.5, -0.5],
      [1, 0.5, 0, -1, -0.5],
    ];
    expect(out).toHaveLength(3);
    out.forEach((preds, i) => {
      expect(preds).not.toBeInstanceOf(Error);
      const p = preds as Prediction[];
      expect(p.map((x) => x.parsed)).toEqual(expected[i]!.map(() => true));
      p.forEach((x, j) => expect(x.value, `item ${i} doc ${j}`).toBeCloseTo(expected[i]![j]!, 5));
    });
    expect(labelCalls).toEqual([["L", "M"]]);
    expect(rowCalls).toHaveLength(1);
    expect([...rowCalls[0]!].sort((x, y) => x - y)).toEqual([0, 1, 100, 101, 200, 201, 202, 203, 204, 205, 206]);
  });

  it("adds the idf-weighted share of label terms each held-out document contains (hand-set config)", async () => {
    const label = "lensing, quasars";
    const texts = new Map<number, string>([
      [200, "Lensing"],
      [201, "Lensing of quasars"],
      [202, "Quasars"],
      [203, "Nothing relevant here"],
      [204, "Lensing"],
    ]);
    const s = scorer(buildDocFreq(BACKGROUND, { bigrams: true }), {}, {
      embedLabels: (labels) => Promise.resolve(Float32Array.from(labels.flatMap(() => [1, 0]))),
      embeddingsOf: (rows) => Float32Array.from([...rows].flatMap((r) => VECTORS.get(r)!)),
    });
    const ex = (row: number): ExampleDoc => ({ row, id: `r${row}`, text: texts.get(row) ?? "shown example", activation: 1 });
    const t: FeatureTask = { feature: 0, density: 0.1, top: [0, 1].map(ex), zero: [100, 101].map(ex), heldOut: [200, 201, 202, 203, 204].map(ex), truth: [1, 1, 1, 0, 0] };
    const [out] = await s.predict([{ task: t, label }]);
    // Similarity calibration (HAND_SET): top 0.8, 0.6; zero 0, 0.2 → threshold 0.28, halfGap 0.6.
    // Overlap weights (N = 13): idf(lensing) = ln(14/7) + 1 (df 6), idf(quasars) = ln(14/3) + 1 (df 2).
    const wL = Math.log(14 / 7) + 1;
    const wQ = Math.log(14 / 3) + 1;
    const expected = [
      1, // s 1 → 1.2, + share(lensing) → clamped 1
      1, // s 0.55 → 0.45, + share 1 → clamped 1
      0.2 + wQ / (wL + wQ), // s 0.4 → 0.2, + share(quasars) ≈ 0.600
      -0.3, // s 0.1 → −0.3, no label term
      -0.05 + wL / (wL + wQ), // s 0.25 → −0.05, + share(lensing) ≈ 0.400
    ];
    expect(out).not.toBeInstanceOf(Error);
    (out as Prediction[]).forEach((p, j) => expect(p.value, `doc ${j}`).toBeCloseTo(expected[j]!, 5));
  });

  it("answers an empty batch without embedding anything", async () => {
    const { s, labelCalls } = setup();
    expect(await s.predict([])).toEqual([]);
    expect(labelCalls).toEqual([]);
  });

  it("turns a failed label embedding into one Error per item, and a wrong shape into a thrown error", async () => {
    const t = mk([0, 1], [100, 101], [200]);
    const failing = scorer(buildDocFreq(BACKGROUND, { bigrams: true }), {}, { embedLabels: () => Promise.reject(new Error("embedder down")) });
    const out = await failing.predict([
      { task: t, label: "L" },
      { task: t, label: "M" },
    ]);
    expect(out.map((o) => (o as Error).message.split("\n")[0])).toEqual([
      "baseline predictor: embedding 2 labels failed: embedder down",
      "baseline predictor: embedding 2 labels failed: embedder down",
    ]);
    const misshapen = scorer(buildDocFreq(BACKGROUND, { bigrams: true }), {}, {
      embedLabels: () => Promise.resolve(new Float32Array(3)),
      embeddingsOf: (rows) => new Float32Array(rows.length * 2),
    });
    await expect(misshapen.predict([{ task: t, label: "L" }])).rejects.toThrow(/embeddingsOf returned/);
  });
});

const CORPUS = join(sharedDir(), "corpus", "arxiv-cs-astro-2025.jsonl.gz");

describe.skipIf(!existsSync(CORPUS))("on the shared corpus", () => {
  it("labels hand-picked exoplanet and weak-lensing abstracts with their topic", async () => {
    // Background: the first 2000 astro-ph and first 1000 cs.LG abstracts (the astro ones sit at the end of the file).
    interface Row { id: string; title: string; abstract: string; categories: string[] }
    const texts: string[] = [];
    const titles: string[] = [];
    const astro: boolean[] = [];
    let nAstro = 0;
    let nLg = 0;
    for await (const r of readJsonl<Row>(sharedPath("corpus", "arxiv-cs-astro-2025.jsonl.gz"))) {
      const isAstro = r.categories.some((c) => c.startsWith("astro-ph"));
      if (isAstro ? nAstro++ >= 2000 : !r.categories.includes("cs.LG") || nLg++ >= 1000) {
        if (nAstro >= 2000) break;
        continue;
      }
      texts.push(`${r.title}\n\n${r.abstract}`);
      titles.push(r.title.toLowerCase());
      astro.push(isAstro);
    }
    const df = buildDocFreq(texts, { bigrams: true });
    const s = scorer(df);
    const rows = texts.map((_, i) => i);
    const ex = (row: number): ExampleDoc => ({ row, id: `r${row}`, text: texts[row]!, activation: 1 });
    const featureOf = (keyword: string): FeatureTask => ({
      feature: 0,
      density: 0.01,
      // top: the first 5 documents with the keyword in the title; zero: the first 5 astro documents without it
      top: rows.filter((i) => titles[i]!.includes(keyword)).slice(0, 5).map(ex),
      zero: rows.filter((i) => astro[i] && !texts[i]!.toLowerCase().includes(keyword.split(" ")[0]!)).slice(0, 5).map(ex),
      heldOut: [],
      truth: [],
    });
    const exo = await interpretOne(s, featureOf("exoplanet"));
    expect(exo.label.split(", ")).toContain("exoplanet");
    const lensing = await interpretOne(s, featureOf("weak lensing"));
    expect(lensing.label.split(", ")[0]).toBe("weak lensing");
  });
});
