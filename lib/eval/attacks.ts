/**
 * White-box L∞ attacks on a model's cross-entropy, gradients from tfjs on the current backend,
 * in inference mode. ε is given in /255 units of [0, 1] pixels.
 *
 * - FGSM (Goodfellow et al. 2014): `x' = clip(x + ε·sign(∇ₓ L(x, y)), 0, 1)`.
 * - PGD (Madry et al. 2017): random start uniform in the ε-ball, then `steps` steps of
 *   `x ← Π_{ε-ball ∩ [0,1]}(x + α·sign(∇ₓ L))` with α = 2.5·ε/steps.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

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
  seed?: number;
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
    let adv = x.add(tf.randomUniform(x.shape, -eps, eps, "float32", options.seed ?? 0))
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
