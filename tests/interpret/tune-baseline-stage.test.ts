/**
 * Tests for src/interpret/tune-baseline-stage.ts: the tuning SAEs' seed differs from the seed of every SAE
 * whose scores are reported — read from each profile's stage-2 and sweep presets and from the notebooks'
 * own SAE calls — and a reported seed is refused before anything is computed.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROFILES } from "../../src/compute/profile.js";
import { SaeConfig, saePreset } from "../../src/sae/config.js";
import { sweepPreset } from "../../src/scaling/sweep.js";
import { presetSaeSeeds, runTuneBaseline, TUNING_SAE_SEED, TuneBaselineConfig, tuneConfigFromArgs } from "../../src/interpret/tune-baseline-stage.js";
import { repoPath } from "../../src/io/paths.js";

/** Seeds given to SAE training in a notebook's code: `seed: N` on a line that trains SAEs (runSaeStage, runSweep, saePreset). */
function notebookSaeSeeds(file: string): number[] {
  const nb = JSON.parse(readFileSync(file, "utf8")) as { cells: Array<{ cell_type: string; source: string[] | string }> };
  const seeds: number[] = [];
  for (const cell of nb.cells) {
    if (cell.cell_type !== "code") continue;
    const src = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    for (const line of src.split("\n")) {
      if (!/runSaeStage|runSweep|saePreset|sweepPreset/.test(line)) continue;
      for (const m of line.matchAll(/\bseed:\s*(-?\d+)/g)) seeds.push(Number(m[1]));
    }
  }
  return seeds;
}

describe("the tuning SAE's seed", () => {
  it("is the tuning config's default", () => {
    expect(TuneBaselineConfig.parse({}).seed).toBe(TUNING_SAE_SEED);
  });

  it("differs from every profile's stage-2 and sweep SAE seeds", () => {
    const defaultSeed = SaeConfig.parse({ d: 4, n: 8, k: 2, steps: 1 }).seed;
    for (const profile of PROFILES) {
      const stage2 = (saePreset(profile, 512) as { seed?: number }).seed ?? defaultSeed;
      const sweep = (sweepPreset(profile).train as { seed?: number } | undefined)?.seed ?? defaultSeed;
      expect(stage2, `${profile} stage 2`).not.toBe(TUNING_SAE_SEED);
      expect(sweep, `${profile} sweep`).not.toBe(TUNING_SAE_SEED);
      expect(presetSaeSeeds(profile).sort()).toEqual([...new Set([stage2, sweep])].sort());
    }
  });

  it("differs from every seed a notebook trains an SAE with", () => {
    const dir = repoPath("notebooks");
    const found = readdirSync(dir)
      .filter((f) => f.endsWith(".ipynb"))
      .flatMap((f) => notebookSaeSeeds(join(dir, f)).map((seed) => ({ f, seed })));
    // Notebook 05's stability check trains seed-1 SAEs: the scan must see it, or it proves nothing.
    expect(found).toContainEqual({ f: "05-families.ipynb", seed: 1 });
    for (const { f, seed } of found) expect(seed, f).not.toBe(TUNING_SAE_SEED);
  });

  it("is refused when it is a reported SAE's seed, before any data is read", async () => {
    await expect(runTuneBaseline({ seed: 0 })).rejects.toThrow(/tuning seed 0 is a seed of the reported SAEs/);
  });
});

describe("tuneConfigFromArgs", () => {
  it("turns the command line into a config and names a bad option", () => {
    expect(tuneConfigFromArgs({ seed: "9", features: "20", objective: "pearson" })).toEqual({ seed: 9, features: 20, objective: "pearson" });
    expect(() => tuneConfigFromArgs({ features: "many" })).toThrow(/--features must be an integer/);
    expect(() => tuneConfigFromArgs({ objective: "accuracy" })).toThrow(/invalid tuning options/);
  });
});
