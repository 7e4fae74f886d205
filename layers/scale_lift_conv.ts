/**
 * Scale-lifting convolution Z² -> scale map (SESN's `SESConv_Z2_H`, Sosnovik et al. 2020, §5).
 *
 * The learned coefficients `w` [F, Cin, Cout] weight a fixed basis ψ_{σ,f} (Hermite × Gaussian,
 * {@linkcode hermiteBasis}) precomputed at S scales σ_i: output scale i is
 * `x ⋆ κ_i` with `κ_i = Σ_f w_f ψ_{σ_i, f}` — one filter applied at every scale. The S kernels
 * come from one matmul (basis [S·k·k, F] × coefficients [F, Cin·Cout]) and run as one conv2d
 * with Cout·S output channels. Since `[Dₛx ⋆ ψ_{sσ}](p) = [x ⋆ ψ_σ](p/s)`, rescaling the
 * input by qᵗ (q = σ_{i+1}/σ_i) moves scale i to i + t and rescales the plane, up to the pixel
 * grid, the cut-off support and the scales leaving the range: approximate, and measured
 * (scripts/equivariance.ts).
 *
 * With `rotations: 4` (the rotscale model) each κ_i is also applied in its four 90° turns
 * (the P4 lifting bank by one gather): the output is exactly P4-equivariant as well.
 *
 * Input [N, H, W, Cin] -> output [N, H', W', Cout·S·R], channel (o·S + i)·R + r.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { liftBank, P4 } from "./group.ts";
import { hermiteBasis, SCALE_DEFAULTS, type ScaleBasis } from "./scale_basis.ts";
import { type ConvArgs, ConvBase } from "./conv_base.ts";

/** Config of the scale convolutions. */
export interface ScaleConvArgs extends ConvArgs {
  /** Scales σ_i of the basis in pixels, increasing (default {@linkcode SCALE_DEFAULTS}). */
  sigmas?: number[];
  /** Highest Hermite order per axis: (order + 1)² basis functions (default 2: 9). */
  basisOrder?: number;
  /** 1: scale only; 4: also the four 90° turns (rotation minor). */
  rotations?: 1 | 4;
}

/** Validates and fills the scale fields shared by the scale layers. */
export function scaleFields(args: ScaleConvArgs) {
  const sigmas = [...(args.sigmas ?? SCALE_DEFAULTS.sigmas)];
  const basisOrder = args.basisOrder ?? SCALE_DEFAULTS.basisOrder;
  const rotations = args.rotations ?? 1;
  if (sigmas.some((s, i) => i > 0 && !(s > sigmas[i - 1]))) {
    throw new RangeError(`sigmas must increase, got [${sigmas.join(", ")}]`);
  }
  if (rotations !== 1 && rotations !== 4) {
    throw new RangeError(`rotations must be 1 or 4, got ${args.rotations}`);
  }
  return { sigmas, basisOrder, rotations: rotations as 1 | 4 };
}

/**
 * The basis [S·k·k, F] as a tensor, and κ = basis × coefficients reshaped to [S, k·k·rest] for
 * `coefficients` [F, …]: all S kernels from one matmul.
 */
export function scaleKernels(basis: ScaleBasis, coefficients: tf.Tensor): tf.Tensor3D {
  const { data, size: f, kernelSize: k, sigmas } = basis;
  const s = sigmas.length;
  // data is [S, F, k·k]; the matmul wants [S·k·k, F].
  const b = tf.tensor3d(data, [s, f, k * k]).transpose([0, 2, 1]).reshape([s * k * k, f]);
  return b.matMul(coefficients.reshape([f, -1])).reshape([s, k * k, -1]) as tf.Tensor3D;
}

/**
 * κ_i = basis_i × coefficients for each scale i as its own [k·k, rest] matmul: the same numbers
 * as {@linkcode scaleKernels} without its [S, k·k, rest] product, whose split into scales (and
 * the concat of its gradient) a large layer cannot afford.
 */
export function scaleKernelsByScale(basis: ScaleBasis, coefficients: tf.Tensor): tf.Tensor2D[] {
  const { data, size: f, kernelSize: k, sigmas } = basis;
  const c = coefficients.reshape([f, -1]);
  return sigmas.map((_, i) =>
    tf.tensor2d(data.subarray(i * f * k * k, (i + 1) * f * k * k), [f, k * k]).transpose()
      .matMul(c) as tf.Tensor2D
  );
}

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const lift = new ScaleLiftConv2D({ filters: 4 }); // 3 scales by default
 * const y = lift.apply(tf.zeros([1, 32, 32, 3])) as tf.Tensor; // [1, 32, 32, 12]
 * ```
 */
export class ScaleLiftConv2D extends ConvBase {
  static className = "ScaleLiftConv2D";
  readonly sigmas: number[];
  readonly basisOrder: number;
  readonly rotations: 1 | 4;
  protected readonly order: number;
  private readonly basis: ScaleBasis;

  constructor(args: ScaleConvArgs) {
    super({ ...args, kernelSize: args.kernelSize ?? SCALE_DEFAULTS.kernelSize });
    const fields = scaleFields(args);
    this.sigmas = fields.sigmas;
    this.basisOrder = fields.basisOrder;
    this.rotations = fields.rotations;
    this.basis = hermiteBasis(this.kernelSize, this.sigmas, this.basisOrder);
    this.order = this.sigmas.length * this.rotations;
  }

  protected kernelShape(cin: number): number[] {
    return [this.basis.size, cin, this.filters];
  }

  protected filterBank(kernel: tf.Tensor): tf.Tensor4D {
    const [, cin, cout] = kernel.shape;
    const k = this.kernelSize;
    // [S, k·k·Cin, Cout] -> [k·k·Cin, Cout, S]: output channel o·S + i.
    const kappa = scaleKernels(this.basis, kernel).reshape([this.sigmas.length, k * k * cin, cout])
      .transpose([1, 2, 0]).reshape([k, k, cin, cout * this.sigmas.length]) as tf.Tensor4D;
    return this.rotations === 4 ? liftBank(P4, kappa) : kappa;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      sigmas: this.sigmas,
      basisOrder: this.basisOrder,
      rotations: this.rotations,
    };
  }
}
