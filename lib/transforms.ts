/**
 * Transforms of batched NHWC float images in [0, 1], used for augmentation, evaluation
 * (rotated, rescaled, noisy and corrupted test data) and by the server (an uploaded image and
 * all its transforms in one batch).
 *
 * Everything except {@linkcode jpegCompress} (libvips) is built from tfjs ops, so it runs on the
 * cpu, wasm and webgpu backends and keeps its work on the device, and every function disposes
 * its intermediates (`tf.memory().numTensors` grows by exactly the returned tensor).
 *
 * Geometry conventions (see docs/design.md): pixel `(r, c)` is row r (down), column c (right); the
 * centre of an H×W image is `((H−1)/2, (W−1)/2)`; a positive angle turns the picture
 * counter-clockwise as displayed, so `rotate(x, 90)` equals {@linkcode rot90}`(x, 1)` on a
 * square image. Resampling transforms ({@linkcode rotate}, {@linkcode zoom}) read the source
 * with bilinear interpolation, and a source point outside the image reads the `fill` value
 * (default 0, black) or, with `fill: "edge"`, the nearest edge pixel.
 *
 * Differentiability: rot90, resize, gaussianBlur, contrast and gaussianNoise are differentiable
 * on every backend. rotate, zoom, shift, perturb and randomRotate gather pixels with
 * `tf.gather`, whose gradient (UnsortedSegmentSum) exists on cpu and webgpu but not on wasm.
 *
 * @module
 */
import { mulberry32 } from "./data/rng.ts";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { z } from "zod";
import { rot90 as rotPlane90 } from "../layers/group.ts";
import { resampleWeights } from "./image/resample.ts";

/** What a resampling transform reads outside the image: a constant, or the nearest edge pixel. */
export type Fill = number | "edge";

/** A scalar applied to every image of a batch, or one value per image. */
export type PerImage = number | readonly number[];

const FillSchema = z.union([z.number().finite(), z.literal("edge")]);
const FillOptionsSchema = z.object({ fill: FillSchema.optional() });

/** Options of the resampling transforms. */
export interface FillOptions {
  /** Value read outside the image (default 0, black), or "edge" to repeat the border pixels. */
  fill?: Fill;
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`Invalid ${what}: ${issue.path.join(".") || "(value)"}: ${issue.message}`);
  }
  return parsed.data;
}

function requireImages(x: tf.Tensor, what: string): asserts x is tf.Tensor4D {
  if (x.rank !== 4) {
    throw new RangeError(`${what}: expected an NHWC batch (rank 4), got shape [${x.shape}]`);
  }
}

/** Expands a scalar or per-image list to one finite value per image. */
function perImage(value: PerImage, n: number, what: string): number[] {
  const values = typeof value === "number" ? Array(n).fill(value) : [...value];
  if (values.length !== n) {
    throw new RangeError(`${what}: expected 1 or ${n} values, got ${values.length}`);
  }
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`${what}: expected finite numbers, got ${v}`);
  }
  return values;
}

/**
 * A small seeded generator of uniform floats in [0, 1) (mulberry32), so that random transforms
 * are reproducible from one integer seed on every backend.
 *
 * @example
 * ```ts
 * const next = seededUniform(42);
 * next(); // the same number on every run
 * ```
 */
export function seededUniform(seed: number): () => number {
  return mulberry32(seed);
}

// ---------------------------------------------------------------------------------------------
// Exact rotations

/**
 * Rotates every image of an NHWC batch by k·90° counter-clockwise, exactly (a reverse and a
 * transpose, no interpolation), for any integer k including negative ones. numpy's
 * `rot90(img, k, axes=(0, 1))` on each HWC image: for k = 1, `out[i][j] = in[j][W−1−i]`.
 * Odd k swaps height and width.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomUniform([2, 5, 7, 3]) as tf.Tensor4D;
 * rot90(x, 1).shape; // [2, 7, 5, 3]
 * rot90(rot90(x, 3), 1); // equals x
 * ```
 */
export function rot90(x: tf.Tensor4D, k: number): tf.Tensor4D {
  requireImages(x, "rot90");
  if (!Number.isInteger(k)) throw new RangeError(`rot90: expected an integer k, got ${k}`);
  return rotPlane90(x, k);
}

/** The axis a mirror reverses: `h` mirrors left-right (columns), `v` upside down (rows). */
export type FlipAxis = "h" | "v";

/**
 * Mirrors every image of an NHWC batch exactly (a reverse of one axis, no interpolation):
 * `h` is the horizontal flip `out[i][j] = in[i][W−1−j]` (D4 element 4 of layers/group.ts),
 * `v` the vertical flip `out[i][j] = in[H−1−i][j]` (element 6: a half turn, then `h`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomUniform([2, 5, 7, 3]) as tf.Tensor4D;
 * flip(flip(x, "h"), "h"); // equals x
 * ```
 */
export function flip(x: tf.Tensor4D, axis: FlipAxis): tf.Tensor4D {
  requireImages(x, "flip");
  if (axis !== "h" && axis !== "v") {
    throw new RangeError(`flip: expected axis "h" or "v", got ${JSON.stringify(axis)}`);
  }
  return tf.reverse(x, axis === "h" ? 2 : 1);
}

// ---------------------------------------------------------------------------------------------
// Bilinear resampling through an affine map about the centre

/**
 * For one image: the source point of output pixel (r, c) is
 * `(cy + a·dr + b·dc + ty, cx + e·dr + d·dc + tx)` with `(dr, dc) = (r − cy, c − cx)`.
 */
interface AffineMap {
  a: number;
  b: number;
  e: number;
  d: number;
  ty: number;
  tx: number;
}

/**
 * Samples each image at the points its map gives, bilinearly: one `tf.gather` of the four
 * neighbours of every output pixel from the flattened batch (plus one extra row holding the
 * fill value), then a weighted sum. Points that fall exactly on pixels reproduce them exactly.
 */
function sampleAffine(x: tf.Tensor4D, maps: AffineMap[], fill: Fill): tf.Tensor4D {
  const [n, h, w, ch] = x.shape;
  const hw = h * w, total = n * hw;
  const fillRow = total; // index of the appended constant row
  const index = new Int32Array(4 * total);
  const weight = new Float32Array(4 * total);
  const cy = (h - 1) / 2, cx = (w - 1) / 2;
  const edge = fill === "edge";
  // Corner k of output pixel o of image i: pixel (yy, xx) with weight wt. With "edge", a
  // corner past the border only ever has weight 0 (the point itself was clamped inside).
  const put = (k: number, o: number, i: number, yy: number, xx: number, wt: number) => {
    const inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
    index[k * total + o] = inside
      ? i * hw + yy * w + xx
      : edge
      ? i * hw + Math.min(yy, h - 1) * w + Math.min(xx, w - 1)
      : fillRow;
    weight[k * total + o] = wt;
  };
  for (let i = 0; i < n; i++) {
    const m = maps[i];
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const dr = r - cy, dc = c - cx;
        let sy = cy + m.a * dr + m.b * dc + m.ty;
        let sx = cx + m.e * dr + m.d * dc + m.tx;
        if (edge) {
          sy = Math.min(Math.max(sy, 0), h - 1);
          sx = Math.min(Math.max(sx, 0), w - 1);
        }
        const y0 = Math.floor(sy), x0 = Math.floor(sx);
        const fy = sy - y0, fx = sx - x0;
        const o = i * hw + r * w + c;
        put(0, o, i, y0, x0, (1 - fy) * (1 - fx));
        put(1, o, i, y0, x0 + 1, (1 - fy) * fx);
        put(2, o, i, y0 + 1, x0, fy * (1 - fx));
        put(3, o, i, y0 + 1, x0 + 1, fy * fx);
      }
    }
  }
  return tf.tidy(() => {
    const flat = tf.concat([
      x.reshape([total, ch]),
      tf.fill([1, ch], edge ? 0 : fill as number),
    ]);
    const gathered = tf.gather(flat, tf.tensor1d(index, "int32")).reshape([4, total, ch]);
    return gathered.mul(tf.tensor3d(weight, [4, total, 1])).sum(0).reshape([
      n,
      h,
      w,
      ch,
    ]) as tf.Tensor4D;
  });
}

/** cos and sin of an angle in degrees, exact (0, ±1) at multiples of 90°. */
function cosSinDegrees(degrees: number): [number, number] {
  if (degrees % 90 === 0) {
    const k = ((degrees / 90) % 4 + 4) % 4;
    return [[1, 0], [0, 1], [-1, 0], [0, -1]][k] as [number, number];
  }
  const t = (degrees * Math.PI) / 180;
  return [Math.cos(t), Math.sin(t)];
}

/**
 * Rotates each image about its centre `((W−1)/2, (H−1)/2)` by `degrees` counter-clockwise (one
 * angle for the batch, or one per image), with bilinear interpolation, keeping the size. Corners
 * that come from outside the image read `fill` (default 0, black for [0, 1] images) or, with
 * `"edge"`, the nearest border pixel. When every angle is the same multiple of 90° and the turn
 * keeps the shape (square images, or 180°), this is the exact {@linkcode rot90}.
 *
 * Output pixel at offset `(dr, dc)` from the centre reads the source at
 * `(cos θ·dr + sin θ·dc, −sin θ·dr + cos θ·dc)` from the centre.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomUniform([4, 32, 32, 3]) as tf.Tensor4D;
 * const turned = rotate(x, [0, 15, 90, 200], { fill: "edge" });
 * ```
 */
export function rotate(x: tf.Tensor4D, degrees: PerImage, options: FillOptions = {}): tf.Tensor4D {
  requireImages(x, "rotate");
  const { fill = 0 } = parse(FillOptionsSchema, options, "rotate options");
  const [n, h, w] = x.shape;
  const angles = perImage(degrees, n, "rotate: degrees");
  const k = angles[0] / 90;
  if (angles.every((a) => a === angles[0]) && Number.isInteger(k) && (h === w || k % 2 === 0)) {
    return rot90(x, k);
  }
  return sampleAffine(
    x,
    angles.map((a) => {
      const [cos, sin] = cosSinDegrees(a);
      return { a: cos, b: sin, e: -sin, d: cos, ty: 0, tx: 0 };
    }),
    fill,
  );
}

/**
 * Scales each image about its centre by `factor` (one for the batch, or one per image), keeping
 * the size: a factor above 1 zooms in (the centre is enlarged and the border cropped), below 1
 * shrinks the picture inside a `fill` border (default 0). Bilinear interpolation; a factor of
 * exactly 1 is the identity. Output offset `d` from the centre reads the source at `d / factor`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
 * const closer = zoom(x, 1.5); // the middle 21×21 pixels, enlarged to 32×32
 * const farther = zoom(x, [0.5, 0.8]);
 * ```
 */
export function zoom(x: tf.Tensor4D, factor: PerImage, options: FillOptions = {}): tf.Tensor4D {
  requireImages(x, "zoom");
  const { fill = 0 } = parse(FillOptionsSchema, options, "zoom options");
  const factors = perImage(factor, x.shape[0], "zoom: factor");
  if (factors.some((f) => f <= 0)) {
    throw new RangeError(`zoom: expected factors > 0, got ${factors}`);
  }
  if (factors.every((f) => f === 1)) return tf.clone(x);
  return sampleAffine(
    x,
    factors.map((f) => ({ a: 1 / f, b: 0, e: 0, d: 1 / f, ty: 0, tx: 0 })),
    fill,
  );
}

/**
 * Translates each image by whole pixels, keeping the size: `out[r][c] = in[r − dy][c − dx]`, so
 * positive `dx` moves the picture right and positive `dy` moves it down. Uncovered pixels read
 * `fill` (default 0) or, with `"edge"`, repeat the border. Exact (no interpolation).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomUniform([2, 8, 8, 1]) as tf.Tensor4D;
 * const moved = shift(x, [1, -2], [0, 3]); // image 0 right by 1; image 1 left 2, down 3
 * ```
 */
export function shift(
  x: tf.Tensor4D,
  dx: PerImage,
  dy: PerImage,
  options: FillOptions = {},
): tf.Tensor4D {
  requireImages(x, "shift");
  const { fill = 0 } = parse(FillOptionsSchema, options, "shift options");
  const n = x.shape[0];
  const xs = perImage(dx, n, "shift: dx"), ys = perImage(dy, n, "shift: dy");
  if (![...xs, ...ys].every(Number.isInteger)) {
    throw new RangeError(`shift: expected integer offsets, got dx ${xs}, dy ${ys}`);
  }
  if (xs.every((v) => v === 0) && ys.every((v) => v === 0)) return tf.clone(x);
  return sampleAffine(
    x,
    xs.map((sx, i) => ({ a: 1, b: 0, e: 0, d: 1, ty: -ys[i], tx: -sx })),
    fill,
  );
}

// ---------------------------------------------------------------------------------------------
// Resolution

/** Options of {@linkcode resize}. */
export interface ResizeOptions {
  /**
   * `"auto"` (default): area averaging along an axis that shrinks, bilinear with half-pixel
   * centres along one that grows: the filter {@linkcode toModelInput} uses for uploads.
   * `"bilinear"`: `tf.image.resizeBilinear` with half-pixel centres in both directions (aliases
   * when shrinking by more than 2).
   */
  method?: "auto" | "bilinear";
}

const ResizeOptionsSchema = z.object({ method: z.enum(["auto", "bilinear"]).optional() });

/** Dense [out, in] matrix of {@linkcode resampleWeights}, transposed to [in, out]. */
function resampleMatrixT(inSize: number, outSize: number): tf.Tensor2D {
  const wts = resampleWeights(inSize, outSize);
  const m = new Float32Array(inSize * outSize);
  for (let o = 0; o < outSize; o++) {
    for (let k = wts.start[o]; k < wts.start[o + 1]; k++) {
      m[wts.index[k] * outSize + o] += wts.weight[k];
    }
  }
  return tf.tensor2d(m, [inSize, outSize]);
}

/**
 * Resizes a batch to `height × width` (e.g. for resolution sweeps of a spatial-pyramid-pooling
 * model). The default `"auto"` method applies the separable resampling matrices of
 * {@linkcode resampleWeights} with two matrix products, so it is exact for integer area
 * factors, differentiable and fast on every backend; resizing to the same size is the identity.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomUniform([8, 32, 32, 3]) as tf.Tensor4D;
 * resize(x, 24, 24).shape; // [8, 24, 24, 3], each pixel an area average
 * resize(x, 48, 48, { method: "bilinear" }).shape; // [8, 48, 48, 3]
 * ```
 */
export function resize(
  x: tf.Tensor4D,
  height: number,
  width: number,
  options: ResizeOptions = {},
): tf.Tensor4D {
  requireImages(x, "resize");
  const { method = "auto" } = parse(ResizeOptionsSchema, options, "resize options");
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new RangeError(`resize: expected a positive integer size, got ${height}×${width}`);
  }
  const [n, h, w, c] = x.shape;
  if (method === "bilinear") {
    return tf.tidy(() => tf.image.resizeBilinear(x, [height, width], false, true));
  }
  return tf.tidy(() => {
    let y: tf.Tensor4D = x;
    if (width !== w) { // [N, H, W, C] -> [N·H·C, W] · [W, width]
      const rows = y.transpose([0, 1, 3, 2]).reshape([n * h * c, w]);
      y = rows.matMul(resampleMatrixT(w, width)).reshape([n, h, c, width]).transpose([0, 1, 3, 2]);
    }
    if (height !== h) { // [N, H, w, C] -> [N·w·C, H] · [H, height]
      const cols = y.transpose([0, 2, 3, 1]).reshape([n * width * c, h]);
      y = cols.matMul(resampleMatrixT(h, height)).reshape([n, width, c, height]).transpose([
        0,
        3,
        1,
        2,
      ]);
    }
    return y === x ? tf.clone(x) : y;
  });
}

// ---------------------------------------------------------------------------------------------
// Noise and the paper's perturbed test data

/**
 * A batch's random seed: one integer for the whole batch (the batch's values come from one
 * stream, so an image's draw depends on its position), or one integer per image (image i's
 * draw depends on `seed[i]` alone, whatever else is in the batch: what evaluation uses, so that
 * a measure does not depend on the batch size; lib/eval/measures.ts `imageSeeds`).
 */
export type BatchSeed = PerImage;

/** Checks a {@linkcode BatchSeed} for a batch of n images; returns the per-image list or undefined. */
function seedList(seed: BatchSeed, n: number, what: string): number[] | undefined {
  const list = typeof seed === "number" ? undefined : perImage(seed, n, `${what} seeds`);
  for (const s of list ?? [seed as number]) {
    if (!Number.isInteger(s)) throw new RangeError(`${what}: expected an integer seed, got ${s}`);
  }
  return list;
}

/** One uniform stream per image: the batch's shared stream, or each image's own. */
function uniformStreams(seed: BatchSeed, n: number, what: string): (() => number)[] {
  const list = seedList(seed, n, what);
  if (!list) return Array(n).fill(seededUniform(seed as number));
  return list.map((s) => seededUniform(s));
}

/**
 * Adds N(0, σ²) noise to every pixel and clips to [0, 1]. The noise comes from
 * `tf.randomNormal` with `seed` (or with each image's own seed), so it is the same for a seed
 * on every backend.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
 * const noisy = gaussianNoise(x, 0.1, 7);
 * const perImageNoise = gaussianNoise(x, 0.1, [3, 4]); // one seed per image
 * ```
 */
export function gaussianNoise(x: tf.Tensor4D, sigma: number, seed: BatchSeed): tf.Tensor4D {
  requireImages(x, "gaussianNoise");
  if (!(sigma >= 0) || !Number.isFinite(sigma)) {
    throw new RangeError(`gaussianNoise: expected σ ≥ 0, got ${sigma}`);
  }
  const list = seedList(seed, x.shape[0], "gaussianNoise");
  return tf.tidy(() => {
    if (sigma === 0) return tf.clipByValue(x, 0, 1);
    const [, h, w, c] = x.shape;
    const noise = list
      ? tf.concat(list.map((s) => tf.randomNormal([1, h, w, c], 0, sigma, "float32", s)), 0)
      : tf.randomNormal(x.shape, 0, sigma, "float32", seed as number);
    return tf.clipByValue(x.add(noise), 0, 1);
  });
}

/**
 * Defaults of {@linkcode perturb}: Gaussian noise σ = 0.05 (about 13 grey levels of 255) and a
 * random shift of up to 2 pixels each way.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
 * perturb(x, { ...PERTURB_DEFAULTS, sigma: 2 * PERTURB_DEFAULTS.sigma, seed: 0 });
 * ```
 */
export const PERTURB_DEFAULTS: { readonly sigma: number; readonly maxShift: number } = {
  sigma: 0.05,
  maxShift: 2,
};

/** Options of {@linkcode perturb}. */
export interface PerturbOptions {
  /** Noise standard deviation; default {@linkcode PERTURB_DEFAULTS}.sigma = 0.05. */
  sigma?: number;
  /** Largest shift in pixels along each axis; default {@linkcode PERTURB_DEFAULTS}.maxShift = 2. */
  maxShift?: number;
  /** Integer seed, or one per image ({@linkcode BatchSeed}): the same seed, the same perturbation. */
  seed: BatchSeed;
}

const PerturbOptionsSchema = z.object({
  sigma: z.number().finite().min(0).optional(),
  maxShift: z.number().int().min(0).optional(),
  seed: z.union([z.number().int(), z.array(z.number().int())]),
});

/**
 * The paper's "perturbed test data", as this lab defines it (the paper does not say): each
 * image is shifted by a random whole number of pixels in [−maxShift, maxShift] along each axis
 * (uniform, independent per image and axis, zero fill), then Gaussian noise of `sigma` is added
 * everywhere and the result clipped to [0, 1]. Deterministic for a seed; with one seed per image,
 * each image's shift and noise come from its own seed.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const testImages = tf.randomUniform([4, 32, 32, 3]) as tf.Tensor4D;
 * const perturbed = perturb(testImages, { seed: 1 }); // σ 0.05, shifts in [-2, 2]
 * const harder = perturb(testImages, { sigma: 0.1, maxShift: 4, seed: 1 });
 * ```
 */
export function perturb(x: tf.Tensor4D, options: PerturbOptions): tf.Tensor4D {
  requireImages(x, "perturb");
  const opts = parse(PerturbOptionsSchema, options, "perturb options");
  const sigma = opts.sigma ?? PERTURB_DEFAULTS.sigma,
    maxShift = opts.maxShift ?? PERTURB_DEFAULTS.maxShift;
  const streams = uniformStreams(opts.seed, x.shape[0], "perturb");
  const draw = (next: () => number) => Math.floor(next() * (2 * maxShift + 1)) - maxShift;
  const dx: number[] = [], dy: number[] = [];
  for (const next of streams) (dx.push(draw(next)), dy.push(draw(next)));
  return tf.tidy(() => {
    const moved = shift(x, dx, dy, { fill: 0 });
    return gaussianNoise(moved, sigma, opts.seed);
  });
}

/**
 * Rotates each image by its own angle drawn uniformly from [0°, 360°) (the paper's randomly
 * rotated test data, Fig. 3), reproducibly for a seed. Returns the images and the angles.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const testImages = tf.randomUniform([4, 32, 32, 3]) as tf.Tensor4D;
 * const { images, angles } = randomRotate(testImages, 3);
 * ```
 */
export function randomRotate(
  x: tf.Tensor4D,
  seed: BatchSeed,
  options: FillOptions = {},
): { images: tf.Tensor4D; angles: number[] } {
  requireImages(x, "randomRotate");
  const angles = uniformStreams(seed, x.shape[0], "randomRotate").map((next) => next() * 360);
  return { images: rotate(x, angles, options), angles };
}

// ---------------------------------------------------------------------------------------------
// Corruptions

/**
 * Gaussian blur with standard deviation `sigma` pixels: a separable kernel of radius
 * `ceil(3σ)`, as two convolutions over each channel. At the borders the kernel is cut off
 * and renormalised (zero padding divided by the kernel mass inside the image), so a constant
 * image stays constant everywhere and nothing darkens at the edges. σ = 0 is the identity.
 * Built from `tf.conv2d` on one channel at a time (not depthwise), so its gradient exists on
 * every backend.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
 * const soft = gaussianBlur(x, 1.5);
 * ```
 */
export function gaussianBlur(x: tf.Tensor4D, sigma: number): tf.Tensor4D {
  requireImages(x, "gaussianBlur");
  if (!(sigma >= 0) || !Number.isFinite(sigma)) {
    throw new RangeError(`gaussianBlur: expected σ ≥ 0, got ${sigma}`);
  }
  if (sigma === 0) return tf.clone(x);
  const [n, h, w, c] = x.shape;
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from(
    { length: 2 * radius + 1 },
    (_, t) => Math.exp(-((t - radius) ** 2) / (2 * sigma * sigma)),
  );
  const total = kernel.reduce((a, b) => a + b, 0);
  const k = kernel.map((v) => v / total);
  // Mass of the kernel that falls inside the image, per row and per column.
  const inside = (size: number) =>
    Array.from(
      { length: size },
      (_, i) =>
        k.reduce((s, v, t) => s + (i + t - radius >= 0 && i + t - radius < size ? v : 0), 0),
    );
  const rows = inside(h), cols = inside(w);
  const norm = new Float32Array(h * w);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) norm[i * w + j] = rows[i] * cols[j];
  return tf.tidy(() => {
    const planes = x.transpose([0, 3, 1, 2]).reshape([n * c, h, w, 1]) as tf.Tensor4D;
    const vertical = tf.conv2d(planes, tf.tensor4d(k, [k.length, 1, 1, 1]), 1, "same");
    const both = tf.conv2d(vertical, tf.tensor4d(k, [1, k.length, 1, 1]), 1, "same");
    const normalised = both.div(tf.tensor4d(norm, [1, h, w, 1]));
    return normalised.reshape([n, c, h, w]).transpose([0, 2, 3, 1]) as tf.Tensor4D;
  });
}

/**
 * Scales each image's deviation from its own per-channel mean by `factor` and clips to [0, 1]:
 * `out = mean + factor · (x − mean)` (the contrast corruption of CIFAR-10-C, Hendrycks &
 * Dietterich 2019). 1 is the identity, 0 a flat image of the mean colour, above 1 more contrast.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
 * const washedOut = contrast(x, 0.3);
 * ```
 */
export function contrast(x: tf.Tensor4D, factor: number): tf.Tensor4D {
  requireImages(x, "contrast");
  if (!(factor >= 0) || !Number.isFinite(factor)) {
    throw new RangeError(`contrast: expected a factor ≥ 0, got ${factor}`);
  }
  return tf.tidy(() => {
    const mean = x.mean([1, 2], true);
    return tf.clipByValue(mean.add(x.sub(mean).mul(factor)), 0, 1);
  });
}

/**
 * Round-trips each image through JPEG at `quality` (1–100) with libvips (through `sharp`, the
 * library that decodes the server's uploads) on the CPU: values are clipped to [0, 1] and
 * quantised to 8 bits, encoded (baseline, 4:2:0 chroma for colour, libjpeg's standard tables
 * scaled by `quality`), decoded, and scaled back. One-channel images are encoded and read back
 * as grey JPEGs. Not differentiable; asynchronous because it reads the tensor back from the
 * device and because libvips works off the JavaScript thread (the images of a batch in parallel).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
 * const blocky = await jpegCompress(x, 20);
 * ```
 */
export async function jpegCompress(x: tf.Tensor4D, quality: number): Promise<tf.Tensor4D> {
  requireImages(x, "jpegCompress");
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new RangeError(`jpegCompress: expected an integer quality 1–100, got ${quality}`);
  }
  const [n, h, w, c] = x.shape;
  if (c !== 1 && c !== 3) throw new RangeError(`jpegCompress: expected 1 or 3 channels, got ${c}`);
  const src = await x.data();
  const size = h * w * c;
  const out = new Float32Array(src.length);
  await Promise.all(Array.from({ length: n }, async (_, i) => {
    const pixels = new Uint8Array(size);
    for (let p = 0; p < size; p++) {
      pixels[p] = Math.round(Math.min(Math.max(src[i * size + p], 0), 1) * 255);
    }
    const raw = { raw: { width: w, height: h, channels: c } } as const;
    const space = c === 1 ? "b-w" : "srgb";
    // sharp writes and reads sRGB unless told otherwise: a one-channel image stays grey.
    const encoded = await sharp(pixels, raw).toColourspace(space)
      .jpeg({ quality, chromaSubsampling: "4:2:0", mozjpeg: false })
      .toBuffer();
    const { data, info } = await sharp(encoded).toColourspace(space).raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.width !== w || info.height !== h || info.channels !== c) {
      throw new Error(
        `jpegCompress: expected libvips to decode ${w}×${h}×${c}, got ${info.width}×${info.height}×${info.channels}`,
      );
    }
    for (let p = 0; p < size; p++) out[i * size + p] = data[p] / 255;
  }));
  return tf.tensor4d(out, [n, h, w, c]);
}
