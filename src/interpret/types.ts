/**
 * The interpretation stage's shared vocabulary (METHOD.md §4): the LLM client seam, one feature's examples,
 * and the scorer seam that both the LLM interpreter/predictor pair and the offline baseline implement.
 *
 * Layers of the LLM path, each one small: `OpenAiLlmClient` (HTTP through the `openai` package, timeouts,
 * retries honouring Retry-After, bounded concurrency) → `CachedLlmClient` (persistent request cache: a
 * rerun pays nothing twice) → `BudgetedLlmClient` (token and cost accounting per role, budget cap) →
 * `LlmScorer` (prompts, reply parsing). The labeller drives any `FeatureScorer` and scores the predictions.
 */

/** Which of the paper's two LLM roles a request serves (METHOD.md §4). */
export type LlmRole = "interpreter" | "predictor";

/** One chat message in the OpenAI wire format. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** One chat-completion request: everything that determines the reply (and so the cache key). */
export interface LlmRequest {
  /** Role, for cost accounting per role (not sent on the wire, not part of the cache key). */
  role: LlmRole;
  /** Model name, e.g. "gpt-4o". */
  model: string;
  messages: ChatMessage[];
  /** Sampling temperature (the paper: 0). */
  temperature: number;
  /** Upper bound on completion tokens. */
  maxTokens: number;
}

/** Token usage of one reply, as the server reported it. */
export interface LlmUsage {
  promptTokens: number;
  completionTokens: number;
}

/** One chat-completion reply. */
export interface LlmResponse {
  /** The assistant message's text (never empty: an empty reply is an error the client retries). */
  content: string;
  usage: LlmUsage;
  /** The model the server says answered. */
  model: string;
  /** True when served from the request cache (no call made, nothing paid). */
  cached: boolean;
  /** Which endpoint answered (the answering client's id, e.g. "openai:http://127.0.0.1:1234/v1"), when known. */
  endpoint?: string;
}

/** The LLM client seam: anything that answers chat requests. */
export interface LlmClient {
  /** Short description for logs, e.g. "openai:http://127.0.0.1:1234/v1". */
  readonly id: string;
  /**
   * Answer one request.
   * @throws SaerchError with a clear message when the request cannot be answered (after retries)
   */
  complete(req: LlmRequest, signal?: AbortSignal): Promise<LlmResponse>;
  /** Release resources (files, sockets); safe to call twice. */
  close(): Promise<void>;
}

/** One example document of a feature. */
export interface ExampleDoc {
  /** Row in the embedding store. */
  row: number;
  /** Document id (arXiv id). */
  id: string;
  /** title + "\n\n" + abstract. */
  text: string;
  /** The feature's activation on the document (0 for zero-activating documents). */
  activation: number;
}

/**
 * What one feature is labelled and scored from: examples shown to the interpreter, and held-out examples
 * for the predictor that the interpreter never sees.
 */
export interface FeatureTask {
  /** Feature index in [0, F). */
  feature: number;
  /** Fraction of documents whose top-k holds the feature. */
  density: number;
  /** Top-activating documents shown to the interpreter, highest activation first (paper: 5). */
  top: ExampleDoc[];
  /** Zero-activating documents shown to the interpreter (paper: 5). */
  zero: ExampleDoc[];
  /** Held-out documents for the predictor: the held-out top ones first, then the held-out zero ones (paper: 3 + 3). */
  heldOut: ExampleDoc[];
  /** `[heldOut.length]` ground truth: 1 for a held-out top document, 0 for a held-out zero document. */
  truth: number[];
}

/** The interpreter's answer for one feature. */
export interface Interpretation {
  /** Short label (the paper: 1–8 words). */
  label: string;
  /** The interpreter's reasoning, kept for readers. */
  reasoning: string;
}

/** The predictor's answer for one held-out document. */
export interface Prediction {
  /** Confidence in [−1, 1] that the feature fires (positive = fires); 0 when the reply was unparseable. */
  value: number;
  /** False when the reply could not be parsed (the value is then 0, as in the paper). */
  parsed: boolean;
}

/** Which kind of scorer produced a label: the paper's LLM pair or the offline baseline. */
export type ScorerKind = "llm" | "baseline";

/**
 * The scorer seam: labels features and predicts held-out activations. Batch-shaped so the baseline can
 * embed many labels at once and the LLM scorer can keep its requests in flight. A per-feature failure is
 * returned as an `Error` in that feature's slot; an error that should stop the whole run (a budget cap)
 * is thrown.
 */
export interface FeatureScorer {
  readonly kind: ScorerKind;
  /** Model (or method) names per role, recorded in every label. */
  readonly models: { interpreter: string; predictor: string };
  /** The LLM endpoint the scorer asks (recorded in every label), absent for an offline scorer. */
  readonly endpoint?: string;
  /** Label each task from its shown examples (never from `heldOut`). */
  interpret(tasks: readonly FeatureTask[]): Promise<Array<Interpretation | Error>>;
  /** `[heldOut.length]` predictions for each (task, label) pair. */
  predict(items: ReadonlyArray<{ task: FeatureTask; label: string }>): Promise<Array<Prediction[] | Error>>;
  /** Release resources; safe to call twice. */
  close(): Promise<void>;
}

/** Outcome of one feature. */
export type LabelStatus =
  /** labelled and scored */
  | "labelled"
  /** fewer eligible activating (or zero-activating) documents than the examples need; not labelled */
  | "too-rare"
  /** the interpreter or predictor failed after retries (`error` says why); a rerun tries again */
  | "failed";

/** One line of `labels.jsonl`: a feature's label and its scores. */
export interface LabelRecord {
  feature: number;
  status: LabelStatus;
  /** The label (null unless labelled). */
  label: string | null;
  /** The interpreter's reasoning (null unless labelled). */
  reasoning: string | null;
  /** Pearson(truth, predictions); null when undefined (constant predictions, or not labelled). */
  pearson: number | null;
  /** F1 with prediction > 0 as positive; null when not labelled. */
  f1: number | null;
  /** Fraction of documents whose top-k holds the feature. */
  density: number;
  /** `[heldOut]` predictor outputs in [−1, 1] (empty unless labelled). */
  predictions: number[];
  /** `[heldOut]` ground truth (1 top, 0 zero). */
  truth: number[];
  /** Predictions whose reply could not be parsed (each counted as 0). */
  unparsed: number;
  /** Document ids of the examples: shown top, shown zero, held-out (top then zero). */
  examples: { top: string[]; zero: string[]; heldOut: string[] };
  /** Model (or method) per role. */
  models: { interpreter: string; predictor: string };
  /** "llm" (the paper's method) or "baseline" (offline, no LLM). */
  scorer: ScorerKind;
  /** The LLM endpoint that labelled it (e.g. "openai:https://api.openai.com/v1"); absent for the baseline. */
  endpoint?: string;
  /** Why the feature was not labelled (status too-rare or failed). */
  error?: string;
}
