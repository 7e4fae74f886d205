/**
 * Scale-to-scale convolution (SESN's `SESConv_H_H`, Sosnovik et al. 2020, §5): a window of
 * neighbouring scales.
 *
 * Learned coefficients `w` [F, W, Cin, Cout] (or [F, W, Cin, 4, Cout] with rotations) for a
 * window of W scales. Output scale i reads input scales i … i + W − 1 (fewer at the top of
 * the range, where SESN zero-pads) with the kernel at σ_i:
 *
 *   y_i = Σ_{j < W, i + j < S} x_{i+j} ⋆ κ_{i,j},   κ_{i,j} = Σ_f w[f, j] ψ_{σ_i, f}
 *
 * so shifting the input's scales by t shifts the output's by t (away from the range ends).
 * All S·W kernels come from one matmul; then one conv2d per output scale over its window
 * (tfjs has no grouped conv, which is how SESN runs all scales at once; one conv per scale
 * computes no zero blocks, unlike a single block-banded conv2d, S/W times larger).
 *
 * With `rotations: 4` each κ_{i,j} is a P4 group filter (turned by r, its rotation axis rolled
 * by r, one gather for all scales): exactly P4-equivariant too.
 *
 * Input [N, H, W, Cin·S·R] -> output [N, H', W', Cout·S·R], channel (c·S + i)·R + r.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { groupBank, P4 } from "./group.ts";
import { hermiteBasis, SCALE_DEFAULTS, type ScaleBasis } from "./scale_basis.ts";
import { ConvBase } from "./conv_base.ts";
import { padArg } from "./conv_geometry.ts";
import { type ScaleConvArgs, scaleFields, scaleKernelsByScale } from "./scale_lift_conv.ts";

/** Config of {@linkcode ScaleConv2D}. */
export interface ScaleConv2DArgs extends ScaleConvArgs {
  /** Neighbouring input scales each output scale reads (default 2). */
  window?: number;
}

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const conv = new ScaleConv2D({ filters: 4 }); // 3 scales, window 2
 * const y = conv.apply(tf.zeros([1, 16, 16, 2 * 3])) as tf.Tensor; // [1, 16, 16, 12]
 * ```
 */
export class ScaleConv2D extends ConvBase {
  static className = "ScaleConv2D";
  readonly sigmas: number[];
  readonly basisOrder: number;
  readonly rotations: 1 | 4;
  readonly window: number;
  protected readonly order: number;
  private readonly basis: ScaleBasis;

  constructor(args: ScaleConv2DArgs) {
    super({ ...args, kernelSize: args.kernelSize ?? SCALE_DEFAULTS.kernelSize });
    const fields = scaleFields(args);
    this.sigmas = fields.sigmas;
    this.basisOrder = fields.basisOrder;
    this.rotations = fields.rotations;
    this.window = args.window ?? SCALE_DEFAULTS.window;
    if (!Number.isInteger(this.window) || this.window < 1 || this.window > this.sigmas.length) {
      throw new RangeError(
        `window must be an integer in 1..${this.sigmas.length} (the scales), got ${args.window}`,
      );
    }
    this.basis = hermiteBasis(this.kernelSize, this.sigmas, this.basisOrder);
    this.order = this.sigmas.length * this.rotations;
  }

  protected kernelShape(channels: number): number[] {
    if (channels % this.order !== 0) {
      throw new RangeError(
        `ScaleConv2D expects C·${this.order} channels (${this.sigmas.length} scales × ${this.rotations} rotations), got ${channels}`,
      );
    }
    const cin = channels / this.order;
    const f = this.basis.size;
    return this.rotations === 4
      ? [f, this.window, cin, 4, this.filters]
      : [f, this.window, cin, this.filters];
  }

  /**
   * All kernels as one conv2d bank [k, k, W·Cin·R, S·Cout·R]: rows (j·Cin + c)·R + s (window
   * offset j), columns (i·Cout + o)·R + r (output scale i): the blocks of
   * {@linkcode scaleBanks} side by side. Output scale i uses the column block i and the rows of
   * the window offsets that exist.
   */
  protected filterBank(kernel: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => tf.concat(this.scaleBanks(kernel), 3) as tf.Tensor4D);
  }

  /**
   * Output scale i's kernels [k, k, W·Cin·R, Cout·R] for i = 0 … S − 1, each its own basis
   * matmul reshaped in place (its rows are already (ky, kx, j, c[, s]) and its columns
   * (o[, r])), turned into a P4 bank by one gather per scale when R = 4. Building the whole
   * [k, k, rows, S·Cout] bank and splitting it again cost two transposes of it (and of their
   * gradients) per layer.
   */
  private scaleBanks(kernel: tf.Tensor): tf.Tensor4D[] {
    const k = this.kernelSize;
    const cout = this.filters;
    const rows = kernel.size / (this.basis.size * cout); // W·Cin·R
    // Per scale [k·k, W·Cin·R·Cout]: reshaped in place, no copy.
    return scaleKernelsByScale(this.basis, kernel).map((ki) =>
      this.rotations === 1
        ? ki.reshape([k, k, rows, cout]) as tf.Tensor4D
        : groupBank(P4, ki.reshape([k, k, rows / 4, 4, cout]) as tf.Tensor5D)
    );
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [n, h, w, channels] = x.shape;
      const s = this.sigmas.length;
      const r = this.rotations;
      const cin = channels / (s * r);
      const cout = this.filters;
      const k = this.kernelSize;
      const banks = this.scaleBanks(this.kernel.read());
      // Scale-major, [S, N·H·W·Cin·R] by one transpose, so that each scale is a contiguous
      // block: slices on inner axes and a concat of the outputs on one (the first version) ran
      // as element loops on wasm, 40% of a training step of the scale model
      // (docs/bench/2026-12-01-models.md); split, concat and stack on axis 0 copy whole blocks
      // and the transposes run in wasm.
      const xs = x.reshape([n * h * w, cin, s, r]).transpose([2, 0, 1, 3]).reshape([
        s,
        n * h * w * cin * r,
      ]);
      const scales = tf.split(xs, s, 0);
      const rows = banks[0].shape[2];
      const pad = padArg(this.padding, k);
      const outputs: tf.Tensor[] = [];
      for (let i = 0; i < s; i++) {
        const span = Math.min(this.window, s - i);
        // Window offsets j = 0 … span − 1 side by side per pixel: [N·H·W, span, Cin·R].
        const xi = span === 1
          ? scales[i]
          : tf.concat(scales.slice(i, i + span), 0).reshape([span, n * h * w, cin * r])
            .transpose([1, 0, 2]);
        let bi = banks[i];
        // Rows of window offsets past the top scale (span < W) are not read.
        if (span * cin * r < rows) bi = bi.slice([0, 0, 0, 0], [k, k, span * cin * r, cout * r]);
        const conv = tf.conv2d(
          xi.reshape([n, h, w, span * cin * r]) as tf.Tensor4D,
          bi as tf.Tensor4D,
          this.strides,
          pad,
        );
        outputs.push(conv);
      }
      const [, ho, wo] = this.computeOutputShape(x.shape) as number[];
      // [S, N·H'·W', Cout, R] -> channel (o·S + i)·R + r.
      let y = tf.stack(outputs).reshape([s, n * ho * wo, cout, r]).transpose([1, 2, 0, 3])
        .reshape([n, ho, wo, cout * s * r]);
      if (this.bias) {
        y = y.add(this.bias.read().reshape([cout, 1]).tile([1, s * r]).reshape([-1]));
      }
      return y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      sigmas: this.sigmas,
      basisOrder: this.basisOrder,
      rotations: this.rotations,
      window: this.window,
    };
  }
}
