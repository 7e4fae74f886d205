/**
 * Lifting convolution Z² -> p4m (Cohen & Welling 2016, eq. 10 with G = p4m):
 * {@linkcode GroupLiftConv2D} of p4m.
 *
 * One learned filter bank `w` of shape [k, k, Cin, Cout] is applied in its eight D4
 * transforms: output channel `o·8 + e`, e = 4·m + r, is `[x ⋆ L_e w](p)` with
 * `L_e w = P4M.plane(w, e)` (turned by r·90°, then mirrored left-right if m = 1). Transforming
 * the input by g transforms every output plane by g and moves element h to g·h, i.e.
 * `Φ(g·x) = g·Φ(x)` with the p4m action `(g·f)(p, h) = f(g⁻¹p, g⁻¹h)` (layers/groups/p4m.ts).
 *
 * Input [N, H, W, Cin] -> output [N, H', W', Cout·8]. Exact for the same sizes as the P4
 * layers (conv_geometry.ts): a mirror maps a grid onto itself exactly when a half turn does.
 *
 * @module
 */
import type { ConvArgs } from "./conv_base.ts";
import { GroupLiftConv2D } from "./group_conv.ts";

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const lift = new P4mLiftConv2D({ filters: 4 });
 * const y = lift.apply(tf.zeros([1, 32, 32, 3])) as tf.Tensor; // [1, 32, 32, 32]
 * ```
 */
export class P4mLiftConv2D extends GroupLiftConv2D {
  static override className = "P4mLiftConv2D";

  constructor(args: ConvArgs) {
    super({ ...args, group: "p4m" }, true);
  }
}
