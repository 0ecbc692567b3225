/**
 * Tests for src/plot/family-graph-figure.ts (METHOD.md §5, the paper's Figure 4): the radial tree layout on a
 * hand-derived family, the edge filter on hand-built co-occurrence counts, and the figure's traces. The render
 * of the figure is in families-figures.test.ts, with the other stage-5 figures.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { conditional, cooccurrence } from "../../src/families/cooccurrence.js";
import { FAMILY_EDGE_THRESHOLD, familyEdges, familyGraphFigure, RING_OFFSET, radialTreeLayout, ringRadius } from "../../src/plot/family-graph-figure.js";
import { assertFigureSpec } from "../../src/plot/spec.js";
import { N_FEATURES, codesOf } from "../fixtures/families/hand-codes.js";

const member = (feature: number, parent: number, depth: number, weight = 0.5) => ({ feature, parent, depth, weight });

/**
 * A tiny family: root 0, children 1, 2, 3; member 4 under 1. Counts: n_0 = 24, n_1 = 13, n_2 = 11, n_3 = 10,
 * n_4 = 4; C01 = C02 = C03 = 8, C14 = 4, C23 = 2, C12 = 1, every other pair 0. W = max(C/(n_a+1), C/(n_b+1)):
 * (0,1) 8/14, (0,2) 8/12, (0,3) 8/11, (1,4) 4/5 (tree edges); (2,3) 2/11 ≈ 0.18 > 0.1; (1,2) 1/12 ≈ 0.083 < 0.1.
 */
const tiny = (() => {
  const { indices, k } = codesOf([[8, [0, 1]], [8, [0, 2]], [8, [0, 3]], [4, [1, 4]], [2, [2, 3]], [1, [1, 2]]]);
  const cooc = cooccurrence(indices, k, [0, 1, 2, 3, 4], N_FEATURES);
  const family = { root: 0, members: [member(1, 0, 1, 8 / 14), member(2, 0, 1, 8 / 12), member(3, 0, 1, 8 / 11), member(4, 1, 2, 4 / 5)] };
  return { cooc, family };
})();

describe("radialTreeLayout", () => {
  it("puts the root at the origin and each member at the centre of a wedge ∝ its subtree's leaves", () => {
    // Root 10 → 11, 12; 11 → 13, 14. Rings: depth 1 at radius 1.5, depth 2 at 2.5 (d + RING_OFFSET). Leaves 13,
    // 14, 12: the root's 2π splits 2 : 1 between 11 and 12, so 11 owns [0, 4π/3) (angle 2π/3) and 12 owns
    // [4π/3, 2π) (angle 5π/3). 11's wedge splits 1 : 1: 13 owns [0, 2π/3) (angle π/3), 14 owns [2π/3, 4π/3)
    // (angle π). Members given out of order.
    const fam = { root: 10, members: [member(14, 11, 2), member(12, 10, 1), member(13, 11, 2), member(11, 10, 1)] };
    expect(RING_OFFSET).toBe(0.5);
    expect([0, 1, 2].map(ringRadius)).toEqual([0, 1.5, 2.5]);
    const pos = radialTreeLayout(fam);
    expect([...pos.keys()]).toEqual([10, 11, 13, 14, 12]);
    const s3 = Math.sqrt(3);
    const expected: Record<number, [number, number, number, number]> = {
      10: [0, 0, 0, 0],
      11: [-1.5 / 2, (1.5 * s3) / 2, 1, (2 * Math.PI) / 3],
      12: [1.5 / 2, (-1.5 * s3) / 2, 1, (5 * Math.PI) / 3],
      13: [2.5 / 2, (2.5 * s3) / 2, 2, Math.PI / 3],
      14: [-2.5, 0, 2, Math.PI],
    };
    for (const [f, [x, y, depth, angle]] of Object.entries(expected)) {
      const p = pos.get(Number(f))!;
      expect(p.x).toBeCloseTo(x, 12);
      expect(p.y).toBeCloseTo(y, 12);
      expect(p.depth).toBe(depth);
      expect(p.angle).toBeCloseTo(angle, 12);
    }
  });

  it("is deterministic and does not mutate the family", () => {
    const copy = structuredClone(tiny.family);
    expect(radialTreeLayout(tiny.family)).toEqual(radialTreeLayout(tiny.family));
    expect(tiny.family).toEqual(copy);
  });

  it("rejects a member whose parent is outside the family, and a repeated feature", () => {
    expect(() => radialTreeLayout({ root: 0, members: [member(1, 7, 1)] })).toThrow(/parent 7 is not in the family/);
    expect(() => radialTreeLayout({ root: 0, members: [member(1, 0, 1), member(1, 0, 1)] })).toThrow(SaerchError);
    // 2 and 3 are each other's parent: neither can be reached from the root.
    expect(() => radialTreeLayout({ root: 0, members: [member(1, 0, 1), member(2, 3, 2), member(3, 2, 2)] })).toThrow(/2 members .* cannot be reached/);
  });
});

describe("familyEdges", () => {
  it("keeps pairs with W strictly above the threshold, and every tree edge", () => {
    const view = (t: number) => familyEdges(tiny.family, tiny.cooc, t).map((e) => [e.a, e.b, Number(e.weight.toFixed(6)), e.tree]);
    const r = (x: number) => Number(x.toFixed(6));
    const tree = [[0, 1, r(8 / 14), true], [0, 2, r(8 / 12), true], [0, 3, r(8 / 11), true], [1, 4, r(4 / 5), true]];
    expect(FAMILY_EDGE_THRESHOLD).toBe(0.1);
    // (1,2) at 1/12 ≈ 0.083 is dropped at 0.1; (2,3) at 2/11 ≈ 0.18 stays.
    expect(view(FAMILY_EDGE_THRESHOLD)).toEqual([...tree.slice(0, 3), tree[3], [2, 3, r(2 / 11), false]]);
    expect(view(0.05)).toEqual([...tree.slice(0, 3), [1, 2, r(1 / 12), false], tree[3], [2, 3, r(2 / 11), false]]);
    // Exactly at a pair's weight: strictly above is required. Tree edges survive any threshold.
    expect(view(2 / 11)).toEqual([...tree.slice(0, 3), tree[3]]);
    expect(view(0.95)).toEqual(tree);
  });

  it("uses the larger of the two conditionals", () => {
    const [l2, l3] = [2, 3]; // local = feature id for features 0..4
    const e = familyEdges(tiny.family, tiny.cooc).find((x) => x.a === 2 && x.b === 3)!;
    expect(e.weight).toBe(Math.max(conditional(tiny.cooc, l2, l3), conditional(tiny.cooc, l3, l2)));
  });

  it("throws for a family feature outside the co-occurrence's feature set", () => {
    expect(() => familyEdges({ root: 0, members: [member(9, 0, 1)] }, tiny.cooc)).toThrow(/feature 9 is not in/);
  });
});

describe("familyGraphFigure", () => {
  const labels = new Map([[0, "galaxy clusters"], [2, "weak <lensing>"]]);
  const spec = familyGraphFigure(tiny.family, tiny.cooc, { labels });
  const byName = (prefix: string) => spec.data.filter((t) => String(t.name ?? "").startsWith(prefix));

  it("draws co-occurrence and tree edges in width classes, then members, then the root", () => {
    assertFigureSpec(spec);
    const cooc = byName("co-occurrence");
    const tree = byName("spanning-tree");
    // (2,3): W = 2/11 → class ⌈0.91⌉ = 1 of 5. Tree: 8/14 → 3; 8/12, 8/11, 4/5 → 4.
    expect(cooc).toHaveLength(1);
    expect(cooc[0]!.x).toHaveLength(3);
    expect(tree.map((t) => (t.x as unknown[]).length / 3)).toEqual([1, 3]);
    const widths = [...cooc, ...tree].map((t) => (t.line as { width: number }).width);
    expect(widths).toEqual([1.4, 4.2, 5.6]);
    expect(tree.map((t) => t.showlegend)).toEqual([false, true]);
    const [members, root] = spec.data.slice(-2);
    expect(members!.text).toEqual(["#1", "weak &lt;lensing&gt;", "#3", "#4"]);
    expect(root).toMatchObject({ x: [0], y: [0], name: "root (parent feature)" });
    expect((spec.layout.annotations as Array<{ text: string }>)[0]!.text).toBe("<b>galaxy clusters</b>");
    const sizes = members!.marker as { size: number[] };
    expect(Math.max(...sizes.size)).toBeLessThan((root!.marker as { size: number }).size);
    // Size rises with the tree-edge weight: 4 (0.8) > 3 (0.73) > 2 (0.67) > 1 (0.57).
    expect([...sizes.size].sort((a, b) => a - b)).toEqual([sizes.size[0], sizes.size[1], sizes.size[2], sizes.size[3]]);
    expect((spec.layout.xaxis as { visible: boolean }).visible).toBe(false);
    expect((spec.layout.yaxis as { scaleanchor: string }).scaleanchor).toBe("x");
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
  });

  it("drops the sub-threshold pair from the drawing and takes the threshold as a parameter", () => {
    // Only (2,3) is drawn grey: 2 sits at angle π, 3 at 5π/3, both at radius 1.5 (1 owns [0, 2π/3) with 4 below
    // it): (−1.5, 0) and (0.75, −1.5·√3/2 = −1.299).
    const grey = byName("co-occurrence")[0]!;
    expect(grey.x).toEqual([-1.5, 0.75, null]);
    expect(grey.y).toEqual([0, -1.299, null]);
    const loose = familyGraphFigure(tiny.family, tiny.cooc, { threshold: 0.05 });
    expect(loose.data.filter((t) => String(t.name ?? "").startsWith("co-occurrence, W > 0.05")).flatMap((t) => t.x as unknown[])).toHaveLength(6);
  });
});
