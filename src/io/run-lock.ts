/**
 * One process per run directory. A stage that writes a run directory (an embedding store, an SAE run, a
 * labelling run) holds `<dir>/.run.lock` while it works: the file is created with O_EXCL (`wx`) and holds
 * the holder's pid, hostname, boot id, process start time and a random token. A second process gets a
 * `RunInUseError` ("in use by process N on host H"); a lock whose process is gone (same host: the pid is
 * dead, the machine rebooted, or the pid now belongs to another process) is taken over with a note.
 *
 * Locks are re-entrant inside one call chain (`withRunLock` inside `withRunLock` on the same directory, as
 * a stage locking its run and then calling the trainer), tracked with AsyncLocalStorage; two concurrent
 * calls of the same process on one directory still exclude each other. A lock is released in `finally`
 * and, for a process that exits without unwinding, in an `exit` handler; a process killed outright leaves
 * its file behind, which the next process takes over as stale.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, rmdirSync, rmSync, statSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { SaerchError } from "../core/errors.js";

/** File name of a run directory's lock. */
export const RUN_LOCK_FILE = ".run.lock";
/** `format` field of a lock file. */
export const RUN_LOCK_FORMAT = "saerch-run-lock";
/** A lock file that cannot be read (its writer died between creating and filling it) counts as stale after this. */
const UNREADABLE_STALE_MS = 10_000;
/** Attempts to read a lock file another process has just created (it fills it right after). */
const READ_ATTEMPTS = 5;
/** Pause between those attempts. */
const READ_RETRY_MS = 20;
/** Hex digits of the random token that tells this holder's lock from another's. */
const TOKEN_BYTES = 8;

/** What a lock file says about its holder. */
export interface RunLockInfo {
  format: typeof RUN_LOCK_FORMAT;
  /** The holder's process id. */
  pid: number;
  /** The holder's hostname. */
  hostname: string;
  /** When it took the lock (ISO 8601). */
  startedAt: string;
  /** What it is doing, e.g. "SAE training". */
  what: string;
  /** Random token of this acquisition. */
  token: string;
  /** Linux boot id (null elsewhere): a lock from before a reboot is stale. */
  bootId: string | null;
  /** Start time of the holder process in clock ticks since boot (Linux; null elsewhere): tells a reused pid. */
  procStart: string | null;
}

/** A second process (or a concurrent call of this one) wanted a directory another holds. */
export class RunInUseError extends SaerchError {
  /** The holder, as its lock file says. */
  readonly holder: RunLockInfo | undefined;

  constructor(message: string, fix: string, holder?: RunLockInfo) {
    super(message, fix);
    this.name = "RunInUseError";
    this.holder = holder;
  }
}

/** Options of the lock functions. */
export interface RunLockOptions {
  /** Called with the note when a stale lock is taken over (default: one line on stderr). */
  onNote?: (note: string) => void;
}

/** A held lock; `release` is idempotent. */
export interface RunLock {
  /** The locked directory, as given. */
  readonly dir: string;
  /** Its real path. */
  readonly key: string;
  /** Its lock file. */
  readonly path: string;
  /** The stale holder taken over, if there was one. */
  readonly tookOver: RunLockInfo | undefined;
  /** Delete the lock file (if it is still ours) and, when taking the lock created the directory and nothing was written, the directory. */
  release(): void;
}

/** Locks held by this process: lock path → token (for `exit` and to tell our own reused pid from a stale one). */
const held = new Map<string, { token: string; release: () => void }>();
/** Directories locked by the current call chain (re-entrance). */
const chain = new AsyncLocalStorage<ReadonlySet<string>>();
let exitHookInstalled = false;

/** Read a small Linux /proc file, or null. */
function procFile(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}

/** Field 22 (starttime) of /proc/<pid>/stat, or null (the command name, field 2, may hold spaces: parse after ')'). */
function procStartOf(pid: number): string | null {
  const stat = procFile(`/proc/${pid}/stat`);
  if (stat === null) return null;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19] ?? null;
}

/** True when a process with this id exists (EPERM: it exists but belongs to another user). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Block the thread for `ms` (a lock is taken synchronously, also from synchronous writers). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function parseLock(text: string): RunLockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<RunLockInfo>;
    if (v.format !== RUN_LOCK_FORMAT || typeof v.pid !== "number" || typeof v.hostname !== "string" || typeof v.token !== "string") return undefined;
    return { bootId: null, procStart: null, what: "unknown", startedAt: "unknown", ...v } as RunLockInfo;
  } catch {
    return undefined;
  }
}

/** The lock file's raw text (undefined when it is gone), retrying briefly while it is empty. */
function readRaw(path: string): string | undefined {
  for (let attempt = 0; ; attempt++) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    if (parseLock(text) !== undefined || attempt + 1 >= READ_ATTEMPTS) return text;
    sleepSync(READ_RETRY_MS);
  }
}

/**
 * The holder of `dir`'s lock, or undefined when it is not locked (or its file cannot be read).
 * @param dir a run directory
 */
export function readRunLock(dir: string): RunLockInfo | undefined {
  const raw = readRaw(join(dir, RUN_LOCK_FILE));
  return raw === undefined ? undefined : parseLock(raw);
}

/** Why a holder is stale, or undefined when it may still be working (or cannot be told from here). */
function staleReason(info: RunLockInfo, path: string): string | undefined {
  if (info.hostname !== hostname()) return undefined;
  const bootId = procFile("/proc/sys/kernel/random/boot_id");
  if (info.bootId !== null && bootId !== null && info.bootId !== bootId) return "the machine has rebooted since";
  if (info.pid === process.pid) return held.get(path)?.token === info.token ? undefined : "an earlier process had this process's id";
  if (!processAlive(info.pid)) return "it is no longer running";
  if (info.procStart !== null) {
    const now = procStartOf(info.pid);
    if (now !== null && now !== info.procStart) return "its process id now belongs to another process";
  }
  return undefined;
}

function inUse(dir: string, path: string, info: RunLockInfo): RunInUseError {
  const self = info.pid === process.pid && info.hostname === hostname();
  const who = self ? `this process (${info.pid}), in another call` : `process ${info.pid} on ${info.hostname}`;
  return new RunInUseError(
    `${dir} is in use by ${who}: ${info.what}, since ${info.startedAt}`,
    self
      ? "await the first call before starting another on the same run directory"
      : `wait for it to finish or stop it (kill ${info.pid} on ${info.hostname}); if no such process is running, delete ${path}`,
    info,
  );
}

/** Create the lock file with O_EXCL; false when it exists. */
function tryCreate(path: string, info: RunLockInfo): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    const bytes = Buffer.from(`${JSON.stringify(info)}\n`, "utf8");
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Replace a stale lock file (whose text was `staleRaw`) with ours, under a guard file so that two processes
 * taking over the same stale lock cannot both win.
 * @returns true when ours is in place; false when the lock changed meanwhile (the caller looks again)
 */
function takeOver(path: string, staleRaw: string, info: RunLockInfo): boolean {
  const guard = `${path}.takeover`;
  let fd: number;
  try {
    fd = openSync(guard, "wx");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    // A guard left by a process killed mid-takeover is old; a live one is gone within milliseconds.
    const mtime = statSync(guard, { throwIfNoEntry: false })?.mtimeMs;
    if (mtime !== undefined && Date.now() - mtime > UNREADABLE_STALE_MS) rmSync(guard, { force: true });
    return false;
  }
  closeSync(fd);
  try {
    if (readRaw(path) !== staleRaw) return false;
    rmSync(path, { force: true });
    return tryCreate(path, info);
  } finally {
    rmSync(guard, { force: true });
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const { release } of [...held.values()]) release();
  });
}

/** The canonical key of a directory: its real path when it exists. */
function dirKey(dir: string): string {
  return existsSync(dir) ? realpathSync(dir) : resolve(dir);
}

/** Attempts at taking a lock that keeps changing under us before giving up. */
const MAX_ATTEMPTS = 8;

/**
 * Take `dir`'s lock (creating `dir` if needed).
 * @param what what the holder does, shown to a process that finds the directory in use
 * @throws RunInUseError when another live process (or another call of this one) holds it
 */
export function acquireRunLock(dir: string, what: string, opts: RunLockOptions = {}): RunLock {
  const created = !existsSync(dir);
  mkdirSync(dir, { recursive: true });
  const key = realpathSync(dir);
  const path = join(key, RUN_LOCK_FILE);
  const info: RunLockInfo = {
    format: RUN_LOCK_FORMAT,
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    what,
    token: randomBytes(TOKEN_BYTES).toString("hex"),
    bootId: procFile("/proc/sys/kernel/random/boot_id"),
    procStart: procStartOf(process.pid),
  };
  let tookOver: RunLockInfo | undefined;
  for (let attempt = 1; !tryCreate(path, info); attempt++) {
    if (attempt >= MAX_ATTEMPTS) throw new RunInUseError(`${dir}: its lock keeps changing hands`, `retry; if it keeps failing, delete ${path}`);
    const raw = readRaw(path);
    if (raw === undefined) continue; // released meanwhile: try again
    const other = parseLock(raw);
    let reason: string | undefined;
    if (other === undefined) {
      const age = Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age < UNREADABLE_STALE_MS) {
        throw new RunInUseError(`${dir} is being locked by another process (${path} is not readable yet)`, `retry in a moment; if it stays, delete ${path}`);
      }
      reason = "was never completed";
    } else {
      reason = staleReason(other, path);
      if (reason === undefined) throw inUse(dir, path, other);
    }
    if (takeOver(path, raw, info)) {
      tookOver = other;
      const note = other
        ? `note: ${dir}: took over the lock of process ${other.pid} on ${other.hostname} (${other.what}, since ${other.startedAt}): ${reason}`
        : `note: ${dir}: took over a lock file that ${reason}`;
      (opts.onNote ?? ((n: string) => process.stderr.write(`${n}\n`)))(note);
      break;
    }
    sleepSync(READ_RETRY_MS); // another process is taking it over: look again in a moment
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    held.delete(path);
    if (parseLock(readRaw(path) ?? "")?.token === info.token) rmSync(path, { force: true });
    if (created) {
      try {
        if (readdirSync(key).length === 0) rmdirSync(key);
      } catch {
        // the directory is gone or in use: leave it
      }
    }
  };
  held.set(path, { token: info.token, release });
  installExitHook();
  return { dir, key, path, tookOver, release };
}

/**
 * Run `fn` holding `dir`'s lock (re-entrant within one call chain); released when `fn` settles.
 * @param what what the holder does, e.g. "SAE training"
 * @throws RunInUseError when another process holds the directory
 */
export async function withRunLock<T>(dir: string, what: string, fn: () => Promise<T>, opts: RunLockOptions = {}): Promise<T> {
  const outer = chain.getStore();
  if (outer?.has(dirKey(dir))) return fn();
  const lock = acquireRunLock(dir, what, opts);
  try {
    return await chain.run(new Set([...(outer ?? []), lock.key]), fn);
  } finally {
    lock.release();
  }
}

/** The synchronous form of `withRunLock`, for writers that do not await. */
export function withRunLockSync<T>(dir: string, what: string, fn: () => T, opts: RunLockOptions = {}): T {
  const outer = chain.getStore();
  if (outer?.has(dirKey(dir))) return fn();
  const lock = acquireRunLock(dir, what, opts);
  try {
    return chain.run(new Set([...(outer ?? []), lock.key]), fn);
  } finally {
    lock.release();
  }
}
