/**
 * Padding and output sizes shared by the P4 convolutions.
 *
 * `padding: "same"` here means **symmetric** padding of (k − 1)/2 on every side, not tfjs'
 * `same`: with stride 2, tfjs pads only the bottom/right, which breaks 90° equivariance.
 * A convolution is exactly equivariant to 90° turns when its sampling grid maps onto itself
 * under the reflection i ↦ H − 1 − i, i.e. when (H + 2p − k) is divisible by the stride
 * (always for stride 1; for stride 2 with k = 3, p = 1: odd H).
 *
 * @module
 */

/** Padding modes of the P4 convolutions. */
export type Padding = "same" | "valid";

/** The tfjs `pad` argument for a symmetric padding mode. */
export function padArg(padding: Padding, kernelSize: number): number | "valid" {
  if (padding === "valid") return "valid";
  if (kernelSize % 2 !== 1) {
    throw new RangeError(`padding "same" needs an odd kernel size, got ${kernelSize}`);
  }
  return (kernelSize - 1) / 2;
}

/** Output length of one spatial axis, or null when the input length is unknown. */
export function convOutLength(
  n: number | null,
  kernelSize: number,
  stride: number,
  padding: Padding,
): number | null {
  if (n === null) return null;
  const p = padding === "same" ? (kernelSize - 1) / 2 : 0;
  return Math.floor((n + 2 * p - kernelSize) / stride) + 1;
}

/** Whether a conv over an axis of length n keeps exact 90° equivariance (see module doc). */
export function isSymmetricGrid(
  n: number,
  kernelSize: number,
  stride: number,
  padding: Padding,
): boolean {
  const p = padding === "same" ? (kernelSize - 1) / 2 : 0;
  return (n + 2 * p - kernelSize) % stride === 0;
}
