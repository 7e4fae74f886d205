/**
 * A bounded inference queue with one worker that micro-batches the requests waiting in it.
 *
 * Why one worker: tfjs computes on the JavaScript thread (wasm, cpu) or one device queue
 * (WebGPU), so running two model calls at once only interleaves them. Instead, whatever
 * requests arrived while a batch was running are classified together in the next one: one
 * model call over all their images, which costs less than one call each (per-op overhead is
 * paid once). A lone request is never held back to wait for company.
 *
 * @module
 */
import { type DecodedImage, decodeImage, type ImageType } from "../image/decode.ts";
import type { LoadedModel } from "../model/checkpoint.ts";
import type { ModelName } from "../model/models.ts";
import { classifyBatch, type ClassifyJob, type ModelResult, type Transform } from "./classify.ts";

/** Thrown when the inference queue is full (HTTP 503). */
export class QueueFullError extends Error {
  override name = "QueueFullError";
}

/** What the queue classifies: encoded bytes, decoded on the worker (see {@linkcode InferenceQueue}). */
export interface ClassifyRequest {
  bytes: Uint8Array;
  /** Refuse larger images (checked from the header before decoding). */
  maxPixels?: number;
  models: LoadedModel[];
  transforms: Transform[];
  k: number;
  /** Also return the inputs as the model saw them, as PNGs (`/classify?inputs=png`). */
  inputs?: boolean;
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
  }
  | {
    kind: "jobs";
    jobs: ClassifyJob[];
    images: number;
    resolve(v: ModelResult[][]): void;
    reject(e: unknown): void;
  };

/** The entries the worker batches together. */
type BatchEntry = Exclude<Entry, { kind: "run" }>;

/**
 * A bounded FIFO in front of the models with one worker. At most `capacity` requests wait;
 * beyond that {@linkcode QueueFullError} is thrown at once. Each turn of the worker takes the
 * request at the head together with the classify requests behind it (up to `maxBatchImages`
 * images) and runs them as one {@linkcode classifyBatch}. Images are decoded on the worker, so
 * at most one batch of decoded images is in memory however long the queue is.
 *
 * @example
 * ```ts ignore
 * // not run: needs checkpoints written by `deno task train`
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

  /**
   * Classifies already decoded jobs (e.g. the tensors of an Open Inference Protocol request),
   * micro-batched like {@linkcode classify} with whatever waits beside them; resolves to
   * {@linkcode classifyBatch}'s results for these jobs.
   */
  classifyJobs(jobs: ClassifyJob[]): Promise<ModelResult[][]> {
    return new Promise<ModelResult[][]>((resolve, reject) => {
      const images = jobs.reduce((n, j) => n + 1 + j.transforms.length, 0);
      this.#push({ kind: "jobs", jobs, images, resolve, reject });
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
        const group: BatchEntry[] = [head];
        let images = head.images;
        while (true) {
          const next = this.#entries[0];
          if (!next || next.kind === "run" || images + next.images > this.maxBatchImages) break;
          group.push(this.#entries.shift() as BatchEntry);
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

  async #classify(group: BatchEntry[]): Promise<void> {
    // Each entry's jobs: a classify request's one (decoded here), a jobs entry's own.
    const ready: { entry: BatchEntry; jobs: ClassifyJob[]; image?: DecodedImage }[] = [];
    for (const entry of group) {
      if (entry.kind === "jobs") {
        ready.push({ entry, jobs: entry.jobs });
        continue;
      }
      const { bytes, maxPixels, models, transforms, k, inputs } = entry.request;
      try {
        const image = await decodeImage(bytes, { maxPixels });
        ready.push({ entry, jobs: [{ image, models, transforms, k, inputs }], image });
      } catch (e) {
        entry.reject(e);
      }
    }
    if (ready.length === 0) return;
    try {
      const results = await classifyBatch(ready.flatMap((r) => r.jobs), this.#onModelCall);
      let at = 0;
      for (const { entry, jobs, image } of ready) {
        const mine = results.slice(at, at += jobs.length);
        if (entry.kind === "jobs") entry.resolve(mine);
        else {
          entry.resolve({
            image: { type: image!.sourceType, width: image!.width, height: image!.height },
            results: mine[0],
          });
        }
      }
    } catch (e) {
      for (const { entry } of ready) entry.reject(e);
    }
  }
}
