/**
 * Group pooling, the shared part of {@linkcode P4Pool} (4 rotations) and P4mPool (8 elements):
 * reduce the group axis of each channel, [N, H, W, C·G] -> [N, H, W, C] (channel c, element e at
 * `c·G + e`, docs/design.md). The group only permutes a channel's G slots (besides transforming
 * the plane), so the result transforms like an ordinary image and is invariant after a
 * spatially invariant reduction.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Config of a group pool. */
export interface GroupPoolArgs {
  /** Reduction over the group axis (default "max"). */
  mode?: "max" | "mean";
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/** Max or mean over the last G slots of each channel; subclasses fix G and the class name. */
export abstract class GroupPool extends tf.layers.Layer {
  readonly mode: "max" | "mean";

  protected constructor(args: GroupPoolArgs, readonly groupSize: number, what: string) {
    super(args);
    this.mode = args.mode ?? "max";
    if (this.mode !== "max" && this.mode !== "mean") {
      throw new RangeError(`${what} mode must be "max" or "mean", got "${args.mode}"`);
    }
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [n, h, w, c] = inputShape as tf.Shape;
    return [n, h, w, (c as number) / this.groupSize];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [n, h, w, c] = x.shape;
      const g = this.groupSize;
      if (c % g !== 0) {
        throw new RangeError(
          `${this.getClassName()} expects a map with C·${g} channels, got ${c} channels`,
        );
      }
      const x5 = x.reshape([n, h, w, c / g, g]);
      return this.mode === "max" ? x5.max(4) : x5.mean(4);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), mode: this.mode };
  }
}
