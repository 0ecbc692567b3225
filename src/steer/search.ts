/**
 * One steered search (METHOD.md §7), the call the explorer and notebooks make: query text → embedding with
 * the store's own embedder → SAE code → an intervention (clamp or add; single features or whole families)
 * → exact ranking over the index → the top-k with ids, scores and cos(q, q'). Every input is checked:
 * an empty or over-long query, a feature outside the dictionary, a non-finite strength, an embedder or
 * dimension that does not match the store or the SAE, an unknown family — each a clear error.
 */
import { SaerchError } from "../core/errors.js";
import type { Embedder } from "../embed/embedder.js";
import type { SaeParams } from "../sae/params.js";
import { activeFeatures, addDirections, clampQuery, cosineOf, encodeQuery, type FeatureEdit, familyEdits, type FamilyWeighting, type SteerFamily } from "./interventions.js";

/** Default longest query, in characters. */
export const MAX_QUERY_CHARS = 1000;

/** Throw unless a query is non-empty (after trimming) and at most `maxChars` long. */
export function checkQueryText(text: string, maxChars = MAX_QUERY_CHARS): string {
  const t = text.trim();
  if (t.length === 0) throw new SaerchError("the query is empty", "type a few words to search for");
  if (t.length > maxChars) throw new SaerchError(`the query has ${t.length} characters; at most ${maxChars} are allowed`, "shorten the query");
  return t;
}

/** What a steered search ranks over. */
export interface SearchTarget {
  /** Rank `[B, D]` queries; best-first hits (store rows and scores). */
  search: (queriesBD: Float32Array, b: number, k: number) => Promise<Array<Array<{ row: number; score: number }>>>;
  /** The embedder id of the indexed store (queries must be embedded by the same model). */
  embedderId: string;
  /** The indexed vectors' dimension. */
  dim: number;
}

/** A steering request. */
export interface SteerRequest {
  /** "clamp": set latents and decode (the app's form); "add": add unit decoder directions to q (the evaluation's form). */
  form: "clamp" | "add";
  /** Per-feature values (clamp) or strengths (add). */
  features?: FeatureEdit[];
  /** Whole families: one strength each, spread over members. */
  families?: Array<{ id: number; value: number }>;
  /** Clamp only: add the SAE error back, so an unedited query ranks exactly as the raw query (default false, as the app). */
  keepError?: boolean;
}

/** The outcome of a steered search. */
export interface SteerResult {
  /** `[D]` the raw query embedding q. */
  qD: Float32Array;
  /** `[D]` the steered query q'. */
  steeredD: Float32Array;
  /** cos(q, q'). */
  cos: number;
  /** The query's active features and activations, largest first. */
  active: Array<{ feature: number; activation: number }>;
  hits: Array<{ row: number; score: number }>;
}

/** Resolve family edits; an unknown family id is an error. */
function resolveFamilies(req: SteerRequest, families: ReadonlyMap<number, SteerFamily>, weighting: FamilyWeighting): FeatureEdit[] {
  const out: FeatureEdit[] = [];
  for (const { id, value } of req.families ?? []) {
    const fam = families.get(id);
    if (fam === undefined) throw new SaerchError(`family ${id} does not exist`, families.size === 0 ? "build families first (notebook 05)" : `use a family id of this SAE (${families.size} families)`);
    out.push(...familyEdits(fam, value, weighting, req.form === "add" ? "sum" : "max"));
  }
  return out;
}

/**
 * Embed, encode, steer and rank one query.
 * @param k results to return
 */
export async function steeredSearch(args: {
  text: string;
  embedder: Embedder;
  params: SaeParams;
  saeK: number;
  target: SearchTarget;
  request: SteerRequest;
  families?: ReadonlyMap<number, SteerFamily>;
  weighting?: FamilyWeighting;
  k: number;
  maxChars?: number;
}): Promise<SteerResult> {
  const text = checkQueryText(args.text, args.maxChars);
  if (args.embedder.id !== args.target.embedderId) {
    throw new SaerchError(`queries are embedded with ${args.embedder.id} but the index holds ${args.target.embedderId} vectors`, "embed queries with the store's own model");
  }
  if (args.params.d !== args.target.dim) throw new SaerchError(`the SAE has d = ${args.params.d} but the index holds ${args.target.dim}-d vectors`, "use an SAE trained on this store");
  const qD = (await args.embedder.embed([text])).slice(0, args.target.dim);
  const code = encodeQuery(args.params, qD, args.saeK);
  const edits = [...(args.request.features ?? []), ...resolveFamilies(args.request, args.families ?? new Map(), args.weighting ?? "cooccurrence")];
  const steeredD = args.request.form === "clamp" ? clampQuery(args.params, code, edits, { keepError: args.request.keepError ?? false }) : addDirections(args.params, qD, edits);
  const [hits] = await args.target.search(steeredD, 1, args.k);
  const active = [...activeFeatures(code).entries()].map(([feature, activation]) => ({ feature, activation })).sort((a, b) => b.activation - a.activation);
  return { qD, steeredD, cos: cosineOf(qD, steeredD), active, hits: hits! };
}
