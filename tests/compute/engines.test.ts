import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { matmulNaive } from "../../src/core/matrix.js";
import { Rng } from "../../src/core/rng.js";
import { repoPath } from "../../src/io/paths.js";
import { gemmMaxError, probeOnnx, probeTfjs, probeWebGpu } from "../../src/compute/engines.js";
import { buildOnnxModel, matmulModel } from "../../src/compute/onnx-model.js";

describe("ONNX models built from TypeScript", () => {
  it("a MatMul graph on onnxruntime matches the naive product on an awkward shape", async () => {
    const ort = await import("onnxruntime-node");
    const [m, k, n] = [7, 13, 5];
    const rng = new Rng(3);
    const aMK = new Float32Array(m * k);
    const bKN = new Float32Array(k * n);
    rng.fillNormalInPlace(aMK);
    rng.fillNormalInPlace(bKN);
    const session = await ort.InferenceSession.create(matmulModel());
    const out = await session.run({ A: new ort.Tensor("float32", aMK, [m, k]), B: new ort.Tensor("float32", bKN, [k, n]) });
    const want = matmulNaive({ rows: m, cols: k, data: aMK }, { rows: k, cols: n, data: bKN });
    const got = out.C!.data as Float32Array;
    expect(out.C!.dims).toEqual([m, n]);
    for (let i = 0; i < want.data.length; i++) expect(got[i]).toBeCloseTo(want.data[i]!, 4);
    await session.release();
  });

  it("encodes int and float attributes (TopK with k as input, axis attribute)", async () => {
    const ort = await import("onnxruntime-node");
    const model = buildOnnxModel({
      name: "topk",
      inputs: [
        { name: "X", type: "float32", shape: [2, 4] },
        { name: "K", type: "int64", shape: [1] },
      ],
      outputs: [
        { name: "V", type: "float32", shape: [2, "k"] },
        { name: "I", type: "int64", shape: [2, "k"] },
      ],
      nodes: [{ op: "TopK", inputs: ["X", "K"], outputs: ["V", "I"], attrs: { axis: -1, largest: 1, sorted: 1 } }],
    });
    const session = await ort.InferenceSession.create(model);
    const x = new Float32Array([0.1, 0.9, 0.5, 0.3, 4, 3, 2, 1]);
    const out = await session.run({
      X: new ort.Tensor("float32", x, [2, 4]),
      K: new ort.Tensor("int64", BigInt64Array.from([2n]), [1]),
    });
    expect(Array.from(out.V!.data as Float32Array)).toEqual([0.9, 0.5, 4, 3].map(Math.fround));
    expect(Array.from(out.I!.data as BigInt64Array)).toEqual([1n, 2n, 0n, 1n]);
    await session.release();
  });
});

describe("gemmMaxError (the probes' correctness check)", () => {
  it("is ~0 for the exact product and catches one wrong entry, a transposed product, NaN and a short output", () => {
    const [m, k, n] = [9, 11, 101]; // m·n = 909: the 97 checked entries spread over every row
    const rng = new Rng(4);
    const aMK = new Float32Array(m * k);
    const bKN = new Float32Array(k * n);
    rng.fillNormalInPlace(aMK);
    rng.fillNormalInPlace(bKN);
    const shape = { m, k, n };
    const c = matmulNaive({ rows: m, cols: k, data: aMK }, { rows: k, cols: n, data: bKN }).data;
    expect(gemmMaxError(aMK, bKN, c, shape)).toBeLessThan(1e-6);
    // Entry 4 is the first checked one (floor(0.5 · 909 / 97)); spoil it by 10 %.
    const wrong = Float32Array.from(c);
    wrong[4] = wrong[4]! * 1.1 + 1;
    expect(gemmMaxError(aMK, bKN, wrong, shape)).toBeGreaterThan(1e-2);
    const shuffled = Float32Array.from(c).reverse();
    expect(gemmMaxError(aMK, bKN, shuffled, shape)).toBeGreaterThan(1e-2);
    const nan = Float32Array.from(c);
    nan.fill(Number.NaN);
    expect(gemmMaxError(aMK, bKN, nan, shape)).toBe(Number.POSITIVE_INFINITY);
    expect(gemmMaxError(aMK, bKN, c.subarray(1), shape)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("engine probes", () => {
  it("onnxruntime's CPU provider loads, computes a checked product and reports a positive throughput", async () => {
    const p = await probeOnnx("cpu", 1);
    expect(p).toMatchObject({ engine: "onnxruntime-node cpu (1 threads)", ok: true, detail: "EP cpu" });
    expect(p.gflops).toBeGreaterThan(0);
  });

  it("tfjs-wasm loads and computes a checked product", async () => {
    const p = await probeTfjs("wasm");
    expect(p.ok).toBe(true);
    expect(p.gflops).toBeGreaterThan(0);
  });

  it("a missing tfjs-node-gpu is reported with its reason, not thrown", async () => {
    const p = await probeTfjs("tensorflow");
    if (existsSync(repoPath("node_modules", "@tensorflow", "tfjs-node-gpu"))) {
      // Installed (its install could reach the internet): it runs with a checked product, or it failed to
      // load and says why, with no throughput.
      if (p.ok) expect(p.gflops).toBeGreaterThan(0);
      else expect([p.gflops, p.detail === "" || p.detail.startsWith("not installed")]).toEqual([0, false]);
      return;
    }
    expect(p).toEqual({
      engine: "tfjs-node-gpu",
      ok: false,
      gflops: 0,
      detail: "not installed (optional: its install downloads libtensorflow, which needs internet)",
    });
  });
});

describe("webgpu probe", () => {
  it("reports the adapter, software or not, its storage limit and a positive GEMM rate — or what to install", async () => {
    const p = await probeWebGpu();
    if (p.ok) {
      expect(p.engine).toMatch(/^webgpu \(.+\)$/);
      expect(p.gflops).toBeGreaterThan(0);
      expect(p.detail).toMatch(/^Dawn; vendor .+, architecture .+, (software|hardware) adapter; maxStorageBufferBindingSize \d+ MiB/);
    } else {
      expect(p.detail).toContain("apt-get install -y libvulkan1");
    }
  });

  it("with no Vulkan driver visible, says no adapter was found and names the packages to install", () => {
    // A process whose Vulkan loader finds no driver (the ICD list points nowhere): what a machine without one sees.
    const script = `import(${JSON.stringify(pathToFileURL(repoPath("dist", "compute", "engines.js")).href)}).then(async (m) => console.log(JSON.stringify(await m.probeWebGpu())))`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      env: { ...process.env, VK_ICD_FILENAMES: "/nonexistent.json", VK_DRIVER_FILES: "/nonexistent.json" },
    });
    expect(r.status, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { ok: boolean; detail: string };
    expect(p.ok).toBe(false);
    expect(p.detail).toMatch(/no WebGPU adapter found/);
    expect(p.detail).toContain("fix: install the Vulkan loader and a Vulkan driver: `apt-get install -y libvulkan1`");
    expect(p.detail).toContain("-t bookworm-backports mesa-vulkan-drivers");
  });
});
