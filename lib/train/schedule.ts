/**
 * The optimizer and its learning-rate schedule.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { TrainOptions } from "./options.ts";

/**
 * Learning rate at fractional progress t ∈ [0, 1] through the run.
 *
 * @example
 * ```ts
 * learningRate({ lr: 0.01, schedule: "cosine" }, 0.5); // 0.005
 * ```
 */
export function learningRate(options: Pick<TrainOptions, "lr" | "schedule">, t: number): number {
  const { lr, schedule } = options;
  if (schedule === "constant") return lr;
  if (schedule === "cosine") return lr * 0.5 * (1 + Math.cos(Math.PI * t));
  // One-cycle (Smith 2018): linear warm-up over the first 15%, then cosine down to lr/1000.
  const warm = 0.15;
  if (t < warm) return lr * (0.1 + 0.9 * t / warm);
  const u = (t - warm) / (1 - warm);
  return lr * (0.001 + 0.999 * 0.5 * (1 + Math.cos(Math.PI * u)));
}

/** Adam, or SGD with Nesterov momentum, at the schedule's peak rate. */
export function makeOptimizer(options: TrainOptions): tf.Optimizer {
  return options.optimizer === "adam"
    ? tf.train.adam(options.lr)
    : tf.train.momentum(options.lr, options.momentum, true);
}

/** Sets the rate of a tfjs optimizer (momentum has a setter; Adam keeps a plain field). */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as {
    setLearningRate?: (lr: number) => void;
    learningRate: number;
  };
  if (o.setLearningRate) o.setLearningRate(lr);
  else o.learningRate = lr;
}
