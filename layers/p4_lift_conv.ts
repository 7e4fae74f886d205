/**
 * Lifting convolution Z2 -> P4 (Cohen & Welling 2016, eq. 10).
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
import * as tf from "@tensorflow/tfjs";
import { liftFilterBank } from "./group.ts";
import { type ConvArgs, ConvBase } from "./conv_base.ts";

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const lift = new P4LiftConv2D({ filters: 8 });
 * const y = lift.apply(tf.zeros([1, 32, 32, 3])) as tf.Tensor; // [1, 32, 32, 32]
 * ```
 */
export class P4LiftConv2D extends ConvBase {
  static className = "P4LiftConv2D";
  protected readonly order = 4;

  constructor(args: ConvArgs) {
    super(args);
  }

  protected kernelShape(cin: number): number[] {
    return [this.kernelSize, this.kernelSize, cin, this.filters];
  }

  protected filterBank(kernel: tf.Tensor): tf.Tensor4D {
    return liftFilterBank(kernel as tf.Tensor4D);
  }
}
