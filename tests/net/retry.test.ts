/**
 * Tests for the shared retry policy: backoff arithmetic, withRetries under fake timers (exact waits, seeded
 * jitter, Retry-After overriding backoff, the polite floor, non-retryable errors and statuses, exhaustion,
 * abort) and Retry-After parsing (seconds, HTTP dates, retry-after-ms).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Rng } from "../../src/core/rng.js";
import {
  ApiRequestError,
  backoffDelayMs,
  isRetryableApiError,
  isRetryableStatus,
  parseRetryAfter,
  RetriesExhaustedError,
  retryAfterFromHeaders,
  withRetries,
} from "../../src/net/retry.js";

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

  it("jitter from a seeded rng: the same seed gives the same waits, each in [0.5, 1) of the doubled base", async () => {
    const run = async (seed: number): Promise<number[]> => {
      const rng = new Rng(seed);
      const waits: number[] = [];
      const p = withRetries(
        async (attempt) => {
          if (attempt <= 4) throw new Transient();
          return attempt;
        },
        { maxRetries: 4, baseDelayMs: 100, maxDelayMs: 10_000, random: () => rng.float(), onRetry: ({ delayMs }) => waits.push(delayMs) },
      );
      await vi.advanceTimersByTimeAsync(100 + 200 + 400 + 800);
      await expect(p).resolves.toBe(5);
      return waits;
    };
    const a = await run(11);
    expect(await run(11)).toEqual(a);
    expect(await run(12)).not.toEqual(a);
    // Retry r waits 100·2^r·(0.5 + 0.5·u), u the r-th draw of the seeded stream.
    const rng = new Rng(11);
    expect(a).toEqual([0, 1, 2, 3].map((r) => 100 * 2 ** r * (0.5 + 0.5 * rng.float())));
    a.forEach((w, r) => {
      expect(w).toBeGreaterThanOrEqual(50 * 2 ** r);
      expect(w).toBeLessThan(100 * 2 ** r);
    });
  });

  it("minDelayMs floors every wait, the server's Retry-After included", async () => {
    const waits: number[] = [];
    const p = withRetries(
      async (attempt) => {
        if (attempt === 1) throw new Transient(5); // the server asks for 5 ms
        if (attempt === 2) throw new Transient(); // backoff 10 · 2 · 0.5 = 10 ms
        return attempt;
      },
      {
        maxRetries: 3,
        baseDelayMs: 10,
        maxDelayMs: 1000,
        minDelayMs: 300,
        random: () => 0,
        retryAfterMs: (e) => (e instanceof Transient ? e.waitMs : undefined),
        onRetry: ({ delayMs }) => waits.push(delayMs),
      },
    );
    await vi.advanceTimersByTimeAsync(599);
    expect(waits).toEqual([300, 300]);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toBe(3);
  });

  it("an ApiRequestError is retried by its own flag: a non-retryable status stops at the first attempt", async () => {
    const attempts: number[] = [];
    const failing = (status: number) => async (attempt: number): Promise<never> => {
      attempts.push(attempt);
      throw new ApiRequestError("http", `HTTP ${status}`, { status, retryable: isRetryableStatus(status) });
    };
    const opts = { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 1, random: () => 0, isRetryable: isRetryableApiError };
    const bad = withRetries(failing(400), opts).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(((await bad) as ApiRequestError).status).toBe(400);
    expect(attempts).toEqual([1]);
    attempts.length = 0;
    const busy = withRetries(failing(503), opts).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(await busy).toBeInstanceOf(RetriesExhaustedError);
    expect(attempts).toEqual([1, 2, 3]);
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

describe("isRetryableStatus", () => {
  it("408, 409, 429 and every 5xx; no other status", () => {
    const retryable = [100, 200, 204, 301, 400, 401, 403, 404, 408, 409, 410, 422, 429, 499, 500, 502, 503, 504, 599].filter(isRetryableStatus);
    expect(retryable).toEqual([408, 409, 429, 500, 502, 503, 504, 599]);
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
    expect(retryAfterFromHeaders(new Headers({ "retry-after": "Wed, 01 Jan 2025 00:01:00 GMT" }), now)).toBe(60_000);
  });
});
