/**
 * Tuning the offline baseline's parameters (METHOD.md §4, the scores Pearson and F1) by coordinate search,
 * on features of a TUNING SAE that is disjoint from every SAE whose scores are reported: the parameters are
 * chosen on one set of features and reported on another, so the reported scores are not fitted to.
 *
 * Search: start from a config; for each numeric parameter in turn, score every value of its grid with the
 * others held fixed and keep the best (a tie, or a gain below MIN_GAIN, keeps the current value); repeat until a round changes nothing
 * or `rounds` rounds have run. Score of a config = mean over domains of the per-domain objective:
 *   "f1"          mean F1 over labelled features
 *   "pearson"     mean Pearson, a constant prediction (undefined Pearson) counted as 0
 *   "f1+pearson"  (mean F1 + mean Pearson) / 2   — the default
 * F1 alone is not a safe objective: with 3 held-out top and 3 zero documents a predictor that always says
 * "fires" scores F1 = 2·3 / (2·3 + 3) = 0.667, so maximising F1 alone pushes the threshold to "always
 * fires"; Pearson is blind to the threshold and penalises that. Everything is deterministic: the same tasks,
 * grid and start give the same record.
 */
import { z } from "zod";
import { SaerchError } from "../core/errors.js";
import { BaselineConfig, type BaselineConfig as BaselineConfigT } from "./config.js";
import { meanDefined, scorePredictions } from "./scores.js";
import type { FeatureScorer, FeatureTask, Interpretation } from "./types.js";

/**
 * Smallest objective gain that moves a parameter: a label change on one feature can shift a mean by a few
 * ulps without changing any score that matters, and such a "gain" must not win over the current value.
 */
export const MIN_GAIN = 1e-9;

/** The baseline's numeric parameters that the search may vary, in search order (interpreter first). */
export const TUNED_PARAMS = ["terms", "minTopDocs", "minCorpusDf", "duplicateJaccard", "thresholdShare", "gapScale", "overlapWeight"] as const;
/** One tuned parameter's name. */
export type TunedParam = (typeof TUNED_PARAMS)[number];

/** Parameters that change the label (the rest only change predictions, so labels are reused across them). */
const INTERPRETER_PARAMS: ReadonlySet<string> = new Set(["terms", "minTopDocs", "minCorpusDf", "duplicateJaccard", "bigrams"]);

/** Values to try per parameter (an omitted or empty list: the parameter stays at its start value). */
export const BaselineGrid = z.strictObject({
  terms: z.array(z.number().int().min(1)).default([1, 2, 3, 4, 5]).describe("label lengths in terms"),
  minTopDocs: z.array(z.number().int().min(1)).default([1, 2, 3]).describe("top documents a label term must occur in (of 5 shown)"),
  minCorpusDf: z.array(z.number().int().min(1)).default([1, 2, 3, 5, 10, 20]).describe("corpus documents a label term must occur in"),
  duplicateJaccard: z.array(z.number().min(0).max(1)).default([0.3, 0.5, 0.7, 1]).describe("near-duplicate Jaccard (1: only identical term sets merge)"),
  thresholdShare: z
    .array(z.number().min(0).max(1))
    .default([0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6])
    .describe("predictor threshold between the shown-zero (0) and shown-top (1) mean similarity"),
  gapScale: z.array(z.number().positive()).default([0.25, 0.5, 0.75, 1, 1.5, 2, 3]).describe("class-mean gaps from the threshold to ±1"),
  overlapWeight: z.array(z.number().min(0)).default([0, 0.25, 0.5, 0.75, 1, 1.5, 2]).describe("weight of the label-term overlap in a prediction"),
});
/** Parsed grid. */
export type BaselineGrid = z.infer<typeof BaselineGrid>;

/** What the search maximises (see the module header). */
export const TuneObjective = z.enum(["f1", "pearson", "f1+pearson"]);
/** An objective's name. */
export type TuneObjective = z.infer<typeof TuneObjective>;

/** Scores of one config on one set of features. */
export interface TuneScore {
  /** Features scored (tasks given). */
  features: number;
  /** Features labelled and predicted (the others failed: no usable term). */
  labelled: number;
  /** Mean F1 over labelled features. */
  meanF1: number;
  /** Mean Pearson over the features whose Pearson is defined (the summary's figure). */
  meanPearson: number | undefined;
  /** Features whose predictions were constant (Pearson undefined). */
  pearsonUndefined: number;
  /** Mean Pearson with an undefined one counted as 0 (what the objective uses). */
  meanPearsonZeroFilled: number;
  /** Labelled features with F1 ≥ 0.8 and Pearson ≥ 0.8 (the paper's score thresholds, before density and label filters). */
  wellScored: number;
  /** The objective's value for these features. */
  objective: number;
}

/** One domain's tuning features and a way to build the baseline for any config. */
export interface TuneDomain {
  name: string;
  /** Features the search scores configs on. */
  tasks: readonly FeatureTask[];
  /** Further features of the same SAE, never used by the search: the start and chosen configs are scored on them. */
  validation?: readonly FeatureTask[];
  /** A baseline scorer for `config` (the caller keeps its docFreq, embeddings and label-embedding cache). */
  scorerFor: (config: BaselineConfigT) => FeatureScorer;
}

/** One scored config. */
export interface TuneEvaluation {
  params: Record<TunedParam, number>;
  /** Mean over domains of each domain's score. */
  score: TuneScore;
  perDomain: Record<string, TuneScore>;
}

/** One coordinate step: a parameter, the values tried with their objectives, and the value kept. */
export interface TuneStep {
  round: number;
  param: TunedParam;
  tried: Array<{ value: number; objective: number }>;
  kept: number;
}

/** What a search found. */
export interface TuneResult {
  objective: TuneObjective;
  start: TuneEvaluation;
  chosen: TuneEvaluation;
  /** The chosen config, every field (the tuned ones and the fixed ones). */
  chosenConfig: BaselineConfigT;
  steps: TuneStep[];
  /** Every distinct config scored, in the order first scored. */
  evaluations: TuneEvaluation[];
  /** Rounds run (the last changed nothing unless the limit was reached). */
  rounds: number;
  /** Start and chosen configs on the validation features (when every domain has some). */
  validation?: { start: TuneEvaluation; chosen: TuneEvaluation };
}

/** Arguments of tuneBaselineParams. */
export interface TuneArgs {
  domains: readonly TuneDomain[];
  grid?: z.input<typeof BaselineGrid>;
  /** Starting config (default: BaselineConfig's defaults). */
  start?: z.input<typeof BaselineConfig>;
  objective?: TuneObjective;
  /** Most coordinate rounds (default 3). */
  rounds?: number;
}

const objectiveOf = (kind: TuneObjective, meanF1: number, pearson0: number): number =>
  kind === "f1" ? meanF1 : kind === "pearson" ? pearson0 : (meanF1 + pearson0) / 2;

/** Score a scorer's labels and predictions on `tasks` (labels come from `interpretations`). */
async function scoreTasks(
  scorer: FeatureScorer,
  tasks: readonly FeatureTask[],
  interpretations: ReadonlyArray<Interpretation | Error>,
  objective: TuneObjective,
): Promise<TuneScore> {
  const items: Array<{ task: FeatureTask; label: string }> = [];
  tasks.forEach((task, i) => {
    const it = interpretations[i]!;
    if (!(it instanceof Error)) items.push({ task, label: it.label });
  });
  const preds = items.length > 0 ? await scorer.predict(items) : [];
  const f1: number[] = [];
  const pearson: Array<number | undefined> = [];
  let wellScored = 0;
  items.forEach(({ task }, i) => {
    const p = preds[i]!;
    if (p instanceof Error) return;
    const s = scorePredictions(task.truth, p);
    f1.push(s.f1);
    pearson.push(s.pearson);
    if (s.f1 >= 0.8 && s.pearson !== undefined && s.pearson >= 0.8) wellScored++;
  });
  const meanF1 = f1.length > 0 ? f1.reduce((a, b) => a + b, 0) / f1.length : 0;
  const defined = meanDefined(pearson);
  const pearson0 = pearson.length > 0 ? pearson.reduce<number>((a, b) => a + (b ?? 0), 0) / pearson.length : 0;
  return {
    features: tasks.length,
    labelled: f1.length,
    meanF1,
    meanPearson: defined.mean,
    pearsonUndefined: defined.undefinedCount,
    meanPearsonZeroFilled: pearson0,
    wellScored,
    objective: objectiveOf(objective, meanF1, pearson0),
  };
}

/** The mean over domains of per-domain scores (counts summed). */
function meanScore(scores: readonly TuneScore[], objective: TuneObjective): TuneScore {
  const avg = (f: (s: TuneScore) => number): number => scores.reduce((a, s) => a + f(s), 0) / scores.length;
  const defined = scores.filter((s) => s.meanPearson !== undefined);
  const meanF1 = avg((s) => s.meanF1);
  const pearson0 = avg((s) => s.meanPearsonZeroFilled);
  return {
    features: scores.reduce((a, s) => a + s.features, 0),
    labelled: scores.reduce((a, s) => a + s.labelled, 0),
    meanF1,
    meanPearson: defined.length > 0 ? defined.reduce((a, s) => a + s.meanPearson!, 0) / defined.length : undefined,
    pearsonUndefined: scores.reduce((a, s) => a + s.pearsonUndefined, 0),
    meanPearsonZeroFilled: pearson0,
    wellScored: scores.reduce((a, s) => a + s.wellScored, 0),
    objective: objectiveOf(objective, meanF1, pearson0),
  };
}

const pickTuned = (c: BaselineConfigT): Record<TunedParam, number> =>
  Object.fromEntries(TUNED_PARAMS.map((p) => [p, c[p]])) as Record<TunedParam, number>;

/** Key of the settings that change labels: configs sharing it share their interpretations. */
const interpreterKey = (c: BaselineConfigT): string =>
  JSON.stringify(Object.entries(c).filter(([k]) => INTERPRETER_PARAMS.has(k)).sort(([a], [b]) => (a < b ? -1 : 1)));

/**
 * Coordinate search over the baseline's numeric parameters (see the module header).
 * @throws SaerchError when no domain or a domain without tasks is given
 */
export async function tuneBaselineParams(args: TuneArgs): Promise<TuneResult> {
  if (args.domains.length === 0) throw new SaerchError("tuneBaselineParams: no domain to tune on");
  for (const d of args.domains) {
    if (d.tasks.length === 0) throw new SaerchError(`tuneBaselineParams: domain ${d.name} has no tuning features`, "sample more features or check the SAE's codes");
  }
  const grid = BaselineGrid.parse(args.grid ?? {});
  const objective = args.objective ?? "f1+pearson";
  const maxRounds = args.rounds ?? 3;
  const interpCache = new Map<string, Array<Interpretation | Error>>();
  const evalCache = new Map<string, TuneEvaluation>();
  const evaluations: TuneEvaluation[] = [];

  const evaluate = async (config: BaselineConfigT, set: "tasks" | "validation"): Promise<TuneEvaluation> => {
    const key = `${set}:${JSON.stringify(pickTuned(config))}`;
    const hit = evalCache.get(key);
    if (hit !== undefined) return hit;
    const perDomain: Record<string, TuneScore> = {};
    for (const d of args.domains) {
      const tasks = set === "tasks" ? d.tasks : (d.validation ?? []);
      const scorer = d.scorerFor(config);
      try {
        const iKey = `${set}:${d.name}:${interpreterKey(config)}`;
        let interps = interpCache.get(iKey);
        if (interps === undefined) {
          interps = await scorer.interpret(tasks);
          interpCache.set(iKey, interps);
        }
        perDomain[d.name] = await scoreTasks(scorer, tasks, interps, objective);
      } finally {
        await scorer.close();
      }
    }
    const ev: TuneEvaluation = { params: pickTuned(config), score: meanScore(Object.values(perDomain), objective), perDomain };
    evalCache.set(key, ev);
    if (set === "tasks") evaluations.push(ev);
    return ev;
  };

  const startConfig = BaselineConfig.parse(args.start ?? {});
  let current = startConfig;
  let currentEval = await evaluate(current, "tasks");
  const steps: TuneStep[] = [];
  let rounds = 0;
  while (rounds < maxRounds) {
    rounds++;
    let changed = false;
    for (const param of TUNED_PARAMS) {
      const values = grid[param];
      if (values.length === 0) continue;
      const tried: TuneStep["tried"] = [];
      let best = currentEval;
      let bestConfig = current;
      for (const value of values) {
        const cand = BaselineConfig.parse({ ...current, [param]: value });
        const ev = await evaluate(cand, "tasks");
        tried.push({ value, objective: ev.score.objective });
        if (ev.score.objective > best.score.objective + MIN_GAIN) {
          best = ev;
          bestConfig = cand;
        }
      }
      steps.push({ round: rounds, param, tried, kept: bestConfig[param] });
      if (bestConfig !== current) {
        current = bestConfig;
        currentEval = best;
        changed = true;
      }
    }
    if (!changed) break;
  }
  const startEval = await evaluate(startConfig, "tasks");
  const hasValidation = args.domains.every((d) => (d.validation?.length ?? 0) > 0);
  const validation = hasValidation ? { start: await evaluate(startConfig, "validation"), chosen: await evaluate(current, "validation") } : undefined;
  return { objective, start: startEval, chosen: currentEval, chosenConfig: current, steps, evaluations, rounds, ...(validation ? { validation } : {}) };
}

/**
 * F1 of a predictor that says "fires" for every held-out document: 2·heldTop / (2·heldTop + heldZero)
 * (all top documents found, every zero document a false positive). A reference the F1 objective must beat.
 */
export function alwaysFiresF1(heldTop: number, heldZero: number): number {
  return (2 * heldTop) / (2 * heldTop + heldZero);
}
