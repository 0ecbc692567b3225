/**
 * The family graph of stage 5 (feature families, METHOD.md §5; the paper's Figure 4): one family drawn on a
 * deterministic radial tree layout, co-occurrence edges where W > 0.1 drawn with width ∝ W, the family's
 * spanning-tree edges highlighted. A pure builder: plain data in → FigureSpec out.
 */
import { SaerchError } from "../core/errors.js";
import type { Family } from "../families/build.js";
import { type Cooccurrence, conditional } from "../families/cooccurrence.js";
import { escapeText, localOf, round } from "./families-figures.js";
import { baseLayout, type FigureSpec } from "./spec.js";

/** Decimals kept for layout coordinates (radius ≤ tens of units): fixed, so cos(π/2) ≈ 6e−17 becomes 0. */
const POSITION_DECIMALS = 4;
const roundPos = (v: number): number => Number(v.toFixed(POSITION_DECIMALS)) || 0;

/** A family's shape as the figures need it: its root and its members (each with its parent inside the family). */
export type FamilyTree = Pick<Family, "root" | "members">;

/** Feature id → label text; a feature without one is shown as "#<feature>". */
export type LabelLookup = ReadonlyMap<number, string>;

/** Labels longer than this are cut with "…" on the figure (the hover text keeps them whole). */
export const LABEL_MAX_CHARS = 26;
/** The root's label (boxed at the centre) may be longer. */
const ROOT_LABEL_MAX_CHARS = 40;

function labelOf(labels: LabelLookup | undefined, feature: number, maxChars = LABEL_MAX_CHARS): string {
  const text = labels?.get(feature)?.trim() || `#${feature}`;
  return text.length > maxChars ? `${text.slice(0, maxChars - 1).trimEnd()}…` : text;
}

// ---------------------------------------------------------------------------------------------------------
// Figure 4: one family as a graph.

/**
 * Radius of the first ring of {@link radialTreeLayout} beyond 1: depth d ≥ 1 sits at radius d + this, so the
 * inner ring, where the root's children crowd, is longer than a plain radius d would make it.
 */
export const RING_OFFSET = 0.5;

/** Radius of the ring of depth `d` in {@link radialTreeLayout} (0 for the root). */
export function ringRadius(d: number): number {
  return d === 0 ? 0 : d + RING_OFFSET;
}

/** A node's place in {@link radialTreeLayout}. */
export interface NodePosition {
  /** Horizontal coordinate, layout units (the root at 0). */
  x: number;
  /** Vertical coordinate, layout units (the root at 0). */
  y: number;
  /** Tree edges from the root (0 for the root). */
  depth: number;
  /** Angle in radians, counter-clockwise from +x, in [0, 2π) (0 for the root). */
  angle: number;
}

/**
 * A deterministic radial tree layout of a family: the root at the origin, each member on the ring of its
 * depth ({@link ringRadius}: depth + {@link RING_OFFSET}). Every node owns an angular wedge — the root the full circle
 * [0, 2π) — split among its children in feature-id order, each child's share proportional to the number
 * of leaves in its subtree; a member sits at the centre of its wedge. So subtrees never cross and a big
 * subtree gets the room it needs. No randomness: the same family gives the same positions.
 * @returns feature id → position, root first, then the members in tree (depth-first) order
 * @throws SaerchError when a member's parent is not in the family, a feature appears twice, or a member
 *   cannot be reached from the root
 */
export function radialTreeLayout(family: FamilyTree): Map<number, NodePosition> {
  const childrenOf = new Map<number, number[]>([[family.root, []]]);
  for (const m of family.members) {
    if (childrenOf.has(m.feature)) throw new SaerchError(`radialTreeLayout: feature ${m.feature} appears twice in the family of ${family.root}`);
    childrenOf.set(m.feature, []);
  }
  for (const m of family.members) {
    const siblings = childrenOf.get(m.parent);
    if (siblings === undefined) {
      throw new SaerchError(`radialTreeLayout: member ${m.feature}'s parent ${m.parent} is not in the family of ${family.root}`);
    }
    siblings.push(m.feature);
  }
  for (const list of childrenOf.values()) list.sort((a, b) => a - b);

  const leaves = new Map<number, number>();
  // Each member has one parent, so what the root reaches is a tree; members on a parent cycle are unreachable.
  const countLeaves = (node: number): number => {
    const kids = childrenOf.get(node)!;
    const count = kids.length === 0 ? 1 : kids.reduce((s, c) => s + countLeaves(c), 0);
    leaves.set(node, count);
    return count;
  };
  countLeaves(family.root);

  const out = new Map<number, NodePosition>([[family.root, { x: 0, y: 0, depth: 0, angle: 0 }]]);
  const place = (node: number, depth: number, from: number, to: number): void => {
    const kids = childrenOf.get(node)!;
    const total = leaves.get(node)!;
    let start = from;
    for (const child of kids) {
      const end = start + ((to - from) * leaves.get(child)!) / total;
      const angle = (start + end) / 2;
      const r = ringRadius(depth + 1);
      out.set(child, { x: r * Math.cos(angle), y: r * Math.sin(angle), depth: depth + 1, angle });
      place(child, depth + 1, start, end);
      start = end;
    }
  };
  place(family.root, 0, 0, 2 * Math.PI);
  if (out.size !== family.members.length + 1) {
    throw new SaerchError(`radialTreeLayout: ${family.members.length + 1 - out.size} members of the family of ${family.root} cannot be reached from its root`);
  }
  return out;
}

/** Paper Figure 4: a pair of family features is joined when its conditional weight W exceeds this. */
export const FAMILY_EDGE_THRESHOLD = 0.1;

/** An edge of {@link familyGraphFigure}: a pair of the family's features. */
export interface FamilyEdge {
  /** Feature id of the end that comes first in the family (root, then members in order). */
  a: number;
  /** Feature id of the other end. */
  b: number;
  /** W = max(W[a, b], W[b, a]) = max(P(b | a), P(a | b)) ≈ P(denser | sparser). */
  weight: number;
  /** Whether this pair is a tree edge of the family (member and its parent). */
  tree: boolean;
}

/**
 * The edges of a family's graph: every pair of its features (root and members) whose weight
 * W = max(conditional(a, b), conditional(b, a)) — the build's default symmetric `max` rule, P(denser |
 * sparser) — is strictly above `threshold`, plus every tree edge whatever its weight (later rounds build
 * trees at 0.07, below the paper's display threshold of 0.1).
 * @param cooc co-occurrence over a feature set holding every feature of the family
 * @returns pairs in family order (a before b), tree edges flagged
 */
export function familyEdges(family: FamilyTree, cooc: Cooccurrence, threshold = FAMILY_EDGE_THRESHOLD): FamilyEdge[] {
  const features = [family.root, ...family.members.map((m) => m.feature)];
  const local = localOf(cooc, features, "familyEdges");
  const treeKey = new Set(family.members.map((m) => `${Math.min(m.feature, m.parent)}:${Math.max(m.feature, m.parent)}`));
  const out: FamilyEdge[] = [];
  for (let i = 0; i < features.length; i++) {
    for (let j = i + 1; j < features.length; j++) {
      const [a, b] = [features[i]!, features[j]!];
      const weight = Math.max(conditional(cooc, local[i]!, local[j]!), conditional(cooc, local[j]!, local[i]!));
      const tree = treeKey.has(`${Math.min(a, b)}:${Math.max(a, b)}`);
      if (tree || weight > threshold) out.push({ a, b, weight, tree });
    }
  }
  return out;
}

/** Edges are drawn in this many width classes (one trace each, not one per edge): class ⌈W · levels⌉. */
export const EDGE_WIDTH_LEVELS = 5;
/** Line width in px of an edge with W = 1; a class's width is its upper W times this. */
const MAX_EDGE_WIDTH = 7;
/** Marker diameter in px of a member with tree-edge weight 0 … 1 (linear between). */
const MEMBER_SIZE = { min: 9, max: 24 } as const;
/** Marker diameter in px of the root (larger than any member). */
const ROOT_SIZE = 32;
/** A white halo around member labels (CSS text-shadow, plotly ≥ 2.30), so a label crossing an edge stays legible. */
const LABEL_HALO = "0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff";
/** Gap in px between the root marker and its label box. */
const ROOT_LABEL_GAP = 4;
/** Opacity of the co-occurrence (non-tree) edges, so the tree edges stand out in a dense family. */
const COOC_EDGE_OPACITY = 0.6;
/** Colours of the graph: root and members (fill, outline), spanning-tree and other co-occurrence edges. */
const GRAPH_COLORS = {
  root: "#e6550d",
  rootLine: "#7f2704",
  member: "#9ecae1",
  memberLine: "#2171b5",
  tree: "#2171b5",
  cooc: "#bdbdbd",
} as const;
/** Room around the outer ring for labels, as a fraction of its radius on each side (x) and above/below (y). */
const GRAPH_PAD = { x: 0.6, y: 0.18 } as const;
/** Figure size of {@link familyGraphFigure} in CSS pixels for up to CROWDED_MEMBERS members. */
const GRAPH_SIZE = { width: 1000, height: 820 } as const;
/** Above this many members a family is drawn larger (the rings get longer) with smaller labels. */
const CROWDED_MEMBERS = 25;
/** Extra CSS pixels of width and height per member above CROWDED_MEMBERS, up to GRAPH_MAX_GROWTH. */
const GRAPH_GROWTH_PER_MEMBER = 12;
const GRAPH_MAX_GROWTH = 500;
/** At most this many members are labelled on the figure, shallowest first (a family can have hundreds). */
export const MAX_LABELLED_MEMBERS = 60;
/** Member label font sizes in px. */
const LABEL_FONT = { normal: 12, crowded: 11 } as const;

/** Options of {@link familyGraphFigure}. */
export interface FamilyGraphOptions {
  /** Feature labels (default none: "#<feature>"). */
  labels?: LabelLookup;
  /** Edge threshold on W (default {@link FAMILY_EDGE_THRESHOLD}, the paper's 0.1). */
  threshold?: number;
  /** Figure title (default: the root's label and the family's size). */
  title?: string;
}

/** Line traces of a set of edges, one per width class, null-separated segments. */
function edgeTraces(edges: FamilyEdge[], pos: Map<number, NodePosition>, color: string, opacity: number, name: string, group: string): Array<Record<string, unknown>> {
  const byLevel = new Map<number, FamilyEdge[]>();
  for (const e of edges) {
    const level = Math.min(EDGE_WIDTH_LEVELS, Math.max(1, Math.ceil(e.weight * EDGE_WIDTH_LEVELS)));
    byLevel.set(level, [...(byLevel.get(level) ?? []), e]);
  }
  const levels = [...byLevel.keys()].sort((a, b) => a - b);
  return levels.map((level, i) => {
    const x: Array<number | null> = [];
    const y: Array<number | null> = [];
    for (const e of byLevel.get(level)!) {
      const [p, q] = [pos.get(e.a)!, pos.get(e.b)!];
      x.push(roundPos(p.x), roundPos(q.x), null);
      y.push(roundPos(p.y), roundPos(q.y), null);
    }
    return {
      type: "scatter",
      mode: "lines",
      name,
      legendgroup: group,
      showlegend: i === levels.length - 1,
      x,
      y,
      line: { color, width: round((level / EDGE_WIDTH_LEVELS) * MAX_EDGE_WIDTH) },
      opacity,
      hoverinfo: "skip",
    };
  });
}

/** Labels sit straight above/below or left/right of a node within this angle (π/8) of an axis. */
const AXIS_SNAP = Math.sin(Math.PI / 8);

/**
 * Where a node's label goes. A leaf's label points outward from the root, so labels fan out instead of
 * piling onto edges. A node with children has its own edges going outward (a single child lies straight
 * behind it), so its label goes sideways, perpendicular to the radius (counter-clockwise side).
 */
function textPosition(p: NodePosition, hasChildren: boolean): string {
  const angle = hasChildren ? p.angle + Math.PI / 2 : p.angle;
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const vertical = s > 0 ? "top" : "bottom";
  if (Math.abs(c) < AXIS_SNAP) return `${vertical} center`;
  return `${Math.abs(s) < AXIS_SNAP ? "middle" : vertical} ${c > 0 ? "right" : "left"}`;
}

/**
 * Paper Figure 4: one family as a graph. Nodes are the root (largest, in its own colour, its label boxed
 * below it) and the members (diameter ∝ the weight of the tree edge to their parent), placed by
 * {@link radialTreeLayout}. Member labels are cut at {@link LABEL_MAX_CHARS} (whole in the hover), drawn
 * with a white halo, outward for leaves and sideways for members with children; only the
 * {@link MAX_LABELLED_MEMBERS} shallowest members are labelled, and a family of more than 25 members
 * (CROWDED_MEMBERS) gets a larger figure and smaller labels. Edges are {@link familyEdges}: grey lines for co-occurrence pairs with W
 * above the threshold, blue for the family's tree edges, both with width ∝ W in {@link EDGE_WIDTH_LEVELS}
 * classes. Traces: co-occurrence edges by increasing width, tree edges likewise, invisible edge midpoints
 * carrying the edge hover, the members, the root. Axes hidden, equal aspect.
 * @param cooc co-occurrence over a feature set holding every feature of the family
 */
export function familyGraphFigure(family: FamilyTree, cooc: Cooccurrence, opts: FamilyGraphOptions = {}): FigureSpec {
  const threshold = opts.threshold ?? FAMILY_EDGE_THRESHOLD;
  const pos = radialTreeLayout(family);
  const edges = familyEdges(family, cooc, threshold);
  const hoverName = (f: number): string => {
    const label = opts.labels?.get(f)?.trim();
    return label ? `#${f} ${escapeText(label)}` : `#${f}`;
  };
  const short = (f: number): string => escapeText(labelOf(opts.labels, f));
  const data: Array<Record<string, unknown>> = [
    ...edgeTraces(edges.filter((e) => !e.tree), pos, GRAPH_COLORS.cooc, COOC_EDGE_OPACITY, `co-occurrence, W > ${threshold} (width ∝ W)`, "cooc"),
    ...edgeTraces(edges.filter((e) => e.tree), pos, GRAPH_COLORS.tree, 1, "spanning-tree edge (width ∝ W)", "tree"),
  ];
  if (edges.length > 0) {
    data.push({
      type: "scatter",
      mode: "markers",
      showlegend: false,
      x: edges.map((e) => roundPos((pos.get(e.a)!.x + pos.get(e.b)!.x) / 2)),
      y: edges.map((e) => roundPos((pos.get(e.a)!.y + pos.get(e.b)!.y) / 2)),
      marker: { size: MEMBER_SIZE.min, opacity: 0 },
      text: edges.map((e) => `${short(e.a)} – ${short(e.b)}: W = ${e.weight.toFixed(2)}${e.tree ? " (tree)" : ""}`),
      hovertemplate: "%{text}<extra></extra>",
    });
  }
  const members = family.members;
  const parents = new Set(members.map((m) => m.parent));
  const crowded = members.length > CROWDED_MEMBERS;
  // Beyond the label cap the deepest members go unlabelled (ties by feature id); their hover keeps the label.
  const depthOf = (f: number): number => pos.get(f)!.depth;
  const labelled = new Set(
    members
      .map((m) => m.feature)
      .sort((a, b) => depthOf(a) - depthOf(b) || a - b)
      .slice(0, MAX_LABELLED_MEMBERS),
  );
  data.push({
    type: "scatter",
    mode: "markers+text",
    name: "member (size ∝ tree-edge W)",
    x: members.map((m) => roundPos(pos.get(m.feature)!.x)),
    y: members.map((m) => roundPos(pos.get(m.feature)!.y)),
    text: members.map((m) => (labelled.has(m.feature) ? short(m.feature) : "")),
    textposition: members.map((m) => textPosition(pos.get(m.feature)!, parents.has(m.feature))),
    textfont: { size: crowded ? LABEL_FONT.crowded : LABEL_FONT.normal, color: "#222", shadow: LABEL_HALO },
    cliponaxis: false,
    marker: {
      size: members.map((m) => round(MEMBER_SIZE.min + (MEMBER_SIZE.max - MEMBER_SIZE.min) * Math.min(1, Math.max(0, m.weight)))),
      color: GRAPH_COLORS.member,
      // plotly draws markers with arrayed sizes at opacity 0.7 unless told: opaque, so edges end at the rim.
      opacity: 1,
      line: { color: GRAPH_COLORS.memberLine, width: 1.5 },
    },
    hovertext: members.map((m) => `${hoverName(m.feature)}<br>depth ${m.depth}, parent ${hoverName(m.parent)}, tree-edge W ${m.weight.toFixed(2)}`),
    hovertemplate: "%{hovertext}<extra></extra>",
  });
  data.push({
    type: "scatter",
    mode: "markers",
    name: "root (parent feature)",
    x: [0],
    y: [0],
    marker: { size: ROOT_SIZE, color: GRAPH_COLORS.root, line: { color: GRAPH_COLORS.rootLine, width: 2 } },
    hovertext: [`root ${hoverName(family.root)}`],
    hovertemplate: "%{hovertext}<extra></extra>",
  });

  const radius = ringRadius(Math.max(1, ...[...pos.values()].map((p) => p.depth)));
  const title = opts.title ?? `Family of “${labelOf(opts.labels, family.root, Number.POSITIVE_INFINITY)}”: ${members.length} members, edges where W > ${threshold}`;
  const growth = Math.min(GRAPH_MAX_GROWTH, Math.max(0, members.length - CROWDED_MEMBERS) * GRAPH_GROWTH_PER_MEMBER);
  const layout = baseLayout(title, { width: GRAPH_SIZE.width + growth, height: GRAPH_SIZE.height + growth, showLegend: true });
  const hidden = { visible: false, showgrid: false, zeroline: false };
  return {
    data,
    layout: {
      ...layout,
      xaxis: { ...hidden, range: [-radius * (1 + GRAPH_PAD.x), radius * (1 + GRAPH_PAD.x)] },
      yaxis: { ...hidden, range: [-radius * (1 + GRAPH_PAD.y), radius * (1 + GRAPH_PAD.y)], scaleanchor: "x", scaleratio: 1 },
      legend: { orientation: "h", x: 0.5, xanchor: "center", y: -0.02, yanchor: "top" },
      margin: { l: 20, r: 20, t: 60, b: 50 },
      hovermode: "closest",
      // The root's label sits on the busiest spot of the graph: boxed in white so it reads over the edges.
      annotations: [
        {
          x: 0,
          y: 0,
          xref: "x",
          yref: "y",
          text: `<b>${escapeText(labelOf(opts.labels, family.root, ROOT_LABEL_MAX_CHARS))}</b>`,
          showarrow: false,
          yshift: -(ROOT_SIZE / 2 + ROOT_LABEL_GAP),
          yanchor: "top",
          font: { size: 14, color: GRAPH_COLORS.rootLine },
          bgcolor: "rgba(255, 255, 255, 0.85)",
          bordercolor: GRAPH_COLORS.root,
          borderpad: 3,
        },
      ],
    },
  };
}
