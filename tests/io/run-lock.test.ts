/**
 * Tests for src/io/run-lock.ts: the lock file's contents, a second process refused with "in use by
 * process N" (a real child holding the lock through dist/), release on exit, stale locks (dead pid, a
 * killed child, an unfinished file) taken over with a note, re-entrance in one call chain and exclusion
 * of two concurrent calls of one process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireRunLock, readRunLock, RUN_LOCK_FILE, RUN_LOCK_FORMAT, RunInUseError, withRunLock, withRunLockSync } from "../../src/io/run-lock.js";
import { repoPath } from "../../src/io/paths.js";

const DIST = repoPath("dist");
const CHILD = repoPath("tests", "fixtures", "io", "hold-lock.mjs");

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "saerch-run-lock-"));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Start the child holding `dir`'s lock; resolves once it says "locked". */
async function lockingChild(dir: string, mode: "hold" | "exit" = "hold"): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  if (!existsSync(join(DIST, "io", "run-lock.js"))) throw new Error("dist/io/run-lock.js is missing: run `npm run build` before this test");
  const child = spawn(process.execPath, [CHILD, DIST, dir, mode], { stdio: ["pipe", "pipe", "pipe"] });
  const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  await new Promise<void>((res, rej) => {
    child.stdout!.on("data", (b: Buffer) => {
      if (b.toString().includes("locked")) res();
    });
    child.on("exit", (code) => rej(new Error(`lock child exited (${code}) before locking: ${stderr}`)));
  });
  return { child, exited };
}

/** A lock file as another holder would have written it. */
function writeForeignLock(dir: string, pid: number, extra: Record<string, unknown> = {}): void {
  mkdirSync(dir, { recursive: true });
  const info = { format: RUN_LOCK_FORMAT, pid, hostname: hostname(), startedAt: "2020-01-01T00:00:00.000Z", what: "SAE training", token: "f00d", bootId: null, procStart: null, ...extra };
  writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify(info));
}

/** A pid that is not running: a child that has already exited. */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((res) => c.on("exit", res));
  return c.pid!;
}

describe("acquireRunLock", () => {
  it("writes pid, hostname and start time with O_EXCL, and removes the file (and a directory it created empty) on release", () => {
    const dir = join(tmp, "fresh");
    const lock = acquireRunLock(dir, "SAE training");
    const info = readRunLock(dir)!;
    expect(info).toMatchObject({ format: RUN_LOCK_FORMAT, pid: process.pid, hostname: hostname(), what: "SAE training" });
    expect(Date.parse(info.startedAt)).not.toBeNaN();
    expect(lock.tookOver).toBeUndefined();
    lock.release();
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
    expect(existsSync(dir)).toBe(false);
    lock.release(); // twice is fine
  });

  it("keeps a directory that existed or got files while locked", () => {
    const dir = join(tmp, "kept");
    const lock = acquireRunLock(dir, "embedding");
    writeFileSync(join(dir, "manifest.json"), "{}");
    lock.release();
    expect(readFileSync(join(dir, "manifest.json"), "utf8")).toBe("{}");
  });

  it("refuses a lock held by another live process, naming its pid", async () => {
    const dir = join(tmp, "held");
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      writeForeignLock(dir, sleeper.pid!);
      const err = (() => {
        try {
          acquireRunLock(dir, "SAE training");
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(RunInUseError);
      expect((err as Error).message).toContain(`is in use by process ${sleeper.pid} on ${hostname()}: SAE training, since 2020-01-01`);
      expect((err as RunInUseError).fix).toContain(`kill ${sleeper.pid}`);
      expect((err as RunInUseError).fix).toContain(join(dir, RUN_LOCK_FILE));
      expect(readRunLock(dir)!.pid).toBe(sleeper.pid); // untouched
    } finally {
      sleeper.kill("SIGKILL");
    }
  });

  it("takes over a lock whose process is dead on this host, with a note", async () => {
    const dir = join(tmp, "stale");
    const pid = await deadPid();
    writeForeignLock(dir, pid);
    const notes: string[] = [];
    const lock = acquireRunLock(dir, "labelling", { onNote: (n) => notes.push(n) });
    expect(lock.tookOver?.pid).toBe(pid);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain(`took over the lock of process ${pid} on ${hostname()} (SAE training, since 2020-01-01T00:00:00.000Z): it is no longer running`);
    expect(readRunLock(dir)!.pid).toBe(process.pid);
    lock.release();
  });

  it("takes over a lock whose pid now belongs to another process, or that predates a reboot", () => {
    const dir = join(tmp, "reused");
    // process.ppid is alive, but its recorded start time says the lock was taken by an earlier process with that id
    writeForeignLock(dir, process.ppid, { procStart: "1" });
    const notes: string[] = [];
    const probe = acquireRunLock(join(tmp, "probe"), "probe");
    const linux = readRunLock(join(tmp, "probe"))!.procStart !== null;
    probe.release();
    if (linux) {
      acquireRunLock(dir, "labelling", { onNote: (n) => notes.push(n) }).release();
      expect(notes[0]).toContain("its process id now belongs to another process");
      writeForeignLock(dir, process.ppid, { bootId: "not-this-boot" });
      acquireRunLock(dir, "labelling", { onNote: (n) => notes.push(n) }).release();
      expect(notes[1]).toContain("the machine has rebooted since");
    }
    // a lock of this very pid that this process never took (a container restart reusing the id)
    writeForeignLock(dir, process.pid);
    acquireRunLock(dir, "labelling", { onNote: (n) => notes.push(n) }).release();
    expect(notes.at(-1)).toContain("an earlier process had this process's id");
  });

  it("refuses a lock of another host (its process cannot be checked from here)", () => {
    const dir = join(tmp, "remote");
    writeForeignLock(dir, 1, { hostname: "some-other-host" });
    expect(() => acquireRunLock(dir, "SAE training")).toThrow(/in use by process 1 on some-other-host/);
  });

  it("an unreadable lock file is refused while fresh and taken over once old", () => {
    const dir = join(tmp, "unfinished");
    mkdirSync(dir);
    const path = join(dir, RUN_LOCK_FILE);
    writeFileSync(path, "");
    expect(() => acquireRunLock(dir, "embedding")).toThrow(/being locked by another process/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const notes: string[] = [];
    acquireRunLock(dir, "embedding", { onNote: (n) => notes.push(n) }).release();
    expect(notes[0]).toContain("took over a lock file that was never completed");
  });
});

describe("withRunLock", () => {
  it("is re-entrant in one call chain but excludes a concurrent call of the same process", async () => {
    const dir = join(tmp, "nested");
    let inner = "";
    await withRunLock(dir, "SAE stage", async () => {
      inner = await withRunLock(dir, "SAE training", async () => withRunLockSync(dir, "encoding", () => "nested ok"));
      await expect(Promise.resolve().then(() => acquireRunLock(dir, "a second call"))).rejects.toThrow(/in use by this process/);
    });
    expect(inner).toBe("nested ok");
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
  });

  it("releases on a throw", async () => {
    const dir = join(tmp, "throws");
    mkdirSync(dir);
    await expect(withRunLock(dir, "x", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
  });

  it("a second process gets the clear error; the lock is free once the first ends, also by process.exit", async () => {
    const dir = join(tmp, "two-processes");
    const { child, exited } = await lockingChild(dir);
    await expect(withRunLock(dir, "SAE training", async () => "never")).rejects.toThrow(
      new RegExp(`is in use by process ${child.pid} on .*: the lock test's child`),
    );
    child.stdin!.end();
    expect(await exited).toBe(0);
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
    expect(await withRunLock(dir, "SAE training", async () => "mine")).toBe("mine");

    const second = await lockingChild(dir, "exit");
    expect(await second.exited).toBe(0);
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
  });

  it("four processes racing for one stale lock: exactly one wins, the others are told who holds it", async () => {
    if (!existsSync(join(DIST, "io", "run-lock.js"))) throw new Error("dist/io/run-lock.js is missing: run `npm run build` before this test");
    const dir = join(tmp, "race");
    writeForeignLock(dir, await deadPid());
    const children = Array.from({ length: 4 }, () => spawn(process.execPath, [CHILD, DIST, dir], { stdio: ["pipe", "pipe", "ignore"] }));
    const outputs = children.map((c) => {
      let out = "";
      c.stdout!.on("data", (b: Buffer) => (out += b.toString()));
      return { c, out: () => out, exited: new Promise<number | null>((res) => c.on("exit", (code) => res(code))) };
    });
    // Wait until every child has either locked or been refused.
    const deadline = Date.now() + 20_000;
    while (!outputs.every((o) => /locked|refused/.test(o.out()))) {
      if (Date.now() > deadline) throw new Error(`children did not settle: ${outputs.map((o) => o.out()).join(" | ")}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const winners = outputs.filter((o) => o.out().includes("locked"));
    expect(winners).toHaveLength(1);
    const winner = winners[0]!.c.pid;
    for (const o of outputs.filter((x) => !x.out().includes("locked"))) {
      expect(o.out()).toMatch(new RegExp(`refused: .*in use by process ${winner} `));
      expect(await o.exited).toBe(3);
    }
    for (const c of children) c.stdin!.end();
    expect(await winners[0]!.exited).toBe(0);
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
  });

  it("a killed holder's lock is taken over with a note", async () => {
    const dir = join(tmp, "killed");
    const { child, exited } = await lockingChild(dir);
    child.kill("SIGKILL");
    await exited;
    expect(readRunLock(dir)!.pid).toBe(child.pid);
    const notes: string[] = [];
    expect(await withRunLock(dir, "SAE training", async () => "resumed", { onNote: (n) => notes.push(n) })).toBe("resumed");
    expect(notes[0]).toContain(`took over the lock of process ${child.pid}`);
  });
});
