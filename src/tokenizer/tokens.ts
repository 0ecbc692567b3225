/**
 * Token counts for every model this project sends text to (METHOD.md §1: text-embedding-3-small reads at
 * most 8191 tokens per input, longer abstracts are truncated; §4: GPT-4o / GPT-4o-mini prompts are priced
 * per token). OpenAI models are counted exactly with their own BPE, offline, from the ranks bundled in
 * `js-tiktoken`: cl100k_base for text-embedding-3-*, text-embedding-ada-002, gpt-4 and gpt-3.5; o200k_base for
 * gpt-4o, gpt-4.1, gpt-4.5, gpt-5 and the o-series. Any other model (a local server's) gets one heuristic,
 * ceil(UTF-8 bytes / 4) — about characters / 4 on English prose, more per character for scripts that take
 * more bytes — and every count says whether it is exact.
 *
 * The ranks are parsed on first use of an encoding (≈ 1–4 s each) and kept for the process. Special-token
 * strings such as "<|endoftext|>" in a text are counted as the plain text they are.
 */
import { createRequire } from "node:module";
import { Tiktoken, type TiktokenBPE } from "js-tiktoken/lite";

/** The BPE encodings bundled for OpenAI models. */
export type TokenEncodingName = "cl100k_base" | "o200k_base";

/** How a count was made: an exact encoding, or the heuristic for a model whose tokenizer is unknown. */
export type TokenCounting = TokenEncodingName | "heuristic";

/** UTF-8 bytes per token assumed by the heuristic (≈ 4 characters per token on English prose). */
export const HEURISTIC_BYTES_PER_TOKEN = 4;

/**
 * Chat formatting overhead per message and for the primed reply (OpenAI cookbook, "How to count tokens
 * with tiktoken", `num_tokens_from_messages`, for gpt-3.5-turbo-0613 onwards, gpt-4 and gpt-4o).
 */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_REPLY = 3;

/** Model-name prefixes per encoding, checked in order (gpt-4o before gpt-4). */
const ENCODING_PREFIXES: readonly [RegExp, TokenEncodingName][] = [
  [/^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o1|o3|o4)(\b|-|$)/, "o200k_base"],
  [/^(text-embedding-3-|text-embedding-ada-002|gpt-4|gpt-3\.5|gpt-35)/, "cl100k_base"],
];

/** One count: the tokens, and how they were counted. */
export interface TokenCount {
  tokens: number;
  /** The encoding used, or "heuristic" for a model whose tokenizer is not known. */
  counting: TokenCounting;
  /** True when `tokens` is what the model's own tokenizer gives; false for the heuristic (approximate). */
  exact: boolean;
}

/** A text cut to a token limit. */
export interface TruncatedText extends TokenCount {
  /** The longest prefix found that fits (the text itself when it fits). */
  text: string;
  /** True when the text was cut. */
  truncated: boolean;
}

/**
 * The encoding of an OpenAI model, or undefined for any other model. A provider prefix ("openai/gpt-4o")
 * and letter case are ignored.
 */
export function encodingForModel(model: string): TokenEncodingName | undefined {
  const name = model.trim().toLowerCase().replace(/^openai\//, "");
  for (const [re, enc] of ENCODING_PREFIXES) if (re.test(name)) return enc;
  return undefined;
}

const requireRanks = createRequire(import.meta.url);
const encoders = new Map<TokenEncodingName, Tiktoken>();

/** The tokenizer of an encoding, parsed from the bundled ranks on first use. */
function encoder(name: TokenEncodingName): Tiktoken {
  let enc = encoders.get(name);
  if (enc === undefined) {
    const ranks = requireRanks(`js-tiktoken/ranks/${name}`) as TiktokenBPE | { default: TiktokenBPE };
    enc = new Tiktoken("default" in ranks ? ranks.default : ranks);
    encoders.set(name, enc);
  }
  return enc;
}

/** Token ids of `text` under an encoding, special-token strings encoded as plain text. */
export function encodeTokens(text: string, encoding: TokenEncodingName): number[] {
  return encoder(encoding).encode(text, [], []);
}

/** The heuristic count: ceil(UTF-8 bytes / 4). */
export function heuristicTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, "utf8") / HEURISTIC_BYTES_PER_TOKEN);
}

/** Tokens of `text` for `model`: exact for OpenAI models, the heuristic otherwise. */
export function countTokens(text: string, model: string): TokenCount {
  const enc = encodingForModel(model);
  if (enc === undefined) return { tokens: heuristicTokens(text), counting: "heuristic", exact: false };
  return { tokens: encodeTokens(text, enc).length, counting: enc, exact: true };
}

/**
 * Prompt tokens of a chat request for `model`: per message 3 + role + content tokens, plus 3 for the
 * primed reply (the cookbook's count, which matches the API's `prompt_tokens` for OpenAI chat models);
 * for other models the same sum with heuristic counts, marked approximate.
 */
export function countChatTokens(messages: readonly { role: string; content: string }[], model: string): TokenCount {
  const enc = encodingForModel(model);
  const count = enc === undefined ? heuristicTokens : (t: string): number => encodeTokens(t, enc).length;
  let tokens = TOKENS_PER_REPLY;
  for (const m of messages) tokens += TOKENS_PER_MESSAGE + count(m.role) + count(m.content);
  return enc === undefined ? { tokens, counting: "heuristic", exact: false } : { tokens, counting: enc, exact: true };
}

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes, cut on a code-point boundary. */
function prefixWithinBytes(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + len > maxBytes) break;
    bytes += len;
    end += ch.length;
  }
  return text.slice(0, end);
}

/**
 * Cut `text` to at most `maxTokens` tokens of `model` (METHOD.md §1: the embedding model's 8191). For an
 * OpenAI model the prefix is the decoded first `maxTokens` tokens, less any character split between two
 * tokens, and is checked by re-encoding; for other models the prefix of at most 4 · maxTokens UTF-8 bytes.
 * Never splits a surrogate pair.
 */
export function truncateToTokens(text: string, maxTokens: number, model: string): TruncatedText {
  const enc = encodingForModel(model);
  if (enc === undefined) {
    const tokens = heuristicTokens(text);
    if (tokens <= maxTokens) return { text, tokens, counting: "heuristic", exact: false, truncated: false };
    const cut = prefixWithinBytes(text, maxTokens * HEURISTIC_BYTES_PER_TOKEN);
    return { text: cut, tokens: heuristicTokens(cut), counting: "heuristic", exact: false, truncated: true };
  }
  const ids = encodeTokens(text, enc);
  if (ids.length <= maxTokens) return { text, tokens: ids.length, counting: enc, exact: true, truncated: false };
  let keep = maxTokens;
  for (;;) {
    let cut = encoder(enc).decode(ids.slice(0, keep));
    // A character whose bytes span the cut decodes to U+FFFD: drop it (and a lone high surrogate).
    while (cut.length > 0 && cut.endsWith("\uFFFD") && !text.startsWith(cut)) cut = cut.slice(0, -1);
    if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
    const tokens = encodeTokens(cut, enc).length;
    if (tokens <= maxTokens) return { text: cut, tokens, counting: enc, exact: true, truncated: true };
    keep -= tokens - maxTokens; // re-encoding the prefix merged differently: drop the excess and retry
  }
}
