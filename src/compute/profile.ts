/**
 * Size profiles. `PROFILE=tiny|default|paper` picks the size presets that every stage's config defines:
 * tiny for CI (minutes), default for the main job on a 2-core laptop-class machine, paper for the
 * paper's scale on a GPU machine (../shared/paper/METHOD.md).
 */
import { SaerchError } from "../core/errors.js";

/** The known profiles, smallest first. */
export const PROFILES = ["tiny", "default", "paper"] as const;

/** A size profile. */
export type Profile = (typeof PROFILES)[number];

/**
 * The active profile: `value` (default: env PROFILE), or "default" when unset or empty.
 * @throws SaerchError naming the valid profiles when the value is unknown
 */
export function resolveProfile(value: string | undefined = process.env.PROFILE): Profile {
  if (value === undefined || value.trim() === "") return "default";
  const v = value.trim();
  if ((PROFILES as readonly string[]).includes(v)) return v as Profile;
  throw new SaerchError(
    `unknown PROFILE "${v}"`,
    `use one of ${PROFILES.join(", ")} (e.g. PROFILE=tiny npm run notebooks)`,
  );
}

/** Pick the preset for the active profile from a per-profile table. */
export function forProfile<T>(presets: Record<Profile, T>, profile: Profile = resolveProfile()): T {
  return presets[profile];
}
