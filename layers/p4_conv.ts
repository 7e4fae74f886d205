/**
 * Group convolution P4 -> P4 (Cohen & Welling 2016, eq. 11).
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
import * as tf from "@tensorflow/tfjs";
import { p4FilterBank } from "./group.ts";
import { type ConvArgs, ConvBase } from "./conv_base.ts";

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const conv = new P4Conv2D({ filters: 8 });
 * const y = conv.apply(tf.zeros([1, 16, 16, 4 * 4])) as tf.Tensor; // [1, 16, 16, 32]
 * ```
 */
export class P4Conv2D extends ConvBase {
  static className = "P4Conv2D";
  protected readonly order = 4;

  constructor(args: ConvArgs) {
    super(args);
  }

  protected kernelShape(c4: number): number[] {
    if (c4 % 4 !== 0) {
      throw new RangeError(`P4Conv2D expects a P4 map with C·4 channels, got ${c4} channels`);
    }
    return [this.kernelSize, this.kernelSize, c4 / 4, 4, this.filters];
  }

  protected filterBank(kernel: tf.Tensor): tf.Tensor4D {
    return p4FilterBank(kernel as tf.Tensor5D);
  }
}
