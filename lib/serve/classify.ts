/**
 * Serving without HTTP: loading the checkpoints, the classification of images with their
 * transforms (the original and all its transforms in one batch per model), and a bounded
 * inference queue that micro-batches the requests waiting in it. The Hono routes in routes/
 * are thin wrappers over this.
 *
 * Why one worker: tfjs computes on the JavaScript thread (wasm, cpu) or one device queue
 * (WebGPU), so running two model calls at once only interleaves them. Instead, whatever
 * requests arrived while a batch was running are classified together in the next one: one
 * model call over all their images, which costs less than one call each (per-op overhead is
 * paid once). A lone request is never held back to wait for company.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type CheckpointMeta, loadCheckpoint } from "../model/checkpoint.ts";
import { type DecodedImage, decodeImage, type ImageType, toModelInput } from "../image/decode.ts";
import { argmax, invarianceScore, topK } from "../eval/invariance.ts";
import { countParams, MODEL_NAMES, type ModelName } from "../model/models.ts";
import { rot90, rotate, zoom } from "../transforms.ts";

/** A loaded model ready to serve. */
export interface ServedModel {
  name: ModelName;
  model: tf.LayersModel;
  meta: CheckpointMeta;
  dir: string;
  /** Input size [H, W] that uploads are resized to (see {@linkcode servedInputSize}). */
  inputSize: [number, number];
  /** 1 (grey, e.g. Fashion-MNIST) or 3 (RGB): uploads are converted to this. */
  channels: 1 | 3;
  params: number;
}

/** Thrown when no checkpoint can be served; the message is one line. */
export class ServeError extends Error {
  override name = "ServeError";
}

/** Side used when a checkpoint records no input size (CIFAR's 32×32). */
export const DEFAULT_INPUT_SIDE = 32;

/**
 * The size uploads are resized to: the fixed input shape of the model config if it has one,
 * else the size the model was trained at (`meta.training.inputSize`, written by lib/train.ts),
 * else 32×32. Returns where the size came from, for the start-up log.
 *
 * @example
 * ```ts
 * const { size, source } = servedInputSize(meta); // [32, 32], "meta.training.inputSize"
 * ```
 */
export function servedInputSize(
  meta: CheckpointMeta,
): { size: [number, number]; source: string } {
  const [h, w] = meta.config.inputShape;
  if (h && w) return { size: [h, w], source: "meta.config.inputShape" };
  const trained = (meta.training as { inputSize?: unknown } | undefined)?.inputSize;
  if (
    Array.isArray(trained) && trained.length === 2 &&
    trained.every((v) => Number.isInteger(v) && v > 0)
  ) {
    return { size: [trained[0], trained[1]], source: "meta.training.inputSize" };
  }
  return {
    size: [DEFAULT_INPUT_SIDE, DEFAULT_INPUT_SIDE],
    source: "assumed: meta.json records no input size",
  };
}

/**
 * Loads `<dir>/baseline` and `<dir>/symmetric`, whichever exist. Throws {@linkcode ServeError}
 * when neither does, and the checkpoint's own error (naming the file) when one is corrupt.
 *
 * @example
 * ```ts
 * const models = await loadServedModels("checkpoints", console.log);
 * models.map((m) => m.name); // ["baseline", "symmetric"]
 * ```
 */
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
    const channels = meta.config.inputShape[2];
    if (channels !== 1 && channels !== 3) {
      throw new ServeError(
        `${path}/meta.json: expected a model with 1 or 3 input channels, got ${channels}`,
      );
    }
    const { size, source } = servedInputSize(meta);
    out.push({
      name,
      model,
      meta,
      dir: path,
      inputSize: size,
      channels,
      params: countParams(model),
    });
    log(
      `loaded ${name} from ${path} (${meta.dataset.name}, epoch ${meta.epoch}, input ${
        size.join("×")
      }×${channels} from ${source})`,
    );
  }
  if (out.length === 0) {
    throw new ServeError(
      `no checkpoints found: expected ${missing.join(" and/or ")} (train with deno task train)`,
    );
  }
  return out;
}

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
  models: ServedModel[];
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
  const out: Map<ServedModel, ModelResult>[] = jobs.map(() => new Map());
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
  served: ServedModel,
  image: DecodedImage,
  transforms: Transform[],
  k: number,
): Promise<ModelResult> {
  const [[result]] = await classifyBatch([{ image, models: [served], transforms, k }]);
  return result;
}

/** Thrown when the inference queue is full (HTTP 503). */
export class QueueFullError extends Error {
  override name = "QueueFullError";
}

/** What the queue classifies: encoded bytes, decoded on the worker (see {@linkcode InferenceQueue}). */
export interface ClassifyRequest {
  bytes: Uint8Array;
  /** Refuse larger images (checked from the header before decoding). */
  maxPixels?: number;
  models: ServedModel[];
  transforms: Transform[];
  k: number;
}

/** What the queue returns for a {@linkcode ClassifyRequest}. */
export interface ClassifyResponse {
  image: { type: ImageType; width: number; height: number };
  results: ModelResult[];
}

/** Options of {@linkcode InferenceQueue}. */
export interface QueueOptions {
  /** Requests allowed to wait; one more gets {@linkcode QueueFullError}. */
  capacity: number;
  /** Most images (originals + transforms) in one micro-batch; a larger request runs alone. */
  maxBatchImages?: number;
  /** Called after each model call with its batch size. */
  onModelCall?: (model: ModelName, requests: number, images: number) => void;
}

type Entry =
  | {
    kind: "run";
    job: () => Promise<unknown>;
    resolve(v: unknown): void;
    reject(e: unknown): void;
  }
  | {
    kind: "classify";
    request: ClassifyRequest;
    images: number;
    resolve(v: ClassifyResponse): void;
    reject(e: unknown): void;
  };

/**
 * A bounded FIFO in front of the models with one worker. At most `capacity` requests wait;
 * beyond that {@linkcode QueueFullError} is thrown at once. Each turn of the worker takes the
 * request at the head together with the classify requests behind it (up to `maxBatchImages`
 * images) and runs them as one {@linkcode classifyBatch}. Images are decoded on the worker, so
 * at most one batch of decoded images is in memory however long the queue is.
 *
 * @example
 * ```ts
 * const queue = new InferenceQueue({ capacity: 64 });
 * const { results } = await queue.classify({ bytes, models, transforms, k: 5 });
 * ```
 */
export class InferenceQueue {
  readonly capacity: number;
  readonly maxBatchImages: number;
  #entries: Entry[] = [];
  #running = 0;
  #busy = false;
  #onModelCall: QueueOptions["onModelCall"];

  constructor(options: QueueOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(`queue capacity: expected an integer ≥ 1, got ${options.capacity}`);
    }
    this.capacity = options.capacity;
    this.maxBatchImages = options.maxBatchImages ?? 64;
    this.#onModelCall = options.onModelCall;
  }

  /** Requests waiting or running. */
  get depth(): number {
    return this.#entries.length + this.#running;
  }

  /** Runs exclusive work on the worker (e.g. a warm-up), queued like a request. */
  run<T>(job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#push({ kind: "run", job, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /** Decodes and classifies an image (micro-batched with the requests waiting beside it). */
  classify(request: ClassifyRequest): Promise<ClassifyResponse> {
    return new Promise<ClassifyResponse>((resolve, reject) => {
      const images = 1 + request.transforms.length;
      this.#push({ kind: "classify", request, images, resolve, reject });
    });
  }

  #push(entry: Entry): void {
    if (this.#entries.length >= this.capacity) {
      throw new QueueFullError(
        `the inference queue is full (${this.capacity} requests waiting); retry later`,
      );
    }
    this.#entries.push(entry);
    if (!this.#busy) {
      this.#busy = true;
      this.#work().finally(() => this.#busy = false);
    }
  }

  async #work(): Promise<void> {
    // A macrotask first: requests whose bodies finished in the same turn join this batch.
    await new Promise((r) => setTimeout(r, 0));
    while (this.#entries.length > 0) {
      const head = this.#entries.shift()!;
      if (head.kind === "run") {
        this.#running = 1;
        try {
          head.resolve(await head.job());
        } catch (e) {
          head.reject(e);
        }
      } else {
        const group = [head];
        let images = head.images;
        while (true) {
          const next = this.#entries[0];
          if (next?.kind !== "classify" || images + next.images > this.maxBatchImages) break;
          group.push(this.#entries.shift() as typeof head);
          images += next.images;
        }
        this.#running = group.length;
        await this.#classify(group);
      }
      this.#running = 0;
      // Let responses go out and new bodies come in between batches.
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  async #classify(group: Extract<Entry, { kind: "classify" }>[]): Promise<void> {
    const decoded: { entry: typeof group[number]; job: ClassifyJob }[] = [];
    for (const entry of group) {
      const { bytes, maxPixels, models, transforms, k } = entry.request;
      try {
        const image = decodeImage(bytes, { maxPixels });
        decoded.push({ entry, job: { image, models, transforms, k } });
      } catch (e) {
        entry.reject(e);
      }
    }
    if (decoded.length === 0) return;
    try {
      const results = await classifyBatch(decoded.map((d) => d.job), this.#onModelCall);
      decoded.forEach(({ entry, job }, i) =>
        entry.resolve({
          image: { type: job.image.sourceType, width: job.image.width, height: job.image.height },
          results: results[i],
        })
      );
    } catch (e) {
      for (const { entry } of decoded) entry.reject(e);
    }
  }
}
