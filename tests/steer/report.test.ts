/** Tests for src/steer/report.ts: the paper comparison, with the chance row. */
import { describe, expect, it } from "vitest";
import { PAPER_STEERING } from "../../src/steer/paper.js";
import { paperSteeringRows } from "../../src/steer/report.js";

describe("paperSteeringRows", () => {
  it("lists every paper point, and the paper's chance beside ours when ours is given", () => {
    const r = { name: "astro-ph-n4096-k32", points: [] };
    const without = paperSteeringRows(r, "activation");
    expect(without).toHaveLength(PAPER_STEERING.length);
    expect(without.every((row) => row.ours === "not run")).toBe(true);
    const withChance = paperSteeringRows(r, "activation", 1 / 5);
    expect(withChance).toHaveLength(PAPER_STEERING.length + 1);
    expect(withChance.at(-1)).toEqual({ paper: "chance: 0.2", ours: "chance: 0.20", SAE: "astro-ph-n4096-k32", judge: "activation" });
  });
});
