/**
 * Static figure rendering: plotly.js needs a DOM, so figures are drawn by `Plotly.toImage` inside headless
 * Chromium (Debian's, driven by playwright-core). One browser is launched lazily per process and reused
 * (launch ≈ seconds, each figure ≈ tens of milliseconds after that).
 *
 * The browser never keeps the process alive on its own: its pipes are unref'ed between renders and it is
 * closed on `beforeExit`, so a script ends when its own work ends. Call `closeRenderer()` to close it early
 * (tests do so in `afterAll`).
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { SaerchError } from "../core/errors.js";
import { assertFigureSpec, DEFAULT_HEIGHT, DEFAULT_WIDTH, type FigureSpec } from "./spec.js";

/** What to do when no browser is available (shared with `saveFigure`'s warning). */
export const BROWSER_FIX =
  "run `npm run setup` (installs Debian chromium) or `apt-get install -y chromium`, " +
  "or set SAERCH_CHROMIUM to a Chromium/Chrome executable";

/** Where Chromium is looked for when SAERCH_CHROMIUM is not set. */
const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** Flags that keep headless Chromium quiet and offline. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Longest a single `Plotly.toImage` call may take before the renderer is reset. */
const RENDER_TIMEOUT_MS = 60_000;

/** Options for {@link renderFigure}. */
export interface RenderOptions {
  /** Output format: PNG bytes or SVG text (UTF-8). */
  format: "png" | "svg";
  /** Width in CSS pixels (default: the layout's width, else 800). */
  width?: number;
  /** Height in CSS pixels (default: the layout's height, else 500). */
  height?: number;
  /** Pixel ratio for PNG output (default 1): a 800-wide figure at scale 2 is 1600 pixels wide. */
  scale?: number;
}

interface Renderer {
  context: BrowserContext;
  page: Page;
  /** Deletes the temporary profile directory (also registered on process `exit`). */
  cleanup: () => void;
}

let renderer: Promise<Renderer> | undefined;
let launches = 0;
let busy = 0;
let keepAlive: NodeJS.Timeout | undefined;
let exitHookInstalled = false;

/**
 * The Chromium executable to render with, or undefined when there is none.
 * SAERCH_CHROMIUM, when set, is the only candidate (empty or nonexistent means "no browser");
 * otherwise the usual Debian/Ubuntu/Chrome locations are tried.
 */
export function findBrowser(): string | undefined {
  const override = process.env.SAERCH_CHROMIUM;
  if (override !== undefined) return override !== "" && existsSync(override) ? override : undefined;
  return CANDIDATES.find((p) => existsSync(p));
}

/** How many browsers this process has launched (for tests: figures saved back to back share one). */
export function rendererLaunchCount(): number {
  return launches;
}

/** Hold the event loop open while a launch or render is in flight (the browser's pipes are unref'ed). */
function hold(): void {
  busy += 1;
  keepAlive ??= setInterval(() => {}, 1 << 30);
}

function release(): void {
  busy -= 1;
  if (busy === 0 && keepAlive) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

/** Node's live handles (an undocumented but long-standing API); empty where it is missing. */
function activeHandles(): unknown[] {
  const get = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles;
  return typeof get === "function" ? get.call(process) : [];
}

/**
 * Let the process exit while the browser is idle: unref the browser's child process and pipes (found among
 * the handles that appeared during launch), and close the browser on `beforeExit`.
 */
function detachFromEventLoop(before: Set<unknown>, executable: string): void {
  for (const h of activeHandles()) {
    if (before.has(h) || !h || typeof h !== "object" || !("spawnfile" in h)) continue;
    const child = h as ChildProcess;
    if (child.spawnfile !== executable) continue;
    child.unref();
    for (const stream of child.stdio) (stream as { unref?: () => void } | null)?.unref?.();
  }
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("beforeExit", () => {
      exitHookInstalled = false;
      void closeRenderer();
    });
  }
}

async function launch(executable: string): Promise<Renderer> {
  const userDataDir = mkdtempSync(join(tmpdir(), "saerch-chromium-"));
  const cleanup = (): void => {
    process.removeListener("exit", cleanup);
    rmSync(userDataDir, { recursive: true, force: true });
  };
  process.once("exit", cleanup);
  const before = new Set(activeHandles());
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: executable,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    launches += 1;
    const page = context.pages()[0] ?? (await context.newPage());
    const require = createRequire(import.meta.url);
    await page.addScriptTag({ path: require.resolve("plotly.js-dist-min/plotly.min.js") });
    detachFromEventLoop(before, executable);
    return { context, page, cleanup };
  } catch (err) {
    await context?.close().catch(() => {});
    cleanup();
    const message = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new SaerchError(`cannot start Chromium (${executable}) to render figures: ${message}`, BROWSER_FIX);
  }
}

/** The shared renderer, launched on first use. */
function getRenderer(): Promise<Renderer> {
  const executable = findBrowser();
  if (!executable) {
    throw new SaerchError("no Chromium browser found to render figures (PNG/SVG)", BROWSER_FIX);
  }
  if (!renderer) {
    const launching = launch(executable);
    renderer = launching;
    launching.catch(() => {
      if (renderer === launching) renderer = undefined;
    });
  }
  return renderer;
}

/** Decode a data URL (base64, as plotly gives PNG, or URL-encoded, as it gives SVG). */
function decodeDataUrl(url: string): Buffer {
  const comma = url.indexOf(",");
  if (!url.startsWith("data:") || comma < 0)
    throw new SaerchError("plotly returned something other than a data URL");
  const header = url.slice(0, comma);
  const body = url.slice(comma + 1);
  return header.endsWith(";base64")
    ? Buffer.from(body, "base64")
    : Buffer.from(decodeURIComponent(body), "utf8");
}

/**
 * Render a figure to PNG or SVG bytes with plotly.js in headless Chromium.
 * @throws SaerchError when no browser is available (with the fix), the spec is malformed, or plotly fails
 *   (carrying plotly's message)
 */
export async function renderFigure(spec: FigureSpec, opts: RenderOptions): Promise<Buffer> {
  assertFigureSpec(spec);
  const layout = spec.layout as { width?: unknown; height?: unknown };
  const size = (v: unknown, fallback: number): number => (typeof v === "number" && v > 0 ? v : fallback);
  const imageOpts = {
    format: opts.format,
    width: opts.width ?? size(layout.width, DEFAULT_WIDTH),
    height: opts.height ?? size(layout.height, DEFAULT_HEIGHT),
    scale: opts.scale ?? 1,
  };
  hold();
  let timer: NodeJS.Timeout | undefined;
  try {
    const { page } = await getRenderer();
    const work = page.evaluate(
      async ({ json, imageOpts }) => {
        try {
          const plotly = (
            globalThis as unknown as { Plotly: { toImage: (f: unknown, o: unknown) => Promise<string> } }
          ).Plotly;
          return { ok: true as const, url: await plotly.toImage(JSON.parse(json), imageOpts) };
        } catch (e) {
          return { ok: false as const, error: e instanceof Error ? e.message : String(e) };
        }
      },
      { json: JSON.stringify(spec), imageOpts },
    );
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        void closeRenderer();
        reject(new SaerchError(`plotly did not finish rendering within ${RENDER_TIMEOUT_MS / 1000} s`));
      }, RENDER_TIMEOUT_MS);
    });
    const result = await Promise.race([work, timeout]);
    if (!result.ok) throw new SaerchError(`plotly could not render the figure: ${result.error}`);
    return decodeDataUrl(result.url);
  } finally {
    clearTimeout(timer);
    release();
  }
}

/** Close the shared browser (if any) and delete its profile directory. Safe to call at any time. */
export async function closeRenderer(): Promise<void> {
  const current = renderer;
  renderer = undefined;
  if (!current) return;
  let r: Renderer;
  try {
    r = await current;
  } catch {
    return; // the launch failed and cleaned up after itself
  }
  try {
    await r.context.close();
  } finally {
    r.cleanup();
  }
}
