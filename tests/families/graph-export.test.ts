/**
 * Tests for src/families/graph-export.ts (METHOD.md §5): the families as one graph, written as GraphML / GEXF
 * and parsed back with graphology's own parsers.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirectedGraph } from "graphology";
import { parse as parseGexf } from "graphology-gexf";
import { parse as parseGraphml } from "graphology-graphml";
import { afterAll, describe, expect, it } from "vitest";
import type { FamilyBuild } from "../../src/families/build.js";
import { cooccurrence } from "../../src/families/cooccurrence.js";
import { familyGraph, gexfString, graphmlString, writeGexf, writeGraphml } from "../../src/families/graph-export.js";
import { N_FEATURES, nested } from "../fixtures/families/hand-codes.js";

const dir = mkdtempSync(join(tmpdir(), "saerch-graph-export-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("familyGraph and its GraphML / GEXF", () => {
  const { build, cooc } = nested();
  const labels = new Map([[0, "Stars & <galaxies>"], [1, "it's \"variable\"\u0001"]]);
  const graph = familyGraph(build, cooc, labels);

  it("has a node per family feature and an edge per tree edge, shared edges listed once", () => {
    expect(graph.order).toBe(9);
    expect(graph.size).toBe(8); // 0 → 1..4 and 1 → 5..8; family 1's edges are family 0's too
    expect(graph.getNodeAttributes("0")).toEqual({ label: "Stars & <galaxies>", density: 60 / 80, families: [0], isRoot: true });
    expect(graph.getNodeAttributes("1")).toMatchObject({ density: 30 / 80, families: [0, 1], isRoot: true });
    expect(graph.getNodeAttributes("5")).toEqual({ label: "feature 5", density: 5 / 80, families: [0, 1], isRoot: false });
    expect(graph.getEdgeAttributes("0->1").weight).toBeCloseTo(10 / 31, 12);
    expect(graph.getEdgeAttributes("1->5")).toEqual({ weight: expect.closeTo(5 / 6, 12), families: [0, 1] });
    expect(graph.source("1->5")).toBe("1");
    expect(graph.target("1->5")).toBe("5");
  });

  it("rejects a co-occurrence without the families' features", () => {
    const other = cooccurrence(new Int32Array([0, 1]), 2, [0, 1], N_FEATURES);
    expect(() => familyGraph(build, other)).toThrow(/family feature 2 is not in the co-occurrence/);
  });

  it("writes GraphML that graphology-graphml parses back", () => {
    const path = join(dir, "families.graphml");
    writeGraphml(graph, path);
    const text = readFileSync(path, "utf8");
    expect(text).toBe(graphmlString(graph));
    const back = parseGraphml(DirectedGraph, text);
    expect(back.type).toBe("directed");
    expect([back.order, back.size]).toEqual([9, 8]);
    // The control character is not representable in XML and becomes U+FFFD; arrays become comma-joined strings.
    expect(back.getNodeAttributes("1")).toEqual({ label: "it's \"variable\"\ufffd", density: 30 / 80, families: "0,1", isRoot: true });
    expect(back.getNodeAttribute("0", "label")).toBe("Stars & <galaxies>");
    expect(back.getEdgeAttributes("1->5")).toEqual({ weight: 5 / 6, families: "0,1" });
    expect(back.hasDirectedEdge("0", "4")).toBe(true);
  });

  it("writes GEXF that graphology-gexf parses back", () => {
    const path = join(dir, "families.gexf");
    writeGexf(graph, path);
    const text = readFileSync(path, "utf8");
    expect(text).toBe(gexfString(graph));
    const back = parseGexf(DirectedGraph, text);
    expect([back.order, back.size]).toEqual([9, 8]);
    expect(back.getNodeAttributes("1")).toEqual({ label: "it's \"variable\"\ufffd", density: 30 / 80, families: [0, 1], isRoot: true });
    expect(back.getEdgeAttributes("1->5")).toEqual({ weight: 5 / 6, families: [0, 1] });
    // The graph itself is untouched by the XML-safe copy.
    expect(graph.getNodeAttribute("1", "label")).toBe("it's \"variable\"\u0001");
  });

  it("round-trips an empty build as an empty graph", () => {
    const empty: FamilyBuild = { featuresM: new Int32Array(0), families: [], rounds: [], duplicates: [] };
    const g = familyGraph(empty, cooc);
    expect(parseGraphml(DirectedGraph, graphmlString(g)).order).toBe(0);
    // graphology-gexf's parser types an edgeless graph "mixed" unless told to keep the constructor's type.
    expect(parseGexf(DirectedGraph, gexfString(g), { respectInputGraphType: true }).order).toBe(0);
  });
});
