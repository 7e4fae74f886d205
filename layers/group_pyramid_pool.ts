/**
 * The invariant pyramid pools: {@linkcode GroupPyramidPool}, what they share (options, checks,
 * output shape, config), and {@linkcode GroupSpatialPyramidPool}, the pool of any registered
 * group that reduces each bin over the group (P4mSpatialPyramidPool is it for p4m;
 * P4SpatialPyramidPool pairs p4's bins with the rotation axis its own way). Both return L²
 * values per channel per level and per reduction, so the output is [N, C·Σ L²·(1 or 2)] for
 * an input [N, H, W, C·|G|] (docs/design.md "Spatial pyramid pooling").
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type Group, groupNamed } from "./group.ts";
import { checkLevels, pyramidLevel } from "./pyramid_bins.ts";

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

/** Levels, bin pooling and orbit reduction of a pool over `group`. */
export abstract class GroupPyramidPool extends tf.layers.Layer {
  readonly levels: number[];
  readonly mode: "max" | "mean";
  readonly reduce: OrbitReduce;
  /** |G|: the elements of each channel. */
  readonly groupSize: number;

  protected constructor(args: GroupPyramidPoolArgs, readonly group: Group) {
    super(args);
    this.groupSize = group.order;
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

/**
 * Spatial pyramid pooling on G-maps whose output is exactly invariant to every element of the
 * group acting on the network input, at every level.
 *
 * Per level L the map [N, H, W, C·|G|] is pooled into bins F(b, c, h) (b in the L×L grid, h
 * the element). Bin edges are mirror-symmetric (pyramid_bins.ts), so moving the input by g
 * permutes the bins exactly: F'(b, h) = F(g⁻¹b, g⁻¹h). Pair each bin with the element axis and
 * reduce over the group:
 *
 *   M(b, c) = reduce_g F(g·b, c, g),   g ∈ G
 *
 * Then M'(b) = reduce_g F(g⁻¹g·b, g⁻¹g) = M(b): invariant (the reduction runs over the same
 * |G| values in another order). Why this keeps everything: G acts freely on the element axis,
 * so every orbit of (bin, element) pairs has exactly one member with h = identity; M on
 * (b, identity) for all L² bins is the orbit function on one representative per orbit — L²
 * values per channel per reduction, as plain SPP on a pooled map. `reduce` "max", "mean", or
 * "max+mean" (both, concatenated).
 *
 * Input [N, H, W, C·|G|] -> output [N, C·Σ L²·(1 or 2)], level by level, bin-row-major,
 * channel-minor. The config names the group; P4mSpatialPyramidPool fixes it to p4m.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const spp = new GroupSpatialPyramidPool({ group: "p4m", levels: [1, 2, 4] });
 * const v = spp.apply(tf.zeros([2, 8, 8, 16])) as tf.Tensor; // [2, 2 * 21]
 * ```
 */
export class GroupSpatialPyramidPool extends GroupPyramidPool {
  static className = "GroupSpatialPyramidPool";

  /** `fixed`: the subclass's class names the group, so its config does not. */
  constructor(
    args: GroupPyramidPoolArgs & { group: string },
    protected readonly fixed = false,
  ) {
    super(args, groupNamed(args.group));
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [n, , , channels] = x.shape;
      const { group, groupSize: order } = this;
      if (channels % order !== 0) {
        throw new RangeError(
          `${this.getClassName()} expects a ${group.name} map with C·${order} channels, got ${channels} channels`,
        );
      }
      const reductions = this.reductions;
      const parts = new Map(reductions.map((r) => [r, [] as tf.Tensor[]]));
      for (const level of this.levels) {
        const f = pyramidLevel(x, level, this.mode); // [N, L, L, C·|G|]
        // Column g: F(g·b, c, g). F(g·b) over b is the bin grid moved by g⁻¹; element g is
        // picked by a product with a one-hot column (rank-2 ops: see P4 SPP on webgpu).
        const columns = Array.from({ length: order }, (_, g) => {
          const moved = group.plane(f, group.inverse(g), 1).reshape([-1, order]);
          const pick = new Float32Array(order);
          pick[g] = 1; // (tf.oneHot wants a depth ≥ 2; Z2 has one element)
          return moved.matMul(tf.tensor2d(pick, [order, 1]));
        });
        const orbit = tf.concat(columns, 1); // [N·L·L·C, |G|]
        for (const reduction of reductions) {
          const m = reduction === "max" ? orbit.max(1) : orbit.mean(1);
          parts.get(reduction)!.push(m.reshape([n, -1]));
        }
      }
      const ordered = reductions.flatMap((r) => parts.get(r)!);
      return ordered.length === 1 ? ordered[0] : tf.concat(ordered, 1);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...(this.fixed ? {} : { group: this.group.name }) };
  }
}
