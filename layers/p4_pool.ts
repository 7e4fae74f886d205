/**
 * Group pooling: reduce the rotation axis of a P4 map, [N, H, W, C·4] -> [N, H, W, C].
 * Since the P4 action only rolls that axis (besides turning the plane), the result transforms
 * like an ordinary image: `pool(g·f) = rot(pool(f), g)`, and after a spatially invariant
 * reduction it is invariant.
 *
 * @module
 */
import { GroupPool, type GroupPoolArgs } from "./group_pool.ts";

/** Config of {@linkcode P4Pool}. */
export type P4PoolArgs = GroupPoolArgs;

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const pool = new P4Pool({ mode: "max" });
 * const y = pool.apply(tf.zeros([1, 8, 8, 16])) as tf.Tensor; // [1, 8, 8, 4]
 * ```
 */
export class P4Pool extends GroupPool {
  static override className = "P4Pool";

  constructor(args: P4PoolArgs = {}) {
    super({ ...args, group: "p4" }, true);
  }
}
