/**
 * Tests for the kernel threads' handoff (src/sae/kernel-pool.ts) with injected delays: a slow worker is waited
 * for and its rows are the undelayed run's bits; a worker that misses the timeout, fails, cannot start, or a
 * closed pool, makes every later pass refuse instead of handing work to a thread that may still be writing
 * (or that is gone, which used to hang for the whole timeout).
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import { normalizeRowsInPlace } from "../../src/core/vector.js";
import { KERNEL_NAMES, kernelModule, type KernelName } from "../../src/sae/cpu-kernels.js";
import { CpuKernels } from "../../src/sae/cpu-step.js";
import { KernelPool, type KernelPoolTiming } from "../../src/sae/kernel-pool.js";
import { wasmApi } from "../../src/compute/wasm-assembler.js";

const SHAPE = { n: 24, d: 10, k: 3, kAux: 4, batchCapacity: 8, threads: 2 };

/** Two-thread kernels with a random state and `b` rows of staged selections (the same for every `timing`). */
function staged(timing: KernelPoolTiming = {}, cpu = new CpuKernels(SHAPE, "wasm", timing), b = SHAPE.batchCapacity): CpuKernels {
  const { n, d, k, kAux } = SHAPE;
  const rng = new Rng(11);
  for (const mat of ["enc", "dec"] as const) for (const slot of ["p", "m", "v"] as const) rng.fillNormalInPlace(cpu[mat][slot]);
  cpu.enc.v.forEach((x, i, a) => (a[i] = x * x));
  cpu.dec.v.forEach((x, i, a) => (a[i] = x * x));
  normalizeRowsInPlace(cpu.dec.p, n, d);
  rng.fillNormalInPlace(cpu.staging.x);
  for (let r = 0; r < b; r++) {
    const perm = rng.permutation(n);
    for (let q = 0; q < k; q++) cpu.staging.indices[r * k + q] = perm[q]!;
    for (let q = 0; q < kAux; q++) cpu.staging.auxIndices[r * kAux + q] = perm[k + q]!;
  }
  rng.fillNormalInPlace(cpu.staging.values);
  rng.fillNormalInPlace(cpu.staging.auxValues);
  return cpu;
}

/** One step's passes on `b` rows; the state's bytes afterwards. */
function step(cpu: CpuKernels, b = SHAPE.batchCapacity): Uint8Array[] {
  const { d, k, kAux } = SHAPE;
  const { sse } = cpu.decode(b, kAux, 0.02, Float32Array.from({ length: d }, (_, i) => 0.01 * i));
  cpu.accumulateGradients(b, k + kAux, k);
  const norm = cpu.encoderNormSq() + cpu.decoderProjectedNormSq();
  cpu.adamInPlace(0.7, { beta1: 0.9, beta2: 0.999, eps: 1e-8, stepSize: 1e-2, sqrtBc2: 0.1 });
  const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
  const st = cpu.staging;
  return [
    bytes(new Float64Array([sse, norm])),
    ...[st.xc, st.r, st.rA, st.pairIdx, st.pairDec, st.pairEnc, st.sse, st.auxSse, st.colSum].map(bytes),
    ...(["enc", "dec"] as const).flatMap((mat) => (["p", "m", "v", "g"] as const).map((slot) => bytes(cpu[mat][slot]))),
  ];
}

/** A pool over a fresh shared memory running the real kernels (the calling thread's instance included). */
function pool(timing: KernelPoolTiming, workerModule?: object): { pool: KernelPool<KernelName>; memory: { buffer: ArrayBufferLike } } {
  const memory = new wasmApi.Memory({ initial: 2, maximum: 65_536, shared: true });
  const module = new wasmApi.Module(kernelModule(2, true));
  const kernels = new wasmApi.Instance(module, { env: { mem: memory } }).exports as Record<KernelName, (...a: number[]) => number>;
  return { pool: new KernelPool(kernels, workerModule ?? module, memory, KERNEL_NAMES, 2, timing), memory };
}

describe("kernel pool handoff", () => {
  it("waits for a slow worker: a step with a 60 ms delay on thread 1 gives the undelayed step's bits", async () => {
    const fast = staged();
    const slow = staged({ delayMs: [60] });
    try {
      const t0 = performance.now();
      const got = step(slow);
      expect(performance.now() - t0).toBeGreaterThan(6 * 60 - 30); // six passes, each waited for
      expect(got).toEqual(step(fast));
    } finally {
      await fast.close();
      await slow.close();
    }
  });

  it("a notify that arrives after the worker ran the command only re-checks: 60 passes with late notifies give the plain run's bits", async () => {
    // The cause of the one two-thread failure seen: a worker woken while idle read state 0 and ran "command 0".
    const plain = staged();
    const late = staged({ lateNotifyMs: 2 });
    try {
      for (let s = 0; s < 10; s++) expect(step(late)).toEqual(step(plain));
    } finally {
      await plain.close();
      await late.close();
    }
  });

  it("a memory grown after the workers started: the step's bits equal those of kernels made that big", async () => {
    // 2 rows fit the first 64 KiB page; 600 rows need three more.
    const b = 600;
    const grown = new CpuKernels({ ...SHAPE, batchCapacity: 2 }, "wasm");
    const wide = staged({}, new CpuKernels({ ...SHAPE, batchCapacity: b }, "wasm"), b);
    try {
      grown.encoderNormSq(); // a pass before the growth, so the workers are running
      const before = grown.enc.p.buffer.byteLength;
      expect(grown.ensureBatch(b)).toBe(true);
      expect([before, grown.enc.p.buffer.byteLength]).toEqual([65_536, 4 * 65_536]);
      expect(step(staged({}, grown, b), b)).toEqual(step(wide, b));
    } finally {
      await grown.close();
      await wide.close();
    }
  });

  it("a worker past the timeout breaks the pool: the next pass is refused, not handed to a thread still writing", async () => {
    const { pool: p, memory } = pool({ delayMs: [400], timeoutMs: 50 });
    try {
      new Float32Array(memory.buffer, 0, 8).set([1, 2, 3, 4, 5, 6, 7, 8]);
      // Thread 1 sums row 1 (offset 16 bytes): 5² + … + 8² = 174, but only after 400 ms.
      expect(() => p.run("sumSq", [[0, 1, 4], [16, 1, 4]])).toThrow(/worker thread 1 did not finish sumSq within 0.05 s/);
      // Before the pool broke here, this pass went out while thread 1 still ran the last one, and came back with its stale result.
      const t0 = performance.now();
      expect(() => p.run("sumSq", [[0, 1, 4], [0, 1, 4]])).toThrow(/cannot run sumSq: worker thread 1 did not finish/);
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      await p.close();
    }
  });

  it("a failing worker reports its error text and the pool refuses later passes", async () => {
    const { pool: p } = pool({});
    try {
      expect(p.run("sumSq", [[0, 1, 4], [0, 1, 4]])).toEqual([0, 0]);
      // Thread 1 reads far outside the memory.
      expect(() => p.run("sumSq", [[0, 1, 4], [0x7fff0000, 1, 4]])).toThrow(/the sumSq kernel failed in worker thread 1: RuntimeError: memory access out of bounds/);
      expect(() => p.run("sumSq", [[0, 1, 4], [0, 1, 4]])).toThrow(/cannot run sumSq: the sumSq kernel failed in worker thread 1/);
    } finally {
      await p.close();
    }
  });

  it("a pass that fails on the calling thread and a worker reports both, so a kernel fault is not taken for a handoff fault", async () => {
    const { pool: p } = pool({});
    try {
      let thrown: unknown;
      try {
        p.run("sumSq", [[0x7fff0000, 1, 4], [0x7fff0000, 1, 4]]);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(Error);
      const message = (thrown as Error).message;
      expect(message).toMatch(/the sumSq kernel failed in worker thread 1: RuntimeError: memory access out of bounds/);
      expect(message).toMatch(/; on the calling thread too: RuntimeError: memory access out of bounds/);
      // The calling thread alone failing is its own error, unchanged.
      const { pool: q } = pool({});
      try {
        expect(() => q.run("sumSq", [[0x7fff0000, 1, 4], [0, 1, 4]])).toThrow(/^memory access out of bounds$/);
      } finally {
        await q.close();
      }
    } finally {
      await p.close();
    }
  });

  it("a worker that cannot start is reported at once instead of after the timeout", async () => {
    // The workers' module asks for more pages than the memory has, so their instantiation throws.
    const { pool: p } = pool({}, new wasmApi.Module(kernelModule(4, true)));
    try {
      const t0 = performance.now();
      expect(() => p.run("sumSq", [[0, 1, 4], [0, 1, 4]])).toThrow(/failed in worker thread 1: could not start: .*memory/i);
      expect(performance.now() - t0).toBeLessThan(10_000);
    } finally {
      await p.close();
    }
  });

  it("a closed pool refuses work at once; a pass with too many arguments or threads is refused", async () => {
    const { pool: p } = pool({});
    expect(() => p.run("sumSq", [[0, 1, 4], [0, 1, 4], [0, 1, 4]])).toThrow(/bad kernel pass sumSq on 3 of 2 threads/);
    expect(() => p.run("sumSq", [[0, 1, 4], new Array(33).fill(0)])).toThrow(/at most 32 arguments/);
    await p.close();
    const t0 = performance.now();
    expect(() => p.run("sumSq", [[0, 1, 4], [0, 1, 4]])).toThrow(/cannot run sumSq: the pool was closed/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
