/**
 * The one batching pipeline every dataset feeds training through: a seeded shuffle that
 * depends on (seed, epoch) only, so a resumed run sees the same order, and augmentation done
 * on the host in plain typed-array code. Output is float32 in [0, 1]; the model owns the
 * normalisation.
 *
 * @module
 */
import { mixSeed, mulberry32 } from "./rng.ts";
import type { Split } from "./types.ts";

/** Augmentation applied per image. */
export interface Augment {
  /** Random translation by up to this many pixels in x and y, zero fill (default 0). */
  shift?: number;
  /** Random horizontal flip (default false; a reflection is not in the rotation group). */
  flip?: boolean;
  /** "rot90": a random multiple of 90° (exact); "any": a uniform angle, bilinear, zero fill. */
  rotate?: "none" | "rot90" | "any";
}

/** Options of {@linkcode batches}. */
export interface BatchOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  epoch: number;
  augment?: Augment;
  /** Drop a last incomplete batch (default false). */
  dropLast?: boolean;
}

/** One batch: x [size, H, W, C] in [0, 1], labels, its index and the number of batches. */
export interface Batch {
  x: Float32Array;
  y: Int32Array;
  size: number;
  index: number;
  total: number;
}

/** A permutation of 0..n-1 (Fisher–Yates) from a seeded PRNG. */
export function permutation(n: number, rand: () => number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Copies image `src` into `out` at `o`, shifted/rotated/flipped, scaled to [0, 1]. */
function augmentInto(
  split: Split,
  src: number,
  out: Float32Array,
  o: number,
  rand: () => number,
  aug: Augment,
): void {
  const { height: h, width: w, channels: c, images } = split;
  const base = src * h * w * c;
  const maxShift = aug.shift ?? 0;
  const dx = maxShift ? Math.floor(rand() * (2 * maxShift + 1)) - maxShift : 0;
  const dy = maxShift ? Math.floor(rand() * (2 * maxShift + 1)) - maxShift : 0;
  const flip = aug.flip ? rand() < 0.5 : false;
  const rotate = aug.rotate ?? "none";
  // Output pixel (y, x) reads source (sy, sx) = inverse transform; centre-based rotation.
  let cos = 1, sin = 0;
  if (rotate === "rot90") {
    const k = Math.floor(rand() * 4);
    [cos, sin] = [[1, 0], [0, 1], [-1, 0], [0, -1]][k];
  } else if (rotate === "any") {
    const a = rand() * 2 * Math.PI;
    [cos, sin] = [Math.cos(a), Math.sin(a)];
  }
  const [cy, cx] = [(h - 1) / 2, (w - 1) / 2];
  const exact = Number.isInteger(cos) && Number.isInteger(sin);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d = o + (y * w + x) * c;
      // Undo shift, then undo the counter-clockwise rotation, then undo the flip.
      const ty = y - dy - cy, tx = x - dx - cx;
      let sy = cos * ty - sin * tx + cy;
      let sx = sin * ty + cos * tx + cx;
      if (flip) sx = w - 1 - sx;
      if (exact) {
        sy = Math.round(sy);
        sx = Math.round(sx);
        if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
          for (let k = 0; k < c; k++) out[d + k] = 0;
          continue;
        }
        const s = base + (sy * w + sx) * c;
        for (let k = 0; k < c; k++) out[d + k] = images[s + k] / 255;
        continue;
      }
      const y0 = Math.floor(sy), x0 = Math.floor(sx);
      const fy = sy - y0, fx = sx - x0;
      for (let k = 0; k < c; k++) {
        let v = 0;
        for (
          const [yy, xx, wgt] of [
            [y0, x0, (1 - fy) * (1 - fx)],
            [y0, x0 + 1, (1 - fy) * fx],
            [y0 + 1, x0, fy * (1 - fx)],
            [y0 + 1, x0 + 1, fy * fx],
          ]
        ) {
          if (wgt && yy >= 0 && yy < h && xx >= 0 && xx < w) {
            v += wgt * images[base + (yy * w + xx) * c + k];
          }
        }
        out[d + k] = v / 255;
      }
    }
  }
}

/**
 * Yields the batches of one epoch.
 *
 * @example
 * ```ts
 * for (const b of batches(data.train, { batchSize: 64, shuffle: true, seed: 1, epoch: 0 })) {
 *   // b.x: Float32Array [b.size, H, W, C]
 * }
 * ```
 */
export function* batches(split: Split, options: BatchOptions): Generator<Batch> {
  const { batchSize } = options;
  const n = split.count;
  const order = options.shuffle
    ? permutation(n, mulberry32(mixSeed(options.seed, options.epoch, 1)))
    : Uint32Array.from({ length: n }, (_, i) => i);
  const augRand = mulberry32(mixSeed(options.seed, options.epoch, 2));
  const total = options.dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
  const size = split.height * split.width * split.channels;
  const aug = options.augment ?? {};
  const plain = !aug.shift && !aug.flip && (aug.rotate ?? "none") === "none";
  for (let index = 0; index < total; index++) {
    const start = index * batchSize;
    const count = Math.min(batchSize, n - start);
    const x = new Float32Array(count * size);
    const y = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const src = order[start + i];
      y[i] = split.labels[src];
      if (plain) {
        const s = src * size;
        for (let k = 0; k < size; k++) x[i * size + k] = split.images[s + k] / 255;
      } else {
        augmentInto(split, src, x, i * size, augRand, aug);
      }
    }
    yield { x, y, size: count, index, total };
  }
}

/** Per-channel mean and standard deviation of a split's pixels, scaled to [0, 1]. */
export function channelStats(split: Split): { mean: number[]; std: number[] } {
  const c = split.channels;
  const sum = new Float64Array(c), sq = new Float64Array(c);
  const px = split.images;
  const n = split.count * split.height * split.width * c;
  for (let i = 0; i < n; i++) {
    const v = px[i] / 255;
    sum[i % c] += v;
    sq[i % c] += v * v;
  }
  const count = n / c;
  const mean = Array.from(sum, (s) => s / count);
  // A constant channel would give std 0: floor it so normalisation stays finite.
  const std = Array.from(
    sq,
    (s, k) => Math.max(Math.sqrt(Math.max(s / count - mean[k] ** 2, 0)), 1e-3),
  );
  return { mean, std };
}
