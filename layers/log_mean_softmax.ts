/**
 * Merges K logit tensors [N, classes] into the logits of their mean distribution:
 * `log(mean_k softmax(z_k))`, computed stably as `logsumexp_k(logSoftmax(z_k)) − log K`.
 * Its softmax is exactly the mean of the K distributions (the logits are log-probabilities:
 * they already sum to 1 after exp), so cross-entropy on them is the loss of the averaged
 * prediction, and gradients flow to every input. No weights; used by lib/model/tta.ts.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Config of {@linkcode LogMeanSoftmax}. */
export interface LogMeanSoftmaxArgs {
  name?: string;
}

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const merge = new LogMeanSoftmax({});
 * const z = merge.apply([tf.zeros([2, 10]), tf.ones([2, 10])]) as tf.Tensor; // [2, 10]
 * ```
 */
export class LogMeanSoftmax extends tf.layers.Layer {
  static className = "LogMeanSoftmax";

  constructor(args: LogMeanSoftmaxArgs = {}) {
    super(args);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shapes = inputShape as tf.Shape[];
    if (!Array.isArray(shapes[0])) {
      throw new RangeError("LogMeanSoftmax: expected a list of logit tensors");
    }
    const first = JSON.stringify(shapes[0]);
    if (shapes.some((s) => JSON.stringify(s) !== first)) {
      throw new RangeError(
        `LogMeanSoftmax: expected logits of one shape, got ${shapes.map((s) => `[${s}]`)}`,
      );
    }
    return shapes[0];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    return tf.tidy(() => {
      const logp = tf.stack(list.map((z) => tf.logSoftmax(z)));
      return tf.logSumExp(logp, 0).sub(Math.log(list.length));
    });
  }
}
