/**
 * ONNX export: a symlab model as an ordinary ONNX graph (opset 13, IR 8) that any ONNX runtime
 * serves, encoded by the `onnx-proto` package (protobufjs code generated from ONNX's own
 * onnx.proto). How each layer maps (docs/design.md, "ONNX export"):
 *
 * - the graph takes `img` NHWC float32 in [0, 1], `[N, H, W, C]` with H, W fixed at export (the
 *   pyramid's bins and the odd-size pools depend on them) and N free, and runs NCHW inside;
 * - `Standardize` → Sub + Div by its per-channel constants (the model's own normalisation);
 * - every group convolution (P4 and p4m lifting and group convs, the scale lifting conv, and the
 *   plain one) → one `Conv` over the expanded filter bank, computed by the layer's own
 *   `filterBank` from its learned kernel, so it is exactly the filter the layer convolves with;
 *   a scale-to-scale conv → one `Conv` whose weight holds each output scale's bank (the layer's
 *   own, again) at the input scales of its window and zeros elsewhere;
 * - the batch norms → `BatchNormalization` in inference form (moving mean and variance, γ, β,
 *   each repeated over the channel's group slots);
 * - `SymmetricMaxPool2D` → `MaxPool` 2×2/2, or 3-wide with one pixel of padding on an odd axis;
 * - spatial pyramid pooling → per level a `MaxPool`/`AveragePool` of equal bins (or `Slice` +
 *   `ReduceMax`/`ReduceMean` per bin when the bins are uneven), then `Transpose`, `Reshape` and
 *   `Concat` into the layer's own order;
 * - group pooling and scale pooling → `Reshape` exposing the group axis, then
 *   `ReduceMax`/`ReduceMean`;
 * - the invariant pyramid pools → the same bins, then one `Gather` of each output's orbit of
 *   (bin, group element) pairs and a `ReduceMax`/`ReduceMean` over it; the orbits are read off
 *   the layer itself, by running it on a map whose values are their own indices;
 * - `Dense` → `Gemm`; then `Softmax`. Outputs: `probabilities` and `logits`, `[N, classes]`.
 *
 * A layer without a mapping is refused with {@linkcode OnnxExportError} naming it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import onnxProto from "onnx-proto";
import denoJson from "../../deno.json" with { type: "json" };
import { binEdges } from "../../layers/pyramid_bins.ts";

const { onnx } = onnxProto;

/** The ONNX opset and IR version written (ONNX 1.10's IR; every op here is in opset 13). */
export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 8;

/** A model that cannot be exported, with the reason. */
export class OnnxExportError extends Error {
  override name = "OnnxExportError";
}

/** Options of {@linkcode toOnnx}. */
export interface OnnxOptions {
  /** Input height and width the graph is built for. */
  height: number;
  width: number;
  /** The graph's name (default the model's). */
  name?: string;
  /** Written into the model's `metadata_props` (e.g. class names, weights hash). */
  metadata?: Record<string, string>;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const A = onnx.AttributeProto.AttributeType;

/** An attribute: an int, ints, a string, or `{ float }` (a float even when whole). */
type Attr = number | number[] | string | { float: number };

/** Builds the node list and initializers of one graph, naming every value uniquely. */
class GraphBuilder {
  readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private count = 0;

  private fresh(base: string): string {
    return `${base}_${this.count++}`;
  }

  /** A float32 constant. */
  floats(base: string, values: ArrayLike<number>, dims: number[]): string {
    const name = this.fresh(base);
    this.initializers.push(
      onnx.TensorProto.create({ name, dims, dataType: FLOAT, floatData: Array.from(values) }),
    );
    return name;
  }

  /** An int64 constant (shapes, indices). */
  ints(base: string, values: number[], dims = [values.length]): string {
    const name = this.fresh(base);
    this.initializers.push(
      onnx.TensorProto.create({ name, dims, dataType: INT64, int64Data: values }),
    );
    return name;
  }

  /** Adds `op` over `inputs`; returns its output's name (or `output` when given). */
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, output?: string): string {
    const out = output ?? this.fresh(op.toLowerCase());
    const attribute = Object.entries(attrs).map(([name, v]) =>
      typeof v === "string"
        ? onnx.AttributeProto.create({ name, type: A.STRING, s: new TextEncoder().encode(v) })
        : Array.isArray(v)
        ? onnx.AttributeProto.create({ name, type: A.INTS, ints: v })
        : typeof v === "number"
        ? onnx.AttributeProto.create({ name, type: A.INT, i: v })
        : onnx.AttributeProto.create({ name, type: A.FLOAT, f: v.float })
    );
    this.nodes.push(
      onnx.NodeProto.create({
        opType: op,
        input: inputs,
        output: [out],
        name: this.fresh(op),
        attribute,
      }),
    );
    return out;
  }

  /** `ReduceMax`/`ReduceMean` of `x` over `axes`. */
  reduce(mode: "max" | "mean", x: string, axes: number[], keepdims: 0 | 1): string {
    return this.node(mode === "max" ? "ReduceMax" : "ReduceMean", [x], { axes, keepdims });
  }

  /** `Reshape` of `x` to `shape` (0 keeps that axis, -1 is inferred). */
  reshape(x: string, shape: number[]): string {
    return this.node("Reshape", [x, this.ints("shape", shape)]);
  }
}

/** A value flowing through the graph: its name and NCHW (or [N, F]) shape without N. */
interface Value {
  name: string;
  /** [C, H, W] for maps, [F] for vectors. */
  shape: number[];
}

/** A layer weight by its name in the layer ("kernel", "gamma", …), as a flat float array. */
function weight(layer: tf.layers.Layer, name: string): { data: Float32Array; shape: number[] } {
  const w = layer.weights.find((v) => v.originalName.split("/").at(-1) === name);
  if (!w) {
    throw new OnnxExportError(`layer "${layer.name}" has no weight "${name}"`);
  }
  return { data: w.read().dataSync() as Float32Array, shape: w.shape as number[] };
}

/** What the export reads of symlab's convolution layers beyond their public fields. */
interface ConvInternals {
  filters: number;
  kernelSize: number;
  strides: number;
  padding: "same" | "valid";
  useBias: boolean;
  /** Group elements per output channel (ConvBase's protected `order`). */
  order: number;
  /** The learned kernel → the conv2d filter bank (ConvBase's protected `filterBank`). */
  filterBank(kernel: tf.Tensor): tf.Tensor4D;
}

/** The layer's expanded filter bank [k, k, Cin′, Cout′], by its own code. */
function bankOf(layer: tf.layers.Layer): { data: Float32Array; shape: number[] } {
  const conv = layer as unknown as ConvInternals;
  const kernel = layer.weights.find((v) => v.originalName.split("/").at(-1) === "kernel");
  if (!kernel) throw new OnnxExportError(`layer "${layer.name}" has no kernel`);
  // Cloned: a plain conv's "bank" is its kernel variable itself, which must not be disposed.
  const bank = tf.tidy(() => conv.filterBank(kernel.read()).clone());
  const out = { data: bank.dataSync() as Float32Array, shape: bank.shape as number[] };
  bank.dispose();
  return out;
}

/** An HWIO bank [k, k, I, O] → ONNX's OIHW. */
function oihw(bank: Float32Array, [k, , ci, co]: number[]): Float32Array {
  const out = new Float32Array(bank.length);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) {
          out[((o * ci + i) * k + a) * k + b] = bank[((a * k + b) * ci + i) * co + o];
        }
      }
    }
  }
  return out;
}

/** Output length of a conv axis (symlab's symmetric padding, conv_geometry.ts). */
function convLength(n: number, k: number, stride: number, pad: number): number {
  return Math.floor((n + 2 * pad - k) / stride) + 1;
}

/** `Conv` with an OIHW weight and optional per-output-channel bias. */
function conv(
  g: GraphBuilder,
  x: Value,
  w: Float32Array,
  [co, ci, k]: [number, number, number],
  layer: ConvInternals,
  bias?: Float32Array,
): Value {
  if (ci !== x.shape[0]) {
    throw new OnnxExportError(`conv bank expects ${ci} input channels, the map has ${x.shape[0]}`);
  }
  const pad = layer.padding === "same" ? (k - 1) / 2 : 0;
  const inputs = [x.name, g.floats("W", w, [co, ci, k, k])];
  if (bias) inputs.push(g.floats("B", bias, [co]));
  const name = g.node("Conv", inputs, {
    kernel_shape: [k, k],
    pads: [pad, pad, pad, pad],
    strides: [layer.strides, layer.strides],
  });
  const [, h, wd] = x.shape;
  return {
    name,
    shape: [co, convLength(h, k, layer.strides, pad), convLength(wd, k, layer.strides, pad)],
  };
}

/** The conv's bias per output channel (one per filter, shared by its `order` slots). */
function convBias(layer: tf.layers.Layer, order: number): Float32Array | undefined {
  const c = layer as unknown as ConvInternals;
  if (!c.useBias) return undefined;
  const b = weight(layer, "bias").data;
  return Float32Array.from({ length: b.length * order }, (_, i) => b[Math.floor(i / order)]);
}

/** A group conv, lifting conv or plain conv: one Conv over the layer's own bank. */
function bankConv(g: GraphBuilder, layer: tf.layers.Layer, x: Value): Value {
  const c = layer as unknown as ConvInternals;
  const bank = bankOf(layer);
  const [k, , ci, co] = bank.shape;
  return conv(g, x, oihw(bank.data, bank.shape), [co, ci, k], c, convBias(layer, c.order));
}

/**
 * A scale-to-scale conv (ScaleConv2D): the layer's bank [k, k, W·Cin·R, S·Cout·R] (rows
 * (j·Cin + c)·R + s for window offset j, columns (i·Cout + o)·R + r for output scale i) placed
 * into one OIHW weight over the whole map: output channel (o·S + i)·R + r reads input channel
 * (c·S + i + j)·R + s, for the offsets j that exist (i + j < S); zeros elsewhere.
 */
function scaleConv(g: GraphBuilder, layer: tf.layers.Layer, x: Value): Value {
  const c = layer as unknown as ConvInternals & {
    sigmas: number[];
    rotations: number;
    window: number;
  };
  const s = c.sigmas.length, r = c.rotations, cout = c.filters, win = c.window;
  const channels = x.shape[0];
  const cin = channels / (s * r);
  const bank = bankOf(layer);
  const [k, , rows, cols] = bank.shape;
  if (rows !== win * cin * r || cols !== s * cout * r) {
    throw new OnnxExportError(
      `layer "${layer.name}": bank [${bank.shape}] does not match ${win} window × ${cin} × ${r} rows and ${s} × ${cout} × ${r} columns`,
    );
  }
  const co = cout * s * r;
  const w = new Float32Array(co * channels * k * k);
  for (let i = 0; i < s; i++) {
    for (let j = 0; j < Math.min(win, s - i); j++) {
      for (let ch = 0; ch < cin; ch++) {
        for (let si = 0; si < r; si++) {
          const row = (j * cin + ch) * r + si;
          const inChannel = (ch * s + i + j) * r + si;
          for (let o = 0; o < cout; o++) {
            for (let ro = 0; ro < r; ro++) {
              const col = (i * cout + o) * r + ro;
              const outChannel = (o * s + i) * r + ro;
              for (let a = 0; a < k; a++) {
                for (let b = 0; b < k; b++) {
                  w[((outChannel * channels + inChannel) * k + a) * k + b] =
                    bank.data[((a * k + b) * rows + row) * cols + col];
                }
              }
            }
          }
        }
      }
    }
  }
  return conv(g, x, w, [co, channels, k], c, convBias(layer, s * r));
}

/** A batch norm in inference form, its statistics repeated over each channel's group slots. */
function batchNorm(g: GraphBuilder, layer: tf.layers.Layer, x: Value): Value {
  const channels = x.shape[0];
  const spread = (name: string) => {
    const v = weight(layer, name).data;
    if (channels % v.length !== 0) {
      throw new OnnxExportError(
        `layer "${layer.name}": ${v.length} ${name} values for ${channels} channels`,
      );
    }
    const group = channels / v.length;
    return g.floats(
      name,
      Float32Array.from({ length: channels }, (_, i) => v[Math.floor(i / group)]),
      [
        channels,
      ],
    );
  };
  const epsilon = (layer as unknown as { epsilon: number }).epsilon;
  const name = g.node(
    "BatchNormalization",
    [x.name, spread("gamma"), spread("beta"), spread("moving_mean"), spread("moving_variance")],
    { epsilon: { float: epsilon } },
  );
  return { name, shape: x.shape };
}

/** SymmetricMaxPool2D: 2×2/2, or 3 wide with one −∞ pixel each side on an odd axis. */
function symmetricPool(g: GraphBuilder, x: Value): Value {
  const [c, h, w] = x.shape;
  const [ph, pw] = [h % 2, w % 2];
  const name = g.node("MaxPool", [x.name], {
    kernel_shape: [2 + ph, 2 + pw],
    strides: [2, 2],
    pads: [ph, pw, ph, pw],
  });
  return { name, shape: [c, Math.ceil(h / 2), Math.ceil(w / 2)] };
}

/** One pyramid level: the map pooled into L×L bins (pyramid_bins.ts) → [N, C, L, L]. */
function pyramidLevel(g: GraphBuilder, x: Value, level: number, mode: "max" | "mean"): string {
  const [, h, w] = x.shape;
  if (h % level === 0 && w % level === 0) {
    const size = [h / level, w / level];
    return g.node(mode === "max" ? "MaxPool" : "AveragePool", [x.name], {
      kernel_shape: size,
      strides: size,
    });
  }
  const axes = g.ints("axes", [2, 3]);
  const rows = binEdges(h, level).map(([r0, r1]) =>
    g.node(
      "Concat",
      binEdges(w, level).map(([c0, c1]) => {
        const bin = g.node("Slice", [
          x.name,
          g.ints("starts", [r0, c0]),
          g.ints("ends", [r1, c1]),
          axes,
        ]);
        return g.reduce(mode, bin, [2, 3], 1);
      }),
      { axis: 3 },
    )
  );
  return g.node("Concat", rows, { axis: 2 });
}

/** [N, C, L, L] → [N, L·L·C], bin-row-major and channel-minor like the layers' output. */
function binsLast(g: GraphBuilder, pooled: string): string {
  return g.reshape(g.node("Transpose", [pooled], { perm: [0, 2, 3, 1] }), [0, -1]);
}

/** Plain spatial pyramid pooling. */
function spp(g: GraphBuilder, layer: tf.layers.Layer, x: Value): Value {
  const { levels, mode } = layer as unknown as { levels: number[]; mode: "max" | "mean" };
  const parts = levels.map((l) => binsLast(g, pyramidLevel(g, x, l, mode)));
  const c = x.shape[0];
  return {
    name: parts.length === 1 ? parts[0] : g.node("Concat", parts, { axis: 1 }),
    shape: [c * levels.reduce((s, l) => s + l * l, 0)],
  };
}

/**
 * The orbits of an invariant pyramid pool at one level, read off the layer itself: a fresh
 * layer of the same class with this one level, run on an L×L map (each bin one pixel) whose
 * values are their own flat indices, returns for each output the largest index of its orbit;
 * masking what was found and running again gives the next, `groupSize` times. Returns, per
 * output position, the `groupSize` flat indices into the [L, L, C·G] bin map it reduces.
 */
function orbitsOf(layer: tf.layers.Layer, level: number, channels: number): number[][] {
  const { groupSize, mode } = layer as unknown as { groupSize: number; mode: "max" | "mean" };
  const Layer = layer.constructor as new (args: object) => tf.layers.Layer;
  const probe = new Layer({ levels: [level], mode, reduce: "max" });
  const size = level * level * channels;
  const values = Float32Array.from({ length: size }, (_, i) => i);
  const orbits: number[][] = [];
  for (let round = 0; round < groupSize; round++) {
    const found = tf.tidy(() =>
      Array.from(
        (probe.apply(tf.tensor4d(values, [1, level, level, channels])) as tf.Tensor).dataSync(),
      )
    );
    found.forEach((v, p) => {
      if (!Number.isInteger(v) || v < 0 || v >= size) {
        throw new OnnxExportError(
          `layer "${layer.name}": orbit probe of level ${level} gave ${v} at output ${p}`,
        );
      }
      (orbits[p] ??= []).push(v);
      values[v] = -1;
    });
  }
  if (values.some((v) => v !== -1) || orbits.some((o) => new Set(o).size !== groupSize)) {
    throw new OnnxExportError(
      `layer "${layer.name}": level ${level}'s orbits do not partition the bins into groups of ${groupSize}`,
    );
  }
  return orbits;
}

/** An invariant pyramid pool (P4 or p4m): bins, then a Gather of each orbit and its reduction. */
function groupSpp(g: GraphBuilder, layer: tf.layers.Layer, x: Value): Value {
  const { levels, mode, reduce, groupSize } = layer as unknown as {
    levels: number[];
    mode: "max" | "mean";
    reduce: "max" | "mean" | "max+mean";
    groupSize: number;
  };
  const channels = x.shape[0];
  const reductions: ("max" | "mean")[] = reduce === "max+mean" ? ["max", "mean"] : [reduce];
  const gathered = levels.map((level) => {
    const orbits = orbitsOf(layer, level, channels);
    const flat = binsLast(g, pyramidLevel(g, x, level, mode));
    const indices = g.ints("orbits", orbits.flat(), [orbits.length, groupSize]);
    return { orbit: g.node("Gather", [flat, indices], { axis: 1 }), size: orbits.length };
  });
  const parts = reductions.flatMap((r) => gathered.map((o) => g.reduce(r, o.orbit, [2], 0)));
  const length = reductions.length * gathered.reduce((s, o) => s + o.size, 0);
  return {
    name: parts.length === 1 ? parts[0] : g.node("Concat", parts, { axis: 1 }),
    shape: [length],
  };
}

/** Reduces `group` consecutive slots: channel index (c·group + e)·inner + t → c·inner + t. */
function reduceSlots(
  g: GraphBuilder,
  x: Value,
  group: number,
  inner: number,
  mode: "max" | "mean",
): Value {
  const [channels, h, w] = x.shape;
  if (channels % (group * inner) !== 0) {
    throw new OnnxExportError(`${channels} channels do not split into ${group} × ${inner} slots`);
  }
  const outer = channels / (group * inner);
  const split = g.reshape(x.name, [0, outer, group, inner, h, w]);
  const reduced = g.reduce(mode, split, [2], 0);
  return { name: g.reshape(reduced, [0, outer * inner, h, w]), shape: [outer * inner, h, w] };
}

/** Adds one layer to the graph. */
function addLayer(g: GraphBuilder, layer: tf.layers.Layer, x: Value): Value {
  const kind = layer.getClassName();
  switch (kind) {
    case "InputLayer":
      return x;
    case "Standardize": {
      const { mean, std } = layer as unknown as { mean: number[]; std: number[] };
      const c = mean.length;
      const sub = g.node("Sub", [x.name, g.floats("mean", mean, [1, c, 1, 1])]);
      return { name: g.node("Div", [sub, g.floats("std", std, [1, c, 1, 1])]), shape: x.shape };
    }
    case "Z2Conv2D":
    case "P4LiftConv2D":
    case "P4Conv2D":
    case "P4mLiftConv2D":
    case "P4mConv2D":
    case "ScaleLiftConv2D":
      return bankConv(g, layer, x);
    case "ScaleConv2D":
      return scaleConv(g, layer, x);
    case "BatchNorm":
    case "P4BatchNorm":
    case "P4mBatchNorm":
    case "ScaleBatchNorm":
      return batchNorm(g, layer, x);
    case "ReLU":
      return { name: g.node("Relu", [x.name]), shape: x.shape };
    case "SymmetricMaxPool2D":
      return symmetricPool(g, x);
    case "SpatialPyramidPool":
      return spp(g, layer, x);
    case "P4SpatialPyramidPool":
    case "P4mSpatialPyramidPool":
      return groupSpp(g, layer, x);
    case "P4Pool":
    case "P4mPool": {
      const { groupSize, mode } = layer as unknown as { groupSize: number; mode: "max" | "mean" };
      return reduceSlots(g, x, groupSize, 1, mode);
    }
    case "ScalePool": {
      const { scales, rotations, mode } = layer as unknown as {
        scales: number;
        rotations: number;
        mode: "max" | "mean";
      };
      return reduceSlots(g, x, scales, rotations, mode);
    }
    case "GlobalAveragePooling2D": {
      const pooled = g.node("GlobalAveragePool", [x.name]);
      return { name: g.reshape(pooled, [0, -1]), shape: [x.shape[0]] };
    }
    case "Dense": {
      const config = layer.getConfig();
      if (config.activation !== "linear") {
        throw new OnnxExportError(
          `layer "${layer.name}" (Dense): expected a linear activation, got ${config.activation}`,
        );
      }
      const kernel = weight(layer, "kernel");
      const [f, units] = kernel.shape;
      if (x.shape.length !== 1 || x.shape[0] !== f) {
        throw new OnnxExportError(
          `layer "${layer.name}" (Dense): expects ${f} features, gets [${x.shape}]`,
        );
      }
      const inputs = [x.name, g.floats("kernel", kernel.data, [f, units])];
      if (config.useBias !== false) {
        inputs.push(g.floats("bias", weight(layer, "bias").data, [units]));
      }
      return { name: g.node("Gemm", inputs), shape: [units] };
    }
    default:
      throw new OnnxExportError(
        `layer "${layer.name}" (${kind}) has no ONNX mapping: expected the layers of lib/model/models.ts`,
      );
  }
}

/**
 * The model as ONNX bytes (a serialized `ModelProto`) for `[N, height, width, C]` inputs.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createModel } from "../model/models.ts";
 * const model = createModel("symmetric", { preset: "tiny", numClasses: 10 });
 * const bytes = toOnnx(model, { height: 16, width: 16 });
 * bytes.length > 1000; // true
 * ```
 */
export function toOnnx(model: tf.LayersModel, options: OnnxOptions): Uint8Array {
  const { height, width } = options;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new OnnxExportError(`expected a positive integer input size, got ${height}×${width}`);
  }
  const inputShape = model.inputs[0].shape;
  const channels = inputShape[3];
  if (typeof channels !== "number") {
    throw new OnnxExportError(`model "${model.name}": its input has no fixed channel count`);
  }
  for (const [axis, want] of [[1, height], [2, width]] as const) {
    const fixed = inputShape[axis];
    if (fixed !== null && fixed !== want) {
      throw new OnnxExportError(
        `model "${model.name}" takes ${inputShape[1]}×${
          inputShape[2]
        } inputs, not ${height}×${width}`,
      );
    }
  }
  const g = new GraphBuilder();
  let x: Value = {
    name: g.node("Transpose", ["img"], { perm: [0, 3, 1, 2] }),
    shape: [channels, height, width],
  };
  for (const layer of model.layers) x = addLayer(g, layer, x);
  if (x.shape.length !== 1) {
    throw new OnnxExportError(`model "${model.name}" ends in a map [${x.shape}], not logits`);
  }
  const classes = x.shape[0];
  g.node("Identity", [x.name], {}, "logits");
  g.node("Softmax", ["logits"], { axis: 1 }, "probabilities");
  const tensorType = (dims: (number | string)[]) => ({
    tensorType: {
      elemType: FLOAT,
      shape: {
        dim: dims.map((d) => typeof d === "string" ? { dimParam: d } : { dimValue: d }),
      },
    },
  });
  const proto = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "symlab",
    producerVersion: (denoJson as { version?: string }).version ?? "unversioned",
    docString:
      `symlab ${model.name}: img is NHWC float32 in [0, 1] (the model standardises it itself); ` +
      "probabilities = softmax(logits)",
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: options.name ?? model.name,
      node: g.nodes,
      initializer: g.initializers,
      input: [{ name: "img", type: tensorType(["N", height, width, channels]) }],
      output: [
        { name: "probabilities", type: tensorType(["N", classes]) },
        { name: "logits", type: tensorType(["N", classes]) },
      ],
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}
