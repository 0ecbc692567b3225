/**
 * Tests for src/interpret/spend-ledger.ts: a run's paid requests appended to `spend.jsonl` as the meter
 * records them (cached replies not), the ledger's earlier USD added to the meter's prior spend, and a torn
 * last line (a crash mid-append) ignored.
 */
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CostMeter } from "../../src/interpret/cost.js";
import { readRunSpend, SPEND_FILE, withRunSpend } from "../../src/interpret/spend-ledger.js";
import { readJsonlLog } from "../../src/io/jsonl.js";

/** $1 per 1M prompt tokens, $2 per 1M completion tokens. */
const PRICES = { m: { inputPerMTok: 1, outputPerMTok: 2 } };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "saerch-spend-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("withRunSpend", () => {
  it("appends each paid request, adds the earlier spend to the meter, and stops charging afterwards", async () => {
    expect(readRunSpend(dir)).toEqual({ requests: 0, usd: 0 });
    const a = new CostMeter(PRICES);
    await withRunSpend(a, dir, async (spend) => {
      a.record("interpreter", "m", { promptTokens: 1_000_000, completionTokens: 500_000 }, false); // $2
      a.record("predictor", "m", { promptTokens: 10, completionTokens: 1 }, true); // cached: free, not logged
      expect(spend()).toEqual({ requests: 1, usd: 2 });
    });
    a.record("interpreter", "m", { promptTokens: 1_000_000, completionTokens: 0 }, false); // outside: not this run's
    expect(readJsonlLog(join(dir, SPEND_FILE))).toEqual([
      { role: "interpreter", model: "m", promptTokens: 1_000_000, completionTokens: 500_000, usd: 2, at: expect.any(String) as string, pid: process.pid },
    ]);
    appendFileSync(join(dir, SPEND_FILE), '{"usd": 100'); // a torn line from a crash
    const b = new CostMeter(PRICES, 5);
    await withRunSpend(b, dir, async (spend) => {
      expect(b.priorUsd).toBe(2);
      expect(spend()).toEqual({ requests: 1, usd: 2 });
    });
    expect(readRunSpend(dir)).toEqual({ requests: 1, usd: 2 });
  });
});
