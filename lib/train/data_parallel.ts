/**
 * Data-parallel training steps on pure wasm: tfjs-backend-wasm runs one thread (its threaded
 * build does not start under Deno, docs/bench/README.md), so on a machine without the native
 * oneDNN path a second core sits idle. {@linkcode DataParallel} splits each batch across N Deno
 * workers, each with its own wasm tfjs and model copy; the main thread averages their
 * gradients and applies the optimizer to its own model.
 *
 * Semantics, as PyTorch's DistributedDataParallel without SyncBatchNorm: each worker's batch
 * norm uses its own slice's statistics ("ghost" batch norm with slices of ⌈B/N⌉), so a
 * step is not bit-identical to a single-process step of the whole batch; the gradient is the
 * slice-size-weighted mean of the slices' gradients, and the moving statistics are the
 * slice-size-weighted mean of the workers' updated ones. With one worker it is exactly a
 * single-process step (tested).
 *
 * Cost per step: the weights go to every worker and the gradients come back (4 bytes per
 * parameter each way, ~1.2 MB for the reference models), a few ms.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../model/models.ts";
import type { WorkerReply, WorkerRequest } from "./data_parallel_worker.ts";

type StepReply = Extract<WorkerReply, { type: "step" }>;

/** Thrown when a worker fails to start or to compute a step. */
export class DataParallelError extends Error {
  override name = "DataParallelError";
}

/** One step's result: gradients keyed by the main model's variable names. */
export interface ParallelGradients {
  grads: tf.NamedTensorMap;
  /** Mean loss over the whole batch. */
  loss: number;
  /** Correct top-1 predictions in the batch. */
  hits: number;
}

/** A worker with a one-at-a-time request/reply channel. */
class Channel {
  #pending?: { resolve: (r: WorkerReply) => void; reject: (e: Error) => void };
  #failure?: Error;

  constructor(readonly worker: Worker) {
    worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      const p = this.#pending;
      this.#pending = undefined;
      if (!p) return;
      if (e.data.type === "error") p.reject(new DataParallelError(e.data.message));
      else p.resolve(e.data);
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#failure = new DataParallelError(`worker failed: ${e.message}`);
      this.#pending?.reject(this.#failure);
      this.#pending = undefined;
    };
  }

  /** The next message from the worker (after sending `message`, if given). */
  next(message?: WorkerRequest, transfer: Transferable[] = []): Promise<WorkerReply> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      if (message) this.worker.postMessage(message, transfer);
    });
  }
}

/** Row ranges [start, end) splitting `n` rows into at most `parts` near-equal slices. */
export function splitRows(n: number, parts: number): [number, number][] {
  const k = Math.max(1, Math.min(parts, n));
  return Array.from({ length: k }, (_, i) => [
    Math.floor((i * n) / k),
    Math.floor(((i + 1) * n) / k),
  ]);
}

/**
 * N workers computing one model's training gradients in parallel.
 *
 * @example
 * ```ts ignore
 * // not run: starts two worker threads, each loading tfjs and a model
 * const dp = await DataParallel.create(config, 2);
 * const { grads, loss } = await dp.gradients(model, x, [64, 32, 32, 3], labels, 100);
 * optimizer.applyGradients(grads);
 * tf.dispose(Object.values(grads));
 * dp.close();
 * ```
 */
export class DataParallel {
  readonly workers: number;

  private constructor(readonly channels: Channel[]) {
    this.workers = channels.length;
  }

  /**
   * Starts `workers` workers, each building `config`'s model on the wasm backend (`native`:
   * let workers use the oneDNN kernels too; off by default, since oneDNN already uses every
   * core and N workers × its threads would oversubscribe them).
   */
  static async create(config: ModelConfig, workers: number, native = false): Promise<DataParallel> {
    if (!Number.isInteger(workers) || workers < 1) {
      throw new DataParallelError(`workers must be a positive integer, got ${workers}`);
    }
    const channels = Array.from({ length: workers }, () =>
      new Channel(
        new Worker(new URL("./data_parallel_worker.ts", import.meta.url), { type: "module" }),
      ));
    const dp = new DataParallel(channels);
    try {
      // "booted" first: a message sent before the worker's module has run would be lost.
      await Promise.all(channels.map((c) => c.next()));
      await Promise.all(channels.map((c) => c.next({ type: "init", config, native })));
    } catch (e) {
      dp.close();
      throw e;
    }
    return dp;
  }

  /**
   * Gradients of the mean softmax cross-entropy of `model` on the batch `x` [n, h, w, c] with
   * integer `labels`, split across the workers. Also writes the workers' averaged moving
   * statistics into `model` (as the training-mode forward pass of a single process would).
   * The returned gradient tensors belong to the caller.
   */
  async gradients(
    model: tf.LayersModel,
    x: Float32Array,
    shape: [number, number, number, number],
    labels: Int32Array,
    numClasses: number,
  ): Promise<ParallelGradients> {
    const [n, h, w, c] = shape;
    const pixels = h * w * c;
    const weights = await Promise.all(
      model.weights.map((v) => v.read().data() as Promise<Float32Array>),
    );
    const slices = splitRows(n, this.workers);
    const replies = await Promise.all(slices.map(([a, b], i) => {
      const own = weights.map((v) => v.slice());
      const request: WorkerRequest = {
        type: "step",
        weights: own,
        x: x.slice(a * pixels, b * pixels),
        shape: [b - a, h, w, c],
        labels: labels.slice(a, b),
        numClasses,
      };
      return this.channels[i].next(
        request,
        [...own, request.x].map((a) => a.buffer as ArrayBuffer),
      );
    })) as StepReply[];
    const share = slices.map(([a, b]) => (b - a) / n);
    const mean = (arrays: (r: StepReply) => Float32Array[], k: number) => {
      const out = new Float32Array(arrays(replies[0])[k].length);
      replies.forEach((r, i) => {
        const src = arrays(r)[k];
        for (let j = 0; j < out.length; j++) out[j] += share[i] * src[j];
      });
      return out;
    };
    const grads: tf.NamedTensorMap = {};
    model.trainableWeights.forEach((v, k) => {
      grads[(v.read() as tf.Variable).name] = tf.tensor(mean((r) => r.grads, k), v.read().shape);
    });
    model.weights.forEach((v, k) => {
      if (v.trainable) return;
      const value = tf.tensor(mean((r) => r.weights, k), v.read().shape);
      v.write(value);
      value.dispose(); // the variable holds its own reference
    });
    return {
      grads,
      loss: replies.reduce((s, r, i) => s + share[i] * r.loss, 0),
      hits: replies.reduce((s, r) => s + r.hits, 0),
    };
  }

  /** Stops the workers (idempotent). */
  close(): void {
    for (const c of this.channels) c.worker.terminate();
  }
}
