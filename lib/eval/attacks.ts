/**
 * White-box L∞ attacks on a model's cross-entropy, gradients from tfjs on the current backend,
 * in inference mode. ε is given in /255 units of [0, 1] pixels.
 *
 * - FGSM (Goodfellow et al. 2014): `x' = clip(x + ε·sign(∇ₓ L(x, y)), 0, 1)`.
 * - PGD (Madry et al. 2017): random start uniform in the ε-ball, then `steps` steps of
 *   `x ← Π_{ε-ball ∩ [0,1]}(x + α·sign(∇ₓ L))` with α = 2.5·ε/steps; with restarts, the worst
 *   case over independent random starts per image ({@linkcode pgdWorstCase}).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mixSeed } from "../data/rng.ts";
import { logitsOf } from "../model/predict.ts";
import type { BatchSeed } from "../transforms.ts";

/**
 * Cross-entropy loss of a batch (mean over the batch), logits from inference mode, or from
 * training mode (batch-norm batch statistics; it also moves the moving averages, see
 * lib/eval/protocol.ts) when `training` is true.
 */
export function lossOf(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  training = false,
): tf.Scalar {
  return tf.tidy(() => {
    const logits = model.apply(x, { training }) as tf.Tensor;
    const y = tf.oneHot(labels, logits.shape[1] as number);
    return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
  });
}

/** ∇ₓ of the summed cross-entropy (per-image gradients, not averaged); `training` as in lossOf. */
export function inputGradient(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  training = false,
): tf.Tensor4D {
  return tf.tidy(() =>
    tf.grad((input: tf.Tensor) =>
      lossOf(model, input as tf.Tensor4D, labels, training).mul(input.shape[0])
    )(x) as tf.Tensor4D
  );
}

/** One FGSM step of size ε/255. */
export function fgsm(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  eps255: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = inputGradient(model, x, labels);
    return x.add(g.sign().mul(eps255 / 255)).clipByValue(0, 1) as tf.Tensor4D;
  });
}

/** Options of {@linkcode pgd}. */
export interface PgdOptions {
  steps?: number;
  /** Step size in /255 units (default 2.5·ε/steps). */
  step255?: number;
  /** Seed of the random start: one for the batch, or one per image (default 0). */
  seed?: BatchSeed;
}

/** Uniform noise in [−a, a) of `shape`, from one seed or one seed per image along axis 0. */
function uniformStart(shape: number[], a: number, seed: BatchSeed): tf.Tensor {
  if (typeof seed === "number") return tf.randomUniform(shape, -a, a, "float32", seed);
  const one = [1, ...shape.slice(1)];
  return tf.concat(seed.map((s) => tf.randomUniform(one, -a, a, "float32", s)), 0);
}

/** PGD with a random start, projected onto the ε-ball around x and the [0, 1] box. */
export function pgd(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  eps255: number,
  options: PgdOptions = {},
): tf.Tensor4D {
  const steps = options.steps ?? 10;
  const eps = eps255 / 255;
  const alpha = (options.step255 ?? 2.5 * eps255 / steps) / 255;
  return tf.tidy((): tf.Tensor4D => {
    const lo = x.sub(eps).maximum(0), hi = x.add(eps).minimum(1);
    let adv = x.add(uniformStart(x.shape, eps, options.seed ?? 0))
      .minimum(hi).maximum(lo) as tf.Tensor4D;
    for (let s = 0; s < steps; s++) {
      const next = tf.tidy(() => {
        const g = inputGradient(model, adv, labels);
        return adv.add(g.sign().mul(alpha)).minimum(hi).maximum(lo) as tf.Tensor4D;
      });
      adv.dispose();
      adv = next;
    }
    return adv;
  });
}

/** Options of {@linkcode pgdWorstCase}. */
export interface WorstCaseOptions {
  steps: number;
  /** Independent random starts; an image counts as robust only if every one fails. */
  restarts: number;
  /** One seed per image; start r of image i uses `mixSeed(seeds[i], r)`. */
  seeds: readonly number[];
}

/** The worst case over PGD restarts: the kept example per image and whether it is still right. */
export interface WorstCase {
  adv: tf.Tensor4D;
  /** 1 where the model still classifies the kept example correctly. */
  correct: Uint8Array;
  /** Images each start attacked: all of them first, then those no earlier start had fooled. */
  attacked: number[];
}

/**
 * PGD from `restarts` random starts, keeping for each image the most damaging example: one the
 * model misclassifies if any start found one, else the one of highest cross-entropy (Madry et
 * al.'s restarts; the accuracy under attack is then the fraction of images no start fooled).
 * A start runs only on the images no earlier start fooled: a fooled image keeps the first
 * example that fooled it (a later one could only tie), so attacking it again changes nothing.
 * Each image's start and steps depend on its own seed alone, so the result is what attacking
 * every image from every start gives (tests/evaluate_test.ts), at a fraction of the cost where
 * most images fall to the first start.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createModel } from "../model/models.ts";
 * const model = createModel("baseline", { preset: "tiny", numClasses: 10 });
 * const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
 * const y = tf.tensor1d([3, 7], "int32");
 * // per image: 1 when no restart fooled the model (correct[i] is 0 wherever the clean image is wrong)
 * const { adv, correct, attacked } = await pgdWorstCase(model, x, y, 8, { steps: 10, restarts: 2, seeds: [1, 2] });
 * console.log(attacked[0]); // 2: the first start attacks every image
 * ```
 */
export async function pgdWorstCase(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  eps255: number,
  options: WorstCaseOptions,
): Promise<WorstCase> {
  if (options.restarts < 1) {
    throw new RangeError(`pgdWorstCase: expected at least one restart, got ${options.restarts}`);
  }
  const m = x.shape[0];
  const truth = await labels.data();
  let best: tf.Tensor4D | undefined;
  const bestScore = new Float64Array(m).fill(-Infinity);
  const correct = new Uint8Array(m);
  const attacked: number[] = [];
  for (let r = 0; r < options.restarts; r++) {
    // The images this start attacks: every one first, then those not yet fooled.
    const pending = Array.from({ length: m }, (_, i) => i).filter((i) => bestScore[i] < Infinity);
    attacked.push(pending.length);
    if (pending.length === 0) continue;
    const whole = pending.length === m;
    const index = whole ? undefined : tf.tensor1d(pending, "int32");
    const xs = index ? tf.gather(x, index) as tf.Tensor4D : x;
    const ys = index ? tf.gather(labels, index) as tf.Tensor1D : labels;
    const adv = pgd(model, xs, ys, eps255, {
      steps: options.steps,
      seed: pending.map((i) => mixSeed(options.seeds[i], r)),
    });
    if (index) tf.dispose([index, xs, ys]);
    // Score: +∞ when fooled, else the image's cross-entropy.
    const [logp, predicted] = tf.tidy(() => {
      const lp = tf.logSoftmax(logitsOf(model, adv));
      return [lp, lp.argMax(1)] as const;
    });
    const [lp, pred] = await Promise.all([logp.data(), predicted.data()]);
    const k = lp.length / pending.length;
    tf.dispose([logp, predicted]);
    // Where each image's kept example comes from: row i of `best`, or row m + j of this start's.
    const from = Int32Array.from({ length: m }, (_, i) => i);
    pending.forEach((i, j) => {
      const fooled = pred[j] !== truth[i];
      const score = fooled ? Infinity : -lp[j * k + truth[i]];
      if (score > bestScore[i]) {
        (from[i] = m + j, bestScore[i] = score, correct[i] = fooled ? 0 : 1);
      }
    });
    if (!best) {
      best = adv; // the first start attacks every image
      continue;
    }
    const next = tf.tidy(() =>
      tf.gather(tf.concat([best!, adv]), tf.tensor1d(from, "int32")) as tf.Tensor4D
    );
    tf.dispose([adv, best]);
    best = next;
  }
  return { adv: best!, correct, attacked };
}
