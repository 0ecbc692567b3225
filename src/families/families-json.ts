/**
 * Our feature families as versioned JSON (METHOD.md §5): a FamilyBuild with typed arrays as lists and each
 * feature's label beside it, written atomically and read back through its schema and cross-field checks. Also
 * the JSON-reading pieces authors-families.ts shares: the feature-index schema, issue messages and `readJson`.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { FormatError, SaerchError } from "../core/errors.js";
import { writeJsonAtomic } from "../io/atomic.js";
import type { FamilyBuild } from "./build.js";

// ───────────────────────────── reading JSON (shared with authors-families.ts) ─────────────────────────────

/** Issues quoted in one error message; the rest are counted. */
const MAX_ISSUES_SHOWN = 5;

/** A feature id in a families JSON file (ours or the authors'): a non-negative integer. */
export const FeatureIndexJson = z.number().int().min(0);

/** A validation problem at a path inside the file. */
export interface Issue {
  path: ReadonlyArray<PropertyKey>;
  message: string;
}

/**
 * An issue path as `families[0].members[2]`, or with `keyed` (the first segment a label) as
 * `["Machine learning"].children[3][1]`.
 */
function issuePath(path: ReadonlyArray<PropertyKey>, keyed: boolean): string {
  if (path.length === 0) return "(top level)";
  const segment = (p: PropertyKey, i: number): string => {
    if (typeof p === "number") return `[${p}]`;
    if (i === 0) return keyed ? `[${JSON.stringify(String(p))}]` : String(p);
    return `.${String(p)}`;
  };
  return path.map(segment).join("");
}

/**
 * One line per issue (the first MAX_ISSUES_SHOWN), for an error message.
 * @param keyed the first path segment is a label (the authors' files), as in issuePath
 */
export function describeIssues(issues: readonly Issue[], keyed: boolean): string {
  const shown = issues.slice(0, MAX_ISSUES_SHOWN).map((i) => `  - ${issuePath(i.path, keyed)}: ${i.message}`);
  if (issues.length > MAX_ISSUES_SHOWN) shown.push(`  … and ${issues.length - MAX_ISSUES_SHOWN} more`);
  return shown.join("\n");
}

/**
 * Parse a JSON file, or throw a FormatError naming it (a SaerchError when it cannot be read).
 * @param fix the remedy the FormatError suggests
 */
export function readJson(path: string, fix: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new SaerchError(`cannot read ${path} (${(err as Error).message})`, "check the path");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FormatError(path, `not valid JSON (${(err as Error).message})`, fix);
  }
}

// ───────────────────────────── our families as JSON ─────────────────────────────

/** The `format` field of our families JSON. */
export const FAMILIES_JSON_FORMAT = "saerch-ts-families";
/** The version this module writes and reads. */
export const FAMILIES_JSON_VERSION = 1;

const Count = z.number().int().min(0);
const MemberJson = z.strictObject({
  feature: FeatureIndexJson,
  parent: FeatureIndexJson,
  weight: z.number(),
  depth: z.number().int().min(1),
  label: z.string().nullable(),
});
const FamilyJson = z.strictObject({
  id: Count,
  round: z.number().int().min(1),
  depth: Count,
  parentFamily: Count.nullable(),
  root: FeatureIndexJson,
  label: z.string().nullable(),
  threshold: z.number(),
  members: z.array(MemberJson),
});
const RoundJson = z.strictObject({ round: z.number().int().min(1), threshold: z.number(), active: Count, treeEdges: Count, roots: Count, families: Count });
const DuplicateJson = z.strictObject({ root: FeatureIndexJson, round: z.number().int().min(1), depth: Count, members: Count, keptFamily: Count, jaccard: z.number() });

/** Our families as plain JSON: a FamilyBuild with typed arrays as lists and each feature's label beside it. */
export const FamiliesJson = z.strictObject({
  format: z.literal(FAMILIES_JSON_FORMAT),
  version: z.literal(FAMILIES_JSON_VERSION),
  /** `[M]` the feature set, ascending. */
  featuresM: z.array(FeatureIndexJson),
  families: z.array(FamilyJson),
  rounds: z.array(RoundJson),
  duplicates: z.array(DuplicateJson),
});
/** Parsed families JSON. */
export type FamiliesJson = z.infer<typeof FamiliesJson>;

/**
 * A build as a plain, JSON-serialisable object (version FAMILIES_JSON_VERSION).
 * @param labels feature id → label; a feature without one gets `label: null`
 */
export function familiesToJson(build: FamilyBuild, labels?: ReadonlyMap<number, string>): FamiliesJson {
  const label = (f: number): string | null => labels?.get(f) ?? null;
  return {
    format: FAMILIES_JSON_FORMAT,
    version: FAMILIES_JSON_VERSION,
    featuresM: Array.from(build.featuresM),
    families: build.families.map((f) => ({
      id: f.id,
      round: f.round,
      depth: f.depth,
      parentFamily: f.parentFamily,
      root: f.root,
      label: label(f.root),
      threshold: f.threshold,
      members: f.members.map((m) => ({ feature: m.feature, parent: m.parent, weight: m.weight, depth: m.depth, label: label(m.feature) })),
    })),
    rounds: build.rounds.map((r) => ({ ...r })),
    duplicates: build.duplicates.map((d) => ({ ...d })),
  };
}

/** Write a build as families JSON, atomically. */
export function writeFamiliesJson(path: string, build: FamilyBuild, labels?: ReadonlyMap<number, string>): void {
  writeJsonAtomic(path, familiesToJson(build, labels));
}

const OURS_FIX = "pass a file written by writeFamiliesJson (or regenerate it)";

/** Cross-field checks the schema cannot express; returns the first problem, or null. */
function inconsistency(json: FamiliesJson): string | null {
  for (let i = 1; i < json.featuresM.length; i++) {
    if (json.featuresM[i]! <= json.featuresM[i - 1]!) return `featuresM is not strictly ascending at [${i}]`;
  }
  const n = json.families.length;
  for (const [i, f] of json.families.entries()) {
    if (f.id !== i) return `families[${i}] has id ${f.id}`;
    if (f.parentFamily !== null && (f.parentFamily >= n || f.parentFamily === i)) return `families[${i}].parentFamily ${f.parentFamily} is not another family`;
    const inFamily = new Set([f.root, ...f.members.map((m) => m.feature)]);
    if (inFamily.size !== f.members.length + 1) return `families[${i}] lists a feature twice`;
    for (const [j, m] of f.members.entries()) {
      if (!inFamily.has(m.parent) || m.parent === m.feature) return `families[${i}].members[${j}].parent ${m.parent} is not in the family`;
    }
  }
  for (const [i, d] of json.duplicates.entries()) {
    if (d.keptFamily >= n) return `duplicates[${i}].keptFamily ${d.keptFamily} is not a family`;
  }
  return null;
}

/** The labels carried by a families JSON; throws on a feature labelled two ways. */
function labelsOf(json: FamiliesJson, file: string): Map<number, string> {
  const labels = new Map<number, string>();
  const add = (feature: number, label: string | null): void => {
    if (label === null) return;
    const seen = labels.get(feature);
    if (seen !== undefined && seen !== label) throw new FormatError(file, `feature ${feature} has two labels ("${seen}", "${label}")`, OURS_FIX);
    labels.set(feature, label);
  };
  for (const f of json.families) {
    add(f.root, f.label);
    for (const m of f.members) add(m.feature, m.label);
  }
  return labels;
}

/**
 * Validate families JSON (already parsed) and rebuild the FamilyBuild and labels it holds.
 * @param file the file (or source name) it came from, for error messages
 */
export function parseFamiliesJson(value: unknown, file: string): { build: FamilyBuild; labels: Map<number, string> } {
  const head = value !== null && typeof value === "object" ? (value as { format?: unknown; version?: unknown }) : {};
  if (head.format === FAMILIES_JSON_FORMAT && head.version !== FAMILIES_JSON_VERSION) {
    throw new FormatError(file, `families JSON version ${String(head.version)}; this reader knows version ${FAMILIES_JSON_VERSION}`, "regenerate it with this version of saerch-ts");
  }
  const parsed = FamiliesJson.safeParse(value);
  if (!parsed.success) throw new FormatError(file, `not a ${FAMILIES_JSON_FORMAT} file:\n${describeIssues(parsed.error.issues, false)}`, OURS_FIX);
  const json = parsed.data;
  const problem = inconsistency(json);
  if (problem !== null) throw new FormatError(file, `inconsistent families JSON: ${problem}`, OURS_FIX);
  const build: FamilyBuild = {
    featuresM: Int32Array.from(json.featuresM),
    families: json.families.map((f) => ({
      id: f.id,
      round: f.round,
      depth: f.depth,
      parentFamily: f.parentFamily,
      root: f.root,
      members: f.members.map((m) => ({ feature: m.feature, parent: m.parent, weight: m.weight, depth: m.depth })),
      threshold: f.threshold,
    })),
    rounds: json.rounds.map((r) => ({ ...r })),
    duplicates: json.duplicates.map((d) => ({ ...d })),
  };
  return { build, labels: labelsOf(json, file) };
}

/** Read a families JSON file written by writeFamiliesJson. */
export function readFamiliesJson(path: string): { build: FamilyBuild; labels: Map<number, string> } {
  return parseFamiliesJson(readJson(path, OURS_FIX), path);
}
