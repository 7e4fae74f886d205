/**
 * Classification of decoded images with their transforms: the originals and all their
 * transforms go through each model as one batch, and each transform gets an invariance score.
 * {@linkcode InferenceQueue} (queue.ts) decides which requests share a batch; the Hono routes
 * in routes/ are thin wrappers over both.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Buffer } from "node:buffer";
import sharp from "sharp";
import type { LoadedModel } from "../model/checkpoint.ts";
import type { DecodedImage } from "../image/decode.ts";
import { toModelInput } from "../image/resample.ts";
import { argmax, invarianceScore, topK } from "../eval/invariance.ts";
import type { ModelName } from "../model/models.ts";
import { flip, type FlipAxis, rot90, rotate, zoom } from "../transforms.ts";

/**
 * One requested transform: a rotation in degrees, a zoom factor, or an exact mirror (`h`
 * left-right, `v` upside down).
 */
export type Transform =
  | { kind: "rotate" | "scale"; value: number }
  | { kind: "flip"; value: FlipAxis };

/**
 * Applies one transform to a batch: exact array flips, exact rot90 for multiples of 90°
 * (square inputs), so that an exactly invariant model scores 1 on them.
 */
export function applyTransform(x: tf.Tensor4D, t: Transform): tf.Tensor4D {
  if (t.kind === "flip") return flip(x, t.value);
  if (t.kind === "scale") return zoom(x, t.value);
  const [, h, w] = x.shape;
  const quarter = t.value / 90;
  if (Number.isInteger(quarter) && (h === w || quarter % 2 === 0)) return rot90(x, quarter);
  return rotate(x, t.value); // bilinear about the centre, fill 0 (black) outside the image
}

/** One of the top-k classes. */
export interface TopEntry {
  index: number;
  label: string;
  probability: number;
}

/** The classification of one image and its transforms by one model. */
export interface ModelResult {
  model: ModelName;
  original: { top: TopEntry[] };
  transforms: (Transform & {
    top: TopEntry[];
    /** `1 − JSD(p, q)` in bits, in [0, 1]. */
    invariance: number;
    top1Agrees: boolean;
  })[];
  /** The original's full class distribution, when the job asked for `probabilities`. */
  probabilities?: number[];
  /**
   * The inputs as the model saw them (resized, grey for grey models, then transformed), as
   * base64 PNGs, when the job asked for `inputs`: the original, then one per transform.
   */
  inputs?: { original: string; transforms: string[] };
  /** Mean invariance over the transforms; null without transforms. */
  meanInvariance: number | null;
  /** Wall time of the model call that included this image (resize, transforms, predict). */
  ms: number;
  /** That model call's batch: how many requests and images it held. */
  batch: { requests: number; images: number };
}

/**
 * An image already at a model's input size: HWC float32 in [0, 1] (the Open Inference
 * Protocol's FP32 input), used as it is instead of being resized.
 */
export interface ModelPixels {
  data: Float32Array;
  height: number;
  width: number;
  channels: 1 | 3;
}

/** One image to classify, with its transforms, by some of the loaded models. */
export interface ClassifyJob {
  /** A decoded image (resized per model), or pixels at the size of every model in `models`. */
  image: DecodedImage | ModelPixels;
  models: LoadedModel[];
  transforms: Transform[];
  /** How many classes to list per prediction. */
  k: number;
  /** Also return the original's full class distribution (`probabilities`). */
  probabilities?: boolean;
  /** Also return the model's inputs as PNGs (`inputs`), e.g. for `/classify?inputs=png`. */
  inputs?: boolean;
}

/** The pixels of `image` for a model of size `h`×`w`×`c`: resized, or checked to fit. */
function modelInput(image: ClassifyJob["image"], h: number, w: number, c: 1 | 3): Float32Array {
  if (!(image.data instanceof Float32Array)) {
    return toModelInput(image as DecodedImage, { height: h, width: w, channels: c });
  }
  const p = image as ModelPixels;
  if (p.height !== h || p.width !== w || p.channels !== c || p.data.length !== h * w * c) {
    throw new RangeError(
      `Expected model pixels of ${h}×${w}×${c}, got ${p.height}×${p.width}×${p.channels}`,
    );
  }
  return p.data;
}

/** One HWC image in [0, 1] as a base64 PNG (8-bit, grey or RGB). */
async function pngBase64(x: Float32Array, h: number, w: number, c: 1 | 3): Promise<string> {
  const bytes = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, x[i])) * 255);
  const png = await sharp(bytes, { raw: { width: w, height: h, channels: c } }).png().toBuffer();
  return Buffer.from(png).toString("base64");
}

const round6 = (v: number) => Number(v.toFixed(6));

/**
 * Classifies several jobs with one model call per model: the originals and all their
 * transforms, for every job that asks for that model, go through it as one batch. Returns, per
 * job, one result per model it asked for (in its order). Leaves no tensors behind.
 *
 * @example
 * ```ts ignore
 * // not run: needs a checkpoint written by `deno task train`
 * const [[r]] = await classifyBatch([{ image, models: [served], transforms, k: 5 }]);
 * r.transforms[0].invariance; // 1 − JSD(p, q) in bits
 * ```
 */
export async function classifyBatch(
  jobs: ClassifyJob[],
  onModelCall: (model: ModelName, requests: number, images: number) => void = () => {},
): Promise<ModelResult[][]> {
  const out: Map<LoadedModel, ModelResult>[] = jobs.map(() => new Map());
  // Model inputs per job and size: both models usually share one (a 12-MP resize is ~50 ms).
  const inputs = jobs.map(() => new Map<string, Float32Array>());
  const models = [...new Set(jobs.flatMap((j) => j.models))];
  for (const served of models) {
    const started = performance.now();
    const wanting = jobs.flatMap((j, i) => j.models.includes(served) ? [i] : []);
    const [h, w] = served.inputSize;
    const c = served.channels;
    const key = `${h}×${w}×${c}`;
    const images = wanting.reduce((s, i) => s + 1 + jobs[i].transforms.length, 0);
    const probs = tf.tidy(() => {
      const parts = wanting.flatMap((i) => {
        let input = inputs[i].get(key);
        if (!input) {
          input = modelInput(jobs[i].image, h, w, c);
          inputs[i].set(key, input);
        }
        const x = tf.tensor4d(input, [1, h, w, c]);
        return [x, ...jobs[i].transforms.map((t) => applyTransform(x, t))];
      });
      const batch = parts.length === 1 ? parts[0] : tf.concat(parts);
      // predict() splits into batches of 32 unless told otherwise: one call for all.
      const logits = served.model.predict(batch, { batchSize: images }) as tf.Tensor;
      // The batch itself is kept only when some job wants to see its inputs.
      return [tf.softmax(logits), ...(wanting.some((i) => jobs[i].inputs) ? [tf.keep(batch)] : [])];
    });
    let flat: Float32Array;
    let pixels: Float32Array | undefined;
    try {
      flat = await probs[0].data() as Float32Array;
      pixels = await probs[1]?.data() as Float32Array | undefined;
    } finally {
      tf.dispose(probs);
    }
    const ms = Number((performance.now() - started).toFixed(2));
    onModelCall(served.name, wanting.length, images);
    const classNames = served.meta.dataset.classNames;
    const n = flat.length / images;
    const named = (p: Float32Array, k: number): TopEntry[] =>
      topK(p, k).map(({ index, probability }) => ({
        index,
        label: classNames[index] ?? String(index),
        probability: round6(probability),
      }));
    let row = 0;
    for (const i of wanting) {
      const job = jobs[i];
      const p = flat.subarray(row * n, (row + 1) * n);
      const top1 = argmax(p);
      const transforms = job.transforms.map((t, j) => {
        const q = flat.subarray((row + 1 + j) * n, (row + 2 + j) * n);
        return {
          ...t,
          top: named(q, job.k),
          invariance: round6(invarianceScore(p, q)),
          top1Agrees: top1 === argmax(q),
        };
      });
      let seen: ModelResult["inputs"];
      if (job.inputs && pixels) {
        const size = h * w * c;
        const png = (r: number) => pngBase64(pixels.subarray(r * size, (r + 1) * size), h, w, c);
        const [original, ...rest] = await Promise.all(
          Array.from({ length: 1 + job.transforms.length }, (_, j) => png(row + j)),
        );
        seen = { original, transforms: rest };
      }
      row += 1 + job.transforms.length;
      out[i].set(served, {
        model: served.name,
        original: { top: named(p, job.k) },
        ...(job.probabilities ? { probabilities: Array.from(p) } : {}),
        ...(seen ? { inputs: seen } : {}),
        transforms,
        meanInvariance: transforms.length
          ? round6(transforms.reduce((s, t) => s + t.invariance, 0) / transforms.length)
          : null,
        ms,
        batch: { requests: wanting.length, images },
      });
    }
  }
  return jobs.map((j, i) => j.models.map((m) => out[i].get(m)!));
}

/**
 * Classifies one decoded image and its transforms with one model, as one batch.
 *
 * @example
 * ```ts ignore
 * // not run: needs a checkpoint written by `deno task train`
 * const r = await classifyImage(served, image, [{ kind: "rotate", value: 90 }], 5);
 * r.transforms[0].invariance; // 1 − JSD(p, q) in bits
 * ```
 */
export async function classifyImage(
  served: LoadedModel,
  image: DecodedImage,
  transforms: Transform[],
  k: number,
): Promise<ModelResult> {
  const [[result]] = await classifyBatch([{ image, models: [served], transforms, k }]);
  return result;
}
