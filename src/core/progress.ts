/**
 * Progress reporting for long work (embedding, training, labelling). On a terminal it redraws one live line;
 * elsewhere (a notebook's captured stderr, CI logs) it prints one start line and one final summary, so a
 * committed notebook carries two lines per long step instead of a line per tick.
 */

/** A running progress report. */
export interface Progress {
  /** Set the number of finished units. */
  update(done: number): void;
  /** Finish: print the final line with the total time. */
  finish(): void;
}

/** Minimum milliseconds between terminal redraws. */
const REDRAW_MS = 200;

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 90) return `${s.toFixed(0)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/**
 * Start a progress report on stderr. Off a terminal the start line is written at once and nothing more
 * until `finish()`.
 * @param total units of work (> 0)
 * @param label what is being done, e.g. "embedding"
 * @param opts.unit unit name for the rate (default "items"); opts.stream where to write (default stderr;
 *   a live bar only when it is a TTY)
 */
export function progress(total: number, label: string, opts: { unit?: string; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const unit = opts.unit ?? "items";
  const t0 = performance.now();
  // Never drawn yet: the first update always draws, however young the process (performance.now() counts from
  // process start, so a 0 here would swallow every update in the first 200 ms).
  let lastDraw = Number.NEGATIVE_INFINITY;
  let current = 0;
  const line = (done: number): string => {
    const secs = (performance.now() - t0) / 1000;
    const rate = done / Math.max(secs, 1e-9);
    const pct = total > 0 ? (100 * done) / total : 100;
    const eta = done > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY;
    return `${label}: ${done}/${total} (${pct.toFixed(0)}%) ${rate.toFixed(1)} ${unit}/s, ${formatSeconds(secs)} elapsed, eta ${formatSeconds(eta)}`;
  };
  if (!tty) stream.write(`${label}: ${total} ${unit} …\n`);
  return {
    update(done: number): void {
      current = done;
      if (!tty) return;
      const now = performance.now();
      if (now - lastDraw >= REDRAW_MS) {
        lastDraw = now;
        stream.write(`\r${line(done)}\u001b[K`);
      }
    },
    finish(): void {
      const secs = (performance.now() - t0) / 1000;
      const msg = `${label}: ${current}/${total} done in ${formatSeconds(secs)} (${(current / Math.max(secs, 1e-9)).toFixed(1)} ${unit}/s)`;
      stream.write(tty ? `\r${msg}\u001b[K\n` : `${msg}\n`);
    },
  };
}
