/**
 * Per-channel standardisation `(x − mean) / std` with constants stored in the layer config,
 * so a checkpoint carries its own input normalisation (docs/design.md: the model owns it). Images
 * enter the model as NHWC float32 in [0, 1].
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Config of {@linkcode Standardize}. */
export interface StandardizeArgs {
  mean: number[];
  std: number[];
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/**
 * @example
 * ```ts
 * const norm = new Standardize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
 * ```
 */
export class Standardize extends tf.layers.Layer {
  static className = "Standardize";
  readonly mean: number[];
  readonly std: number[];

  constructor(args: StandardizeArgs) {
    super(args);
    if (args.mean.length !== args.std.length || args.std.some((s) => !(s > 0))) {
      throw new RangeError(
        `Standardize needs one mean and one positive std per channel, got mean [${args.mean}] std [${args.std}]`,
      );
    }
    this.mean = args.mean;
    this.std = args.std;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return inputShape as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return x.sub(tf.tensor1d(this.mean)).div(tf.tensor1d(this.std));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), mean: this.mean, std: this.std };
  }
}
