/**
 * Batch normalisation with statistics shared inside groups of consecutive channels.
 *
 * - {@linkcode BatchNorm} (group 1): ordinary per-channel batch norm, used by the baseline.
 * - {@linkcode P4BatchNorm} (group 4): for P4 maps. One mean, variance, γ and β per channel c,
 *   shared by its four rotations (indices c·4 + r): statistics over N, H, W and the rotation
 *   axis. A per-(c·4 + r) batch norm would scale the rotations of one channel differently and
 *   break equivariance; this one commutes with the P4 action.
 * - {@linkcode GroupBatchNorm}: the same for any registered group (layers/group.ts).
 *
 * Input and output [..., C·g] (NHWC maps, or [N, F] feature vectors). Training mode (`{ training: true }`) uses batch statistics
 * and updates moving averages as `m ← momentum·m + (1 − momentum)·batch` (variance unbiased,
 * as PyTorch); inference uses the moving averages. Both models use this one implementation,
 * so their speed differs only by the convolutions (tfjs-layers' batchNormalization spent
 * ~0.5 s per step in Tile on wasm, measured 2026-11).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { channelChain } from "./channel_chain.ts";
import { type Group, groupNamed, P4 } from "./group.ts";

/** Config of the batch norms. */
export interface BatchNormArgs {
  momentum?: number;
  epsilon?: number;
  name?: string;
  trainable?: boolean;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
}

/**
 * Sums per group of the columns of m2d [M, C·g] (over rows and the g channels): [C]. On wasm
 * the column sums run as symlab's leading-axes Sum (lib/wasm_kernels.ts), not wasm's strided
 * reduction, which was ~20× slower (measured 2026-11).
 */
function groupSums(m2d: tf.Tensor2D, c: number, g: number): tf.Tensor1D {
  const cols = m2d.sum(0);
  return (g === 1 ? cols : cols.reshape([c, g]).sum(1)) as tf.Tensor1D;
}

/** Batch statistics of one training-mode call, for the moving averages. */
interface BatchMoments {
  mean: tf.Tensor1D;
  /** Biased (divided by the count). */
  variance: tf.Tensor1D;
}

/**
 * Training-mode batch norm of x2d [M, C·g] with statistics per group, and its gradient written
 * out (instead of tfjs differentiating the ~10 ops of the forward pass): with x̂ = (x − μ)·ι,
 * ι = 1/√(σ² + ε), a = γι, S = Σ dy·(x − μ), n = M·g,
 * `∂x = a·(dy − Σdy/n − (ι²S/n)·(x − μ))`, `∂γ = ι·S`, `∂β = Σ dy`.
 * Each direction is two passes over the map ({@linkcode channelChain}: one oneDNN pass each on
 * wasm + native) plus two column sums; the input is saved instead of the centred map.
 * `moments` receives the batch statistics (kept: the caller disposes them).
 */
function batchNormTrain(
  x2d: tf.Tensor2D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  c: number,
  g: number,
  epsilon: number,
  moments: (m: BatchMoments) => void,
): tf.Tensor2D {
  const count = x2d.shape[0] * g;
  const op = tf.customGrad(
    ((x: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor, save: tf.GradSaveFunc) => {
      const mean = groupSums(x as tf.Tensor2D, c, g).div(count) as tf.Tensor1D;
      const mu = spread(mean, c, g);
      const squares = channelChain(x, ["sub", "square"], [mu]) as tf.Tensor2D;
      const variance = groupSums(squares, c, g).div(count) as tf.Tensor1D;
      const inv = tf.rsqrt(variance.add(epsilon)) as tf.Tensor1D;
      moments({ mean: tf.keep(mean), variance: tf.keep(variance) });
      save([x, mu, inv, gm]);
      const a = spread(gm.mul(inv), c, g);
      const value = channelChain(x, ["sub", "mul", "add"], [mu, a, spread(bt, c, g)]);
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, m, iv, gmm] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const sumDy = groupSums(dy as tf.Tensor2D, c, g);
        const s = groupSums(channelChain(xs, ["sub", "mul"], [m, dy]) as tf.Tensor2D, c, g);
        // ∂x = ((x − μ)·ι²S/n − dy + Σdy/n)·(−γι)
        const q = spread(iv.square().mul(s).div(count), c, g);
        const dx = channelChain(xs, ["sub", "mul", "sub", "add", "mul"], [
          m,
          q,
          dy,
          spread(sumDy.div(count), c, g),
          spread(gmm.mul(iv).neg(), c, g),
        ]);
        return [dx, s.mul(iv), sumDy];
      };
      return { value: value as tf.Tensor2D, gradFunc };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(x2d, gamma, beta) as tf.Tensor2D;
}

/** Per-group [C] -> per-channel [C·g], each value repeated over its group. */
function spread(v: tf.Tensor, c: number, g: number): tf.Tensor {
  return g === 1 ? v : v.reshape([c, 1]).tile([1, g]).reshape([c * g]);
}

/**
 * Per-channel batch norm (group size 1).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const bn = new BatchNorm({});
 * const y = bn.apply(tf.randomNormal([8, 4, 4, 16]), { training: true }) as tf.Tensor;
 * ```
 */
export class BatchNorm extends tf.layers.Layer {
  static className = "BatchNorm";
  readonly momentum: number;
  readonly epsilon: number;
  /** Channels that share statistics (1 here, 4 for P4 maps). */
  protected readonly groupSize: number = 1;
  private gamma!: tf.LayerVariable;
  private beta!: tf.LayerVariable;
  private movingMean!: tf.LayerVariable;
  private movingVariance!: tf.LayerVariable;

  constructor(args: BatchNormArgs = {}) {
    super(args);
    this.momentum = args.momentum ?? 0.9;
    this.epsilon = args.epsilon ?? 1e-5;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    const channels = shape[shape.length - 1] as number;
    const g = this.groupSize;
    if (channels % g !== 0) {
      throw new RangeError(
        `${this.getClassName()} expects a multiple of ${g} channels (C·${g}), got ${channels}`,
      );
    }
    const c = channels / g;
    type Init = ReturnType<typeof tf.initializers.ones>;
    const add = (name: string, init: Init, trainable: boolean) =>
      this.addWeight(name, [c], "float32", init, undefined, trainable);
    this.gamma = add("gamma", tf.initializers.ones(), true);
    this.beta = add("beta", tf.initializers.zeros(), true);
    this.movingMean = add("moving_mean", tf.initializers.zeros(), false);
    this.movingVariance = add("moving_variance", tf.initializers.ones(), false);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return inputShape as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs; // [..., C·g], any rank ≥ 2
      const channels = x.shape[x.rank - 1];
      const rows = x.size / channels;
      const g = this.groupSize;
      const c = channels / g;
      if (kwargs?.training === true) {
        let batch!: BatchMoments;
        const y = batchNormTrain(
          x.reshape([rows, channels]),
          this.gamma.read() as tf.Tensor1D,
          this.beta.read() as tf.Tensor1D,
          c,
          g,
          this.epsilon,
          (m) => batch = m,
        );
        const count = rows * g;
        const unbiased = batch.variance.mul(count / Math.max(count - 1, 1));
        const m = this.momentum;
        this.movingMean.write(this.movingMean.read().mul(m).add(batch.mean.mul(1 - m)));
        this.movingVariance.write(this.movingVariance.read().mul(m).add(unbiased.mul(1 - m)));
        tf.dispose([batch.mean, batch.variance]);
        return y.reshape(x.shape);
      }
      const mean = this.movingMean.read();
      const variance = this.movingVariance.read();
      const scale = this.gamma.read().mul(tf.rsqrt(variance.add(this.epsilon)));
      const shift = this.beta.read().sub(mean.mul(scale));
      return x.mul(spread(scale, c, g)).add(spread(shift, c, g));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon };
  }
}

/**
 * Batch norm for P4 maps [N, H, W, C·4]: statistics and affine parameters shared by the four
 * rotations of each channel.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const bn = new P4BatchNorm({});
 * const y = bn.apply(tf.randomNormal([8, 4, 4, 16]), { training: true }) as tf.Tensor;
 * ```
 */
export class P4BatchNorm extends BatchNorm {
  static override className = "P4BatchNorm";
  protected override readonly groupSize: number = P4.order;
}

/**
 * Batch norm for the G-maps of any registered group [N, H, W, C·|G|]: statistics and affine
 * parameters shared by the |G| elements of each channel, which commutes with the group's
 * action (it only moves values between the elements of one channel, and across the plane).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const bn = new GroupBatchNorm({ group: "p4m" });
 * const y = bn.apply(tf.randomNormal([8, 4, 4, 16]), { training: true }) as tf.Tensor;
 * ```
 */
export class GroupBatchNorm extends BatchNorm {
  static override className = "GroupBatchNorm";
  readonly group: Group;
  protected override readonly groupSize: number;

  constructor(args: BatchNormArgs & { group: string }) {
    super(args);
    this.group = groupNamed(args.group);
    this.groupSize = this.group.order;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), group: this.group.name };
  }
}
