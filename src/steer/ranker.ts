/**
 * The exact index behind the steering evaluation and steered search (METHOD.md §7): adapters from
 * `ExactIndex` to the evaluation's `RankerFactory` and to `steeredSearch`'s `SearchTarget`.
 */
import type { EmbeddingStore } from "../embed/store-reader.js";
import { ExactIndex, type ExactIndexOptions } from "./exact-index.js";
import type { SearchTarget } from "./search.js";
import type { RankerFactory } from "./stage.js";

/** A ranker factory that builds an `ExactIndex` over the given store rows (closed when the stage is done). */
export function exactIndexRanker(opts: Pick<ExactIndexOptions, "dtype" | "threads"> = {}): RankerFactory {
  return (store, rows) => {
    const index = ExactIndex.fromStore(store, { ...opts, rows });
    return Promise.resolve({
      rank: (queriesBD: Float32Array, _b: number, k: number) => Promise.resolve(index.search(queriesBD, k).map((hits) => Int32Array.from(hits, (h) => h.row))),
      close: () => void index.close(),
    });
  };
}

/** An `ExactIndex` over a store as the target of `steeredSearch`. */
export function searchTargetOf(index: ExactIndex, store: Pick<EmbeddingStore, "manifest">): SearchTarget {
  return {
    embedderId: store.manifest.embedderId,
    dim: index.dim,
    search: (queriesBD, _b, k) => Promise.resolve(index.search(queriesBD, k).map((hits) => hits.map((h) => ({ row: h.row, score: h.score })))),
  };
}
