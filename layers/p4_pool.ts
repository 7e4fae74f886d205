/**
 * Group pooling: reduce the rotation axis of a P4 map, [N, H, W, C·4] -> [N, H, W, C].
 * Since the P4 action only rolls that axis (besides turning the plane), the result transforms
 * like an ordinary image: `pool(g·f) = rot(pool(f), g)`, and after a spatially invariant
 * reduction it is invariant.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Config of {@linkcode P4Pool}. */
export interface P4PoolArgs {
  /** Reduction over the four rotations (default "max"). */
  mode?: "max" | "mean";
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/**
 * @example
 * ```ts
 * const pool = new P4Pool({ mode: "max" });
 * const y = pool.apply(tf.zeros([1, 8, 8, 16])) as tf.Tensor; // [1, 8, 8, 4]
 * ```
 */
export class P4Pool extends tf.layers.Layer {
  static className = "P4Pool";
  readonly mode: "max" | "mean";

  constructor(args: P4PoolArgs = {}) {
    super(args);
    this.mode = args.mode ?? "max";
    if (this.mode !== "max" && this.mode !== "mean") {
      throw new RangeError(`P4Pool mode must be "max" or "mean", got "${args.mode}"`);
    }
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [n, h, w, c4] = inputShape as tf.Shape;
    return [n, h, w, (c4 as number) / 4];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [n, h, w, c4] = x.shape;
      const x5 = x.reshape([n, h, w, c4 / 4, 4]);
      return this.mode === "max" ? x5.max(4) : x5.mean(4);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), mode: this.mode };
  }
}
