import { afterEach, describe, expect, it, vi } from "vitest";
import { runNotebooks } from "../../src/tools/cli.js";

describe("runNotebooks", () => {
  const saved = { PROFILE: process.env.PROFILE, py: process.env.SAERCH_JUPYTER_PYTHON };
  afterEach(() => {
    vi.restoreAllMocks();
    for (const [k, v] of [
      ["PROFILE", saved.PROFILE],
      ["SAERCH_JUPYTER_PYTHON", saved.py],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it("an unknown PROFILE stops before any notebook runs, with one clear message", () => {
    process.env.PROFILE = "huge";
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    const { code, runs } = runNotebooks([]);
    expect(code).toBe(1);
    expect(runs).toEqual([]);
    expect(err).toHaveBeenCalledTimes(1);
    expect(String(err.mock.calls[0]![0])).toMatch(/unknown PROFILE "huge"[\s\S]*fix: use one of tiny, default, paper/);
  });

  it("missing Jupyter stops with the fix, not a stack trace", () => {
    process.env.PROFILE = "tiny";
    process.env.SAERCH_JUPYTER_PYTHON = "/nonexistent/python3";
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    const { code } = runNotebooks([]);
    expect(code).toBe(1);
    expect(String(err.mock.calls[0]![0])).toMatch(/cannot run notebooks:\n {2}- \/nonexistent\/python3 not found — fix: apt-get install/);
  });

  it("an unknown notebook prefix lists the notebooks there are", () => {
    process.env.PROFILE = "tiny";
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "log").mockImplementation(() => {});
    const { code } = runNotebooks(["99"]);
    expect(code).toBe(1);
    expect(String(err.mock.calls[0]![0])).toMatch(/no notebook starts with "99"[\s\S]*00-environment.ipynb/);
  });
});
