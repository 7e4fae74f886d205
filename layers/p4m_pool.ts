/**
 * Group pooling for p4m: reduce the element axis of a p4m map, [N, H, W, C·8] -> [N, H, W, C].
 * The p4m action permutes the eight elements of each channel (besides transforming the
 * plane), so `pool(g·f) = d4Image(pool(f), g)`: the result transforms like an ordinary image
 * and is invariant after a spatially invariant reduction.
 *
 * @module
 */
import { GroupPool, type GroupPoolArgs } from "./group_pool.ts";

/** Config of {@linkcode P4mPool}. */
export type P4mPoolArgs = GroupPoolArgs;

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const pool = new P4mPool({ mode: "max" });
 * const y = pool.apply(tf.zeros([1, 8, 8, 16])) as tf.Tensor; // [1, 8, 8, 2]
 * ```
 */
export class P4mPool extends GroupPool {
  static override className = "P4mPool";

  constructor(args: P4mPoolArgs = {}) {
    super({ ...args, group: "p4m" }, true);
  }
}
