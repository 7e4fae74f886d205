/**
 * The group p4 (translations and rotations by multiples of 90°) acting on images, feature
 * maps and filter banks. Conventions (see docs/design.md):
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
 * import * as tf from "@tensorflow/tfjs";
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
  /** Output group elements (4 for p4, 8 for p4m): each kernel entry appears this often. */
  copies: number;
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
  const index: BankIndex = {
    source,
    targets,
    kernelSize: size,
    copies: 4,
    bankShape: [k, k, ci, cout * 4],
  };
  bankIndexCache.set(key, index);
  return index;
}

/**
 * Builds the bank with one gather; its gradient is one gather per output element (4 or 8),
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
          tf.gather(dy.reshape([-1]), saved[0]).reshape([index.copies, index.kernelSize]).sum(0)
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

// ------------------------------------------------------------------------------------------
// p4m = D4 ⋉ Z²: 90° turns and mirrors (Cohen & Welling 2016, §4; GrouPy's element order).
//
// Element (m, r) = Mᵐ Rʳ, index e = 4·m + r, with R the quarter turn of `rot90` and M the
// mirror of the W axis (`out[i][j] = in[i][W−1−j]`). As maps of points Rʳ acts first, then M.
// Since M R M = R⁻¹ (every reflection conjugates a rotation to its inverse):
//
//   (m₁, r₁)·(m₂, r₂) = (m₁ ⊕ m₂, (−1)^m₂ · r₁ + r₂)        (mod 4)
//
// A p4m map has C·8 channels, channel c and element e at index c·8 + e. The group acts on it
// as `(g·f)(p, h) = f(g⁻¹p, g⁻¹h)`. For g = R: g⁻¹(0, r) = (0, r − 1) and
// g⁻¹(1, r) = R⁻¹ M Rʳ = M R Rʳ = (1, r + 1), so a quarter turn turns the plane and moves
// content r → r + 1 on unmirrored channels and r → r − 1 on mirrored ones; for g = M:
// g⁻¹(m, r) = (1 − m, r), a mirror flips the plane and swaps the two m blocks.
// ------------------------------------------------------------------------------------------

/** Elements of D4 (p4m's point group): index e = 4·m + r. */
export const D4_ORDER = 8;

function checkD4(e: number): void {
  if (!Number.isInteger(e) || e < 0 || e >= D4_ORDER) {
    throw new RangeError(`Expected a D4 element index in 0..7 (4·m + r), got ${e}`);
  }
}

/** Index of the product a·b in D4: (m₁, r₁)(m₂, r₂) = (m₁ ⊕ m₂, (−1)^m₂ r₁ + r₂). */
export function d4Compose(a: number, b: number): number {
  checkD4(a);
  checkD4(b);
  const [m1, r1, m2, r2] = [a >> 2, a & 3, b >> 2, b & 3];
  return 4 * (m1 ^ m2) + mod4((m2 ? -r1 : r1) + r2);
}

/** Index of e⁻¹: (0, r)⁻¹ = (0, −r); a mirror (1, r) is its own inverse. */
export function d4Inverse(e: number): number {
  checkD4(e);
  return e >= 4 ? e : mod4(-e);
}

/**
 * Applies D4 element e = (m, r) to the plane spanned by axes (`h`, `h + 1`): turn by r·90°
 * counter-clockwise, then mirror axis `h + 1` if m = 1 (the operator Mᵐ Rʳ).
 */
export function d4Plane<T extends tf.Tensor>(x: T, e: number, h: number): T {
  checkD4(e);
  if (e < 4) return rotPlane(x, e, h);
  return tf.tidy(() => tf.reverse(rotPlane(x, e & 3, h), h + 1)) as T;
}

/**
 * Applies D4 element e = 4·m + r to a batch of NHWC images: turn by r·90° counter-clockwise,
 * then mirror left-right if m = 1. `d4Image(x, 4)` is the horizontal flip; the vertical flip
 * is element 6 (a half turn then a left-right mirror).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomUniform([1, 8, 8, 3]) as tf.Tensor4D;
 * const back = d4Image(d4Image(x, 5), d4Inverse(5)); // equals x
 * ```
 */
export function d4Image(x: tf.Tensor4D, e: number): tf.Tensor4D {
  return d4Plane(x, e, 1);
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

/**
 * The action of D4 element g on a p4m map [N, H, W, C·8]: `(g·f)(p, h) = f(g⁻¹p, g⁻¹h)`:
 * transform the plane by g, and fill element slot h from slot g⁻¹h.
 */
export function actP4m(x: tf.Tensor4D, g: number): tf.Tensor4D {
  const gi = d4Inverse(g);
  const source = Array.from({ length: D4_ORDER }, (_, h) => d4Compose(gi, h));
  return tf.tidy(() => {
    const moved = d4Image(x, g);
    const [n, h2, w2, c8] = moved.shape;
    return permuteLast(moved.reshape([n, h2, w2, c8 / 8, 8]), source).reshape([n, h2, w2, c8]);
  });
}

/** Position of entry (a, b) of a k×k grid after applying D4 element e (turn, then mirror). */
function d4Index(a: number, b: number, k: number, e: number): [number, number] {
  const [ta, tb] = turnIndex(a, b, k, e & 3);
  return e >= 4 ? [ta, k - 1 - tb] : [ta, tb];
}

/**
 * Index of the p4m lifting bank (`inOrder` = 1: kernel [k, k, Cin, Cout]) or group bank
 * (`inOrder` = 8: kernel [k, k, Cin, 8, Cout]) -> bank [k, k, Cin·inOrder, Cout·8]:
 * for output element e, `bank[e·q, c·R + e·j, o·8 + e] = w[q, c, j, o]`, i.e.
 * `ψ_e(q, c, j) = ψ(e⁻¹q, c, e⁻¹j)` (Cohen & Welling 2016, eq. 10–11 for G = p4m).
 */
function p4mBankIndex(k: number, cin: number, cout: number, inOrder: 1 | 8): BankIndex {
  const key = `p4m/${k}/${cin}/${cout}/${inOrder}`;
  const cached = bankIndexCache.get(key);
  if (cached) return cached;
  const ci = cin * inOrder;
  const size = k * k * cin * inOrder * cout;
  const source = new Int32Array(size * D4_ORDER);
  const targets = new Int32Array(size * D4_ORDER);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      for (let c = 0; c < cin; c++) {
        for (let j = 0; j < inOrder; j++) {
          for (let o = 0; o < cout; o++) {
            for (let e = 0; e < D4_ORDER; e++) {
              const [ta, tb] = d4Index(a, b, k, e);
              const slot = inOrder === 8 ? d4Compose(e, j) : 0;
              const bankPos = ((ta * k + tb) * ci + c * inOrder + slot) * cout * 8 + o * 8 + e;
              const kernelPos = (((a * k + b) * cin + c) * inOrder + j) * cout + o;
              source[bankPos] = kernelPos;
              targets[e * size + kernelPos] = bankPos;
            }
          }
        }
      }
    }
  }
  const index: BankIndex = {
    source,
    targets,
    kernelSize: size,
    copies: D4_ORDER,
    bankShape: [k, k, ci, cout * 8],
  };
  bankIndexCache.set(key, index);
  return index;
}

/**
 * p4m lifting filter bank. `w`: [k, k, Cin, Cout] -> [k, k, Cin, Cout·8]; output element
 * e = (m, r) uses `d4Plane(w, e)` (turned by r, then mirrored if m = 1) at channel `o·8 + e`.
 */
export function p4mLiftFilterBank(w: tf.Tensor4D): tf.Tensor4D {
  const [k, , cin, cout] = w.shape;
  return gatherBank(w, p4mBankIndex(k, cin, cout, 1));
}

/**
 * p4m group-convolution filter bank. `w`: [k, k, Cin, 8, Cout] (input element j on axis 3)
 * -> [k, k, Cin·8, Cout·8]: for output element e the filter is transformed spatially by e and
 * its input-element axis permuted, slot e·j holding w[..., j, ...]; then turning or mirroring
 * the input by g moves output element h to g·h.
 */
export function p4mFilterBank(w: tf.Tensor5D): tf.Tensor4D {
  const [k, , cin, , cout] = w.shape;
  return gatherBank(w, p4mBankIndex(k, cin, cout, 8));
}

// ------------------------------------------------------------------------------------------
// Scale (Sosnovik, Szmaja & Smeulders 2020, "Scale-Equivariant Steerable Networks", §4–5).
//
// A scale map has C·S·R channels: channel c, scale i, rotation r (R = 1 without rotations,
// 4 for rotscale) at index (c·S + i)·R + r, scale-minor before the rotation, like the P4
// layout. Rescaling an input by the factor qᵗ (q the ratio of neighbouring scales) moves the
// content of scale i to scale i + t and rescales the plane: that is the action D′ₛ.
// ------------------------------------------------------------------------------------------

/** The probabilists' Hermite polynomial Heₙ(x) (He₀ = 1, He₁ = x, Heₙ₊₁ = x·Heₙ − n·Heₙ₋₁). */
export function hermite(n: number, x: number): number {
  let [prev, cur] = [1, x];
  if (n === 0) return 1;
  for (let i = 1; i < n; i++) [prev, cur] = [cur, x * cur - i * prev];
  return cur;
}

/** A precomputed multi-scale basis: `data[((i·F + f)·k + a)·k + b]`, i the scale. */
export interface ScaleBasis {
  data: Float32Array;
  sigmas: number[];
  kernelSize: number;
  /** Basis functions per scale: (order + 1)². */
  size: number;
}

const basisCache = new Map<string, ScaleBasis>();

/**
 * SESN's Hermite–Gaussian basis ("steerable_A"), with its 1D factors fitted to the pixel grid.
 * At scale σ, function f = n·(order+1) + m is `ψ(a, b) = g_n(a)·g_m(b)` on pixel offsets
 * x ∈ {−h..h}, `g_n(x) ∝ Heₙ(x/σ)·exp(−x²/2σ²)`, on a support cut (as SESN) to
 * `2·⌊⌊k·σ/σ_max⌋/2⌋ + 1` pixels so that every scale sees the same part of its envelope.
 *
 * In the continuum, `∫ xᵐ g_n(x) dx = 0` for m < n and `σⁿ·n!·√2π` for m = n (with SESN's 1/σ
 * amplitude); that σⁿ is what makes `[Dₛx ⋆ ψ_{sσ}](p) = [x ⋆ ψ_σ](p/s)`. Sampled on a few
 * pixels these moments are off (σ = 0.7 on 3 pixels: the zeroth moment 1.9% low, the second 16% low),
 * which flat and smooth image regions turn straight into equivariance error (measured: the
 * lifting error on real images fell from 0.23 to 0.016 with this fit, 5×5, σ₀ = 0.7). So each sampled gₙ is made to have exactly the continuum moments m ≤ n on the grid:
 * subtract the multiple of g_{n−2} that zeroes its lower moment, then scale its n-th moment to
 * σⁿ·n!·√2π. Then images that are locally polynomials of degree ≤ order in each axis give
 * exactly equivariant responses. Each 2D function is finally divided by its L2 norm at the
 * smallest scale (SESN's `normalize_basis_by_min_scale`), so He-normal initialisation of the
 * coefficients gives the variance of an ordinary conv there.
 */
export function hermiteBasis(kernelSize: number, sigmas: number[], order: number): ScaleBasis {
  if (kernelSize % 2 !== 1 || kernelSize < 1) {
    throw new RangeError(`Scale kernels need an odd size, got ${kernelSize}`);
  }
  if (sigmas.length === 0 || sigmas.some((s) => !(s > 0))) {
    throw new RangeError(`Expected positive scales σ, got [${sigmas.join(", ")}]`);
  }
  if (!Number.isInteger(order) || order < 0) {
    throw new RangeError(`Expected a non-negative basis order, got ${order}`);
  }
  const key = `${kernelSize}/${sigmas.join(",")}/${order}`;
  const cached = basisCache.get(key);
  if (cached) return cached;
  const k = kernelSize;
  const half = (k - 1) / 2;
  const f = (order + 1) ** 2;
  const maxSigma = Math.max(...sigmas);
  const xs = Array.from({ length: k }, (_, a) => a - half);
  const data = new Float32Array(sigmas.length * f * k * k);
  sigmas.forEach((sigma, i) => {
    const support = Math.floor(Math.floor((k * sigma) / maxSigma) / 2) * 2 + 1;
    if (support <= order) {
      throw new RangeError(
        `Scale σ = ${sigma} gets a ${support}-pixel support (k = ${k}), too few for order ${order}`,
      );
    }
    const reach = (support - 1) / 2;
    const moment = (g: number[], m: number) => g.reduce((s, v, a) => s + v * xs[a] ** m, 0);
    const g1d: number[][] = [];
    for (let n = 0; n <= order; n++) {
      let g = xs.map((x) =>
        Math.abs(x) > reach ? 0 : hermite(n, x / sigma) * Math.exp(-(x * x) / (2 * sigma * sigma))
      );
      if (n >= 2) {
        // Zero the moment n − 2 (the lower moments of the other parity vanish by symmetry).
        const lower = g1d[n - 2];
        const c = moment(g, n - 2) / moment(lower, n - 2);
        g = g.map((v, a) => v - c * lower[a]);
      }
      let factorial = 1;
      for (let j = 2; j <= n; j++) factorial *= j;
      const target = sigma ** n * factorial * Math.sqrt(2 * Math.PI);
      const scale = target / moment(g, n);
      g1d.push(g.map((v) => v * scale));
    }
    for (let n = 0; n <= order; n++) {
      for (let m = 0; m <= order; m++) {
        for (let a = 0; a < k; a++) {
          for (let b = 0; b < k; b++) {
            data[((i * f + n * (order + 1) + m) * k + a) * k + b] = g1d[n][a] * g1d[m][b];
          }
        }
      }
    }
  });
  for (let j = 0; j < f; j++) {
    let norm = 0;
    for (let q = 0; q < k * k; q++) norm += data[j * k * k + q] ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < sigmas.length; i++) {
      for (let q = 0; q < k * k; q++) data[(i * f + j) * k * k + q] /= norm;
    }
  }
  const basis = { data, sigmas: [...sigmas], kernelSize: k, size: f };
  basisCache.set(key, basis);
  return basis;
}

/**
 * Moves the content of a scale map [N, H, W, C·S·R] from scale i to scale i + t (zero where
 * i − t is outside 0..S−1): the scale-axis part of the action D′ₛ for s = qᵗ.
 */
export function shiftScales(
  x: tf.Tensor4D,
  scales: number,
  rotations: number,
  t: number,
): tf.Tensor4D {
  const block = scales * rotations;
  const source = Array.from({ length: block }, (_, idx) => {
    const [i, r] = [Math.floor(idx / rotations), idx % rotations];
    const from = i - t;
    return from >= 0 && from < scales ? from * rotations + r : -1;
  });
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    return permuteLast(x.reshape([n, h, w, c / block, block]), source).reshape([n, h, w, c]);
  });
}

/**
 * Defaults of the scale layers (docs/design.md, "Scales" says why, with measurements): three
 * scales a factor √2 apart from σ₀ = 0.9 px, covering rescalings by 1/2 … 2; 7×7 kernels, which
 * hold the largest scale's envelope to ±1.7σ (5×5 with σ₀ = 0.7 measured 8× the lifting error
 * on real images); Hermite order 2, i.e. 9 basis functions, the parameter count of a 3×3
 * kernel; a window of 2 neighbouring scales for {@linkcode ScaleConv2D} used alone (the models
 * use 1: every window > 1 loses one scale of equivariance per layer at the end of the range).
 */
export const SCALE_DEFAULTS = {
  sigmas: [0.9, 0.9 * Math.SQRT2, 1.8],
  kernelSize: 7,
  basisOrder: 2,
  window: 2,
} as const;
