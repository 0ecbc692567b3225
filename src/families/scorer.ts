/**
 * Who labels and scores families (METHOD.md §5), behind one seam like stage 4's `FeatureScorer`:
 * - `LlmFamilyScorer`: the family labeller prompt (parent and children labels in, one concept out after
 *   `FINAL:`, the parent's label when the reply cannot be parsed, flagged) and the family predictor prompt,
 *   through any `LlmClient` (stage 4's cached, budgeted, retrying client);
 * - `BaselineFamilyScorer`: offline — the label is the terms of the members' labels that best separate the
 *   family's shown documents from documents where no member fires (the members' labels weight each term),
 *   falling back to stage 4's document-term label when no member-label term separates; the prediction is
 *   stage 4's baseline predictor (label–document embedding similarity, calibrated on the shown documents).
 */
import { SaerchError } from "../core/errors.js";
import type { LlmConfig } from "../interpret/config.js";
import { BudgetExceededError } from "../interpret/cost.js";
import { parsePrediction } from "../interpret/prompts.js";
import { termSet } from "../interpret/terms.js";
import type { FeatureScorer, FeatureTask, LlmClient, Prediction, ScorerKind } from "../interpret/types.js";
import { buildFamilyLabelMessages, buildFamilyPredictorMessages, parseFamilyLabel } from "./prompts.js";

/** How a family's label came about. */
export type FamilyLabelSource =
  /** the LLM labeller's answer */
  | "llm"
  /** the LLM's reply had no `FINAL:` concept: the parent's label stands in */
  | "parent-fallback"
  /** offline: terms of the members' labels */
  | "baseline-member-terms"
  /** offline: no member-label term separated the documents; stage 4's document-term label */
  | "baseline-documents";

/** A family's label. */
export interface FamilyLabel {
  label: string;
  reasoning: string;
  source: FamilyLabelSource;
}

/** What a family is labelled from. */
export interface FamilyLabelItem {
  /** The family's examples (see familyTask). */
  task: FeatureTask;
  /** The root's label (null when unlabelled). */
  parentLabel: string | null;
  /** `[C]` the members' labels, in member order (null when unlabelled). */
  childLabels: Array<string | null>;
}

/** The family scorer seam. */
export interface FamilyScorer {
  readonly kind: ScorerKind;
  /** Model (or method) per role, recorded with every family label. */
  readonly models: { labeller: string; predictor: string };
  /** A label per item, or an Error in its slot. @throws BudgetExceededError to stop the run */
  label(items: readonly FamilyLabelItem[]): Promise<Array<FamilyLabel | Error>>;
  /** `[heldOut]` predictions per item, or an Error in its slot. @throws BudgetExceededError to stop the run */
  predict(items: ReadonlyArray<{ task: FeatureTask; label: string }>): Promise<Array<Prediction[] | Error>>;
  close(): Promise<void>;
}

/** Settle all; rethrow the first budget stop once everything has settled. */
async function settle<T>(promises: ReadonlyArray<Promise<T>>): Promise<Array<PromiseSettledResult<T>>> {
  const settled = await Promise.allSettled(promises);
  for (const s of settled) if (s.status === "rejected" && s.reason instanceof BudgetExceededError) throw s.reason;
  return settled;
}

const asError = (reason: unknown): Error => (reason instanceof Error ? reason : new Error(String(reason)));

/** The paper's family labeller and predictor through an LLM client. */
export class LlmFamilyScorer implements FamilyScorer {
  readonly kind = "llm" as const;
  readonly models: { labeller: string; predictor: string };

  /**
   * @param client answers chat requests (stage 4's client stack: cache, budget, retries, concurrency)
   * @param cfg models (the labeller uses the interpreter model), temperature and completion caps
   */
  constructor(
    private readonly client: LlmClient,
    private readonly cfg: LlmConfig,
  ) {
    this.models = { labeller: cfg.interpreterModel, predictor: cfg.predictorModel };
  }

  async label(items: readonly FamilyLabelItem[]): Promise<Array<FamilyLabel | Error>> {
    const settled = await settle(
      items.map((it) =>
        this.client.complete({
          role: "interpreter",
          model: this.cfg.interpreterModel,
          messages: buildFamilyLabelMessages(it.parentLabel, it.childLabels),
          temperature: this.cfg.temperature,
          maxTokens: this.cfg.interpreterMaxTokens,
        }),
      ),
    );
    return settled.map((s, i) => {
      if (s.status === "rejected") return asError(s.reason);
      const parsed = parseFamilyLabel(s.value.content);
      if (parsed) return { ...parsed, source: "llm" };
      const parent = items[i]!.parentLabel;
      if (parent === null) return new SaerchError("the family labeller's reply had no FINAL: concept and the parent feature has no label to fall back on");
      return { label: parent, reasoning: s.value.content.trim(), source: "parent-fallback" };
    });
  }

  async predict(items: ReadonlyArray<{ task: FeatureTask; label: string }>): Promise<Array<Prediction[] | Error>> {
    const perItem = items.map(({ task, label }) =>
      task.heldOut.map((doc) =>
        this.client.complete({
          role: "predictor",
          model: this.cfg.predictorModel,
          messages: buildFamilyPredictorMessages(label, doc.text),
          temperature: this.cfg.temperature,
          maxTokens: this.cfg.predictorMaxTokens,
        }),
      ),
    );
    const settled = await settle(perItem.flat());
    let next = 0;
    return perItem.map((reqs) => {
      const out: Prediction[] = [];
      for (const s of settled.slice(next, next + reqs.length)) {
        if (s.status === "rejected") {
          next += reqs.length;
          return asError(s.reason);
        }
        out.push(parsePrediction(s.value.content));
      }
      next += reqs.length;
      return out;
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** A candidate term of the baseline family label. */
interface TermScore {
  term: string;
  /** Members (root included) whose label holds the term. */
  members: number;
  /** members × (share of shown family documents holding it − share of shown negatives holding it). */
  score: number;
}

/**
 * Rank the terms of the members' labels: a term's score is the number of member labels holding it times
 * how much more often it appears in the family's shown documents than in the shown negatives. Terms with
 * a score ≤ 0 are dropped; ties go to bigrams, then alphabetical order.
 */
export function rankMemberTerms(labels: ReadonlyArray<string | null>, task: Pick<FeatureTask, "top" | "zero">, bigrams: boolean): TermScore[] {
  const members = new Map<string, number>();
  for (const l of labels) {
    if (l === null) continue;
    for (const t of termSet(l, { bigrams })) members.set(t, (members.get(t) ?? 0) + 1);
  }
  const share = (docs: FeatureTask["top"]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const d of docs) for (const t of termSet(d.text, { bigrams })) if (members.has(t)) m.set(t, (m.get(t) ?? 0) + 1 / docs.length);
    return m;
  };
  const top = share(task.top);
  const zero = share(task.zero);
  const out: TermScore[] = [];
  for (const [term, count] of members) {
    const score = count * ((top.get(term) ?? 0) - (zero.get(term) ?? 0));
    if (score > 0) out.push({ term, members: count, score });
  }
  const isBigram = (t: string): number => (t.includes(" ") ? 0 : 1);
  return out.sort((a, b) => b.score - a.score || isBigram(a.term) - isBigram(b.term) || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0));
}

/** Up to `k` ranked terms, skipping any that shares a word with one already chosen. */
export function pickTerms(ranked: readonly TermScore[], k: number): TermScore[] {
  const used = new Set<string>();
  const out: TermScore[] = [];
  for (const t of ranked) {
    if (out.length >= k) break;
    const words = t.term.split(" ");
    if (words.some((w) => used.has(w))) continue;
    out.push(t);
    for (const w of words) used.add(w);
  }
  return out;
}

/** The offline family scorer (see the module comment). */
export class BaselineFamilyScorer implements FamilyScorer {
  readonly kind = "baseline" as const;
  readonly models: { labeller: string; predictor: string };

  /**
   * @param inner stage 4's baseline scorer (its predictor scores the family label; its labeller is the fallback)
   * @param opts terms kept in a label, and whether two-word terms count
   */
  constructor(
    private readonly inner: FeatureScorer,
    private readonly opts: { labelTerms: number; bigrams: boolean },
  ) {
    this.models = { labeller: "member-label-terms", predictor: inner.models.predictor };
  }

  async label(items: readonly FamilyLabelItem[]): Promise<Array<FamilyLabel | Error>> {
    const out: Array<FamilyLabel | Error> = [];
    for (const it of items) {
      const ranked = rankMemberTerms([it.parentLabel, ...it.childLabels], it.task, this.opts.bigrams);
      const picked = pickTerms(ranked, this.opts.labelTerms);
      if (picked.length > 0) {
        out.push({
          label: picked.map((t) => t.term).join(", "),
          reasoning: picked.map((t) => `"${t.term}": in ${t.members} member labels, score ${t.score.toFixed(2)}`).join("; "),
          source: "baseline-member-terms",
        });
        continue;
      }
      const [fallback] = await this.inner.interpret([it.task]);
      out.push(fallback instanceof Error ? fallback : { ...fallback!, source: "baseline-documents" });
    }
    return out;
  }

  predict(items: ReadonlyArray<{ task: FeatureTask; label: string }>): Promise<Array<Prediction[] | Error>> {
    return this.inner.predict(items);
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}
