/**
 * Group convolution P4 -> P4 (Cohen & Welling 2016, eq. 11): {@linkcode GroupConv2D} of p4.
 *
 * Learned kernel `w` of shape [k, k, Cin, 4, Cout], axis 3 the input rotation s. For output
 * rotation r the filter is turned by r and its input-rotation axis rolled by r:
 * `ψ_r(q, c, s) = w(R⁻ʳ q, c, s − r)`; the four banks form one ordinary conv2d filter
 * [k, k, Cin·4, Cout·4] (channel-major, rotation-minor on both sides). Then
 * `Φ(g·f) = g·Φ(f)` with `(g·f)(p, r) = f(g⁻¹p, r − g)`.
 *
 * Input [N, H, W, Cin·4] -> output [N, H', W', Cout·4]. See conv_geometry.ts for which sizes
 * stay exactly equivariant with stride > 1.
 *
 * @module
 */
import type { ConvArgs } from "./conv_base.ts";
import { GroupConv2D } from "./group_conv.ts";

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const conv = new P4Conv2D({ filters: 8 });
 * const y = conv.apply(tf.zeros([1, 16, 16, 4 * 4])) as tf.Tensor; // [1, 16, 16, 32]
 * ```
 */
export class P4Conv2D extends GroupConv2D {
  static override className = "P4Conv2D";

  constructor(args: ConvArgs) {
    super({ ...args, group: "p4" }, true);
  }
}
