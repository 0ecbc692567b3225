/**
 * Prompts of the family labeller and the family predictor (METHOD.md §5), as pure functions.
 *
 * Labeller: shown the parent feature's label and its children's labels, it names the one concept that
 * unites them in 2–8 words, without a domain suffix, after a `FINAL:` marker; an unparseable reply falls
 * back to the parent's label (flagged). Predictor: the feature predictor's prompt (stage 4) with a system
 * message saying that the label names a family of related topics, so "the feature" is the family, active
 * when any of its members fires. The wording is our own.
 */
import { parseMarkedLabel, predictorMessages, ROLE_INTRO } from "../interpret/prompts.js";
import type { ChatMessage, Interpretation } from "../interpret/types.js";
import { promptsHash } from "../io/identity.js";

/** The line that ends a family-label reply: `FINAL: <concept>`. */
export const FAMILY_MARKER = "FINAL:";
/** Shortest family label asked for, in words (the paper: 2). */
export const FAMILY_LABEL_MIN_WORDS = 2;
/** Longest family label asked for, in words (the paper: 8). */
export const FAMILY_LABEL_MAX_WORDS = 8;
/** Shown in place of a member's label when the member has none. */
export const UNLABELLED = "(no label)";

const LABELLER_SYSTEM =
  `${ROLE_INTRO} A text-embedding model has been decomposed into sparse features, each labelled with what it ` +
  "responds to. Features that fire together form families: a broad parent feature and narrower child features " +
  "that mostly fire where the parent fires. Your task is to name the concept a whole family stands for.";

const FAMILY_PREDICTOR_SYSTEM =
  `${ROLE_INTRO} A family of related sparse features of a text-embedding model has been given a short label ` +
  "that names the family of topics it responds to; here the family is treated as one feature, active on an " +
  "abstract when any of its members fires. Your task is to judge, from the label alone, whether the family " +
  "responds to a given abstract.";

/**
 * The family labeller's messages: the parent's label, the children's labels (one a line, in the order
 * given), and the answering steps ending in the `FINAL:` line.
 * @param childLabels `[C]` the members' labels (null for an unlabelled member)
 */
export function buildFamilyLabelMessages(parentLabel: string | null, childLabels: ReadonlyArray<string | null>): ChatMessage[] {
  const user = [
    `Parent feature: ${parentLabel?.trim() || UNLABELLED}`,
    `Child features (${childLabels.length}):\n${childLabels.map((l) => `- ${l?.trim() || UNLABELLED}`).join("\n")}`,
    "Name the single concept that the parent and its children share: broad enough to cover the children, " +
      "specific enough to tell this family from others. Do not add a field or domain suffix such as " +
      '"in astronomy" or "in machine learning".',
    "Reason briefly, then finish with one line in exactly this form, with nothing after it:\n" +
      `${FAMILY_MARKER} <concept of ${FAMILY_LABEL_MIN_WORDS} to ${FAMILY_LABEL_MAX_WORDS} words>`,
  ].join("\n\n");
  return [
    { role: "system", content: LABELLER_SYSTEM },
    { role: "user", content: user },
  ];
}

/** Read a family-label reply: the concept after the last `FINAL:` marker, or undefined. */
export function parseFamilyLabel(reply: string): Interpretation | undefined {
  return parseMarkedLabel(reply, FAMILY_MARKER);
}

/** The family predictor's messages for one (family label, held-out document) pair. */
export function buildFamilyPredictorMessages(label: string, text: string): ChatMessage[] {
  return predictorMessages(FAMILY_PREDICTOR_SYSTEM, "Feature family label", label, text);
}

/**
 * Hash of the family labeller's and predictor's prompt templates, rendered on fixed probe inputs; any
 * change of them changes the families run id.
 * @param builders the builders to hash (default this module's; the stage passes the ones it sends)
 */
export function familiesPromptsHash(
  builders: { label: typeof buildFamilyLabelMessages; predictor: typeof buildFamilyPredictorMessages } = { label: buildFamilyLabelMessages, predictor: buildFamilyPredictorMessages },
): string {
  return promptsHash([
    builders.label("probe parent", ["probe child", null]),
    builders.label(null, ["probe child"]),
    builders.predictor("probe family", "Probe title\n\nProbe abstract."),
    { marker: FAMILY_MARKER, words: [FAMILY_LABEL_MIN_WORDS, FAMILY_LABEL_MAX_WORDS], unlabelled: UNLABELLED },
  ]);
}
