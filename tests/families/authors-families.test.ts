/**
 * Tests for src/families/authors-families.ts (METHOD.md §5): the authors' two JSON forms (hand-written
 * miniatures of their files), bad input, and the comparison with ours with exact Jaccards.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { compareFamilies, FAMILY_MATCH_JACCARD, type ImportedFamily, parseAuthorsFamilies, readAuthorsFamilies } from "../../src/families/authors-families.js";
import type { Family } from "../../src/families/build.js";
import { nested } from "../fixtures/families/hand-codes.js";

const dir = mkdtempSync(join(tmpdir(), "saerch-authors-families-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Write `text` to a fresh file in the temp dir. */
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("readAuthorsFamilies", () => {
  it("reads the old form { parent label: [[child label, index], …] }, finding parents among the file's children", () => {
    // "Deep learning" (725) is a child of "Machine learning", so its family's parent index is known from the file;
    // "Machine learning" is nobody's child: unknown without a label table.
    const path = file(
      "old.json",
      JSON.stringify({
        "Machine learning": [["Convolutional Neural Networks", 180], ["Deep learning", 725], ["Neural networks", 6279]],
        "Deep learning": [["Neural networks", 6279], ["Use of autoencoders", 4538], ["Use of autoencoders", 4538]],
      }),
    );
    const got = readAuthorsFamilies(path);
    expect(got.file).toBe(path);
    expect(got.forms).toEqual(["children-list"]);
    expect(got.families).toEqual([
      {
        parentLabel: "Machine learning",
        parent: null,
        parentFrom: null,
        reportedSize: null,
        children: [
          { feature: 180, label: "Convolutional Neural Networks" },
          { feature: 725, label: "Deep learning" },
          { feature: 6279, label: "Neural networks" },
        ],
      },
      {
        parentLabel: "Deep learning",
        parent: 725,
        parentFrom: "file",
        reportedSize: null,
        // the repeated child is kept once
        children: [
          { feature: 6279, label: "Neural networks" },
          { feature: 4538, label: "Use of autoencoders" },
        ],
      },
    ]);
    const withLabels = readAuthorsFamilies(path, { labels: new Map([[3, "Machine learning"], [725, "Deep learning"]]) });
    expect(withLabels.families.map((f) => [f.parent, f.parentFrom])).toEqual([[3, "labels"], [725, "file"]]);
  });

  it("reads the later form { parent label: { parent: [label, subtree size], children } }; parent[1] is a size, not an index", () => {
    const path = file(
      "later.json",
      JSON.stringify({
        "Stellar physics": { parent: ["Stellar physics", 4], children: [["Asteroseismology", 1741], ["White Dwarfs", 1008], 77] },
      }),
    );
    const got = readAuthorsFamilies(path);
    expect(got.forms).toEqual(["parent-children"]);
    expect(got.families).toEqual([
      {
        parentLabel: "Stellar physics",
        parent: null,
        parentFrom: null,
        reportedSize: 4,
        children: [
          { feature: 1741, label: "Asteroseismology" },
          { feature: 1008, label: "White Dwarfs" },
          { feature: 77, label: null },
        ],
      },
    ]);
    expect(readAuthorsFamilies(path, { labels: new Map([[12, "Stellar physics"]]) }).families[0]!.parent).toBe(12);
  });

  it("leaves a parent unresolved when its label belongs to two features", () => {
    const got = parseAuthorsFamilies({ A: [["b", 1]] }, "mem", { labels: new Map([[5, "A"], [6, "A"]]) });
    expect(got.families[0]).toMatchObject({ parent: null, parentFrom: null });
  });

  it("accepts both forms in one file and an empty file", () => {
    expect(parseAuthorsFamilies({ A: [["b", 1]], C: { parent: "C", children: [2] } }, "mem").forms).toEqual(["children-list", "parent-children"]);
    expect(parseAuthorsFamilies({}, "mem")).toEqual({ file: "mem", forms: [], families: [] });
  });

  it("rejects bad input with a SaerchError naming the file and the offending entry", () => {
    const cases: Array<[string, string, RegExp]> = [
      ["not-json.json", "{ not json", /not-json\.json: not valid JSON/],
      ["array.json", "[1, 2]", /array\.json: expected an object keyed by parent label, got an array/],
      ["shape.json", JSON.stringify({ A: [["b"]] }), /shape\.json: not an authors' families file:\n {2}- \["A"\]\[0\]: expected a child \[label, index\]/],
      ["negative.json", JSON.stringify({ A: [["b", -3]] }), /\["A"\]\[0\]\[1\]: Too small/],
      ["fraction.json", JSON.stringify({ A: [2.5] }), /\["A"\]\[0\]/],
      ["parent.json", JSON.stringify({ A: { parent: 3, children: [] } }), /\["A"\]\.parent: expected parent \[label, subtree size\] or a label/],
      ["value.json", JSON.stringify({ A: 7 }), /\["A"\]: expected a list of children/],
    ];
    for (const [name, text, message] of cases) {
      const path = file(name, text);
      expect(() => readAuthorsFamilies(path), name).toThrow(SaerchError);
      expect(() => readAuthorsFamilies(path), name).toThrow(message);
    }
    expect(() => readAuthorsFamilies(join(dir, "missing.json"))).toThrow(/cannot read .*missing\.json/);
  });
});

/** A family with all members direct children of the root. */
function fam(id: number, root: number, members: number[]): Family {
  return { id, round: 1, depth: 0, parentFamily: null, root, members: members.map((f) => ({ feature: f, parent: root, weight: 0.5, depth: 1 })), threshold: 0.1 };
}
function theirs(parent: number | null, children: number[]): ImportedFamily {
  return { parentLabel: `p${parent}`, parent, parentFrom: parent === null ? null : "labels", reportedSize: null, children: children.map((feature) => ({ feature, label: null })) };
}

describe("compareFamilies", () => {
  // Ours: F0 = {0,1,2,3,4}, F1 = {10,11,12,13}.
  const ours = [fam(0, 0, [1, 2, 3, 4]), fam(1, 10, [11, 12, 13])];
  // A = {0,1,2,3}: J(F0) = 4/5. B (parent unknown) = {11,12,20}: J(F1) = 2/5. C = {50,51,52}: shares nothing.
  const them = [theirs(0, [1, 2, 3]), theirs(null, [11, 12, 20]), theirs(50, [51, 52])];

  it("scores each of theirs by its best member-set Jaccard and checks its parent against our roots", () => {
    const { matches, summary } = compareFamilies(ours, them);
    expect(matches.map((m) => [m.index, m.size, m.bestFamily, m.matched, m.parentIsRoot])).toEqual([
      [0, 4, 0, true, true],
      [1, 3, 1, false, null],
      [2, 3, null, false, false],
    ]);
    expect(matches[0]!.bestJaccard).toBeCloseTo(4 / 5, 12);
    expect(matches[1]!.bestJaccard).toBeCloseTo(2 / 5, 12);
    expect(matches[2]!.bestJaccard).toBe(0);
    expect(summary).toMatchObject({ theirs: 3, ours: 2, matchJaccard: FAMILY_MATCH_JACCARD, matched: 1, oursMatched: 1, parentsKnown: 2, parentsAreRoots: 1 });
    expect(summary.matchedFraction).toBeCloseTo(1 / 3, 12);
    expect(summary.meanBestJaccard).toBeCloseTo((4 / 5 + 2 / 5 + 0) / 3, 12);
    expect(summary.oursMatchedFraction).toBeCloseTo(1 / 2, 12);
    expect(summary.parentRootFraction).toBeCloseTo(1 / 2, 12);
  });

  it("takes the threshold from its config (≥, inclusive) and rejects one outside [0, 1]", () => {
    expect(compareFamilies(ours, them, { matchJaccard: 0.4 }).summary.matched).toBe(2);
    expect(() => compareFamilies(ours, them, { matchJaccard: 1.5 })).toThrow();
  });

  it("breaks ties by the lower family id, and reports empty sides as zeros", () => {
    // With F2 = {20,21,22,23}: {0, 10}: J = 1/6 with F0, 1/5 with F1 → F1; {11, 21}: 1/5 with F1 and F2 → F1 (lower id);
    // {0, 1, 21}: 2/6 with F0, 1/6 with F2 → F0.
    const tie = compareFamilies([...ours, fam(2, 20, [21, 22, 23])], [theirs(null, [0, 10]), theirs(null, [11, 21]), theirs(null, [0, 1, 21])]);
    expect(tie.matches.map((m) => m.bestFamily)).toEqual([1, 1, 0]);
    expect(tie.matches[1]!.bestJaccard).toBeCloseTo(1 / 5, 12);
    expect(compareFamilies([], []).summary).toMatchObject({ matchedFraction: 0, meanBestJaccard: 0, oursMatchedFraction: 0, parentRootFraction: null });
  });

  it("matches the authors' view of a build against the build itself", () => {
    const { build } = nested();
    const authorsView = build.families.map((f) => theirs(f.root, f.members.map((m) => m.feature)));
    const { summary } = compareFamilies(build.families, authorsView);
    expect(summary).toMatchObject({ matched: 2, meanBestJaccard: 1, parentsAreRoots: 2, oursMatched: 2 });
  });
});
