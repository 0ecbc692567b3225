/** Tests for src/tools/display.ts: HTML tables and the paper-versus-ours comparison table. */
import { describe, expect, it } from "vitest";
import { comparisonTable, htmlTable } from "../../src/tools/display.js";

/** The text of every header and body cell, row by row. */
function cells(html: string): string[][] {
  return [...html.matchAll(/<tr>(.*?)<\/tr>/gs)].map((m) => [...m[1]!.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/gs)].map((c) => c[1]!));
}

describe("comparisonTable", () => {
  it("lays out quantity, paper and ours in that order, one row per quantity", () => {
    const html = comparisonTable([
      { quantity: "α, k = 16", paper: "0.124", ours: "0.117" },
      { quantity: "dead latents", paper: 0, ours: "0.0 %" },
    ]);
    expect(cells(html)).toEqual([
      ["quantity", "paper", "ours"],
      ["α, k = 16", "0.124", "0.117"],
      ["dead latents", "0", "0.0 %"],
    ]);
  });

  it("adds a note column only when a row has a note, and takes custom headings", () => {
    const html = comparisonTable(
      [
        { quantity: "NMSE", paper: "0.146–0.175", ours: "0.112", note: "training rows" },
        { quantity: "cos", paper: "not reported", ours: "0.981" },
      ],
      { paper: "paper (astro, d = 1536)", ours: "here (d = 512)" },
    );
    expect(cells(html)).toEqual([
      ["quantity", "paper (astro, d = 1536)", "here (d = 512)", "note"],
      ["NMSE", "0.146–0.175", "0.112", "training rows"],
      ["cos", "not reported", "0.981", ""],
    ]);
  });

  it("is the same table htmlTable makes from the equivalent records", () => {
    expect(comparisonTable([{ quantity: "q", paper: 1, ours: 2 }])).toBe(htmlTable([{ quantity: "q", paper: 1, ours: 2 }]));
  });
});
