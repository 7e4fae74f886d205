/**
 * Spatial pyramid pooling on P4 maps whose output is exactly invariant to 90° turns of the
 * network input, at every level.
 *
 * Per level L the map [N, H, W, C·4] is pooled into bins F(b, c, s) (b in the L×L grid,
 * s the rotation). A turn h of the input acts as F'(b, s) = F(h⁻¹b, s − h) (the bins are
 * permuted exactly, see pyramid_bins.ts). Pair each bin of an orbit with the rotation axis:
 *
 *   M(b, c, s) = reduce_g F(g·b, c, s + g),   g ∈ {0, 1, 2, 3}
 *
 * Then M'(b, s) = M(b, s) — invariant — and M(h·b, s) = M(b, s − h), so M is kept only on one
 * bin per orbit (the top-left quadrant for even L; a "pinwheel" block of h×(h+1) bins plus
 * the centre, with h = (L−1)/2, for odd L), giving L² values per channel per reduction, the
 * same length as plain SPP on the rotation-pooled map but keeping how the four rotations of a
 * feature sit relative to each bin. `reduce` "max", "mean", or "max+mean" (both, concatenated:
 * 2·C·Σ L² values).
 *
 * Input [N, H, W, C·4] -> output [N, C·Σ L²·(1 or 2)].
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { P4, rollLast } from "./group.ts";
import { GroupPyramidPool, type GroupPyramidPoolArgs } from "./group_pyramid_pool.ts";
import { pyramidLevel } from "./pyramid_bins.ts";

export type { OrbitReduce } from "./group_pyramid_pool.ts";

/** Config of {@linkcode P4SpatialPyramidPool}. */
export type P4SpatialPyramidPoolArgs = GroupPyramidPoolArgs;

/**
 * Keeps one bin per orbit of M [N, L, L, C, 4] -> [N, L²·C]. Slices run on rank-4 views
 * (webgpu's gradient of a rank-5 slice is wrong in tfjs 4.22, found by tests/backends_test.ts).
 */
function orbitRepresentatives(m: tf.Tensor, level: number): tf.Tensor {
  const [n, , , c] = m.shape;
  const m4 = m.reshape([n, level, level, c * 4]);
  if (level % 2 === 0) {
    const q = level / 2;
    return m4.slice([0, 0, 0, 0], [n, q, q, c * 4]).reshape([n, -1]);
  }
  const h = (level - 1) / 2;
  // The centre bin is fixed by every turn, so M(centre, s) is the same for all s: keep s = 0.
  const centre = m4.slice([0, h, h, 0], [n, 1, 1, c * 4]).reshape([n, c, 4])
    .slice([0, 0, 0], [n, c, 1]).reshape([n, c]);
  if (h === 0) return centre;
  const block = m4.slice([0, 0, 0, 0], [n, h, h + 1, c * 4]).reshape([n, -1]);
  return tf.concat([block, centre], 1);
}

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const spp = new P4SpatialPyramidPool({ levels: [1, 2, 4] });
 * const v = spp.apply(tf.zeros([2, 8, 8, 16])) as tf.Tensor; // [2, 4 * 21]
 * ```
 */
export class P4SpatialPyramidPool extends GroupPyramidPool {
  static className = "P4SpatialPyramidPool";

  constructor(args: P4SpatialPyramidPoolArgs = {}) {
    super(args, P4);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [n, , , c4] = x.shape;
      const parts: tf.Tensor[] = [];
      for (const reduction of this.reductions) {
        for (const level of this.levels) {
          const f = pyramidLevel(x, level, this.mode); // [N, L, L, C·4]
          // G_g(b, s) = F(g·b, s + g): turn the bin grid by −g, roll the rotations by −g.
          // (Turned as a rank-4 tensor: webgpu's Reverse fails on rank 5 in tfjs 4.22.)
          const split = (t: tf.Tensor) => t.reshape([n, level, level, c4 / 4, 4]);
          const orbit = tf.stack([0, 1, 2, 3].map((g) => rollLast(split(P4.plane(f, -g, 1)), -g)));
          const m = reduction === "max" ? orbit.max(0) : orbit.mean(0);
          parts.push(orbitRepresentatives(m, level));
        }
      }
      return parts.length === 1 ? parts[0] : tf.concat(parts, 1);
    });
  }
}
