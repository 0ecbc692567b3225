import { describe, expect, it } from "vitest";
import { progress } from "../../src/core/progress.js";

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; lines: string[] } {
  const lines: string[] = [];
  const stream = { isTTY, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  return { stream, lines };
}

describe("progress", () => {
  it("off a terminal prints a line at each 20% step and a final summary", () => {
    const { stream, lines } = fakeStream(false);
    const p = progress(10, "embedding", { unit: "docs", stream });
    for (let i = 1; i <= 10; i++) p.update(i);
    p.finish();
    expect(lines).toHaveLength(5); // 20, 40, 60, 80 % and the summary (100 % is the summary)
    expect(lines[0]).toMatch(/^embedding: 2\/10 \(20%\) [\d.]+ docs\/s/);
    expect(lines[4]).toMatch(/^embedding: 10\/10 done in \d+ s \([\d.]+ docs\/s\)\n$/);
  });

  it("a jump past several steps prints one line", () => {
    const { stream, lines } = fakeStream(false);
    const p = progress(100, "x", { stream });
    p.update(70);
    p.update(75);
    expect(lines).toHaveLength(1);
  });

  it("on a terminal redraws one line in place", () => {
    const { stream, lines } = fakeStream(true);
    const p = progress(4, "x", { stream });
    p.update(1);
    p.finish();
    expect(lines[0]!.startsWith("\rx: 1/4")).toBe(true);
    expect(lines.at(-1)!.endsWith("\n")).toBe(true);
  });
});
