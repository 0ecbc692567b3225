/**
 * What a run directory has paid for, across processes: `spend.jsonl` holds one line per paid LLM request
 * (role, model, tokens, USD, pid, time), appended crash-safely as each reply arrives. A stage opens the
 * ledger of the run it works on with `withRunSpend`: the USD already there counts against the budget
 * (`CostMeter.addPriorSpend`), so a rerun after a budget stop or a crash cannot spend the cap again, and the
 * session's paid requests are appended (`CostMeter.chargeTo`). The caller holds the run's lock
 * (src/io/run-lock.ts), so no other process appends meanwhile.
 */
import { join } from "node:path";
import { JsonlAppender, readJsonlLog } from "../io/jsonl.js";
import type { Charge, CostMeter } from "./cost.js";

/** The ledger file of a run directory. */
export const SPEND_FILE = "spend.jsonl";

/** One line of `spend.jsonl`. */
export interface SpendEntry extends Charge {
  /** When the reply arrived (ISO 8601). */
  at: string;
  /** The process that paid. */
  pid: number;
}

/** A run's spend so far. */
export interface RunSpend {
  /** Paid requests. */
  requests: number;
  /** USD. */
  usd: number;
}

/** Sum of a run directory's ledger (zero when it has none). */
export function readRunSpend(dir: string): RunSpend {
  const entries = readJsonlLog<SpendEntry>(join(dir, SPEND_FILE));
  return { requests: entries.length, usd: entries.reduce((acc, e) => acc + e.usd, 0) };
}

/**
 * Run `fn` with `meter` charging `dir`'s ledger: the ledger's earlier spend is added to the meter's prior
 * spend first, and every request paid while `fn` runs is appended.
 * @param fn gets the run's spend so far (earlier sessions plus this one)
 */
export async function withRunSpend<T>(meter: CostMeter, dir: string, fn: (spend: () => RunSpend) => Promise<T>): Promise<T> {
  const prior = readRunSpend(dir);
  const total: RunSpend = { ...prior };
  meter.addPriorSpend(prior.usd);
  let log: JsonlAppender | undefined;
  meter.chargeTo((charge) => {
    log ??= new JsonlAppender(join(dir, SPEND_FILE));
    log.append({ ...charge, at: new Date().toISOString(), pid: process.pid } satisfies SpendEntry);
    total.requests++;
    total.usd += charge.usd;
  });
  try {
    return await fn(() => ({ ...total }));
  } finally {
    meter.chargeTo(undefined);
    log?.close();
  }
}
