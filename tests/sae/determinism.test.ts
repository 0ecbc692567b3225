/**
 * Same seed and thread count → bit-identical weights (the onnx engine's kernels on worker threads,
 * src/sae/kernel-pool.ts): whole trainings through trainSae on a 300-row synthetic store, on two threads and on
 * one, each repeated in a fresh run directory and compared byte for byte (sae.safetensors); the stress
 * harness's own checks (src/sae/stress.ts) on a few runs with random worker delays; and its comparisons on
 * hand-made states.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddingStore } from "../../src/embed/store-reader.js";
import { createTrainStep } from "../../src/sae/engines.js";
import { zeroAdamState } from "../../src/sae/params.js";
import { bitDifferences, relativeWeightDiff, runStress, sameBits } from "../../src/sae/stress.js";
import type { TrainState } from "../../src/sae/train-step.js";
import { trainSae } from "../../src/sae/trainer.js";
import { writeSyntheticStore } from "../fixtures/sae/synthetic-store.js";

const CONFIG = { d: 16, n: 64, k: 4, batch: 32, steps: 40, lr: 3e-3, checkpointEvery: 15, logEvery: 10, seed: 5, engine: "onnx" as const };
const TWO = availableParallelism() >= 2;

let tmp: string;
let store: EmbeddingStore;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "saerch-determinism-"));
  store = writeSyntheticStore(join(tmp, "store"));
});
afterAll(() => {
  store.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Train in a fresh directory; the final weights file's bytes and the engine's thread count. */
async function train(label: string, threads: number, seed = CONFIG.seed): Promise<{ bytes: Buffer; threads: number | undefined }> {
  let used: number | undefined;
  const result = await trainSae({
    config: { ...CONFIG, threads, seed },
    store,
    dir: join(tmp, label),
    quiet: true,
    createStep: async (c, init) => {
      const step = await createTrainStep(c, init);
      used = step.threads;
      return step;
    },
  });
  return { bytes: readFileSync(result.weightsPath), threads: used };
}

describe("same seed and thread count, same weights", () => {
  it.skipIf(!TWO)("two threads: two trainings of one seed write byte-identical weights; another seed does not", async () => {
    const a = await train("two-a", 2);
    const b = await train("two-b", 2);
    expect(a.threads).toBe(2);
    expect(a.bytes.equals(b.bytes)).toBe(true);
    const other = await train("two-other", 2, CONFIG.seed + 1);
    expect(other.bytes.equals(a.bytes)).toBe(false);
  });

  it("one thread: two trainings of one seed write byte-identical weights", async () => {
    const a = await train("one-a", 1);
    const b = await train("one-b", 1);
    expect(a.threads).toBe(1);
    expect(a.bytes.equals(b.bytes)).toBe(true);
  });

  it.skipIf(!TWO)("the stress harness finds no failure or mismatch in 3 runs with random worker delays and late notifies", async () => {
    const r = await runStress({ runs: 3, steps: 12, stateEvery: 5, jitterMs: 2, lateNotifyMs: 1 });
    expect(r).toMatchObject({ runs: 3, lateNotifyMs: 1, failures: 0, mismatches: 0, repeatMismatches: 0, oneThreadMismatches: 0, kernelMismatches: 0 });
    expect(r.errors).toEqual([]);
    // Two threads round the cross-thread sums differently from one, but only in the last bits.
    expect(r.maxOneThreadDiff).toBeLessThan(1e-5);
  });

  it.skipIf(!TWO)("the one-thread comparison counts against a tolerance, or is only reported when the tolerance is null", async () => {
    const strict = await runStress({ runs: 1, steps: 12, stateEvery: 5, oneThreadTolerance: 1e-30 });
    const reported = await runStress({ runs: 1, steps: 12, stateEvery: 5, oneThreadTolerance: null });
    expect(strict.maxOneThreadDiff).toBeGreaterThan(0);
    expect(strict).toMatchObject({ oneThreadMismatches: 1, mismatches: 1, repeatMismatches: 0, kernelMismatches: 0 });
    expect(reported.maxOneThreadDiff).toBe(strict.maxOneThreadDiff);
    expect(reported).toMatchObject({ oneThreadMismatches: 0, mismatches: 0 });
    // The state hash depends on the trained states only: the same settings give the same hash, another seed another.
    expect(strict.stateHash).toMatch(/^[0-9a-f]{16}$/);
    expect(reported.stateHash).toBe(strict.stateHash);
    const other = await runStress({ runs: 1, steps: 12, stateEvery: 5, seed: 1 });
    expect(other.stateHash).not.toBe(strict.stateHash);
  });
});

describe("stress comparisons", () => {
  const state = (w: number[]): TrainState => {
    const wEncFD = Float32Array.from(w);
    return {
      params: { d: 2, n: 2, wEncFD, bLatF: new Float32Array(2), wDecFD: wEncFD.slice(), bPreD: new Float32Array(2) },
      adam: zeroAdamState(2, 2),
      sinceFiredF: new Float64Array(2),
    };
  };

  it("sameBits tells −0 from 0 and compares NaN by payload", () => {
    expect(sameBits(Float32Array.of(0), Float32Array.of(-0))).toBe(false);
    expect(sameBits(Float32Array.of(NaN), Float32Array.of(NaN))).toBe(true);
    expect(sameBits(Float32Array.of(1, 2), Float32Array.of(1))).toBe(false);
  });

  it("bitDifferences names each tensor whose bits differ; relativeWeightDiff scales by the largest weight", () => {
    const a = state([1, 2, 3, 4]);
    const b = state([1, 2, 3, 4]);
    expect(bitDifferences(a, b)).toEqual([]);
    b.params.wEncFD[3] = Math.fround(4 + 2 ** -21); // one ulp at 4
    b.adam.v.bPreD[0] = 1e-30;
    b.sinceFiredF[1] = 1;
    expect(bitDifferences(a, b)).toEqual(["wEncFD", "v.bPreD", "sinceFiredF"]);
    // |Δ| = 2⁻²¹ against max |w| = 4 + 2⁻²¹ in b.
    expect(relativeWeightDiff(a, b)).toBeCloseTo(2 ** -21 / (4 + 2 ** -21), 15);
    b.params.bPreD[1] = NaN;
    expect(relativeWeightDiff(a, b)).toBe(Infinity);
  });
});
