/**
 * Tests for src/steer/prompts.ts's cache filter (METHOD.md §7): only replies the rewriter's and the judge's
 * parsers accept are kept in the request cache; the judge's candidate count is read back from its prompt.
 */
import { describe, expect, it } from "vitest";
import type { LlmRequest } from "../../src/interpret/types.js";
import { acceptSteerReply, buildJudgeMessages, buildRewriteMessages } from "../../src/steer/prompts.js";

const req = (messages: LlmRequest["messages"]): LlmRequest => ({ role: "interpreter", model: "m", messages, temperature: 0, maxTokens: 100 });

describe("acceptSteerReply", () => {
  const rewrite = req(buildRewriteMessages("galaxy clusters", "dust", "lensing"));
  const judge = req(buildJudgeMessages(["A", "B"], ["C", "D"], ["t1", "t2", "t3", "t4", "t5"]));

  it("keeps a rewrite with a QUERY: line, not one without", () => {
    expect(acceptSteerReply(rewrite, "Sure.\nQUERY: galaxy clusters and lensing")).toBe(true);
    expect(acceptSteerReply(rewrite, "I would rather not.")).toBe(false);
    expect(acceptSteerReply(rewrite, "QUERY:")).toBe(false);
  });

  it("keeps a verdict with two candidate numbers in range (five candidates here), not others", () => {
    expect(acceptSteerReply(judge, "Compared.\nFINAL: 1, 5")).toBe(true);
    expect(acceptSteerReply(judge, "Compared.\nFINAL: 1, 6")).toBe(false);
    expect(acceptSteerReply(judge, "Compared.\nFINAL: one, two")).toBe(false);
    expect(acceptSteerReply(judge, "Cannot tell.")).toBe(false);
  });

  it("keeps replies to any other prompt", () => {
    expect(acceptSteerReply(req([{ role: "system", content: "other" }, { role: "user", content: "x" }]), "anything")).toBe(true);
  });
});
