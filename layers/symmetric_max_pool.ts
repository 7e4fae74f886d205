/**
 * Max-pooling by a factor of two on a grid that a 90° turn maps onto itself, for any size:
 * on an even axis 2-wide windows with stride 2 (the usual 2×2 pool); on an odd axis 3-wide
 * windows with stride 2 and one pixel of −∞ padding on both ends, centred on 0, 2, …, n−1.
 * A plain 2×2/2 pool on an odd axis drops the last row, so turning the input changes which
 * row is dropped and breaks equivariance (a 30×30 input hits this after one pool: 15 is odd).
 * On even sizes this is exactly `tf.maxPool(x, 2, 2, "valid")`.
 *
 * Input [N, H, W, C] -> output [N, ceil(H/2), ceil(W/2), C]. Acts on each channel alike, so it
 * commutes with the P4 action on P4 maps too.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Config of {@linkcode SymmetricMaxPool2D}. */
export interface SymmetricMaxPool2DArgs {
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

const half = (n: number | null) => n === null ? null : Math.ceil(n / 2);

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const pool = new SymmetricMaxPool2D({});
 * const y = pool.apply(tf.zeros([1, 15, 16, 3])) as tf.Tensor; // [1, 8, 8, 3]
 * ```
 */
export class SymmetricMaxPool2D extends tf.layers.Layer {
  static className = "SymmetricMaxPool2D";

  constructor(args: SymmetricMaxPool2DArgs = {}) {
    super(args);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [n, h, w, c] = inputShape as tf.Shape;
    return [n, half(h), half(w), c];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      let x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [, h, w] = x.shape;
      const [ph, pw] = [h % 2, w % 2];
      if (ph || pw) x = x.pad([[0, 0], [ph, ph], [pw, pw], [0, 0]], -3.4e38);
      return tf.maxPool(x, [2 + ph, 2 + pw], 2, "valid");
    });
  }
}
