/**
 * Training kernels that tfjs-backend-wasm 4.22 does not ship, built from kernels it does ship
 * (XNNPACK convolutions and transposes), so training runs at wasm SIMD speed.
 *
 * - `Conv2DBackpropFilter`: the filter gradient is itself a convolution. With x padded,
 *   `dW[a, b, ci, co] = Σ_{n,i,j} x[n, i·s + a, j·s + b, ci] · dy[n, i, j, co]`.
 *   Swap the roles of batch and channels: take `x' = xᵀ` of shape `[Ci, H, W, N]` as the
 *   input batch and `dy' = dyᵀ` of shape `[Ho, Wo, N, Co]` as the filter, then one stride-1
 *   convolution with dilation `s` gives `[Ci, kh, kw, Co]`, transposed back to the filter layout.
 * - `DepthwiseConv2dNativeBackpropInput` / `...BackpropFilter`: a depthwise convolution equals an
 *   ordinary one with a block-diagonal filter, so both gradients reuse the ordinary ones
 *   (`Conv2DBackpropInput` ships with wasm; the filter gradient above), then keep the diagonal.
 *   This costs C× more arithmetic than a native kernel; symlab's models use no depthwise layers,
 *   it is here so that any tfjs model trains on wasm.
 * - `Sum` / `Mean` over leading axes (a bias or batch-norm gradient: [N, H, W, C] -> [C]):
 *   wasm transposes the reduced axes innermost and then reduces, ~60 ms for [65536, 64];
 *   with the native path on it is one GEMM `(1/M or 1)·1ᵀ [1, M] × x [M, C]` in oneDNN (~0.5 ms
 *   for [16384, 64]); on pure wasm a row-by-row loop (0.7 ms; XNNPACK took 6–12 ms for that
 *   product, which it packs as a weight matrix on every call; measured 2026-11-25).
 * - `GatherV2` (batchDims 0) and broadcasting `Equal`: plain loops over the wasm heap. wasm's own
 *   kernels take ~25 ms to gather a P4 filter bank of 590k entries and ~85 ms to compare a
 *   [64, 8, 8, 64, 4] map with its max over the rotation axis (the max-pool gradient); these
 *   loops take a few ms (measured 2026-11).
 * - `Reverse` and `Max` over leading axes: heap loops (wasm's take ~6 ms to reverse a
 *   [64, 4, 4, 128] map and ~45 ms to max-reduce the leading axis of a [4, 64, 4, 4, 32, 4]
 *   one, the P4 pyramid pooling's; the loops copy whole rows, measured 2026-11-25).
 * - `Identity` (tf.clone, gradients passed through) and `Cast` to the same dtype (ReLU's and
 *   Square's gradients cast float32 to float32): share the input's buffer by reference count,
 *   as the cpu backend and wasm's own Reshape do, instead of copying it (wasm's copies cost
 *   ~40 ms (Identity) and ~16 ms (Cast) per symmetric training step, measured 2026-11).
 *   Tensors are immutable and variables swap buffers on assign, so sharing is safe. A Cast
 *   to bool gives 0/1 (wasm's wrote the raw values).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type ChainOp, CHANNEL_CHAIN } from "../../../layers/channel_chain.ts";
import { nativeEnabled } from "../native/kernels.ts";
import { overrideKernel } from "../override.ts";

type Info = tf.TensorInfo;
type Backend = tf.KernelBackend;
type Attrs = Record<string, unknown>;

function run(name: string, backend: Backend, inputs: Record<string, Info>, attrs: Attrs): Info {
  const kernel = tf.getKernel(name, "wasm");
  if (!kernel) throw new Error(`wasm backend has no ${name} kernel`);
  return kernel.kernelFunc({ inputs, backend, attrs } as never) as Info;
}

function dispose(backend: Backend, ...infos: Info[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/**
 * x ≠ 0 as bool. wasm's Cast copies the values into the bool bytes instead (int32 [0, 3, -1] ->
 * [0, 3, 255], tfjs-backend-wasm 4.22; cpu gives [0, 1, 1]).
 */
function castToBool(backend: Backend, x: Info): Info {
  const wasm = backend as unknown as {
    makeOutput(shape: number[], dtype: "bool"): Info;
    typedArrayFromHeap(info: Info): Float32Array | Int32Array | Uint8Array;
  };
  const out = wasm.makeOutput(x.shape, "bool");
  const from = wasm.typedArrayFromHeap(x); // after makeOutput: allocation may move the heap
  const to = wasm.typedArrayFromHeap(out);
  for (let i = 0; i < from.length; i++) to[i] = from[i] !== 0 ? 1 : 0;
  return out;
}

/** Computes the conv geometry tfjs uses for the forward pass, so the gradient matches it. */
function convInfo(
  xShape: number[],
  filterShape: [number, number, number, number],
  attrs: Attrs,
  depthwise = false,
) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape,
    attrs.strides as [number, number] | number,
    (attrs.dilations as [number, number] | number | undefined) ?? 1,
    attrs.pad as "same" | "valid" | number,
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
    depthwise,
  );
}

/** dW for an ordinary NHWC conv, built from wasm's Conv2D, Transpose and Slice. */
function conv2dBackpropFilter(
  backend: Backend,
  x: Info,
  dy: Info,
  filterShape: [number, number, number, number],
  attrs: Attrs,
): Info {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== "NHWC") {
    throw new Error(`Conv2DBackpropFilter on wasm supports NHWC only, got ${attrs.dataFormat}`);
  }
  const info = convInfo(x.shape, filterShape, attrs);
  const [kh, kw] = filterShape;
  const { top, left } = info.padInfo;
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  // Rows of x the forward pass actually read: top pad, then up to (Ho-1)·s + kh padded rows.
  let bottom = kh + (info.outHeight - 1) * sh - info.inHeight - top;
  let right = kw + (info.outWidth - 1) * sw - info.inWidth - left;
  let xs = x;
  if (bottom < 0 || right < 0) {
    // Trailing rows/cols the strided window never reached: drop them instead of padding < 0.
    const h = info.inHeight + Math.min(bottom, 0);
    const w = info.inWidth + Math.min(right, 0);
    xs = run("Slice", backend, { x }, { begin: [0, 0, 0, 0], size: [x.shape[0], h, w, -1] });
    bottom = Math.max(bottom, 0);
    right = Math.max(right, 0);
  }
  const xt = run("Transpose", backend, { x: xs }, { perm: [3, 1, 2, 0] }); // [Ci, H, W, N]
  if (xs !== x) dispose(backend, xs);
  const dyt = run("Transpose", backend, { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho, Wo, N, Co]
  const dw = run("Conv2D", backend, { x: xt, filter: dyt }, {
    strides: [1, 1],
    pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
    dataFormat: "NHWC",
    dilations: [sh, sw],
  }); // [Ci, kh, kw, Co]
  dispose(backend, xt, dyt);
  const out = run("Transpose", backend, { x: dw }, { perm: [1, 2, 0, 3] });
  dispose(backend, dw);
  return out;
}

/** A new wasm-owned float32 tensor holding `values`. */
function makeOutput(backend: Backend, shape: number[], values: Float32Array): Info {
  const wasm = backend as unknown as {
    makeOutput(shape: number[], dtype: "float32", offset?: number, values?: Float32Array): Info;
  };
  return wasm.makeOutput(shape, "float32", undefined, values);
}

/** Whether the transposed conv needs no negative padding (every pad ≤ k − 1). */
function padsFitFilter(filterShape: number[], inputShape: number[], attrs: Attrs): boolean {
  const [kh, kw] = filterShape;
  const { top, bottom, left, right } =
    convInfo(inputShape, filterShape as [number, number, number, number], attrs).padInfo;
  return Math.max(top, bottom) <= kh - 1 && Math.max(left, right) <= kw - 1;
}

/**
 * dx of a stride-1 NHWC conv as a forward conv (wasm's own Conv2DBackpropInput is a plain
 * loop, ~10× slower than XNNPACK's conv, measured 2026-11): correlate dy, padded by
 * (k − 1 − pad) in front, with the filter turned by 180° and its in/out axes swapped.
 */
function conv2dBackpropInputStride1(
  backend: Backend,
  dy: Info,
  filter: Info,
  inputShape: number[],
  attrs: Attrs,
): Info {
  const [kh, kw] = filter.shape;
  const info = convInfo(inputShape, filter.shape as [number, number, number, number], attrs);
  const { top, left } = info.padInfo;
  const flipped = run("Reverse", backend, { x: filter }, { dims: [0, 1] });
  const swapped = run("Transpose", backend, { x: flipped }, { perm: [0, 1, 3, 2] });
  dispose(backend, flipped);
  const [padTop, padLeft] = [kh - 1 - top, kw - 1 - left];
  const padBottom = inputShape[1] - info.outHeight + kh - 1 - padTop;
  const padRight = inputShape[2] - info.outWidth + kw - 1 - padLeft;
  const dx = run("Conv2D", backend, { x: dy, filter: swapped }, {
    strides: [1, 1],
    pad: [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]],
    dataFormat: "NHWC",
    dilations: [1, 1],
  });
  dispose(backend, swapped);
  return dx;
}

/**
 * Block-diagonal ordinary filter [kh, kw, C, C·m] equal to a depthwise filter [kh, kw, C, m].
 * Filters are small, so this is done on the host.
 */
function blockDiagonal(backend: Backend, filter: Info): Info {
  const [kh, kw, c, m] = filter.shape;
  const w = backend.readSync(filter.dataId) as Float32Array;
  const full = new Float32Array(kh * kw * c * c * m);
  for (let k = 0; k < kh * kw; k++) {
    for (let ci = 0; ci < c; ci++) {
      for (let j = 0; j < m; j++) full[((k * c + ci) * c + ci) * m + j] = w[(k * c + ci) * m + j];
    }
  }
  return makeOutput(backend, [kh, kw, c, c * m], full);
}

/** Keeps the diagonal blocks of an ordinary filter gradient [kh, kw, C, C·m] -> [kh, kw, C, m]. */
function diagonalBlocks(backend: Backend, full: Info, m: number): Info {
  const [kh, kw, c] = full.shape;
  const g = backend.readSync(full.dataId) as Float32Array;
  const out = new Float32Array(kh * kw * c * m);
  for (let k = 0; k < kh * kw; k++) {
    for (let ci = 0; ci < c; ci++) {
      for (let j = 0; j < m; j++) out[(k * c + ci) * m + j] = g[((k * c + ci) * c + ci) * m + j];
    }
  }
  return makeOutput(backend, [kh, kw, c, m], out);
}

/**
 * Sum or mean of `x` over its leading axes as a GEMM, or undefined when `axis` is not a
 * leading block of axes (then wasm's own kernel runs).
 */
function reduceLeading(
  backend: Backend,
  x: Info,
  axis: number | number[],
  keepDims: boolean,
  mean: boolean,
): Info | undefined {
  if (x.dtype !== "float32") return undefined;
  const rank = x.shape.length;
  const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((a, b) => a - b);
  const k = axes.length;
  if (k === 0 || k === rank || axes.some((a, i) => a !== i)) return undefined;
  const m = tf.util.sizeFromShape(x.shape.slice(0, k));
  const c = tf.util.sizeFromShape(x.shape.slice(k));
  if (m < 2 || c === 0) return undefined;
  const rest = x.shape.slice(k);
  const shape = keepDims ? [...Array(k).fill(1), ...rest] : rest;
  if (!nativeEnabled()) return columnSums(backend, x, m, c, mean ? 1 / m : 1, shape);
  const ones = makeOutput(backend, [1, m], new Float32Array(m).fill(mean ? 1 / m : 1));
  const out = run("BatchMatMul", backend, { a: ones, b: { ...x, shape: [m, c] } }, {
    transposeA: false,
    transposeB: false,
  });
  dispose(backend, ones);
  return { ...out, shape };
}

/** `scale ·` the column sums of float32 x viewed as [m, c], in float64, row by row. */
function columnSums(
  backend: Backend,
  x: Info,
  m: number,
  c: number,
  scale: number,
  shape: number[],
): Info {
  const out = (backend as unknown as Heap).makeOutput(shape, "float32");
  const [src, dst] = [view(backend, x), view(backend, out)];
  const acc = new Float64Array(c);
  for (let r = 0; r < m; r++) {
    const base = r * c;
    for (let j = 0; j < c; j++) acc[j] += src[base + j];
  }
  for (let j = 0; j < c; j++) dst[j] = acc[j] * scale;
  return out;
}

interface Heap {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): Info;
}

/** A typed view of a wasm tensor's data (take it after the last allocation). */
function view(backend: Backend, t: Info): Float32Array | Int32Array | Uint8Array {
  const h = backend as unknown as Heap;
  const buffer = h.wasm.HEAPU8.buffer;
  const offset = h.dataIdMap.get(t.dataId).memoryOffset;
  const size = tf.util.sizeFromShape(t.shape);
  if (t.dtype === "float32") return new Float32Array(buffer, offset, size);
  if (t.dtype === "int32") return new Int32Array(buffer, offset, size);
  return new Uint8Array(buffer, offset, size);
}

/** `out[o, i, r] = x[o, indices[i], r]` over axis `axis`; undefined if an index is out of range. */
function gather(backend: Backend, x: Info, indices: Info, axis: number): Info | undefined {
  const n = x.shape[axis];
  const outer = tf.util.sizeFromShape(x.shape.slice(0, axis));
  const inner = tf.util.sizeFromShape(x.shape.slice(axis + 1));
  const shape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const out = (backend as unknown as Heap).makeOutput(shape, x.dtype);
  const [src, idx, dst] = [view(backend, x), view(backend, indices), view(backend, out)];
  const m = idx.length;
  for (let i = 0; i < m; i++) {
    if (idx[i] < 0 || idx[i] >= n) {
      dispose(backend, out);
      return undefined;
    }
  }
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const base = o * n, at = o * m;
      for (let i = 0; i < m; i++) dst[at + i] = src[base + idx[i]];
    }
  } else {
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < m; i++) {
        const from = (o * n + idx[i]) * inner;
        dst.set(src.subarray(from, from + inner), (o * m + i) * inner);
      }
    }
  }
  return out;
}

/** Row-major strides of `shape` for reading a tensor broadcast to `outShape` (0 on broadcast axes). */
function broadcastStrides(shape: number[], outShape: number[]): number[] {
  const rank = outShape.length;
  const padded = [...Array(rank - shape.length).fill(1), ...shape];
  const strides = Array(rank).fill(0);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = padded[d] === 1 ? 0 : s;
    s *= padded[d];
  }
  return strides;
}

/** a == b with broadcasting, into a bool tensor (1 byte per element on wasm). */
function equal(backend: Backend, a: Info, b: Info): Info {
  const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const out = (backend as unknown as Heap).makeOutput(shape, "bool");
  const [va, vb, vo] = [view(backend, a), view(backend, b), view(backend, out) as Uint8Array];
  const rank = shape.length;
  if (rank === 0) {
    vo[0] = va[0] === vb[0] ? 1 : 0;
    return out;
  }
  const sa = broadcastStrides(a.shape, shape), sb = broadcastStrides(b.shape, shape);
  const last = shape[rank - 1], la = sa[rank - 1], lb = sb[rank - 1];
  const rows = tf.util.sizeFromShape(shape) / Math.max(last, 1);
  const pos = Array(rank).fill(0);
  let ia = 0, ib = 0, io = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < last; j++) vo[io + j] = va[ia + j * la] === vb[ib + j * lb] ? 1 : 0;
    io += last;
    // Odometer over the outer axes.
    for (let d = rank - 2; d >= 0; d--) {
      pos[d]++;
      ia += sa[d];
      ib += sb[d];
      if (pos[d] < shape[d]) break;
      ia -= sa[d] * shape[d];
      ib -= sb[d] * shape[d];
      pos[d] = 0;
    }
  }
  return out;
}

/** x reversed along `dims` (rows of untouched trailing axes are copied whole). */
function reverse(backend: Backend, x: Info, dims: number[]): Info {
  const shape = x.shape;
  const rank = shape.length;
  const flip = new Set(dims);
  let inner = 1, split = rank; // trailing axes that are not reversed form contiguous rows
  while (split > 0 && !flip.has(split - 1)) inner *= shape[--split];
  const out = (backend as unknown as Heap).makeOutput(shape, x.dtype);
  const [src, dst] = [view(backend, x), view(backend, out)];
  const strides = Array(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  const rows = tf.util.sizeFromShape(shape) / Math.max(inner, 1);
  const pos = Array(split).fill(0);
  let from = 0;
  for (let d = 0; d < split; d++) if (flip.has(d)) from += (shape[d] - 1) * strides[d];
  for (let r = 0; r < rows; r++) {
    if (inner === 1) dst[r] = src[from];
    else dst.set(src.subarray(from, from + inner), r * inner);
    for (let d = split - 1; d >= 0; d--) {
      const step = flip.has(d) ? -strides[d] : strides[d];
      pos[d]++;
      from += step;
      if (pos[d] < shape[d]) break;
      from -= step * shape[d];
      pos[d] = 0;
    }
  }
  return out;
}

/** Max of a float32 `x` over its `k` leading axes, row by row. */
function maxLeading(backend: Backend, x: Info, k: number, keepDims: boolean): Info {
  const rest = x.shape.slice(k);
  const c = tf.util.sizeFromShape(rest);
  const m = tf.util.sizeFromShape(x.shape.slice(0, k));
  const shape = keepDims ? [...Array(k).fill(1), ...rest] : rest;
  const out = (backend as unknown as Heap).makeOutput(shape, "float32");
  const [src, dst] = [view(backend, x), view(backend, out)];
  dst.set(src.subarray(0, c));
  for (let r = 1; r < m; r++) {
    const base = r * c;
    for (let j = 0; j < c; j++) {
      const v = src[base + j];
      // NaN propagates, as in tf.max.
      if (v > dst[j] || v !== v) dst[j] = v;
    }
  }
  return out;
}

/**
 * Installs the missing training kernels on the wasm backend. Called once, by `installKernels`
 * (lib/kernels/mod.ts), before the native kernels wrap them.
 */
export function installWasmTrainingKernels(): void {
  overrideKernel("Conv2DBackpropInput", "wasm", (args) => {
    const { inputs, backend: b, attrs } = args;
    const a = attrs as Attrs;
    const strides = typeof a.strides === "number" ? [a.strides, a.strides] : a.strides as number[];
    const { dy, filter } = inputs as { dy: Info; filter: Info };
    const stride1 = strides[0] === 1 && strides[1] === 1 && a.dataFormat !== "NCHW";
    // strides > 1, or pads wider than the filter: wasm's own kernel
    if (!stride1 || !padsFitFilter(filter.shape, a.inputShape as number[], a)) return;
    return conv2dBackpropInputStride1(b as Backend, dy, filter, a.inputShape as number[], a);
  });
  for (const name of ["Sum", "Mean"] as const) {
    overrideKernel(name, "wasm", ({ inputs, backend, attrs }) => {
      const a = attrs as { axis: number | number[]; keepDims: boolean };
      const x = (inputs as { x: Info }).x;
      return reduceLeading(backend as Backend, x, a.axis, a.keepDims, name === "Mean");
    });
  }

  overrideKernel("GatherV2", "wasm", (args) => {
    const { x, indices } = args.inputs as { x: Info; indices: Info };
    const a = args.attrs as { axis: number; batchDims?: number };
    if ((a.batchDims ?? 0) !== 0 || indices.dtype !== "int32" || x.dtype === "string") return;
    const axis = tf.util.parseAxisParam(a.axis, x.shape)[0];
    return gather(args.backend as Backend, x, indices, axis); // out-of-range: wasm's error
  });
  const share = (backend: unknown, x: Info): Info => {
    (backend as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  overrideKernel("Identity", "wasm", (args) => {
    const { x } = args.inputs as { x: Info };
    return x.dtype === "string" ? undefined : share(args.backend, x);
  });
  overrideKernel("Cast", "wasm", (args) => {
    const { x } = args.inputs as { x: Info };
    const { dtype } = args.attrs as { dtype: tf.DataType };
    if (x.dtype === "string" || dtype === "string") return;
    if (x.dtype === dtype) return share(args.backend, x);
    if (dtype === "bool") return castToBool(args.backend as Backend, x);
  });
  overrideKernel("Reverse", "wasm", (args) => {
    const { x } = args.inputs as { x: Info };
    if (x.dtype === "string" || x.shape.length === 0) return;
    const dims = tf.util.parseAxisParam((args.attrs as { dims: number | number[] }).dims, x.shape);
    return reverse(args.backend as Backend, x, dims);
  });
  overrideKernel("Max", "wasm", (args) => {
    const { x } = args.inputs as { x: Info };
    const a = args.attrs as { reductionIndices: number | number[]; keepDims: boolean };
    const axes = [...new Set(tf.util.parseAxisParam(a.reductionIndices, x.shape))]
      .sort((p, q) => p - q);
    const leading = axes.length > 0 && axes.length < x.shape.length &&
      axes.every((v, i) => v === i);
    if (x.dtype !== "float32" || !leading || tf.util.sizeFromShape(x.shape) === 0) return;
    return maxLeading(args.backend as Backend, x, axes.length, a.keepDims);
  });
  overrideKernel("Equal", "wasm", (args) => {
    const { a, b } = args.inputs as { a: Info; b: Info };
    // wasm's own kernel is fast without broadcasting; the loop wins with it.
    if (tf.util.arraysEqual(a.shape, b.shape) || a.dtype !== b.dtype || a.dtype === "string") {
      return;
    }
    return equal(args.backend as Backend, a, b);
  });
  overrideKernel(CHANNEL_CHAIN, "wasm", ({ inputs, backend, attrs }) => {
    const { ops } = attrs as unknown as { ops: ChainOp[] };
    const kernels = { sub: "Sub", mul: "Multiply", add: "Add" } as const;
    const named = inputs as Record<string, Info>;
    let y = named.x;
    let k = 0;
    for (const op of ops) {
      const next = op === "square"
        ? run("Square", backend as Backend, { x: y }, {})
        : run(kernels[op], backend as Backend, { a: y, b: named[`o${k++}`] }, {});
      if (y !== named.x) dispose(backend as Backend, y);
      y = next;
    }
    return y;
  });
  overrideKernel("Conv2DBackpropFilter", "wasm", ({ inputs, backend: b, attrs }) => {
    const backend = b as Backend;
    const { x, dy } = inputs as { x: Info; dy: Info };
    const a = attrs as Attrs;
    return conv2dBackpropFilter(
      backend,
      x,
      dy,
      a.filterShape as [number, number, number, number],
      a,
    );
  });
  overrideKernel("DepthwiseConv2dNativeBackpropInput", "wasm", ({ inputs, backend: b, attrs }) => {
    const backend = b as Backend;
    const { dy, filter } = inputs as { dy: Info; filter: Info };
    const a = attrs as Attrs;
    const full = blockDiagonal(backend, filter);
    const out = run("Conv2DBackpropInput", backend, { dy, filter: full }, {
      strides: a.strides,
      pad: a.pad,
      dataFormat: "NHWC",
      dimRoundingMode: a.dimRoundingMode,
      inputShape: a.inputShape,
    });
    dispose(backend, full);
    return out;
  });
  overrideKernel("DepthwiseConv2dNativeBackpropFilter", "wasm", ({ inputs, backend: b, attrs }) => {
    const backend = b as Backend;
    const { x, dy } = inputs as { x: Info; dy: Info };
    const a = attrs as Attrs;
    const [kh, kw, c, m] = a.filterShape as [number, number, number, number];
    const fullInfo = conv2dBackpropFilter(backend, x, dy, [kh, kw, c, c * m], a);
    const diag = diagonalBlocks(backend, fullInfo, m);
    dispose(backend, fullInfo);
    return diag;
  });
}
