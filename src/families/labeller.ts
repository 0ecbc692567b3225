/**
 * The family labelling loop (METHOD.md §5): for each family, draw its examples, ask the scorer for a label
 * from the parent's and children's labels, predict the held-out documents from that label, score with
 * stage 4's code (Pearson, F1), and append one record to `family-labels.jsonl`. Resumable per family: a
 * rerun skips finished families and retries failed ones; a budget stop ends the loop cleanly. The loop
 * holds its run directory's lock (src/io/run-lock.ts): one process per run.
 */
import { join } from "node:path";
import { describeError } from "../core/errors.js";
import { progress as startProgress } from "../core/progress.js";
import { JsonlAppender, readJsonlLog } from "../io/jsonl.js";
import { withRunLock } from "../io/run-lock.js";
import { BudgetExceededError } from "../interpret/cost.js";
import { scorePredictions } from "../interpret/scores.js";
import type { ScorerKind } from "../interpret/types.js";
import type { Family } from "./build.js";
import type { FamilyScoreConfig } from "./config.js";
import { type FamilyExampleSource, familyTask } from "./examples.js";
import type { FamilyLabelSource, FamilyScorer } from "./scorer.js";

/** The per-family log. */
export const FAMILY_LABELS_FILE = "family-labels.jsonl";
/** Families per round of requests. */
export const FAMILY_CHUNK = 32;

/** One line of family-labels.jsonl. */
export interface FamilyLabelRecord {
  /** Family id in the build. */
  family: number;
  /** Its root feature. */
  root: number;
  status: "labelled" | "too-rare" | "failed";
  label: string | null;
  reasoning: string | null;
  /** How the label came about (null unless labelled). */
  source: FamilyLabelSource | null;
  /** Pearson(truth, predictions), null when undefined. */
  pearson: number | null;
  f1: number | null;
  /** Fraction of documents where any member fires. */
  density: number;
  predictions: number[];
  truth: number[];
  unparsed: number;
  /** Document ids: shown positives, shown negatives, held-out (positives then negatives). */
  examples: { top: string[]; zero: string[]; heldOut: string[] };
  models: { labeller: string; predictor: string };
  scorer: ScorerKind;
  error?: string;
}

/** Arguments of labelFamilies. */
export interface LabelFamiliesArgs {
  /** Run directory (family-labels.jsonl). */
  dir: string;
  families: readonly Family[];
  src: FamilyExampleSource;
  /** Dictionary size F. */
  n: number;
  /** Stage 4's label of each feature (missing = unlabelled). */
  featureLabels: ReadonlyMap<number, string>;
  scorer: FamilyScorer;
  config: FamilyScoreConfig;
  quiet?: boolean;
}

/** The outcome: the latest record of every family, and why the loop stopped early (if it did). */
export interface FamilyLabelRun {
  records: FamilyLabelRecord[];
  stopped?: string;
}

/** Latest record of each family in `dir/family-labels.jsonl`. */
export function readFamilyLabels(dir: string): FamilyLabelRecord[] {
  const latest = new Map<number, FamilyLabelRecord>();
  for (const r of readJsonlLog<FamilyLabelRecord>(join(dir, FAMILY_LABELS_FILE))) latest.set(r.family, r);
  return [...latest.values()].sort((a, b) => a.family - b.family);
}

/** Label and score every family not yet done. */
export async function labelFamilies(args: LabelFamiliesArgs): Promise<FamilyLabelRun> {
  return withRunLock(args.dir, "family labelling", () => labelFamiliesLocked(args));
}

/** labelFamilies' loop, holding the run directory's lock. */
async function labelFamiliesLocked(args: LabelFamiliesArgs): Promise<FamilyLabelRun> {
  const { dir, families, scorer, config, featureLabels } = args;
  const latest = new Map(readFamilyLabels(dir).map((r) => [r.family, r]));
  const todo = families.filter((f) => latest.get(f.id)?.status !== "labelled" && latest.get(f.id)?.status !== "too-rare");
  const log = new JsonlAppender(join(dir, FAMILY_LABELS_FILE));
  const append = (r: FamilyLabelRecord): void => {
    log.append(r);
    latest.set(r.family, r);
  };
  const base = (f: Family, density: number): Omit<FamilyLabelRecord, "status"> => ({
    family: f.id,
    root: f.root,
    label: null,
    reasoning: null,
    source: null,
    pearson: null,
    f1: null,
    density,
    predictions: [],
    truth: [],
    unparsed: 0,
    examples: { top: [], zero: [], heldOut: [] },
    models: scorer.models,
    scorer: scorer.kind,
  });
  const bar = args.quiet || todo.length === 0 ? undefined : startProgress(todo.length, `family labels (${scorer.kind})`, { unit: "families" });
  let done = 0;
  let stopped: string | undefined;
  try {
    for (let start = 0; start < todo.length && stopped === undefined; start += FAMILY_CHUNK) {
      const items = [];
      for (const f of todo.slice(start, start + FAMILY_CHUNK)) {
        const task = familyTask(args.src, f, args.n, config);
        if ("reason" in task) {
          append({ ...base(f, 0), status: "too-rare", error: task.reason });
          bar?.update(++done);
          continue;
        }
        const rec = {
          ...base(f, task.density),
          truth: task.truth,
          examples: { top: task.top.map((d) => d.id), zero: task.zero.map((d) => d.id), heldOut: task.heldOut.map((d) => d.id) },
        };
        items.push({ f, task, rec, parentLabel: featureLabels.get(f.root) ?? null, childLabels: f.members.map((m) => featureLabels.get(m.feature) ?? null) });
      }
      try {
        const labels = items.length > 0 ? await args.scorer.label(items) : [];
        const ok: Array<(typeof items)[number] & { label: string; reasoning: string; source: FamilyLabelSource }> = [];
        items.forEach((it, i) => {
          const l = labels[i]!;
          if (l instanceof Error) {
            append({ ...it.rec, status: "failed", error: `labeller: ${describeError(l)}` });
            bar?.update(++done);
          } else ok.push({ ...it, ...l });
        });
        const preds = ok.length > 0 ? await args.scorer.predict(ok.map((it) => ({ task: it.task, label: it.label }))) : [];
        ok.forEach((it, i) => {
          const p = preds[i]!;
          const labelled = { ...it.rec, label: it.label, reasoning: it.reasoning, source: it.source };
          if (p instanceof Error) {
            append({ ...labelled, status: "failed", error: `predictor: ${describeError(p)}` });
          } else {
            const s = scorePredictions(it.task.truth, p);
            append({ ...labelled, status: "labelled", pearson: s.pearson ?? null, f1: s.f1, predictions: p.map((x) => x.value), unparsed: s.unparsed });
          }
          bar?.update(++done);
        });
      } catch (err) {
        if (!(err instanceof BudgetExceededError)) throw err;
        stopped = `budget: ${err.message}`;
      }
    }
  } finally {
    log.close();
    bar?.finish();
  }
  const records = families.map((f) => latest.get(f.id)).filter((r): r is FamilyLabelRecord => r !== undefined);
  return stopped === undefined ? { records } : { records, stopped };
}
