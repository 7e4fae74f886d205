/**
 * What symlab's convolutions share: config, bias per G-channel, output shape, and "transform
 * the filter bank, then one ordinary conv2d" (docs/design.md). Subclasses say only how the learned
 * kernel is shaped, how it becomes a conv2d filter, and how many group elements each output
 * channel has (`order`: 4 for the P4 layers, 1 for {@linkcode Z2Conv2D}).
 *
 * The conv is `tf.conv2d`, not tfjs-layers' fused conv: the fused op's gradient computes the
 * input gradient even where nothing upstream is trained (the first layer of a model), which
 * cost 9–28 ms of a ~160 ms training step on wasm + oneDNN (measured 2026-11-25, baseline,
 * reference preset); `tf.conv2d`'s gradient is pruned per input.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { convOutLength, padArg, type Padding } from "./conv_geometry.ts";

/** Config of the convolutions. */
export interface ConvArgs {
  /** Output channels per group element (the layer emits filters·order channels). */
  filters: number;
  kernelSize?: number;
  strides?: number;
  padding?: Padding;
  useBias?: boolean;
  /** Seed of the kernel initializer (runs with the same seed start from the same weights). */
  seed?: number;
  name?: string;
  trainable?: boolean;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/**
 * Base class of {@linkcode Z2Conv2D} and the group convolutions (group_conv.ts); not
 * registered itself.
 */
export abstract class ConvBase extends tf.layers.Layer {
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: Padding;
  readonly useBias: boolean;
  readonly seed?: number;
  protected kernel!: tf.LayerVariable;
  protected bias?: tf.LayerVariable;

  constructor(args: ConvArgs) {
    super(args);
    this.filters = args.filters;
    this.kernelSize = args.kernelSize ?? 3;
    this.strides = args.strides ?? 1;
    this.padding = args.padding ?? "same";
    this.useBias = args.useBias ?? false;
    this.seed = args.seed;
    if (!Number.isInteger(this.filters) || this.filters < 1) {
      throw new RangeError(`filters must be a positive integer, got ${args.filters}`);
    }
    padArg(this.padding, this.kernelSize);
  }

  /** Shape of the learned kernel for `cin` input channels (the last input axis). */
  protected abstract kernelShape(cin: number): number[];

  /** The learned kernel -> an ordinary conv2d filter [k, k, Cin', filters·order]. */
  protected abstract filterBank(kernel: tf.Tensor): tf.Tensor4D;

  /** Group elements per output channel: channel o·order + e (|G| for G-maps, 1 for Z²). */
  protected abstract readonly order: number;

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    // heNormal takes fan-in from all axes but the last: k·k·Cin (Z², lift) or k·k·Cin·4 (group).
    this.kernel = this.addWeight(
      "kernel",
      this.kernelShape(shape[shape.length - 1] as number),
      "float32",
      tf.initializers.heNormal({ seed: this.seed }),
    );
    if (this.useBias) {
      this.bias = this.addWeight("bias", [this.filters], "float32", tf.initializers.zeros());
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [n, h, w] = inputShape as tf.Shape;
    const out = (len: number | null) =>
      convOutLength(len, this.kernelSize, this.strides, this.padding);
    return [n, out(h), out(w), this.filters * this.order];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const bank = this.filterBank(this.kernel.read());
      const y = tf.conv2d(x, bank, this.strides, padArg(this.padding, this.kernelSize));
      if (!this.bias) return y;
      if (this.order === 1) return y.add(this.bias.read());
      // One bias per G-channel, shared by its rotations (channel o·order + r).
      const b = this.bias.read().reshape([this.filters, 1]).tile([1, this.order]).reshape([-1]);
      return y.add(b);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      useBias: this.useBias,
      ...(this.seed === undefined ? {} : { seed: this.seed }),
    };
  }
}
