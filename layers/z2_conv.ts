/**
 * Ordinary convolution Z² -> Z² (the baseline's layers): equivariant to translations only.
 *
 * The same layer as tfjs-layers' `conv2d` (kernel [k, k, Cin, filters], He-normal init,
 * optional bias), built on {@linkcode ConvBase} so that the baseline and the symmetric model
 * run their convolutions through one code path: same padding rule, same `tf.conv2d` and its
 * per-input gradient (see conv_base.ts for why that matters for speed).
 *
 * Input [N, H, W, Cin] -> output [N, H', W', filters].
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { type ConvArgs, ConvBase } from "./conv_base.ts";

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const conv = new Z2Conv2D({ filters: 8 });
 * const y = conv.apply(tf.zeros([1, 32, 32, 3])) as tf.Tensor; // [1, 32, 32, 8]
 * ```
 */
export class Z2Conv2D extends ConvBase {
  static className = "Z2Conv2D";
  protected readonly order = 1;

  constructor(args: ConvArgs) {
    super(args);
  }

  protected kernelShape(cin: number): number[] {
    return [this.kernelSize, this.kernelSize, cin, this.filters];
  }

  protected filterBank(kernel: tf.Tensor): tf.Tensor4D {
    return kernel as tf.Tensor4D;
  }
}
