import { describe, expect, it } from "vitest";
import { domainCosines, reproductionCheck } from "../../src/embed/checks.js";

describe("domainCosines", () => {
  // Domain a lives near e1, domain b near e2: within-pairs have cosine ≈ 1, between-pairs ≈ 0.
  const d = 2;
  const embND = new Float32Array([1, 0, 0.99, 0.14, 1, 0.05, 0, 1, 0.1, 1, 0, 0.9]);
  const labels = ["a", "a", "a", "b", "b", "other"];

  it("separates within- and between-domain pairs", () => {
    const { groups, means } = domainCosines(embND, d, labels, ["a", "b"], { pairs: 200, seed: 1 });
    expect(Object.keys(groups)).toEqual(["within a", "within b", "between a / b"]);
    expect(means["within a"]).toBeGreaterThan(0.98);
    expect(means["within b"]).toBeGreaterThan(0.98);
    expect(means["between a / b"]).toBeLessThan(0.2);
    expect(groups["within a"]).toHaveLength(200);
  });

  it("is deterministic for a seed", () => {
    const x = domainCosines(embND, d, labels, ["a", "b"], { pairs: 50, seed: 4 });
    const y = domainCosines(embND, d, labels, ["a", "b"], { pairs: 50, seed: 4 });
    expect(x.groups["between a / b"]).toEqual(y.groups["between a / b"]);
  });

  it("needs two documents per domain", () => {
    expect(() => domainCosines(embND, d, labels, ["a", "other"])).toThrow(/"other" has 1 document/);
  });
});

describe("reproductionCheck", () => {
  it("reports per-id cosines, their min and mean (hand-set)", () => {
    // a = (1, 0) vs (1, 0) → 1; b = (0, 1) vs (1, 1)/√2·√2 → cos 45° = √½.
    const rows: Record<string, Float32Array> = { a: new Float32Array([1, 0]), b: new Float32Array([0, 1]) };
    const r = reproductionCheck((id) => rows[id], ["a", "b"], new Float32Array([1, 0, 1, 1]));
    expect(r.cosines[0]).toBeCloseTo(1, 6);
    expect(r.cosines[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(r.min).toBeCloseTo(Math.SQRT1_2, 6);
    expect(r.mean).toBeCloseTo((1 + Math.SQRT1_2) / 2, 6);
  });

  it("names an id the store lacks", () => {
    expect(() => reproductionCheck(() => undefined, ["x"], new Float32Array([1, 0]))).toThrow(/"x" is not in the store/);
  });
});
