import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { histogramFigure } from "../../src/plot/figures.js";
import { closeRenderer, findBrowser, rendererLaunchCount } from "../../src/plot/render.js";
import { saveFigure, writeFiguresIndex } from "../../src/plot/save.js";
import type { FigureSpec } from "../../src/plot/spec.js";

const dir = mkdtempSync(join(tmpdir(), "saerch-save-test-"));
process.env.SAERCH_FIGURES = dir;
process.env.SAERCH_CHROMIUM = join(dir, "no-such-chromium");

afterAll(async () => {
  await closeRenderer();
  rmSync(dir, { recursive: true, force: true });
});

const spec = (title: string): FigureSpec => histogramFigure([1, 2, 2, 3], { title, xTitle: "x", bins: 3 });

describe("saveFigure without a browser", () => {
  it("writes only JSON and index.html, warns once, leaves no temp files", async () => {
    expect(findBrowser()).toBeUndefined();
    const writes: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const a = await saveFigure("01-first", spec("First"));
      const b = await saveFigure("02-second-one", spec("Second"));
      expect(a).toEqual({ jsonPath: join(dir, "01-first.json"), rendered: false });
      expect(b.rendered).toBe(false);
      expect(b.png).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
    const warnings = writes.filter((w) => w.includes("rendering is off"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("npm run setup");
    expect(warnings[0]).toContain("apt-get install -y chromium");
    expect(warnings[0]).toContain("SAERCH_CHROMIUM");
    expect(readdirSync(dir).sort()).toEqual(["01-first.json", "02-second-one.json", "index.html"]);
    expect(JSON.parse(readFileSync(join(dir, "01-first.json"), "utf8"))).toEqual(spec("First"));
    expect(rendererLaunchCount()).toBe(0);
  });

  it("rejects invalid names and malformed specs", async () => {
    for (const name of ["1-x", "01_x", "01-X", "01-", "01--x", "../01-x", "01-x.json", ""]) {
      await expect(saveFigure(name, spec("x"))).rejects.toBeInstanceOf(SaerchError);
    }
    const bad = { data: "not an array", layout: {} } as unknown as FigureSpec;
    await expect(saveFigure("03-bad", bad)).rejects.toBeInstanceOf(SaerchError);
    expect(readdirSync(dir)).not.toContain("03-bad.json");
  });
});

describe("writeFiguresIndex", () => {
  it("lists every figure in name order with one plotly script tag and escaped specs", () => {
    const html = readFileSync(writeFiguresIndex(dir), "utf8");
    expect(html.indexOf('id="01-first"')).toBeGreaterThan(0);
    expect(html.indexOf('id="01-first"')).toBeLessThan(html.indexOf('id="02-second-one"'));
    expect(html.match(/<script src=/g)).toHaveLength(1);
    expect(html).toContain('<script src="../node_modules/plotly.js-dist-min/plotly.min.js"></script>');
    expect(html.match(/<script type="application\/json"/g)).toHaveLength(2);
  });
});
