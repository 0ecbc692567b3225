import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { repoRoot } from "../../src/io/paths.js";
import {
  cellFailure,
  executeNotebook,
  notebookRunDir,
  formatNotebook,
  jupyterProblems,
  listNotebooks,
  type NotebookJson,
  scrubNotebookInPlace,
} from "../../src/tools/notebooks.js";

/** A notebook with the given code cells (a markdown cell first, so cell numbers count it too). */
function notebook(...sources: string[]): NotebookJson {
  return {
    cells: [
      { cell_type: "markdown", source: "# fixture", metadata: {} },
      ...sources.map((source) => ({ cell_type: "code", source, metadata: {}, outputs: [], execution_count: null })),
    ],
    metadata: { kernelspec: { display_name: "TypeScript", language: "typescript", name: "tslab" } },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

describe("cellFailure", () => {
  it("reports a tslab type error from the cell's stderr (nbclient's own message is empty)", () => {
    const nb = notebook("const a = 1;", 'const x: number = "a";');
    nb.cells[2]!.outputs = [
      { output_type: "stream", name: "stderr", text: ["1:7 - Type 'string' is not assignable to type 'number'.\n"] },
    ];
    expect(cellFailure(nb, 2, "")).toEqual({
      cellNumber: 3,
      source: 'const x: number = "a";',
      errorText: "1:7 - Type 'string' is not assignable to type 'number'.",
    });
  });

  it("reports a runtime error with its traceback, ANSI colours stripped", () => {
    const nb = notebook('throw new Error("boom")');
    nb.cells[1]!.outputs = [
      { output_type: "stream", name: "stdout", text: "not an error\n" },
      {
        output_type: "error",
        ename: "Error",
        evalue: "boom",
        traceback: ["\u001b[31mError: boom\u001b[0m", "    at <anonymous>:1:7"],
      },
    ];
    const f = cellFailure(nb, 1);
    expect(f.cellNumber).toBe(2);
    expect(f.errorText).toBe("Error: boom\n    at <anonymous>:1:7");
    expect(f.errorText).not.toContain("not an error");
  });

  it("falls back to the executor's message when the cell recorded nothing", () => {
    const nb = notebook("while (true) {}");
    expect(cellFailure(nb, 1, "  Cell execution timed out  ").errorText).toBe("Cell execution timed out");
  });
});

describe("scrubNotebookInPlace", () => {
  it("replaces the repo root and home directory in text outputs and drops execution metadata", () => {
    const nb = notebook("x");
    nb.cells[1]!.metadata = { execution: { "iopub.status.busy": "2026-01-01" }, tags: ["keep"] };
    nb.cells[1]!.outputs = [
      { output_type: "stream", name: "stdout", text: ["/repo/x/data/a.npy\n", "/home/me/.cache\n"] },
      { output_type: "display_data", data: { "text/html": "<td>/repo/x/figures</td>", "image/png": "/repo/x" } },
    ];
    const n = scrubNotebookInPlace(nb, "/repo/x", "/home/me");
    expect(n).toBe(3);
    expect(nb.cells[1]!.outputs![0]!.text).toEqual(["./data/a.npy\n", "~/.cache\n"]);
    expect(nb.cells[1]!.outputs![1]!.data).toEqual({ "text/html": "<td>./figures</td>", "image/png": "/repo/x" });
    expect(nb.cells[1]!.metadata).toEqual({ tags: ["keep"] });
  });
});

describe("formatNotebook", () => {
  it("writes sorted keys with a 1-space indent like nbformat", () => {
    const text = formatNotebook({ nbformat: 4, metadata: {}, cells: [] } as NotebookJson);
    expect(text).toBe('{\n "cells": [],\n "metadata": {},\n "nbformat": 4\n}\n');
  });
});

describe("listNotebooks", () => {
  const dir = mkdtempSync(join(tmpdir(), "saerch-nb-list-"));
  for (const f of ["01-b.ipynb", "00-a.ipynb", "02-c.ipynb", "notes.ipynb", "03-d.txt"]) writeFileSync(join(dir, f), "{}");

  it("lists NN-*.ipynb in order", () => {
    expect(listNotebooks([], dir)).toEqual(["00-a.ipynb", "01-b.ipynb", "02-c.ipynb"]);
  });

  it("filters by prefix and names the choices for an unknown prefix", () => {
    expect(listNotebooks(["02", "00"], dir)).toEqual(["00-a.ipynb", "02-c.ipynb"]);
    expect(() => listNotebooks(["07"], dir)).toThrow(/no notebook starts with "07"[\s\S]*00-a.ipynb, 01-b.ipynb/);
  });

  it("lists the project's own notebooks, starting with the environment check", () => {
    expect(listNotebooks()[0]).toBe("00-environment.ipynb");
  });
});

describe("jupyterProblems", () => {
  const saved = process.env.SAERCH_JUPYTER_PYTHON;
  afterEach(() => {
    if (saved === undefined) delete process.env.SAERCH_JUPYTER_PYTHON;
    else process.env.SAERCH_JUPYTER_PYTHON = saved;
  });

  it("names the apt command when the Jupyter python is missing", () => {
    process.env.SAERCH_JUPYTER_PYTHON = "/nonexistent/python3";
    const problems = jupyterProblems();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/\/nonexistent\/python3 not found — fix: apt-get install .*jupyter-nbconvert/);
  });
});

// Real executions through Jupyter and the tslab kernel (a few seconds each).
describe.skipIf(jupyterProblems().length > 0)("executeNotebook", () => {
  let dir: string;
  const savedData = process.env.SAERCH_DATA;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "saerch-nb-run-"));
    process.env.SAERCH_DATA = join(dir, "data");
  });
  afterEach(() => {
    if (savedData === undefined) delete process.env.SAERCH_DATA;
    else process.env.SAERCH_DATA = savedData;
  });

  it("stops at a type error, reports the cell and its real message, and leaves the notebook unchanged", () => {
    const nb = notebook('console.log("first")', 'const x: number = "a";', 'console.log("never")');
    const path = join(dir, "01-broken.ipynb");
    writeFileSync(path, formatNotebook(nb));
    const before = readFileSync(path, "utf8");
    const run = executeNotebook("01-broken.ipynb", { dir, profile: "tiny" });
    expect(run.ok).toBe(false);
    expect(run.failure?.cellNumber).toBe(3);
    expect(run.failure?.source).toBe('const x: number = "a";');
    expect(run.failure?.errorText).toContain("Type 'string' is not assignable to type 'number'");
    expect(readFileSync(path, "utf8")).toBe(before);
    expect(run.failedCopy && existsSync(run.failedCopy)).toBe(true);
  });

  it("publishes in place, passing PROFILE to the kernel and scrubbing the repo path from outputs", () => {
    const root = repoRoot();
    const nb = notebook(`console.log(process.env.PROFILE, ${JSON.stringify(`${root}/data`)})`);
    const path = join(dir, "02-ok.ipynb");
    writeFileSync(path, formatNotebook(nb));
    const run = executeNotebook("02-ok.ipynb", { dir, profile: "tiny", publish: true });
    expect(run.failure?.errorText ?? "").toBe("");
    expect(run.ok).toBe(true);
    expect(run.output).toBe(path);
    const out = JSON.parse(readFileSync(path, "utf8")) as NotebookJson;
    const text = [out.cells[1]!.outputs![0]!.text].flat().join("");
    expect(text).toBe("tiny ./data\n");
  });

  it("a run at a profile other than default leaves the committed notebook and figures alone", () => {
    const saved = process.env.SAERCH_FIGURES;
    delete process.env.SAERCH_FIGURES;
    try {
      const nb = notebook("console.log(process.env.PROFILE, process.env.SAERCH_FIGURES)");
      const path = join(dir, "03-copy.ipynb");
      writeFileSync(path, formatNotebook(nb));
      const before = readFileSync(path, "utf8");
      const run = executeNotebook("03-copy.ipynb", { dir, profile: "tiny" });
      expect(run.ok).toBe(true);
      expect(readFileSync(path, "utf8")).toBe(before);
      expect(run.output).toBe(join(notebookRunDir("tiny"), "03-copy.ipynb"));
      const out = JSON.parse(readFileSync(run.output!, "utf8")) as NotebookJson;
      const text = [out.cells[1]!.outputs![0]!.text].flat().join("");
      expect(text).toBe(`tiny ${join(process.env.SAERCH_DATA!, "notebook-runs", "tiny", "figures")}\n`);
    } finally {
      if (saved !== undefined) process.env.SAERCH_FIGURES = saved;
    }
  });
});
