/**
 * The front end's pure pieces, in node: hash routes, URL state ⇄ page state (a shared steered search must
 * reload exactly), and the API bounds the browser restates (src/explore/web/limits.ts) against api.ts.
 */
import { describe, expect, it } from "vitest";
import * as api from "../../src/explore/api.js";
import * as limits from "../../src/explore/web/limits.js";
import { href, parseRoute } from "../../src/explore/web/route.js";
import { parseListState, parseMapState, parseSearchState, roundValue, searchParams, listParams, mapParams } from "../../src/explore/web/url-state.js";

describe("limits", () => {
  it("restates api.ts's request bounds exactly", () => {
    expect(limits.MAX_TEXT_CHARS).toBe(api.MAX_TEXT_CHARS);
    expect(limits.MAX_EDITS).toBe(api.MAX_EDITS);
    expect(limits.MAX_EDIT_VALUE).toBe(api.MAX_EDIT_VALUE);
    expect(limits.MAX_LIST_NAME).toBe(api.MAX_LIST_NAME);
    expect(limits.MAX_LIST_FEATURES).toBe(api.MAX_LIST_FEATURES);
    // The id bound: the largest id the search schema takes, and one more is refused.
    const req = (feature: number) => api.SearchRequest.safeParse({ domain: "x", query: "q", features: [{ feature, value: 0 }] }).success;
    expect(req(limits.MAX_ID)).toBe(true);
    expect(req(limits.MAX_ID + 1)).toBe(false);
  });
});

describe("parseRoute", () => {
  it("reads page, id and parameters; the empty hash is the search page", () => {
    expect(parseRoute("")).toMatchObject({ page: "search", id: null, problems: [] });
    const r = parseRoute("#/feature/12?d=cs.LG");
    expect(r).toMatchObject({ page: "feature", id: 12, problems: [] });
    expect(r.params.get("d")).toBe("cs.LG");
    expect(href("feature", 12, { d: "cs.LG" })).toBe("#/feature/12?d=cs.LG");
    expect(href("families")).toBe("#/families");
  });

  it("names an unknown page or a malformed id instead of failing", () => {
    expect(parseRoute("#/nowhere").problems[0]).toContain('there is no page "nowhere"');
    expect(parseRoute("#/feature/-3")).toMatchObject({ page: "feature", id: null });
    expect(parseRoute("#/feature/1e3").problems[0]).toContain('"1e3" is not a feature id');
    expect(parseRoute("#/family").problems[0]).toContain("needs an id");
    expect(parseRoute("#/family/99999999").id).toBeNull();
  });
});

describe("search state", () => {
  it("round-trips a steered search through the URL", () => {
    const state = { domain: "astro-ph", query: "dark matter & halos", form: "add" as const, features: [{ id: 12, value: 0.5 }, { id: 40, value: -1.25 }], families: [{ id: 3, value: 0.2 }], maxDensity: 0.05 };
    const params = searchParams(state);
    expect(params.toString()).toBe("d=astro-ph&q=dark+matter+%26+halos&form=add&f=12%3A0.5%2C40%3A-1.25&fam=3%3A0.2&t=0.05");
    expect(parseSearchState(new URLSearchParams(params.toString()))).toEqual({ state, problems: [] });
  });

  it("leaves defaults out and reads them back", () => {
    const p = searchParams({ domain: null, query: "", form: "clamp", features: [], families: [], maxDensity: 1 });
    expect(p.toString()).toBe("");
    expect(parseSearchState(p).state).toMatchObject({ form: "clamp", features: [], families: [], maxDensity: 1 });
  });

  it("keeps four significant digits, so a reloaded slider value is the shared one", () => {
    expect(roundValue(0.123456)).toBe(0.1235);
    expect(roundValue(-7.00004)).toBe(-7);
    const { state } = parseSearchState(searchParams({ domain: "x", query: "q", form: "clamp", features: [{ id: 1, value: roundValue(0.0812345) }], families: [], maxDensity: 1 }));
    expect(state.features).toEqual([{ id: 1, value: 0.08123 }]);
  });

  it("drops malformed pieces and says which", () => {
    const { state, problems } = parseSearchState(new URLSearchParams("d=a/b&q=x&form=sideways&f=abc:1,5:zz,7:0.2,8:1e9,9:0.1,9:0.3&t=7"));
    expect(state).toEqual({ domain: null, query: "x", form: "clamp", features: [{ id: 7, value: 0.2 }, { id: 9, value: 0.3 }], families: [], maxDensity: 1 });
    expect(problems).toHaveLength(4);
    expect(problems[0]).toContain('"a/b" is not a domain name');
    expect(problems[1]).toContain('"sideways" is not an intervention form');
    expect(problems[2]).toBe('ignored 3 malformed feature edits ("abc:1", "5:zz", "8:1e9"): each must be <feature id>:<value> with |value| ≤ 100');
    expect(problems[3]).toContain('density threshold "7"');
  });

  it("cuts an over-long query and too many edits to the API's bounds", () => {
    const f = Array.from({ length: limits.MAX_EDITS + 5 }, (_, i) => `${i}:0.1`).join(",");
    const { state, problems } = parseSearchState(new URLSearchParams({ q: "a".repeat(limits.MAX_TEXT_CHARS + 1), f }));
    expect(state.query).toHaveLength(limits.MAX_TEXT_CHARS);
    expect(state.features).toHaveLength(limits.MAX_EDITS);
    expect(problems).toHaveLength(2);
  });
});

describe("list and map state", () => {
  it("round-trips a list and drops bad or repeated ids", () => {
    const state = { domain: "cs.LG", name: "my list", features: [3, 1, 2], text: "attention" };
    expect(parseListState(listParams(state))).toEqual({ state, problems: [] });
    const bad = parseListState(new URLSearchParams("f=3,x,3,-1,4"));
    expect(bad.state.features).toEqual([3, 4]);
    expect(bad.problems).toEqual(['ignored 2 malformed feature ids ("x", "-1")']);
  });

  it("defaults the map to documents when a search is given, and names a bad map or colouring", () => {
    expect(parseMapState(new URLSearchParams("q=galaxy")).state).toMatchObject({ kind: "documents", colour: "density" });
    expect(parseMapState(new URLSearchParams("")).state.kind).toBe("features");
    const { state, problems } = parseMapState(new URLSearchParams("kind=globe&color=rainbow"));
    expect(state).toMatchObject({ kind: "features", colour: "density" });
    expect(problems).toHaveLength(2);
    expect(mapParams(state).toString()).toBe("kind=features");
  });
});
