/** A labelled feature's record for tests: a well-scored LLM label unless `over` says otherwise. */
import type { LabelRecord } from "../../src/interpret/types.js";

/** A `labels.jsonl` record of feature `feature` with every field set (override any with `over`). */
export function labelRecord(feature: number, over: Partial<LabelRecord> = {}): LabelRecord {
  return {
    feature,
    status: "labelled",
    label: "Label",
    reasoning: "…",
    pearson: 0.9,
    f1: 0.9,
    density: 0.01,
    predictions: [0.9, 0.8, 0.7, -0.5, -0.6, -0.7],
    truth: [1, 1, 1, 0, 0, 0],
    unparsed: 0,
    examples: { top: [], zero: [], heldOut: [] },
    models: { interpreter: "gpt-4o", predictor: "gpt-4o-mini" },
    scorer: "llm",
    ...over,
  };
}
