/**
 * Tests for LlmScorer against a fake in-memory LlmClient that records requests and answers from a
 * function: roles, models, temperature and completion caps; held-out texts reach only the predictor;
 * per-feature errors; unparseable predictions; a budget stop rejecting the whole call after the other
 * requests settle; close.
 */
import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { LlmConfig } from "../../src/interpret/config.js";
import { BudgetExceededError } from "../../src/interpret/cost.js";
import { LlmScorer } from "../../src/interpret/llm-scorer.js";
import type { ExampleDoc, FeatureTask, LlmClient, LlmRequest, LlmResponse } from "../../src/interpret/types.js";

/**
 * Answers each request from `answer` (a string, or a thrown error) after `delayMs(req)` milliseconds (default: a
 * microtask); records every request and counts settled ones.
 */
class FakeClient implements LlmClient {
  readonly id = "fake";
  readonly requests: LlmRequest[] = [];
  settled = 0;
  closed = 0;

  constructor(
    private readonly answer: (req: LlmRequest) => string,
    private readonly delayMs: (req: LlmRequest) => number = () => 0,
  ) {}

  async complete(req: LlmRequest): Promise<LlmResponse> {
    this.requests.push(req);
    try {
      const ms = this.delayMs(req);
      await (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());
      const content = this.answer(req);
      return { content, usage: { promptTokens: 10, completionTokens: 5 }, model: req.model, cached: false };
    } finally {
      this.settled++;
    }
  }

  async close(): Promise<void> {
    this.closed++;
  }
}

const CFG = LlmConfig.parse({
  interpreterModel: "interp-model",
  predictorModel: "pred-model",
  temperature: 0.25,
  interpreterMaxTokens: 321,
  predictorMaxTokens: 45,
});

function doc(id: string, text: string, activation: number): ExampleDoc {
  return { row: 0, id, text, activation };
}

/** A task whose texts all carry the feature number, and whose held-out texts are marked HELDOUT. */
function task(feature: number): FeatureTask {
  return {
    feature,
    density: 0.01,
    top: [doc(`t${feature}a`, `topic-${feature} shown top A`, 3), doc(`t${feature}b`, `topic-${feature} shown top B`, 2)],
    zero: [doc(`z${feature}a`, `unrelated shown zero ${feature}`, 0)],
    heldOut: [
      doc(`h${feature}a`, `HELDOUT-${feature}-top-1`, 2.5),
      doc(`h${feature}b`, `HELDOUT-${feature}-top-2`, 1.5),
      doc(`h${feature}c`, `HELDOUT-${feature}-zero-1`, 0),
    ],
    truth: [1, 1, 0],
  };
}

/** The text of a request's last (user) message. */
function userText(req: LlmRequest): string {
  return req.messages[req.messages.length - 1]!.content;
}

/** Interpreter: labels "Topic N"; predictor: 0.9 on held-out top texts, -0.6 on zero ones. */
function wellBehaved(req: LlmRequest): string {
  const text = userText(req);
  if (req.role === "interpreter") {
    const feature = /topic-(\d+)/.exec(text)![1];
    return `All active abstracts share topic ${feature}.\nLABEL: Topic ${feature}`;
  }
  return /HELDOUT-\d+-top/.test(text) ? "Clearly on topic.\nCONFIDENCE: 0.9" : "Off topic.\nCONFIDENCE: -0.6";
}

/** The budget stop comes at once; every other request takes 20 ms, so an early rejection would leave them running. */
function slowUnlessBudget(req: LlmRequest): number {
  return /topic-2|HELDOUT-1-zero-1/.test(userText(req)) ? 0 : 20;
}

describe("LlmScorer", () => {
  it("reports its kind and the models per role", () => {
    const scorer = new LlmScorer(new FakeClient(wellBehaved), CFG);
    expect(scorer.kind).toBe("llm");
    expect(scorer.models).toEqual({ interpreter: "interp-model", predictor: "pred-model" });
  });

  it("interprets each task with one interpreter request (role, model, temperature, cap) and keeps the reasoning", async () => {
    const client = new FakeClient(wellBehaved);
    const scorer = new LlmScorer(client, CFG);
    const out = await scorer.interpret([task(1), task(2)]);
    expect(out).toEqual([
      { label: "Topic 1", reasoning: "All active abstracts share topic 1." },
      { label: "Topic 2", reasoning: "All active abstracts share topic 2." },
    ]);
    expect(client.requests).toHaveLength(2);
    for (const req of client.requests) {
      expect(req).toMatchObject({ role: "interpreter", model: "interp-model", temperature: 0.25, maxTokens: 321 });
      expect(req.messages.map((m) => m.role)).toEqual(["system", "user"]);
      expect(userText(req)).toContain("shown top A");
      expect(userText(req)).toContain("shown zero");
    }
  });

  it("sends held-out texts only to the predictor, one request per held-out document, predictions in heldOut order", async () => {
    const client = new FakeClient(wellBehaved);
    const scorer = new LlmScorer(client, CFG);
    const tasks = [task(1), task(2)];
    const interps = await scorer.interpret(tasks);
    const items = tasks.map((t, i) => ({ task: t, label: (interps[i] as { label: string }).label }));
    const preds = await scorer.predict(items);
    const expected = [
      { value: 0.9, parsed: true },
      { value: 0.9, parsed: true },
      { value: -0.6, parsed: true },
    ];
    expect(preds).toEqual([expected, expected]);

    const interpreterReqs = client.requests.filter((r) => r.role === "interpreter");
    const predictorReqs = client.requests.filter((r) => r.role === "predictor");
    expect(interpreterReqs).toHaveLength(2);
    expect(predictorReqs).toHaveLength(6);
    for (const req of interpreterReqs) {
      for (const m of req.messages) expect(m.content).not.toContain("HELDOUT");
    }
    for (const req of predictorReqs) {
      expect(req).toMatchObject({ model: "pred-model", temperature: 0.25, maxTokens: 45 });
      expect(userText(req)).toMatch(/HELDOUT-\d+-(top|zero)-\d/);
      expect(userText(req)).not.toContain("shown top");
    }
    // Each held-out document once, with its own feature's label.
    for (const t of tasks) {
      for (const h of t.heldOut) {
        const reqs = predictorReqs.filter((r) => userText(r).includes(h.text));
        expect(reqs).toHaveLength(1);
        expect(userText(reqs[0]!)).toContain(`Feature label: Topic ${t.feature}`);
      }
    }
  });

  it("returns an Error for a feature whose request fails or whose reply has no label, and labels the rest", async () => {
    const longReasoning = "I considered many things. ".repeat(20);
    const client = new FakeClient((req) => {
      const text = userText(req);
      if (text.includes("topic-2")) throw new SaerchError("server said 500 after 6 retries");
      if (text.includes("topic-3")) return `${longReasoning}The feature is about topic three.`;
      return wellBehaved(req);
    });
    const out = await new LlmScorer(client, CFG).interpret([task(1), task(2), task(3)]);
    expect(out[0]).toEqual({ label: "Topic 1", reasoning: "All active abstracts share topic 1." });
    expect(out[1]).toBeInstanceOf(SaerchError);
    expect((out[1] as Error).message).toContain("server said 500");
    expect(out[2]).toBeInstanceOf(SaerchError);
    const message = (out[2] as Error).message;
    const quoted = /^the interpreter's reply had no "LABEL:" line with a label: "(.*)"\n {2}fix: /s.exec(message)?.[1];
    // The reply's last 200 characters (whitespace collapsed), where the marker should have been, after "…".
    expect(quoted).toBe(`…${`${longReasoning}The feature is about topic three.`.slice(-200)}`);
  });

  it("returns an Error for an item if any of its predictor requests failed; other items are unaffected", async () => {
    const client = new FakeClient((req) => {
      if (userText(req).includes("HELDOUT-2-top-2")) throw new Error("connection reset");
      return wellBehaved(req);
    });
    const preds = await new LlmScorer(client, CFG).predict([
      { task: task(1), label: "Topic 1" },
      { task: task(2), label: "Topic 2" },
    ]);
    expect(preds[0]).toHaveLength(3);
    expect(preds[1]).toBeInstanceOf(Error);
    expect((preds[1] as Error).message).toBe("connection reset");
  });

  it("counts an unparseable prediction as 0 and flags it", async () => {
    const client = new FakeClient((req) => (userText(req).includes("HELDOUT-1-top-2") ? "Hard to say." : wellBehaved(req)));
    const preds = await new LlmScorer(client, CFG).predict([{ task: task(1), label: "Topic 1" }]);
    expect(preds).toEqual([
      [
        { value: 0.9, parsed: true },
        { value: 0, parsed: false },
        { value: -0.6, parsed: true },
      ],
    ]);
  });

  it("lets a BudgetExceededError reject interpret, after every other request has settled", async () => {
    const client = new FakeClient((req) => {
      if (userText(req).includes("topic-2")) throw new BudgetExceededError("budget of $0.01 reached");
      return wellBehaved(req);
    }, slowUnlessBudget);
    const scorer = new LlmScorer(client, CFG);
    await expect(scorer.interpret([task(1), task(2), task(3)])).rejects.toBeInstanceOf(BudgetExceededError);
    expect(client.requests).toHaveLength(3);
    expect(client.settled).toBe(3);
  });

  it("lets a BudgetExceededError reject predict, after every other request has settled", async () => {
    const client = new FakeClient((req) => {
      if (userText(req).includes("HELDOUT-1-zero-1")) throw new BudgetExceededError("budget of $0.01 reached");
      return wellBehaved(req);
    }, slowUnlessBudget);
    const scorer = new LlmScorer(client, CFG);
    const items = [1, 2].map((f) => ({ task: task(f), label: `Topic ${f}` }));
    await expect(scorer.predict(items)).rejects.toThrow(/budget of \$0\.01 reached/);
    expect(client.settled).toBe(6);
  });

  it("treats a client that throws synchronously like one that rejects", async () => {
    const client: LlmClient = {
      id: "sync-throw",
      complete: () => {
        throw new BudgetExceededError("budget reached");
      },
      close: async () => {},
    };
    await expect(new LlmScorer(client, CFG).interpret([task(1)])).rejects.toBeInstanceOf(BudgetExceededError);
  });

  it("handles empty batches and closes the client", async () => {
    const client = new FakeClient(wellBehaved);
    const scorer = new LlmScorer(client, CFG);
    expect(await scorer.interpret([])).toEqual([]);
    expect(await scorer.predict([])).toEqual([]);
    expect(client.requests).toHaveLength(0);
    await scorer.close();
    await scorer.close();
    expect(client.closed).toBe(2);
  });
});
