/**
 * A minimal binding of oneDNN 2.x (`libdnnl.so.2`, Debian package `libdnnl2`) through Deno FFI:
 * NHWC float32 convolutions (forward, input gradient, filter gradient) and row-major SGEMM,
 * reading and writing caller-owned memory (the wasm backend's heap) in place.
 *
 * Only the oneDNN 2.x C API is used (`*_desc_init` + `dnnl_primitive_desc_create`; 3.x removed
 * it). Struct sizes and enum values below are those of oneDNN 2.6's `dnnl_types.h`; descriptor
 * buffers are allocated generously so that a 2.x minor version with slightly larger structs
 * still fits. Primitives are created once per shape and cached.
 *
 * Memory layouts: activations `nhwc` (tfjs' NHWC), filters `hwio` (tfjs' [kh, kw, Cin, Cout]).
 * oneDNN chooses the filter layout its fastest kernel wants (`any`); filters and filter
 * gradients are reordered to and from it (they are small), activations are never copied.
 *
 * @module
 */

// oneDNN 2.6 constants (dnnl_types.h).
const F32 = 3;
const TAG_ANY = 1;
const TAG_NHWC = 20; // dnnl_acdb
const TAG_HWIO = 30; // dnnl_cdba
const FORWARD_TRAINING = 64;
const CONV_DIRECT = 1;
const ENGINE_CPU = 1;
const STREAM_DEFAULT = 1;
export const ARG_SRC = 1;
export const ARG_DST = 17;
export const ARG_WEIGHTS = 33;
export const ARG_DIFF_SRC = 129;
export const ARG_DIFF_DST = 145;
export const ARG_DIFF_WEIGHTS = 161;
const POOLING_MAX = 511;
const TAG_AB = 3; // dnnl_ab: row-major 2D
const BINARY_ALG = { add: 0x1fff0, mul: 0x1fff1, sub: 0x1fff5 } as const;
const ELTWISE_SQUARE = 0x4f;
const ARG_SRC_1 = 2;
const ARG_POST_OP_BASE = 16384; // DNNL_ARG_ATTR_MULTIPLE_POST_OP(i) = base·(i + 1)
export const ARG_WORKSPACE = 64;
const QUERY_WORKSPACE_MD = 135;
const QUERY_IMPL_INFO_STR = 8;
const QUERY_WEIGHTS_MD = 131;
const QUERY_DIFF_WEIGHTS_MD = 132;
/** Generous sizes (2.6: memory desc 696 bytes, convolution desc 5,976 bytes). */
const MD_BYTES = 2048;
const OP_DESC_BYTES = 16384;
const DIMS = 12; // DNNL_MAX_NDIMS

const symbols = {
  dnnl_version: { parameters: [], result: "pointer" },
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  dnnl_stream_create: { parameters: ["buffer", "pointer", "u32"], result: "i32" },
  dnnl_memory_desc_init_by_tag: {
    parameters: ["buffer", "i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  dnnl_memory_desc_equal: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_memory_desc_get_size: { parameters: ["pointer"], result: "usize" },
  dnnl_dilated_convolution_forward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_dilated_convolution_backward_data_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_dilated_convolution_backward_weights_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_pooling_v2_forward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_pooling_v2_backward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_desc_query: {
    parameters: ["pointer", "i32", "i32", "buffer"],
    result: "i32",
  },
  dnnl_primitive_desc_query_md: { parameters: ["pointer", "i32", "i32"], result: "pointer" },
  dnnl_reorder_primitive_desc_create: {
    parameters: ["buffer", "pointer", "pointer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_binary_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_post_ops_create: { parameters: ["buffer"], result: "i32" },
  dnnl_post_ops_append_binary: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  dnnl_post_ops_append_eltwise: {
    parameters: ["pointer", "f32", "i32", "f32", "f32"],
    result: "i32",
  },
  dnnl_primitive_attr_create: { parameters: ["buffer"], result: "i32" },
  dnnl_primitive_attr_set_post_ops: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_memory_create: { parameters: ["buffer", "pointer", "pointer", "pointer"], result: "i32" },
  dnnl_memory_set_data_handle: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_primitive_execute: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
  dnnl_stream_wait: { parameters: ["pointer"], result: "i32" },
  dnnl_sgemm: {
    parameters: [
      "u8",
      "u8",
      "i64",
      "i64",
      "i64",
      "f32",
      "pointer",
      "i64",
      "pointer",
      "i64",
      "f32",
      "pointer",
      "i64",
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

type Lib = Deno.DynamicLibrary<typeof symbols>["symbols"];
type Ptr = Deno.PointerValue;

// dlopen(3) flags (glibc): resolve now, and never unmap the object on dlclose.
const RTLD_NOW = 0x2, RTLD_NODELETE = 0x1000;

/**
 * Loads `path` once more with RTLD_NODELETE, so that it and the libgomp it links stay mapped for
 * the life of the process. Deno closes a `Deno.dlopen` library when the isolate that opened it
 * ends (a module of `deno test --parallel`), and the last close unmapped oneDNN and libgomp
 * (`LD_DEBUG=files`: "file=…/libdnnl.so.2 [0]; destroying link map", then libgomp's) while
 * OpenMP's pool threads — created from a Deno worker thread, so named `tokio-runtime-w` — were
 * still parked in libgomp's code. Measured 2026-12-01 on the full suite: without the pin 9 of 12
 * runs died (8 × SIGSEGV at an unmapped address, dmesg "segfault … Unable to access opcode
 * bytes"; once a rotscale reshape saw a tensor of the wrong size), with it 6 of 6 passed and no
 * process unmapped oneDNN. Linux with glibc only; elsewhere a no-op.
 */
function pinLibrary(path: string): void {
  if (Deno.build.os !== "linux") return;
  let libc: Deno.DynamicLibrary<{ dlopen: { parameters: ["buffer", "i32"]; result: "pointer" } }>;
  try {
    libc = Deno.dlopen("libc.so.6", {
      dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
    });
  } catch {
    return; // not glibc: nothing to pin with
  }
  try {
    // The handle is kept on purpose (never dlclose'd). A null one means the path does not
    // load; Deno.dlopen below then says why.
    libc.symbols.dlopen(new TextEncoder().encode(path + "\0"), RTLD_NOW | RTLD_NODELETE);
  } finally {
    libc.close();
  }
}

/** Thrown when a oneDNN call fails; the message names the call and its status code. */
export class DnnlError extends Error {
  override name = "DnnlError";
}

function check(status: number, what: string): void {
  if (status !== 0) throw new DnnlError(`oneDNN ${what} failed with status ${status}`);
}

function dims(values: number[]): BigInt64Array {
  const d = new BigInt64Array(DIMS);
  values.forEach((v, i) => d[i] = BigInt(v));
  return d;
}

function readPtr(cell: BigUint64Array): Ptr {
  return Deno.UnsafePointer.create(cell[0]);
}

/** Geometry of one NHWC convolution (explicit padding, tfjs conventions). */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
}

export type ConvPass = "forward" | "backwardData" | "backwardWeights";

interface Mem {
  handle: Ptr;
}

/** A cached convolution primitive with its memory objects; buffers are bound per call. */
interface ConvPlan {
  primitive: Ptr;
  /** Activation memories in nhwc, bound to the caller's buffers on every call. */
  src: Ptr;
  dst: Ptr;
  /** The filter in tfjs' hwio layout (bound per call) and in the primitive's layout. */
  userWeights: Ptr;
  weights: Ptr;
  /** Reorder between them (null when the layouts agree and `weights === userWeights`). */
  reorder: Ptr | null;
  impl: string;
}

/** Geometry of one NHWC max pooling (explicit padding, tfjs conventions). */
export interface PoolGeometry {
  batch: number;
  channels: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
}

/** Forward (training, with workspace) and backward max pooling for one geometry. */
interface PoolPlan {
  forward: Ptr;
  backward: Ptr;
  src: Ptr;
  dst: Ptr;
  diffSrc: Ptr;
  diffDst: Ptr;
  /** Library-owned: the forward result and the argmax workspace, only used to route dy. */
  workspace: Ptr;
}

/**
 * One step of a {@linkcode Dnnl.channelChain}: a binary op with the next operand, either one
 * value per column ([1, C], broadcast over rows) or a full [M, C] matrix; or squaring.
 */
export type ChainStep =
  | { op: "sub" | "mul" | "add"; operand: "column" | "full" }
  | { op: "square" };

/** A binary primitive with post-ops for one chain and matrix shape. */
interface ChainPlan {
  primitive: Ptr;
  x: Ptr;
  out: Ptr;
  /** One memory per operand, with its execution argument. */
  operands: { mem: Ptr; arg: number }[];
}

/** Loaded oneDNN: an engine, a stream and a cache of primitives. */
export class Dnnl {
  readonly path: string;
  readonly version: string;
  readonly #lib: Lib;
  readonly #engine: Ptr;
  readonly #stream: Ptr;
  readonly #plans = new Map<string, ConvPlan>();
  readonly #fwdHints = new Map<string, Ptr>();
  readonly #pools = new Map<string, PoolPlan>();
  readonly #chains = new Map<string, ChainPlan>();

  private constructor(path: string, lib: Lib) {
    this.path = path;
    this.#lib = lib;
    const v = new Deno.UnsafePointerView(lib.dnnl_version()!);
    this.version = `${v.getInt32(0)}.${v.getInt32(4)}.${v.getInt32(8)}`;
    const cell = new BigUint64Array(1);
    check(lib.dnnl_engine_create(cell, ENGINE_CPU, 0n), "engine_create");
    this.#engine = readPtr(cell);
    check(lib.dnnl_stream_create(cell, this.#engine, STREAM_DEFAULT), "stream_create");
    this.#stream = readPtr(cell);
  }

  /**
   * Opens oneDNN 2.x from the first of `paths` that loads; throws with every reason otherwise.
   * The library is pinned in memory first ({@linkcode pinLibrary}).
   */
  static open(paths: string[]): Dnnl {
    const reasons: string[] = [];
    for (const path of paths) {
      let dl: Deno.DynamicLibrary<typeof symbols>;
      try {
        pinLibrary(path);
        dl = Deno.dlopen(path, symbols);
      } catch (e) {
        reasons.push(`${path}: ${(e as Error).message.split("\n")[0]}`);
        continue;
      }
      const v = new Deno.UnsafePointerView(dl.symbols.dnnl_version()!);
      if (v.getInt32(0) !== 2) {
        reasons.push(`${path}: oneDNN ${v.getInt32(0)}.x, this binding needs 2.x`);
        dl.close();
        continue;
      }
      return new Dnnl(path, dl.symbols);
    }
    throw new DnnlError(reasons.join("; "));
  }

  #md(shape: number[], tag: number): Uint8Array {
    const md = new Uint8Array(MD_BYTES);
    check(
      this.#lib.dnnl_memory_desc_init_by_tag(md, shape.length, dims(shape), F32, tag),
      "memory_desc_init_by_tag",
    );
    return md;
  }

  #pd(opDesc: Uint8Array, hint: Ptr): Ptr {
    const cell = new BigUint64Array(1);
    check(
      this.#lib.dnnl_primitive_desc_create(cell, opDesc, null, this.#engine, hint),
      "primitive_desc_create",
    );
    return readPtr(cell);
  }

  #primitive(pd: Ptr): Ptr {
    const cell = new BigUint64Array(1);
    check(this.#lib.dnnl_primitive_create(cell, pd), "primitive_create");
    return readPtr(cell);
  }

  /** A memory object for `md` (a buffer or a pointer to a desc); `allocate`: library-owned. */
  #memory(md: Uint8Array | Ptr, allocate: boolean): Ptr {
    const cell = new BigUint64Array(1);
    const mdPtr = md instanceof Uint8Array ? Deno.UnsafePointer.of(md) : md;
    const handle = allocate ? Deno.UnsafePointer.create(0xffffffffffffffffn) : null;
    check(this.#lib.dnnl_memory_create(cell, mdPtr, this.#engine, handle), "memory_create");
    return readPtr(cell);
  }

  #impl(pd: Ptr): string {
    const cell = new BigUint64Array(1);
    check(
      this.#lib.dnnl_primitive_desc_query(pd, QUERY_IMPL_INFO_STR, 0, cell),
      "query impl_info_str",
    );
    const p = readPtr(cell);
    return p ? Deno.UnsafePointerView.getCString(p) : "?";
  }

  #convDescs(g: ConvGeometry) {
    const src = this.#md([g.batch, g.inChannels, g.inHeight, g.inWidth], TAG_NHWC);
    const dst = this.#md([g.batch, g.outChannels, g.outHeight, g.outWidth], TAG_NHWC);
    const wShape = [g.outChannels, g.inChannels, g.filterHeight, g.filterWidth];
    const userW = this.#md(wShape, TAG_HWIO);
    const anyW = this.#md(wShape, TAG_ANY);
    const strides = dims([g.strideHeight, g.strideWidth]);
    // oneDNN counts dilation from 0 (0 = dense), tfjs from 1.
    const dilates = dims([g.dilationHeight - 1, g.dilationWidth - 1]);
    const padL = dims([g.padTop, g.padLeft]);
    const padR = dims([g.padBottom, g.padRight]);
    return { src, dst, userW, anyW, strides, dilates, padL, padR };
  }

  #forwardHint(key: string, g: ConvGeometry): Ptr {
    let pd = this.#fwdHints.get(key);
    if (pd) return pd;
    const d = this.#convDescs(g);
    const op = new Uint8Array(OP_DESC_BYTES);
    check(
      this.#lib.dnnl_dilated_convolution_forward_desc_init(
        op,
        FORWARD_TRAINING,
        CONV_DIRECT,
        d.src,
        d.anyW,
        null,
        d.dst,
        d.strides,
        d.dilates,
        d.padL,
        d.padR,
      ),
      "convolution_forward_desc_init",
    );
    pd = this.#pd(op, null);
    this.#fwdHints.set(key, pd);
    return pd;
  }

  #plan(pass: ConvPass, g: ConvGeometry): ConvPlan {
    const geometryKey = Object.values(g).join(",");
    const key = `${pass}:${geometryKey}`;
    const cached = this.#plans.get(key);
    if (cached) return cached;
    const lib = this.#lib;
    const d = this.#convDescs(g);
    const hint = this.#forwardHint(geometryKey, g);
    let pd: Ptr;
    if (pass === "forward") {
      pd = hint;
    } else {
      const op = new Uint8Array(OP_DESC_BYTES);
      if (pass === "backwardData") {
        check(
          lib.dnnl_dilated_convolution_backward_data_desc_init(
            op,
            CONV_DIRECT,
            d.src,
            d.anyW,
            d.dst,
            d.strides,
            d.dilates,
            d.padL,
            d.padR,
          ),
          "convolution_backward_data_desc_init",
        );
      } else {
        check(
          lib.dnnl_dilated_convolution_backward_weights_desc_init(
            op,
            CONV_DIRECT,
            d.src,
            d.anyW,
            null,
            d.dst,
            d.strides,
            d.dilates,
            d.padL,
            d.padR,
          ),
          "convolution_backward_weights_desc_init",
        );
      }
      pd = this.#pd(op, hint);
    }
    const primitive = this.#primitive(pd);
    const wQuery = pass === "backwardWeights" ? QUERY_DIFF_WEIGHTS_MD : QUERY_WEIGHTS_MD;
    const wMd = lib.dnnl_primitive_desc_query_md(pd, wQuery, 0);
    const userMdPtr = Deno.UnsafePointer.of(d.userW);
    const userWeights = this.#memory(d.userW, false);
    let weights = userWeights;
    let reorder: Ptr | null = null;
    if (!lib.dnnl_memory_desc_equal(wMd, userMdPtr)) {
      weights = this.#memory(wMd, true);
      const cell = new BigUint64Array(1);
      const [from, to] = pass === "backwardWeights" ? [wMd, userMdPtr] : [userMdPtr, wMd];
      check(
        lib.dnnl_reorder_primitive_desc_create(cell, from, this.#engine, to, this.#engine, null),
        "reorder_primitive_desc_create",
      );
      reorder = this.#primitive(readPtr(cell));
    }
    const plan: ConvPlan = {
      primitive,
      src: this.#memory(d.src, false),
      dst: this.#memory(d.dst, false),
      userWeights,
      weights,
      reorder,
      impl: this.#impl(pd),
    };
    // Keep the descriptors alive as long as the memories that were made from them.
    (plan as unknown as { descs: unknown }).descs = d;
    this.#plans.set(key, plan);
    return plan;
  }

  #execute(primitive: Ptr, args: [number, Ptr][]): void {
    const buf = new Uint8Array(16 * args.length);
    const view = new DataView(buf.buffer);
    args.forEach(([arg, mem], i) => {
      view.setInt32(16 * i, arg, true);
      view.setBigUint64(16 * i + 8, BigInt(Deno.UnsafePointer.value(mem)), true);
    });
    check(
      this.#lib.dnnl_primitive_execute(primitive, this.#stream, args.length, buf),
      "primitive_execute",
    );
  }

  #bind(mem: Ptr, data: Ptr): void {
    check(this.#lib.dnnl_memory_set_data_handle(mem, data), "memory_set_data_handle");
  }

  /** The implementation oneDNN picked for a pass, e.g. "jit:avx512_core" or "gemm:jit". */
  implementation(pass: ConvPass, g: ConvGeometry): string {
    return this.#plan(pass, g).impl;
  }

  /**
   * Runs one convolution pass on caller-owned buffers (float32, tfjs layouts):
   * - `forward`: `x` [N, H, W, Ci], `filter` [kh, kw, Ci, Co] -> `out` [N, Ho, Wo, Co]
   * - `backwardData`: `dy` [N, Ho, Wo, Co], `filter` -> `out` = dx [N, H, W, Ci]
   * - `backwardWeights`: `x`, `dy` -> `out` = dW [kh, kw, Ci, Co]
   */
  conv(
    pass: ConvPass,
    g: ConvGeometry,
    a: Ptr,
    b: Ptr,
    out: Ptr,
  ): void {
    const p = this.#plan(pass, g);
    if (pass === "forward") {
      // a = x, b = filter
      this.#bind(p.userWeights, b);
      if (p.reorder) this.#execute(p.reorder, [[ARG_SRC, p.userWeights], [ARG_DST, p.weights]]);
      this.#bind(p.src, a);
      this.#bind(p.dst, out);
      this.#execute(p.primitive, [[ARG_SRC, p.src], [ARG_WEIGHTS, p.weights], [ARG_DST, p.dst]]);
    } else if (pass === "backwardData") {
      // a = dy, b = filter, out = dx
      this.#bind(p.userWeights, b);
      if (p.reorder) this.#execute(p.reorder, [[ARG_SRC, p.userWeights], [ARG_DST, p.weights]]);
      this.#bind(p.dst, a);
      this.#bind(p.src, out);
      this.#execute(p.primitive, [
        [ARG_DIFF_DST, p.dst],
        [ARG_WEIGHTS, p.weights],
        [ARG_DIFF_SRC, p.src],
      ]);
    } else {
      // a = x, b = dy, out = dW
      this.#bind(p.src, a);
      this.#bind(p.dst, b);
      this.#bind(p.userWeights, out);
      this.#execute(p.primitive, [
        [ARG_SRC, p.src],
        [ARG_DIFF_DST, p.dst],
        [ARG_DIFF_WEIGHTS, p.weights],
      ]);
      if (p.reorder) this.#execute(p.reorder, [[ARG_SRC, p.weights], [ARG_DST, p.userWeights]]);
    }
    check(this.#lib.dnnl_stream_wait(this.#stream), "stream_wait");
  }

  #poolPlan(g: PoolGeometry): PoolPlan {
    const key = Object.values(g).join(",");
    const cached = this.#pools.get(key);
    if (cached) return cached;
    const lib = this.#lib;
    const src = this.#md([g.batch, g.channels, g.inHeight, g.inWidth], TAG_NHWC);
    const dst = this.#md([g.batch, g.channels, g.outHeight, g.outWidth], TAG_NHWC);
    const strides = dims([g.strideHeight, g.strideWidth]);
    const kernel = dims([g.filterHeight, g.filterWidth]);
    const dilation = dims([0, 0]);
    const padL = dims([g.padTop, g.padLeft]);
    const padR = dims([g.padBottom, g.padRight]);
    const fwdOp = new Uint8Array(OP_DESC_BYTES);
    check(
      lib.dnnl_pooling_v2_forward_desc_init(
        fwdOp,
        FORWARD_TRAINING,
        POOLING_MAX,
        src,
        dst,
        strides,
        kernel,
        dilation,
        padL,
        padR,
      ),
      "pooling_v2_forward_desc_init",
    );
    const fwdPd = this.#pd(fwdOp, null);
    const bwdOp = new Uint8Array(OP_DESC_BYTES);
    check(
      lib.dnnl_pooling_v2_backward_desc_init(
        bwdOp,
        POOLING_MAX,
        src,
        dst,
        strides,
        kernel,
        dilation,
        padL,
        padR,
      ),
      "pooling_v2_backward_desc_init",
    );
    const bwdPd = this.#pd(bwdOp, fwdPd);
    const plan: PoolPlan = {
      forward: this.#primitive(fwdPd),
      backward: this.#primitive(bwdPd),
      src: this.#memory(src, false),
      dst: this.#memory(dst, true),
      diffSrc: this.#memory(src, false),
      diffDst: this.#memory(dst, false),
      workspace: this.#memory(lib.dnnl_primitive_desc_query_md(fwdPd, QUERY_WORKSPACE_MD, 0), true),
    };
    (plan as unknown as { descs: unknown }).descs = { src, dst };
    this.#pools.set(key, plan);
    return plan;
  }

  /**
   * dx of NHWC max pooling: dy routed to the first maximum of each window (oneDNN recomputes
   * the forward pass to find it). `x` [N, H, W, C], `dy` [N, Ho, Wo, C] -> `dx` [N, H, W, C].
   */
  maxPoolGrad(g: PoolGeometry, x: Ptr, dy: Ptr, dx: Ptr): void {
    const p = this.#poolPlan(g);
    this.#bind(p.src, x);
    this.#execute(p.forward, [[ARG_SRC, p.src], [ARG_DST, p.dst], [ARG_WORKSPACE, p.workspace]]);
    this.#bind(p.diffDst, dy);
    this.#bind(p.diffSrc, dx);
    this.#execute(p.backward, [
      [ARG_DIFF_DST, p.diffDst],
      [ARG_WORKSPACE, p.workspace],
      [ARG_DIFF_SRC, p.diffSrc],
    ]);
    check(this.#lib.dnnl_stream_wait(this.#stream), "stream_wait");
  }

  #chainPlan(rows: number, cols: number, steps: ChainStep[]): ChainPlan {
    const key = `${rows},${cols},${JSON.stringify(steps)}`;
    const cached = this.#chains.get(key);
    if (cached) return cached;
    const lib = this.#lib;
    const [first, ...rest] = steps;
    if (!first || first.op === "square") throw new DnnlError("a chain starts with a binary op");
    const full = this.#md([rows, cols], TAG_AB);
    const column = this.#md([1, cols], TAG_AB);
    const mdOf = (operand: "column" | "full") => operand === "full" ? full : column;
    const cell = new BigUint64Array(1);
    check(lib.dnnl_post_ops_create(cell), "post_ops_create");
    const postOps = readPtr(cell);
    const operands: { mem: Ptr; arg: number }[] = [
      { mem: this.#memory(mdOf(first.operand), false), arg: ARG_SRC_1 },
    ];
    rest.forEach((step, i) => {
      if (step.op === "square") {
        check(lib.dnnl_post_ops_append_eltwise(postOps, 1, ELTWISE_SQUARE, 0, 0), "append_eltwise");
        return;
      }
      const md = mdOf(step.operand);
      check(lib.dnnl_post_ops_append_binary(postOps, BINARY_ALG[step.op], md), "append_binary");
      operands.push({
        mem: this.#memory(md, false),
        arg: (ARG_POST_OP_BASE * (i + 1)) | ARG_SRC_1,
      });
    });
    check(lib.dnnl_primitive_attr_create(cell), "primitive_attr_create");
    const attr = readPtr(cell);
    check(lib.dnnl_primitive_attr_set_post_ops(attr, postOps), "primitive_attr_set_post_ops");
    const op = new Uint8Array(OP_DESC_BYTES);
    check(
      lib.dnnl_binary_desc_init(op, BINARY_ALG[first.op], full, mdOf(first.operand), full),
      "binary_desc_init",
    );
    check(lib.dnnl_primitive_desc_create(cell, op, attr, this.#engine, null), "binary pd");
    const plan: ChainPlan = {
      primitive: this.#primitive(readPtr(cell)),
      x: this.#memory(full, false),
      out: this.#memory(full, false),
      operands,
    };
    (plan as unknown as { descs: unknown }).descs = { full, column };
    this.#chains.set(key, plan);
    return plan;
  }

  /**
   * One pass over a row-major [rows, cols] matrix `x`: `out = x ∘₁ o₁ ∘₂ o₂ …` applied left to
   * right (a binary primitive with post-ops), each `∘` a step of `steps` and each `o` the next
   * of `operands` (a [cols] column vector or a full [rows, cols] matrix, as the step says).
   */
  channelChain(rows: number, cols: number, steps: ChainStep[], x: Ptr, operands: Ptr[], out: Ptr) {
    const p = this.#chainPlan(rows, cols, steps);
    if (operands.length !== p.operands.length) {
      throw new DnnlError(`channelChain: ${p.operands.length} operands expected`);
    }
    this.#bind(p.x, x);
    this.#bind(p.out, out);
    p.operands.forEach((o, i) => this.#bind(o.mem, operands[i]));
    this.#execute(p.primitive, [
      [1, p.x], // DNNL_ARG_SRC_0
      [ARG_DST, p.out],
      ...p.operands.map((o) => [o.arg, o.mem] as [number, Ptr]),
    ]);
    check(this.#lib.dnnl_stream_wait(this.#stream), "stream_wait");
  }

  /**
   * Row-major `C = op(A)·op(B)` with `op(A)` M×K, `op(B)` K×N (oneDNN's `dnnl_sgemm`,
   * multi-threaded). Leading dimensions are those of the stored (untransposed) matrices.
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Ptr,
    b: Ptr,
    c: Ptr,
  ): void {
    const lda = transA ? m : k;
    const ldb = transB ? k : n;
    check(
      this.#lib.dnnl_sgemm(
        transA ? 84 : 78, // 'T' : 'N'
        transB ? 84 : 78,
        BigInt(m),
        BigInt(n),
        BigInt(k),
        1,
        a,
        BigInt(lda),
        b,
        BigInt(ldb),
        0,
        c,
        BigInt(n),
      ),
      "sgemm",
    );
  }
}
