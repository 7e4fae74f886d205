/**
 * Overrides of tfjs-backend-wasm kernels that run oneDNN on the wasm heap in place: the
 * convolution passes (Conv2D, FusedConv2D, Conv2DBackpropInput, Conv2DBackpropFilter),
 * BatchMatMul (oneDNN's SGEMM), MaxPoolGrad (oneDNN's max pooling, forward recomputed for the
 * argmax workspace; ties go to the first maximum in window order, as on the cpu backend) and
 * ChannelChain (a binary primitive with post-ops). Each override checks its inputs (float32,
 * NHWC, supported attributes, {@linkcode NativeThresholds}) and otherwise calls the kernel it
 * replaced, so turning the native path off (or an unsupported call) gives exactly the pure
 * wasm behaviour.
 *
 * Zero copies: a wasm tensor lives at `dataIdMap.get(dataId).memoryOffset` in the wasm
 * module's linear memory, and oneDNN reads and writes it through a pointer into that memory.
 * The output is allocated first (allocation may grow, i.e. move, the heap), then the pointers
 * are taken, then oneDNN runs synchronously.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type ChainOp, CHANNEL_CHAIN } from "../../../layers/channel_chain.ts";
import type { ChainStep, ConvGeometry, ConvPass, Dnnl, PoolGeometry } from "./dnnl.ts";
import { type KernelArgs, overrideKernel } from "../override.ts";

type Info = tf.TensorInfo;
type Attrs = Record<string, unknown>;

/** The parts of tfjs-backend-wasm's backend used here. */
interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: "float32"): Info;
  disposeData(dataId: object): boolean;
}

/** Names of the kernels this module overrides. */
const NATIVE_KERNELS = [
  "Conv2D",
  "FusedConv2D",
  "Conv2DBackpropInput",
  "Conv2DBackpropFilter",
  "BatchMatMul",
  "MaxPoolGrad",
  CHANNEL_CHAIN,
] as const;

/** Calls of one kernel that went native and that fell back to the replaced kernel. */
export interface NativeCallCount {
  native: number;
  fallback: number;
}

/** The library calls go to; undefined while the native path is off. */
let dnnl: Dnnl | undefined;
const calls: Record<string, NativeCallCount> = {};

/** Sends calls to `lib` from now on, or back to the replaced kernels (`undefined`). */
export function setNativeLibrary(lib: Dnnl | undefined): void {
  dnnl = lib;
}

/** Whether calls currently go to oneDNN. */
export function nativeEnabled(): boolean {
  return dnnl !== undefined;
}

/**
 * Calls per kernel, while the native path was on, that went native or fell back, since the
 * start or the last {@linkcode resetNativeCallStats}: a copy, for tests and reports.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { setBackend } from "../backend.ts";
 * await setBackend("wasm");
 * const x = tf.randomUniform([8, 64, 64, 32]) as tf.Tensor4D;
 * const w = tf.randomUniform([3, 3, 32, 32]) as tf.Tensor4D;
 * const before = nativeCallStats().Conv2D?.native ?? 0;
 * tf.conv2d(x, w, 1, "same");
 * console.log((nativeCallStats().Conv2D?.native ?? 0) > before); // true with oneDNN on
 * ```
 */
export function nativeCallStats(): Readonly<Record<string, Readonly<NativeCallCount>>> {
  return Object.freeze(
    Object.fromEntries(Object.entries(calls).map(([k, c]) => [k, Object.freeze({ ...c })])),
  );
}

/** Sets every count of {@linkcode nativeCallStats} back to zero. */
export function resetNativeCallStats(): void {
  for (const name of Object.keys(calls)) delete calls[name];
}

function count(name: string, native: boolean): void {
  const c = calls[name] ??= { native: 0, fallback: 0 };
  if (native) c.native++;
  else c.fallback++;
}

/** Native pointers to tensors on the wasm heap; take them after the last allocation. */
function pointers(backend: WasmBackend, ...infos: Info[]): Deno.PointerValue[] {
  const base = Deno.UnsafePointer.of(backend.wasm.HEAPU8);
  return infos.map((t) =>
    Deno.UnsafePointer.offset(base!, backend.dataIdMap.get(t.dataId).memoryOffset)
  );
}

function nhwc(attrs: Attrs): boolean {
  const f = attrs.dataFormat;
  return f === undefined || f === "NHWC" || f === "channelsLast";
}

function geometry(
  xShape: number[],
  filterShape: number[],
  attrs: Attrs,
  dilations: number | [number, number] = 1,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number] | number,
    dilations,
    attrs.pad as "same" | "valid" | number,
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
  );
  const p = info.padInfo;
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: p.top,
    padBottom: p.bottom,
    padLeft: p.left,
    padRight: p.right,
  };
}

/** Sizes below which a call stays on wasm. */
export interface NativeThresholds {
  /**
   * Convolutions below this many multiply-adds stay on wasm, where an FFI call and oneDNN's
   * dispatch cost as much as the work. Measured 2026-11-25 (quiet machine, forward, median of
   * 41): 2^17 MACs 0.079 ms wasm / 0.078 native; 2^21: 0.17–0.28 / 0.10–0.20; 2^23: 0.56–0.99 /
   * 0.50–0.89. The first convolution of a training batch (64×32×32, 3 → 32 channels, 2^25.8)
   * was the costly case of the old 2^27 threshold: its filter gradient took 27.6 ms on wasm
   * and 0.4 ms native. (An older server that ran one model call per request had measured
   * oneDNN slower for /classify; with the micro-batched server, threshold 0 gave p50 13.8 ms
   * vs 21.4 ms at 2^27.)
   */
  minConvMacs: number;
  /** Element-wise chains below this many elements stay on wasm (~10 µs of oneDNN dispatch). */
  minChainElements: number;
  /**
   * Products below this many multiply-adds per batch entry stay on XNNPACK (an OpenMP call has
   * fixed costs); from here on everything goes native, including the skinny GEMVs of the
   * batch-norm statistics ([1, 65536] × [65536, C]), which XNNPACK runs ~10× slower (quiet
   * machine, 2026-11-25).
   */
  minMatMulMacs: number;
}

/** The thresholds symlab runs with unless told otherwise. */
export const DEFAULT_NATIVE_THRESHOLDS: Readonly<NativeThresholds> = Object.freeze({
  minConvMacs: 2 ** 22,
  minChainElements: 2 ** 16,
  minMatMulMacs: 2 ** 18,
});

let thresholds: Readonly<NativeThresholds> = DEFAULT_NATIVE_THRESHOLDS;

/** The thresholds in use (read-only). */
export function nativeThresholds(): Readonly<NativeThresholds> {
  return thresholds;
}

/** Uses `t` from now on; `t` is checked by the caller (`setNativeThresholds` in ../mod.ts). */
export function useNativeThresholds(t: NativeThresholds): void {
  thresholds = Object.freeze({ ...t });
}

/** oneDNN needs every output row to read ≥ 1 real input row; tfjs allows pads past that. */
function supported(g: ConvGeometry): boolean {
  const macs = g.batch * g.outHeight * g.outWidth * g.outChannels * g.inChannels *
    g.filterHeight * g.filterWidth;
  if (macs < thresholds.minConvMacs) return false;
  const size = [
    g.batch,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.outHeight,
    g.outWidth,
    g.outChannels,
  ];
  return size.every((s) => s > 0) && g.padTop >= 0 && g.padBottom >= 0 && g.padLeft >= 0 &&
    g.padRight >= 0;
}

function convPass(
  backend: WasmBackend,
  pass: ConvPass,
  g: ConvGeometry,
  a: Info,
  b: Info,
  outShape: number[],
): Info {
  if (pointwise(g)) return pointwisePass(backend, pass, g, a, b, outShape);
  const out = backend.makeOutput(outShape, "float32");
  const [pa, pb, po] = pointers(backend, a, b, out);
  dnnl!.conv(pass, g, pa, pb, po);
  return out;
}

/**
 * The route a convolution pass of these shapes takes: `"wasm"` (below the thresholds or
 * unsupported), `"GEMM (1×1 kernel)"` ({@linkcode pointwisePass}) or `"oneDNN <implementation>"`.
 * For tests and reports; takes no tensors.
 */
export function convRoute(
  pass: ConvPass,
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  pad: "same" | "valid" | number | number[][],
  dilations: number | [number, number] = 1,
): string {
  if (!dnnl) return "wasm";
  const g = geometry(xShape, filterShape, { strides, pad }, dilations);
  if (!supported(g)) return "wasm";
  if (pointwise(g)) return "GEMM (1×1 kernel)";
  return `oneDNN ${dnnl.implementation(pass, g)}`;
}

/**
 * Whether a pass goes through {@linkcode pointwisePass} instead of oneDNN's convolution
 * primitive: every 1×1 kernel, whatever its stride, padding or the machine's ISA. oneDNN 2.6's
 * 1×1 convolutions reduce a stride > 1 to unit stride in a workspace ("rtus"), and its filter
 * gradient wrote past that workspace when the input had fewer channels than the kernel's block
 * (uxlfoundation/oneDNN#6035): wrong filter gradients, 7 of 8 runs of x[2,10,6,3] w[1,1,3,7]
 * stride 2 with AVX2 kernels on a loaded machine (issue 22). A 1×1 convolution is a matrix
 * product, so it needs no convolution kernel at all.
 */
function pointwise(g: ConvGeometry): boolean {
  return g.filterHeight === 1 && g.filterWidth === 1;
}

/**
 * A 1×1 convolution as GEMMs on the wasm heap. With `X` the [N·Ho·Wo, Ci] matrix of the input
 * pixels each output pixel reads (input row `oh·sh − padTop`, column `ow·sw − padLeft`; zeros
 * where that falls in the padding) and `W` the filter as [Ci, Co]:
 *
 * - forward: `Y = X·W` (Y is the output [N, Ho, Wo, Co] as [N·Ho·Wo, Co]);
 * - input gradient: `dX = dY·Wᵀ`, each row added back to the input pixel it was read from (a
 *   1×1 kernel reads each input pixel at most once, so "added" is "written"; the rest is 0);
 * - filter gradient: `dW = Xᵀ·dY`.
 *
 * Stride 1 without padding reads the input itself (X is x: no copy); otherwise X is gathered
 * into a temporary tensor, which is freed before returning.
 */
function pointwisePass(
  backend: WasmBackend,
  pass: ConvPass,
  g: ConvGeometry,
  a: Info,
  b: Info,
  outShape: number[],
): Info {
  const rows = g.batch * g.outHeight * g.outWidth;
  const ci = g.inChannels, co = g.outChannels;
  const direct = g.strideHeight === 1 && g.strideWidth === 1 && g.padTop === 0 &&
    g.padLeft === 0 && g.outHeight === g.inHeight && g.outWidth === g.inWidth;
  const out = backend.makeOutput(outShape, "float32");
  const gathered = direct ? undefined : backend.makeOutput([rows, ci], "float32");
  // Pointers and heap views after the last allocation (allocating may move the heap).
  const heap = backend.wasm.HEAPU8.buffer;
  const view = (t: Info, length: number) =>
    new Float32Array(heap, backend.dataIdMap.get(t.dataId).memoryOffset, length);
  // Each output pixel's input pixel offset (in floats) in x, or -1 where it reads padding.
  const source = (visit: (row: number, from: number) => void) => {
    let row = 0;
    for (let n = 0; n < g.batch; n++) {
      for (let oh = 0; oh < g.outHeight; oh++) {
        const ih = oh * g.strideHeight - g.padTop;
        for (let ow = 0; ow < g.outWidth; ow++, row++) {
          const iw = ow * g.strideWidth - g.padLeft;
          const inside = ih >= 0 && ih < g.inHeight && iw >= 0 && iw < g.inWidth;
          visit(row, inside ? ((n * g.inHeight + ih) * g.inWidth + iw) * ci : -1);
        }
      }
    }
  };
  const gatherX = (x: Info) => {
    const from = view(x, g.batch * g.inHeight * g.inWidth * ci);
    const to = view(gathered!, rows * ci);
    source((row, at) => {
      if (at < 0) to.fill(0, row * ci, (row + 1) * ci);
      else to.set(from.subarray(at, at + ci), row * ci);
    });
  };
  if (pass === "forward") {
    // a = x, b = filter [1, 1, Ci, Co]
    if (gathered) gatherX(a);
    const [px, pw, py] = pointers(backend, gathered ?? a, b, out);
    dnnl!.sgemm(false, false, rows, co, ci, px, pw, py);
  } else if (pass === "backwardData") {
    // a = dy, b = filter; dX rows land in a temporary when they must be scattered.
    const [pdy, pw, pdx] = pointers(backend, a, b, gathered ?? out);
    dnnl!.sgemm(false, true, rows, ci, co, pdy, pw, pdx);
    if (gathered) {
      const dx = view(out, g.batch * g.inHeight * g.inWidth * ci);
      const part = view(gathered, rows * ci);
      dx.fill(0);
      source((row, at) => {
        if (at >= 0) dx.set(part.subarray(row * ci, (row + 1) * ci), at);
      });
    }
  } else {
    // a = x, b = dy, out = dW [1, 1, Ci, Co]
    if (gathered) gatherX(a);
    const [px, pdy, pdw] = pointers(backend, gathered ?? a, b, out);
    dnnl!.sgemm(true, false, ci, co, rows, px, pdy, pdw);
  }
  if (gathered) backend.disposeData(gathered.dataId);
  return out;
}

/** Kernel bodies: return a result, or undefined to fall back to the replaced kernel. */
const bodies: Record<string, (args: KernelArgs) => Info | undefined> = {
  Conv2D({ inputs, backend, attrs }) {
    const { x, filter } = inputs as { x: Info; filter: Info };
    const a = attrs as Attrs;
    if (!nhwc(a) || x.dtype !== "float32" || filter.dtype !== "float32") return undefined;
    const g = geometry(x.shape, filter.shape, a, (a.dilations as [number, number]) ?? 1);
    if (!supported(g)) return undefined;
    return convPass(backend as unknown as WasmBackend, "forward", g, x, filter, [
      g.batch,
      g.outHeight,
      g.outWidth,
      g.outChannels,
    ]);
  },
  FusedConv2D({ inputs, backend, attrs }) {
    const { x, filter, bias, preluActivationWeights } = inputs as Record<string, Info | undefined>;
    const a = attrs as Attrs;
    const act = (a.activation as string | undefined) ?? "linear";
    if (preluActivationWeights || !["linear", "relu", "relu6"].includes(act)) return undefined;
    const conv = bodies.Conv2D({ inputs: { x: x!, filter: filter! }, backend, attrs } as never);
    if (!conv) return undefined;
    let y = conv;
    const b = backend as unknown as WasmBackend;
    const step = (name: string, inputs: Record<string, Info>) => {
      const next = tf.getKernel(name, "wasm")!.kernelFunc({ inputs, backend, attrs: {} }) as Info;
      b.disposeData(y.dataId);
      y = next;
    };
    if (bias) step("Add", { a: y, b: bias });
    if (act === "relu") step("Relu", { x: y });
    if (act === "relu6") step("Relu6", { x: y });
    return y;
  },
  Conv2DBackpropInput({ inputs, backend, attrs }) {
    const { dy, filter } = inputs as { dy: Info; filter: Info };
    const a = attrs as Attrs;
    if (!nhwc(a) || dy.dtype !== "float32" || filter.dtype !== "float32") return undefined;
    const inputShape = a.inputShape as number[];
    const g = geometry(inputShape, filter.shape, a);
    if (!supported(g)) return undefined;
    return convPass(backend as unknown as WasmBackend, "backwardData", g, dy, filter, inputShape);
  },
  Conv2DBackpropFilter({ inputs, backend, attrs }) {
    const { x, dy } = inputs as { x: Info; dy: Info };
    const a = attrs as Attrs;
    if (!nhwc(a) || x.dtype !== "float32" || dy.dtype !== "float32") return undefined;
    const filterShape = a.filterShape as number[];
    const g = geometry(x.shape, filterShape, a, (a.dilations as [number, number]) ?? 1);
    if (!supported(g)) return undefined;
    return convPass(backend as unknown as WasmBackend, "backwardWeights", g, x, dy, filterShape);
  },
  MaxPoolGrad({ inputs, backend, attrs }) {
    const { dy, input } = inputs as { dy: Info; input: Info };
    const a = attrs as Attrs;
    if (dy.dtype !== "float32" || input.dtype !== "float32") return undefined;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      a.filterSize as [number, number] | number,
      a.strides as [number, number] | number,
      1,
      a.pad as "valid" | "same" | number,
      a.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
    );
    const p = info.padInfo;
    const g: PoolGeometry = {
      batch: info.batchSize,
      channels: info.inChannels,
      inHeight: info.inHeight,
      inWidth: info.inWidth,
      outHeight: info.outHeight,
      outWidth: info.outWidth,
      filterHeight: info.filterHeight,
      filterWidth: info.filterWidth,
      strideHeight: info.strideHeight,
      strideWidth: info.strideWidth,
      padTop: p.top,
      padBottom: p.bottom,
      padLeft: p.left,
      padRight: p.right,
    };
    const ok = [g.batch, g.channels, g.outHeight, g.outWidth].every((v) => v > 0) &&
      [p.top, p.bottom, p.left, p.right].every((v) =>
        v >= 0 && v < Math.max(g.filterHeight, g.filterWidth)
      );
    if (!ok) return undefined;
    const wb = backend as unknown as WasmBackend;
    const dx = wb.makeOutput(input.shape, "float32");
    const [px, pdy, pdx] = pointers(wb, input, dy, dx);
    dnnl!.maxPoolGrad(g, px, pdy, pdx);
    return dx;
  },
  [CHANNEL_CHAIN]({ inputs, backend, attrs }) {
    const { ops } = attrs as unknown as { ops: ChainOp[] };
    const named = inputs as Record<string, Info>;
    const x = named.x;
    const cols = x.shape[x.shape.length - 1] ?? 1;
    const size = tf.util.sizeFromShape(x.shape);
    const operands = ops.filter((o) => o !== "square").map((_, i) => named[`o${i}`]);
    const kinds = operands.map((o) =>
      tf.util.arraysEqual(o.shape, x.shape)
        ? "full"
        : o.shape.length === 1 && o.shape[0] === cols
        ? "column"
        : undefined
    );
    if (size < thresholds.minChainElements || x.dtype !== "float32" || ops[0] === "square") {
      return undefined;
    }
    if (operands.some((o) => o.dtype !== "float32") || kinds.includes(undefined)) return undefined;
    let k = 0;
    const steps: ChainStep[] = ops.map((op) =>
      op === "square" ? { op } : { op, operand: kinds[k++] as "column" | "full" }
    );
    const wb = backend as unknown as WasmBackend;
    const out = wb.makeOutput(x.shape, "float32");
    const [px, pout, ...po] = pointers(wb, x, out, ...operands);
    dnnl!.channelChain(size / cols, cols, steps, px, po, pout);
    return out;
  },
  BatchMatMul({ inputs, backend, attrs }) {
    const { a, b } = inputs as { a: Info; b: Info };
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== "float32" || b.dtype !== "float32") return undefined;
    const ra = a.shape.length, rb = b.shape.length;
    const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    if (k !== kb || m * n * k === 0) return undefined;
    if (m * n * k < thresholds.minMatMulMacs) return undefined;
    const outer = tf.backend_util.assertAndGetBroadcastShape(
      a.shape.slice(0, -2),
      b.shape.slice(0, -2),
    );
    const batch = tf.util.sizeFromShape(outer);
    // Only plain batches or one operand shared by all (what wasm's kernel supports too).
    if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;
    const wb = backend as unknown as WasmBackend;
    const out = wb.makeOutput([...outer, m, n], "float32");
    const [pa, pb, pc] = pointers(wb, a, b, out);
    if (batchB === 1 && batch > 1 && !transposeA) {
      // A shared B: the batch of A stacks into one (batch·M)×K matrix, one GEMM.
      dnnl!.sgemm(false, transposeB, batch * m, n, k, pa, pb, pc);
      return out;
    }
    for (let i = 0; i < batch; i++) {
      dnnl!.sgemm(
        transposeA,
        transposeB,
        m,
        n,
        k,
        Deno.UnsafePointer.offset(pa!, batchA === 1 ? 0 : 4 * i * m * k),
        Deno.UnsafePointer.offset(pb!, batchB === 1 ? 0 : 4 * i * k * n),
        Deno.UnsafePointer.offset(pc!, 4 * i * m * n),
      );
    }
    return out;
  },
};

/**
 * Wraps the wasm backend's kernels named in `NATIVE_KERNELS` so that they run on oneDNN while
 * a library is set ({@linkcode setNativeLibrary}) and fall through otherwise. Called once, by
 * `installKernels` (lib/kernels/mod.ts), after the wasm kernels that these wrap.
 */
export function installNativeKernels(): void {
  for (const name of NATIVE_KERNELS) {
    const body = bodies[name];
    overrideKernel(name, "wasm", (args) => {
      if (dnnl === undefined) return undefined;
      const out = body(args);
      count(name, out !== undefined);
      return out;
    });
  }
}
