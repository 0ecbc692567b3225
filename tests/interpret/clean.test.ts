/**
 * Tests for src/interpret/clean.ts: label cleanup (wrappers, trailing period, repeated suffix stripping),
 * vague labels, and the clean-feature filter with one case per rejection reason and duplicate labels.
 */
import { describe, expect, it } from "vitest";
import { chanceCleanFraction, cleanLabel, isVagueLabel, selectCleanFeatures } from "../../src/interpret/clean.js";
import { CleanConfig } from "../../src/interpret/config.js";
import type { LabelRecord } from "../../src/interpret/types.js";
import { labelRecord } from "../helpers/label-record.js";

const CFG = CleanConfig.parse({});

const rec = labelRecord;

describe("cleanLabel", () => {
  it("strips wrappers, the trailing period and boilerplate suffixes, repeatedly", () => {
    // wrappers "** → period → " in astronomy" → " studies"
    expect(cleanLabel('  "**Exoplanet transit studies in astronomy.**"  ', CFG)).toBe("Exoplanet transit");
    expect(cleanLabel("Galaxy Clusters IN ASTROPHYSICS", CFG)).toBe("Galaxy Clusters");
    // pass 1 strips " studies" (" research" is checked first but does not match yet); pass 2 strips " research"
    expect(cleanLabel("Deep learning research studies", CFG)).toBe("Deep learning");
    expect(cleanLabel("`Dark \n  matter`", CFG)).toBe("Dark matter");
    expect(cleanLabel("\u201cTransformers in Machine Learning.\u201d", CFG)).toBe("Transformers");
    expect(cleanLabel("'Radio pulsars'...", CFG)).toBe("Radio pulsars");
  });

  it("never strips a suffix that is the whole label; idempotent", () => {
    expect(cleanLabel("Research", CFG)).toBe("Research");
    const own = { ...CFG, boilerplateSuffixes: ["astronomy", ""] };
    expect(cleanLabel("astronomy", own)).toBe("astronomy");
    expect(cleanLabel("radio astronomy", own)).toBe("radio");
    for (const label of ['  "**Exoplanet transit studies in astronomy.**"  ', "Deep learning research studies", "X-ray binaries"]) {
      const once = cleanLabel(label, CFG);
      expect(cleanLabel(once, CFG)).toBe(once);
    }
  });
});

describe("isVagueLabel", () => {
  it("matches the vague list after cleanup, case-insensitively; empty is vague", () => {
    expect(isVagueLabel("Miscellaneous.", CFG)).toBe(true);
    expect(isVagueLabel("**Various Topics in astronomy**", CFG)).toBe(true);
    expect(isVagueLabel(' "" ', CFG)).toBe(true);
    expect(isVagueLabel("Dark matter", CFG)).toBe(false);
    expect(isVagueLabel("Miscellaneous stellar phenomena", CFG)).toBe(false);
  });
});

describe("selectCleanFeatures", () => {
  it("keeps the features that pass every test and says why each other one fails", () => {
    const records: LabelRecord[] = [
      rec(0, { label: "Dark matter halos", pearson: 0.9, f1: 0.857 }),
      rec(1, { status: "too-rare", label: null, pearson: null, f1: null, error: "2 eligible activating documents, 8 needed (active in 5)" }),
      rec(2, { label: "Stellar flares", pearson: null, f1: 0 }),
      rec(3, { label: "Gamma-ray bursts", pearson: 0.41 }),
      rec(4, { label: "Radio pulsars", f1: 2 / 3 }),
      rec(5, { label: "Neural networks", density: 0.25 }),
      rec(6, { label: "Miscellaneous." }),
      rec(7, { label: "dark matter halos in astronomy", pearson: 0.95, f1: 0.857 }),
      rec(8, { label: "**Dark Matter Halos**", pearson: 0.95, f1: 1 }),
      // 10 before 9 in the file: equal scores, so the lower feature index wins whatever the order
      rec(10, { label: "gravitational lensing.", pearson: 0.85, f1: 0.9 }),
      rec(9, { label: "Gravitational lensing", pearson: 0.85, f1: 0.9 }),
      // rounds to the threshold at 3 decimals, so the reason shows every digit
      rec(11, { label: "Cosmic rays", pearson: 0.7999 }),
      // exactly at the score thresholds: kept (≥); density just below 0.2: kept
      rec(12, { label: "Exoplanet atmospheres", pearson: 0.8, f1: 0.8, density: 0.19999 }),
      rec(13, { label: '""' }),
      rec(14, { label: "Supernova remnants", density: 0.2 }),
    ];
    const { clean, rejected } = selectCleanFeatures(records, CFG);
    expect(clean).toEqual([
      { feature: 8, label: "Dark Matter Halos", pearson: 0.95, f1: 1, density: 0.01 },
      { feature: 9, label: "Gravitational lensing", pearson: 0.85, f1: 0.9, density: 0.01 },
      { feature: 12, label: "Exoplanet atmospheres", pearson: 0.8, f1: 0.8, density: 0.19999 },
    ]);
    expect(rejected).toEqual([
      { feature: 0, reason: 'duplicate of feature 8 ("Dark Matter Halos")' },
      { feature: 1, reason: "not labelled (too-rare: 2 eligible activating documents, 8 needed (active in 5))" },
      { feature: 2, reason: "pearson undefined (constant predictions); f1 0 < 0.8" },
      { feature: 3, reason: "pearson 0.41 < 0.8" },
      { feature: 4, reason: "f1 0.667 < 0.8" },
      { feature: 5, reason: "density 0.25 ≥ 0.2" },
      { feature: 6, reason: 'vague label "Miscellaneous"' },
      { feature: 7, reason: 'duplicate of feature 8 ("Dark Matter Halos")' },
      { feature: 10, reason: 'duplicate of feature 9 ("Gravitational lensing")' },
      { feature: 11, reason: "pearson 0.7999 < 0.8" },
      { feature: 13, reason: "empty label" },
      { feature: 14, reason: "density 0.2 ≥ 0.2" },
    ]);
  });

  it("a failed feature keeps its error; a rejected feature cannot win a duplicate group", () => {
    const { clean, rejected } = selectCleanFeatures(
      [rec(0, { status: "failed", label: null, pearson: null, f1: null, error: "timeout" }), rec(1, { label: "Black holes", pearson: 0.99, density: 0.5 }), rec(2, { label: "Black holes" })],
      CFG,
    );
    expect(clean.map((c) => c.feature)).toEqual([2]);
    expect(rejected).toEqual([
      { feature: 0, reason: "not labelled (failed: timeout)" },
      { feature: 1, reason: "density 0.5 ≥ 0.2" },
    ]);
  });

  it("the thresholds come from the config", () => {
    const lax = { ...CFG, minPearson: 0.3, minF1: 0.5, maxDensity: 0.3 };
    const { clean } = selectCleanFeatures([rec(3, { label: "Gamma-ray bursts", pearson: 0.41, f1: 2 / 3, density: 0.25 })], lax);
    expect(clean.map((c) => c.feature)).toEqual([3]);
  });

  it("two records of one feature are an error", () => {
    expect(() => selectCleanFeatures([rec(4, {}), rec(4, {})], CFG)).toThrow(/feature 4 has two records/);
  });
});

describe("chanceCleanFraction", () => {
  it("is about 3 % for random predictions on 3 + 3 held-out documents, seeded and repeatable", () => {
    // A numpy simulation of the same rule (200,000 features, uniform predictions) gives 0.0295.
    const f = chanceCleanFraction({ minF1: 0.8, minPearson: 0.8 }, 3, 3, 20_000, 1);
    expect(f).toBeGreaterThan(0.024);
    expect(f).toBeLessThan(0.035);
    expect(chanceCleanFraction({ minF1: 0.8, minPearson: 0.8 }, 3, 3, 2000, 1)).toBe(chanceCleanFraction({ minF1: 0.8, minPearson: 0.8 }, 3, 3, 2000, 1));
    // Thresholds nobody can fail pass every sample whose predictions are not constant.
    expect(chanceCleanFraction({ minF1: 0, minPearson: -1 }, 3, 3, 500)).toBe(1);
    expect(chanceCleanFraction({ minF1: 0.8, minPearson: 0.8 }, 3, 3, 0)).toBe(0);
  });
});
