/**
 * The steering evaluation's judges (METHOD.md §7): given the original and the steered top-10 and five
 * candidate features (the up one, the down one and three distractors, in a seeded order), each names the
 * candidate that was added and the one that was removed.
 * - `activationJudge`: the change in the fraction of the top-10 documents in whose top-k each candidate
 *   fires; the largest rise is "added", the largest fall "removed";
 * - `textJudge`: the same forced choice from the candidates' label terms found in the result texts, so this
 *   judge reads only text and is independent of the SAE;
 * - the LLM judge (the paper's) lives in stage.ts, through stage 4's client stack.
 * Ties go to the earlier candidate in the shown order, which is random, so a judge with no signal scores
 * chance (1 in 5).
 */
import { termSet } from "../interpret/terms.js";

/** A judge's answer: indices into the candidate list. */
export interface Verdict {
  added: number;
  removed: number;
}

/** Indices of the largest and the smallest value (first on ties). */
export function argmaxMin(deltas: readonly number[]): Verdict {
  let added = 0;
  let removed = 0;
  deltas.forEach((d, i) => {
    if (d > deltas[added]!) added = i;
    if (d < deltas[removed]!) removed = i;
  });
  return { added, removed };
}

/**
 * Activation judge.
 * @param fires whether a feature is in the top-k of a result document
 * @param original `[10]` result documents before steering; `steered` after
 */
export function activationJudge<T>(original: readonly T[], steered: readonly T[], candidates: readonly number[], fires: (doc: T, feature: number) => boolean): Verdict {
  const share = (docs: readonly T[], f: number): number => (docs.length === 0 ? 0 : docs.filter((d) => fires(d, f)).length / docs.length);
  return argmaxMin(candidates.map((f) => share(steered, f) - share(original, f)));
}

/** The terms of a label (unigrams and bigrams of content words; a baseline label's ", " parts included). */
export function labelTerms(label: string): string[] {
  return [...termSet(label, { bigrams: true })];
}

/**
 * Text judge: for each candidate, the mean over result documents of the share of the candidate's label
 * terms the document contains; the change from the original to the steered list decides.
 * @param termsOf the distinct terms of a result document's text
 * @param candidateTerms `[C]` each candidate's label terms
 */
export function textJudge<T>(original: readonly T[], steered: readonly T[], candidateTerms: ReadonlyArray<readonly string[]>, termsOf: (doc: T) => ReadonlySet<string>): Verdict {
  const score = (docs: readonly T[], terms: readonly string[]): number => {
    if (docs.length === 0 || terms.length === 0) return 0;
    let s = 0;
    for (const d of docs) {
      const have = termsOf(d);
      s += terms.filter((t) => have.has(t)).length / terms.length;
    }
    return s / docs.length;
  };
  return argmaxMin(candidateTerms.map((t) => score(steered, t) - score(original, t)));
}
