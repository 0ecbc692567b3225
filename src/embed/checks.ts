/**
 * Sanity checks on an embedding set (METHOD.md §1): documents of one domain should sit closer to each
 * other than to the other domain's. Sampled pairs keep this O(pairs · D) on any corpus size; on a store,
 * `storeDomainCosines` reads only the sampled rows (the paper's 270k × 1536 store is 1.6 GB).
 */
import { SaerchError } from "../core/errors.js";
import { readNpyHeader, readNpyRows } from "../io/npy.js";
import { readIdList } from "./adopt-npy.js";
import { Rng } from "../core/rng.js";
import { cosine } from "../core/vector.js";
import type { EmbeddingStore } from "./store-reader.js";

/** Cosine similarities of sampled document pairs, by pair kind. */
export interface DomainCosines {
  /** "within <domain>" for each domain, then "between <a> / <b>" for the first two domains. */
  groups: Record<string, Float32Array>;
  /** Mean of each group. */
  means: Record<string, number>;
}

/** Options of `domainCosines` and `storeDomainCosines`. */
export interface DomainCosineOptions {
  /** Pairs sampled per group (default 2000). */
  pairs?: number;
  /** Seed of the pair draw (default 0). */
  seed?: number;
}

/** The sampled pairs of one group: pair p compares rows `firstP[p]` and `secondP[p]`. */
interface PairDraw {
  name: string;
  /** `[P]` first row of each pair. */
  firstP: Int32Array;
  /** `[P]` second row of each pair. */
  secondP: Int32Array;
}

/** Default pairs gathered at once by `storeDomainCosines` (2 · 1024 rows: 12 MiB at D = 1536). */
const PAIR_CHUNK = 1024;

/**
 * Draw the row pairs of every group: `pairs` within each domain (never a row with itself), then `pairs`
 * between the first two domains. One Rng stream in this order, so the in-memory and the store versions
 * compare exactly the same rows.
 */
function drawDomainPairs(labels: readonly string[], domains: [string, string], opts: DomainCosineOptions): PairDraw[] {
  const pairs = opts.pairs ?? 2000;
  const rng = new Rng(opts.seed ?? 0);
  const members = domains.map((dom) => labels.flatMap((l, i) => (l === dom ? [i] : [])));
  for (const [k, m] of members.entries()) {
    if (m.length < 2) throw new SaerchError(`domain "${domains[k]}" has ${m.length} document(s); need at least 2 to compare`);
  }
  const draw = (name: string, a: number[], b: number[], same: boolean): PairDraw => {
    const firstP = new Int32Array(pairs);
    const secondP = new Int32Array(pairs);
    for (let p = 0; p < pairs; p++) {
      const i = a[rng.int(a.length)]!;
      let j = b[rng.int(b.length)]!;
      while (same && j === i) j = b[rng.int(b.length)]!;
      firstP[p] = i;
      secondP[p] = j;
    }
    return { name, firstP, secondP };
  };
  const out = domains.map((dom, k) => draw(`within ${dom}`, members[k]!, members[k]!, true));
  out.push(draw(`between ${domains[0]} / ${domains[1]}`, members[0]!, members[1]!, false));
  return out;
}

/** Group cosines → the result with each group's mean. */
function withMeans(groups: Record<string, Float32Array>): DomainCosines {
  const means: Record<string, number> = {};
  for (const [name, v] of Object.entries(groups)) means[name] = v.reduce((s, x) => s + x, 0) / v.length;
  return { groups, means };
}

/**
 * Sample `pairs` random pairs within each domain and between the first two domains, and return their cosines.
 * Needs the whole matrix in memory; `storeDomainCosines` gives the same result from a store of any size.
 * @param embND row-major embeddings `[N, D]`
 * @param labels N domain labels (rows whose label is not in `domains` are ignored)
 * @param domains the domains to compare, e.g. ["astro-ph", "cs.LG"]
 */
export function domainCosines(
  embND: Float32Array,
  d: number,
  labels: string[],
  domains: [string, string],
  opts: DomainCosineOptions = {},
): DomainCosines {
  const row = (i: number): Float32Array => embND.subarray(i * d, (i + 1) * d);
  const groups: Record<string, Float32Array> = {};
  for (const { name, firstP, secondP } of drawDomainPairs(labels, domains, opts)) {
    const out = new Float32Array(firstP.length);
    for (let p = 0; p < firstP.length; p++) out[p] = cosine(row(firstP[p]!), row(secondP[p]!));
    groups[name] = out;
  }
  return withMeans(groups);
}

/**
 * `domainCosines` on a store, reading only the sampled rows, `chunk` pairs at a time (memory O(chunk · D)
 * whatever N is). The same pairs and the same cosines, bit for bit, as `domainCosines(store.readAll(), …)`.
 * @param store the embeddings, `[N, D]` on disk
 * @param labels N domain labels, in store row order
 * @param chunk pairs gathered per read (default 1024)
 */
export function storeDomainCosines(
  store: EmbeddingStore,
  labels: string[],
  domains: [string, string],
  opts: DomainCosineOptions = {},
  chunk = PAIR_CHUNK,
): DomainCosines {
  if (labels.length !== store.count) throw new SaerchError(`storeDomainCosines: ${labels.length} labels for a store of ${store.count} rows`, "pass one label per store row, in row order");
  if (!Number.isSafeInteger(chunk) || chunk < 1) throw new SaerchError(`chunk must be a positive integer, got ${chunk}`);
  const d = store.dim;
  const groups: Record<string, Float32Array> = {};
  for (const { name, firstP, secondP } of drawDomainPairs(labels, domains, opts)) {
    const out = new Float32Array(firstP.length);
    for (let s = 0; s < firstP.length; s += chunk) {
      const e = Math.min(firstP.length, s + chunk);
      const aCD = store.gather(firstP.subarray(s, e));
      const bCD = store.gather(secondP.subarray(s, e));
      for (let p = 0; p < e - s; p++) out[s + p] = cosine(aCD.subarray(p * d, (p + 1) * d), bCD.subarray(p * d, (p + 1) * d));
    }
    groups[name] = out;
  }
  return withMeans(groups);
}

/** How closely a store reproduces reference vectors for the same documents. */
export interface ReproductionCheck {
  /** Compared ids. */
  ids: string[];
  /** Cosine between the store's row and the reference vector, per id `[n]`. */
  cosines: Float32Array;
  /** Smallest and mean cosine. */
  min: number;
  mean: number;
}

/**
 * Compare the store's vectors for `ids` with reference vectors for the same ids: a precomputed `.npy` with
 * its id list (e.g. ../shared/embeddings/use-lite-512), or a live embedder run on the documents' texts.
 * @param rowOf the store's row for an id (e.g. `(id) => store.getById(id)`)
 * @param reference vectors `[n, D]` for `ids`, in order
 */
export function reproductionCheck(
  rowOf: (id: string) => Float32Array | undefined,
  ids: string[],
  referenceND: Float32Array,
): ReproductionCheck {
  if (ids.length === 0) throw new SaerchError("reproductionCheck needs at least one id");
  const d = referenceND.length / ids.length;
  const cosines = new Float32Array(ids.length);
  ids.forEach((id, i) => {
    const row = rowOf(id);
    if (!row) throw new SaerchError(`id "${id}" is not in the store`);
    if (row.length !== d) throw new SaerchError(`dimension mismatch: store ${row.length}, reference ${d}`);
    cosines[i] = cosine(row, referenceND.subarray(i * d, (i + 1) * d));
  });
  let min = Number.POSITIVE_INFINITY;
  let sum = 0;
  for (const c of cosines) {
    min = Math.min(min, c);
    sum += c;
  }
  return { ids, cosines, min, mean: sum / ids.length };
}

/**
 * Rows of a precomputed `.npy` for the given ids, via its id list (positioned reads; the file is never
 * loaded whole).
 * @returns `[ids.length, D]` in the order of `ids`
 */
export function npyRowsById(embeddingsPath: string, idsPath: string, ids: readonly string[]): Float32Array {
  const all = readIdList(idsPath);
  const index = new Map(all.map((id, i) => [id, i]));
  const d = readNpyHeader(embeddingsPath).shape[1] ?? 0;
  const out = new Float32Array(ids.length * d);
  ids.forEach((id, i) => {
    const r = index.get(id);
    if (r === undefined) throw new SaerchError(`id "${id}" is not listed in ${idsPath}`);
    const { data } = readNpyRows(embeddingsPath, r, r + 1);
    if (!(data instanceof Float32Array)) throw new SaerchError(`${embeddingsPath}: expected float32 rows`);
    out.set(data, i * d);
  });
  return out;
}
