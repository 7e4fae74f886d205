/**
 * Group pooling: reduce the group axis of each channel of a G-map of any registered group,
 * [N, H, W, C·|G|] -> [N, H, W, C] (channel c, element e at `c·|G| + e`, docs/design.md). The
 * group only permutes a channel's |G| slots (besides moving the plane), so the result
 * transforms like an ordinary image, `pool(g·f) = g·pool(f)`, and is invariant after a
 * spatially invariant reduction. P4Pool and P4mPool are this with their group fixed.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Group, groupNamed } from "./group.ts";

/** Config of a group pool. */
export interface GroupPoolArgs {
  /** Reduction over the group axis (default "max"). */
  mode?: "max" | "mean";
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/**
 * Max or mean over the last |G| slots of each channel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const pool = new GroupPool({ group: "p4m", mode: "max" });
 * const y = pool.apply(tf.zeros([1, 8, 8, 16])) as tf.Tensor; // [1, 8, 8, 2]
 * ```
 */
export class GroupPool extends tf.layers.Layer {
  static className = "GroupPool";
  readonly mode: "max" | "mean";
  readonly group: Group;
  /** |G|: the slots reduced per channel. */
  readonly groupSize: number;

  /** `fixed`: the subclass's class names the group, so its config does not. */
  constructor(args: GroupPoolArgs & { group: string }, protected readonly fixed = false) {
    super(args);
    this.group = groupNamed(args.group);
    this.groupSize = this.group.order;
    this.mode = args.mode ?? "max";
    if (this.mode !== "max" && this.mode !== "mean") {
      throw new RangeError(
        `${this.getClassName()} mode must be "max" or "mean", got "${args.mode}"`,
      );
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
    return {
      ...super.getConfig(),
      mode: this.mode,
      ...(this.fixed ? {} : { group: this.group.name }),
    };
  }
}
