/**
 * The shared part of the invariant pyramid pools, {@linkcode P4SpatialPyramidPool} (4
 * rotations) and P4mSpatialPyramidPool (8 turns and mirrors): their options, checks, output
 * shape and config. Each subclass pairs the bins of a level with the group axis its own way
 * (docs/design.md "Spatial pyramid pooling"); both return L² values per channel per level and
 * per reduction, so the output is [N, C·Σ L²·(1 or 2)] for an input [N, H, W, C·G].
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkLevels } from "./pyramid_bins.ts";

/** Reductions over each orbit of (bin, group element) pairs. */
export type OrbitReduce = "max" | "mean" | "max+mean";

/** Config of a group pyramid pool. */
export interface GroupPyramidPoolArgs {
  /** Pyramid levels (default [1, 2, 4]). */
  levels?: number[];
  /** Pooling inside each bin (default "max"). */
  mode?: "max" | "mean";
  /** Reduction over each orbit (default "max"); "max+mean" concatenates both. */
  reduce?: OrbitReduce;
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/** Levels, bin pooling and orbit reduction of a pool over a group of `groupSize` elements. */
export abstract class GroupPyramidPool extends tf.layers.Layer {
  readonly levels: number[];
  readonly mode: "max" | "mean";
  readonly reduce: OrbitReduce;

  protected constructor(args: GroupPyramidPoolArgs, readonly groupSize: number) {
    super(args);
    this.levels = checkLevels(args.levels ?? [1, 2, 4]);
    this.mode = args.mode ?? "max";
    this.reduce = args.reduce ?? "max";
    if (!["max", "mean", "max+mean"].includes(this.reduce)) {
      throw new RangeError(`reduce must be "max", "mean" or "max+mean", got "${args.reduce}"`);
    }
  }

  /** The reductions run, in output order: all levels of "max", then all levels of "mean". */
  protected get reductions(): ("max" | "mean")[] {
    return this.reduce === "max+mean" ? ["max", "mean"] : [this.reduce];
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = inputShape as tf.Shape;
    const c = (shape[3] as number) / this.groupSize;
    const bins = this.levels.reduce((s, l) => s + l * l, 0);
    return [shape[0], c * bins * this.reductions.length];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), levels: this.levels, mode: this.mode, reduce: this.reduce };
  }
}
