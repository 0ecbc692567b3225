/** The activation and text judges, the prompts and their parsers (METHOD.md §7). */
import { describe, expect, it } from "vitest";
import { bootstrapMean } from "../../src/steer/evaluate.js";
import { activationJudge, argmaxMin, labelTerms, textJudge } from "../../src/steer/judges.js";
import { buildJudgeMessages, buildRewriteMessages, parseJudge, parseRewrite } from "../../src/steer/prompts.js";
import { Rng } from "../../src/core/rng.js";

describe("judges", () => {
  it("argmaxMin takes the first on ties", () => {
    expect(argmaxMin([0, 0.2, 0.2, -0.1, -0.1])).toEqual({ added: 1, removed: 3 });
    expect(argmaxMin([0, 0, 0])).toEqual({ added: 0, removed: 0 });
  });

  it("activation judge: the largest rise is added, the largest fall removed", () => {
    // Documents are feature sets. Candidate 7 fires in 0/4 before and 3/4 after; candidate 5 in 4/4 → 1/4.
    const fires = (doc: number[], f: number) => doc.includes(f);
    const before = [[5, 1], [5, 2], [5, 3], [5]];
    const after = [[7, 1], [7, 2], [7], [5]];
    expect(activationJudge(before, after, [3, 5, 7, 9, 11], fires)).toEqual({ added: 2, removed: 1 });
  });

  it("text judge reads only label terms in the texts", () => {
    const docs = (texts: string[]) => texts.map((t) => new Set(t.split(" ")));
    const before = docs(["dark matter halo", "dark matter lensing", "galaxy cluster"]);
    const after = docs(["exoplanet transit", "exoplanet atmosphere", "galaxy cluster"]);
    const v = textJudge(before, after, [["exoplanet"], ["dark", "matter"], ["galaxy"]], (d) => d);
    expect(v).toEqual({ added: 0, removed: 1 });
    expect(labelTerms("dark matter, halo")).toEqual(["dark", "matter", "dark matter", "halo"]);
  });
});

describe("steering prompts", () => {
  it("the rewriter prompt, exactly", () => {
    const [sys, user] = buildRewriteMessages("galaxy rotation curves", "dark matter", "modified gravity");
    expect(sys!.content).toBe("You are a careful domain researcher who reads scientific abstracts. You help researchers steer a semantic search engine over paper abstracts by rewriting their queries.");
    expect(user!.content).toBe(
      "Search query: galaxy rotation curves\n\nTopic to de-emphasise: dark matter\n\nTopic to add: modified gravity\n\n" +
        "Rewrite the query so that the search returns fewer papers about the topic to de-emphasise and more papers about the topic to add, keeping the rest of its meaning. Write it as a search query, not as an instruction.\n\n" +
        "Finish with one line in exactly this form, with nothing after it:\nQUERY: <rewritten query>",
    );
    expect(parseRewrite("Thoughts.\nQUERY: galaxy rotation curves in MOND")).toBe("galaxy rotation curves in MOND");
    expect(parseRewrite("no marker")).toBeUndefined();
  });

  it("the judge prompt never shows the query; its answer is read as 0-based indices", () => {
    const [, user] = buildJudgeMessages(["A", "B"], ["C", "D"], ["t1", "t2", "t3"]);
    expect(user!.content).toBe(
      "## Original results\n1. A\n2. B\n\n## New results\n1. C\n2. D\n\n## Candidate topics\n1. t1\n2. t2\n3. t3\n\n" +
        "One candidate topic was added to the search and another was removed. Compare the two lists, decide which topic the new results gained and which they lost, and answer with the candidate numbers.\n\n" +
        "Reason briefly, then finish with one line in exactly this form, with nothing after it:\nFINAL: <added number>, <removed number>",
    );
    expect(parseJudge("x\nFINAL: 2, 5", 5)).toEqual({ added: 1, removed: 4 });
    expect(parseJudge("**Final:** #3, #1", 5)).toEqual({ added: 2, removed: 0 });
    expect(parseJudge("FINAL: 6, 1", 5)).toBeUndefined();
    expect(parseJudge("FINAL: two, one", 5)).toBeUndefined();
  });
});

describe("bootstrapMean", () => {
  it("mean and a seeded interval around it", () => {
    const x = Array.from({ length: 100 }, (_, i) => (i < 30 ? 1 : 0));
    const a = bootstrapMean(x, 500, new Rng(1));
    expect(a.mean).toBeCloseTo(0.3, 12);
    expect(a.ci[0]).toBeLessThan(0.3);
    expect(a.ci[1]).toBeGreaterThan(0.3);
    expect(a.ci[1] - a.ci[0]).toBeGreaterThan(0.1);
    expect(a.ci[1] - a.ci[0]).toBeLessThan(0.25);
    expect(bootstrapMean(x, 500, new Rng(1))).toEqual(a);
  });
});
