/**
 * The one batching pipeline every dataset feeds training through: a seeded shuffle that
 * depends on (seed, epoch) only, so a resumed run sees the same order, and augmentation done
 * on the host in plain typed-array code. Output is float32 in [0, 1]; the model owns the
 * normalisation.
 *
 * @module
 */
import { z } from "zod";
import { mixSeed, mulberry32 } from "./rng.ts";
import { DatasetError, type Split } from "./types.ts";

/** Augmentation applied per image. */
export interface Augment {
  /** Random translation by up to this many whole pixels in x and y, zero fill (default 0). */
  shift?: number;
  /** Random horizontal flip (default false; a reflection is not in the rotation group). */
  flip?: boolean;
  /**
   * "rot90": a random multiple of 90° (an exact pixel copy on square images); "any": a uniform
   * angle, bilinear, zero fill (default "none").
   */
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

/**
 * A permutation of 0..n-1 (Fisher–Yates) from a seeded PRNG.
 *
 * @example
 * ```ts
 * import { mulberry32 } from "./rng.ts";
 * permutation(5, mulberry32(1)); // e.g. Uint32Array [3, 0, 4, 1, 2]
 * ```
 */
export function permutation(n: number, rand: () => number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/**
 * Copies image `src` into `out` at `o`, scaled to [0, 1] and augmented: the output pixel
 * (y, x) reads the source at the inverse transform of (y, x), i.e. flip, then rotation about
 * the centre, then shift. Pixels that come from outside the image are 0 (zero fill, not
 * reflection: reflected borders would add mirrored content the rotated test set never shows).
 * The random draws happen in a fixed order (dx, dy, flip, turn), so a seed fixes them all.
 */
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
  // (cos, sin) of the turn. With y pointing down, this sampling turns the image clockwise by
  // the drawn angle; the angle (or k) is uniform, so the distribution of turns is the same as
  // for counter-clockwise ones.
  let cos = 1, sin = 0;
  if (rotate === "rot90") {
    const k = Math.floor(rand() * 4);
    [cos, sin] = [[1, 0], [0, 1], [-1, 0], [0, -1]][k];
  } else if (rotate === "any") {
    const a = rand() * 2 * Math.PI;
    [cos, sin] = [Math.cos(a), Math.sin(a)];
  }
  const cy = (h - 1) / 2, cx = (w - 1) / 2;
  // Quarter turns (and no turn) map pixel centres onto pixel centres of a square image: copy.
  const exact = Number.isInteger(cos) && Number.isInteger(sin);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d = o + (y * w + x) * c;
      const ty = y - dy - cy, tx = x - dx - cx;
      const sy = cos * ty - sin * tx + cy;
      let sx = sin * ty + cos * tx + cx;
      if (flip) sx = w - 1 - sx;
      if (exact) {
        const iy = Math.round(sy), ix = Math.round(sx);
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
          for (let k = 0; k < c; k++) out[d + k] = 0;
        } else {
          const s = base + (iy * w + ix) * c;
          for (let k = 0; k < c; k++) out[d + k] = images[s + k] / 255;
        }
        continue;
      }
      // Bilinear: the four neighbours that lie inside the image, weighted by distance.
      const y0 = Math.floor(sy), x0 = Math.floor(sx);
      const fy = sy - y0, fx = sx - x0;
      const w00 = (1 - fy) * (1 - fx), w01 = (1 - fy) * fx, w10 = fy * (1 - fx), w11 = fy * fx;
      const top = y0 >= 0 && y0 < h, bottom = y0 + 1 >= 0 && y0 + 1 < h;
      const left = x0 >= 0 && x0 < w, right = x0 + 1 >= 0 && x0 + 1 < w;
      const p00 = base + (y0 * w + x0) * c, p10 = p00 + w * c;
      for (let k = 0; k < c; k++) {
        let v = 0;
        if (w00 && top && left) v += w00 * images[p00 + k];
        if (w01 && top && right) v += w01 * images[p00 + c + k];
        if (w10 && bottom && left) v += w10 * images[p10 + k];
        if (w11 && bottom && right) v += w11 * images[p10 + c + k];
        out[d + k] = v / 255;
      }
    }
  }
}

const BatchOptionsSchema = z.strictObject({
  batchSize: z.number().int().positive(),
  shuffle: z.boolean(),
  seed: z.number().int(),
  epoch: z.number().int().nonnegative(),
  augment: z.strictObject({
    shift: z.number().int().nonnegative().optional(),
    flip: z.boolean().optional(),
    rotate: z.enum(["none", "rot90", "any"]).optional(),
  }).optional(),
  dropLast: z.boolean().optional(),
});

/**
 * Yields the batches of one epoch. Every image appears exactly once per epoch (the last batch
 * is smaller unless `dropLast`); the order depends only on (seed, epoch), and so do the
 * augmentation draws. Throws `TypeError` for invalid options and {@linkcode DatasetError} for
 * a split whose arrays do not match its count and shape.
 *
 * @example
 * ```ts
 * import { generateSynthetic } from "./synthetic.ts";
 * const { train } = generateSynthetic({ seed: 1 });
 * for (const b of batches(train, { batchSize: 64, shuffle: true, seed: 1, epoch: 0 })) {
 *   // b.x: Float32Array [b.size, 32, 32, 3] in [0, 1]; b.y: Int32Array [b.size]
 * }
 * ```
 */
export function batches(split: Split, options: BatchOptions): Generator<Batch> {
  const parsed = BatchOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(
      `Invalid batch options: ${issue.path.join(".") || "(value)"}: ${issue.message}`,
    );
  }
  const size = split.height * split.width * split.channels;
  if (split.images.length !== split.count * size || split.labels.length !== split.count) {
    throw new DatasetError(
      `split: expected ${split.count} images of ${split.height}×${split.width}×${split.channels} ` +
        `and ${split.count} labels, got ${split.images.length} bytes and ${split.labels.length} labels`,
    );
  }
  return epoch(split, parsed.data);
}

function* epoch(split: Split, options: BatchOptions): Generator<Batch> {
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

/**
 * Per-channel mean and standard deviation of a split's pixels, scaled to [0, 1] (population
 * std, floored at 1e-3 so a constant channel still normalises). Models store these in their
 * normalisation layer.
 *
 * @example
 * ```ts
 * import { generateSynthetic } from "./synthetic.ts";
 * const dataset = generateSynthetic({ seed: 1, train: 500, test: 100 });
 * const { mean, std } = channelStats(dataset.train); // three means and three stds
 * ```
 */
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
