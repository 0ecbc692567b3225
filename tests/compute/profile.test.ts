import { describe, expect, it } from "vitest";
import { SaerchError } from "../../src/core/errors.js";
import { forProfile, PROFILES, resolveProfile } from "../../src/compute/profile.js";

describe("resolveProfile", () => {
  it("defaults to 'default' when unset or blank", () => {
    expect(resolveProfile(undefined)).toBe("default");
    expect(resolveProfile("  ")).toBe("default");
  });

  it("accepts every known profile, trimming spaces", () => {
    for (const p of PROFILES) expect(resolveProfile(` ${p} `)).toBe(p);
  });

  it("rejects an unknown profile with the list of valid ones", () => {
    expect(() => resolveProfile("huge")).toThrow(SaerchError);
    expect(() => resolveProfile("huge")).toThrow(/unknown PROFILE "huge"[\s\S]*tiny, default, paper/);
  });
});

describe("forProfile", () => {
  it("picks the preset of the given profile", () => {
    const presets = { tiny: 1, default: 2, paper: 3 };
    expect(forProfile(presets, "tiny")).toBe(1);
    expect(forProfile(presets, "paper")).toBe(3);
  });
});
