/**
 * Tests for the interpreter and predictor prompts (exact strings for a hand-made task, as
 * openai/automated-interpretability tests its prompt builder) and for the reply parsers (markdown,
 * casing, extra text, several markers, missing marker, empty label, number forms, clamping, garbage).
 */
import { describe, expect, it } from "vitest";
import {
  buildInterpreterMessages,
  buildPredictorMessages,
  INTERPRETER_MARKER,
  parseInterpretation,
  parsePrediction,
  PREDICTOR_MARKER,
} from "../../src/interpret/prompts.js";
import type { ExampleDoc } from "../../src/interpret/types.js";

function doc(id: string, text: string, activation: number): ExampleDoc {
  return { row: 0, id, text, activation };
}

const TOP = [
  doc("a1", "Cold dark matter halos\n\nWe simulate halo density profiles.", 4.21349),
  doc("a2", "Subhalo abundance\n\nCounting subhalos in N-body runs.", 2.5),
];
const ZERO = [doc("z1", "Graph neural networks\n\nMessage passing on molecules.", 0)];

const INTERPRETER_SYSTEM =
  "You are a careful domain researcher who reads scientific abstracts. A text-embedding model has been decomposed into sparse features: each feature is a direction in the embedding space that responds strongly to some documents and not at all to others. Your task is to work out what one such feature responds to and to name it with a short label.";

describe("buildInterpreterMessages", () => {
  it("builds the exact prompt: numbered top examples with 3-decimal activations, then zero examples, then the steps", () => {
    const messages = buildInterpreterMessages({ top: TOP, zero: ZERO });
    expect(messages).toEqual([
      { role: "system", content: INTERPRETER_SYSTEM },
      {
        role: "user",
        content: `Below are abstracts on which the feature is active, each with its activation (higher means a stronger response), followed by abstracts on which the feature is not active at all.

## Abstracts where the feature is active

Active abstract 1 (activation 4.213):
"""
Cold dark matter halos

We simulate halo density profiles.
"""

Active abstract 2 (activation 2.500):
"""
Subhalo abundance

Counting subhalos in N-body runs.
"""

## Abstracts where the feature is not active

Inactive abstract 1:
"""
Graph neural networks

Message passing on molecules.
"""

## How to answer

1. List candidate themes that the active abstracts share: subjects, methods, objects of study. Go from broad to narrow, over several levels of granularity, and give more weight to abstracts with higher activations.
2. Strike out every candidate that also describes any of the inactive abstracts.
3. Apply Occam's razor to what remains: choose the simplest label that explains the active abstracts and none of the inactive ones.
4. Finish with one line in exactly this form, with nothing after it:
LABEL: <label of 1 to 8 words>`,
      },
    ]);
  });

  it("drops the zero section and adapts the steps when no zero-activating examples are shown", () => {
    const messages = buildInterpreterMessages({ top: [TOP[0]!], zero: [] });
    expect(messages[0]).toEqual({ role: "system", content: INTERPRETER_SYSTEM });
    expect(messages[1]).toEqual({
      role: "user",
      content: `Below are abstracts on which the feature is active, each with its activation (higher means a stronger response). No abstracts without the feature are shown this time.

## Abstracts where the feature is active

Active abstract 1 (activation 4.213):
"""
Cold dark matter halos

We simulate halo density profiles.
"""

## How to answer

1. List candidate themes that the active abstracts share: subjects, methods, objects of study. Go from broad to narrow, over several levels of granularity, and give more weight to abstracts with higher activations.
2. Strike out every candidate so general that it would fit most scientific abstracts.
3. Apply Occam's razor to what remains: choose the simplest label that explains the active abstracts.
4. Finish with one line in exactly this form, with nothing after it:
LABEL: <label of 1 to 8 words>`,
    });
  });

  it("reads only top and zero: held-out documents of a full task never reach the prompt", () => {
    const task = { feature: 7, density: 0.01, top: TOP, zero: ZERO, heldOut: [doc("h1", "SECRET held-out text", 3)], truth: [1] };
    const all = buildInterpreterMessages(task).map((m) => m.content).join("\n");
    expect(all).not.toContain("SECRET");
  });
});

describe("buildPredictorMessages", () => {
  it("builds the exact prompt for one label and one abstract", () => {
    expect(buildPredictorMessages("Dark matter halos", "Cold dark matter halos\n\nWe simulate halo density profiles.\n")).toEqual([
      {
        role: "system",
        content:
          "You are a careful domain researcher who reads scientific abstracts. A sparse feature of a text-embedding model has been given a short label that describes what it responds to. Your task is to judge, from the label alone, whether the feature responds to a given abstract.",
      },
      {
        role: "user",
        content: `Feature label: Dark matter halos

Abstract:
"""
Cold dark matter halos

We simulate halo density profiles.
"""

How likely is the feature to be active on this abstract? Answer on a scale where -1 means it is certainly not active, 0 means you cannot tell, and 1 means it is certainly active; values in between express degrees of belief.

Reason briefly, then finish with one line in exactly this form, with nothing after it:
CONFIDENCE: <number from -1 to 1>`,
      },
    ]);
  });
});

describe("parseInterpretation", () => {
  it("reads the plain form: label after the marker, reasoning before it", () => {
    expect(INTERPRETER_MARKER).toBe("LABEL:");
    expect(parseInterpretation("Candidates: halos, dark matter.\nNone in the zero set.\nLABEL: Dark matter halos")).toEqual({
      label: "Dark matter halos",
      reasoning: "Candidates: halos, dark matter.\nNone in the zero set.",
    });
    expect(parseInterpretation("LABEL: Dark matter halos")).toEqual({ label: "Dark matter halos", reasoning: "" });
  });

  it("tolerates markdown, casing, quotes, backticks and a trailing period", () => {
    const cases: Array<[string, string]> = [
      ["why\n**Label:** Dark matter halos", "Dark matter halos"],
      ["why\n**LABEL**: Dark matter halos", "Dark matter halos"],
      ["why\n### LABEL: Dark matter halos", "Dark matter halos"],
      ["why\nlabel: dark matter halos", "dark matter halos"],
      ["why\n- Label: Dark matter halos", "Dark matter halos"],
      ["why\n> Final label: Dark matter halos", "Dark matter halos"],
      ['why\nLABEL: "Dark matter halos".', "Dark matter halos"],
      ["why\nLABEL: `Dark matter halos`", "Dark matter halos"],
      ["why\nLABEL: **“Dark matter halos”**", "Dark matter halos"],
      ["why\nLABEL: <Dark matter halos>", "Dark matter halos"],
      ["why\nLABEL: _Active galactic nuclei (AGN)_.", "Active galactic nuclei (AGN)"],
      ["why\n**Label:**\n\nDark matter halos\n", "Dark matter halos"],
      ["why, so the answer is LABEL: Dark matter halos", "Dark matter halos"],
    ];
    for (const [reply, label] of cases) {
      expect(parseInterpretation(reply)?.label, reply).toBe(label);
      expect(parseInterpretation(reply)?.reasoning, reply).toMatch(/^why/);
    }
  });

  it("ignores extra text on later lines", () => {
    expect(parseInterpretation("why\nLABEL: Exoplanet atmospheres\n\nThis label covers all five.")).toEqual({
      label: "Exoplanet atmospheres",
      reasoning: "why",
    });
  });

  it("takes the last of several markers; earlier ones stay in the reasoning", () => {
    const reply = "First guess LABEL: Galaxies\nToo broad: the zero set has galaxies too.\n**Label:** Galaxy cluster lensing";
    expect(parseInterpretation(reply)).toEqual({
      label: "Galaxy cluster lensing",
      reasoning: "First guess LABEL: Galaxies\nToo broad: the zero set has galaxies too.",
    });
  });

  it("does not mistake words that start with 'label' for the marker", () => {
    expect(parseInterpretation("Label noise: a candidate.\nLabel smoothing: another.")).toBeUndefined();
    expect(parseInterpretation("Candidates:\n- Label noise: robust losses\nLABEL: Learning with noisy labels")?.label).toBe(
      "Learning with noisy labels",
    );
  });

  it("returns undefined without a marker or with an empty label", () => {
    expect(parseInterpretation("The feature is about dark matter halos.")).toBeUndefined();
    expect(parseInterpretation("")).toBeUndefined();
    expect(parseInterpretation("why\nLABEL:")).toBeUndefined();
    expect(parseInterpretation("why\nLABEL: **\n\n")).toBeUndefined();
    expect(parseInterpretation('why\nLABEL: "".')).toBeUndefined();
  });
});

describe("parsePrediction", () => {
  it("reads the number after the marker in several forms", () => {
    expect(PREDICTOR_MARKER).toBe("CONFIDENCE:");
    const cases: Array<[string, number]> = [
      ["On topic.\nCONFIDENCE: 0.8", 0.8],
      ["CONFIDENCE: +0.8", 0.8],
      ["CONFIDENCE: .5", 0.5],
      ["CONFIDENCE: -1", -1],
      ["CONFIDENCE: 1.0.", 1],
      ["CONFIDENCE: \u22120.25", -0.25],
      ["CONFIDENCE: 0", 0],
      ["CONFIDENCE: -0", 0],
      ["**Confidence:** 0.6", 0.6],
      ["### confidence: -0.4", -0.4],
      ["**CONFIDENCE**: `0.3`", 0.3],
      ["Confidence score: 0.7", 0.7],
      ["CONFIDENCE: 0.9 (the abstract is about halos)", 0.9],
      ["CONFIDENCE:\n0.2", 0.2],
      ["I would say CONFIDENCE: 0.35", 0.35],
    ];
    for (const [reply, value] of cases) {
      const p = parsePrediction(reply);
      expect(p.parsed, reply).toBe(true);
      expect(Object.is(p.value, value), `${reply} → ${p.value}`).toBe(true);
    }
  });

  it("takes the last marker", () => {
    expect(parsePrediction("CONFIDENCE: 0.9\nOn reflection the zero set overlaps.\nCONFIDENCE: -0.2")).toEqual({ value: -0.2, parsed: true });
  });

  it("clamps out-of-range values to [-1, 1]", () => {
    expect(parsePrediction("CONFIDENCE: 1.7")).toEqual({ value: 1, parsed: true });
    expect(parsePrediction("CONFIDENCE: -3")).toEqual({ value: -1, parsed: true });
    expect(parsePrediction("CONFIDENCE: 80")).toEqual({ value: 1, parsed: true });
  });

  it("accepts a reply that is just a number", () => {
    expect(parsePrediction("0.75")).toEqual({ value: 0.75, parsed: true });
    expect(parsePrediction("  -0.5.\n")).toEqual({ value: -0.5, parsed: true });
    expect(parsePrediction("**1**")).toEqual({ value: 1, parsed: true });
  });

  it("flags garbage as unparsed with value 0", () => {
    const unparsed = { value: 0, parsed: false };
    expect(parsePrediction("")).toEqual(unparsed);
    expect(parsePrediction("Probably yes.")).toEqual(unparsed);
    expect(parsePrediction("I think 0.7 or so")).toEqual(unparsed);
    expect(parsePrediction("CONFIDENCE: high")).toEqual(unparsed);
    expect(parsePrediction("CONFIDENCE:")).toEqual(unparsed);
    expect(parsePrediction("CONFIDENCE: 0.8\nCONFIDENCE: unsure")).toEqual(unparsed);
    expect(parsePrediction("My confidence is low: 0.1")).toEqual(unparsed);
    expect(parsePrediction("CONFIDENCE: 1e999")).toEqual(unparsed);
  });
});
