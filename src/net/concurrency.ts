/**
 * Bounded concurrency for remote calls (METHOD.md §1: the embeddings are requested in parallel batches):
 * at most `limit` calls in flight, results in input order, and the first failure stops the rest.
 */
import { SaerchError } from "../core/errors.js";

/**
 * Map `fn` over items with at most `limit` calls in flight; results come back in input order.
 * On the first rejection no further item starts, the signal passed to the in-flight calls is aborted, and
 * the returned promise rejects with that first error once they have all settled (no dangling work).
 * @param fn receives the item, its index and an AbortSignal that fires when another call has failed
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number, signal: AbortSignal) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new SaerchError(`mapWithConcurrency: limit must be a positive integer, got ${limit}`);
  }
  const results = new Array<R>(items.length);
  const controller = new AbortController();
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i, controller.signal);
      } catch (err) {
        if (!failed) {
          failed = true;
          firstError = err;
          controller.abort(err);
        }
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = 0; w < Math.min(limit, items.length); w++) workers.push(worker());
  await Promise.all(workers);
  if (failed) throw firstError;
  return results;
}
