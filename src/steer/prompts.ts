/**
 * Prompts of the steering evaluation's two LLM roles (METHOD.md §7), as pure functions, our own wording of
 * the paper's structure:
 * - the **rewriter** (the baseline): shown a search query, a topic to de-emphasise and a topic to add, it
 *   rewrites the query, ending with `QUERY: <rewritten query>`;
 * - the **judge**: shown the original and the new top-10 result lists (never the query) and five numbered
 *   candidate topics, it names the topic that was added and the one that was removed, ending with
 *   `FINAL: <added #>, <removed #>`.
 */
import { parseMarkedLabel, ROLE_INTRO } from "../interpret/prompts.js";
import type { ChatMessage, LlmRequest } from "../interpret/types.js";
import { promptsHash } from "../io/identity.js";

/** The line that ends a rewriter reply. */
export const REWRITE_MARKER = "QUERY:";
/** The line that ends a judge reply. */
export const JUDGE_MARKER = "FINAL:";
/** Heading of the judge's candidate list (the number of candidates is read back from it). */
const CANDIDATES_HEADING = "## Candidate topics\n";

const REWRITER_SYSTEM = `${ROLE_INTRO} You help researchers steer a semantic search engine over paper abstracts by rewriting their queries.`;

const JUDGE_SYSTEM =
  `${ROLE_INTRO} A semantic search engine returned two lists of papers for the same hidden query: the original ` +
  "results and the results after the query was changed. Your task is to tell which topic was added to the " +
  "search and which was removed.";

/** The rewriter's messages: the query, the topic to de-emphasise and the topic to add. */
export function buildRewriteMessages(query: string, downTopic: string, upTopic: string): ChatMessage[] {
  const user = [
    `Search query: ${query.trim()}`,
    `Topic to de-emphasise: ${downTopic.trim()}`,
    `Topic to add: ${upTopic.trim()}`,
    "Rewrite the query so that the search returns fewer papers about the topic to de-emphasise and more " +
      "papers about the topic to add, keeping the rest of its meaning. Write it as a search query, not as " +
      "an instruction.",
    `Finish with one line in exactly this form, with nothing after it:\n${REWRITE_MARKER} <rewritten query>`,
  ].join("\n\n");
  return [
    { role: "system", content: REWRITER_SYSTEM },
    { role: "user", content: user },
  ];
}

/** The rewritten query after the last `QUERY:` marker, or undefined. */
export function parseRewrite(reply: string): string | undefined {
  return parseMarkedLabel(reply, REWRITE_MARKER)?.label;
}

/**
 * The judge's messages: both result lists (titles, numbered) and the candidate topics (numbered from 1).
 * The query is never shown.
 */
export function buildJudgeMessages(originalTitles: readonly string[], newTitles: readonly string[], topics: readonly string[]): ChatMessage[] {
  const list = (titles: readonly string[]): string => titles.map((t, i) => `${i + 1}. ${t.trim()}`).join("\n");
  const user = [
    `## Original results\n${list(originalTitles)}`,
    `## New results\n${list(newTitles)}`,
    `${CANDIDATES_HEADING}${topics.map((t, i) => `${i + 1}. ${t.trim()}`).join("\n")}`,
    "One candidate topic was added to the search and another was removed. Compare the two lists, decide " +
      "which topic the new results gained and which they lost, and answer with the candidate numbers.",
    `Reason briefly, then finish with one line in exactly this form, with nothing after it:\n${JUDGE_MARKER} <added number>, <removed number>`,
  ].join("\n\n");
  return [
    { role: "system", content: JUDGE_SYSTEM },
    { role: "user", content: user },
  ];
}

/**
 * The judge's answer as 0-based candidate indices, or undefined when the reply has no `FINAL:` line with
 * two numbers in [1, topics].
 */
export function parseJudge(reply: string, topics: number): { added: number; removed: number } | undefined {
  const answer = parseMarkedLabel(reply, JUDGE_MARKER)?.label;
  if (answer === undefined) return undefined;
  const m = /^#?\s*(\d+)\s*[,;/ ]\s*#?\s*(\d+)$/.exec(answer.trim());
  if (!m) return undefined;
  const added = Number(m[1]) - 1;
  const removed = Number(m[2]) - 1;
  if (added < 0 || removed < 0 || added >= topics || removed >= topics) return undefined;
  return { added, removed };
}

/**
 * Hash of the query rewriter's and the LLM judge's prompt templates, rendered on fixed probe inputs; any
 * change of them changes the steering run id.
 * @param builders the builders to hash (default this module's; the stage passes the ones it sends)
 */
export function steerPromptsHash(
  builders: { rewrite: typeof buildRewriteMessages; judge: typeof buildJudgeMessages } = { rewrite: buildRewriteMessages, judge: buildJudgeMessages },
): string {
  return promptsHash([
    builders.rewrite("probe query", "probe down", "probe up"),
    builders.judge(["Probe original"], ["Probe new"], ["probe topic a", "probe topic b"]),
    { markers: [REWRITE_MARKER, JUDGE_MARKER] },
  ]);
}


/**
 * Keep a steering reply in the request cache only when its parser accepts it (a rewrite with a `QUERY:`
 * line; a verdict with two candidate numbers in range), so an unreadable reply is asked again by the next
 * run instead of staying unreadable forever. Requests of other prompts are always kept.
 */
export function acceptSteerReply(req: LlmRequest, content: string): boolean {
  const system = req.messages[0]?.content;
  if (system === REWRITER_SYSTEM) return parseRewrite(content) !== undefined;
  if (system === JUDGE_SYSTEM) {
    const user = req.messages[1]?.content ?? "";
    const at = user.indexOf(CANDIDATES_HEADING);
    const topics = at < 0 ? 0 : user.slice(at + CANDIDATES_HEADING.length).split("\n\n")[0]!.split("\n").length;
    return parseJudge(content, topics) !== undefined;
  }
  return true;
}
