/**
 * One training step, shared by the single-process loop and the data-parallel workers:
 *
 *     loss = mean softmax cross-entropy + ½·λ·Σ‖W‖²   (L2 on conv/dense kernels, SGD only)
 *     W   ← optimizer(W, ∇loss)
 *     W   ← W − lr·λ·W                                (decoupled decay, AdamW, Adam only)
 *
 * The cross-entropy part ({@linkcode crossEntropyGradients}) is what a data-parallel worker
 * computes on its slice; the L2 part ({@linkcode l2Penalty}) is added once, on the main
 * thread, whichever way the cross-entropy gradients were computed.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The weights decay applies to: conv and dense kernels (not batch norm, not biases). */
export function decayedKernels(model: tf.LayersModel): tf.LayerVariable[] {
  return model.trainableWeights.filter((w) => /kernel/.test(w.originalName));
}

/** `½·λ·Σ‖W‖²` over `kernels`. */
export function l2Penalty(kernels: tf.LayerVariable[], lambda: number): tf.Scalar {
  return tf.tidy(() =>
    tf.addN(kernels.map((w) => tf.sum(tf.square(w.read())))).mul(lambda / 2) as tf.Scalar
  );
}

/** Gradients keyed by variable name, the batch's loss and its correct top-1 predictions. */
export interface Gradients {
  grads: tf.NamedTensorMap;
  loss: tf.Scalar;
  hits: tf.Scalar;
}

/**
 * Gradients of the batch's mean softmax cross-entropy with respect to every trainable weight
 * (training-mode forward pass: batch norm uses and updates batch statistics). The caller owns
 * every returned tensor.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createModel } from "../model/models.ts";
 * const model = createModel("baseline", { preset: "tiny", numClasses: 10 });
 * const x = tf.randomUniform([4, 32, 32, 3]) as tf.Tensor4D;
 * const labels = tf.tensor1d([0, 1, 2, 3], "int32");
 * const { grads, loss, hits } = crossEntropyGradients(model, x, labels, 10);
 * ```
 */
export function crossEntropyGradients(
  model: tf.LayersModel,
  x: tf.Tensor4D, // [N, H, W, C] in [0, 1]
  labels: tf.Tensor1D, // [N] int32
  numClasses: number,
): Gradients {
  let hits: tf.Scalar | undefined;
  const y = tf.oneHot(labels, numClasses);
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.apply(x, { training: true }) as tf.Tensor;
    hits = tf.keep(logits.argMax(1).equal(labels).sum() as tf.Scalar);
    return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
  }, model.trainableWeights.map((w) => w.read() as tf.Variable));
  y.dispose();
  return { grads, loss: value, hits: hits! };
}

/** A batch as the data pipeline gives it. */
export interface StepBatch {
  x: Float32Array; // [N, H, W, C] row-major, in [0, 1]
  shape: [number, number, number, number];
  labels: Int32Array;
  numClasses: number;
}

/**
 * Where a step's cross-entropy gradients can come from instead of this thread: the
 * data-parallel workers (data_parallel.ts implements it; declared here so that the step, which
 * the workers run, does not import the class that starts them).
 */
export interface GradientSource {
  gradients(
    model: tf.LayersModel,
    x: Float32Array,
    shape: [number, number, number, number],
    labels: Int32Array,
    numClasses: number,
  ): Promise<{ grads: tf.NamedTensorMap; loss: number; hits: number }>;
}

/**
 * The batch's gradients computed `size` images at a time and averaged, each chunk weighted by
 * its share of the batch: the whole batch's step at a chunk's peak memory (a model whose
 * batch-64 step does not fit in wasm's 4 GiB heap trains at batch 64 in chunks of 16). One
 * difference from the whole batch: batch norm normalises each chunk with that chunk's own
 * statistics ("ghost" batch norm, as the data-parallel workers' slices do), and its moving
 * averages are updated once per chunk. The loss is the weighted mean of the chunks' losses, the
 * hits their sum.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createModel } from "../model/models.ts";
 * const model = createModel("baseline", { preset: "tiny", numClasses: 10 });
 * const batch = { x: new Float32Array(4 * 32 * 32 * 3).fill(0.5), shape: [4, 32, 32, 3] as [number, number, number, number], labels: new Int32Array([0, 1, 2, 3]), numClasses: 10 };
 * const lr = 0.002, weightDecay = 1e-4, optimizer = tf.train.adam(lr);
 * // the batch of 4 in chunks of 2, one optimizer step
 * await trainStep(model, batch, { optimizer, lr, weightDecay, decay: "decoupled", parallel: new MicroBatches(2) });
 * ```
 */
export class MicroBatches implements GradientSource {
  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`MicroBatches: expected a chunk size ≥ 1, got ${size}`);
    }
  }

  async gradients(
    model: tf.LayersModel,
    x: Float32Array,
    shape: [number, number, number, number],
    labels: Int32Array,
    numClasses: number,
  ): Promise<{ grads: tf.NamedTensorMap; loss: number; hits: number }> {
    const [n, h, w, c] = shape, pixels = h * w * c;
    let sum: tf.NamedTensorMap | undefined;
    let loss = 0, hits = 0;
    for (let start = 0; start < n; start += this.size) {
      const m = Math.min(this.size, n - start);
      const xs = tf.tensor4d(x.subarray(start * pixels, (start + m) * pixels), [m, h, w, c]);
      const ys = tf.tensor1d(labels.subarray(start, start + m), "int32");
      const part = crossEntropyGradients(model, xs, ys, numClasses);
      tf.dispose([xs, ys]);
      const weight = m / n;
      loss += (await part.loss.data())[0] * weight;
      hits += (await part.hits.data())[0];
      const next: tf.NamedTensorMap = {};
      for (const [name, g] of Object.entries(part.grads)) {
        next[name] = tf.tidy(() => sum ? sum[name].add(g.mul(weight)) : g.mul(weight));
      }
      tf.dispose([part.loss, part.hits, ...Object.values(part.grads)]);
      if (sum) tf.dispose(Object.values(sum));
      sum = next;
    }
    return { grads: sum!, loss, hits };
  }
}

/** What a step needs besides the model and the batch. */
export interface StepOptions {
  optimizer: tf.Optimizer;
  /** This step's learning rate (already set on the optimizer). */
  lr: number;
  /** λ: L2 penalty for SGD, decoupled decay for Adam. */
  weightDecay: number;
  decay: "l2" | "decoupled";
  /** Compute the cross-entropy gradients there (workers, or in chunks) instead of in one go here. */
  parallel?: GradientSource;
}

/**
 * One optimizer step on a batch; returns the loss (with the L2 term when there is one) and
 * the batch's correct top-1 predictions. Leaves no tensors behind.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createModel } from "../model/models.ts";
 * const model = createModel("baseline", { preset: "tiny", numClasses: 10 });
 * const batch = { x: new Float32Array(4 * 32 * 32 * 3).fill(0.5), shape: [4, 32, 32, 3] as [number, number, number, number], labels: new Int32Array([0, 1, 2, 3]), numClasses: 10 };
 * const lr = 0.05, optimizer = tf.train.momentum(lr, 0.9);
 * const { loss, hits } = await trainStep(model, batch, { optimizer, lr, weightDecay: 5e-4, decay: "l2" });
 * ```
 */
export async function trainStep(
  model: tf.LayersModel,
  batch: StepBatch,
  options: StepOptions,
): Promise<{ loss: number; hits: number }> {
  const { optimizer, weightDecay: lambda, parallel } = options;
  let step: Gradients;
  if (parallel) {
    const r = await parallel.gradients(model, batch.x, batch.shape, batch.labels, batch.numClasses);
    step = { grads: r.grads, loss: tf.scalar(r.loss), hits: tf.scalar(r.hits) };
  } else {
    const x = tf.tensor4d(batch.x, batch.shape);
    const labels = tf.tensor1d(batch.labels, "int32");
    step = crossEntropyGradients(model, x, labels, batch.numClasses);
    tf.dispose([x, labels]);
  }
  const kernels = decayedKernels(model);
  if (lambda && options.decay === "l2") {
    const vars = kernels.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => l2Penalty(kernels, lambda), vars);
    for (const [name, g] of Object.entries(grads)) {
      const sum = step.grads[name].add(g);
      tf.dispose([step.grads[name], g]);
      step.grads[name] = sum;
    }
    const total = step.loss.add(value) as tf.Scalar;
    tf.dispose([step.loss, value]);
    step.loss = total;
  }
  optimizer.applyGradients(step.grads);
  if (lambda && options.decay === "decoupled") {
    tf.tidy(() => kernels.forEach((w) => w.write(w.read().mul(1 - options.lr * lambda))));
  }
  const [loss] = await step.loss.data();
  const [hits] = await step.hits.data();
  tf.dispose([step.loss, step.hits, ...Object.values(step.grads)]);
  return { loss, hits };
}
