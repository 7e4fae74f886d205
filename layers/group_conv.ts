/**
 * The lifting and group convolutions of any registered group (layers/group.ts), Cohen &
 * Welling 2016 eq. 10–11: "transform the filter bank, then one ordinary conv2d".
 *
 * - {@linkcode GroupLiftConv2D} (Z² -> G): one learned kernel [k, k, Cin, Cout] applied moved by
 *   each element: output channel `o·|G| + e` is `[x ⋆ L_e w](p)`, `L_e w = group.plane(w, e)`.
 *   Moving the input by g moves every output plane by g and element h to g·h, i.e.
 *   `Φ(g·x) = g·Φ(x)` with `(g·f)(p, h) = f(g⁻¹p, g⁻¹h)`.
 * - {@linkcode GroupConv2D} (G -> G): learned kernel [k, k, Cin, |G|, Cout], axis 3 the input
 *   element j; for output element e the filter is moved by e and its element axis permuted,
 *   `ψ_e(q, c, j) = w(e⁻¹q, c, e⁻¹j)`; the |G| banks form one conv2d filter
 *   [k, k, Cin·|G|, Cout·|G|], channel-major, element-minor on both sides.
 *
 * Each names its group in its config; P4LiftConv2D, P4Conv2D, P4mLiftConv2D and P4mConv2D are
 * these with the group fixed by their class (their saved configs carry no group). Exact for the
 * sizes of conv_geometry.ts: a mirror maps a grid onto itself exactly when a half turn does.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { type Group, groupBank, groupNamed, liftBank } from "./group.ts";
import { type ConvArgs, ConvBase } from "./conv_base.ts";

/** Config of the group convolutions: {@linkcode ConvArgs} and the group's registry name. */
export interface GroupConvArgs extends ConvArgs {
  group: string;
}

/** What both share: the group (by name in the config, unless a subclass fixes it) and |G|. */
abstract class GroupConvBase extends ConvBase {
  readonly group: Group;
  protected readonly order: number;

  /** `fixed`: the subclass's class names the group, so its config does not. */
  constructor(args: GroupConvArgs, protected readonly fixed = false) {
    super(args);
    this.group = groupNamed(args.group);
    this.order = this.group.order;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...(this.fixed ? {} : { group: this.group.name }) };
  }
}

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const lift = new GroupLiftConv2D({ group: "p4m", filters: 4 });
 * const y = lift.apply(tf.zeros([1, 16, 16, 3])) as tf.Tensor; // [1, 16, 16, 32]
 * ```
 */
export class GroupLiftConv2D extends GroupConvBase {
  static className = "GroupLiftConv2D";

  protected kernelShape(cin: number): number[] {
    return [this.kernelSize, this.kernelSize, cin, this.filters];
  }

  protected filterBank(kernel: tf.Tensor): tf.Tensor4D {
    return liftBank(this.group, kernel as tf.Tensor4D);
  }
}

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const conv = new GroupConv2D({ group: "p4", filters: 8 });
 * const y = conv.apply(tf.zeros([1, 16, 16, 4 * 4])) as tf.Tensor; // [1, 16, 16, 32]
 * ```
 */
export class GroupConv2D extends GroupConvBase {
  static className = "GroupConv2D";

  protected kernelShape(channels: number): number[] {
    const g = this.order;
    if (channels % g !== 0) {
      throw new RangeError(
        `${this.getClassName()} expects a ${this.group.name} map with C·${g} channels, got ${channels} channels`,
      );
    }
    return [this.kernelSize, this.kernelSize, channels / g, g, this.filters];
  }

  protected filterBank(kernel: tf.Tensor): tf.Tensor4D {
    return groupBank(this.group, kernel as tf.Tensor5D);
  }
}
