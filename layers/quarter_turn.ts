/**
 * A fixed quarter turn of the input plane: NHWC images (or maps) turned by k·90°
 * counter-clockwise, exactly (`rot90` of layers/group.ts: a transpose and a reverse, so the
 * gradient is the inverse turn). For odd k the output is W×H. No weights; used by
 * lib/model/tta.ts to feed the four turns of one input to one shared model.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mod4, rot90 } from "./group_core.ts";

/** Config of {@linkcode QuarterTurn}. */
export interface QuarterTurnArgs {
  /** Quarter turns counter-clockwise (any integer; stored modulo 4). */
  k: number;
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/**
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const turn = new QuarterTurn({ k: 1 });
 * const y = turn.apply(tf.zeros([2, 8, 6, 3])) as tf.Tensor; // [2, 6, 8, 3]
 * ```
 */
export class QuarterTurn extends tf.layers.Layer {
  static className = "QuarterTurn";
  /** Quarter turns in {0, 1, 2, 3}. */
  readonly k: number;

  constructor(args: QuarterTurnArgs) {
    super(args);
    if (!Number.isInteger(args?.k)) {
      throw new RangeError(`QuarterTurn: expected an integer k, got ${JSON.stringify(args?.k)}`);
    }
    this.k = mod4(args.k);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = inputShape as tf.Shape;
    if (shape.length !== 4) {
      throw new RangeError(`QuarterTurn: expected NHWC input, got shape [${shape}]`);
    }
    const [n, h, w, c] = shape;
    return this.k % 2 ? [n, w, h, c] : [n, h, w, c];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    if (x.rank !== 4) throw new RangeError(`QuarterTurn: expected NHWC input, got rank ${x.rank}`);
    return rot90(x, this.k);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), k: this.k };
  }
}
