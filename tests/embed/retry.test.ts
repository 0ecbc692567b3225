/**
 * Tests for the retry helpers: backoff arithmetic, withRetries under fake timers (exact waits, Retry-After
 * overriding backoff, non-retryable errors, exhaustion, abort), Retry-After parsing, and
 * mapWithConcurrency (order, bound, first failure stops and aborts the rest).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  backoffDelayMs,
  mapWithConcurrency,
  parseRetryAfter,
  RetriesExhaustedError,
  retryAfterFromHeaders,
  sleep,
  withRetries,
} from "../../src/embed/retry.js";

class Transient extends Error {
  constructor(readonly waitMs?: number) {
    super("transient");
  }
}

describe("backoffDelayMs", () => {
  it("doubles per retry, caps, and jitters within [0.5, 1) of the raw delay", () => {
    // base 100: raw delays 100, 200, 400, 800, then capped at 1000; u = 0 → half, u → 1 → full.
    expect([0, 1, 2, 3, 4, 5].map((r) => backoffDelayMs(r, 100, 1000, 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect(backoffDelayMs(2, 100, 1000, 0.5)).toBe(300); // 400 · (0.5 + 0.25)
    expect(backoffDelayMs(2, 100, 1000, 0.999)).toBeCloseTo(399.8, 6);
  });
});

describe("withRetries (fake timers)", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("retries with exponential backoff and returns the first success", async () => {
    const waits: number[] = [];
    const fn = vi.fn(async (attempt: number) => {
      if (attempt < 4) throw new Transient();
      return `ok on ${attempt}`;
    });
    const p = withRetries(fn, {
      maxRetries: 5,
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      random: () => 0,
      onRetry: ({ delayMs }) => waits.push(delayMs),
    });
    await vi.advanceTimersByTimeAsync(49); // first wait is 50 ms (100 · 0.5)
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(100 + 200);
    await expect(p).resolves.toBe("ok on 4");
    expect(waits).toEqual([50, 100, 200]);
  });

  it("a server-requested wait replaces the backoff; an absurd one is ignored", async () => {
    const waits: number[] = [];
    let n = 0;
    const p = withRetries(
      async () => {
        n++;
        if (n === 1) throw new Transient(1234);
        if (n === 2) throw new Transient(3_600_000); // 1 h > maxRetryAfterMs: use backoff (100 · 2 · 0.5)
        return n;
      },
      {
        maxRetries: 3,
        baseDelayMs: 100,
        maxDelayMs: 1000,
        random: () => 0,
        retryAfterMs: (e) => (e instanceof Transient ? e.waitMs : undefined),
        onRetry: ({ delayMs }) => waits.push(delayMs),
      },
    );
    await vi.advanceTimersByTimeAsync(1234 + 100);
    await expect(p).resolves.toBe(3);
    expect(waits).toEqual([1234, 100]);
  });

  it("non-retryable errors propagate at once, unchanged", async () => {
    const boom = new Error("bad request");
    const fn = vi.fn(async () => {
      throw boom;
    });
    await expect(withRetries(fn, { maxRetries: 5, baseDelayMs: 1, maxDelayMs: 1, isRetryable: (e) => e instanceof Transient })).rejects.toBe(boom);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("gives up after maxRetries + 1 attempts with RetriesExhaustedError", async () => {
    const fn = vi.fn(async () => {
      throw new Transient();
    });
    const p = withRetries(fn, { maxRetries: 2, baseDelayMs: 10, maxDelayMs: 10, random: () => 0, label: "fetch thing" });
    const caught = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    const err = await caught;
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect((err as RetriesExhaustedError).attempts).toBe(3);
    expect((err as RetriesExhaustedError).lastError).toBeInstanceOf(Transient);
    expect((err as Error).message).toMatch(/^fetch thing failed after 3 attempts: Error: transient/);
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it("an abort during the wait rejects with the signal's reason and stops retrying", async () => {
    const ctl = new AbortController();
    const fn = vi.fn(async () => {
      throw new Transient();
    });
    const p = withRetries(fn, { maxRetries: 5, baseDelayMs: 1000, maxDelayMs: 1000, signal: ctl.signal }).catch(
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(10);
    ctl.abort(new Error("stopped"));
    expect(((await p) as Error).message).toBe("stopped");
    expect(fn).toHaveBeenCalledTimes(1);
  });
});

describe("parseRetryAfter / retryAfterFromHeaders", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  it("seconds, decimals, HTTP dates, junk", () => {
    expect(parseRetryAfter("0.2", now)).toBe(200);
    expect(parseRetryAfter(" 3 ", now)).toBe(3000);
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 23:59:00 GMT", now)).toBe(0); // in the past
    for (const bad of [undefined, null, "", "-1", "soon", "1e3", "NaN"]) expect(parseRetryAfter(bad, now)).toBeUndefined();
  });
  it("retry-after-ms wins over retry-after; invalid ms falls back", () => {
    expect(retryAfterFromHeaders(new Headers({ "retry-after-ms": "150", "retry-after": "30" }), now)).toBe(150);
    expect(retryAfterFromHeaders(new Headers({ "retry-after-ms": "x", "retry-after": "2" }), now)).toBe(2000);
    expect(retryAfterFromHeaders(new Headers(), now)).toBeUndefined();
  });
});

describe("mapWithConcurrency", () => {
  it("keeps input order and never exceeds the limit", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const delays = [30, 5, 20, 1, 15, 8, 2, 25, 3, 12];
    const out = await mapWithConcurrency(delays, 3, async (ms, i) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(ms);
      inFlight--;
      return i * 10;
    });
    expect(out).toEqual(delays.map((_, i) => i * 10));
    expect(maxInFlight).toBe(3);
    expect(await mapWithConcurrency([], 4, async () => 1)).toEqual([]);
  });

  it("on the first failure: starts nothing new, aborts in-flight calls, rejects with that error after they settle", async () => {
    const started: number[] = [];
    const settled: number[] = [];
    const err = await mapWithConcurrency([0, 1, 2, 3, 4, 5], 2, async (_x, i, signal) => {
      started.push(i);
      try {
        if (i === 1) {
          await sleep(5);
          throw new Error("item 1 failed");
        }
        await sleep(1000, signal); // item 0 is aborted when item 1 fails
        return i;
      } finally {
        settled.push(i);
      }
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe("item 1 failed");
    expect(started).toEqual([0, 1]);
    expect(settled.sort()).toEqual([0, 1]);
  });

  it("rejects a bad limit", async () => {
    await expect(mapWithConcurrency([1], 0, async (x) => x)).rejects.toThrow(/positive integer/);
  });
});
