/**
 * Spatial pyramid pooling (He et al. 2015, SPP-net): pool the map into L×L bins for each level
 * L and concatenate, so inputs of any size ≥ the largest level give one fixed-length vector.
 * Bin edges are mirror-symmetric (see pyramid_bins.ts), so a 90° turn of the input permutes
 * the bins exactly; the vector itself is NOT rotation-invariant for L ≥ 2 (use
 * {@linkcode P4SpatialPyramidPool} for that).
 *
 * Input [N, H, W, C] -> output [N, C·Σ L²], level by level, each level bin-row-major,
 * channel-minor: index `offset(L) + (i·L + j)·C + c`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkLevels, pyramidLevel } from "./pyramid_bins.ts";

/** Config of {@linkcode SpatialPyramidPool}. */
export interface SpatialPyramidPoolArgs {
  /** Pyramid levels (default [1, 2, 4]). */
  levels?: number[];
  /** Pooling inside each bin (default "max", as SPP-net). */
  mode?: "max" | "mean";
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const spp = new SpatialPyramidPool({ levels: [1, 2, 4] });
 * const v = spp.apply(tf.zeros([2, 13, 9, 8])) as tf.Tensor; // [2, 8 * 21]
 * ```
 */
export class SpatialPyramidPool extends tf.layers.Layer {
  static className = "SpatialPyramidPool";
  readonly levels: number[];
  readonly mode: "max" | "mean";

  constructor(args: SpatialPyramidPoolArgs = {}) {
    super(args);
    this.levels = checkLevels(args.levels ?? [1, 2, 4]);
    this.mode = args.mode ?? "max";
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = inputShape as tf.Shape;
    const c = shape[3] as number;
    return [shape[0], c * this.levels.reduce((s, l) => s + l * l, 0)];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const n = x.shape[0];
      const parts = this.levels.map((l) => pyramidLevel(x, l, this.mode).reshape([n, -1]));
      return parts.length === 1 ? parts[0] : tf.concat(parts, 1);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), levels: this.levels, mode: this.mode };
  }
}
