/**
 * Sanity checks on an embedding set (METHOD.md §1): documents of one domain should sit closer to each
 * other than to the other domain's. Sampled pairs keep this O(pairs · D) on any corpus size.
 */
import { SaerchError } from "../core/errors.js";
import { readNpyHeader, readNpyRows } from "../io/npy.js";
import { readIdList } from "./adopt-npy.js";
import { Rng } from "../core/rng.js";
import { cosine } from "../core/vector.js";

/** Cosine similarities of sampled document pairs, by pair kind. */
export interface DomainCosines {
  /** "within <domain>" for each domain, then "between <a> / <b>" for the first two domains. */
  groups: Record<string, Float32Array>;
  /** Mean of each group. */
  means: Record<string, number>;
}

/**
 * Sample `pairs` random pairs within each domain and between the first two domains, and return their cosines.
 * @param embND row-major embeddings `[N, D]`
 * @param labels N domain labels (rows whose label is not in `domains` are ignored)
 * @param domains the domains to compare, e.g. ["astro-ph", "cs.LG"]
 */
export function domainCosines(
  embND: Float32Array,
  d: number,
  labels: string[],
  domains: [string, string],
  opts: { pairs?: number; seed?: number } = {},
): DomainCosines {
  const pairs = opts.pairs ?? 2000;
  const rng = new Rng(opts.seed ?? 0);
  const members = domains.map((dom) => labels.flatMap((l, i) => (l === dom ? [i] : [])));
  for (const [k, m] of members.entries()) {
    if (m.length < 2) throw new SaerchError(`domain "${domains[k]}" has ${m.length} document(s); need at least 2 to compare`);
  }
  const row = (i: number): Float32Array => embND.subarray(i * d, (i + 1) * d);
  const groups: Record<string, Float32Array> = {};
  const draw = (a: number[], b: number[], same: boolean): Float32Array => {
    const out = new Float32Array(pairs);
    for (let p = 0; p < pairs; p++) {
      const i = a[rng.int(a.length)]!;
      let j = b[rng.int(b.length)]!;
      while (same && j === i) j = b[rng.int(b.length)]!;
      out[p] = cosine(row(i), row(j));
    }
    return out;
  };
  domains.forEach((dom, k) => {
    groups[`within ${dom}`] = draw(members[k]!, members[k]!, true);
  });
  groups[`between ${domains[0]} / ${domains[1]}`] = draw(members[0]!, members[1]!, false);
  const means: Record<string, number> = {};
  for (const [name, v] of Object.entries(groups)) means[name] = v.reduce((s, x) => s + x, 0) / v.length;
  return { groups, means };
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
