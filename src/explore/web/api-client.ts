/**
 * Typed calls to the explorer's JSON API (src/explore/api.ts is the contract). Every failure becomes an
 * {@link ApiFailure} carrying the server's `{ error, fix }`, so a page can show it; an aborted request
 * rejects with the AbortError it was given, which pages ignore.
 */
import type {
  ActivationResponse,
  ApiError,
  DomainsResponse,
  FamiliesResponse,
  FamilyResponse,
  FeatureResponse,
  LabelSearchQuery,
  LabelSearchResponse,
  ListRequest,
  ListResponse,
  ListRunRequest,
  ListRunResponse,
  ListsResponse,
  MapResponse,
  SearchRequest,
  SearchResponse,
} from "../api.js";

/** A failed API call: the server's message and fix, or why the server could not be asked. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fix?: string,
  ) {
    super(message);
    this.name = "ApiFailure";
  }
}

/** True for the rejection of a request cancelled through its AbortSignal. */
export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === "AbortError";
}

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new ApiFailure(0, "cannot reach the explorer server", "is `npm run explore` still running? Reload the page once it is.");
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiFailure(res.status, `the server answered ${res.status} ${res.statusText} without JSON`);
  }
  if (!res.ok) {
    const e = (body ?? {}) as Partial<ApiError>;
    throw new ApiFailure(res.status, typeof e.error === "string" ? e.error : `HTTP ${res.status}`, typeof e.fix === "string" ? e.fix : undefined);
  }
  return body as T;
}

function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  return request<T>(path, { signal: signal ?? null });
}

function post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return request<T>(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: signal ?? null });
}

const seg = encodeURIComponent;

export const api = {
  domains: (signal?: AbortSignal) => get<DomainsResponse>("/api/domains", signal),
  search: (req: SearchRequest, signal?: AbortSignal) => post<SearchResponse>("/api/search", req, signal),
  feature: (domain: string, id: number, signal?: AbortSignal) => get<FeatureResponse>(`/api/features/${seg(domain)}/${id}`, signal),
  activation: (domain: string, id: number, text: string, signal?: AbortSignal) =>
    post<ActivationResponse>(`/api/features/${seg(domain)}/${id}/activation`, { text }, signal),
  labels: (query: LabelSearchQuery, signal?: AbortSignal) => {
    const params = new URLSearchParams({ domain: query.domain, q: query.q, mode: query.mode, limit: String(query.limit) });
    return get<LabelSearchResponse>(`/api/labels?${params.toString()}`, signal);
  },
  families: (domain: string, signal?: AbortSignal) => get<FamiliesResponse>(`/api/families/${seg(domain)}`, signal),
  family: (domain: string, id: number, signal?: AbortSignal) => get<FamilyResponse>(`/api/families/${seg(domain)}/${id}`, signal),
  map: (domain: string, kind: "features" | "documents", signal?: AbortSignal) => get<MapResponse>(`/api/maps/${seg(domain)}/${kind}`, signal),
  saveList: (req: ListRequest, signal?: AbortSignal) => post<ListResponse>("/api/lists", req, signal),
  lists: (domain: string, signal?: AbortSignal) => get<ListsResponse>(`/api/lists?${new URLSearchParams({ domain }).toString()}`, signal),
  runList: (req: ListRunRequest, signal?: AbortSignal) => post<ListRunResponse>("/api/lists/run", req, signal),
};

/** Feature pages are fetched by several pages (slider ranges, list labels): one cached request per feature. */
const featureCache = new Map<string, Promise<FeatureResponse>>();

/** {@link api.feature}, cached per (domain, id); a failed request is not cached. */
export function cachedFeature(domain: string, id: number): Promise<FeatureResponse> {
  const key = `${domain}/${id}`;
  let p = featureCache.get(key);
  if (!p) {
    p = api.feature(domain, id);
    featureCache.set(key, p);
    p.catch(() => featureCache.delete(key));
  }
  return p;
}

/** The largest activation a feature page's histogram covers (its last bin edge), or `fallback`. */
export function maxActivationOf(f: FeatureResponse, fallback: number): number {
  const last = f.histogram.edges[f.histogram.edges.length - 1];
  return last !== undefined && Number.isFinite(last) && last > 0 ? last : fallback;
}
