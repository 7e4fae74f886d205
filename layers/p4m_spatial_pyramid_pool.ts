/**
 * Spatial pyramid pooling on p4m maps whose output is exactly invariant to all eight
 * turns and mirrors of the network input, at every level: {@linkcode GroupSpatialPyramidPool}
 * of p4m (group_pyramid_pool.ts has the derivation). Per level L it reduces each bin b over
 * the group, `M(b, c) = reduce_g F(g·b, c, g)`, g ∈ D4.
 *
 * Input [N, H, W, C·8] -> output [N, C·Σ L²·(1 or 2)], level by level, bin-row-major,
 * channel-minor.
 *
 * @module
 */
import { type GroupPyramidPoolArgs, GroupSpatialPyramidPool } from "./group_pyramid_pool.ts";

/** Config of {@linkcode P4mSpatialPyramidPool}. */
export type P4mSpatialPyramidPoolArgs = GroupPyramidPoolArgs;

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const spp = new P4mSpatialPyramidPool({ levels: [1, 2, 4] });
 * const v = spp.apply(tf.zeros([2, 8, 8, 16])) as tf.Tensor; // [2, 2 * 21]
 * ```
 */
export class P4mSpatialPyramidPool extends GroupSpatialPyramidPool {
  static override className = "P4mSpatialPyramidPool";

  constructor(args: P4mSpatialPyramidPoolArgs = {}) {
    super({ ...args, group: "p4m" }, true);
  }
}
