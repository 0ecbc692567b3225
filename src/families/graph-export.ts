/**
 * Our feature families as a graph (METHOD.md §5; §8: the authors shipped families "as JSON only: no family view,
 * no map"): one directed graph of every family's features and tree edges, written as GraphML or GEXF for Gephi,
 * Cytoscape or networkx.
 */
import { DirectedGraph } from "graphology";
import { write as gexfWrite } from "graphology-gexf";
import type { AbstractGraph, Attributes } from "graphology-types";
import { SaerchError } from "../core/errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { type FamilyBuild, familyFeatures } from "./build.js";
import type { Cooccurrence } from "./cooccurrence.js";

// ───────────────────────────── our families as a graph ─────────────────────────────

/** Attributes of a feature node in familyGraph. */
export interface FamilyNodeAttributes extends Attributes {
  /** The feature's label, or `feature <id>` without one. */
  label: string;
  /** Firing density n_i / N over the co-occurrence's documents. */
  density: number;
  /** Ids of the families the feature belongs to (as root or member), ascending. */
  families: number[];
  /** Whether it roots a family (nested families included). */
  isRoot: boolean;
}

/** Attributes of a family tree edge parent → member. */
export interface FamilyEdgeAttributes extends Attributes {
  /** The tree edge's weight (METHOD.md §5 symmetric rule). */
  weight: number;
  /** Ids of the families holding this edge, ascending. */
  families: number[];
}

/** Node label of a feature with no label. */
function unlabelled(feature: number): string {
  return `feature ${feature}`;
}

/**
 * The families as one directed graph: a node per feature in any family (key = feature id as a string, in
 * ascending id order) and an edge per family tree edge parent → member (key `"<parent>-><member>"`). An edge
 * shared by several families (a nested family's edges are also its parent family's) appears once, listing them all.
 * @param cooc the co-occurrence the build came from (densities)
 * @param labels feature id → label
 */
export function familyGraph(build: FamilyBuild, cooc: Cooccurrence, labels?: ReadonlyMap<number, string>): DirectedGraph<FamilyNodeAttributes, FamilyEdgeAttributes> {
  if (cooc.docs === 0) throw new SaerchError("the co-occurrence counted no documents: densities are undefined", "pass the co-occurrence the families were built from");
  const localOf = new Map<number, number>(Array.from(cooc.featuresM, (f, a) => [f, a]));
  const familiesOf = new Map<number, number[]>();
  const roots = new Set<number>();
  for (const fam of build.families) {
    roots.add(fam.root);
    for (const f of familyFeatures(fam)) {
      const list = familiesOf.get(f);
      if (list) list.push(fam.id);
      else familiesOf.set(f, [fam.id]);
    }
  }
  const graph = new DirectedGraph<FamilyNodeAttributes, FamilyEdgeAttributes>();
  for (const f of [...familiesOf.keys()].sort((x, y) => x - y)) {
    const a = localOf.get(f);
    if (a === undefined) throw new SaerchError(`family feature ${f} is not in the co-occurrence's feature set`, "pass the co-occurrence the families were built from");
    graph.addNode(String(f), {
      label: labels?.get(f) ?? unlabelled(f),
      density: cooc.countM[a]! / cooc.docs,
      families: [...new Set(familiesOf.get(f))].sort((x, y) => x - y),
      isRoot: roots.has(f),
    });
  }
  for (const fam of build.families) {
    for (const m of fam.members) {
      const key = `${m.parent}->${m.feature}`;
      if (graph.hasEdge(key)) {
        const families = graph.getEdgeAttribute(key, "families");
        if (!families.includes(fam.id)) families.push(fam.id);
      } else {
        graph.addDirectedEdgeWithKey(key, String(m.parent), String(m.feature), { weight: m.weight, families: [fam.id] });
      }
    }
  }
  graph.forEachEdge((_key, attr) => attr.families.sort((x, y) => x - y));
  return graph;
}

/** Is this code point allowed in an XML 1.0 document? */
function xmlAllowed(c: number): boolean {
  return c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/** `s` with characters XML 1.0 cannot hold (control characters, lone surrogates) replaced by U+FFFD. */
function xmlSafe(s: string): string {
  let out = "";
  for (const ch of s) out += xmlAllowed(ch.codePointAt(0)!) ? ch : "\ufffd";
  return out;
}

/** Escape for XML text and attribute values. */
function xmlEscape(s: string): string {
  return xmlSafe(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** GraphML attribute types used here (`long` for integers: feature ids and counts can pass 2³¹ in principle). */
type GraphmlType = "boolean" | "long" | "double" | "string";

/** The GraphML type of an attribute from all its present values: arrays and mixed values are strings. */
function graphmlType(values: readonly unknown[]): GraphmlType {
  if (values.every((v) => typeof v === "boolean")) return "boolean";
  if (values.every((v) => typeof v === "number")) return values.every((v) => Number.isInteger(v)) ? "long" : "double";
  return "string";
}

/** One attribute value as GraphML text: arrays comma-joined, objects as JSON, non-finite numbers per XML Schema. */
function graphmlValue(v: unknown): string {
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? "NaN" : v > 0 ? "INF" : "-INF";
  if (Array.isArray(v)) return v.map((x) => (typeof x === "object" && x !== null ? JSON.stringify(x) : String(x))).join(",");
  if (typeof v === "object" && v !== null) return JSON.stringify(v);
  return String(v);
}

/** Keys (`<key>` declarations) for one element class, in first-seen attribute order. */
function graphmlKeys(prefix: string, attrsList: readonly Attributes[]): Array<{ id: string; name: string; type: GraphmlType }> {
  const values = new Map<string, unknown[]>();
  for (const attrs of attrsList) {
    for (const [name, v] of Object.entries(attrs)) {
      if (v === undefined || v === null) continue;
      const list = values.get(name);
      if (list) list.push(v);
      else values.set(name, [v]);
    }
  }
  return Array.from(values, ([name, vs], i) => ({ id: `${prefix}${i}`, name, type: graphmlType(vs) }));
}

/** `<data>` lines of one element. */
function graphmlData(keys: ReturnType<typeof graphmlKeys>, attrs: Attributes, indent: string): string[] {
  return keys.filter((k) => attrs[k.name] !== undefined && attrs[k.name] !== null).map((k) => `${indent}<data key="${k.id}">${xmlEscape(graphmlValue(attrs[k.name]))}</data>`);
}

/**
 * A graph as GraphML (graphology-graphml only parses, so the writer is here). Attribute types are inferred per
 * attribute (boolean, long, double, else string); arrays are written comma-joined as strings, GraphML having no
 * list type (GEXF keeps them as lists).
 */
export function graphmlString(graph: AbstractGraph): string {
  const nodes: Array<{ key: string; attrs: Attributes }> = [];
  graph.forEachNode((key, attrs) => nodes.push({ key, attrs }));
  const edges: Array<{ key: string; attrs: Attributes; source: string; target: string; undirected: boolean }> = [];
  graph.forEachEdge((key, attrs, source, target, _sa, _ta, undirected) => edges.push({ key, attrs, source, target, undirected }));
  const graphAttrs = graph.getAttributes();
  const gKeys = graphmlKeys("g", [graphAttrs]);
  const nKeys = graphmlKeys("n", nodes.map((n) => n.attrs));
  const eKeys = graphmlKeys("e", edges.map((e) => e.attrs));
  const defaultDirected = graph.type !== "undirected";
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">`,
    ...[...gKeys.map((k) => ({ ...k, for: "graph" })), ...nKeys.map((k) => ({ ...k, for: "node" })), ...eKeys.map((k) => ({ ...k, for: "edge" }))].map(
      (k) => `  <key id="${k.id}" for="${k.for}" attr.name="${xmlEscape(k.name)}" attr.type="${k.type}"/>`,
    ),
    `  <graph edgedefault="${defaultDirected ? "directed" : "undirected"}">`,
    ...graphmlData(gKeys, graphAttrs, "    "),
  ];
  for (const n of nodes) {
    const data = graphmlData(nKeys, n.attrs, "      ");
    const open = `    <node id="${xmlEscape(n.key)}"`;
    lines.push(...(data.length === 0 ? [`${open}/>`] : [`${open}>`, ...data, `    </node>`]));
  }
  for (const e of edges) {
    const directedAttr = e.undirected === !defaultDirected ? "" : ` directed="${e.undirected ? "false" : "true"}"`;
    const data = graphmlData(eKeys, e.attrs, "      ");
    const open = `    <edge id="${xmlEscape(e.key)}" source="${xmlEscape(e.source)}" target="${xmlEscape(e.target)}"${directedAttr}`;
    lines.push(...(data.length === 0 ? [`${open}/>`] : [`${open}>`, ...data, `    </edge>`]));
  }
  lines.push(`  </graph>`, `</graphml>`, "");
  return lines.join("\n");
}

/** A copy of `attrs` with every string (and string list element) made XML-safe. */
function xmlSafeAttributes<A extends Attributes>(attrs: A): A {
  const out: Attributes = {};
  for (const [name, v] of Object.entries(attrs)) {
    out[name] = typeof v === "string" ? xmlSafe(v) : Array.isArray(v) ? v.map((x: unknown) => (typeof x === "string" ? xmlSafe(x) : x)) : v;
  }
  return out as A;
}

/**
 * A graph as GEXF 1.2 via graphology-gexf's writer (`label` becomes the node label, edge `weight` the GEXF
 * weight, number arrays `listinteger`/`listdouble`). Strings are first made XML-safe on a copy.
 */
export function gexfString(graph: AbstractGraph): string {
  const safe = graph.copy();
  safe.updateEachNodeAttributes((_key, attrs) => xmlSafeAttributes(attrs));
  safe.updateEachEdgeAttributes((_key, attrs) => xmlSafeAttributes(attrs));
  return gexfWrite(safe);
}

/** Write a graph as GraphML, atomically. */
export function writeGraphml(graph: AbstractGraph, path: string): void {
  writeFileAtomic(path, graphmlString(graph));
}

/** Write a graph as GEXF, atomically. */
export function writeGexf(graph: AbstractGraph, path: string): void {
  writeFileAtomic(path, gexfString(graph));
}
