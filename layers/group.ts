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

/**
 * Rolls the last axis cyclically: `out[..., i] = in[..., (i − shift) mod n]` (numpy's `roll`).
 * Done as a product with an n×n permutation matrix, which is fast and differentiable on every
 * backend (wasm's split/slice of rank-5 tensors is ~100× slower, measured 2026-11).
 */
export function rollLast<T extends tf.Tensor>(x: T, shift: number): T {
  const n = x.shape[x.rank - 1];
  const s = ((shift % n) + n) % n;
  if (s === 0) return x.clone();
  const perm = new Float32Array(n * n);
  for (let i = 0; i < n; i++) perm[((i - s + n) % n) * n + i] = 1; // out[i] = in[i − s]
  return tf.tidy(() => x.reshape([-1, n]).matMul(tf.tensor2d(perm, [n, n])).reshape(x.shape)) as T;
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
    return rollLast(turned.reshape([n, h2, w2, c4 / 4, 4]), mod4(k)).reshape([n, h2, w2, c4]);
  });
}

/** Position of entry (a, b) after turning a k×k grid by r·90° counter-clockwise. */
function turnIndex(a: number, b: number, k: number, r: number): [number, number] {
  // rot90 once: out[i][j] = in[j][k-1-i], so in[a][b] lands at out[k-1-b][a].
  for (let t = 0; t < r; t++) [a, b] = [k - 1 - b, a];
  return [a, b];
}

/**
 * A filter bank as a fixed re-indexing of a learned kernel: every bank entry is one kernel
 * entry, and every kernel entry appears once per output rotation (four times). `source[i]`
 * is the kernel position of bank position i; `targets[r·K + j]` the bank position of kernel
 * entry j for output rotation r.
 */
interface BankIndex {
  source: Int32Array;
  targets: Int32Array;
  kernelSize: number;
  bankShape: [number, number, number, number];
}

const bankIndexCache = new Map<string, BankIndex>();

/**
 * Index of the lifting bank (`rotations` = 1: kernel [k, k, Cin, Cout]) or the group bank
 * (`rotations` = 4: kernel [k, k, Cin, 4, Cout]) -> bank [k, k, Cin·rotations, Cout·4]:
 * bank[a', b', c·R + s, o·4 + r] = w[a, b, c, (s − r) mod R, o] with (a', b') the turn of (a, b)
 * by r. For R = 1 that is `rot(w, r)`; for R = 4 also the roll of the input-rotation axis by r.
 */
function bankIndex(k: number, cin: number, cout: number, rotations: 1 | 4): BankIndex {
  const key = `${k}/${cin}/${cout}/${rotations}`;
  const cached = bankIndexCache.get(key);
  if (cached) return cached;
  const ci = cin * rotations;
  const size = k * k * cin * rotations * cout;
  const source = new Int32Array(size * 4);
  const targets = new Int32Array(size * 4);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      for (let c = 0; c < cin; c++) {
        for (let s = 0; s < rotations; s++) {
          for (let o = 0; o < cout; o++) {
            for (let r = 0; r < 4; r++) {
              const [ta, tb] = turnIndex(a, b, k, r);
              const sIn = rotations === 4 ? (s + r) % 4 : 0; // bank slot holding w[..., s, ...]
              const bankPos = ((ta * k + tb) * ci + c * rotations + sIn) * cout * 4 + o * 4 + r;
              const kernelPos = (((a * k + b) * cin + c) * rotations + s) * cout + o;
              source[bankPos] = kernelPos;
              targets[r * size + kernelPos] = bankPos;
            }
          }
        }
      }
    }
  }
  const index: BankIndex = { source, targets, kernelSize: size, bankShape: [k, k, ci, cout * 4] };
  bankIndexCache.set(key, index);
  return index;
}

/**
 * Builds the bank with one gather; its gradient is four gathers (one per output rotation),
 * so it needs no scatter kernel (wasm has none) and costs O(bank size) on every backend.
 */
function gatherBank(kernel: tf.Tensor, index: BankIndex): tf.Tensor4D {
  const source = tf.tensor1d(index.source, "int32");
  const targets = tf.tensor1d(index.targets, "int32");
  // tfjs types the variadic inputs as (Tensor | GradSaveFunc)[]; this op has one input.
  const op = tf.customGrad(
    ((w: tf.Tensor, save: tf.GradSaveFunc) => {
      save([targets]); // kept by the engine until the backward pass
      const bank = tf.gather(w.reshape([-1]), source).reshape(index.bankShape) as tf.Tensor4D;
      return {
        value: bank,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.gather(dy.reshape([-1]), saved[0]).reshape([4, index.kernelSize]).sum(0)
            .reshape(w.shape),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  const bank = op(kernel) as tf.Tensor4D;
  source.dispose();
  targets.dispose();
  return bank;
}

/**
 * Lifting filter bank. `w`: [k, k, Cin, Cout] -> [k, k, Cin, Cout·4], output rotation r uses
 * `rot(w, r)`, at output channel `o·4 + r`.
 */
export function liftFilterBank(w: tf.Tensor4D): tf.Tensor4D {
  const [k, , cin, cout] = w.shape;
  return gatherBank(w, bankIndex(k, cin, cout, 1));
}

/**
 * Group-convolution filter bank. `w`: [k, k, Cin, 4, Cout] (input rotation s on axis 3)
 * -> [k, k, Cin·4, Cout·4]. For output rotation r the filter is turned by r and its
 * input-rotation axis rolled by r: `ψ_r(q, c, s) = ψ(R⁻ʳq, c, s − r)`, so that turning the
 * input by g moves output rotation r to r + g (Cohen & Welling 2016, eq. 10–11).
 */
export function p4FilterBank(w: tf.Tensor5D): tf.Tensor4D {
  const [k, , cin, , cout] = w.shape;
  return gatherBank(w, bankIndex(k, cin, cout, 4));
}
