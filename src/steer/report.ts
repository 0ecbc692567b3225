/**
 * Tables of the steering stage for notebooks (METHOD.md §7): accuracies with intervals per method and
 * strength, the artefact control, ours beside the paper's points, the family comparison and the worked
 * example.
 */
import type { JudgeKind } from "./config.js";
import type { FamilySteerPoint, PointResult } from "./evaluate.js";
import { PAPER_STEERING, PAPER_STEERING_CHANCE } from "./paper.js";
import type { SteerResultFile, WorkedExample } from "./stage.js";

const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : "—");
const withCi = (m: number, ci: [number, number]): string => `${f2(m)} [${f2(ci[0])}, ${f2(ci[1])}]`;

/** Points of one judge and variant, optionally one s_down, sorted by method then strengths. */
export function pointsOf(r: Pick<SteerResultFile, "points">, judge: JudgeKind, variant: "standard" | "active" = "standard", down?: number): PointResult[] {
  return r.points.filter((p) => p.judge === judge && p.variant === variant && (down === undefined || p.down === null || p.down === down));
}

/** One row per point: accuracies with 95 % intervals, cos, survivors. */
export function steeringRows(points: readonly PointResult[]): Array<Record<string, string | number>> {
  return points.map((p) => ({
    method: p.method,
    "s_up": p.up ?? "—",
    "s_down": p.down ?? "—",
    n: p.n,
    "up accuracy [95 %]": withCi(p.upAccuracy, p.upCi),
    "down accuracy [95 %]": withCi(p.downAccuracy, p.downCi),
    "mean cos(q, q′)": f2(p.meanCos),
    "top-10 kept": f2(p.meanSurvive),
  }));
}

/**
 * The artefact control: `add` at s_down = 0 (down untouched) by s_up, down accuracy with random distractors
 * and with distractors also active on the query, and up accuracy with the active distractors.
 */
export function artefactRows(r: Pick<SteerResultFile, "points" | "name">, judge: JudgeKind): Array<Record<string, string | number>> {
  const at = (variant: "standard" | "active") => r.points.filter((p) => p.method === "add" && p.down === 0 && p.judge === judge && p.variant === variant);
  const act = at("active");
  return at("standard").map((p) => {
    const a = act.find((x) => x.up === p.up);
    return {
      SAE: r.name,
      "s_up (s_down 0)": p.up ?? "—",
      "down accuracy, random distractors": withCi(p.downAccuracy, p.downCi),
      "down accuracy, distractors active on the query": a ? `${withCi(a.downAccuracy, a.downCi)} (n ${a.n})` : "—",
      "up accuracy, active distractors": a ? withCi(a.upAccuracy, a.upCi) : "—",
    };
  });
}

/**
 * Down accuracy of `add` by s_down at the smallest s_up, with random distractors and with distractors also
 * active on the query: s_down = 0 (down untouched) is the artefact control, and the active-distractor
 * column shows whether turning a topic down works once the judge cannot just name the query's topic.
 */
export function downSteeringRows(r: Pick<SteerResultFile, "points" | "name">, judge: JudgeKind): Array<Record<string, string | number>> {
  const add = r.points.filter((p) => p.method === "add" && p.judge === judge && p.up !== null);
  const upMin = Math.min(...add.map((p) => p.up!));
  const std = add.filter((p) => p.up === upMin && p.variant === "standard").sort((a, b) => a.down! - b.down!);
  return std.map((p) => {
    const a = add.find((x) => x.up === upMin && x.down === p.down && x.variant === "active");
    return {
      SAE: r.name,
      "s_down": p.down!,
      "s_up": upMin,
      "down accuracy, random distractors": withCi(p.downAccuracy, p.downCi),
      "down accuracy, distractors active on the query": a ? `${withCi(a.downAccuracy, a.downCi)} (n ${a.n})` : "—",
      "mean cos(q, q′)": f2(p.meanCos),
    };
  });
}

/**
 * Each of the paper's points beside our add point of nearest cos (any s_down) and our rewrites; then, when
 * `chance` is given, the paper's chance level beside ours.
 * @param chance our chance accuracy, 1 / (distractors + 2)
 */
export function paperSteeringRows(r: Pick<SteerResultFile, "points" | "name">, judge: JudgeKind, chance?: number): Array<Record<string, string | number>> {
  const ours = pointsOf(r, judge);
  const chanceRow = chance === undefined ? [] : [{ paper: `chance: ${PAPER_STEERING_CHANCE}`, ours: `chance: ${f2(chance)}`, SAE: r.name, judge }];
  return [...PAPER_STEERING.map((p) => {
    const pool = ours.filter((x) => (p.method === "intervention" ? x.method === "add" : x.method === "rewrite-llm" || x.method === "rewrite-offline"));
    const near = [...pool].sort((a, b) => Math.abs(a.meanCos - p.cos) - Math.abs(b.meanCos - p.cos))[0];
    return {
      paper: `${p.method} at cos ${p.cos}: up ${p.up}, down ${p.down}`,
      ours: near ? `${near.method}${near.up !== null ? ` (s_up ${near.up}, s_down ${near.down})` : ""} at cos ${f2(near.meanCos)}: up ${f2(near.upAccuracy)}, down ${f2(near.downAccuracy)}` : "not run",
      SAE: r.name,
      judge,
    };
  }), ...chanceRow];
}

/** Linear interpolation of y at x along points sorted by x (undefined outside their range). */
function interpolate(xs: readonly number[], ys: readonly number[], x: number): number | undefined {
  const order = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
  for (let j = 0; j + 1 < order.length; j++) {
    const [i0, i1] = [order[j]!, order[j + 1]!];
    if (x >= xs[i0]! && x <= xs[i1]!) return xs[i1] === xs[i0] ? ys[i0] : ys[i0]! + ((x - xs[i0]!) / (xs[i1]! - xs[i0]!)) * (ys[i1]! - ys[i0]!);
  }
  return undefined;
}

/**
 * The family comparison: coverage of the family in the top-10 and cos for the whole family up and for the
 * parent only, plus the parent's coverage interpolated at the family's cos (the comparison at equal cos).
 */
export function familySteeringRows(name: string, pts: readonly FamilySteerPoint[]): Array<Record<string, string | number>> {
  const pCos = pts.map((p) => p.parent.cos);
  const pCov = pts.map((p) => p.parent.coverage);
  return pts.map((p) => {
    const atEqual = interpolate(pCos, pCov, p.family.cos);
    return {
      SAE: name,
      strength: p.strength,
      n: p.n,
      "whole family: cos / coverage": `${f2(p.family.cos)} / ${f2(p.family.coverage)}`,
      "parent only: cos / coverage": `${f2(p.parent.cos)} / ${f2(p.parent.coverage)}`,
      "parent only at the family's cos (interpolated)": atEqual === undefined ? "—" : f2(atEqual),
    };
  });
}

/** The worked example as rows: rank, before, after up, after down. */
export function exampleRows(e: WorkedExample): Array<Record<string, string | number>> {
  return e.before.map((t, i) => ({ rank: i + 1, before: t, [`after "${e.up.label}" up (${e.up.strength})`]: e.afterUp[i] ?? "", [`after "${e.down.label}" down (${e.down.strength})`]: e.afterDown[i] ?? "" }));
}
