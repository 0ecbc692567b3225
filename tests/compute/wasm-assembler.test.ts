/**
 * Tests for the minimal WebAssembly assembler (src/compute/wasm-assembler.ts): hand-written functions with
 * exactly known results — integer loops, f32 / f64 arithmetic, memory loads and stores with offsets, SIMD lanes,
 * if / else — assembled, validated and run; a shared memory; and the errors for unknown or duplicate locals.
 */
import { describe, expect, it } from "vitest";
import { assembleModule, F32, F64, I32, V128, WASM_MAX_PAGES, WasmFunction, wasmApi } from "../../src/compute/wasm-assembler.js";

/** Instantiate `fns` over a fresh one-page memory. */
function instantiate(fns: WasmFunction[], shared = false): { exports: Record<string, (...a: number[]) => number>; memory: ArrayBufferLike } {
  const memory = new wasmApi.Memory({ initial: 1, maximum: WASM_MAX_PAGES, shared });
  const bytes = assembleModule(fns, 1, shared);
  expect(wasmApi.validate(bytes)).toBe(true);
  const instance = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { mem: memory } });
  return { exports: instance.exports as Record<string, (...a: number[]) => number>, memory: memory.buffer };
}

describe("wasm assembler", () => {
  it("a loop summing 0 + 1 + … + (n − 1) in i32", () => {
    const f = new WasmFunction("triangle", [["n", I32]], I32, [["i", I32], ["acc", I32]]);
    f.i32(0).set("acc");
    f.loop("i", () => f.i32(0), () => f.get("n"), 1, () => f.get("acc", "i").op("i32.add").set("acc"));
    f.get("acc");
    const { exports } = instantiate([f]);
    expect(exports.triangle!(10)).toBe(45);
    expect(exports.triangle!(0)).toBe(0);
  });

  it("f32x4 lanes: x[0..3] · 2 + 1 stored at an offset, summed back as f64", () => {
    const f = new WasmFunction("affine", [["at", I32]], F64, [["v", V128], ["s", F64]]);
    f.get("at").get("at").mem("v128.load").f32(2).op("f32x4.splat", "f32x4.mul").f32(1).op("f32x4.splat", "f32x4.add").mem("v128.store", 16);
    f.f64(0).set("s");
    for (let lane = 0; lane < 4; lane++) f.get("s").get("at").mem("v128.load", 16).lane(lane).op("f64.promote_f32", "f64.add").set("s");
    f.get("s");
    const { exports, memory } = instantiate([f]);
    new Float32Array(memory, 32, 4).set([1, 2, 3, 4.5]);
    expect(exports.affine!(32)).toBe(3 + 5 + 7 + 10);
    expect(Array.from(new Float32Array(memory, 48, 4))).toEqual([3, 5, 7, 10]);
  });

  it("if / else and f32 scalars: ReLU(x)·√y, with a shared memory", () => {
    const f = new WasmFunction("gate", [["x", F32], ["y", F32]], F32, [["out", F32]]);
    f.if(
      () => f.get("x").f32(0).op("f32.gt"),
      () => f.get("x", "y").op("f32.sqrt", "f32.mul").set("out"),
      () => f.f32(0).set("out"),
    );
    f.get("out");
    const { exports, memory } = instantiate([f], true);
    expect(memory).toBeInstanceOf(SharedArrayBuffer);
    expect(exports.gate!(3, 16)).toBe(12);
    expect(exports.gate!(-3, 16)).toBe(0);
  });

  it("names unknown and duplicate locals", () => {
    const f = new WasmFunction("bad", [["a", I32]], undefined, []);
    expect(() => f.get("b")).toThrow(/bad has no local b/);
    expect(() => new WasmFunction("dup", [["a", I32]], undefined, [["a", F32]])).toThrow(/declares a twice/);
  });
});
