/**
 * The paired steering evaluation (METHOD.md §7, with the fixes it asks for): for each query, "down" is a
 * clean feature active on the query and "up" a clean feature not active on it, drawn once with a seed; the
 * same queries and features are steered at every point of the strength grid by every method, ranked over
 * the index, and judged by every judge on the same five candidates (up, down, three random clean features
 * — and a variant whose distractors are also active on the query, which controls for the down-topic
 * artefact: at s_down = 0 down is untouched, yet it is the only candidate related to the query).
 * Accuracies get bootstrap 95 % intervals over queries; each point also reports mean cos(q, q') and how
 * many of the original top-k survive.
 */
import { SaerchError } from "../core/errors.js";
import { Rng } from "../core/rng.js";
import type { SaeParams } from "../sae/params.js";
import type { JudgeKind, SteerMethod } from "./config.js";
import { addDirection, addDirections, clampQuery, cosineOf, encodeQuery, type FeatureEdit, familyEdits, type FamilyWeighting, type QueryCode, type SteerFamily } from "./interventions.js";
import { activationJudge, labelTerms, textJudge, type Verdict } from "./judges.js";

/** Rank a batch of queries `[B, D]`: the top-k store rows of each, best first. */
export type Ranker = (queriesBD: Float32Array, b: number, k: number) => Promise<Int32Array[]>;

/** Everything one domain's evaluation reads. */
export interface SteerDomain {
  /** e.g. "astro-ph-n4096-k32". */
  name: string;
  params: SaeParams;
  /** The SAE's k. */
  k: number;
  /** Query texts and their embeddings `[D]`. */
  queries: ReadonlyArray<{ text: string; qD: Float32Array }>;
  /** Clean features with their (cleaned) labels. */
  clean: ReadonlyArray<{ feature: number; label: string }>;
  /** Families for the family method (a feature's smallest family is steered). */
  families: readonly SteerFamily[];
  /** Whether `feature` is in the top-k of a store row (an index document). */
  fires: (storeRow: number, feature: number) => boolean;
  /** The distinct terms of a store row's text. */
  termsOf: (storeRow: number) => ReadonlySet<string>;
  /** `[D]` unit difference-of-means direction of a feature (mean embedding where it fires − where it does not). */
  diffMeans: (feature: number) => Float32Array;
}

/** One query's draw: the same at every grid point. */
export interface Trial {
  query: number;
  text: string;
  code: QueryCode;
  up: number;
  down: number;
  /** The five candidates in their shown order (up, down and distractors shuffled). */
  candidates: number[];
  /** Candidates whose distractors are also active on the query, or null when it has too few active clean features. */
  activeCandidates: number[] | null;
  /** The smallest family holding the up feature, or null. */
  family: SteerFamily | null;
  /** `[D]` a seeded random direction (the control). */
  randomD: Float32Array;
}

/** Why queries were not used. */
export interface TrialPlan {
  trials: Trial[];
  /** Queries with no clean feature active on them. */
  noActiveClean: number;
}

/** Draw the paired trials of a domain (seeded). */
export function planTrials(dom: SteerDomain, distractors: number, seed: number): TrialPlan {
  const cleanSet = new Set(dom.clean.map((c) => c.feature));
  const cleanList = dom.clean.map((c) => c.feature);
  if (cleanList.length < distractors + 2) {
    throw new SaerchError(`${dom.name}: ${cleanList.length} clean features; steering needs at least ${distractors + 2} (up, down and the distractors)`, "label the SAE (notebook 04) so more features pass the clean filter");
  }
  const familyOf = new Map<number, SteerFamily>();
  for (const f of [...dom.families].sort((a, b) => a.members.length - b.members.length)) {
    for (const feat of [f.root, ...f.members.map((m) => m.feature)]) if (!familyOf.has(feat)) familyOf.set(feat, f);
  }
  const trials: Trial[] = [];
  let noActiveClean = 0;
  dom.queries.forEach((q, i) => {
    const rng = new Rng(`${seed}:trial:${dom.name}:${i}`);
    const code = encodeQuery(dom.params, q.qD, dom.k);
    const active = new Set(Array.from(code.indicesK).filter((f, j) => code.valuesK[j]! > 0));
    const activeClean = [...active].filter((f) => cleanSet.has(f)).sort((a, b) => a - b);
    if (activeClean.length === 0) {
      noActiveClean++;
      return;
    }
    const down = activeClean[rng.int(activeClean.length)]!;
    const inactive = cleanList.filter((f) => !active.has(f));
    const up = inactive[rng.int(inactive.length)]!;
    const others = cleanList.filter((f) => f !== up && f !== down);
    const picks = Array.from(rng.sample(others.length, distractors), (j) => others[j]!);
    const candidates = rng.shuffleInPlace([up, down, ...picks]);
    const activeOthers = activeClean.filter((f) => f !== down);
    const activeCandidates =
      activeOthers.length >= distractors ? rng.shuffleInPlace([up, down, ...Array.from(rng.sample(activeOthers.length, distractors), (j) => activeOthers[j]!)]) : null;
    const randomD = new Float32Array(dom.params.d);
    rng.fillNormalInPlace(randomD);
    trials.push({ query: i, text: q.text, code, up, down, candidates, activeCandidates, family: familyOf.get(up) ?? null, randomD });
  });
  return { trials, noActiveClean };
}

/** One grid point of one method. */
export interface GridPoint {
  method: SteerMethod;
  /** s_up (null for the rewrites). */
  up: number | null;
  /** s_down (null for the rewrites). */
  down: number | null;
}

/** The steered query of a trial at a grid point, or null when the method does not apply (no family). */
export function steeredQuery(dom: SteerDomain, t: Trial, p: GridPoint, weighting: FamilyWeighting): Float32Array | null {
  const sUp = p.up ?? 0;
  const sDown = p.down ?? 0;
  const q = t.code.xD;
  const downEdit: FeatureEdit = { feature: t.down, value: -sDown };
  switch (p.method) {
    case "add":
      return addDirections(dom.params, q, [{ feature: t.up, value: sUp }, downEdit]);
    case "clamp": {
      const j = Array.from(t.code.indicesK).indexOf(t.down);
      const aDown = j >= 0 ? t.code.valuesK[j]! : 0;
      return clampQuery(dom.params, t.code, [{ feature: t.up, value: sUp }, { feature: t.down, value: Math.max(0, aDown - sDown) }]);
    }
    case "family":
      return t.family === null ? null : addDirections(dom.params, q, [...familyEdits(t.family, sUp, weighting, "sum"), downEdit]);
    case "random":
      return addDirections(dom.params, addDirection(q, t.randomD, sUp), [downEdit]);
    case "diff-means":
      return addDirections(dom.params, addDirection(q, dom.diffMeans(t.up), sUp), [downEdit]);
    default:
      throw new SaerchError(`steeredQuery: ${p.method} is not a grid method`);
  }
}

/** One judged trial at one point. */
export interface JudgedTrial {
  trial: number;
  cos: number;
  /** Original top-k documents still in the steered top-k. */
  survive: number;
  /** Verdicts by judge and variant ("standard" | "active"); null when the judge gave no answer. */
  verdicts: Partial<Record<`${JudgeKind}:${"standard" | "active"}`, Verdict | null>>;
}

/** Everything the judges of one point need, for the LLM judge run by the caller. */
export interface JudgeRequest {
  point: GridPoint;
  trial: Trial;
  original: Int32Array;
  steered: Int32Array;
  candidates: number[];
  variant: "standard" | "active";
}

/** The aggregate of one (method, strengths, judge, variant). */
export interface PointResult {
  method: SteerMethod;
  up: number | null;
  down: number | null;
  judge: JudgeKind;
  variant: "standard" | "active";
  /** Trials judged. */
  n: number;
  upAccuracy: number;
  upCi: [number, number];
  downAccuracy: number;
  downCi: [number, number];
  meanCos: number;
  meanSurvive: number;
  /** Judge answers that could not be read (counted wrong). */
  unanswered: number;
}

/** Mean and bootstrap 95 % interval of a 0/1 vector over resampled trials (seeded). */
export function bootstrapMean(x: readonly number[], resamples: number, rng: Rng): { mean: number; ci: [number, number] } {
  const n = x.length;
  if (n === 0) return { mean: NaN, ci: [NaN, NaN] };
  const mean = x.reduce((a, b) => a + b, 0) / n;
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[rng.int(n)]!;
    means[r] = s / n;
  }
  means.sort();
  const at = (q: number): number => means[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))]!;
  return { mean, ci: [at(0.025), at(0.975)] };
}

/** Aggregate the judged trials of one point for every judge and variant present. */
export function aggregatePoint(point: GridPoint, trials: readonly Trial[], judged: readonly JudgedTrial[], resamples: number, seed: number): PointResult[] {
  const byTrial = new Map(trials.map((t, i) => [i, t]));
  const keys = new Set<string>();
  for (const j of judged) for (const k of Object.keys(j.verdicts)) keys.add(k);
  const out: PointResult[] = [];
  for (const key of [...keys].sort()) {
    const [judge, variant] = key.split(":") as [JudgeKind, "standard" | "active"];
    const rows = judged.filter((j) => key in j.verdicts);
    const upHits: number[] = [];
    const downHits: number[] = [];
    let unanswered = 0;
    for (const j of rows) {
      const t = byTrial.get(j.trial)!;
      const cands = variant === "active" ? t.activeCandidates! : t.candidates;
      const v = j.verdicts[key as keyof JudgedTrial["verdicts"]] ?? null;
      if (v === null) unanswered++;
      upHits.push(v !== null && cands[v.added] === t.up ? 1 : 0);
      downHits.push(v !== null && cands[v.removed] === t.down ? 1 : 0);
    }
    const rng = new Rng(`${seed}:bootstrap:${point.method}:${point.up}:${point.down}:${key}`);
    const up = bootstrapMean(upHits, resamples, rng);
    const down = bootstrapMean(downHits, resamples, rng);
    out.push({
      ...point,
      judge,
      variant,
      n: rows.length,
      upAccuracy: up.mean,
      upCi: up.ci,
      downAccuracy: down.mean,
      downCi: down.ci,
      meanCos: rows.reduce((a, j) => a + j.cos, 0) / Math.max(1, rows.length),
      meanSurvive: rows.reduce((a, j) => a + j.survive, 0) / Math.max(1, rows.length),
      unanswered,
    });
  }
  return out;
}

/** How many of `a` are in `b`. */
function overlapCount(a: Int32Array, b: Int32Array): number {
  const s = new Set(b);
  let n = 0;
  for (const x of a) if (s.has(x)) n++;
  return n;
}

/**
 * Judge one point's steered results with the activation and text judges (both variants), and collect the
 * LLM judge's requests when asked.
 * @param originals `[T]` each trial's original top-k; `steered` the same trials' steered top-k (null: not applicable)
 */
export function judgePoint(args: {
  dom: SteerDomain;
  point: GridPoint;
  trials: readonly Trial[];
  originals: readonly Int32Array[];
  steered: ReadonlyArray<Int32Array | null>;
  steeredQueries: ReadonlyArray<Float32Array | null>;
  judges: readonly JudgeKind[];
  labelOf: (feature: number) => string;
  wantLlm: boolean;
}): { judged: JudgedTrial[]; llmRequests: JudgeRequest[] } {
  const { dom, trials } = args;
  const termsCache = new Map<number, string[]>();
  const terms = (f: number): string[] => {
    let t = termsCache.get(f);
    if (t === undefined) termsCache.set(f, (t = labelTerms(args.labelOf(f))));
    return t;
  };
  const judged: JudgedTrial[] = [];
  const llmRequests: JudgeRequest[] = [];
  trials.forEach((t, i) => {
    const s = args.steered[i];
    const qp = args.steeredQueries[i];
    if (s === null || s === undefined || qp === null || qp === undefined) return;
    const o = args.originals[i]!;
    const origRows = Array.from(o);
    const newRows = Array.from(s);
    const verdicts: JudgedTrial["verdicts"] = {};
    const variants: Array<["standard" | "active", number[] | null]> = [["standard", t.candidates], ["active", t.activeCandidates]];
    for (const [variant, cands] of variants) {
      if (cands === null) continue;
      if (args.judges.includes("activation")) verdicts[`activation:${variant}`] = activationJudge(origRows, newRows, cands, dom.fires);
      if (args.judges.includes("text")) verdicts[`text:${variant}`] = textJudge(origRows, newRows, cands.map(terms), dom.termsOf);
      if (args.wantLlm && variant === "standard") llmRequests.push({ point: args.point, trial: t, original: o, steered: s, candidates: cands, variant });
    }
    judged.push({ trial: i, cos: cosineOf(t.code.xD, qp), survive: overlapCount(o, s), verdicts });
  });
  return { judged, llmRequests };
}

/** One strength of the family-versus-parent comparison. */
export interface FamilySteerPoint {
  strength: number;
  /** Mean cos(q, q') and mean fraction of the steered top-k in which any family member fires. */
  family: { cos: number; coverage: number };
  parent: { cos: number; coverage: number };
  /** Queries compared. */
  n: number;
}

/**
 * Family-level against single-feature steering: for each trial with a family for its up feature, raise the
 * whole family (spread by `weighting`, the add form) or only its parent at each strength, and measure the
 * fraction of the new top-k in which any member fires, beside cos(q, q').
 */
export async function familyVersusParent(args: {
  dom: SteerDomain;
  trials: readonly Trial[];
  strengths: readonly number[];
  weighting: FamilyWeighting;
  rank: Ranker;
  topK: number;
}): Promise<FamilySteerPoint[]> {
  const { dom } = args;
  const withFamily = args.trials.filter((t) => t.family !== null);
  const d = dom.params.d;
  const out: FamilySteerPoint[] = [];
  for (const s of args.strengths) {
    const measure = async (edits: (t: Trial) => FeatureEdit[]): Promise<{ cos: number; coverage: number }> => {
      if (withFamily.length === 0) return { cos: NaN, coverage: NaN };
      const qBD = new Float32Array(withFamily.length * d);
      withFamily.forEach((t, i) => qBD.set(addDirections(dom.params, t.code.xD, edits(t)), i * d));
      const hits = await args.rank(qBD, withFamily.length, args.topK);
      let cos = 0;
      let coverage = 0;
      withFamily.forEach((t, i) => {
        cos += cosineOf(t.code.xD, qBD.subarray(i * d, (i + 1) * d));
        const members = [t.family!.root, ...t.family!.members.map((m) => m.feature)];
        const rows = Array.from(hits[i]!);
        coverage += rows.filter((r) => members.some((f) => dom.fires(r, f))).length / Math.max(1, rows.length);
      });
      return { cos: cos / withFamily.length, coverage: coverage / withFamily.length };
    };
    out.push({
      strength: s,
      family: await measure((t) => familyEdits(t.family!, s, args.weighting, "sum")),
      parent: await measure((t) => [{ feature: t.family!.root, value: s }]),
      n: withFamily.length,
    });
  }
  return out;
}
