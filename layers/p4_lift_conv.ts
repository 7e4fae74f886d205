/**
 * Lifting convolution Z2 -> P4 (Cohen & Welling 2016, eq. 10): {@linkcode GroupLiftConv2D} of
 * p4.
 *
 * One learned filter bank `w` of shape [k, k, Cin, Cout] is applied in its four rotations:
 * output channel `o·4 + r` is `[x ⋆ rot(w, r)](p) = Σ_q x(p + q) · w(R⁻ʳ q)`. Turning the
 * input by g turns every output plane by g and moves rotation r to r + g, i.e.
 * `Φ(g·x) = g·Φ(x)` with the P4 action `(g·f)(p, r) = f(g⁻¹p, r − g)` of docs/design.md.
 *
 * Input [N, H, W, Cin] -> output [N, H', W', Cout·4].
 *
 * @module
 */
import type { ConvArgs } from "./conv_base.ts";
import { GroupLiftConv2D } from "./group_conv.ts";

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const lift = new P4LiftConv2D({ filters: 8 });
 * const y = lift.apply(tf.zeros([1, 32, 32, 3])) as tf.Tensor; // [1, 32, 32, 32]
 * ```
 */
export class P4LiftConv2D extends GroupLiftConv2D {
  static override className = "P4LiftConv2D";

  constructor(args: ConvArgs) {
    super({ ...args, group: "p4" }, true);
  }
}
