/**
 * Feature families (METHOD.md §5; the authors shipped them as JSON only). The families page: one
 * collapsible tree per SAE — families nested in families, and inside each family (fetched when opened) its
 * parent → children tree of features — with labels, sizes and scores. The family page: the family as a
 * radial graph (the layout idea of figure 05: the parent at the centre, depth d on ring d + ½, each subtree
 * a wedge sized by its leaves; laid out with d3-hierarchy) and its block of the co-occurrence matrix.
 */
import { type HierarchyNode, stratify, tree } from "d3-hierarchy";
import type { DomainsResponse, FamiliesResponse, FamilyResponse } from "../../api.js";
import { api, ApiFailure, isAbort } from "../api-client.js";
import { type DomainInfo, familyLink, featureLink, type PageContext, section } from "../context.js";
import { fmt, h, message, replaceChildren } from "../dom.js";
import { drawChart, loadPlotly, type PlotlyElement } from "../plotly.js";
import { href } from "../route.js";

type FamilyRow = FamiliesResponse["families"][number];
type Member = FamilyResponse["members"][number];

/** Ring radius of depth d in the family graph: the first ring pushed out so the root's children have room. */
const RING_OFFSET = 0.5;
/** Members labelled on the graph (hover shows every label). */
const MAX_GRAPH_LABELS = 40;
/** Characters of a label on the graph and the heatmap axes. */
const SHORT_LABEL = 24;

const short = (text: string, n = SHORT_LABEL): string => (text.length > n ? `${text.slice(0, n - 1).trimEnd()}…` : text);

function familyName(f: Pick<FamilyRow, "label" | "rootLabel">): string {
  return f.label ?? f.rootLabel ?? "unlabelled";
}

/** " · F1 0.81 · r 0.64", or nothing for an unscored family. */
function scores(f: Pick<FamilyRow, "f1" | "pearson">): string {
  return f.f1 === null && f.pearson === null ? "" : ` · F1 ${fmt(f.f1, 2)} · r ${fmt(f.pearson, 2)}`;
}

function missingFamiliesMessage(d: DomainInfo): HTMLElement {
  const note = d.missing.find((m) => m.toLowerCase().includes("famil"));
  return message("warn", note ?? `no families for ${d.domain}`, note ? null : "run notebooks/05-families.ipynb, then restart `npm run explore`");
}

// ---------------------------------------------------------------------------------------------------------
// The forest page.

/** A feature tree (parent → children) from a family's members, as nested lists. */
function memberTree(domain: string, fam: FamilyResponse): HTMLElement {
  type Node = { feature: number; label: string | null; parent: number | null; weight: number };
  const nodes: Node[] = [{ feature: fam.root.feature, label: fam.root.label, parent: null, weight: 1 }, ...fam.members.map((m) => ({ ...m }))];
  let root: HierarchyNode<Node>;
  try {
    root = stratify<Node>()
      .id((n) => String(n.feature))
      .parentId((n) => (n.parent === null ? null : String(n.parent)))(nodes);
  } catch (err) {
    return message("error", `family ${fam.id}'s members do not form a tree: ${err instanceof Error ? err.message : String(err)}`);
  }
  const item = (n: HierarchyNode<Node>): HTMLElement =>
    h(
      "li",
      null,
      featureLink(domain, n.data.feature, n.data.label),
      n.data.parent !== null ? h("span", { class: "muted small", title: "co-occurrence weight P(child | parent)" }, ` · w ${fmt(n.data.weight, 2)}`) : h("span", { class: "badge" }, "parent"),
      n.children ? h("ul", null, n.children.map(item)) : null,
    );
  return h("ul", { class: "member-tree" }, item(root));
}

function familyNode(domain: string, f: FamilyRow, childrenOf: Map<number | null, FamilyRow[]>, signal: AbortSignal): HTMLElement {
  const membersBox = h("div", { class: "members" });
  const nested = childrenOf.get(f.id) ?? [];
  const details = h(
    "details",
    { class: "family-node", "data-family": f.id },
    h(
      "summary",
      null,
      h("span", { class: "family-name" }, familyName(f)),
      h("span", { class: "muted small" }, ` · ${f.size} features${scores(f)}${nested.length ? ` · ${nested.length} nested` : ""}`),
      " ",
      h("a", { href: href("family", f.id, { d: domain }), class: "small open-family" }, "open"),
    ),
    membersBox,
    nested.length > 0 ? h("ul", { class: "tree nested" }, nested.map((c) => h("li", null, familyNode(domain, c, childrenOf, signal)))) : null,
  );
  let loaded = false;
  details.addEventListener("toggle", async () => {
    if (!details.open || loaded) return;
    loaded = true;
    replaceChildren(membersBox, h("p", { class: "loading small" }, "loading members…"));
    try {
      const fam = await api.family(domain, f.id, signal);
      replaceChildren(membersBox, memberTree(domain, fam));
    } catch (err) {
      loaded = false;
      if (isAbort(err)) return;
      replaceChildren(membersBox, message("error", err instanceof Error ? err.message : String(err), err instanceof ApiFailure ? err.fix : undefined));
    }
  });
  return details;
}

async function forest(ctx: PageContext, d: DomainsResponse["domains"][number]): Promise<HTMLElement> {
  const head = h("h2", null, `${d.domain} `, h("span", { class: "muted" }, `· SAE ${d.sae}`));
  if (d.families === 0 && d.missing.some((m) => m.toLowerCase().includes("famil"))) return h("section", { class: "card forest" }, head, missingFamiliesMessage(d));
  let res: FamiliesResponse;
  try {
    res = await api.families(d.domain, ctx.signal);
  } catch (err) {
    if (isAbort(err)) throw err;
    return h("section", { class: "card forest" }, head, message("error", err instanceof Error ? err.message : String(err), err instanceof ApiFailure ? err.fix : undefined));
  }
  const ids = new Set(res.families.map((f) => f.id));
  const childrenOf = new Map<number | null, FamilyRow[]>();
  for (const f of res.families) {
    const parent = f.parentFamily !== null && ids.has(f.parentFamily) ? f.parentFamily : null;
    const list = childrenOf.get(parent) ?? [];
    list.push(f);
    childrenOf.set(parent, list);
  }
  for (const list of childrenOf.values()) list.sort((a, b) => b.size - a.size || a.id - b.id);
  const tops = childrenOf.get(null) ?? [];
  const filter = h("input", { type: "search", class: "family-filter", placeholder: "filter by label…", "aria-label": `filter ${d.domain} families` });
  const list = h("ul", { class: "tree" }, tops.map((f) => h("li", null, familyNode(d.domain, f, childrenOf, ctx.signal))));
  filter.addEventListener("input", () => {
    const q = filter.value.trim().toLowerCase();
    for (const node of list.querySelectorAll<HTMLElement>("details.family-node")) {
      const name = node.querySelector(".family-name")?.textContent?.toLowerCase() ?? "";
      const inside = q !== "" && [...node.querySelectorAll(".family-name")].some((n) => n.textContent?.toLowerCase().includes(q));
      (node.parentElement as HTMLElement).hidden = q !== "" && !name.includes(q) && !inside;
      if (q !== "" && inside && !name.includes(q)) (node as HTMLDetailsElement).open = true;
    }
  });
  return h(
    "section",
    { class: "card forest", "data-domain": d.domain },
    head,
    h("p", { class: "muted small" }, `${res.families.length} families over the ${res.featureSet} features; ${tops.length} at the top level. Open a family to see its parent → children tree.`),
    filter,
    list,
  );
}

export async function renderFamilies(ctx: PageContext): Promise<void> {
  // One tree per SAE: the chosen domain first.
  const order = [ctx.domain, ...ctx.domains.filter((d) => d.domain !== ctx.domain.domain)];
  const sections = await Promise.all(order.map((d) => forest(ctx, d)));
  replaceChildren(ctx.root, h("div", { class: "families-page" }, h("h1", null, "Feature families"), h("div", { class: sections.length > 1 ? "grid two" : "grid" }, sections)));
}

// ---------------------------------------------------------------------------------------------------------
// One family.

interface Placed {
  feature: number;
  label: string | null;
  depth: number;
  x: number;
  y: number;
  parent: number | null;
  weight: number;
}

/** Radial tree layout with d3-hierarchy: angle from the tree's breadth, radius from depth (+ ½ past the root). */
export function radialLayout(fam: FamilyResponse): Placed[] {
  type Node = { feature: number; label: string | null; parent: number | null; weight: number };
  const nodes: Node[] = [{ feature: fam.root.feature, label: fam.root.label, parent: null, weight: 1 }, ...fam.members.map((m: Member) => ({ ...m }))];
  const root = stratify<Node>()
    .id((n) => String(n.feature))
    .parentId((n) => (n.parent === null ? null : String(n.parent)))(nodes)
    .sort((a, b) => a.data.feature - b.data.feature);
  const laid = tree<Node>()
    .size([2 * Math.PI, 1])
    .separation((a, b) => (a.parent === b.parent ? 1 : 2) / Math.max(a.depth, 1))(root);
  return laid.descendants().map((n) => {
    const r = n.depth === 0 ? 0 : n.depth + RING_OFFSET;
    return { feature: n.data.feature, label: n.data.label, depth: n.depth, x: r * Math.cos(n.x), y: r * Math.sin(n.x), parent: n.data.parent, weight: n.data.weight };
  });
}

/** Node colour by depth: the parent, its children, grandchildren, deeper. */
const DEPTH_COLOURS = ["#c2410c", "#2563eb", "#0f766e", "#7c3aed"];
/** Height of the family graph, px. */
const GRAPH_HEIGHT = 560;
/** Space between the outermost node and its label column, px. */
const LABEL_COLUMN_GAP_PX = 40;
/** Room for a label's text beside its column, px. */
const LABEL_WIDTH_PX = 200;
/** Vertical room per label in the side columns, px. */
const LABEL_GAP_PX = 15;

/**
 * Labels in two columns beside the rings (right half of the circle → right column), each at its node's
 * height where there is room, pushed apart to LABEL_GAP_PX otherwise, with a leader line to its node.
 */
function sideLabels(nodes: readonly Placed[], columnX: number, yMax: number, gap: number): Array<{ node: Placed; x: number; y: number }> {
  const sorted = [...nodes].sort((a, b) => b.y - a.y || a.feature - b.feature);
  const ys = sorted.map((n) => n.y);
  for (let i = 1; i < ys.length; i++) ys[i] = Math.min(ys[i]!, ys[i - 1]! - gap);
  // Pushed below the bottom: lift from the bottom up, then keep the top inside.
  for (let i = ys.length - 1; i >= 0; i--) ys[i] = Math.max(ys[i]!, -yMax + (ys.length - 1 - i) * gap);
  for (let i = 0; i < ys.length; i++) ys[i] = Math.min(ys[i]!, yMax - i * gap);
  return sorted.map((node, i) => ({ node, x: columnX, y: ys[i]! }));
}

async function drawGraph(el: HTMLElement, domain: string, fam: FamilyResponse): Promise<void> {
  const placed = radialLayout(fam);
  const at = new Map(placed.map((p) => [p.feature, p]));
  const edgeX: Array<number | null> = [];
  const edgeY: Array<number | null> = [];
  for (const p of placed) {
    const parent = p.parent === null ? undefined : at.get(p.parent);
    if (!parent) continue;
    edgeX.push(parent.x, p.x, null);
    edgeY.push(parent.y, p.y, null);
  }
  // One scale (px per layout unit) for both axes: the rings fill the height unless the label columns
  // beside them (LABEL_GAP_PX + LABEL_WIDTH_PX each side) need the width.
  const width = Math.max(el.clientWidth, 600);
  const xLo = Math.min(-1, ...placed.map((p) => p.x));
  const xHi = Math.max(1, ...placed.map((p) => p.x));
  const yExtent = Math.max(1, ...placed.map((p) => Math.abs(p.y)));
  const side = LABEL_COLUMN_GAP_PX + LABEL_WIDTH_PX;
  const pxPerUnit = Math.min(GRAPH_HEIGHT / (2.24 * yExtent), (width - 2 * side) / (xHi - xLo));
  const yMax = GRAPH_HEIGHT / 2 / pxPerUnit;
  const xPad = (width / pxPerUnit - (xHi - xLo)) / 2;
  const gap = LABEL_GAP_PX / pxPerUnit;
  // Label the members nearest the root first (and at most MAX_GRAPH_LABELS); hover shows every label.
  const members = placed.filter((p) => p.depth > 0);
  const shown = [...members].sort((a, b) => a.depth - b.depth || b.weight - a.weight).slice(0, MAX_GRAPH_LABELS);
  const yLabel = yMax - gap / 2;
  const labels = [
    ...sideLabels(shown.filter((p) => p.x >= 0), xHi + LABEL_COLUMN_GAP_PX / pxPerUnit, yLabel, gap),
    ...sideLabels(shown.filter((p) => p.x < 0), xLo - LABEL_COLUMN_GAP_PX / pxPerUnit, yLabel, gap),
  ];
  const leaderX: Array<number | null> = [];
  const leaderY: Array<number | null> = [];
  for (const l of labels) {
    leaderX.push(l.node.x, l.x, null);
    leaderY.push(l.node.y, l.y, null);
  }
  const name = (p: Placed): string => (p.label ? p.label : `#${p.feature}`);
  const root = placed[0]!;
  const chart = await drawChart(
    el,
    [
      { type: "scatter", mode: "lines", x: leaderX, y: leaderY, line: { color: "#d5dae1", width: 0.8, dash: "dot" }, hoverinfo: "skip", showlegend: false },
      { type: "scatter", mode: "lines", x: edgeX, y: edgeY, line: { color: "#9aa5b1", width: 1.2 }, hoverinfo: "skip", showlegend: false },
      {
        type: "scatter",
        mode: "markers",
        x: placed.map((p) => p.x),
        y: placed.map((p) => p.y),
        customdata: placed.map((p) => p.feature),
        hovertext: placed.map((p) => `#${p.feature} ${name(p)}<br>depth ${p.depth}${p.parent === null ? " (parent)" : ` · w ${fmt(p.weight, 2)}`}`),
        hoverinfo: "text",
        marker: {
          size: placed.map((p) => (p.depth === 0 ? 20 : 11)),
          color: placed.map((p) => DEPTH_COLOURS[Math.min(p.depth, DEPTH_COLOURS.length - 1)]),
          line: { color: "#ffffff", width: 1 },
        },
        showlegend: false,
      },
      {
        type: "scatter",
        mode: "text",
        x: labels.map((l) => l.x),
        y: labels.map((l) => l.y),
        text: labels.map((l) => short(name(l.node), 30)),
        textposition: labels.map((l) => (l.x >= 0 ? "middle right" : "middle left")),
        textfont: { size: 11, color: "#334155" },
        customdata: labels.map((l) => l.node.feature),
        hovertext: labels.map((l) => `#${l.node.feature} ${name(l.node)}`),
        hoverinfo: "text",
        showlegend: false,
      },
    ],
    {
      height: GRAPH_HEIGHT,
      margin: { l: 0, r: 0, t: 10, b: 10 },
      xaxis: { visible: false, range: [xLo - xPad, xHi + xPad] },
      yaxis: { visible: false, range: [-yMax, yMax], scaleanchor: "x" },
      hovermode: "closest",
      plot_bgcolor: "rgba(0,0,0,0)",
      annotations: [
        {
          x: root.x,
          y: root.y,
          text: short(name(root), 40),
          showarrow: false,
          yshift: -22,
          font: { size: 12, color: "#7c2d12" },
          bgcolor: "rgba(255,255,255,0.85)",
        },
      ],
    },
  );
  chart.on("plotly_click", (e) => {
    const feature = e.points[0]?.customdata;
    if (typeof feature === "number") location.hash = href("feature", feature, { d: domain });
  });
}

async function drawBlock(el: HTMLElement, domain: string, fam: FamilyResponse): Promise<void> {
  const { features, overlap } = fam.block;
  const m = features.length;
  if (m === 0 || overlap.length !== m * m) {
    replaceChildren(el, h("p", { class: "muted" }, "no co-occurrence block stored for this family"));
    return;
  }
  const labels = new Map<number, string>([[fam.root.feature, fam.root.label ?? ""], ...fam.members.map((x) => [x.feature, x.label ?? ""] as [number, string])]);
  const ticks = features.map((f) => `#${f} ${short(labels.get(f) ?? "", 18)}`.trim());
  // The diagonal (1 by definition) is left blank so the off-diagonal structure gets the colour range.
  const z = features.map((_, i) => features.map((__, j) => (i === j ? null : overlap[i * m + j]!)));
  const chart: PlotlyElement = await drawChart(
    el,
    [
      {
        type: "heatmap",
        z,
        x: ticks,
        y: ticks,
        customdata: features.map((fi) => features.map(() => fi)),
        colorscale: [
          [0, "#f4f8fd"],
          [0.5, "#6b9bd1"],
          [1, "#0b3a75"],
        ],
        zmin: 0,
        zmax: 1,
        colorbar: { title: { text: "overlap" }, thickness: 12 },
        hovertemplate: "%{y}<br>%{x}<br>overlap %{z:.3f}<extra></extra>",
      },
    ],
    {
      height: Math.min(720, 220 + 14 * m),
      margin: { l: 170, r: 20, t: 10, b: 150 },
      xaxis: { tickangle: -50, tickfont: { size: 10 } },
      yaxis: { autorange: "reversed", tickfont: { size: 10 } },
    },
  );
  chart.on("plotly_click", (e) => {
    const feature = e.points[0]?.customdata;
    if (typeof feature === "number") location.hash = href("feature", feature, { d: domain });
  });
}

export async function renderFamily(ctx: PageContext): Promise<void> {
  const domain = ctx.domain.domain;
  const id = ctx.route.id;
  if (id === null) {
    replaceChildren(ctx.root, message("error", "No family to show: the link has no valid family id.", `pick one on the families page: ${href("families", null, { d: domain })}`));
    return;
  }
  void loadPlotly().catch(() => undefined); // fetched while the family is: both charts need it
  // The list of families names the nested ones; fetched alongside the family rather than after it.
  const listing = ctx.domain.families > 0 ? api.families(domain, ctx.signal) : null;
  listing?.catch(() => undefined); // awaited below only when the family has nested ones
  let fam: FamilyResponse;
  try {
    fam = await api.family(domain, id, ctx.signal);
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 404) {
      const noFamilies = ctx.domain.families === 0;
      replaceChildren(
        ctx.root,
        noFamilies ? missingFamiliesMessage(ctx.domain) : message("error", `Family ${id} is not among the ${ctx.domain.families} families of ${domain}.`, err.fix ?? "pick one on the families page"),
      );
      return;
    }
    throw err;
  }
  const nestedLabels = new Map<number, string | null>();
  if (fam.nested.length > 0 && listing) {
    try {
      for (const f of (await listing).families) nestedLabels.set(f.id, f.label ?? f.rootLabel);
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
    }
  }
  const graphEl = h("div", { class: "chart family-graph" });
  const blockEl = h("div", { class: "chart family-block" });
  replaceChildren(
    ctx.root,
    h(
      "div",
      { class: "family-page" },
      h(
        "header",
        { class: "page-head" },
        h("p", { class: "kicker" }, `${domain} · ${ctx.domain.sae} · family ${fam.id}`),
        h("h1", null, fam.label ?? fam.root.label ?? h("span", { class: "muted" }, "unlabelled family")),
        h("p", null, "parent ", featureLink(domain, fam.root.feature, fam.root.label), h("span", { class: "muted" }, ` · ${fam.members.length} members`)),
      ),
      section("Family graph", h("p", { class: "muted small" }, "parent at the centre, children on rings by depth (d3-hierarchy radial tree); hover a node for its label, click to open it"), graphEl),
      h(
        "div",
        { class: "grid two" },
        section("Co-occurrence block", h("p", { class: "muted small" }, "overlap coefficient C(i, j) / min(nᵢ, nⱼ) between the family's features (diagonal left blank)"), blockEl),
        section(
          "Members",
          memberTree(domain, fam),
          h("h3", null, "Nested families"),
          fam.nested.length > 0 ? h("ul", { class: "nested-families" }, fam.nested.map((n) => h("li", null, familyLink(domain, n, nestedLabels.get(n))))) : h("p", { class: "muted small" }, "none"),
        ),
      ),
    ),
  );
  document.title = `family ${fam.id} · SAErch explorer`;
  const draw = async (el: HTMLElement, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      replaceChildren(el, message("error", `cannot draw this chart: ${err instanceof Error ? err.message : String(err)}`));
    }
  };
  await Promise.all([draw(graphEl, () => drawGraph(graphEl, domain, fam)), draw(blockEl, () => drawBlock(blockEl, domain, fam))]);
}
