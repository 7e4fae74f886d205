/**
 * Serving without HTTP: loading the checkpoints, a bounded inference queue, and the
 * classification of one image with its transforms (all in one batch per model). The Hono
 * routes in routes/ are thin wrappers over this.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type CheckpointMeta, loadCheckpoint } from "./checkpoint.ts";
import { type DecodedImage, toModelInput } from "./image.ts";
import { argmax, invarianceScore, topK } from "./invariance.ts";
import { countParams, MODEL_NAMES, type ModelName } from "./models.ts";
import { rot90, rotate, zoom } from "./transforms.ts";

/** A loaded model ready to serve. */
export interface ServedModel {
  name: ModelName;
  model: tf.LayersModel;
  meta: CheckpointMeta;
  dir: string;
  /** Training input size [H, W] and channels: uploads are resized to this. */
  inputSize: [number, number];
  channels: number;
  params: number;
}

/** Loads `<dir>/baseline` and `<dir>/symmetric`, whichever exist; fails if none does. */
export async function loadServedModels(
  dir: string,
  log: (line: string) => void = () => {},
): Promise<ServedModel[]> {
  const out: ServedModel[] = [];
  const missing: string[] = [];
  for (const name of MODEL_NAMES) {
    const path = `${dir}/${name}`;
    try {
      await Deno.stat(`${path}/meta.json`);
    } catch {
      missing.push(path);
      continue;
    }
    const { model, meta } = await loadCheckpoint(path);
    const training = meta.training as { inputSize?: [number, number] } | undefined;
    const [h, w] = training?.inputSize ?? [32, 32];
    out.push({
      name,
      model,
      meta,
      dir: path,
      inputSize: [h, w],
      channels: meta.config.inputShape[2],
      params: countParams(model),
    });
    log(`loaded ${name} from ${path} (${meta.dataset.name}, epoch ${meta.epoch})`);
  }
  if (out.length === 0) {
    throw new Error(
      `no checkpoints found: expected ${missing.join(" and/or ")} (run deno task train)`,
    );
  }
  return out;
}

/** Thrown when the inference queue is full (HTTP 503). */
export class QueueFullError extends Error {
  override name = "QueueFullError";
}

/**
 * Runs inference jobs one at a time (tfjs computes on one thread; interleaving would only add
 * latency), with at most `capacity` jobs waiting. Beyond that, {@linkcode QueueFullError}.
 */
export class InferenceQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #waiting = 0;
  #running = 0;
  constructor(readonly capacity: number) {}

  /** Jobs waiting or running. */
  get depth(): number {
    return this.#waiting + this.#running;
  }

  run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#waiting >= this.capacity) {
      throw new QueueFullError(
        `the inference queue is full (${this.capacity} waiting); retry later`,
      );
    }
    this.#waiting++;
    const result = this.#tail.then(async () => {
      this.#waiting--;
      this.#running++;
      try {
        return await job();
      } finally {
        this.#running--;
      }
    });
    this.#tail = result.catch(() => {});
    return result;
  }
}

/** One requested transform. */
export interface Transform {
  kind: "rotate" | "scale";
  value: number;
}

/** Applies one transform to a batch: exact rot90 for multiples of 90° on square images. */
function applyTransform(x: tf.Tensor4D, t: Transform): tf.Tensor4D {
  if (t.kind === "scale") return zoom(x, t.value);
  const [, h, w] = x.shape;
  const quarter = t.value / 90;
  if (Number.isInteger(quarter) && (h === w || quarter % 2 === 0)) return rot90(x, quarter);
  return rotate(x, t.value);
}

/** The classification of one image by one model. */
export interface ModelResult {
  model: ModelName;
  original: { top: TopEntry[] };
  transforms: {
    kind: Transform["kind"];
    value: number;
    top: TopEntry[];
    invariance: number;
    top1Agrees: boolean;
  }[];
  meanInvariance: number | null;
  ms: number;
}

/** One of the top-k classes. */
export interface TopEntry {
  index: number;
  label: string;
  probability: number;
}

/**
 * Classifies an image and its transforms with one model, as one batch.
 *
 * @example
 * ```ts
 * const r = await classifyImage(served, image, [{ kind: "rotate", value: 90 }], 5);
 * r.transforms[0].invariance; // 1 − JSD(p, q) in bits
 * ```
 */
export async function classifyImage(
  served: ServedModel,
  image: DecodedImage,
  transforms: Transform[],
  k: number,
): Promise<ModelResult> {
  const started = performance.now();
  const [h, w] = served.inputSize;
  const input = toModelInput(image, { height: h, width: w, channels: served.channels as 1 | 3 });
  const probs = tf.tidy(() => {
    const x = tf.tensor4d(input, [1, h, w, served.channels]);
    const batch = tf.concat([x, ...transforms.map((t) => applyTransform(x, t))]);
    return tf.softmax(served.model.predict(batch) as tf.Tensor);
  });
  const flat = await probs.data() as Float32Array;
  probs.dispose();
  const n = served.meta.dataset.classNames.length;
  const row = (i: number) => flat.subarray(i * n, (i + 1) * n);
  const named = (p: Float32Array): TopEntry[] =>
    topK(p, k).map(({ index, probability }) => ({
      index,
      label: served.meta.dataset.classNames[index] ?? String(index),
      probability: Number(probability.toFixed(6)),
    }));
  const p = row(0);
  const results = transforms.map((t, i) => {
    const q = row(i + 1);
    return {
      kind: t.kind,
      value: t.value,
      top: named(q),
      invariance: Number(invarianceScore(p, q).toFixed(6)),
      top1Agrees: argmax(p) === argmax(q),
    };
  });
  const mean = results.length
    ? Number((results.reduce((s, r) => s + r.invariance, 0) / results.length).toFixed(6))
    : null;
  return {
    model: served.name,
    original: { top: named(p) },
    transforms: results,
    meanInvariance: mean,
    ms: Number((performance.now() - started).toFixed(2)),
  };
}
