import { describe, expect, it, vi } from "vitest";
import { progress } from "../../src/core/progress.js";

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; lines: string[] } {
  const lines: string[] = [];
  const stream = { isTTY, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  return { stream, lines };
}

describe("progress", () => {
  it("off a terminal (a notebook) prints a start line and the final summary, nothing in between", () => {
    const { stream, lines } = fakeStream(false);
    const p = progress(1000, "embedding", { unit: "docs", stream });
    expect(lines).toEqual(["embedding: 1000 docs …\n"]);
    for (let i = 1; i <= 1000; i++) p.update(i);
    expect(lines).toHaveLength(1);
    p.finish();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^embedding: 1000\/1000 done in \d+ s \([\d.]+ docs\/s\)\n$/);
    expect(lines.join("")).not.toContain("\r");
  });

  it("off a terminal the summary reports how far the work got when it stopped early", () => {
    const { stream, lines } = fakeStream(false);
    const p = progress(100, "SAE training", { unit: "steps", stream });
    p.update(40);
    p.finish();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe("SAE training: 100 steps …\n");
    expect(lines[1]).toMatch(/^SAE training: 40\/100 done in/);
  });

  it("on a terminal redraws one live line in place and ends it with a newline", () => {
    const { stream, lines } = fakeStream(true);
    const p = progress(4, "x", { stream });
    expect(lines).toHaveLength(0); // no start line: the bar itself shows the start
    p.update(1);
    p.finish();
    expect(lines[0]!.startsWith("\rx: 1/4 (25%)")).toBe(true);
    expect(lines[0]!.includes("\n")).toBe(false);
    expect(lines.at(-1)!).toMatch(/^\rx: 1\/4 done in .*\n$/);
  });

  it("on a terminal draws the first update even in a process younger than the redraw interval", () => {
    // performance.now() counts from process start: a fresh test worker can be under 200 ms old.
    const now = vi.spyOn(performance, "now").mockReturnValue(50);
    try {
      const { stream, lines } = fakeStream(true);
      const p = progress(4, "young", { stream });
      p.update(1);
      expect(lines).toHaveLength(1);
      expect(lines[0]!.startsWith("\ryoung: 1/4 (25%)")).toBe(true);
      p.update(2); // same instant: within the redraw interval, not drawn again
      expect(lines).toHaveLength(1);
    } finally {
      now.mockRestore();
    }
  });
});
