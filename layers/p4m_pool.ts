/**
 * Group pooling for p4m: reduce the element axis of a p4m map, [N, H, W, C·8] -> [N, H, W, C].
 * The p4m action permutes the eight elements of each channel (besides transforming the
 * plane), so `pool(g·f) = d4Image(pool(f), g)`: the result transforms like an ordinary image
 * and is invariant after a spatially invariant reduction.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Config of {@linkcode P4mPool}. */
export interface P4mPoolArgs {
  /** Reduction over the eight elements (default "max"). */
  mode?: "max" | "mean";
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/**
 * @example
 * ```ts
 * const pool = new P4mPool({ mode: "max" });
 * const y = pool.apply(tf.zeros([1, 8, 8, 16])) as tf.Tensor; // [1, 8, 8, 2]
 * ```
 */
export class P4mPool extends tf.layers.Layer {
  static className = "P4mPool";
  readonly mode: "max" | "mean";

  constructor(args: P4mPoolArgs = {}) {
    super(args);
    this.mode = args.mode ?? "max";
    if (this.mode !== "max" && this.mode !== "mean") {
      throw new RangeError(`P4mPool mode must be "max" or "mean", got "${args.mode}"`);
    }
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [n, h, w, c8] = inputShape as tf.Shape;
    return [n, h, w, (c8 as number) / 8];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [n, h, w, c8] = x.shape;
      if (c8 % 8 !== 0) {
        throw new RangeError(`P4mPool expects a p4m map with C·8 channels, got ${c8} channels`);
      }
      const x5 = x.reshape([n, h, w, c8 / 8, 8]);
      return this.mode === "max" ? x5.max(4) : x5.mean(4);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), mode: this.mode };
  }
}
