/**
 * The kernels of the onnx engine's CPU step (METHOD.md §2, THE STEP SPEC steps 4–12), as row
 * kernels in WebAssembly SIMD (f32x4, assembled by src/compute/wasm-assembler.ts) with plain-JS twins (the
 * fallback, and the reference the tests hold them to). onnxruntime runs the encoder GEMM and the top-k
 * selections (`onnx-graph.ts`, the select graph); everything after touches only the selected latents, then
 * every parameter once:
 *
 *   decode      per row b: xc = x − bPre;  diff = Σ_q z_q·wDec[idx_q] − xc  (= x̂ − x);  aux: aerr = diff + Σ za·wDec[ia]
 *               dh_q = [z_q > 0]·wDec[idx_q]·(s·diff);  u_q = [za_q > 0]·wDec[ia_q]·aerr   (s = 2 / (B·D·denom))
 *   accumulate  latent by latent: gDec[j] = Σ_{pairs of j} coef·(r or rA)_b,  gEnc[j] = Σ coef·xc_b  (each row
 *               written once, in L1 while its pairs add into it; pairs grouped by a counting sort)
 *   norms       Σ gEnc²;  along_j = gDec_j·wDec_j and Σ ‖gDec_j − along_j·wDec_j‖²  (the projection, step 9)
 *   adam        g' = coef·(g − along·w);  m = β1·m + (1 − β1)·g';  v = β2·v + (1 − β2)·g'²;
 *               w −= step·m / (√v / √(1 − β2ᵗ) + eps);  decoder rows back to unit norm
 *
 * The resident buffers, the worker threads and the order of the passes are in `cpu-step.ts`.
 */
import { assembleModule, F32, F64, I32, V128, WasmFunction } from "../compute/wasm-assembler.js";

// --- Row helpers: emit a loop over one row of d f32, four lanes at a time, then the d mod 4 tail. ------------

/** Locals every row kernel declares. */
const ROW_LOCALS: [string, typeof I32][] = [
  ["i", I32],
  ["rowBytes", I32],
  ["vecBytes", I32],
  ["quadBytes", I32],
];

/** rowBytes = d·4; vecBytes = ⌊d/4⌋·16; quadBytes = ⌊d/16⌋·64 (from the `d` parameter). */
function rowSizes(f: WasmFunction): void {
  f.get("d").i32(2).op("i32.shl").set("rowBytes");
  f.get("d").i32(~3).op("i32.and").i32(2).op("i32.shl").set("vecBytes");
  f.get("d").i32(~15).op("i32.and").i32(2).op("i32.shl").set("quadBytes");
}

/**
 * One row in three loops: `simd(o)` at byte offsets i + o — unrolled four times (o = 0, 16, 32, 48) while a
 * whole 64-byte block remains, then once per 16 bytes — and `scalar` at the d mod 4 tail, 4 bytes at a time.
 */
function rowLoops(f: WasmFunction, simd: (offset: number, lane: number) => void, scalar: () => void): void {
  f.loop("i", () => f.i32(0), () => f.get("quadBytes"), 64, () => {
    for (let u = 0; u < 4; u++) simd(16 * u, u);
  });
  f.loop("i", () => f.get("quadBytes"), () => f.get("vecBytes"), 16, () => simd(0, 0));
  f.loop("i", () => f.get("vecBytes"), () => f.get("rowBytes"), 4, scalar);
}

/** Push the address local + i. */
function at(f: WasmFunction, base: string): WasmFunction {
  return f.get(base, "i").op("i32.add");
}

/** dst row += c·src row (row start addresses in locals; `c` f32 and `sc` its splat). */
function axpyRow(f: WasmFunction, dst: string, src: string, c: string, sc: string): void {
  rowLoops(
    f,
    (o) => {
      at(f, dst);
      at(f, dst).mem("v128.load", o);
      f.get(sc);
      at(f, src).mem("v128.load", o).op("f32x4.mul", "f32x4.add").mem("v128.store", o);
    },
    () => {
      at(f, dst);
      at(f, dst).mem("f32.load");
      f.get(c);
      at(f, src).mem("f32.load").op("f32.mul", "f32.add").mem("f32.store");
    },
  );
}

/** Locals of the four dot-product accumulators. */
const ACC_LOCALS: [string, typeof V128][] = [
  ["acc0", V128],
  ["acc1", V128],
  ["acc2", V128],
  ["acc3", V128],
];

/** Zero the four accumulators (and the scalar tail sum t). */
function zeroAccs(f: WasmFunction): void {
  f.f32(0).op("f32x4.splat").set("acc0");
  for (const a of ["acc1", "acc2", "acc3"]) f.get("acc0").set(a);
  f.f32(0).set("t");
}

/** Push the sum of the four accumulators' lanes plus t, as f32. */
function sumAccs(f: WasmFunction): void {
  f.get("acc0", "acc1").op("f32x4.add").get("acc2", "acc3").op("f32x4.add", "f32x4.add").set("acc0");
  f.get("acc0").lane(0).get("acc0").lane(1).op("f32.add").get("acc0").lane(2).op("f32.add").get("acc0").lane(3).op("f32.add");
  f.get("t").op("f32.add");
}

/**
 * Push Σ a·b over one row as f32. Four independent f32x4 accumulators keep the adds off one dependency chain;
 * needs ACC_LOCALS and t: f32.
 */
function dotRow(f: WasmFunction, a: string, b: string): void {
  zeroAccs(f);
  rowLoops(
    f,
    (o, u) => {
      f.get(`acc${u}`);
      at(f, a).mem("v128.load", o);
      at(f, b).mem("v128.load", o).op("f32x4.mul", "f32x4.add").set(`acc${u}`);
    },
    () => {
      f.get("t");
      at(f, a).mem("f32.load");
      at(f, b).mem("f32.load").op("f32.mul", "f32.add").set("t");
    },
  );
  sumAccs(f);
}

/** row *= c (`sc` the splat of `c`). */
function scaleRow(f: WasmFunction, row: string, c: string, sc: string): void {
  rowLoops(
    f,
    (o) => {
      at(f, row);
      at(f, row).mem("v128.load", o).get(sc).op("f32x4.mul").mem("v128.store", o);
    },
    () => {
      at(f, row);
      at(f, row).mem("f32.load").get(c).op("f32.mul").mem("f32.store");
    },
  );
}

/** Push the byte address base + index·4 (index from the stack). */
function elem4(f: WasmFunction, base: string): void {
  f.i32(2).op("i32.shl").get(base).op("i32.add");
}

// --- Kernels. -------------------------------------------------------------------------------------------------

/**
 * decode(x, bPre, w, idx, val, k, ia, va, ka, s, xcOut, rOut, rAOut, pIdx, pDec, pEnc, sseOut, auxOut, colSum,
 * d, b0, b1): rows b0 ≤ b < b1 of the sparse forward and backward (module comment). Writes xc, r = s·diff,
 * rA = aerr (rows `[B, d]`); the pairs (kk = k + ka per row, main first): pIdx (latent), pDec (z or za), pEnc
 * (dh, or the unscaled u for aux pairs); sseOut[b] = ‖diff‖², auxOut[b] = ‖aerr‖² (f64); colSum += diff (f64).
 */
function decodeKernel(): WasmFunction {
  const params: [string, typeof I32 | typeof F32][] = [
    ["x", I32], ["bPre", I32], ["w", I32], ["idx", I32], ["val", I32], ["k", I32], ["ia", I32], ["va", I32], ["ka", I32],
    ["s", F32], ["xcOut", I32], ["rOut", I32], ["rAOut", I32], ["pIdx", I32], ["pDec", I32], ["pEnc", I32],
    ["sseOut", I32], ["auxOut", I32], ["colSum", I32], ["d", I32], ["b0", I32], ["b1", I32],
  ];
  const f = new WasmFunction("decode", params, undefined, [
    ...ROW_LOCALS,
    ["b", I32], ["q", I32], ["e", I32], ["kk", I32], ["off", I32], ["xrow", I32], ["xcrow", I32], ["rrow", I32],
    ["arow", I32], ["wrow", I32], ["slot", I32], ["c", F32], ["t", F32], ["sc", V128], ["tv", V128], ...ACC_LOCALS,
  ]);
  rowSizes(f);
  f.get("k", "ka").op("i32.add").set("kk");
  // Pair q of the selection (idxArr, valArr, width, first slot) → slot address offset, c = ReLU(value), wrow.
  const pair = (idxArr: string, valArr: string, width: string, first: () => void): void => {
    f.get("b", "kk").op("i32.mul");
    first();
    f.op("i32.add").get("q").op("i32.add").i32(2).op("i32.shl").set("slot");
    f.get("b", width).op("i32.mul").get("q").op("i32.add");
    elem4(f, valArr);
    f.mem("f32.load").f32(0).op("f32.max").set("c");
    f.get("pIdx", "slot").op("i32.add");
    f.get("b", width).op("i32.mul").get("q").op("i32.add");
    elem4(f, idxArr);
    f.mem("i32.load").mem("i32.store");
    f.get("pDec", "slot").op("i32.add").get("c").mem("f32.store");
  };
  const wrowOfSlot = (): void => {
    f.get("pIdx", "slot").op("i32.add").mem("i32.load").get("rowBytes").op("i32.mul").get("w").op("i32.add").set("wrow");
  };
  // pEnc[slot] = c > 0 ? wDec[pIdx[slot]]·row : 0
  const encCoef = (row: string, first: () => void, count: string): void => {
    f.loop("q", () => f.i32(0), () => f.get(count), 1, () => {
      f.get("b", "kk").op("i32.mul");
      first();
      f.op("i32.add").get("q").op("i32.add").i32(2).op("i32.shl").set("slot");
      f.get("pEnc", "slot").op("i32.add");
      f.if(
        () => f.get("pDec", "slot").op("i32.add").mem("f32.load").f32(0).op("f32.gt"),
        () => {
          wrowOfSlot();
          dotRow(f, "wrow", row);
          f.set("c");
        },
        () => f.f32(0).set("c"),
      );
      f.get("c").mem("f32.store");
    });
  };

  f.loop("b", () => f.get("b0"), () => f.get("b1"), 1, () => {
    f.get("b", "rowBytes").op("i32.mul").set("off");
    for (const [row, base] of [["xrow", "x"], ["xcrow", "xcOut"], ["rrow", "rOut"], ["arow", "rAOut"]] as const) {
      f.get(base, "off").op("i32.add").set(row);
    }
    // xc = x − bPre; the decoder sum starts at −xc.
    rowLoops(
      f,
      (o) => {
        at(f, "xrow").mem("v128.load", o);
        at(f, "bPre").mem("v128.load", o).op("f32x4.sub").set("tv");
        at(f, "xcrow").get("tv").mem("v128.store", o);
        at(f, "rrow").get("tv").op("f32x4.neg").mem("v128.store", o);
      },
      () => {
        at(f, "xrow").mem("f32.load");
        at(f, "bPre").mem("f32.load").op("f32.sub").set("t");
        at(f, "xcrow").get("t").mem("f32.store");
        at(f, "rrow").get("t").op("f32.neg").mem("f32.store");
      },
    );
    // diff = Σ_q z_q·wDec[idx_q] − xc
    f.loop("q", () => f.i32(0), () => f.get("k"), 1, () => {
      pair("idx", "val", "k", () => f.i32(0));
      f.if(
        () => f.get("c").f32(0).op("f32.gt"),
        () => {
          wrowOfSlot();
          f.get("c").op("f32x4.splat").set("sc");
          axpyRow(f, "rrow", "wrow", "c", "sc");
        },
      );
    });
    dotRow(f, "rrow", "rrow");
    f.set("t");
    f.get("b").i32(3).op("i32.shl").get("sseOut").op("i32.add").get("t").op("f64.promote_f32").mem("f64.store");
    f.loop("e", () => f.i32(0), () => f.get("d"), 1, () => {
      f.get("e").i32(3).op("i32.shl").get("colSum").op("i32.add");
      f.get("e").i32(3).op("i32.shl").get("colSum").op("i32.add").mem("f64.load");
      f.get("e");
      elem4(f, "rrow");
      f.mem("f32.load").op("f64.promote_f32", "f64.add").mem("f64.store");
    });
    // AuxK: aerr = diff + Σ_q za_q·wDec[ia_q]; u_q = [za_q > 0]·wDec[ia_q]·aerr.
    f.if(
      () => f.get("ka"),
      () => {
        rowLoops(
          f,
          (o) => at(f, "arow").get("rrow", "i").op("i32.add").mem("v128.load", o).mem("v128.store", o),
          () => at(f, "arow").get("rrow", "i").op("i32.add").mem("f32.load").mem("f32.store"),
        );
        f.loop("q", () => f.i32(0), () => f.get("ka"), 1, () => {
          pair("ia", "va", "ka", () => f.get("k"));
          f.if(
            () => f.get("c").f32(0).op("f32.gt"),
            () => {
              wrowOfSlot();
              f.get("c").op("f32x4.splat").set("sc");
              axpyRow(f, "arow", "wrow", "c", "sc");
            },
          );
        });
        dotRow(f, "arow", "arow");
        f.set("t");
        f.get("b").i32(3).op("i32.shl").get("auxOut").op("i32.add").get("t").op("f64.promote_f32").mem("f64.store");
        encCoef("arow", () => f.get("k"), "ka");
      },
      () => f.get("b").i32(3).op("i32.shl").get("auxOut").op("i32.add").f64(0).mem("f64.store"),
    );
    // r = s·diff; dh_q = [z_q > 0]·wDec[idx_q]·r.
    f.get("s").op("f32x4.splat").set("sc");
    scaleRow(f, "rrow", "s", "sc");
    encCoef("rrow", () => f.i32(0), "k");
  });
  return f;
}

/**
 * accumulate(dst, j0, j1, d, offsets, order, coef, srcMain, srcAux, kk, kMain): for latents j0 ≤ j < j1, row j
 * of dst `[F, d]` = Σ over pairs t ∈ [offsets[j], offsets[j+1]) of coef[p]·src_b, where p = order[t],
 * b = ⌊p / kk⌋ and src = srcMain when p mod kk < kMain, else srcAux. Rows without pairs become 0.
 */
function accumulateKernel(): WasmFunction {
  const f = new WasmFunction(
    "accumulate",
    [
      ["dst", I32], ["j0", I32], ["j1", I32], ["d", I32], ["offsets", I32], ["order", I32], ["coef", I32],
      ["srcMain", I32], ["srcAux", I32], ["kk", I32], ["kMain", I32],
    ],
    undefined,
    [...ROW_LOCALS, ["j", I32], ["t", I32], ["end", I32], ["p", I32], ["b", I32], ["src", I32], ["row", I32], ["c", F32], ["sc", V128]],
  );
  rowSizes(f);
  const pair = (): void => {
    f.get("t");
    elem4(f, "order");
    f.mem("i32.load").set("p");
    f.get("p");
    elem4(f, "coef");
    f.mem("f32.load").set("c");
    f.get("c").op("f32x4.splat").set("sc");
    f.get("p", "kk").op("i32.div_u").set("b");
    // select(srcMain, srcAux, p − b·kk < kMain) + b·rowBytes
    f.get("srcMain", "srcAux", "p", "b", "kk").op("i32.mul", "i32.sub").get("kMain").op("i32.lt_u", "select");
    f.get("b", "rowBytes").op("i32.mul", "i32.add").set("src");
  };
  f.loop("j", () => f.get("j0"), () => f.get("j1"), 1, () => {
    f.get("dst", "j", "rowBytes").op("i32.mul", "i32.add").set("row");
    f.get("j");
    elem4(f, "offsets");
    f.mem("i32.load").set("t");
    f.get("j").i32(1).op("i32.add");
    elem4(f, "offsets");
    f.mem("i32.load").set("end");
    f.if(
      () => f.get("t", "end").op("i32.eq"),
      () => {
        f.f32(0).op("f32x4.splat").set("sc");
        rowLoops(
          f,
          (o) => at(f, "row").get("sc").mem("v128.store", o),
          () => at(f, "row").f32(0).mem("f32.store"),
        );
      },
      () => {
        // The first pair sets the row, the others add into it.
        pair();
        rowLoops(
          f,
          (o) => at(f, "row").get("sc").get("src", "i").op("i32.add").mem("v128.load", o).op("f32x4.mul").mem("v128.store", o),
          () => at(f, "row").get("c").get("src", "i").op("i32.add").mem("f32.load").op("f32.mul").mem("f32.store"),
        );
        f.loop("t", () => f.get("t").i32(1).op("i32.add"), () => f.get("end"), 1, () => {
          pair();
          axpyRow(f, "row", "src", "c", "sc");
        });
      },
    );
  });
  return f;
}

/** sumSq(x, rows, d): Σ x² as f64 (f32x4 sums within a row, f64 across rows). */
function sumSqKernel(): WasmFunction {
  const f = new WasmFunction("sumSq", [["x", I32], ["rows", I32], ["d", I32]], F64, [
    ...ROW_LOCALS,
    ["j", I32], ["row", I32], ["t", F32], ...ACC_LOCALS, ["total", F64],
  ]);
  rowSizes(f);
  f.f64(0).set("total");
  f.loop("j", () => f.i32(0), () => f.get("rows"), 1, () => {
    f.get("x", "j", "rowBytes").op("i32.mul", "i32.add").set("row");
    f.get("total");
    dotRow(f, "row", "row");
    f.op("f64.promote_f32", "f64.add").set("total");
  });
  f.get("total");
  return f;
}

/**
 * project(g, w, rows, d, along): per row j, along[j] = g_j·w_j (stored as f64); returns Σ_j ‖g_j − along_j·w_j‖²
 * as f64 (step 9's projection and its share of the global norm).
 */
function projectKernel(): WasmFunction {
  const f = new WasmFunction("project", [["g", I32], ["w", I32], ["rows", I32], ["d", I32], ["along", I32]], F64, [
    ...ROW_LOCALS,
    ["j", I32], ["grow", I32], ["wrow", I32], ["t", F32], ["c", F32], ["x", F32], ["sc", V128], ["tv", V128], ...ACC_LOCALS, ["total", F64],
  ]);
  rowSizes(f);
  f.f64(0).set("total");
  f.loop("j", () => f.i32(0), () => f.get("rows"), 1, () => {
    f.get("g", "j", "rowBytes").op("i32.mul", "i32.add").set("grow");
    f.get("w", "j", "rowBytes").op("i32.mul", "i32.add").set("wrow");
    dotRow(f, "grow", "wrow");
    f.set("c");
    f.get("j").i32(3).op("i32.shl").get("along").op("i32.add").get("c").op("f64.promote_f32").mem("f64.store");
    f.get("c").op("f32x4.splat").set("sc");
    zeroAccs(f);
    rowLoops(
      f,
      (o, u) => {
        at(f, "grow").mem("v128.load", o).get("sc");
        at(f, "wrow").mem("v128.load", o).op("f32x4.mul", "f32x4.sub").set("tv");
        f.get(`acc${u}`, "tv", "tv").op("f32x4.mul", "f32x4.add").set(`acc${u}`);
      },
      () => {
        at(f, "grow").mem("f32.load").get("c");
        at(f, "wrow").mem("f32.load").op("f32.mul", "f32.sub").set("x");
        f.get("t", "x", "x").op("f32.mul", "f32.add").set("t");
      },
    );
    f.get("total");
    sumAccs(f);
    f.op("f64.promote_f32", "f64.add").set("total");
  });
  f.get("total");
  return f;
}

/**
 * adam(p, m, v, g, rows, d, along, flags, b1, b2, c1, c2, step, ib, eps): Adam over `rows` rows (module
 * comment; c1 = (1 − β1)·coef, c2 = (1 − β2)·coef², ib = 1/√(1 − β2ᵗ)). flags bit 0: project the gradient with
 * along (f64 per row); bit 1: renormalise each row afterwards (an all-zero row stays zero).
 */
function adamKernel(): WasmFunction {
  const f = new WasmFunction(
    "adam",
    [
      ["p", I32], ["m", I32], ["v", I32], ["g", I32], ["rows", I32], ["d", I32], ["along", I32], ["flags", I32],
      ["b1", F32], ["b2", F32], ["c1", F32], ["c2", F32], ["step", F32], ["ib", F32], ["eps", F32],
    ],
    undefined,
    [
      ...ROW_LOCALS,
      ["j", I32], ["off", I32], ["pr", I32], ["mr", I32], ["vr", I32], ["gr", I32],
      ["sA", V128], ["sB1", V128], ["sB2", V128], ["sC1", V128], ["sC2", V128], ["sStep", V128], ["sIb", V128], ["sEps", V128],
      ["vp", V128], ["vg", V128], ["vm", V128], ["vv", V128], ...ACC_LOCALS,
      ["al", F32], ["xp", F32], ["xg", F32], ["xm", F32], ["xv", F32], ["nsq", F32], ["inv", F32], ["t", F32],
    ],
  );
  rowSizes(f);
  for (const [s, v] of [["b1", "sB1"], ["b2", "sB2"], ["c1", "sC1"], ["c2", "sC2"], ["step", "sStep"], ["ib", "sIb"], ["eps", "sEps"]]) {
    f.get(s!).op("f32x4.splat").set(v!);
  }
  f.loop("j", () => f.i32(0), () => f.get("rows"), 1, () => {
    f.get("j", "rowBytes").op("i32.mul").set("off");
    for (const base of ["p", "m", "v", "g"]) f.get(base, "off").op("i32.add").set(`${base}r`);
    f.f32(0).set("al");
    f.if(
      () => f.get("flags").i32(1).op("i32.and"),
      () => f.get("j").i32(3).op("i32.shl").get("along").op("i32.add").mem("f64.load").op("f32.demote_f64").set("al"),
    );
    f.get("al").op("f32x4.splat").set("sA");
    zeroAccs(f);
    rowLoops(
      f,
      (o, u) => {
        at(f, "pr").mem("v128.load", o).set("vp");
        at(f, "gr").mem("v128.load", o).get("sA", "vp").op("f32x4.mul", "f32x4.sub").set("vg");
        at(f, "mr").mem("v128.load", o).get("sB1").op("f32x4.mul").get("sC1", "vg").op("f32x4.mul", "f32x4.add").set("vm");
        at(f, "mr").get("vm").mem("v128.store", o);
        at(f, "vr").mem("v128.load", o).get("sB2").op("f32x4.mul").get("sC2", "vg").op("f32x4.mul").get("vg").op("f32x4.mul", "f32x4.add").set("vv");
        at(f, "vr").get("vv").mem("v128.store", o);
        f.get("vp", "sStep", "vm").op("f32x4.mul").get("vv").op("f32x4.sqrt").get("sIb").op("f32x4.mul").get("sEps");
        f.op("f32x4.add", "f32x4.div", "f32x4.sub").set("vp");
        at(f, "pr").get("vp").mem("v128.store", o);
        f.get(`acc${u}`, "vp", "vp").op("f32x4.mul", "f32x4.add").set(`acc${u}`);
      },
      () => {
        at(f, "pr").mem("f32.load").set("xp");
        at(f, "gr").mem("f32.load").get("al", "xp").op("f32.mul", "f32.sub").set("xg");
        at(f, "mr").mem("f32.load").get("b1").op("f32.mul").get("c1", "xg").op("f32.mul", "f32.add").set("xm");
        at(f, "mr").get("xm").mem("f32.store");
        at(f, "vr").mem("f32.load").get("b2").op("f32.mul").get("c2", "xg").op("f32.mul").get("xg").op("f32.mul", "f32.add").set("xv");
        at(f, "vr").get("xv").mem("f32.store");
        f.get("xp", "step", "xm").op("f32.mul").get("xv").op("f32.sqrt").get("ib").op("f32.mul").get("eps");
        f.op("f32.add", "f32.div", "f32.sub").set("xp");
        at(f, "pr").get("xp").mem("f32.store");
        f.get("t", "xp", "xp").op("f32.mul", "f32.add").set("t");
      },
    );
    sumAccs(f);
    f.set("nsq");
    f.if(
      () => f.get("flags").i32(1).op("i32.shr_u").get("nsq").f32(0).op("f32.gt", "i32.and"),
      () => {
        f.f32(1).get("nsq").op("f32.sqrt", "f32.div").set("inv");
        f.get("inv").op("f32x4.splat").set("sA");
        scaleRow(f, "pr", "inv", "sA");
      },
    );
  });
  return f;
}

/** weightedRowSum(out, w, coef, rows, d): out `[d]` = Σ_j coef[j]·w_j (rows with coef 0 skipped). */
function weightedRowSumKernel(): WasmFunction {
  const f = new WasmFunction("weightedRowSum", [["out", I32], ["w", I32], ["coef", I32], ["rows", I32], ["d", I32]], undefined, [
    ...ROW_LOCALS,
    ["j", I32], ["row", I32], ["c", F32], ["sc", V128],
  ]);
  rowSizes(f);
  f.f32(0).op("f32x4.splat").set("sc");
  rowLoops(
    f,
    (o) => at(f, "out").get("sc").mem("v128.store", o),
    () => at(f, "out").f32(0).mem("f32.store"),
  );
  f.loop("j", () => f.i32(0), () => f.get("rows"), 1, () => {
    f.get("j");
    elem4(f, "coef");
    f.mem("f32.load").set("c");
    f.if(
      () => f.get("c").f32(0).op("f32.ne"),
      () => {
        f.get("w", "j", "rowBytes").op("i32.mul", "i32.add").set("row");
        f.get("c").op("f32x4.splat").set("sc");
        axpyRow(f, "out", "row", "c", "sc");
      },
    );
  });
  return f;
}

/** The kernels' export names, in a fixed order (worker threads call them by index). */
export const KERNEL_NAMES = ["decode", "accumulate", "sumSq", "project", "adam", "weightedRowSum"] as const;
/** A kernel's export name. */
export type KernelName = (typeof KERNEL_NAMES)[number];

/** adam kernel flag: project each row's gradient with its along_j first (the decoder). */
export const ADAM_PROJECT = 1;
/** adam kernel flag: renormalise each row to unit L2 norm afterwards (the decoder). */
export const ADAM_RENORM = 2;

/**
 * The kernels' module, importing memory `env.mem` (at least `minPages`; `shared` for worker threads).
 * Kernel arguments are byte addresses (i32) into that memory, sizes, and scalars.
 */
export function kernelModule(minPages: number, shared = false): Uint8Array {
  return assembleModule([decodeKernel(), accumulateKernel(), sumSqKernel(), projectKernel(), adamKernel(), weightedRowSumKernel()], minPages, shared);
}

// --- The same kernels in plain JS: the fallback (no WebAssembly SIMD, or more than 4 GiB) and the reference.

/** Adam's per-step scalars (PyTorch semantics, t already incremented). */
export interface AdamScalars {
  beta1: number;
  beta2: number;
  eps: number;
  /** lr / (1 − β1ᵗ). */
  stepSize: number;
  /** √(1 − β2ᵗ). */
  sqrtBc2: number;
}

/** One batch's selections and per-row / per-pair work buffers (views sized for the batch capacity). */
export interface StepStaging {
  /** `[B, D]` the batch (onnxruntime reads it from here). */
  x: Float32Array;
  /** `[B, K]` main selection (latent ids, as the select graph outputs them) and its pre-activations. */
  indices: Int32Array;
  values: Float32Array;
  /** `[B, KA]` AuxK selection and its pre-activations. */
  auxIndices: Int32Array;
  auxValues: Float32Array;
  /** `[B, KK]` pairs (KK = K + KA, main first): latent, decoder coefficient (z / za·auxScale), encoder one (dh). */
  pairIdx: Int32Array;
  pairDec: Float32Array;
  pairEnc: Float32Array;
  /** `[B, D]` x − bPre, dL/dx̂ and the AuxK error ê − e (its gradient up to the scalar auxScale). */
  xc: Float32Array;
  r: Float32Array;
  rA: Float32Array;
  /** `[B]` ‖x̂ − x‖² and ‖ê − e‖² per row (f64). */
  sse: Float64Array;
  auxSse: Float64Array;
  /** `[D]` Σ_b (x̂ − x)_b (f64). */
  colSum: Float64Array;
}

/** Σ a² in float64. */
export function sumSquares(a: Float32Array): number {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc += a[i]! * a[i]!;
  return acc;
}

/** The JS twin of the `decode` kernel for rows [b0, b1) (see `decodeKernel`; kk = k + ka). */
export function decodeRows(
  st: StepStaging,
  bPreD: Float32Array,
  wDecFD: Float32Array,
  k: number,
  ka: number,
  s: number,
  d: number,
  b0: number,
  b1: number,
): void {
  const kk = k + ka;
  const dot = (j: number, row: Float32Array, at: number): number => {
    let acc = 0;
    for (let i = 0; i < d; i++) acc += wDecFD[j * d + i]! * row[at + i]!;
    return acc;
  };
  const select = (ids: Int32Array, vals: Float32Array, width: number, b: number, first: number, row: Float32Array): void => {
    for (let q = 0; q < width; q++) {
      const slot = b * kk + first + q;
      const j = ids[b * width + q]!;
      const c = Math.max(vals[b * width + q]!, 0);
      st.pairIdx[slot] = j;
      st.pairDec[slot] = c;
      if (c > 0) for (let i = 0; i < d; i++) row[b * d + i]! += c * wDecFD[j * d + i]!;
    }
  };
  const encCoefs = (b: number, first: number, width: number, row: Float32Array): void => {
    for (let q = 0; q < width; q++) {
      const slot = b * kk + first + q;
      st.pairEnc[slot] = st.pairDec[slot]! > 0 ? dot(st.pairIdx[slot]!, row, b * d) : 0;
    }
  };
  const rowSumSq = (row: Float32Array, b: number): number => {
    let acc = 0;
    for (let i = 0; i < d; i++) acc += row[b * d + i]! ** 2;
    return acc;
  };
  for (let b = b0; b < b1; b++) {
    for (let i = 0; i < d; i++) {
      st.xc[b * d + i] = st.x[b * d + i]! - bPreD[i]!;
      st.r[b * d + i] = -st.xc[b * d + i]!;
    }
    select(st.indices, st.values, k, b, 0, st.r);
    st.sse[b] = rowSumSq(st.r, b);
    for (let i = 0; i < d; i++) st.colSum[i]! += st.r[b * d + i]!;
    st.auxSse[b] = 0;
    if (ka > 0) {
      for (let i = 0; i < d; i++) st.rA[b * d + i] = st.r[b * d + i]!;
      select(st.auxIndices, st.auxValues, ka, b, k, st.rA);
      st.auxSse[b] = rowSumSq(st.rA, b);
      encCoefs(b, k, ka, st.rA);
    }
    for (let i = 0; i < d; i++) st.r[b * d + i]! *= s;
    encCoefs(b, 0, k, st.r);
  }
}

/** The JS twin of `accumulate` for latents [j0, j1) (see `accumulateKernel`). */
export function accumulateRowsInPlace(
  dstFD: Float32Array,
  j0: number,
  j1: number,
  d: number,
  offsets: Int32Array,
  order: Int32Array,
  coef: Float32Array,
  srcMain: Float32Array,
  srcAux: Float32Array,
  kk: number,
  kMain: number,
): void {
  for (let j = j0; j < j1; j++) {
    const row = j * d;
    dstFD.fill(0, row, row + d);
    for (let t = offsets[j]!; t < offsets[j + 1]!; t++) {
      const p = order[t]!;
      const b = Math.floor(p / kk);
      const src = p - b * kk < kMain ? srcMain : srcAux;
      const c = coef[p]!;
      for (let i = 0; i < d; i++) dstFD[row + i]! += c * src[b * d + i]!;
    }
  }
}

/**
 * Group pairs by latent (a stable counting sort): afterwards the pairs of latent j are
 * order[offsets[j] .. offsets[j+1]), in increasing pair index.
 * @param pairIdx `[count]` latent of each pair, in [0, n)
 * @param offsets out: `[n + 1]`
 * @param order out: `[count]` (at least)
 */
export function groupPairsByLatent(pairIdx: Int32Array, count: number, n: number, offsets: Int32Array, order: Int32Array): void {
  offsets.fill(0, 0, n + 1);
  for (let p = 0; p < count; p++) offsets[pairIdx[p]! + 1]!++;
  for (let j = 0; j < n; j++) offsets[j + 1]! += offsets[j]!;
  const cursor = offsets.slice(0, n);
  for (let p = 0; p < count; p++) order[cursor[pairIdx[p]!]!++] = p;
}

/**
 * The JS twin of `project` (step 9 and its share of step 10): alongF[j] = g_j·w_j; returns
 * Σ_j ‖g_j − along_j·w_j‖² (projected entries rounded to float32, as stored).
 */
export function projectedNormSq(gFD: Float32Array, wFD: Float32Array, alongF: Float64Array, n: number, d: number): number {
  let total = 0;
  for (let j = 0; j < n; j++) {
    const base = j * d;
    let along = 0;
    for (let i = 0; i < d; i++) along += gFD[base + i]! * wFD[base + i]!;
    alongF[j] = along;
    for (let i = 0; i < d; i++) {
      const gp = Math.fround(gFD[base + i]! - along * wFD[base + i]!);
      total += gp * gp;
    }
  }
  return total;
}

/**
 * The JS twin of `adam` over `[rows, D]` (steps 11–12): Adam with the clipped gradient coef·g — projected first
 * when `alongF` is given — then, when `renorm`, each row back to unit norm. Rounds to float32 where the
 * reference (naive.ts) stores, so it matches it closely.
 */
export function adamRowsInPlace(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  rows: number,
  d: number,
  coef: number,
  s: AdamScalars,
  alongF?: Float64Array,
  renorm = false,
): void {
  const { beta1, beta2, eps, stepSize, sqrtBc2 } = s;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let j = 0; j < rows; j++) {
    const base = j * d;
    const along = alongF ? alongF[j]! : 0;
    let normSq = 0;
    for (let i = base; i < base + d; i++) {
      const gp = alongF ? Math.fround(g[i]! - along * p[i]!) : g[i]!;
      const gc = Math.fround(gp * coef);
      const mi = Math.fround(beta1 * m[i]! + c1 * gc);
      const vi = Math.fround(beta2 * v[i]! + c2 * gc * gc);
      m[i] = mi;
      v[i] = vi;
      const pi = Math.fround(p[i]! - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps));
      p[i] = pi;
      normSq += pi * pi;
    }
    if (renorm && normSq > 0) {
      const inv = 1 / Math.sqrt(normSq);
      for (let i = base; i < base + d; i++) p[i]! *= inv;
    }
  }
}

/** The JS twin of `weightedRowSum`: outD = Σ_j coef[j]·w_j. */
export function weightedRowSum(outD: Float32Array, wFD: Float32Array, coefF: Float32Array, n: number, d: number): void {
  const acc = new Float64Array(d);
  for (let j = 0; j < n; j++) {
    const c = coefF[j]!;
    if (c !== 0) for (let i = 0; i < d; i++) acc[i]! += c * wFD[j * d + i]!;
  }
  outD.set(acc);
}
