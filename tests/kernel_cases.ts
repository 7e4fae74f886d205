/**
 * Kernel cases shared by `wasm_kernels_test.ts` (pure wasm) and `native_test.ts` (wasm + native
 * oneDNN): each case computes its outputs and gradients on the active backend; the tests compare
 * them with the cpu backend's.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { CHANNEL_CHAIN, channelChain } from "../layers/channel_chain.ts";
import { nativeThresholds } from "../lib/kernels/mod.ts";
import { randomTensor } from "./helpers.ts";

/** A named computation whose outputs are compared across backends. */
export interface KernelCase {
  name: string;
  /** Kernels whose native overrides the case exercises (for native_test's call counts). */
  kernels: string[];
  run(): tf.Tensor[];
}

type Pad = "same" | "valid" | number | [[0, 0], [number, number], [number, number], [0, 0]];

interface ConvSpec {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dilations?: number;
}

/** y = conv2d(x, w), and the gradients of Σ y·r for a fixed random r (both dx and dW). */
function convCase(spec: ConvSpec): KernelCase {
  const name = `conv2d x${JSON.stringify(spec.x)} w${JSON.stringify(spec.filter)} ` +
    `strides ${JSON.stringify(spec.strides)} pad ${JSON.stringify(spec.pad)}` +
    (spec.dilations ? ` dilations ${spec.dilations}` : "");
  return {
    name,
    kernels: spec.dilations
      ? ["Conv2D"]
      : ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"],
    run: () =>
      tf.tidy(() => {
        const x = randomTensor<tf.Rank.R4>(spec.x, 11);
        const w = randomTensor<tf.Rank.R4>(spec.filter, 12);
        const f = (x: tf.Tensor4D, w: tf.Tensor4D) =>
          tf.conv2d(x, w, spec.strides, spec.pad as never, "NHWC", spec.dilations ?? 1);
        const y = f(x, w);
        if (spec.dilations) return [y]; // tfjs has no gradient for dilated conv2d
        const r = randomTensor(y.shape, 13);
        const [dx, dw] = tf.grads((x: tf.Tensor, w: tf.Tensor) =>
          f(x as tf.Tensor4D, w as tf.Tensor4D).mul(r).sum()
        )([x, w]);
        return [y, dx, dw];
      }),
  };
}

/** Depthwise conv and both of its gradients (wasm: symlab's block-diagonal kernels). */
function depthwiseCase(
  xs: [number, number, number, number],
  fs: [number, number, number, number],
  strides: number,
  pad: "same" | "valid",
): KernelCase {
  return {
    name: `depthwiseConv2d x${JSON.stringify(xs)} w${JSON.stringify(fs)} strides ${strides} ${pad}`,
    kernels: [],
    run: () =>
      tf.tidy(() => {
        const x = randomTensor<tf.Rank.R4>(xs, 21);
        const w = randomTensor<tf.Rank.R4>(fs, 22);
        const f = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.depthwiseConv2d(x, w, strides, pad);
        const y = f(x, w);
        const r = randomTensor(y.shape, 23);
        const [dx, dw] = tf.grads((x: tf.Tensor, w: tf.Tensor) =>
          f(x as tf.Tensor4D, w as tf.Tensor4D).mul(r).sum()
        )([x, w]);
        return [y, dx, dw];
      }),
  };
}

function matMulCase(a: number[], b: number[], ta: boolean, tb: boolean): KernelCase {
  return {
    name: `matMul ${JSON.stringify(a)}${ta ? "ᵀ" : ""} × ${JSON.stringify(b)}${tb ? "ᵀ" : ""}`,
    // The native path takes GEMMs from minMatMulMacs (2¹⁸) multiply-adds per batch entry.
    kernels:
      a.at(-1)! * a.at(-2)! * (tb ? b.at(-2)! : b.at(-1)!) >= nativeThresholds().minMatMulMacs
        ? ["BatchMatMul"]
        : [],
    run: () => tf.tidy(() => [tf.matMul(randomTensor(a, 31), randomTensor(b, 32), ta, tb)]),
  };
}

function reduceCase(shape: number[], axis: number[], keepDims: boolean): KernelCase {
  return {
    name: `sum and mean of ${JSON.stringify(shape)} over ${JSON.stringify(axis)}` +
      (keepDims ? " keepDims" : ""),
    kernels: [],
    run: () =>
      tf.tidy(() => {
        const x = randomTensor(shape, 41);
        return [x.sum(axis, keepDims), x.mean(axis, keepDims)];
      }),
  };
}

/** Fused conv (what tfjs-layers' conv2d runs): bias and ReLU after the native conv. */
function fusedCase(): KernelCase {
  return {
    name: "fused conv2d + bias + relu x[2,6,5,3] w[3,3,3,4] same",
    kernels: ["FusedConv2D"],
    run: () =>
      tf.tidy(() => {
        const x = randomTensor<tf.Rank.R4>([2, 6, 5, 3], 51);
        const w = randomTensor<tf.Rank.R4>([3, 3, 3, 4], 52);
        const b = randomTensor<tf.Rank.R1>([4], 53);
        return [
          tf.fused.conv2d({ x, filter: w, strides: 1, pad: "same", bias: b, activation: "relu" }),
          tf.fused.conv2d({ x, filter: w, strides: 2, pad: "valid" }),
        ];
      }),
  };
}

/** Max pooling and its gradient; `ties` rounds x so that windows hold equal maxima. */
function maxPoolCase(
  xs: [number, number, number, number],
  size: number,
  strides: number,
  pad: "same" | "valid",
  ties = false,
): KernelCase {
  return {
    name: `maxPool x${JSON.stringify(xs)} ${size}×${size}/${strides} ${pad}${
      ties ? " with ties" : ""
    }`,
    kernels: ["MaxPoolGrad"],
    run: () =>
      tf.tidy(() => {
        let x = randomTensor<tf.Rank.R4>(xs, 61);
        if (ties) x = x.mul(2).round().relu(); // values in {0, 1, 2}: many equal maxima
        const f = (x: tf.Tensor4D) => tf.maxPool(x, size, strides, pad);
        const y = f(x);
        const r = randomTensor(y.shape, 62);
        return [y, tf.grad((x: tf.Tensor) => f(x as tf.Tensor4D).mul(r).sum())(x)];
      }),
  };
}

/** Gathers (the P4 filter banks) and broadcasting comparisons (the max-reduction gradient). */
function gatherEqualCase(): KernelCase {
  return {
    name:
      "gather over axes 0 and 1, equal with broadcasting, max over the last axis and its gradient",
    kernels: [],
    run: () =>
      tf.tidy(() => {
        const x = randomTensor([6, 5, 4], 71);
        const flat = x.reshape([-1]);
        const idx = tf.tensor1d([3, 0, 119, 7, 7, 42], "int32");
        const idx2 = tf.tensor2d([[4, 0], [2, 2]], [2, 2], "int32");
        const m = x.max(-1, true);
        const r = randomTensor([6, 5], 72);
        return [
          tf.gather(flat, idx),
          tf.gather(x, idx2, 1),
          tf.gather(x.toInt(), tf.tensor1d([5, 1], "int32"), 0),
          tf.equal(x, m).cast("float32"),
          tf.equal(
            x.mul(2).round().max(-1).reshape([6, 1, 5, 1]),
            x.mul(2).round().slice([0, 0, 0], [3, 5, 4]).reshape([1, 3, 5, 4]),
          ).cast("float32"),
          tf.grad((x: tf.Tensor) => x.max(-1).mul(r).sum())(x),
        ];
      }),
  };
}

/** Reverse over any axes and max over leading axes (P4 pyramid pooling). */
function reverseMaxCase(): KernelCase {
  return {
    name: "reverse over axes {1,2}, {0,3}, {2}, {0,1,2,3} and max over leading axes",
    kernels: [],
    run: () =>
      tf.tidy(() => {
        const x = randomTensor<tf.Rank.R4>([3, 4, 5, 6], 81);
        const r = randomTensor([4, 5, 6], 82);
        return [
          tf.reverse(x, [1, 2]),
          tf.reverse(x, [0, 3]),
          tf.reverse(x, 2),
          tf.reverse(x, [0, 1, 2, 3]),
          tf.reverse(x.toInt(), [1]),
          x.max(0),
          x.max([0, 1], true),
          x.max([1, 2]),
          tf.grad((x: tf.Tensor) => x.max(0).mul(r).sum())(x),
        ];
      }),
  };
}

/** channelChain (batch norm's passes): column and full operands, squaring, 2-D and 4-D maps. */
function channelChainCase(): KernelCase {
  return {
    name: "channelChain: (x−μ)², (x−μ)·a+β, (x−μ)·dy, ((x−μ)·q−dy+m)·s",
    kernels: [CHANNEL_CHAIN],
    run: () =>
      tf.tidy(() => {
        const x = randomTensor<tf.Rank.R4>([2, 5, 3, 6], 91);
        const dy = randomTensor<tf.Rank.R4>([2, 5, 3, 6], 92);
        const col = (seed: number) => randomTensor<tf.Rank.R1>([6], seed);
        const x2 = x.reshape([30, 6]);
        return [
          channelChain(x, ["sub", "square"], [col(93)]),
          channelChain(x2, ["sub", "mul", "add"], [col(94), col(95), col(96)]),
          channelChain(x, ["sub", "mul"], [col(97), dy]),
          channelChain(x, ["sub", "mul", "sub", "add", "mul"], [
            col(1),
            col(2),
            dy,
            col(3),
            col(4),
          ]),
        ];
      }),
  };
}

/** Every case: conv strides 1 and 2, same/valid/explicit padding, non-square, and more. */
export const KERNEL_CASES: KernelCase[] = [
  convCase({ x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: "same" }),
  convCase({ x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: "valid" }),
  convCase({ x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: "same" }),
  convCase({ x: [2, 9, 9, 3], filter: [3, 3, 3, 4], strides: 2, pad: "valid" }),
  convCase({ x: [2, 9, 7, 5], filter: [3, 3, 5, 6], strides: 1, pad: 1 }),
  convCase({ x: [2, 9, 7, 5], filter: [3, 3, 5, 6], strides: 2, pad: 1 }),
  convCase({ x: [3, 7, 10, 4], filter: [2, 3, 4, 5], strides: [1, 2], pad: "same" }),
  convCase({ x: [3, 7, 10, 4], filter: [2, 3, 4, 5], strides: [2, 1], pad: "valid" }),
  convCase({
    x: [2, 6, 9, 3],
    filter: [3, 3, 3, 2],
    strides: 1,
    pad: [[0, 0], [2, 0], [1, 2], [0, 0]],
  }),
  convCase({ x: [2, 10, 6, 3], filter: [1, 1, 3, 7], strides: 2, pad: "valid" }),
  convCase({ x: [1, 12, 11, 2], filter: [5, 5, 2, 3], strides: 1, pad: "same" }),
  convCase({ x: [2, 9, 9, 3], filter: [3, 3, 3, 4], strides: 1, pad: "same", dilations: 2 }),
  fusedCase(),
  maxPoolCase([2, 8, 8, 3], 2, 2, "valid"),
  maxPoolCase([2, 8, 6, 5], 2, 2, "valid", true),
  maxPoolCase([2, 9, 7, 3], 3, 2, "same"),
  maxPoolCase([2, 9, 7, 3], 3, 2, "same", true),
  maxPoolCase([1, 7, 9, 2], 3, 1, "same", true),
  gatherEqualCase(),
  reverseMaxCase(),
  channelChainCase(),
  depthwiseCase([2, 8, 8, 3], [3, 3, 3, 2], 1, "same"),
  depthwiseCase([2, 9, 7, 4], [3, 3, 4, 1], 2, "valid"),
  matMulCase([5, 7], [7, 3], false, false),
  matMulCase([7, 5], [3, 7], true, true),
  matMulCase([4, 5, 7], [4, 7, 3], false, false),
  matMulCase([4, 5, 7], [7, 3], false, false),
  matMulCase([4, 7, 5], [3, 7], true, true),
  matMulCase([2, 5, 7], [1, 7, 3], false, false),
  matMulCase([160, 130], [130, 120], false, false), // big enough for the native GEMM
  matMulCase([1, 70000], [70000, 8], false, false), // a batch-norm statistics GEMV
  matMulCase([3, 130, 160], [120, 130], true, true),
  matMulCase([3, 160, 130], [130, 120], false, false),
  reduceCase([4, 5, 6, 3], [0, 1, 2], false),
  reduceCase([4, 5, 6, 3], [0], true),
  reduceCase([4, 5, 6, 3], [1, 2], false),
  reduceCase([4, 5, 6, 3], [0, 1, 2, 3], false),
];

/** Each case's outputs as flat arrays with their shapes. */
export function runCases(cases: KernelCase[]): { shape: number[]; data: Float32Array }[][] {
  return cases.map((c) => {
    const outs = c.run();
    const result = outs.map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
    tf.dispose(outs);
    return result;
  });
}

/** Asserts that got ≈ want: |got − want| ≤ 1e-4 · (1 + max |want|), elementwise. */
export function assertClose(
  got: { shape: number[]; data: Float32Array },
  want: { shape: number[]; data: Float32Array },
  what: string,
): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  let scale = 1;
  for (const v of want.data) scale = Math.max(scale, Math.abs(v) + 1);
  for (let i = 0; i < want.data.length; i++) {
    const d = Math.abs(got.data[i] - want.data[i]);
    assert.ok(d <= 1e-4 * scale, `${what}: element ${i}: ${got.data[i]} vs ${want.data[i]}`);
  }
}
