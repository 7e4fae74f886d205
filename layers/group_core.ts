/**
 * What a symmetry group is to symlab's layers ({@linkcode Group}), and the exact operations on
 * the pixel grid that the groups of layers/groups/ are built from. Conventions (docs/design.md):
 *
 * - `rot(x, k)` turns the spatial plane by k·90° counter-clockwise, numpy's
 *   `rot90(img, k, axes=(0, 1))` on an HWC image: for k = 1, `out[i][j] = in[j][W-1-i]`.
 * - A G-map has `C·|G|` channels, channel c and element e at index `c·|G| + e`
 *   (channel-major, element-minor); `reshape([N, H, W, C, |G|])` exposes the group axis last.
 * - G acts on a G-map as `(g·f)(p, h) = f(g⁻¹p, g⁻¹h)`: move the plane by g, fill slot h from
 *   slot g⁻¹h (layers/group.ts `actMap`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * A finite group of symmetries of the square pixel grid (the point group of a wallpaper group;
 * convolution brings the translations): its elements are the indices 0 … order − 1, 0 the
 * identity. Everything else (the action on G-maps, the filter banks of the lifting and group
 * convolutions, the invariant pools) is derived from these members by layers/group.ts, so a
 * new group is one file of layers/groups/ and one line of its registry (docs/design.md, "Adding
 * a group").
 */
export interface Group {
  /** Registry key, as layer configs and `/models` name it ("p4"). */
  readonly name: string;
  /** What it is, in words ("p4 (90° turns)"). */
  readonly label: string;
  /** |G|: a G-map has C·order channels. */
  readonly order: number;
  /** What reports call each element, by index. */
  readonly elementNames: readonly string[];
  /** Index of a·b, composed as maps of points: b acts first. */
  compose(a: number, b: number): number;
  /** Index of e⁻¹. */
  inverse(e: number): number;
  /**
   * Where e moves entry (a, b) (row, column) of a k×k grid: the same map of points as
   * {@linkcode Group.plane}, on indices, for building filter banks by gathers.
   */
  point(a: number, b: number, k: number, e: number): [number, number];
  /**
   * Element e acting on the plane spanned by axes (`h`, `h + 1`) of `x`, exactly: images
   * (NHWC, h = 1), filter banks (h = 0), any rank ≥ 2.
   */
  plane<T extends tf.Tensor>(x: T, e: number, h: number): T;
}

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
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomUniform([1, 32, 32, 3]) as tf.Tensor4D;
 * const back = rot90(rot90(x, 1), -1); // equals x
 * ```
 */
export function rot90(x: tf.Tensor4D, k: number): tf.Tensor4D {
  return rotPlane(x, k, 1);
}

/** Position of entry (a, b) after turning a k×k grid by r·90° counter-clockwise. */
export function turnIndex(a: number, b: number, k: number, r: number): [number, number] {
  // rot90 once: out[i][j] = in[j][k-1-i], so in[a][b] lands at out[k-1-b][a].
  for (let t = 0; t < mod4(r); t++) [a, b] = [k - 1 - b, a];
  return [a, b];
}

/**
 * Rolls the last axis cyclically: `out[..., i] = in[..., (i − shift) mod n]` (numpy's `roll`).
 * Done as a product with an n×n permutation matrix, which is fast and differentiable on every
 * backend (wasm's split/slice of rank-5 tensors is ~100× slower, measured 2026-11).
 */
export function rollLast<T extends tf.Tensor>(x: T, shift: number): T {
  const n = x.shape[x.rank - 1];
  const s = ((shift % n) + n) % n;
  if (s === 0) return x.clone();
  return permuteLast(x, Array.from({ length: n }, (_, i) => (i - s + n) % n));
}

/**
 * Permutes (and optionally zero-fills) the last axis: `out[..., i] = in[..., source[i]]`, or 0
 * where source[i] is −1. Done as a product with a 0/1 matrix, like {@linkcode rollLast}.
 */
export function permuteLast<T extends tf.Tensor>(x: T, source: number[]): T {
  const n = x.shape[x.rank - 1];
  if (source.length !== n) {
    throw new RangeError(`Expected ${n} source indices for the last axis, got ${source.length}`);
  }
  const m = new Float32Array(n * n);
  source.forEach((s, i) => {
    if (s >= 0) m[s * n + i] = 1;
  });
  return tf.tidy(() => x.reshape([-1, n]).matMul(tf.tensor2d(m, [n, n])).reshape(x.shape)) as T;
}

/** A range error unless `e` is an element index of `group`. */
export function checkElement(group: Pick<Group, "name" | "order">, e: number): void {
  if (!Number.isInteger(e) || e < 0 || e >= group.order) {
    throw new RangeError(
      `Expected a ${group.name} element index in 0..${group.order - 1}, got ${e}`,
    );
  }
}
