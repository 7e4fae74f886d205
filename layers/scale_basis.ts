/**
 * The multi-scale filter basis and the scale action of the scale layers (Sosnovik, Szmaja &
 * Smeulders 2020, "Scale-Equivariant Steerable Networks", §4–5). Scales are not a group of
 * the pixel grid (a rescaling is not a permutation of pixels, so equivariance is approximate
 * and measured, lib/eval/scale_equivariance.ts); rotscale combines them with p4's exact turns.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { permuteLast } from "./group_core.ts";

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
