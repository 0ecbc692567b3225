/**
 * Tests for src/embed/identity.ts: an adopted store's revision is the content of its files, so the same
 * `.npy` and ids copied elsewhere or touched (a new checkout, ../shared copied to another machine) keep their
 * run ids, and a changed byte makes a new revision.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { embedderRevision } from "../../src/embed/identity.js";
import { sha256Hex } from "../../src/io/identity.js";
import { writeNpy } from "../../src/io/npy.js";

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "saerch-identity-"));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const npy = (embeddingsPath: string, idsPath: string) => ({ kind: "npy" as const, embeddingsPath, idsPath, model: "fixture" });

describe("embedderRevision (npy)", () => {
  it("is the content hash of the vectors and ids: equal after a copy and a touch, new after one changed value", () => {
    const emb = join(tmp, "a.npy");
    const ids = join(tmp, "a.json");
    writeNpy(emb, new Float32Array([1, 0, 0, 1, 0.6, 0.8]), [3, 2]);
    writeFileSync(ids, JSON.stringify(["x", "y", "z"]));
    const rev = embedderRevision(npy(emb, ids));
    expect(rev).toBe(`embeddings=sha256:${sha256Hex(readFileSync(emb)).slice(0, 16)};ids=sha256:${sha256Hex(readFileSync(ids)).slice(0, 16)}`);

    // Copied to another folder (another machine's ../shared), with new modification times.
    const emb2 = join(tmp, "b.npy");
    const ids2 = join(tmp, "b.json");
    copyFileSync(emb, emb2);
    copyFileSync(ids, ids2);
    utimesSync(emb2, new Date(2030, 0, 1), new Date(2030, 0, 1));
    expect(embedderRevision(npy(emb2, ids2))).toBe(rev);
    utimesSync(emb, new Date(2031, 0, 1), new Date(2031, 0, 1));
    expect(embedderRevision(npy(emb, ids))).toBe(rev);

    // One value changed, same size: a new revision.
    writeNpy(emb2, new Float32Array([1, 0, 0, 1, 0.8, 0.6]), [3, 2]);
    expect(embedderRevision(npy(emb2, ids2))).not.toBe(rev);
    // A missing file is named as such.
    expect(embedderRevision(npy(join(tmp, "none.npy"), ids))).toMatch(/^embeddings=absent;ids=sha256:/);
  });
});
