/**
 * Progress reporting for long work (embedding, training, labelling). On a terminal it redraws one line;
 * elsewhere (notebooks, CI logs) it prints a line at every `logEvery` fraction so outputs stay short.
 */

/** A running progress report. */
export interface Progress {
  /** Set the number of finished units. */
  update(done: number): void;
  /** Finish: print the final line with the total time. */
  finish(): void;
}

/** Fraction between non-terminal progress lines (every 20 %). */
const DEFAULT_LOG_EVERY = 0.2;
/** Minimum milliseconds between terminal redraws. */
const REDRAW_MS = 200;

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 90) return `${s.toFixed(0)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/**
 * Start a progress report on stderr.
 * @param total units of work (> 0)
 * @param label what is being done, e.g. "embedding"
 * @param opts.unit unit name for the rate (default "items"); opts.logEvery fraction between lines off a terminal
 */
export function progress(
  total: number,
  label: string,
  opts: { unit?: string; logEvery?: number; stream?: NodeJS.WriteStream } = {},
): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const unit = opts.unit ?? "items";
  const logEvery = opts.logEvery ?? DEFAULT_LOG_EVERY;
  const t0 = performance.now();
  let lastDraw = 0;
  let nextLog = logEvery;
  let current = 0;
  const line = (done: number): string => {
    const secs = (performance.now() - t0) / 1000;
    const rate = done / Math.max(secs, 1e-9);
    const pct = total > 0 ? (100 * done) / total : 100;
    const eta = done > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY;
    return `${label}: ${done}/${total} (${pct.toFixed(0)}%) ${rate.toFixed(1)} ${unit}/s, ${formatSeconds(secs)} elapsed, eta ${formatSeconds(eta)}`;
  };
  return {
    update(done: number): void {
      current = done;
      const now = performance.now();
      if (tty) {
        if (now - lastDraw >= REDRAW_MS) {
          lastDraw = now;
          stream.write(`\r${line(done)}\u001b[K`);
        }
      } else if (total > 0 && done / total >= nextLog && done < total) {
        while (done / total >= nextLog) nextLog += logEvery;
        stream.write(`${line(done)}\n`);
      }
    },
    finish(): void {
      const secs = (performance.now() - t0) / 1000;
      const msg = `${label}: ${current}/${total} done in ${formatSeconds(secs)} (${(current / Math.max(secs, 1e-9)).toFixed(1)} ${unit}/s)`;
      stream.write(tty ? `\r${msg}\u001b[K\n` : `${msg}\n`);
    },
  };
}
