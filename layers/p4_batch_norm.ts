/**
 * Batch normalisation for P4 maps. One mean, variance, γ and β per channel c, shared by its
 * four rotations (indices c·4 + r): statistics are taken over N, H, W and the rotation axis.
 * A per-(c·4 + r) batch norm would scale the rotations of one channel differently and break
 * equivariance; this one commutes with the P4 action.
 *
 * Input and output [N, H, W, C·4]. Training mode (`{ training: true }`) uses batch statistics
 * and updates moving averages as `m ← momentum·m + (1 − momentum)·batch` (variance unbiased,
 * as PyTorch); inference uses the moving averages.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Mean and biased variance per channel c over rows and the four rotations of x2d [M, C·4].
 * Column sums are products with a row of ones: one GEMM instead of a strided reduction
 * (on wasm the reduction over non-innermost axes was ~20× slower, measured 2026-11).
 */
function groupMoments(x2d: tf.Tensor2D, c: number): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const count = x2d.shape[0] * 4;
  const ones = tf.ones([1, x2d.shape[0]]);
  const perChannel = (t: tf.Tensor2D) =>
    ones.matMul(t).reshape([c, 4]).sum(1).div(count) as tf.Tensor1D;
  const mean = perChannel(x2d);
  const centred = x2d.sub(mean.reshape([c, 1]).tile([1, 4]).reshape([1, c * 4]));
  return { mean, variance: perChannel(centred.square() as tf.Tensor2D) };
}

/** Config of {@linkcode P4BatchNorm}. */
export interface P4BatchNormArgs {
  momentum?: number;
  epsilon?: number;
  name?: string;
  trainable?: boolean;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/**
 * @example
 * ```ts
 * const bn = new P4BatchNorm({});
 * const y = bn.apply(tf.randomNormal([8, 4, 4, 16]), { training: true }) as tf.Tensor;
 * ```
 */
export class P4BatchNorm extends tf.layers.Layer {
  static className = "P4BatchNorm";
  readonly momentum: number;
  readonly epsilon: number;
  private gamma!: tf.LayerVariable;
  private beta!: tf.LayerVariable;
  private movingMean!: tf.LayerVariable;
  private movingVariance!: tf.LayerVariable;

  constructor(args: P4BatchNormArgs = {}) {
    super(args);
    this.momentum = args.momentum ?? 0.9;
    this.epsilon = args.epsilon ?? 1e-5;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    const c4 = shape[shape.length - 1] as number;
    if (c4 % 4 !== 0) {
      throw new RangeError(`P4BatchNorm expects a P4 map with C·4 channels, got ${c4} channels`);
    }
    const c = c4 / 4;
    this.gamma = this.addWeight("gamma", [c], "float32", tf.initializers.ones());
    this.beta = this.addWeight("beta", [c], "float32", tf.initializers.zeros());
    this.movingMean = this.addWeight(
      "moving_mean",
      [c],
      "float32",
      tf.initializers.zeros(),
      undefined,
      false,
    );
    this.movingVariance = this.addWeight(
      "moving_variance",
      [c],
      "float32",
      tf.initializers.ones(),
      undefined,
      false,
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return inputShape as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [n, h, w, c4] = x.shape;
      const c = c4 / 4;
      // Per-channel [C] -> per-G-channel [C·4], each value repeated over its four rotations.
      const spread = (v: tf.Tensor) => v.reshape([c, 1]).tile([1, 4]).reshape([c4]);
      let mean: tf.Tensor, variance: tf.Tensor;
      if (kwargs?.training === true) {
        ({ mean, variance } = groupMoments(x.reshape([n * h * w, c4]), c));
        const count = n * h * w * 4;
        const unbiased = variance.mul(count / Math.max(count - 1, 1));
        const m = this.momentum;
        this.movingMean.write(this.movingMean.read().mul(m).add(mean.mul(1 - m)));
        this.movingVariance.write(this.movingVariance.read().mul(m).add(unbiased.mul(1 - m)));
      } else {
        mean = this.movingMean.read();
        variance = this.movingVariance.read();
      }
      const scale = this.gamma.read().mul(tf.rsqrt(variance.add(this.epsilon)));
      const shift = this.beta.read().sub(mean.mul(scale));
      return x.mul(spread(scale)).add(spread(shift));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon };
  }
}
