/**
 * The explorer's JSON API contract (METHOD.md §8: the authors' app had a search tab with feature sliders
 * and a feature tab; this adds families, maps and lists). Requests are zod schemas with bounded lengths,
 * counts and ranges — the server validates every input with them — and responses are plain TypeScript
 * types shared by the server (src/explore/server.ts) and the front end (src/explore/web/). Errors are
 * `{ error: string, fix?: string }` with a 4xx/5xx status; no response ever holds a key or a machine path.
 */
import { z } from "zod";

/** Longest query or test text, in characters. */
export const MAX_TEXT_CHARS = 1000;
/** Most features or families edited in one search. */
export const MAX_EDITS = 64;
/** Most results per search. */
export const MAX_RESULTS = 50;
/** Largest absolute slider value (activations and strengths are far smaller). */
export const MAX_EDIT_VALUE = 100;
/** Longest list name, in characters. */
export const MAX_LIST_NAME = 80;
/** Most features in a saved list. */
export const MAX_LIST_FEATURES = 200;
/** Largest accepted request body, in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

const Domain = z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, "a domain name (letters, digits, '.', '_', '-')");
const Id = z.coerce.number().int().min(0).max(10_000_000);
const Value = z.number().finite().min(-MAX_EDIT_VALUE).max(MAX_EDIT_VALUE);

/** POST /api/search: a (steered) search. */
export const SearchRequest = z.strictObject({
  domain: Domain,
  query: z.string().min(1).max(MAX_TEXT_CHARS),
  /** "clamp": set latents and decode (the app); "add": add unit decoder directions to q. */
  form: z.enum(["clamp", "add"]).default("clamp"),
  /** Per-feature values: the latent's new activation (clamp) or a strength (add). */
  features: z.array(z.strictObject({ feature: Id, value: Value })).max(MAX_EDITS).default([]),
  /** Whole families: one value each, spread over members. */
  families: z.array(z.strictObject({ id: Id, value: Value })).max(MAX_EDITS).default([]),
  /** Hide active features denser than this from the slider list (the response still lists them as hidden). */
  maxDensity: z.number().min(0).max(1).default(1),
  k: z.number().int().min(1).max(MAX_RESULTS).default(10),
});
export type SearchRequest = z.infer<typeof SearchRequest>;

/** One active feature of a query, as a slider. */
export interface ActiveFeature {
  feature: number;
  activation: number;
  label: string | null;
  density: number;
  /** Slider range: the feature's largest observed activation over the corpus. */
  maxActivation: number;
  /** True when density > maxDensity (listed, not shown as a slider). */
  hidden: boolean;
}

/** One search result. */
export interface SearchHit {
  id: string;
  title: string;
  year: number | null;
  categories: string[];
  score: number;
  /** https://arxiv.org/abs/<id> */
  url: string;
}

/** POST /api/search response. */
export interface SearchResponse {
  domain: string;
  /** cos(q, q′): 1 for an unedited search with the error kept. */
  cos: number;
  active: ActiveFeature[];
  hits: SearchHit[];
}

/** GET /api/domains response: what the default run holds per domain, and what is missing. */
export interface DomainsResponse {
  domains: Array<{
    domain: string;
    sae: string;
    n: number;
    k: number;
    documents: number;
    labelled: number;
    families: number;
    maps: boolean;
    /** Missing pieces, each naming the notebook that makes it (e.g. "no families: run notebooks/05-families.ipynb"). */
    missing: string[];
  }>;
  /** Set when the database was built from inputs that have changed since (served anyway; `npm run explore:build` rebuilds). */
  stale?: string;
}

/** GET /api/features/:domain/:id response. */
export interface FeatureResponse {
  domain: string;
  feature: number;
  label: string | null;
  scorer: string | null;
  f1: number | null;
  pearson: number | null;
  density: number;
  /** Activation histogram over the documents where it fires (log-y in the page). */
  histogram: { edges: number[]; counts: number[] };
  /** Top documents, highest activation first. */
  top: Array<{ id: string; title: string; activation: number }>;
  /** Documents from lower quantiles of its activations: e.g. the 50th and 10th percentile. */
  quantiles: Array<{ quantile: number; docs: Array<{ id: string; title: string; activation: number }> }>;
  /** The 5 most and the 5 least similar features by decoder cosine (the target itself excluded). */
  similar: Array<{ feature: number; label: string | null; cosine: number }>;
  dissimilar: Array<{ feature: number; label: string | null; cosine: number }>;
  /** Top co-occurring features by the overlap coefficient C/min(n_i, n_j) (not raw counts). */
  cooccurring: Array<{ feature: number; label: string | null; overlap: number }>;
  /** Families the feature is in, as root or member. */
  families: Array<{ id: number; label: string | null; role: "root" | "member"; size: number }>;
  /** Nearest features in the other SAE sizes of the sweep (feature splitting), when the sweep exists. */
  splitting: Array<{ sae: string; feature: number; cosine: number }>;
}

/** POST /api/features/:domain/:id/activation: "test your text". */
export const ActivationRequest = z.strictObject({ text: z.string().min(1).max(MAX_TEXT_CHARS) });
export type ActivationRequest = z.infer<typeof ActivationRequest>;
/** Its response: the feature's activation (0 when not in the text's top-k) and the text's active features. */
export interface ActivationResponse {
  feature: number;
  activation: number;
  /** ReLU(W_enc(x − b_pre) + b_lat) of this feature before the top-k: how close it came when it is not active. */
  preActivation: number;
  active: Array<{ feature: number; activation: number; label: string | null }>;
}

/** GET /api/labels?domain=&q=&mode=&limit=: label search by keyword (FTS5) or by meaning (embedding cosine). */
export const LabelSearchQuery = z.strictObject({
  domain: Domain,
  q: z.string().min(1).max(200),
  mode: z.enum(["keyword", "meaning"]).default("keyword"),
  limit: z.coerce.number().int().min(1).max(50).default(10),
});
export type LabelSearchQuery = z.infer<typeof LabelSearchQuery>;
export interface LabelSearchResponse {
  results: Array<{ feature: number; label: string; score: number; density: number }>;
}

/** GET /api/families/:domain response: the family forest (roots first), for a collapsible tree. */
export interface FamiliesResponse {
  domain: string;
  featureSet: string;
  families: Array<{ id: number; label: string | null; root: number; rootLabel: string | null; size: number; depth: number; parentFamily: number | null; f1: number | null; pearson: number | null }>;
}

/** GET /api/families/:domain/:id response. */
export interface FamilyResponse {
  domain: string;
  id: number;
  label: string | null;
  root: { feature: number; label: string | null };
  members: Array<{ feature: number; label: string | null; parent: number; weight: number; depth: number }>;
  /** The family's block of the overlap-coefficient matrix: features in order, values row-major. */
  block: { features: number[]; overlap: number[] };
  /** Nested families inside it. */
  nested: number[];
}

/** GET /api/maps/:domain/:kind (kind "features" | "documents"): 2-D coordinates computed once offline (UMAP). */
export interface MapResponse {
  domain: string;
  kind: "features" | "documents";
  /** Flat [x0, y0, x1, y1, …], each in [−1, 1]. */
  points: number[];
  /** Per point: feature id or document id. */
  ids: Array<number | string>;
  /** Per point: a label (feature) or a title (document). */
  names: string[];
  /** Per point colour keys. */
  density?: number[];
  family?: Array<number | null>;
  domainOf?: string[];
}

/** POST /api/lists: save a named feature list. */
export const ListRequest = z.strictObject({
  domain: Domain,
  name: z.string().min(1).max(MAX_LIST_NAME),
  features: z.array(Id).min(1).max(MAX_LIST_FEATURES),
});
export type ListRequest = z.infer<typeof ListRequest>;
export interface ListResponse {
  id: number;
  domain: string;
  name: string;
  features: number[];
}

/** POST /api/lists/run: one test text across a list of features. */
export const ListRunRequest = z.strictObject({
  domain: Domain,
  features: z.array(Id).min(1).max(MAX_LIST_FEATURES),
  text: z.string().min(1).max(MAX_TEXT_CHARS),
});
export type ListRunRequest = z.infer<typeof ListRunRequest>;
export interface ListRunResponse {
  /** activation: in the text's top-k (0 otherwise); preActivation: before the top-k, as in ActivationResponse. */
  results: Array<{ feature: number; label: string | null; activation: number; preActivation: number }>;
}

/** GET /api/lists?domain=: the saved lists (of one domain, or all). GET /api/lists/:id: one ListResponse. */
export const ListsQuery = z.strictObject({ domain: Domain.optional() });
export type ListsQuery = z.infer<typeof ListsQuery>;
export interface ListsResponse {
  lists: ListResponse[];
}

/** Path parameters: ids are plain decimal digits (no sign, exponent or hex), domains as above. */
export const PathId = z.string().regex(/^\d{1,8}$/, "a non-negative integer id").transform(Number);
/** /api/families/:domain. */
export const DomainPath = z.strictObject({ domain: Domain });
/** /api/features/:domain/:id and /api/families/:domain/:id. */
export const ItemPath = z.strictObject({ domain: Domain, id: PathId });
/** /api/maps/:domain/:kind. */
export const MapPath = z.strictObject({ domain: Domain, kind: z.enum(["features", "documents"]) });
/** /api/lists/:id. */
export const ListPath = z.strictObject({ id: PathId });

/** Every error response. */
export interface ApiError {
  error: string;
  fix?: string;
}
