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
import type { ModelConfig, ModelName } from "../lib/model/models.ts";
import { logitsOf } from "../lib/model/predict.ts";

/** One `tf.conv2d` call of a trunk, per image (stride 1, "same" padding: output = input size). */
export interface ConvShape {
  /** Which layer makes the call, e.g. "stage 2 conv 1 (scale 0 of 3)". */
  layer: string;
  /** Output height and width. */
  height: number;
  width: number;
  kernel: number;
  /** Channels of the conv2d's input and output (group and scale axes folded in). */
  cin: number;
  cout: number;
  /**
   * Whether training computes this call's input gradient: not for the model's first layer,
   * whose input (the standardised image) depends on no trained weight, so tfjs prunes it.
   */
  inputGradient: boolean;
}

/**
 * Planar group elements per channel of each family's maps (docs/design.md): a lifting conv
 * writes order·w channels and a group conv reads order·c. The scale axis comes from
 * `config.scale` on top of this (rotscale: 4 rotations × S scales).
 */
const PLANAR_ORDER: Record<ModelName, number> = {
  baseline: 1,
  symmetric: 4,
  p4m: 8,
  scale: 1,
  rotscale: 4,
};

/**
 * The `tf.conv2d` calls one image goes through in a model's trunk, for an input of
 * `height × width`, derived from the config the way the layers make them (layers/*.ts):
 *
 * - baseline, symmetric, p4m: one conv2d per layer, k×k (`config.kernelSize`); the lifting conv
 *   reads C input channels and writes G·w (G = 1, 4, 8), a group conv reads G·c and writes G·w.
 * - scale, rotscale (S = `config.scale.sigmas.length` scales, R = 1 or 4 rotations, kernel
 *   `config.scale.kernelSize`): the lifting conv is one conv2d C → w·S·R; a scale-to-scale
 *   conv is one conv2d per output scale i over its window of min(W, S − i) input scales,
 *   span·c·R → w·R (`ScaleConv2D.call`).
 *
 * Pools halve the size (rounding up) between stages; the heads have no convolutions.
 */
export function trunkConvs(config: ModelConfig, height: number, width: number): ConvShape[] {
  const g = PLANAR_ORDER[config.model];
  const convs: ConvShape[] = [];
  let [h, w] = [height, width];
  let c = config.inputShape[2]; // per scale: the conv2d input has c·S·G channels
  const scale = config.scale;
  config.widths.forEach((filters, stage) => {
    for (let i = 0; i < config.convsPerStage; i++) {
      const first = stage === 0 && i === 0;
      const layer = `stage ${stage + 1} conv ${i + 1}`;
      const at = { height: h, width: w, inputGradient: !first };
      if (!scale) {
        const cin = first ? c : c * g;
        convs.push({ layer, ...at, kernel: config.kernelSize, cin, cout: filters * g });
      } else {
        const s = scale.sigmas.length;
        const k = scale.kernelSize;
        if (first) {
          convs.push({ layer, ...at, kernel: k, cin: c, cout: filters * s * g });
        } else {
          for (let j = 0; j < s; j++) {
            const span = Math.min(scale.window, s - j);
            convs.push({
              layer: `${layer} (scale ${j} of ${s})`,
              ...at,
              kernel: k,
              cin: span * c * g,
              cout: filters * g,
            });
          }
        }
      }
      c = filters;
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
 * gradient of every conv2d call + input gradient of every call but the first layer's (nothing
 * upstream of the first layer is trained, so tfjs does not compute it). Each gradient costs
 * the forward call's multiply-adds. The basis matmul of the scale layers and the gathers that
 * build filter banks run once per step, not per image, and are not counted.
 *
 * @example
 * ```ts
 * const f = trunkFlops(modelConfig("p4m", { preset: "reference" }), 32, 32);
 * console.log(f.forward / 1e6, "MFLOP per image");
 * ```
 */
export function trunkFlops(
  config: ModelConfig,
  height: number,
  width: number,
): { forward: number; training: number } {
  let forward = 0, training = 0;
  for (const c of trunkConvs(config, height, width)) {
    const f = convFlops(c);
    forward += f;
    training += (c.inputGradient ? 3 : 2) * f;
  }
  return { forward, training };
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
      const logits = logitsOf(model, x); // one pass, as evaluation runs it
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

/** Channels of {@linkcode plainConvStep}'s convolution: issue 24's yardstick is 64 → 64. */
export const PLAIN_CONV_CHANNELS = 64;

/**
 * One training step of a plain c → c 3×3 convolution (stride 1, same padding, no bias,
 * channels-last) on a fixed output gradient: forward, input gradient and filter gradient, the
 * three passes a trained conv layer runs; `flops` is 3× the forward's. PyTorch's counterpart is
 * `bench/torch_reference.py --plain-conv`. The yardstick the models' training GFLOP/s are read
 * against.
 */
export function plainConvStep(batch: number, size: number, c = PLAIN_CONV_CHANNELS) {
  const x = tf.randomUniform([batch, size, size, c], 0, 1, "float32", 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, c, c], 0, 0.05, "float32", 2) as tf.Tensor4D;
  const dy = tf.randomNormal([batch, size, size, c], 0, 1, "float32", 3) as tf.Tensor4D;
  const conv = { strides: 1, pad: "same", dataFormat: "NHWC", dilations: 1 };
  /** The forward, ∂x and ∂w of the layer at output gradient dy. */
  const passes = () => [
    tf.conv2d(x, w, 1, "same"),
    tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: w }, {
      ...conv,
      inputShape: x.shape,
    }) as tf.Tensor,
    tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      ...conv,
      filterShape: w.shape,
    }) as tf.Tensor,
  ];
  return {
    flops: 3 * 2 * batch * size * size * c * c * 9,
    x,
    w,
    dy,
    passes,
    async run() {
      const outs = passes();
      // One value of each, to wait for the work on asynchronous backends: reading the whole
      // outputs back (32 MB) cost 3× the passes themselves on wasm + oneDNN.
      const ends = outs.map((t) => t.slice(new Array(t.rank).fill(0), new Array(t.rank).fill(1)));
      await Promise.all(ends.map((t) => t.data()));
      tf.dispose([...outs, ...ends]);
    },
    dispose() {
      tf.dispose([x, w, dy]);
    },
  };
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
