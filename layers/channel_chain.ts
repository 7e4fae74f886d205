/**
 * `x ∘ o₁ ∘ o₂ …` in one kernel call: the element-wise passes of batch norm, where each operand
 * is either one value per channel (the last axis, broadcast) or a tensor shaped like `x`. On
 * the wasm backend this is the `ChannelChain` kernel: one multi-threaded oneDNN pass (a binary
 * primitive with post-ops) when the native path is on, else wasm's kernels one op at a time
 * (lib/kernels/wasm/kernels.ts); on other backends it is the same tf ops. It lives beside the
 * layers because batch norm (batch_norm.ts) calls it; the kernels that implement it live in
 * lib/kernels/, which import it from here (data flows downward only).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The ops of a chain: binary with the next operand, or squaring. */
export type ChainOp = "sub" | "mul" | "add" | "square";

/** The kernel's name on the wasm backend. */
export const CHANNEL_CHAIN = "ChannelChain";

/** Operands as kernel inputs: o0, o1, … */
export function chainInputs(x: tf.Tensor, operands: tf.Tensor[]): tf.NamedTensorMap {
  return Object.fromEntries([["x", x], ...operands.map((o, i) => [`o${i}`, o])]);
}

/**
 * Applies `ops` left to right to `x`; the binary ops take `operands` in order.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const x = tf.randomNormal([2, 4, 4, 8]);
 * const mean = tf.mean(x, [0, 1, 2]);
 * const scale = tf.fill([8], 0.5);
 * const beta = tf.fill([8], 0.1);
 * // (x − μ)·a + β per channel, one pass on wasm + oneDNN
 * const y = channelChain(x, ["sub", "mul", "add"], [mean, scale, beta]);
 * ```
 */
export function channelChain(x: tf.Tensor, ops: ChainOp[], operands: tf.Tensor[]): tf.Tensor {
  if (ops.filter((o) => o !== "square").length !== operands.length) {
    throw new RangeError(`channelChain: ${ops.join(",")} needs one operand per binary op`);
  }
  if (tf.getBackend() === "wasm" && tf.getKernel(CHANNEL_CHAIN, "wasm")) {
    return tf.engine().runKernel(CHANNEL_CHAIN, chainInputs(x, operands), { ops }) as tf.Tensor;
  }
  return tf.tidy(() => {
    let y = x;
    let k = 0;
    for (const op of ops) y = op === "square" ? y.square() : y[op](operands[k++]);
    return y;
  });
}
