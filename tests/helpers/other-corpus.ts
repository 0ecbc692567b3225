/**
 * Run `fn` while a store's identity sidecar says it holds another corpus (same path, same vectors), then
 * restore the sidecar as it was: how the stage tests check that corpus content, not a path, names a run.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { STORE_IDENTITY_FILE, storeIdentity } from "../../src/embed/identity.js";
import type { EmbeddingStore } from "../../src/embed/store-reader.js";

export async function withOtherCorpus<T>(store: EmbeddingStore, fn: () => Promise<T>): Promise<T> {
  const sidecar = join(store.dir, STORE_IDENTITY_FILE);
  const saved = existsSync(sidecar) ? readFileSync(sidecar, "utf8") : undefined;
  try {
    writeFileSync(sidecar, JSON.stringify({ ...storeIdentity(store), corpus: "0123456789abcdef" }));
    return await fn();
  } finally {
    if (saved === undefined) rmSync(sidecar, { force: true });
    else writeFileSync(sidecar, saved);
  }
}
