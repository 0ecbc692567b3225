/** Tests for mapWithConcurrency: order, the bound, and the first failure stopping and aborting the rest. */
import { describe, expect, it } from "vitest";
import { mapWithConcurrency } from "../../src/net/concurrency.js";
import { sleep } from "../../src/net/retry.js";

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
