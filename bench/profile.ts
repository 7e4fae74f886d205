/**
 * Measuring speed: analytic FLOPs of a model config, timed training and inference steps, and
 * per-kernel timings (tf.profile) of one training step. Used by `scripts/bench.ts`.
 *
 * Training images/s are taken over full steps (forward + backward + optimizer update, SGD with
 * momentum as in `bench/torch_reference.py`), each step synchronised by reading the loss, after
 * warm-up steps that are not counted; the median step time gives the rate.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { DataParallel } from "../lib/train/data_parallel.ts";
import type { ModelConfig } from "../lib/model/models.ts";

/** One convolution of a trunk, as an ordinary conv2d (P4 channels counted ×4). */
export interface ConvShape {
  /** Output height and width (stride 1, symmetric padding: same as the input). */
  height: number;
  width: number;
  kernel: number;
  cin: number;
  cout: number;
}

/**
 * The convolutions of a model's trunk as ordinary conv2d shapes, for an input of
 * `height × width`: the lifting conv reads C input channels and writes 4·w; a group conv
 * reads 4·c and writes 4·w (docs/design.md). Pools halve the size (rounding up) between stages.
 */
export function trunkConvs(config: ModelConfig, height: number, width: number): ConvShape[] {
  const p4 = config.model === "symmetric" ? 4 : 1;
  const convs: ConvShape[] = [];
  let [h, w, c] = [height, width, config.inputShape[2]];
  config.widths.forEach((width_, stage) => {
    for (let i = 0; i < config.convsPerStage; i++) {
      const cout = width_ * p4;
      convs.push({ height: h, width: w, kernel: config.kernelSize, cin: c, cout });
      c = cout;
    }
    if (stage < config.widths.length - 1) [h, w] = [Math.ceil(h / 2), Math.ceil(w / 2)];
  });
  return convs;
}

/** FLOPs of one conv for one image: 2·H·W·k²·Cin·Cout (a multiply-add counts as two). */
export function convFlops(c: ConvShape): number {
  return 2 * c.height * c.width * c.kernel * c.kernel * c.cin * c.cout;
}

/**
 * Convolution FLOPs per image of a trunk: `forward`, and `training` = forward + filter
 * gradient of every conv + input gradient of every conv but the first (nothing upstream of the
 * first conv is trained, so tfjs does not compute it).
 *
 * @example
 * ```ts
 * const f = trunkFlops(modelConfig("baseline", { preset: "reference" }), 32, 32);
 * console.log(f.forward / 1e6, "MFLOP per image");
 * ```
 */
export function trunkFlops(
  config: ModelConfig,
  height: number,
  width: number,
): { forward: number; training: number } {
  const per = trunkConvs(config, height, width).map(convFlops);
  const forward = per.reduce((a, b) => a + b, 0);
  return { forward, training: 3 * forward - per[0] };
}

/** Options of the timed steps. */
export interface StepOptions {
  batch: number;
  height: number;
  width: number;
  channels: number;
  numClasses: number;
  /** Learning rate and momentum of the SGD step (torch_reference.py: 0.01, 0.9). */
  lr?: number;
  momentum?: number;
  seed?: number;
}

/** A training step and an inference step on one fixed random batch; `dispose` frees them. */
export interface Steps {
  /**
   * One forward + backward + SGD-momentum update; resolves to the loss, read back
   * asynchronously (WebGPU under Deno cannot read synchronously: it has no 2D canvas).
   */
  train(): Promise<number>;
  /** One forward pass in inference mode, synchronised by reading the logits. */
  infer(): Promise<void>;
  dispose(): void;
}

/**
 * Builds the training and inference steps of `model` on a fixed random batch (as
 * torch_reference.py does), so the timings measure the model and not the data pipeline.
 */
export function makeSteps(model: tf.LayersModel, o: StepOptions): Steps {
  const seed = o.seed ?? 0;
  const x = tf.randomUniform([o.batch, o.height, o.width, o.channels], 0, 1, "float32", seed);
  const labels = tf.randomUniform([o.batch], 0, o.numClasses, "int32", seed + 1);
  const y = tf.oneHot(labels as tf.Tensor1D, o.numClasses);
  labels.dispose();
  const opt = tf.train.momentum(o.lr ?? 0.01, o.momentum ?? 0.9);
  return {
    async train() {
      const loss = opt.minimize(() => {
        const logits = model.apply(x, { training: true }) as tf.Tensor;
        return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
      }, true)!;
      const value = (await loss.data())[0];
      loss.dispose();
      return value;
    },
    async infer() {
      const logits = model.predict(x) as tf.Tensor;
      await logits.data();
      logits.dispose();
    },
    dispose() {
      tf.dispose([x, y]);
      opt.dispose();
    },
  };
}

/**
 * The training step of {@linkcode makeSteps} (same fixed batch, same SGD-momentum update on
 * the main thread's `model`) with the gradients computed by `dp`'s workers.
 */
export function makeParallelTrain(
  model: tf.LayersModel,
  dp: DataParallel,
  o: StepOptions,
): Pick<Steps, "train" | "dispose"> {
  const seed = o.seed ?? 0;
  const shape: [number, number, number, number] = [o.batch, o.height, o.width, o.channels];
  const x = tf.tidy(() =>
    tf.randomUniform(shape, 0, 1, "float32", seed).dataSync()
  ) as Float32Array;
  const labels = tf.tidy(() =>
    tf.randomUniform([o.batch], 0, o.numClasses, "int32", seed + 1).dataSync()
  ) as Int32Array;
  const opt: tf.Optimizer = tf.train.momentum(o.lr ?? 0.01, o.momentum ?? 0.9);
  return {
    async train() {
      const { grads, loss } = await dp.gradients(model, x, shape, labels, o.numClasses);
      opt.applyGradients(grads);
      tf.dispose(Object.values(grads));
      return loss;
    },
    dispose() {
      opt.dispose();
    },
  };
}

/** Timing summary of repeated calls, in milliseconds. */
export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  samples: number[];
}

/** Median of a non-empty list. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `fn` `warmup` times untimed, then `steps` times timed one by one. */
export async function time(fn: () => unknown, steps: number, warmup = 2): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return {
    medianMs: median(samples),
    minMs: Math.min(...samples),
    maxMs: Math.max(...samples),
    samples,
  };
}

/** Total time and calls of one kernel over a profiled call. */
export interface KernelTime {
  name: string;
  ms: number;
  calls: number;
}

/**
 * Per-kernel times of one call of `fn` (tf.profile), summed by kernel name, slowest first.
 * On wasm and cpu a kernel's time is the wall time of its synchronous call.
 */
export async function profileKernels(fn: () => unknown): Promise<KernelTime[]> {
  const info = await tf.profile(async () => {
    await fn();
  });
  const backend = tf.getBackend();
  const byName = new Map<string, KernelTime>();
  for (const k of info.kernels) {
    // tf.profile also lists custom-gradient ops ("fusedConv2d__op") whose time is already
    // counted in the kernels they run; keep registered kernels only.
    if (!tf.getKernel(k.name, backend)) continue;
    const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    const entry = byName.get(k.name) ?? { name: k.name, ms: 0, calls: 0 };
    entry.ms += ms;
    entry.calls += 1;
    byName.set(k.name, entry);
  }
  return [...byName.values()].sort((a, b) => b.ms - a.ms);
}
