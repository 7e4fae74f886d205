/**
 * Scale projection: max (or mean) over the scale axis of a scale map, [N, H, W, C·S·R] ->
 * [N, H, W, C·R] (channel c·R + r). Rescaling the input by qᵗ shifts the scales and rescales
 * the plane; the max over scales forgets the shift, so the result transforms like an image
 * under rescaling (SESN's projection, §5), up to the scales leaving the range. With R = 4 the
 * output is a P4 map, ready for the P4 layers.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Config of {@linkcode ScalePool}. */
export interface ScalePoolArgs {
  /** Scales S per channel. */
  scales: number;
  /** Rotations R per scale (1, or 4 for rotscale maps); default 1. */
  rotations?: number;
  /** Reduction over the scales (default "max"). */
  mode?: "max" | "mean";
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const pool = new ScalePool({ scales: 3 });
 * const y = pool.apply(tf.zeros([1, 8, 8, 12])) as tf.Tensor; // [1, 8, 8, 4]
 * ```
 */
export class ScalePool extends tf.layers.Layer {
  static className = "ScalePool";
  readonly scales: number;
  readonly rotations: number;
  readonly mode: "max" | "mean";

  constructor(args: ScalePoolArgs) {
    super(args);
    this.scales = args.scales;
    this.rotations = args.rotations ?? 1;
    this.mode = args.mode ?? "max";
    if (!Number.isInteger(this.scales) || this.scales < 1) {
      throw new RangeError(`ScalePool scales must be a positive integer, got ${args.scales}`);
    }
    if (this.mode !== "max" && this.mode !== "mean") {
      throw new RangeError(`ScalePool mode must be "max" or "mean", got "${args.mode}"`);
    }
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [n, h, w, c] = inputShape as tf.Shape;
    return [n, h, w, (c as number) / this.scales];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [n, h, w, channels] = x.shape;
      const block = this.scales * this.rotations;
      if (channels % block !== 0) {
        throw new RangeError(
          `ScalePool expects C·${block} channels (${this.scales} scales × ${this.rotations} rotations), got ${channels}`,
        );
      }
      // [N·H·W·C, S, R]: reduce the middle axis (rank 3 keeps every backend's fast path).
      const x3 = x.reshape([-1, this.scales, this.rotations]);
      const y = this.mode === "max" ? x3.max(1) : x3.mean(1);
      return y.reshape([n, h, w, channels / this.scales]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      scales: this.scales,
      rotations: this.rotations,
      mode: this.mode,
    };
  }
}
