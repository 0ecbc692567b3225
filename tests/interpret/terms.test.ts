/**
 * Tests for src/interpret/terms.ts: exact token lists for hand-written strings, bigram boundaries, and
 * hand-counted document frequencies and idf values.
 */
import { describe, expect, it } from "vitest";
import {
  buildDocFreq,
  DocFreqBuilder,
  isBigram,
  isContentWord,
  STOPWORDS,
  termSet,
  tokenize,
} from "../../src/interpret/terms.js";

describe("tokenize", () => {
  it("lowercases, keeps inner hyphens, drops stopwords, numbers, single letters and LaTeX commands", () => {
    // lower + LaTeX stripped: "we propose a novel x-ray method for the n-body simulation of 2025 galaxies, i.e. $ $cdm."
    // we/propose/a/novel/method/for/the/of: stopwords; 2025: number; i, e: single letters.
    const text = "We propose a novel X-ray method for the N-body simulation of 2025 galaxies, i.e. $\\Lambda$CDM.";
    expect(tokenize(text)).toEqual(["x-ray", "n-body", "simulation", "galaxies", "cdm"]);
  });

  it("handles hyphen edges, digit mixtures and non-ASCII letters", () => {
    // "state-of-the-art" is a stopword; the trailing hyphen of "models-" is not part of the word;
    // "1-2" is numbers only; "3d", "h2o", "10x" mix digits and letters and stay.
    expect(tokenize("State-of-the-art deep-learning models- for 1-2 3D H2O 10x Café Ångström")).toEqual([
      "deep-learning",
      "models",
      "3d",
      "h2o",
      "10x",
      "café",
      "ångström",
    ]);
  });

  it("returns nothing for boilerplate, numbers and symbols", () => {
    expect(tokenize("We show that our results, based on 42 (±3), are new.")).toEqual([]);
    expect(tokenize("")).toEqual([]);
  });
});

describe("STOPWORDS", () => {
  it("holds function words and academic boilerplate, but not common domain words that start phrases", () => {
    for (const w of ["the", "we", "paper", "propose", "results", "show", "using", "method", "approach", "based", "study", "also", "new", "novel"]) {
      expect(STOPWORDS.has(w), w).toBe(true);
    }
    for (const w of ["model", "models", "data", "galaxies", "learning", "large", "high", "strong", "main", "potential"]) {
      expect(STOPWORDS.has(w), w).toBe(false);
    }
  });

  it("is all lowercase words the tokenizer can produce", () => {
    for (const w of STOPWORDS) expect(w).toMatch(/^[a-z]+(?:-[a-z]+)*$/);
  });

  it("isContentWord agrees with the list, the length floor and the number rule", () => {
    expect(isContentWord("lensing")).toBe(true);
    expect(isContentWord("we")).toBe(false);
    expect(isContentWord("x")).toBe(false);
    expect(isContentWord("2025")).toBe(false);
  });
});

describe("termSet", () => {
  it("adds bigrams of adjacent kept words, in order of first occurrence", () => {
    // "halos. dark" is split by the period; "dark" repeats and is kept once.
    expect([...termSet("Dark matter halos. Dark energy", { bigrams: true })]).toEqual([
      "dark",
      "matter",
      "dark matter",
      "halos",
      "matter halos",
      "energy",
      "dark energy",
    ]);
  });

  it("breaks phrases at stopwords, dropped words and line breaks", () => {
    // "of" between "detection" and "dark"; "2" between "galaxies" and "clusters"; "\n\n" between title and abstract.
    expect([...termSet("Detection of dark matter in 2 galaxies clusters", { bigrams: true })]).toEqual([
      "detection",
      "dark",
      "matter",
      "dark matter",
      "galaxies",
      "clusters",
      "galaxies clusters",
    ]);
    expect([...termSet("Title words\n\nAbstract text", { bigrams: true })]).toEqual([
      "title",
      "words",
      "title words",
      "abstract",
      "text",
      "abstract text",
    ]);
  });

  it("has no bigrams when they are off", () => {
    expect([...termSet("dark matter halos", { bigrams: false })]).toEqual(["dark", "matter", "halos"]);
    expect(isBigram("dark matter")).toBe(true);
    expect(isBigram("x-ray")).toBe(false);
  });
});

describe("DocFreq", () => {
  const docs = ["Dark matter halos", "Dark energy", "Dark matter and dark matter again"];

  it("counts each term once per document and computes the smoothed idf", () => {
    const df = buildDocFreq(docs, { bigrams: true, minDf: 1 });
    expect(df.docs).toBe(3);
    expect(df.bigrams).toBe(true);
    // dark: all 3 docs; "dark matter": docs 1 and 3 (twice in doc 3, counted once); halos: doc 1 only.
    expect(df.df("dark")).toBe(3);
    expect(df.df("dark matter")).toBe(2);
    expect(df.df("halos")).toBe(1);
    expect(df.df("lensing")).toBe(0);
    // idf = ln((1 + N) / (1 + df)) + 1 with N = 3.
    expect(df.idf("dark")).toBeCloseTo(Math.log(4 / 4) + 1, 12);
    expect(df.idf("dark matter")).toBeCloseTo(Math.log(4 / 3) + 1, 12);
    expect(df.idf("lensing")).toBeCloseTo(Math.log(4 / 1) + 1, 12);
    // terms: dark, matter, dark matter, halos, matter halos, energy, dark energy ("and", "again": stopwords)
    expect(df.size).toBe(7);
    for (let i = 0; i < df.size; i++) {
      expect(df.indexOf(df.termAt(i))).toBe(i);
      expect(df.idfAt(i)).toBe(df.idf(df.termAt(i)));
      expect(df.dfAt(i)).toBe(df.df(df.termAt(i)));
    }
    expect(df.dfAt(df.indexOf("dark matter"))).toBe(2);
    expect(df.indexOf("lensing")).toBe(-1);
    expect(() => df.dfAt(7)).toThrow(/outside \[0, 7\)/);
  });

  it("prunes terms below minDf and looks them up as df = minDf − 1", () => {
    const df = buildDocFreq(docs, { bigrams: true, minDf: 2 });
    // kept: dark (3), matter (2), dark matter (2)
    expect(df.size).toBe(3);
    expect(df.indexOf("halos")).toBe(-1);
    expect(df.df("halos")).toBe(1);
    expect(df.idf("halos")).toBeCloseTo(Math.log(4 / 2) + 1, 12);
    expect(df.df("dark matter")).toBe(2);
  });

  it("counts no bigrams when they are off", () => {
    const df = buildDocFreq(docs, { bigrams: false, minDf: 1 });
    expect(df.bigrams).toBe(false);
    expect(df.indexOf("dark matter")).toBe(-1);
    expect(df.df("matter")).toBe(2);
  });

  it("streams through the builder, grows past its initial capacity and refuses reuse", () => {
    // 3000 distinct words per document (w0 … w2999) forces the count arrays to grow twice.
    const words = Array.from({ length: 3000 }, (_, i) => `w${i}`).join(" ");
    const builder = new DocFreqBuilder({ bigrams: false, minDf: 1 });
    builder.add(words);
    builder.add("w7 w2999 extra");
    const df = builder.finish();
    expect(df.docs).toBe(2);
    expect(df.size).toBe(3001);
    expect(df.df("w0")).toBe(1);
    expect(df.df("w7")).toBe(2);
    expect(df.df("w2999")).toBe(2);
    expect(df.df("extra")).toBe(1);
    expect(() => builder.add("more")).toThrow(/after finish/);
    expect(() => builder.finish()).toThrow(/twice/);
    expect(() => new DocFreqBuilder({ bigrams: false, minDf: 0 })).toThrow(/minDf/);
  });
});
