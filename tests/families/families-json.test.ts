/**
 * Tests for src/families/families-json.ts (METHOD.md §5): our families JSON round trip through a file, and
 * another version, a wrong shape and an inconsistent family rejected with the file named.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { familiesToJson, readFamiliesJson, writeFamiliesJson } from "../../src/families/families-json.js";
import { nested } from "../fixtures/families/hand-codes.js";

const dir = mkdtempSync(join(tmpdir(), "saerch-families-json-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Write `text` to a fresh file in the temp dir. */
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("families JSON", () => {
  it("round-trips a build and its labels through a file", () => {
    const { build } = nested();
    const labels = new Map([[0, "Stars"], [1, "Variable stars"], [5, 'RR "Lyrae" & co']]);
    const json = familiesToJson(build, labels);
    expect(json).toMatchObject({ format: "saerch-ts-families", version: 1, featuresM: [0, 1, 2, 3, 4, 5, 6, 7, 8] });
    expect(json.families[0]).toMatchObject({ id: 0, root: 0, label: "Stars" });
    expect(json.families[0]!.members[0]).toMatchObject({ feature: 1, parent: 0, depth: 1, label: "Variable stars" });
    expect(json.families[0]!.members[1]!.label).toBeNull();
    const path = join(dir, "ours.json");
    writeFamiliesJson(path, build, labels);
    const back = readFamiliesJson(path);
    expect(back.build).toEqual(build);
    expect(back.labels).toEqual(labels);
    // Without labels every label is null and none come back.
    writeFamiliesJson(path, build);
    expect(readFamiliesJson(path).labels.size).toBe(0);
  });

  it("rejects another version, a wrong shape and an inconsistent family", () => {
    const { build } = nested();
    const good = familiesToJson(build);
    const cases: Array<[string, unknown, RegExp]> = [
      ["v2.json", { ...good, version: 2 }, /v2\.json: families JSON version 2; this reader knows version 1/],
      ["format.json", { ...good, format: "other" }, /format\.json: not a saerch-ts-families file/],
      ["negative.json", { ...good, featuresM: [-1, 0] }, /negative\.json: not a saerch-ts-families file:\n {2}- featuresM\[0\]: Too small/],
      ["parent.json", { ...good, families: [{ ...good.families[0]!, members: [{ ...good.families[0]!.members[0]!, parent: 99 }] }] }, /members\[0\]\.parent 99 is not in the family/],
      ["ids.json", { ...good, families: [good.families[1]!] }, /families\[0\] has id 1/],
    ];
    for (const [name, value, message] of cases) {
      const path = file(name, JSON.stringify(value));
      expect(() => readFamiliesJson(path), name).toThrow(message);
    }
    expect(() => readFamiliesJson(file("bad.json", "{"))).toThrow(/bad\.json: not valid JSON/);
  });
});
