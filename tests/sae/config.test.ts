/**
 * Tests for the SAE config (src/sae/config.ts): the paper's defaults, the data-dependent defaults filled by
 * resolveSaeConfig (kAux, deadWindow, steps), and rejections whose messages name the offending field.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { resolveSaeConfig, saePreset } from "../../src/sae/config.js";

describe("resolveSaeConfig defaults", () => {
  it("fills the paper's recipe and the data-dependent defaults", () => {
    const c = resolveSaeConfig({ d: 8, n: 32, k: 4, epochs: 2, batch: 16 }, 100);
    expect(c.kAux).toBe(8); // 2k
    expect(c.deadWindow).toBe(100); // one epoch of the 100 training rows
    expect(c.steps).toBe(13); // ceil(2 · 100 / 16)
    expect(c).toMatchObject({
      auxCoef: 1 / 32,
      lr: 1e-4,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      gradClip: 1,
      initSampleRows: 10_000,
      seed: 0,
      engine: "onnx",
    });
    expect(resolveSaeConfig({ d: 8, n: 32, k: 4, steps: 5 }, 100).batch).toBe(1024);
  });

  it("caps kAux at n and never makes the dead window shorter than one batch", () => {
    expect(resolveSaeConfig({ d: 4, n: 5, k: 3, steps: 1 }, 100).kAux).toBe(5);
    expect(resolveSaeConfig({ d: 4, n: 8, k: 3, steps: 1, batch: 256 }, 100).deadWindow).toBe(256);
  });

  it("keeps explicit values", () => {
    const c = resolveSaeConfig({ d: 4, n: 8, k: 2, kAux: 0, deadWindow: 7, steps: 3, epochs: undefined }, 100);
    expect(c.kAux).toBe(0);
    expect(c.deadWindow).toBe(7);
    expect(c.steps).toBe(3);
  });
});

describe("resolveSaeConfig rejections name the field", () => {
  const reject = (input: Parameters<typeof resolveSaeConfig>[0], pattern: RegExp): void => {
    let caught: unknown;
    try {
      resolveSaeConfig(input, 100);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SaerchError);
    expect((caught as Error).message).toMatch(pattern);
  };

  it("k must be smaller than n", () => {
    reject({ d: 4, n: 8, k: 8, steps: 1 }, /- k: k \(8\) must be smaller than n \(8\)/);
  });

  it("kAux must not exceed n", () => {
    reject({ d: 4, n: 8, k: 2, kAux: 9, steps: 1 }, /- kAux: kAux \(9\) must not exceed n \(8\)/);
  });

  it("exactly one of steps and epochs", () => {
    reject({ d: 4, n: 8, k: 2 }, /- steps: give steps or epochs$/m);
    reject({ d: 4, n: 8, k: 2, steps: 3, epochs: 1 }, /- steps: give steps or epochs, not both/);
  });

  it("a non-positive learning rate, and several problems at once", () => {
    reject({ d: 4, n: 8, k: 2, steps: 1, lr: -1 }, /- lr: /);
    reject({ d: 4, n: 8, k: 2, steps: 1, lr: 0 }, /- lr: /);
    reject({ d: 4, n: 4, k: 4, steps: 1, lr: -1 }, /- lr: [\s\S]*- k: k \(4\) must be smaller than n \(4\)/);
  });

  it("unknown fields", () => {
    reject({ d: 4, n: 8, k: 2, steps: 1, topk: 3 } as never, /topk/);
  });
});

describe("saePreset", () => {
  it("scales the dictionary with d and gives a valid config per profile", () => {
    expect(saePreset("tiny", 64)).toMatchObject({ n: 128, k: 16, steps: 150, batch: 256, threads: 2 });
    expect(saePreset("default", 64)).toMatchObject({ n: 512, k: 32, steps: 3000 });
    expect(saePreset("paper", 64)).toMatchObject({ n: 512, k: 32, epochs: 50, engine: "auto" });
    for (const profile of ["tiny", "default", "paper"] as const) {
      expect(() => resolveSaeConfig({ d: 64, ...saePreset(profile, 64) }, 1000)).not.toThrow();
    }
  });
});
