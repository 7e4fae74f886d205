/**
 * Measured scale equivariance (Sosnovik et al. 2020, §6.1): for a map Φ, a rescaling Dₛ of
 * the input and the matching action D′ₛ on the output (the same spatial rescale, plus a shift
 * of t = log_q s steps along the scale axis for scale maps),
 *
 *   Δ(x) = ‖Φ(Dₛx) − D′ₛΦ(x)‖² / ‖D′ₛΦ(x)‖²
 *
 * over the scales that exist on both sides (output scale i with 0 ≤ i − t < S) and the
 * interior of the plane (a border of 1/8 of each side is left out: zero padding and the
 * resize's edge rule are not scale-equivariant, and the claim is about the interior).
 * Rescaling is `tf.image.resizeBilinear` with half-pixel centres, the same on both sides.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { shiftScales } from "../../layers/scale_basis.ts";

/** Rescales NHWC images by `factor` (bilinear, half-pixel centres) to round(factor·side). */
export function rescale(x: tf.Tensor4D, factor: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  const size: [number, number] = [Math.round(h * factor), Math.round(w * factor)];
  return tf.tidy(() => tf.image.resizeBilinear(x, size, false, true));
}

/** How the output of Φ carries scales: S scales × R rotations per channel (1 × 1 for none). */
export interface ScaleLayout {
  scales: number;
  rotations: number;
}

/**
 * Δ per image from the two outputs: `a` = Φ(Dₛx), `phiX` = Φ(x) (rescaled here to a's size and
 * shifted by `shift` scales).
 */
export async function relativeErrors(
  a: tf.Tensor4D,
  phiX: tf.Tensor4D,
  shift: number,
  layout: ScaleLayout,
): Promise<number[]> {
  // Sums in a tidy, read asynchronously: WebGPU under Deno cannot read synchronously.
  const [diffT, normT] = tf.tidy((): tf.Tensor[] => {
    const [n, h, w, c] = a.shape;
    const moved = tf.image.resizeBilinear(phiX, [h, w], false, true) as tf.Tensor4D;
    const b = layout.scales > 1
      ? shiftScales(moved, layout.scales, layout.rotations, shift)
      : moved;
    const block = layout.scales * layout.rotations;
    const mask = new Float32Array(c).map((_, ch) => {
      const i = Math.floor((ch % block) / layout.rotations);
      return layout.scales === 1 || (i - shift >= 0 && i - shift < layout.scales) ? 1 : 0;
    });
    const [mh, mw] = [Math.floor(h / 8), Math.floor(w / 8)];
    const crop = (t: tf.Tensor4D) =>
      t.slice([0, mh, mw, 0], [n, h - 2 * mh, w - 2 * mw, c]).mul(tf.tensor1d(mask));
    return [crop(a).sub(crop(b)).square().sum([1, 2, 3]), crop(b).square().sum([1, 2, 3])];
  });
  try {
    const [diff, norm] = await Promise.all([diffT.data(), normT.data()]) as Float32Array[];
    return Array.from(diff, (d, i) => d / Math.max(norm[i], 1e-30));
  } finally {
    tf.dispose([diffT, normT]);
  }
}

/**
 * Δ for each image of the batch x [N, H, W, C]: `factor` = qᵗ, `shift` = t (0 for maps
 * without a scale axis, which then only get the spatial rescale).
 */
export async function equivarianceErrors(
  phi: (x: tf.Tensor4D) => tf.Tensor4D,
  x: tf.Tensor4D,
  factor: number,
  shift: number,
  layout: ScaleLayout,
): Promise<number[]> {
  const [a, b] = tf.tidy((): tf.Tensor4D[] => [phi(rescale(x, factor)), phi(x)]);
  try {
    return await relativeErrors(a, b, shift, layout);
  } finally {
    tf.dispose([a, b]);
  }
}

/** Mean of {@linkcode equivarianceErrors} over the batch. */
export async function meanEquivarianceError(
  phi: (x: tf.Tensor4D) => tf.Tensor4D,
  x: tf.Tensor4D,
  factor: number,
  shift: number,
  layout: ScaleLayout,
): Promise<number> {
  const errors = await equivarianceErrors(phi, x, factor, shift, layout);
  return errors.reduce((s, e) => s + e, 0) / errors.length;
}
