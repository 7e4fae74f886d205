/**
 * Classification of decoded images with their transforms: the originals and all their
 * transforms go through each model as one batch, and each transform gets an invariance score.
 * {@linkcode InferenceQueue} (queue.ts) decides which requests share a batch; the Hono routes
 * in routes/ are thin wrappers over both.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LoadedModel } from "../model/checkpoint.ts";
import type { DecodedImage } from "../image/decode.ts";
import { toModelInput } from "../image/resample.ts";
import { argmax, invarianceScore, topK } from "../eval/invariance.ts";
import type { ModelName } from "../model/models.ts";
import { rot90, rotate, zoom } from "../transforms.ts";

/** One requested transform. */
export interface Transform {
  kind: "rotate" | "scale";
  value: number;
}

/** Applies one transform to a batch: exact rot90 for multiples of 90° (square inputs). */
function applyTransform(x: tf.Tensor4D, t: Transform): tf.Tensor4D {
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
  transforms: {
    kind: Transform["kind"];
    value: number;
    top: TopEntry[];
    /** `1 − JSD(p, q)` in bits, in [0, 1]. */
    invariance: number;
    top1Agrees: boolean;
  }[];
  /** Mean invariance over the transforms; null without transforms. */
  meanInvariance: number | null;
  /** Wall time of the model call that included this image (resize, transforms, predict). */
  ms: number;
  /** That model call's batch: how many requests and images it held. */
  batch: { requests: number; images: number };
}

/** One image to classify, with its transforms, by some of the loaded models. */
export interface ClassifyJob {
  image: DecodedImage;
  models: LoadedModel[];
  transforms: Transform[];
  /** How many classes to list per prediction. */
  k: number;
}

const round6 = (v: number) => Number(v.toFixed(6));

/**
 * Classifies several jobs with one model call per model: the originals and all their
 * transforms, for every job that asks for that model, go through it as one batch. Returns, per
 * job, one result per model it asked for (in its order). Leaves no tensors behind.
 *
 * @example
 * ```ts
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
          input = toModelInput(jobs[i].image, { height: h, width: w, channels: c });
          inputs[i].set(key, input);
        }
        const x = tf.tensor4d(input, [1, h, w, c]);
        return [x, ...jobs[i].transforms.map((t) => applyTransform(x, t))];
      });
      const batch = parts.length === 1 ? parts[0] : tf.concat(parts);
      // predict() splits into batches of 32 unless told otherwise: one call for all.
      const logits = served.model.predict(batch, { batchSize: images }) as tf.Tensor;
      return tf.softmax(logits);
    });
    let flat: Float32Array;
    try {
      flat = await probs.data() as Float32Array;
    } finally {
      probs.dispose();
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
          kind: t.kind,
          value: t.value,
          top: named(q, job.k),
          invariance: round6(invarianceScore(p, q)),
          top1Agrees: top1 === argmax(q),
        };
      });
      row += 1 + job.transforms.length;
      out[i].set(served, {
        model: served.name,
        original: { top: named(p, job.k) },
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
 * ```ts
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
