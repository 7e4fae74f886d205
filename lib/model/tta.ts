/**
 * Test-time augmentation over the four quarter turns: the practitioner's alternative to a
 * built-in symmetry. The wrapped model sees `rot90(x, k)` for k = 0…3 and outputs the logits
 * of the mean distribution, `log(mean_k softmax(base(rot90(x, k))))`, so its probabilities are
 * exactly invariant to 90° turns of the input (a turn only permutes the four terms) at 4× the
 * inference cost, with no retraining. It is an ordinary functional tfjs model sharing the
 * base's layers (and so its weights): `predict` and `apply` work, and gradients flow through
 * the average, so attacks (lib/eval/attacks.ts) differentiate the averaged model.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "../../layers/mod.ts";
import { LogMeanSoftmax } from "../../layers/log_mean_softmax.ts";
import { QuarterTurn } from "../../layers/quarter_turn.ts";

/** The report name of a model averaged over quarter turns: `<model>+tta`. */
export function ttaName(model: string): string {
  return `${model}+tta`;
}

/**
 * Wraps `base` (logits out, NHWC in) into its average over the four quarter turns.
 * The input keeps the base's spatial size when that is fixed and square, and is free
 * (`[null, null, C]`) when the base's is free; a fixed non-square input cannot take its own
 * odd turns and is refused. Do not dispose the result separately from the base: they share
 * weights.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createModel } from "./models.ts";
 * const x = tf.randomUniform([2, 32, 32, 3]) as tf.Tensor4D;
 * const tta = averageOverQuarterTurns(createModel("baseline", { preset: "tiny", numClasses: 10 }));
 * const p = tf.softmax(tta.predict(x) as tf.Tensor); // = mean of the four turns' softmaxes
 * ```
 */
export function averageOverQuarterTurns(base: tf.LayersModel): tf.LayersModel {
  if (base.inputs.length !== 1 || base.outputs.length !== 1) {
    throw new RangeError(
      `averageOverQuarterTurns: expected a model with one input and one output, ${base.name} has ${base.inputs.length} and ${base.outputs.length}`,
    );
  }
  const shape = base.inputs[0].shape;
  if (shape.length !== 4) {
    throw new RangeError(
      `averageOverQuarterTurns: expected an NHWC model, ${base.name} takes [${shape}]`,
    );
  }
  const [, h, w, c] = shape;
  if (h !== w) {
    throw new RangeError(
      `averageOverQuarterTurns: ${base.name} has a fixed ${h}×${w} input, which its own quarter turns (${w}×${h}) do not fit`,
    );
  }
  const input = tf.input({ shape: [h, w, c], name: `${base.name}_tta_input` });
  const logits = [0, 1, 2, 3].map((k) => {
    const turned = new QuarterTurn({ k, name: `${base.name}_tta_turn${k}` })
      .apply(input) as tf.SymbolicTensor;
    return base.apply(turned) as tf.SymbolicTensor;
  });
  const merged = new LogMeanSoftmax({ name: `${base.name}_tta_mean` })
    .apply(logits) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: merged, name: `${base.name}_tta` });
}
