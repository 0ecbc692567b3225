/**
 * Tests for src/plot/families-figures.ts (METHOD.md §5, the paper's Figure 5): the family-by-family matrix
 * order, histogram bins, and one render of each stage-5 figure (the family graph of family-graph-figure.ts
 * included) from a seeded synthetic topic hierarchy.
 *
 * The rendered PNGs go to a temporary directory that is removed afterwards; set SAERCH_KEEP_TEST_FIGURES=1
 * to keep it (its path is printed) and look at them.
 */
import { pairEvidence } from "../../src/families/stats.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { Rng } from "../../src/core/rng.js";
import { buildFamilies, familyFeatures } from "../../src/families/build.js";
import { cooccurrence, localIndex, overlap } from "../../src/families/cooccurrence.js";
import {
  blockOrder,
  childrenBinEdges,
  childrenHistogramFigure,
  conditionalVsRandomFigure,
  cooccurrenceBlocksFigure,
  MAX_BLOCK_FEATURES,
} from "../../src/plot/families-figures.js";
import { familyGraphFigure } from "../../src/plot/family-graph-figure.js";
import { closeRenderer, findBrowser } from "../../src/plot/render.js";
import { saveFigure } from "../../src/plot/save.js";
import { assertFigureSpec } from "../../src/plot/spec.js";
import { N_FEATURES, codesOf } from "../fixtures/families/hand-codes.js";

const dir = mkdtempSync(join(tmpdir(), "saerch-families-figures-test-"));
process.env.SAERCH_FIGURES = dir;
const keep = process.env.SAERCH_KEEP_TEST_FIGURES === "1";

afterAll(async () => {
  await closeRenderer();
  if (keep) console.log(`families figures kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
});

describe("blockOrder and cooccurrenceBlocksFigure", () => {
  const families = [
    { name: "A", features: [0, 1, 2, 3] },
    { name: "B", features: [4, 2, 5, 6] },
    { name: "C", features: [1, 3] },
  ];

  it("orders features family by family, each once in the first family holding it", () => {
    expect(blockOrder(families)).toEqual({
      features: [0, 1, 2, 3, 4, 5, 6],
      blocks: [{ name: "A", start: 0, end: 4 }, { name: "B", start: 4, end: 7 }],
      repeated: 1,
      overCap: 0,
    });
  });

  it("caps the features: whole families while they fit, the first one cut if it alone is too big", () => {
    expect(MAX_BLOCK_FEATURES).toBe(300);
    // Cap 5: A (4) fits, B's three new features do not: B and C are left out.
    expect(blockOrder(families, 5)).toEqual({ features: [0, 1, 2, 3], blocks: [{ name: "A", start: 0, end: 4 }], repeated: 0, overCap: 2 });
    // Cap 3: A alone is too big and is cut; B and C are left out: three families over the cap.
    expect(blockOrder(families, 3)).toEqual({ features: [0, 1, 2], blocks: [{ name: "A", start: 0, end: 3 }], repeated: 0, overCap: 3 });
  });

  it("draws the overlap matrix in that order, diagonal blank, blocks outlined", () => {
    // A = {0,1,2,3}: 4 docs of [0,1], 2 of [0,2,3]; B = {4,5,6} and 2: 3 docs of [4,5,6], 1 of [2,4].
    // n_0 = 6, n_1 = 4, n_2 = 3, n_4 = 4: overlap(0,1) = 4/4 = 1, overlap(0,2) = 2/3, overlap(2,4) = 1/3.
    const { indices, k } = codesOf([[4, [0, 1]], [2, [0, 2, 3]], [3, [4, 5, 6]], [1, [2, 4]]]);
    const cooc = cooccurrence(indices, k, [0, 1, 2, 3, 4, 5, 6], N_FEATURES);
    const spec = cooccurrenceBlocksFigure(families, cooc);
    assertFigureSpec(spec);
    // z is whole percent, one byte per cell, row-major, base64 (plotly's typed-array JSON).
    const zSpec = spec.data[0]!.z as { dtype: string; bdata: string; shape: string };
    expect(zSpec.dtype).toBe("u1");
    expect(zSpec.shape).toBe("7,7");
    const bytes = Buffer.from(zSpec.bdata, "base64");
    const z = Array.from({ length: 7 }, (_, i) => [...bytes.subarray(i * 7, i * 7 + 7)]);
    z.forEach((row, i) => expect(row[i]).toBe(0));
    expect(z[0]![1]).toBe(100);
    expect(z[0]![2]).toBe(67);
    expect(z[2]![4]).toBe(33);
    expect(z[4]![2]).toBe(33);
    const local = localIndex(cooc.featuresM, N_FEATURES);
    expect(z[5]![6]).toBe(Math.round(100 * overlap(cooc, local[5]!, local[6]!)));
    expect(z[0]![5]).toBe(0); // 0 and 5 never co-occur
    expect(spec.data[0]!.meta).toEqual({ features: [0, 1, 2, 3, 4, 5, 6] });
    const shapes = spec.layout.shapes as Array<{ x0: number; x1: number; y0: number; y1: number }>;
    expect(shapes.map((s) => [s.x0, s.x1, s.y0, s.y1])).toEqual([[-0.5, 3.5, -0.5, 3.5], [3.5, 6.5, 3.5, 6.5]]);
    const yaxis = spec.layout.yaxis as { tickvals: number[]; ticktext: string[]; range: number[] };
    expect(yaxis.tickvals).toEqual([1.5, 5]);
    expect(yaxis.ticktext).toEqual(["A", "B"]);
    expect(yaxis.range).toEqual([6.5, -0.5]);
    expect((spec.layout.title as { text: string }).text).toBe("Overlap coefficient of 7 features in 2 families, ordered family by family");
    expect((cooccurrenceBlocksFigure(families, cooc, { maxFeatures: 5 }).layout.title as { text: string }).text).toBe("Overlap coefficient of 4 features in 1 family, ordered family by family, cut at 4 features");
  });
});

describe("childrenHistogramFigure", () => {
  it("bins on integer, roughly log-spaced edges", () => {
    expect(childrenBinEdges(30)).toEqual([1, 2, 3, 4, 6, 8, 12, 16, 24, 32]);
    expect(childrenBinEdges(32)).toEqual([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48]);
  });

  it("plots fractions of each SAE's families per bin, from the smallest to the largest count seen", () => {
    // a: 4, 4, 5 → "4–5"; 6 → "6–7"; 9 → "8–11"; 30 → "24–31". b: 7 → "6–7".
    const spec = childrenHistogramFigure({ a: [4, 4, 5, 6, 9, 30], b: [7] });
    assertFigureSpec(spec);
    expect(spec.data[0]!.x).toEqual(["4–5", "6–7", "8–11", "12–15", "16–23", "24–31"]);
    expect(spec.data[0]!.y).toEqual([0.5, 0.1667, 0.1667, 0, 0, 0.1667]);
    expect(spec.data[1]!.y).toEqual([0, 1, 0, 0, 0, 0]);
    expect(spec.data[0]!.name).toBe("a (6 families, median 5.5, mean 9.7)");
    expect(spec.layout.barmode).toBe("group");
  });

  it("rejects a count that is not a positive integer", () => {
    expect(() => childrenHistogramFigure({ a: [4, 0] })).toThrow(/children count of 0/);
    expect(() => childrenHistogramFigure({ a: [2.5] })).toThrow(SaerchError);
  });
});

describe("conditionalVsRandomFigure", () => {
  it("bins every series on shared edges as fractions summing to 1, out-of-range values in the end bins", () => {
    // Bins of width 0.25 on [0, 1]: 0.02 → 0; 0.5, 0.51 → 2; 1 and 1.2 (clipped) → 3; NaN dropped (n = 5).
    const spec = conditionalVsRandomFigure({ "parent–child": [0.02, 0.5, 0.51, 1, 1.2, Number.NaN], random: [0, 0.01] }, { bins: 4 });
    assertFigureSpec(spec);
    expect(spec.data.map((t) => t.x)).toEqual([[0.125, 0.375, 0.625, 0.875], [0.125, 0.375, 0.625, 0.875]]);
    expect(spec.data[0]!.y).toEqual([0.2, 0, 0.4, 0.4]);
    expect(spec.data[1]!.y).toEqual([1, 0, 0, 0]);
    expect(spec.data[0]!.name).toBe("parent–child (mean 0.65, n=5)");
    expect((spec.layout.shapes as unknown[]).length).toBe(2);
    expect(spec.layout.barmode).toBe("overlay");
  });

  it("takes a range for decoder cosines", () => {
    const spec = conditionalVsRandomFigure({ c: [-1, -0.6, 0.9] }, { range: [-1, 1], bins: 4, xTitle: "decoder cosine" });
    expect(spec.data[0]!.x).toEqual([-0.75, -0.25, 0.25, 0.75]);
    expect(spec.data[0]!.y).toEqual([0.6667, 0, 0, 0.3333]);
    expect((spec.layout.xaxis as { range: number[] }).range).toEqual([-1, 1]);
    expect(() => conditionalVsRandomFigure({ c: [0] }, { range: [1, 1] })).toThrow(SaerchError);
  });
});

/**
 * A seeded synthetic topic hierarchy for the renders: 4 topics (roots), each with subtopics, some subtopics
 * with sub-subtopics; a document takes a topic, usually one of its subtopics (sometimes two), and usually
 * one of that subtopic's children, padded to K with noise features.
 */
function syntheticHierarchy() {
  const topics: Array<[string, Array<[string, string[]]>]> = [
    ["galaxy clusters", [["intracluster medium", ["X-ray surface brightness", "cool cores", "shock fronts", "metallicity profiles"]], ["Sunyaev–Zel'dovich effect", []], ["cluster mass calibration", ["weak-lensing masses", "hydrostatic bias", "richness–mass relation"]], ["brightest cluster galaxies", []], ["cluster cosmology", []], ["radio halos and relics", []]]],
    ["exoplanet detection", [["transit photometry", ["TESS light curves", "transit timing variations", "stellar activity noise"]], ["radial velocity surveys", []], ["direct imaging", ["coronagraphy", "adaptive optics", "high-contrast spectroscopy", "debris disks"]], ["microlensing planets", []], ["hot Jupiter atmospheres", []]]],
    ["stellar evolution", [["asteroseismology", []], ["white dwarf cooling", []], ["massive star winds", ["Wolf–Rayet stars", "luminous blue variables", "mass-loss rates", "line-driven winds"]], ["binary interaction", []], ["red giant branch", []]]],
    ["cosmic microwave background", [["B-mode polarisation", []], ["CMB lensing", []], ["foreground separation", []], ["spectral distortions", []], ["primordial non-Gaussianity", []]]],
  ];
  const labels = new Map<number, string>();
  const tree: Array<{ id: number; subs: Array<{ id: number; kids: number[] }> }> = [];
  let next = 0;
  for (const [name, subs] of topics) {
    const id = next++;
    labels.set(id, name);
    tree.push({
      id,
      subs: subs.map(([sub, kids]) => {
        const sid = next++;
        labels.set(sid, sub);
        return { id: sid, kids: kids.map((kid) => (labels.set(next, kid), next++)) };
      }),
    });
  }
  const noise = 60;
  const n = next + noise;
  const k = 8;
  const docs = 6000;
  const rng = new Rng(5);
  const indices = new Int32Array(docs * k);
  for (let d = 0; d < docs; d++) {
    const row = new Set<number>();
    // Mostly one topic, sometimes a second (off-block co-occurrence).
    const topics = rng.float() < 0.1 ? 2 : 1;
    for (let t = 0; t < topics; t++) {
      const topic = tree[rng.int(tree.length)]!;
      const picks = rng.float() < 0.2 ? 2 : 1;
      let specialised = false;
      for (let p = 0; p < picks; p++) {
        const sub = topic.subs[rng.int(topic.subs.length)]!;
        // A sub-subtopic always brings its subtopic, so P(sub | kid) = 1 > P(topic | kid) and the tree nests.
        const kid = sub.kids.length > 0 && rng.float() < 0.7 ? sub.kids[rng.int(sub.kids.length)] : undefined;
        if (kid !== undefined || rng.float() < 0.85) row.add(sub.id);
        if (kid !== undefined) row.add(kid);
        specialised ||= kid !== undefined;
      }
      // Specialised documents name the broad topic less often: P(topic | kid) < P(topic | sub), so a kid hangs
      // under its subtopic rather than straight under the topic.
      if (rng.float() < (specialised ? 0.5 : 0.95)) row.add(topic.id);
    }
    while (row.size < k) row.add(next + rng.int(noise));
    indices.set([...row], d * k);
  }
  // The feature set is the hierarchy (the "clean" features); noise only pads the rows.
  const features = Array.from({ length: next }, (_, i) => i);
  const cooc = cooccurrence(indices, k, features, n);
  return { cooc, labels, n, rng, build: buildFamilies(cooc) };
}

describe("renders", () => {
  it.skipIf(findBrowser() === undefined)("renders each figure to PNG", async () => {
    const { cooc, labels, build, rng } = syntheticHierarchy();
    const families = build.families;
    expect(families.length).toBeGreaterThanOrEqual(4);
    const deepest = (f: (typeof families)[number]) => Math.max(...f.members.map((m) => m.depth));
    const biggest = [...families].sort((a, b) => deepest(b) - deepest(a) || b.members.length - a.members.length)[0]!;
    expect(deepest(biggest)).toBe(2);
    const graph = familyGraphFigure(biggest, cooc, { labels });
    const blocks = cooccurrenceBlocksFigure(
      families.map((f) => ({ name: labels.get(f.root) ?? `#${f.root}`, features: familyFeatures(f) })),
      cooc,
    );
    // Children per family for three SAE sizes: seeded log-normal counts ≥ 4 (the paper's median is 6.5).
    const sizes: Record<string, number[]> = {};
    for (const [name, count, scale] of [["SAE16", 200, 0.9], ["SAE32", 400, 1.1], ["SAE64", 610, 1.3]] as const) {
      sizes[name] = Array.from({ length: count }, () => 4 + Math.floor(Math.exp(0.6 + scale * rng.normal())));
    }
    const children = childrenHistogramFigure(sizes);
    const ev = pairEvidence(cooc, families, Math.max(...cooc.featuresM) + 1);
    const cond = conditionalVsRandomFigure({ "parent–child": ev.parentGivenChild, "random pairs, matched density": ev.randomGivenChild });
    const cosine = conditionalVsRandomFigure(
      { "parent–child": Array.from({ length: 300 }, () => Math.tanh(0.9 + 0.4 * rng.normal())), random: Array.from({ length: 3000 }, () => 0.08 * rng.normal()) },
      { range: [-1, 1], bins: 40, xTitle: "decoder cosine similarity", title: "Decoder cosine: parent–child pairs against random pairs" },
    );
    const figures = { "05-family-graph": graph, "05-cooccurrence-blocks": blocks, "05-children-per-family": children, "05-parent-given-child": cond, "05-decoder-cosine": cosine };
    for (const [name, spec] of Object.entries(figures)) {
      assertFigureSpec(spec);
      const saved = await saveFigure(name, spec, { formats: ["png"] });
      expect(saved.rendered).toBe(true);
      expect(saved.png!.length).toBeGreaterThan(1000);
    }
  });
});
