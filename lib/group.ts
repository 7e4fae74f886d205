/**
 * The group p4 (translations and rotations by multiples of 90°) acting on images, feature
 * maps and filter banks. Conventions (see DESIGN.md):
 *
 * - `rot(x, k)` turns the spatial plane by k·90° counter-clockwise, numpy's
 *   `rot90(img, k, axes=(0, 1))` on an HWC image: for k = 1, `out[i][j] = in[j][W-1-i]`.
 * - A P4 map has `C·4` channels, channel c and rotation r at index `c·4 + r`.
 * - The group acts on a P4 map as `(g·f)(p, r) = f(g⁻¹p, r − g)`: turn the plane, then roll
 *   the rotation axis by +g.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** k modulo 4 in {0, 1, 2, 3}, for any integer k. */
export function mod4(k: number): number {
  if (!Number.isInteger(k)) throw new RangeError(`Expected an integer rotation count, got ${k}`);
  return ((k % 4) + 4) % 4;
}

/**
 * Rotates the plane spanned by axes (`h`, `h + 1`) of `x` by k·90° counter-clockwise.
 * Works for images (NHWC, h = 1), filter banks (h = 0) and any rank ≥ 2.
 */
export function rotPlane<T extends tf.Tensor>(x: T, k: number, h: number): T {
  const w = h + 1;
  const perm = [...Array(x.rank).keys()];
  [perm[h], perm[w]] = [perm[w], perm[h]];
  return tf.tidy(() => {
    switch (mod4(k)) {
      case 0:
        return x.clone();
      case 1: // out[i][j] = in[j][W-1-i]: flip columns, then transpose
        return tf.transpose(tf.reverse(x, w), perm);
      case 2:
        return tf.reverse(x, [h, w]);
      default: // out[i][j] = in[H-1-j][i]: transpose, then flip columns
        return tf.reverse(tf.transpose(x, perm), w);
    }
  }) as T;
}

/**
 * Rotates a batch of NHWC images by k·90° counter-clockwise, exactly.
 *
 * @example
 * ```ts
 * const x = tf.randomUniform([1, 32, 32, 3]) as tf.Tensor4D;
 * const back = rot90(rot90(x, 1), -1); // equals x
 * ```
 */
export function rot90(x: tf.Tensor4D, k: number): tf.Tensor4D {
  return rotPlane(x, k, 1);
}

/** Rolls axis `axis` of `x` cyclically: `out[i] = in[(i − shift) mod n]` (numpy's `roll`). */
export function roll<T extends tf.Tensor>(x: T, shift: number, axis: number): T {
  const n = x.shape[axis];
  const s = ((shift % n) + n) % n;
  if (s === 0) return x.clone();
  return tf.tidy(() => {
    const [head, tail] = tf.split(x, [n - s, s], axis);
    return tf.concat([tail, head], axis);
  }) as T;
}

/**
 * The acting of rotation g on a P4 map [N, H, W, C·4]: `(g·f)(p, r) = f(g⁻¹p, r − g)`.
 * Used by tests to state equivariance as `Φ(g·x) = g·Φ(x)`.
 */
export function rotP4(x: tf.Tensor4D, k: number): tf.Tensor4D {
  const [n, h, w, c4] = x.shape;
  return tf.tidy(() => {
    const turned = rot90(x, k);
    const [h2, w2] = mod4(k) % 2 ? [w, h] : [h, w];
    return roll(turned.reshape([n, h2, w2, c4 / 4, 4]), mod4(k), 4).reshape([n, h2, w2, c4]);
  });
}

/**
 * Lifting filter bank. `w`: [k, k, Cin, Cout] -> [k, k, Cin, Cout·4], output rotation r uses
 * `rot(w, r)`, at output channel `o·4 + r`.
 */
export function liftFilterBank(w: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, cin, cout] = w.shape;
  return tf.tidy(() => {
    const rotated = [0, 1, 2, 3].map((r) => rotPlane(w, r, 0));
    return tf.stack(rotated, 4).reshape([kh, kw, cin, cout * 4]);
  });
}

/**
 * Group-convolution filter bank. `w`: [k, k, Cin, 4, Cout] (input rotation s on axis 3)
 * -> [k, k, Cin·4, Cout·4]. For output rotation r the filter is turned by r and its
 * input-rotation axis rolled by r: `ψ_r(q, c, s) = ψ(R⁻ʳq, c, s − r)`, so that turning the
 * input by g moves output rotation r to r + g (Cohen & Welling 2016, eq. 10–11).
 */
export function p4FilterBank(w: tf.Tensor5D): tf.Tensor4D {
  const [kh, kw, cin, , cout] = w.shape;
  return tf.tidy(() => {
    const banks = [0, 1, 2, 3].map((r) => roll(rotPlane(w, r, 0), r, 3));
    return tf.stack(banks, 5).reshape([kh, kw, cin * 4, cout * 4]);
  });
}
