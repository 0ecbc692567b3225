// The public API (src/index.ts): everything the notebooks and README call is exported, internals are not.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as api from "../src/index.js";

const root = join(import.meta.dirname, "..");
const indexSource = readFileSync(join(root, "src", "index.ts"), "utf8");

/** Names used as `s.<name>` in the notebooks' code cells and README's examples. */
function usedNames(): Set<string> {
  const names = new Set<string>();
  const add = (src: string): void => {
    for (const m of src.matchAll(/\bs\.([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]!);
  };
  for (const f of readdirSync(join(root, "notebooks")).filter((n) => n.endsWith(".ipynb"))) {
    const nb = JSON.parse(readFileSync(join(root, "notebooks", f), "utf8")) as { cells: { cell_type: string; source: string[] | string }[] };
    for (const c of nb.cells) if (c.cell_type === "code") add(Array.isArray(c.source) ? c.source.join("") : c.source);
  }
  const readme = readFileSync(join(root, "README.md"), "utf8");
  for (const block of readme.matchAll(/```ts\n([\s\S]*?)```/g)) add(block[1]!);
  return names;
}

/** Exported names, values and types, as written in src/index.ts. */
function exportedNames(): Set<string> {
  const names = new Set<string>(["VERSION"]);
  for (const m of indexSource.matchAll(/export \{([^}]*)\}/g)) {
    for (const part of m[1]!.split(",")) {
      const name = part.trim().replace(/^type\s+/, "");
      if (name) names.add(name);
    }
  }
  return names;
}

describe("public API", () => {
  it("exports every name the notebooks and README's examples call", () => {
    const exported = exportedNames();
    const used = [...usedNames()];
    expect(used.length).toBeGreaterThan(80);
    expect(used.filter((n) => !exported.has(n))).toEqual([]);
  });

  it("every exported value exists at run time", () => {
    const values = Object.keys(api);
    const declared = [...exportedNames()].filter((n) => !indexSource.includes(`type ${n}`));
    expect(declared.filter((n) => !values.includes(n))).toEqual([]);
  });

  it("keeps test doubles, the notebook runner and internal builders out", () => {
    const values = Object.keys(api);
    for (const internal of ["startOpenAIServer", "executeNotebook", "buildOnnxModel", "parseInterpretation", "acquireRunLock", "tuneBaselineMain", "OnnxTrainStep", "writeFileAtomic"]) {
      expect(values).not.toContain(internal);
    }
    expect(values.length).toBeLessThan(250);
  });
});
