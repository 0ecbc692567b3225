import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { engineCheckFigure, histogramFigure } from "../../src/plot/figures.js";
import { closeRenderer, findBrowser, rendererLaunchCount, renderFigure } from "../../src/plot/render.js";
import { saveFigure } from "../../src/plot/save.js";
import type { FigureSpec } from "../../src/plot/spec.js";

const dir = mkdtempSync(join(tmpdir(), "saerch-render-test-"));
process.env.SAERCH_FIGURES = dir;

afterAll(async () => {
  await closeRenderer();
  rmSync(dir, { recursive: true, force: true });
});

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(12, 16).toString("latin1")).toBe("IHDR");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe("findBrowser", () => {
  it("treats an empty or nonexistent SAERCH_CHROMIUM as no browser, and says how to get one", async () => {
    const saved = process.env.SAERCH_CHROMIUM;
    try {
      process.env.SAERCH_CHROMIUM = "";
      expect(findBrowser()).toBeUndefined();
      process.env.SAERCH_CHROMIUM = join(dir, "missing");
      expect(findBrowser()).toBeUndefined();
      const err = await renderFigure(engineCheckFigure([]), { format: "png" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SaerchError);
      expect((err as SaerchError).fix).toMatch(
        /npm run setup.*apt-get install -y chromium.*SAERCH_CHROMIUM/s,
      );
    } finally {
      if (saved === undefined) delete process.env.SAERCH_CHROMIUM;
      else process.env.SAERCH_CHROMIUM = saved;
    }
  });
});

describe.skipIf(findBrowser() === undefined)("rendering with headless Chromium", () => {
  it("renders PNG at width·scale × height·scale", async () => {
    const spec = histogramFigure([1, 2, 2, 3], { title: "Sized", xTitle: "x", bins: 3 });
    const png = await renderFigure(spec, { format: "png", width: 400, height: 300, scale: 2 });
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(pngSize(png)).toEqual({ width: 800, height: 600 });
  });

  it("saves two figures back to back with one browser, and an index of both", async () => {
    const first = await saveFigure(
      "00-environment-check",
      engineCheckFigure([
        { engine: "wasm", gflops: 12.5, ok: true },
        { engine: "tfjs-node-gpu", gflops: 0, ok: false },
      ]),
    );
    const second = await saveFigure(
      "01-tricky-title",
      histogramFigure([0, 1, 1, 2], { title: "Alpha histogram </script><b>x</b>", xTitle: "x", bins: 2 }),
      { width: 300, height: 200, scale: 3 },
    );
    expect(first.rendered && second.rendered).toBe(true);
    expect(pngSize(first.png!)).toEqual({ width: 1600, height: 1000 });
    expect(pngSize(second.png!)).toEqual({ width: 900, height: 600 });
    expect(readFileSync(second.pngPath!).equals(second.png!)).toBe(true);

    const svg = readFileSync(first.svgPath!, "utf8");
    expect(svg).toMatch(/^(<\?xml[^>]*>\s*)?<svg/);
    expect(svg).toContain("Compute engines on this machine");
    expect(readFileSync(second.svgPath!, "utf8")).toContain("Alpha histogram");

    expect(rendererLaunchCount()).toBe(1);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);

    const html = readFileSync(join(dir, "index.html"), "utf8");
    expect(html).toContain("00-environment-check");
    expect(html).toContain("01-tricky-title");
    expect(html.match(/<script src=[^>]*plotly\.min\.js/g)).toHaveLength(1);
    expect(html).not.toContain("</script><b>");
    expect(html).toContain("Alpha histogram \\u003c/script>\\u003cb>x\\u003c/b>");
    // Every script element is closed exactly once: 1 plotly + 2 specs + 1 inline script.
    expect(html.match(/<\/script>/g)).toHaveLength(4);
  });

  it("turns plotly errors and malformed specs into SaerchError without hanging", async () => {
    const broken = { data: [{ type: "bar", x: [1], y: [2] }], layout: { xaxis: null } } as FigureSpec;
    const err = await renderFigure(broken, { format: "png" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SaerchError);
    expect((err as Error).message).toMatch(/plotly could not render the figure: .*null/);

    const notArray = { data: "not an array", layout: {} } as unknown as FigureSpec;
    await expect(renderFigure(notArray, { format: "svg" })).rejects.toBeInstanceOf(SaerchError);

    // The renderer survives an error.
    const svg = await renderFigure(engineCheckFigure([]), { format: "svg" });
    expect(svg.toString("utf8")).toContain("<svg");
    expect(rendererLaunchCount()).toBe(1);
  });
});
