/**
 * Saving figures: every figure is written as `figures/<name>.json` (the plotly spec, the source of truth),
 * rendered to `<name>.png` and `<name>.svg` when a browser is available, and listed on `figures/index.html`,
 * one interactive page of all figures. All writes are atomic.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SaerchError } from "../core/errors.js";
import { writeFileAtomic, writeJsonAtomic } from "../io/atomic.js";
import { figuresDir } from "../io/paths.js";
import { BROWSER_FIX, findBrowser, renderFigure } from "./render.js";
import { assertFigureSpec, type FigureSpec } from "./spec.js";

/** Figure names: a two-digit stage prefix and lowercase words, e.g. "00-environment-check". */
const NAME_PATTERN = /^\d{2}-[a-z0-9]+(-[a-z0-9]+)*$/;

/** Options for {@link saveFigure}. */
export interface SaveFigureOptions {
  /** Image width in CSS pixels (default: the layout's width, else 800). */
  width?: number;
  /** Image height in CSS pixels (default: the layout's height, else 500). */
  height?: number;
  /** PNG pixel ratio (default 2). */
  scale?: number;
  /** Image formats to render (default both). The JSON is always written. */
  formats?: Array<"png" | "svg">;
}

/** What {@link saveFigure} wrote. */
export interface SavedFigure {
  /** The spec, `figures/<name>.json`. */
  jsonPath: string;
  /** `figures/<name>.png`, when rendered. */
  pngPath?: string;
  /** `figures/<name>.svg`, when rendered. */
  svgPath?: string;
  /** The PNG bytes, when rendered (for `tslab.display.png(result.png)`). */
  png?: Buffer;
  /** False when no browser was available and only the JSON was written. */
  rendered: boolean;
}

let warnedNoBrowser = false;

/**
 * Save a figure: write its spec as JSON, render PNG and SVG (when a browser is available; otherwise warn
 * once per process and write only the JSON), and regenerate `figures/index.html`.
 * @param name file stem, e.g. "00-environment-check"
 * @throws SaerchError for a malformed name or spec, or when rendering fails
 */
export async function saveFigure(
  name: string,
  spec: FigureSpec,
  opts: SaveFigureOptions = {},
): Promise<SavedFigure> {
  if (!NAME_PATTERN.test(name)) {
    throw new SaerchError(
      `invalid figure name ${JSON.stringify(name)}`,
      'use a two-digit stage prefix and lowercase words joined by "-", e.g. "00-environment-check"',
    );
  }
  assertFigureSpec(spec);
  const dir = figuresDir();
  const result: SavedFigure = { jsonPath: join(dir, `${name}.json`), rendered: false };
  writeJsonAtomic(result.jsonPath, spec);
  writeFiguresIndex(dir);

  const formats = opts.formats ?? ["png", "svg"];
  if (formats.length === 0) return result;
  if (!findBrowser()) {
    if (!warnedNoBrowser) {
      warnedNoBrowser = true;
      process.stderr.write(
        `warning: figure rendering is off (no Chromium found), so only figures/*.json are written.\n` +
          `  to render PNG/SVG: ${BROWSER_FIX}\n`,
      );
    }
    return result;
  }
  const size = { width: opts.width, height: opts.height };
  if (formats.includes("png")) {
    result.png = await renderFigure(spec, { format: "png", ...size, scale: opts.scale ?? 2 });
    result.pngPath = join(dir, `${name}.png`);
    writeFileAtomic(result.pngPath, result.png);
  }
  if (formats.includes("svg")) {
    const svg = await renderFigure(spec, { format: "svg", ...size, scale: 1 });
    result.svgPath = join(dir, `${name}.svg`);
    writeFileAtomic(result.svgPath, svg);
  }
  result.rendered = true;
  return result;
}

/** Escape text for HTML element content and attribute values. */
function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Browser-side script: draw every embedded spec into the div before it. */
const PAGE_SCRIPT = `
for (const el of document.querySelectorAll("script[data-figure]")) {
  const target = document.getElementById(el.dataset.figure);
  if (typeof Plotly === "undefined") {
    target.textContent = "plotly.js did not load: run npm install in the repository, then reload.";
    continue;
  }
  const spec = JSON.parse(el.textContent);
  Plotly.newPlot(target, spec.data, spec.layout, Object.assign({ responsive: true }, spec.config));
}`;

/**
 * Regenerate `index.html` in the figures directory: every `*.json` figure (sorted by name) under its own
 * heading, drawn interactively by one shared copy of plotly.js from `../node_modules`.
 * @param dir the figures directory (default `figuresDir()`)
 * @returns the path written
 */
export function writeFiguresIndex(dir: string = figuresDir()): string {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith(".json") && !f.startsWith("."))
    .map((f) => f.slice(0, -".json".length))
    .sort();
  const sections = names.map((name, i) => {
    const id = `figure-${i}`;
    const heading = `<h2 id="${escapeHtml(name)}"><a href="#${escapeHtml(name)}">${escapeHtml(name)}</a></h2>`;
    let spec: unknown;
    try {
      spec = JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8"));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return `<section>\n${heading}\n<p class="error">cannot read ${escapeHtml(name)}.json: ${escapeHtml(why)}</p>\n</section>`;
    }
    // "<" never occurs outside JSON strings, and "\u003c" is the same string to JSON.parse: so no "</script>".
    const json = JSON.stringify(spec).replace(/</g, "\\u003c");
    return [
      "<section>",
      heading,
      `<div class="figure" id="${id}"></div>`,
      `<script type="application/json" data-figure="${id}">${json}</script>`,
      "</section>",
    ].join("\n");
  });
  const html = `<!DOCTYPE html>
<!--
  All figures of this project, interactive. Generated by saveFigure() (src/plot/save.ts): do not edit.
  Open it in a browser from the repository checkout (for example: xdg-open figures/index.html, or
  python3 -m http.server in the repository root, then http://localhost:8000/figures/). It loads plotly.js
  from ../node_modules, so install the dependencies (npm install) first.
-->
<html lang="en">
<head>
<meta charset="utf-8">
<title>saerch-ts figures</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 900px; color: #222; }
h2 { font-size: 1.1em; margin-top: 2.5em; }
h2 a { color: inherit; text-decoration: none; }
.error { color: #b00; }
</style>
<script src="../node_modules/plotly.js-dist-min/plotly.min.js"></script>
</head>
<body>
<h1>saerch-ts figures</h1>
<p>${names.length} figure${names.length === 1 ? "" : "s"}: ${names.map((n) => `<a href="#${escapeHtml(n)}">${escapeHtml(n)}</a>`).join(", ")}</p>
${sections.join("\n")}
<script>${PAGE_SCRIPT}
</script>
</body>
</html>
`;
  const target = join(dir, "index.html");
  writeFileAtomic(target, html);
  return target;
}
