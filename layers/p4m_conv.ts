/**
 * Group convolution p4m -> p4m (Cohen & Welling 2016, eq. 11 with G = p4m):
 * {@linkcode GroupConv2D} of p4m.
 *
 * Learned kernel `w` of shape [k, k, Cin, 8, Cout], axis 3 the input element j. For output
 * element e the filter is transformed spatially by e and its element axis permuted:
 * `ψ_e(q, c, s) = w(e⁻¹q, c, e⁻¹s)` (slot e·j of the bank holds w[..., j, ...]); the eight
 * banks form one ordinary conv2d filter [k, k, Cin·8, Cout·8], channel-major, element-minor on
 * both sides. Then `Φ(g·f) = g·Φ(f)` with `(g·f)(p, h) = f(g⁻¹p, g⁻¹h)`.
 *
 * Input [N, H, W, Cin·8] -> output [N, H', W', Cout·8].
 *
 * @module
 */
import type { ConvArgs } from "./conv_base.ts";
import { GroupConv2D } from "./group_conv.ts";

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const conv = new P4mConv2D({ filters: 4 });
 * const y = conv.apply(tf.zeros([1, 16, 16, 2 * 8])) as tf.Tensor; // [1, 16, 16, 32]
 * ```
 */
export class P4mConv2D extends GroupConv2D {
  static override className = "P4mConv2D";

  constructor(args: ConvArgs) {
    super({ ...args, group: "p4m" }, true);
  }
}
