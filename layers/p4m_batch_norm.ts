/**
 * Batch norm for p4m maps [N, H, W, C·8]: one mean, variance, γ and β per channel c, shared
 * by its eight D4 elements (indices c·8 + e), statistics over N, H, W and the element axis.
 * The group only moves values between the elements of one channel (and across the plane),
 * so shared statistics commute with it; per-(c·8 + e) statistics would not.
 *
 * This is {@linkcode BatchNorm} with group size 8, as {@linkcode P4BatchNorm} is with 4.
 *
 * @module
 */
import { BatchNorm } from "./batch_norm.ts";
import { P4M } from "./group.ts";

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const bn = new P4mBatchNorm({});
 * const y = bn.apply(tf.randomNormal([8, 4, 4, 16]), { training: true }) as tf.Tensor;
 * ```
 */
export class P4mBatchNorm extends BatchNorm {
  static override className = "P4mBatchNorm";
  protected override readonly groupSize: number = P4M.order;
}
