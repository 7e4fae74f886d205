/**
 * Turning a decoded image into a model input: one resize to the model's input size (area
 * averaging when shrinking, bilinear when enlarging), grey by BT.601 luma when the model wants
 * one channel, and scaling to [0, 1]. The server makes this input once per upload and runs the
 * transforms (rot90, rotate, zoom) on that tensor, so a 90° turn is an exact array rotation.
 *
 * Why our own resize and not libvips': libvips' shrink is a box filter only for integer factors
 * and its reduce uses a cubic/Lanczos kernel, while {@linkcode resampleWeights} is the exact
 * area average for any factor, shared with `resize` in lib/transforms.ts (the training
 * pipeline), so served inputs are resampled exactly as the training and evaluation data were.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import type { DecodedImage } from "./decode.ts";

/**
 * Sparse 1-D resampling weights in compressed rows: output `o` is
 * `Σ weight[k] · input[index[k]]` over `k` in `[start[o], start[o + 1])`.
 */
export interface ResampleWeights {
  /** `outSize + 1` offsets into `index` and `weight`. */
  start: Int32Array;
  /** Source sample of each entry. */
  index: Int32Array;
  /** Weight of each entry; the weights of one output sum to 1. */
  weight: Float64Array;
}

/**
 * 1-D resampling weights from `inSize` to `outSize` samples. Shrinking (or keeping the size)
 * uses area averaging: output `o` covers the source interval `[o·s, (o+1)·s)` with
 * `s = inSize / outSize`, and each source sample is weighted by the fraction of that interval
 * it covers (a box filter over the exact footprint). Enlarging uses bilinear interpolation with
 * half-pixel centres: output `o` samples the source at `(o + ½)·s − ½`, clamped to the edges
 * (TensorFlow's `half_pixel_centers`). The same size is exactly the identity.
 *
 * @example
 * ```ts
 * const w = resampleWeights(4, 2); // each output averages two inputs
 * // w.start = [0, 2, 4], w.index = [0, 1, 2, 3], w.weight = [0.5, 0.5, 0.5, 0.5]
 * ```
 */
export function resampleWeights(inSize: number, outSize: number): ResampleWeights {
  if (!Number.isInteger(inSize) || !Number.isInteger(outSize) || inSize < 1 || outSize < 1) {
    throw new RangeError(`Expected positive integer sizes, got ${inSize} -> ${outSize}`);
  }
  const start = new Int32Array(outSize + 1);
  const index: number[] = [];
  const weight: number[] = [];
  const s = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    start[o] = index.length;
    if (outSize <= inSize) {
      // Integer arithmetic on the interval [o·in, (o+1)·in) in units of 1/out keeps integer
      // factors exact: every weight is then exactly 1/s.
      const a = o * inSize, b = (o + 1) * inSize;
      for (let p = Math.floor(a / outSize); p * outSize < b; p++) {
        const overlap = Math.min(b, (p + 1) * outSize) - Math.max(a, p * outSize);
        if (overlap > 0) {
          index.push(p);
          weight.push(overlap / inSize);
        }
      }
    } else {
      const x = Math.min(Math.max((o + 0.5) * s - 0.5, 0), inSize - 1);
      const p = Math.floor(x), f = x - p;
      index.push(p);
      weight.push(1 - f);
      if (f > 0) {
        index.push(p + 1);
        weight.push(f);
      }
    }
  }
  start[outSize] = index.length;
  return { start, index: Int32Array.from(index), weight: Float64Array.from(weight) };
}

/** The size of a model input; channels 1 is grey (BT.601 luma), 3 is RGB. */
export interface ModelInputSize {
  /** Output height in pixels. */
  height: number;
  /** Output width in pixels. */
  width: number;
  /** 1 for grey (BT.601 luma), 3 for RGB. */
  channels: 1 | 3;
}

const ModelInputSizeSchema = z.object({
  height: z.number().int().positive(),
  width: z.number().int().positive(),
  channels: z.union([z.literal(1), z.literal(3)]),
});

/**
 * ITU-R BT.601 luma weights, as in PIL's `convert("L")` and TensorFlow's `rgb_to_grayscale`.
 *
 * @example
 * ```ts
 * const [r, g, b] = LUMA_BT601;
 * const luma = r * 200 + g * 100 + b * 50; // 124.2
 * ```
 */
export const LUMA_BT601 = [0.299, 0.587, 0.114] as const;

/**
 * Resizes a decoded image to a model's input size and scales it to [0, 1], HWC float32:
 * area averaging along an axis that shrinks, bilinear (half-pixel centres) along one that
 * grows (see {@linkcode resampleWeights}), identity along one that keeps its size. With
 * `channels: 1` the image is first converted to grey with the BT.601 luma
 * `0.299 R + 0.587 G + 0.114 B`. Filtering happens on the stored (sRGB-encoded) values, as in
 * PIL and TensorFlow.
 *
 * @example
 * ```ts
 * import { decodeImage } from "./decode.ts";
 * const img = await decodeImage(await Deno.readFile("routes/static/samples/cat.jpg"));
 * const x = toModelInput(img, { height: 32, width: 32, channels: 3 }); // 32·32·3 floats
 * ```
 */
export function toModelInput(img: DecodedImage, size: ModelInputSize): Float32Array {
  const parsed = ModelInputSizeSchema.safeParse(size);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`Invalid model input size: ${issue.path.join(".")}: ${issue.message}`);
  }
  const { height, width, channels } = parsed.data;
  const { width: w, height: h } = img;
  if (img.data.length !== w * h * 3) {
    throw new RangeError(
      `Expected ${w}×${h}×3 = ${w * h * 3} bytes of RGB, got ${img.data.length}`,
    );
  }
  // Width first, one source row at a time: shrinking a 12-MP photo then touches each source
  // byte once and keeps only an h × width intermediate.
  const cols = resampleWeights(w, width), rows = resampleWeights(h, height);
  const tmp = new Float64Array(h * width * channels);
  const line = new Float64Array(w * channels);
  const d = img.data;
  for (let y = 0; y < h; y++) {
    const base = y * w * 3;
    if (channels === 1) {
      for (let x = 0; x < w; x++) {
        const p = base + 3 * x;
        line[x] = LUMA_BT601[0] * d[p] + LUMA_BT601[1] * d[p + 1] + LUMA_BT601[2] * d[p + 2];
      }
    } else {
      for (let i = 0; i < w * 3; i++) line[i] = d[base + i];
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      for (let k = cols.start[x]; k < cols.start[x + 1]; k++) {
        const wt = cols.weight[k], s = cols.index[k] * channels;
        for (let c = 0; c < channels; c++) tmp[o + c] += wt * line[s + c];
      }
    }
  }
  const out = new Float32Array(height * width * channels);
  const acc = new Float64Array(width * channels);
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    for (let k = rows.start[y]; k < rows.start[y + 1]; k++) {
      const wt = rows.weight[k], s = rows.index[k] * width * channels;
      for (let i = 0; i < acc.length; i++) acc[i] += wt * tmp[s + i];
    }
    for (let i = 0; i < acc.length; i++) out[y * width * channels + i] = acc[i] / 255;
  }
  return out;
}

/**
 * A decoded image as a `[1, H, W, C]` float32 tensor in [0, 1]: resized with
 * {@linkcode toModelInput} when `size` is given, else at full size in RGB.
 *
 * @example
 * ```ts
 * import { decodeImage } from "./decode.ts";
 * const bytes = await Deno.readFile("routes/static/samples/cat.jpg");
 * const x = imageToTensor(await decodeImage(bytes), { height: 32, width: 32, channels: 3 });
 * x.shape; // [1, 32, 32, 3]
 * ```
 */
export function imageToTensor(img: DecodedImage, size?: ModelInputSize): tf.Tensor4D {
  const s = size ?? { height: img.height, width: img.width, channels: 3 as const };
  return tf.tensor4d(toModelInput(img, s), [1, s.height, s.width, s.channels]);
}
