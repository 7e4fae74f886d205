/**
 * Batch norm for scale maps [N, H, W, C·S·R] (channel (c·S + i)·R + r): one mean, variance,
 * γ and β per channel c, shared by its S scales and R rotations. Rescaling the input moves
 * values between the scales of one channel, so shared statistics commute with it (per-scale
 * statistics would not); with R = 4 they also commute with the P4 action.
 *
 * This is {@linkcode BatchNorm} with group size S·R, set from the config.
 *
 * @module
 */
import { BatchNorm, type BatchNormArgs } from "./batch_norm.ts";
import type * as tf from "@tensorflow/tfjs";

/** Config of {@linkcode ScaleBatchNorm}. */
export interface ScaleBatchNormArgs extends BatchNormArgs {
  /** Scales S per channel. */
  scales: number;
  /** Rotations R per scale (1, or 4 for rotscale maps); default 1. */
  rotations?: number;
}

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const bn = new ScaleBatchNorm({ scales: 3 });
 * const y = bn.apply(tf.randomNormal([8, 4, 4, 12]), { training: true }) as tf.Tensor;
 * ```
 */
export class ScaleBatchNorm extends BatchNorm {
  static override className = "ScaleBatchNorm";
  readonly scales: number;
  readonly rotations: number;
  protected override readonly groupSize: number;

  constructor(args: ScaleBatchNormArgs) {
    super(args);
    this.scales = args.scales;
    this.rotations = args.rotations ?? 1;
    for (const [name, v] of [["scales", this.scales], ["rotations", this.rotations]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`ScaleBatchNorm ${name} must be a positive integer, got ${v}`);
      }
    }
    this.groupSize = this.scales * this.rotations;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scales: this.scales, rotations: this.rotations };
  }
}
