/**
 * The labelling loop (METHOD.md §4): for each feature, choose its examples, ask the scorer for a label from
 * the shown ones, ask it to predict the held-out ones, score the predictions and append one record to
 * `labels.jsonl`. Works with any `FeatureScorer` (the LLM pair or the offline baseline).
 *
 * Resumable per feature: records are appended to a crash-safe log as each round finishes; a rerun skips
 * the features already labelled (or found too rare) and retries the failed ones. A budget cap
 * (`BudgetExceededError` from the LLM client) stops the loop cleanly: finished records stay, the summary
 * says why it stopped, and a rerun with a larger budget continues. LLM requests are also cached by the
 * client, so even a round cut short by a crash is not paid for twice. One process per run directory: the
 * loop holds its run lock (src/io/run-lock.ts).
 */
import { join } from "node:path";
import { SaerchError, describeError } from "../core/errors.js";
import { progress as startProgress } from "../core/progress.js";
import { writeJsonAtomic } from "../io/atomic.js";
import { JsonlAppender, readJsonlLog } from "../io/jsonl.js";
import { withRunLock } from "../io/run-lock.js";
import { featureStats, type SparseCodes } from "../sae/encode.js";
import { selectCleanFeatures } from "./clean.js";
import type { ExamplesConfig, InterpretConfig } from "./config.js";
import { BudgetExceededError } from "./cost.js";
import { buildFeatureIndex, selectExamples, type FeatureIndex } from "./examples.js";
import { meanDefined, scorePredictions } from "./scores.js";
import type { ExampleDoc, FeatureScorer, FeatureTask, LabelRecord } from "./types.js";

/** The per-feature log of a labelling run. */
export const LABELS_FILE = "labels.jsonl";
/** The run's summary, rewritten after every round. */
export const SUMMARY_FILE = "summary.json";

/** What the labeller needs to know about one SAE's corpus. */
export interface LabelFeaturesArgs {
  /** Output directory (labels.jsonl, summary.json). */
  dir: string;
  /** The SAE's codes over its N documents (`[N, K]`). */
  codes: SparseCodes;
  /** Dictionary size F. */
  n: number;
  /** `[N]` store row of each codes row. */
  rowsN: Int32Array;
  /** Document id and text (title + "\n\n" + abstract) of a store row. */
  docOf: (storeRow: number) => { id: string; text: string };
  /** Who labels and predicts. */
  scorer: FeatureScorer;
  /** The stage config (examples, clean, features, maxFeatures, chunk). */
  config: InterpretConfig;
  /** `[N, D]` unit-norm embeddings in codes-row order; needed only for `examples.negatives: "hard"`. */
  embeddingsND?: Float32Array;
  /** Embedding dimension D (with embeddingsND). */
  dim?: number;
  /** Extra fields for summary.json (e.g. cost accounting), read after every round. */
  summaryExtra?: () => Record<string, unknown>;
  /** No progress bar (default false). */
  quiet?: boolean;
}

/** Aggregate of a labelling run (summary.json). */
export interface LabelSummary {
  scorer: FeatureScorer["kind"];
  models: FeatureScorer["models"];
  /** Features asked for. */
  features: number;
  labelled: number;
  tooRare: number;
  failed: number;
  /** Features not reached (budget stop). */
  pending: number;
  /** Mean Pearson over labelled features whose Pearson is defined. */
  meanPearson: number | undefined;
  /** Labelled features whose Pearson is undefined (constant predictions). */
  pearsonUndefined: number;
  /** Mean F1 over labelled features. */
  meanF1: number | undefined;
  /** Predictions whose reply could not be parsed (each counted as 0). */
  unparsedPredictions: number;
  /** Features passing the clean-feature filter. */
  clean: number;
  /** Why the run stopped early, if it did. */
  stopped?: string;
  [extra: string]: unknown;
}

/** Result of labelFeatures. */
export interface LabelRunResult {
  /** The latest record of every feature asked for that has one, by feature. */
  records: LabelRecord[];
  summary: LabelSummary;
}

/**
 * The latest record of each feature in a labels.jsonl log (a failed feature retried later has two lines).
 * @returns records sorted by feature
 */
export function readLabels(dir: string): LabelRecord[] {
  return sortedRecords(latestRecords(dir));
}

/** The latest record of each feature in `dir/labels.jsonl`, by feature. */
function latestRecords(dir: string): Map<number, LabelRecord> {
  const latest = new Map<number, LabelRecord>();
  for (const r of readJsonlLog<LabelRecord>(join(dir, LABELS_FILE))) latest.set(r.feature, r);
  return latest;
}

function sortedRecords(latest: ReadonlyMap<number, LabelRecord>): LabelRecord[] {
  return [...latest.values()].sort((a, b) => a.feature - b.feature);
}

/** The features a config asks for, in order. */
export function requestedFeatures(config: Pick<InterpretConfig, "features" | "maxFeatures">, n: number): number[] {
  const all = config.features ?? Array.from({ length: n }, (_, j) => j);
  for (const j of all) {
    if (j >= n) throw new SaerchError(`feature ${j} is outside the SAE's dictionary [0, ${n})`, "fix `features` in the interpret config");
  }
  return config.maxFeatures !== undefined ? all.slice(0, config.maxFeatures) : all;
}

function recordBase(task: Pick<FeatureTask, "feature" | "density">, scorer: FeatureScorer): Omit<LabelRecord, "status"> {
  return {
    feature: task.feature,
    label: null,
    reasoning: null,
    pearson: null,
    f1: null,
    density: task.density,
    predictions: [],
    truth: [],
    unparsed: 0,
    examples: { top: [], zero: [], heldOut: [] },
    models: scorer.models,
    scorer: scorer.kind,
    ...(scorer.endpoint !== undefined ? { endpoint: scorer.endpoint } : {}),
  };
}

/** Summarise the latest records of the requested features. */
export function summarizeLabels(
  records: readonly LabelRecord[],
  requested: number,
  scorer: Pick<FeatureScorer, "kind" | "models">,
  config: Pick<InterpretConfig, "clean">,
): LabelSummary {
  const labelled = records.filter((r) => r.status === "labelled");
  const pearson = meanDefined(labelled.map((r) => r.pearson));
  const f1 = meanDefined(labelled.map((r) => r.f1));
  return {
    scorer: scorer.kind,
    models: scorer.models,
    features: requested,
    labelled: labelled.length,
    tooRare: records.filter((r) => r.status === "too-rare").length,
    failed: records.filter((r) => r.status === "failed").length,
    pending: requested - records.length,
    meanPearson: pearson.mean,
    pearsonUndefined: pearson.undefinedCount,
    meanF1: f1.mean,
    unparsedPredictions: labelled.reduce((acc, r) => acc + r.unparsed, 0),
    clean: selectCleanFeatures(records, config.clean).clean.length,
  };
}

/** Where features' examples come from: an SAE's codes, their feature index and the documents behind its rows. */
export interface ExampleSource {
  /** `[N, K]` codes. */
  codes: SparseCodes;
  /** Per-feature inverted index of the codes. */
  index: FeatureIndex;
  /** `[N]` store row of each codes row. */
  rowsN: Int32Array;
  /** Document id and text of a store row. */
  docOf: (storeRow: number) => { id: string; text: string };
  /** How examples are chosen. */
  examples: ExamplesConfig;
  /** True for codes rows whose text is longer than `examples.minChars`. */
  eligible: (row: number) => boolean;
  /** `[N, D]` unit-norm embeddings in codes-row order, for hard negatives. */
  embeddingsND?: Float32Array;
  /** D, with embeddingsND. */
  dim?: number;
}

/** Index the codes and mark the rows long enough to be examples, once per SAE. */
export function exampleSource(args: Pick<LabelFeaturesArgs, "codes" | "n" | "rowsN" | "docOf" | "embeddingsND" | "dim"> & { examples: ExamplesConfig }): ExampleSource {
  const { codes, rowsN, docOf, examples } = args;
  const longEnoughN = new Uint8Array(rowsN.length);
  rowsN.forEach((storeRow, i) => {
    longEnoughN[i] = docOf(storeRow).text.length > examples.minChars ? 1 : 0;
  });
  return {
    codes,
    index: buildFeatureIndex(codes, args.n),
    rowsN,
    docOf,
    examples,
    eligible: (row) => longEnoughN[row] === 1,
    ...(args.embeddingsND !== undefined ? { embeddingsND: args.embeddingsND, dim: args.dim ?? 0 } : {}),
  };
}

/** Build one feature's task from its example selection, or the reason it cannot be labelled. */
export function featureTask(src: ExampleSource, feature: number, density: number): FeatureTask | { feature: number; reason: string } {
  const { rowsN, docOf } = src;
  const sel = selectExamples(src.index, src.codes, feature, {
    config: src.examples,
    eligible: src.eligible,
    ...(src.embeddingsND !== undefined ? { embeddingsND: src.embeddingsND, dim: src.dim ?? 0 } : {}),
  });
  if (!sel.ok) return { feature, reason: sel.reason };
  const doc = (row: number, activation: number): ExampleDoc => {
    const storeRow = rowsN[row]!;
    const { id, text } = docOf(storeRow);
    return { row: storeRow, id, text, activation };
  };
  return {
    feature,
    density,
    top: sel.top.map((e) => doc(e.row, e.activation)),
    zero: sel.zero.map((r) => doc(r, 0)),
    heldOut: [...sel.heldTop.map((e) => doc(e.row, e.activation)), ...sel.heldZero.map((r) => doc(r, 0))],
    truth: [...sel.heldTop.map(() => 1), ...sel.heldZero.map(() => 0)],
  };
}

/** The record of a labelled (or failed) task. */
function taskRecord(task: FeatureTask, scorer: FeatureScorer): Omit<LabelRecord, "status"> {
  return {
    ...recordBase(task, scorer),
    truth: task.truth,
    examples: { top: task.top.map((d) => d.id), zero: task.zero.map((d) => d.id), heldOut: task.heldOut.map((d) => d.id) },
  };
}

/**
 * Label and score the config's features of one SAE, resuming from `dir/labels.jsonl`.
 * @returns the latest record of each requested feature and the run's summary (also in summary.json)
 */
export async function labelFeatures(args: LabelFeaturesArgs): Promise<LabelRunResult> {
  return withRunLock(args.dir, "labelling", () => labelLocked(args));
}

/** labelFeatures' loop, holding the run directory's lock. */
async function labelLocked(args: LabelFeaturesArgs): Promise<LabelRunResult> {
  const { dir, codes, n, rowsN, scorer, config } = args;
  if (rowsN.length * codes.k !== codes.indices.length) {
    throw new SaerchError(`labelFeatures: ${rowsN.length} rows but codes hold ${codes.indices.length / codes.k} documents`);
  }
  const requested = requestedFeatures(config, n);
  const requestedSet = new Set(requested);
  const latest = latestRecords(dir);
  const done = new Set([...latest.values()].filter((r) => r.status !== "failed").map((r) => r.feature));
  const todo = requested.filter((j) => !done.has(j));
  const src = exampleSource({ ...args, examples: config.examples });
  // Density as everywhere else (METHOD.md §2): documents whose top-k holds the feature, whatever its value.
  const densityF = featureStats(codes, n).densityF;
  const log = new JsonlAppender(join(dir, LABELS_FILE));
  const append = (record: LabelRecord): void => {
    log.append(record);
    latest.set(record.feature, record);
  };
  const requestedRecords = (): LabelRecord[] => sortedRecords(latest).filter((r) => requestedSet.has(r.feature));
  const bar = args.quiet || todo.length === 0 ? undefined : startProgress(todo.length, `labelling (${scorer.kind})`, { unit: "features" });
  let finished = 0;
  const tick = (): void => bar?.update(++finished);
  let stopped: string | undefined;
  const writeSummary = (): LabelSummary => {
    const summary = { ...summarizeLabels(requestedRecords(), requested.length, scorer, config), ...(stopped ? { stopped } : {}), ...args.summaryExtra?.() };
    writeJsonAtomic(join(dir, SUMMARY_FILE), summary);
    return summary;
  };
  try {
    for (let start = 0; start < todo.length && stopped === undefined; start += config.chunk) {
      const tasks: FeatureTask[] = [];
      for (const feature of todo.slice(start, start + config.chunk)) {
        const density = densityF[feature]!;
        const t = featureTask(src, feature, density);
        if ("reason" in t) {
          append({ ...recordBase({ feature, density }, scorer), status: "too-rare", error: t.reason } satisfies LabelRecord);
          tick();
        } else {
          tasks.push(t);
        }
      }
      try {
        const interps = tasks.length > 0 ? await scorer.interpret(tasks) : [];
        const items: Array<{ task: FeatureTask; label: string; reasoning: string }> = [];
        tasks.forEach((task, i) => {
          const it = interps[i]!;
          if (it instanceof Error) {
            append({ ...taskRecord(task, scorer), status: "failed", error: `interpreter: ${describeError(it)}` } satisfies LabelRecord);
            tick();
          } else {
            items.push({ task, label: it.label, reasoning: it.reasoning });
          }
        });
        const preds = items.length > 0 ? await scorer.predict(items) : [];
        items.forEach(({ task, label, reasoning }, i) => {
          const p = preds[i]!;
          if (p instanceof Error) {
            append({ ...taskRecord(task, scorer), label, reasoning, status: "failed", error: `predictor: ${describeError(p)}` } satisfies LabelRecord);
          } else {
            const s = scorePredictions(task.truth, p);
            append({
              ...taskRecord(task, scorer),
              status: "labelled",
              label,
              reasoning,
              pearson: s.pearson ?? null,
              f1: s.f1,
              predictions: p.map((x) => x.value),
              unparsed: s.unparsed,
            } satisfies LabelRecord);
          }
          tick();
        });
      } catch (err) {
        if (!(err instanceof BudgetExceededError)) throw err;
        stopped = `budget: ${err.message}`;
      }
      writeSummary();
    }
  } finally {
    log.close();
    bar?.finish();
  }
  const summary = writeSummary();
  return { records: requestedRecords(), summary };
}
