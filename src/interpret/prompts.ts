/**
 * Prompts and reply parsers of the paper's two LLM roles (METHOD.md §4), as pure functions.
 *
 * Interpreter: shown a feature's top-activating abstracts (with activations) and zero-activating ones, it
 * lists candidate shared themes from broad to narrow, strikes those the zero examples also show, picks the
 * simplest survivor (Occam's razor) and ends with `LABEL: <1–8 words>`; its reasoning is kept.
 * Predictor: shown the label and one held-out abstract, it ends with `CONFIDENCE: <−1 … 1>`; an
 * unparseable reply counts as 0 (as in the paper) and is flagged.
 * The prompt text is our own wording of that structure.
 */
import { promptsHash } from "../io/identity.js";
import type { ChatMessage, FeatureTask, Interpretation, Prediction } from "./types.js";

/** The line that ends an interpreter reply: `LABEL: <label>`. */
export const INTERPRETER_MARKER = "LABEL:";
/** The line that ends a predictor reply: `CONFIDENCE: <number>`. */
export const PREDICTOR_MARKER = "CONFIDENCE:";
/** Decimals shown for each top example's activation. */
export const ACTIVATION_DECIMALS = 3;
/** Shortest label the interpreter is asked for, in words (the paper: 1). */
export const LABEL_MIN_WORDS = 1;
/** Longest label the interpreter is asked for, in words (the paper: 8). */
export const LABEL_MAX_WORDS = 8;
/** Lower end of the predictor's scale: the feature certainly does not fire. */
export const CONFIDENCE_MIN = -1;
/** Upper end of the predictor's scale: the feature certainly fires. */
export const CONFIDENCE_MAX = 1;
/** Characters of an unparseable reply quoted in error messages. */
export const REPLY_QUOTE_CHARS = 200;

/** The role sentence every prompt opens with. */
export const ROLE_INTRO = "You are a careful domain researcher who reads scientific abstracts.";

const INTERPRETER_SYSTEM =
  `${ROLE_INTRO} A text-embedding model has been decomposed into sparse features: each feature is a ` +
  "direction in the embedding space that responds strongly to some documents and not at all to others. " +
  "Your task is to work out what one such feature responds to and to name it with a short label.";

const PREDICTOR_SYSTEM =
  `${ROLE_INTRO} A sparse feature of a text-embedding model has been given a short label that describes ` +
  "what it responds to. Your task is to judge, from the label alone, whether the feature responds to a " +
  "given abstract.";

/** One example block: a header line, then the document text between triple quotes. */
export function exampleBlock(header: string, text: string): string {
  return `${header}\n"""\n${text.trim()}\n"""`;
}

/**
 * The interpreter's messages for one feature: a system message setting the role, and a user message with
 * the top-activating examples (numbered, each with its activation to `ACTIVATION_DECIMALS` places), the
 * zero-activating examples (when any are shown) and the answering steps ending in the `LABEL:` line.
 * Only `top` and `zero` are read, so held-out documents cannot leak into the prompt.
 */
export function buildInterpreterMessages(task: Pick<FeatureTask, "top" | "zero">): ChatMessage[] {
  const hasZero = task.zero.length > 0;
  const parts: string[] = [];
  parts.push(
    hasZero
      ? "Below are abstracts on which the feature is active, each with its activation (higher means a " +
          "stronger response), followed by abstracts on which the feature is not active at all."
      : "Below are abstracts on which the feature is active, each with its activation (higher means a " +
          "stronger response). No abstracts without the feature are shown this time.",
  );
  parts.push("## Abstracts where the feature is active");
  task.top.forEach((doc, i) => {
    parts.push(exampleBlock(`Active abstract ${i + 1} (activation ${doc.activation.toFixed(ACTIVATION_DECIMALS)}):`, doc.text));
  });
  if (hasZero) {
    parts.push("## Abstracts where the feature is not active");
    task.zero.forEach((doc, i) => {
      parts.push(exampleBlock(`Inactive abstract ${i + 1}:`, doc.text));
    });
  }
  const steps = [
    "1. List candidate themes that the active abstracts share: subjects, methods, objects of study. " +
      "Go from broad to narrow, over several levels of granularity, and give more weight to abstracts " +
      "with higher activations.",
    hasZero
      ? "2. Strike out every candidate that also describes any of the inactive abstracts."
      : "2. Strike out every candidate so general that it would fit most scientific abstracts.",
    hasZero
      ? "3. Apply Occam's razor to what remains: choose the simplest label that explains the active " +
          "abstracts and none of the inactive ones."
      : "3. Apply Occam's razor to what remains: choose the simplest label that explains the active abstracts.",
    "4. Finish with one line in exactly this form, with nothing after it:\n" +
      `${INTERPRETER_MARKER} <label of ${LABEL_MIN_WORDS} to ${LABEL_MAX_WORDS} words>`,
  ];
  parts.push(`## How to answer\n\n${steps.join("\n")}`);
  return [
    { role: "system", content: INTERPRETER_SYSTEM },
    { role: "user", content: parts.join("\n\n") },
  ];
}

/**
 * The predictor's messages for one (label, held-out document) pair: a system message setting the role,
 * and a user message with the label, the document and the scale, ending in the `CONFIDENCE:` line.
 */
export function buildPredictorMessages(label: string, text: string): ChatMessage[] {
  return predictorMessages(PREDICTOR_SYSTEM, "Feature label", label, text);
}

/**
 * Predictor messages with a given system message and label header: shared by the feature predictor and the
 * family predictor (src/families/prompts.ts), which differ only in those two.
 */
export function predictorMessages(system: string, labelHeader: string, label: string, text: string): ChatMessage[] {
  const user = [
    `${labelHeader}: ${label.trim()}`,
    exampleBlock("Abstract:", text),
    "How likely is the feature to be active on this abstract? Answer on a scale where " +
      `${CONFIDENCE_MIN} means it is certainly not active, 0 means you cannot tell, and ${CONFIDENCE_MAX} ` +
      "means it is certainly active; values in between express degrees of belief.",
    "Reason briefly, then finish with one line in exactly this form, with nothing after it:\n" +
      `${PREDICTOR_MARKER} <number from ${CONFIDENCE_MIN} to ${CONFIDENCE_MAX}>`,
  ].join("\n\n");
  return [
    { role: "system", content: system },
    { role: "user", content: user },
  ];
}

/** Where a marker sits in a reply: the reasoning ends at `start`, the answer begins at `end`. */
interface MarkerHit {
  start: number;
  end: number;
}

/** Escape a string for use inside a RegExp. */
function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The last occurrence of a marker word in a reply. Recognised: at the start of a line behind markdown
 * (`### `, `> `, `- `, `**`, `_`, backticks), in any casing, optionally prefixed by "final" and followed
 * by `suffixes`, with markdown allowed before the colon (`**Label**:`); or anywhere in a line when written
 * exactly as the marker (`… so LABEL: x`).
 */
function findLastMarker(reply: string, marker: string, suffixes: readonly string[]): MarkerHit | undefined {
  const word = escapeRegExp(marker.replace(/:$/, ""));
  const suffix = suffixes.length > 0 ? `(?:[ \\t]+(?:${suffixes.map(escapeRegExp).join("|")}))?` : "";
  const lineStart = new RegExp(`^[ \\t>#*_\`-]*(?:final[ \\t]+)?${word}${suffix}[ \\t*_\`]*:`, "gim");
  const inline = new RegExp(`\\b${escapeRegExp(marker)}`, "g");
  let best: MarkerHit | undefined;
  for (const re of [lineStart, inline]) {
    for (const m of reply.matchAll(re)) {
      const start = m.index!; // always set on matchAll results
      const hit = { start, end: start + m[0].length };
      if (!best || hit.end > best.end || (hit.end === best.end && hit.start < best.start)) best = hit;
    }
  }
  return best;
}

/** The answer after a marker: the rest of its line, or the next non-blank line when that is empty. */
function answerAfter(reply: string, end: number): string {
  const lines = reply.slice(end).split(/\r?\n/);
  const first = lines[0] ?? "";
  if (stripDecoration(first) !== "") return first;
  return lines.slice(1).find((l) => stripDecoration(l) !== "") ?? "";
}

/** Matching wrappers stripped from both ends of an answer. */
const WRAPPER_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['"', '"'],
  ["'", "'"],
  ["\u201c", "\u201d"],
  ["\u2018", "\u2019"],
  ["<", ">"],
  ["[", "]"],
];

/**
 * Strip markdown emphasis, code ticks, matching quotes or angle brackets, surrounding whitespace and
 * trailing sentence punctuation from both ends, repeatedly, and collapse inner whitespace.
 */
function stripDecoration(raw: string): string {
  let s = raw.replace(/\s+/g, " ").trim();
  for (;;) {
    let next = s
      .replace(/^[*_`\s]+/, "")
      .replace(/[*_`\s]+$/, "")
      .replace(/[.;,\s]+$/, "");
    for (const [open, close] of WRAPPER_PAIRS) {
      if (next.length >= 2 && next.startsWith(open) && next.endsWith(close)) next = next.slice(open.length, -close.length);
    }
    if (next === s) return s;
    s = next;
  }
}

/**
 * Read the interpreter's reply: the label after the last `LABEL:` marker (tolerant of markdown such as
 * `**Label:**` or `### LABEL:`, of casing, of quotes, backticks and a trailing period around the label,
 * and of extra text on later lines); the reasoning is the text before the marker, trimmed.
 * @returns undefined when the reply has no marker or the label is empty
 */
export function parseInterpretation(reply: string): Interpretation | undefined {
  return parseMarkedLabel(reply, INTERPRETER_MARKER);
}

/**
 * Read a label after the last `marker` (e.g. `LABEL:` or the family labeller's `FINAL:`), with the same
 * tolerance as `parseInterpretation`; the reasoning is the text before the marker.
 * @returns undefined when the reply has no marker or the label is empty
 */
export function parseMarkedLabel(reply: string, marker: string): Interpretation | undefined {
  const hit = findLastMarker(reply, marker, []);
  if (!hit) return undefined;
  const label = stripDecoration(answerAfter(reply, hit.end));
  if (label === "") return undefined;
  return { label, reasoning: reply.slice(0, hit.start).trim() };
}

/** A decimal number: optional sign (ASCII, Unicode minus or en dash), digits and/or a fraction, exponent. */
const NUMBER_SOURCE = "([+\\-\u2212\u2013]?)((?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?)";
const LEADING_NUMBER = new RegExp(`^${NUMBER_SOURCE}`);
const WHOLE_NUMBER = new RegExp(`^${NUMBER_SOURCE}$`);

/** The number a regex match describes, or undefined when it is not finite. */
function numberOf(m: RegExpExecArray | null): number | undefined {
  if (!m) return undefined;
  const magnitude = Number(m[2]);
  if (!Number.isFinite(magnitude)) return undefined;
  return m[1] === "" || m[1] === "+" ? magnitude : -magnitude;
}

/** Clamp to the predictor's scale, normalising −0 to 0. */
function clampConfidence(x: number): number {
  return Math.min(CONFIDENCE_MAX, Math.max(CONFIDENCE_MIN, x)) + 0;
}

/**
 * Read the predictor's reply: the number after the last `CONFIDENCE:` marker (tolerant of markdown and
 * casing; "+0.8", ".5", "-1", "1.0." all read), or the whole reply when it is just a number; clamped to
 * [−1, 1]. Anything else gives `{ value: 0, parsed: false }`: the paper counts it as 0, we also flag it.
 */
export function parsePrediction(reply: string): Prediction {
  const hit = findLastMarker(reply, PREDICTOR_MARKER, ["score", "level"]);
  const value = hit
    ? numberOf(LEADING_NUMBER.exec(stripDecoration(answerAfter(reply, hit.end))))
    : numberOf(WHOLE_NUMBER.exec(stripDecoration(reply)));
  return value === undefined ? { value: 0, parsed: false } : { value: clampConfidence(value), parsed: true };
}

/** A probe example for hashing the templates (the text is arbitrary; only the rendering matters). */
function probeDoc(i: number, activation: number): FeatureTask["top"][number] {
  return { row: i, id: `probe-${i}`, text: `Probe title ${i}\n\nProbe abstract ${i}.`, activation };
}

/**
 * Hash of the interpreter's and the predictor's prompt templates, rendered on fixed probe inputs (with and
 * without zero-activating examples). Any change of their wording, order, markers or number formats
 * changes it, and with it the interpretation run id.
 * @param builders the builders to hash (default this module's; the stage passes the ones it sends)
 */
export function interpretPromptsHash(
  builders: { interpreter: typeof buildInterpreterMessages; predictor: typeof buildPredictorMessages } = { interpreter: buildInterpreterMessages, predictor: buildPredictorMessages },
): string {
  const top = [probeDoc(0, 1.23456), probeDoc(1, 0.5)];
  const zero = [probeDoc(2, 0)];
  return promptsHash([
    builders.interpreter({ top, zero }),
    builders.interpreter({ top, zero: [] }),
    builders.predictor("probe label", probeDoc(3, 0).text),
    { markers: [INTERPRETER_MARKER, PREDICTOR_MARKER], words: [LABEL_MIN_WORDS, LABEL_MAX_WORDS], confidence: [CONFIDENCE_MIN, CONFIDENCE_MAX] },
  ]);
}
