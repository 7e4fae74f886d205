/**
 * Spatial pyramid pooling on p4m maps whose output is exactly invariant to all eight
 * turns and mirrors of the network input, at every level.
 *
 * Per level L the map [N, H, W, C·8] is pooled into bins F(b, c, h) (b in the L×L grid, h the
 * D4 element). Bin edges are mirror-symmetric (pyramid_bins.ts), so transforming the input by
 * g permutes the bins exactly: F'(b, h) = F(g⁻¹b, g⁻¹h). Pair each bin with the element axis
 * and reduce over the group:
 *
 *   M(b, c) = reduce_g F(g·b, c, g),   g ∈ D4
 *
 * Then M'(b) = reduce_g F(g⁻¹g·b, g⁻¹g) = M(b): invariant (the reduction runs over the same
 * eight values in another order). Why this keeps everything the P4 layer keeps: D4 acts freely
 * on the element axis, so every orbit of (bin, element) pairs has exactly one member with
 * h = identity; M on (b, identity) for all L² bins is the orbit function on one representative
 * per orbit — L² values per channel per reduction, as plain SPP on a pooled map. `reduce` "max",
 * "mean", or "max+mean" (both, concatenated).
 *
 * Input [N, H, W, C·8] -> output [N, C·Σ L²·(1 or 2)], level by level, bin-row-major,
 * channel-minor.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { D4_ORDER, d4Inverse, d4Plane } from "./group.ts";
import { GroupPyramidPool, type GroupPyramidPoolArgs } from "./group_pyramid_pool.ts";
import { pyramidLevel } from "./pyramid_bins.ts";

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
export class P4mSpatialPyramidPool extends GroupPyramidPool {
  static className = "P4mSpatialPyramidPool";

  constructor(args: P4mSpatialPyramidPoolArgs = {}) {
    super(args, D4_ORDER);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [n, , , c8] = x.shape;
      if (c8 % 8 !== 0) {
        throw new RangeError(
          `P4mSpatialPyramidPool expects a p4m map with C·8 channels, got ${c8} channels`,
        );
      }
      const reductions = this.reductions;
      const parts = new Map(reductions.map((r) => [r, [] as tf.Tensor[]]));
      for (const level of this.levels) {
        const f = pyramidLevel(x, level, this.mode); // [N, L, L, C·8]
        // Column g: F(g·b, c, g). F(g·b) over b is the bin grid transformed by g⁻¹; element g
        // is picked by a product with a one-hot column (rank-2 ops: see P4 SPP on webgpu).
        const columns = Array.from({ length: D4_ORDER }, (_, g) => {
          const moved = d4Plane(f, d4Inverse(g), 1).reshape([-1, 8]);
          return moved.matMul(tf.oneHot([g], 8).reshape([8, 1]).toFloat());
        });
        const orbit = tf.concat(columns, 1); // [N·L·L·C, 8]
        for (const reduction of reductions) {
          const m = reduction === "max" ? orbit.max(1) : orbit.mean(1);
          parts.get(reduction)!.push(m.reshape([n, -1]));
        }
      }
      const ordered = reductions.flatMap((r) => parts.get(r)!);
      return ordered.length === 1 ? ordered[0] : tf.concat(ordered, 1);
    });
  }
}
