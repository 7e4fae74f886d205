/**
 * Group convolution p4m -> p4m (Cohen & Welling 2016, eq. 11 with G = p4m).
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
import * as tf from "@tensorflow/tfjs";
import { p4mFilterBank } from "./group.ts";
import { type ConvArgs, ConvBase } from "./conv_base.ts";

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const conv = new P4mConv2D({ filters: 4 });
 * const y = conv.apply(tf.zeros([1, 16, 16, 2 * 8])) as tf.Tensor; // [1, 16, 16, 32]
 * ```
 */
export class P4mConv2D extends ConvBase {
  static className = "P4mConv2D";
  protected readonly order = 8;

  constructor(args: ConvArgs) {
    super(args);
  }

  protected kernelShape(c8: number): number[] {
    if (c8 % 8 !== 0) {
      throw new RangeError(`P4mConv2D expects a p4m map with C·8 channels, got ${c8} channels`);
    }
    return [this.kernelSize, this.kernelSize, c8 / 8, 8, this.filters];
  }

  protected filterBank(kernel: tf.Tensor): tf.Tensor4D {
    return p4mFilterBank(kernel as tf.Tensor5D);
  }
}
