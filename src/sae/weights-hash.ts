/**
 * The trained SAE's identity (METHOD.md §2, the released `sae.safetensors`): training records the SHA-256
 * of the weights file in `weights.json` beside it, and every later stage that reopens the SAE (codes,
 * interpretation, families, steering, the explorer) checks the file against that record and puts the hash
 * into its own run id. A run whose `sae.safetensors` was swapped for another SAE's is refused with the fix,
 * instead of labelling one SAE's features with another's codes. The record also keeps the file's stat
 * stamp, so an unchanged file is not hashed again on every open.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { SaerchError } from "../core/errors.js";
import { writeJsonAtomic } from "../io/atomic.js";
import { fileSha256, fileStamp, sameStamp } from "../io/identity.js";
import { loadSaeWeights } from "./checkpoint.js";
import type { SaeParams } from "./params.js";

/** The weights file of an SAE run (what later stages load). */
export const SAE_WEIGHTS_FILE = "sae.safetensors";
/** The record of the weights' hash, written by training beside the weights. */
export const WEIGHTS_RECORD_FILE = "weights.json";
/** `format` of the record. */
export const WEIGHTS_RECORD_FORMAT = "saerch-sae-weights";

/** `weights.json`: which bytes training wrote. */
const WeightsRecord = z.object({
  format: z.literal(WEIGHTS_RECORD_FORMAT).describe("Identifies the record"),
  file: z.literal(SAE_WEIGHTS_FILE).describe("The weights file the hash is of"),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).describe("SHA-256 of the file's bytes at training"),
  stamp: z
    .object({ size: z.number(), mtimeMs: z.number(), ctimeMs: z.number(), ino: z.number() })
    .describe("The file's stat when last hashed: while it matches, the file is not hashed again"),
});
/** `weights.json`: which bytes training wrote. */
export type WeightsRecord = z.infer<typeof WeightsRecord>;

/** The SAE of a run directory is not the one trained there. */
export class WeightsMismatchError extends SaerchError {}

/**
 * Hash `dir/sae.safetensors` and record it in `dir/weights.json` (training calls this after writing the
 * weights; the caller holds the run lock).
 * @returns the SHA-256 (hex)
 */
export function recordWeightsHash(dir: string): string {
  const path = join(dir, SAE_WEIGHTS_FILE);
  const sha256 = fileSha256(path);
  const rec: WeightsRecord = { format: WEIGHTS_RECORD_FORMAT, file: SAE_WEIGHTS_FILE, sha256, stamp: fileStamp(path) };
  writeJsonAtomic(join(dir, WEIGHTS_RECORD_FILE), rec);
  return sha256;
}

/** The record in `dir`, or undefined when training has not written one (a run trained before records existed). */
export function readWeightsRecord(dir: string): WeightsRecord | undefined {
  const path = join(dir, WEIGHTS_RECORD_FILE);
  if (!existsSync(path)) return undefined;
  const parsed = WeightsRecord.safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success) throw new SaerchError(`${path} is not an SAE weights record`, `delete it and rerun the SAE stage (it records the weights again), or restore it`);
  return parsed.data;
}

/**
 * The SHA-256 of the run's `sae.safetensors`, checked against what training recorded.
 * @throws WeightsMismatchError naming the file when its bytes are not the ones trained in `dir`;
 *   SaerchError when the weights or their record are missing
 */
export function verifiedWeightsHash(dir: string): string {
  const path = join(dir, SAE_WEIGHTS_FILE);
  if (!existsSync(path)) throw new SaerchError(`${path} does not exist: the SAE has not finished training`, "run the SAE stage (notebook 02, or the sweep of notebook 03) first");
  const rec = readWeightsRecord(dir);
  if (rec === undefined) {
    throw new SaerchError(
      `${join(dir, WEIGHTS_RECORD_FILE)} is missing: nothing says which weights were trained in ${dir}`,
      "rerun the SAE stage on this run (it checks the weights against its checkpoint and records them), or delete the run directory to train again",
    );
  }
  const sha256 = fileSha256(path, rec);
  if (sha256 !== rec.sha256) {
    throw new WeightsMismatchError(
      `${path} is not the SAE trained in this run: its SHA-256 is ${sha256.slice(0, 16)}…, training recorded ${rec.sha256.slice(0, 16)}… in ${WEIGHTS_RECORD_FILE}`,
      `restore this run's own ${SAE_WEIGHTS_FILE} (or delete ${dir} to train it again); to use another SAE, point the stage at that SAE's own run directory`,
    );
  }
  // The file was hashed again (another stat, same bytes): keep the new stamp so the next open skips the hash.
  if (!sameStamp(rec.stamp, fileStamp(path))) writeJsonAtomic(join(dir, WEIGHTS_RECORD_FILE), { ...rec, stamp: fileStamp(path) });
  return sha256;
}

/** True when two parameter sets are bit-identical. */
function sameParams(a: SaeParams, b: SaeParams): boolean {
  const eq = (x: Float32Array, y: Float32Array): boolean => x.length === y.length && Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength)) === 0;
  return a.d === b.d && a.n === b.n && eq(a.wEncFD, b.wEncFD) && eq(a.bLatF, b.bLatF) && eq(a.wDecFD, b.wDecFD) && eq(a.bPreD, b.bPreD);
}

/**
 * A finished run reopened by its trainer: the weights file must be the one the final checkpoint made.
 * With a record, the file is checked against it; a run trained before records existed has its file
 * compared tensor by tensor with the checkpoint's parameters and, when they agree, recorded now.
 * @param params the final checkpoint's parameters
 * @returns the weights' SHA-256
 * @throws WeightsMismatchError naming the file when it holds another SAE
 */
export function checkFinishedWeights(dir: string, params: SaeParams): string {
  if (readWeightsRecord(dir) !== undefined) return verifiedWeightsHash(dir);
  const path = join(dir, SAE_WEIGHTS_FILE);
  if (!sameParams(loadSaeWeights(path).params, params)) {
    throw new WeightsMismatchError(
      `${path} is not the SAE trained in this run: its tensors differ from the run's final checkpoint`,
      `restore this run's own ${SAE_WEIGHTS_FILE}, or delete it (the stage writes it again from the checkpoint)`,
    );
  }
  return recordWeightsHash(dir);
}
