import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  ScaleBatchNorm,
  ScaleConv2D,
  ScaleLiftConv2D,
  ScalePool,
  Z2Conv2D,
} from "../layers/mod.ts";
import { permuteLast, rot90, rotP4 } from "../layers/group.ts";
import { hermite, hermiteBasis, SCALE_DEFAULTS, shiftScales } from "../layers/scale_basis.ts";
import { meanEquivarianceError } from "../lib/eval/scale_equivariance.ts";
import { generateSynthetic } from "../lib/data/mod.ts";
import {
  conv2dRef,
  maxAbsDiff,
  randomArray,
  randomTensor,
  tensorDelta,
  useBackend,
} from "./helpers.ts";

await useBackend("wasm");
const TOL = 1e-4;
const S = SCALE_DEFAULTS.sigmas.length;

function apply(layer: tf.layers.Layer, x: tf.Tensor, training = false): tf.Tensor {
  return layer.apply(x, { training }) as tf.Tensor;
}

async function assertRoundTrip(layer: tf.layers.Layer, x: tf.Tensor) {
  const model = tf.sequential({
    layers: [tf.layers.inputLayer({ inputShape: [null, null, x.shape[3]!] }), layer],
  });
  let saved!: tf.io.ModelArtifacts;
  await model.save(tf.io.withSaveHandler((a) => {
    saved = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved));
  const reloaded = loaded.layers[loaded.layers.length - 1];
  assert.equal(reloaded.getClassName(), layer.getClassName());
  const { name: _a, ...configA } = layer.getConfig();
  const { name: _b, ...configB } = reloaded.getConfig();
  assert.deepEqual(configB, configA);
  assert.equal(maxAbsDiff(model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor), 0);
}

/** κ_i[a, b, rest] = Σ_f basis[i, f, a, b]·w[f, rest], by loops. */
function kernelsRef(kernelSize: number, sigmas: number[], w: Float32Array, rest: number) {
  const basis = hermiteBasis(kernelSize, sigmas, 2);
  const kk = kernelSize * kernelSize;
  return sigmas.map((_, i) => {
    const out = new Float32Array(kk * rest);
    for (let q = 0; q < kk; q++) {
      for (let f = 0; f < basis.size; f++) {
        const b = basis.data[(i * basis.size + f) * kk + q];
        for (let j = 0; j < rest; j++) out[q * rest + j] += b * w[f * rest + j];
      }
    }
    return out;
  });
}

// ---------------------------------------------------------------- basis

Deno.test("Hermite polynomials and the basis: shape, moments fitted to the grid, normalised", () => {
  assert.deepEqual([0, 1, 2, 3].map((n) => hermite(n, 2)), [1, 2, 3, 2]); // He₃(2) = 8 − 6
  const sigmas = [0.9, 1.27, 1.8];
  const basis = hermiteBasis(7, sigmas, 2);
  assert.equal(basis.size, 9);
  assert.equal(basis.data.length, 3 * 9 * 49);
  const fn = (i: number, f: number) => basis.data.subarray((i * 9 + f) * 49, (i * 9 + f + 1) * 49);
  // Unit L2 norm at the smallest scale; support cut to 3, 5, 7 pixels.
  for (let f = 0; f < 9; f++) {
    assert.ok(Math.abs(fn(0, f).reduce((s, v) => s + v * v, 0) - 1) < 1e-5);
  }
  assert.equal(fn(0, 0)[0], 0); // corner outside the 3×3 support of σ = 0.9
  assert.notEqual(fn(2, 0)[0], 0);
  // The zeroth moment of function (0, 0) — a flat image's response — is the same at every scale.
  const sums = sigmas.map((_, i) => fn(i, 0).reduce((s, v) => s + v, 0));
  assert.ok(Math.abs(sums[1] / sums[0] - 1) < 1e-5 && Math.abs(sums[2] / sums[0] - 1) < 1e-5);
  // Function (2, 0) (He₂ along rows) has zero sum: flat regions give it no response.
  assert.ok(Math.abs(fn(1, 6).reduce((s, v) => s + v, 0)) < 1e-5);
  assert.throws(() => hermiteBasis(4, sigmas, 2), /odd/);
  assert.throws(() => hermiteBasis(3, [0.5, 2], 2), /too few/);
});

// ---------------------------------------------------------------- ScaleLiftConv2D

Deno.test("ScaleLiftConv2D equals a loop reference: one filter at every scale", () => {
  const [n, h, w, cin, cout, k] = [2, 6, 5, 2, 3, 7];
  const x = randomArray(n * h * w * cin, 1);
  const layer = new ScaleLiftConv2D({ filters: cout, useBias: true });
  const xt = tf.tensor(x, [n, h, w, cin]);
  assert.deepEqual(apply(layer, xt).shape, [n, h, w, cout * S]);
  const bias = [0.5, -1, 2];
  layer.setWeights([layer.getWeights()[0], tf.tensor1d(bias)]);
  const coeff = layer.getWeights()[0].dataSync() as Float32Array; // [F, cin, cout]
  const kernels = kernelsRef(k, [...SCALE_DEFAULTS.sigmas], coeff, cin * cout);
  const bank = new Float32Array(k * k * cin * cout * S);
  kernels.forEach((kappa, i) => {
    for (let q = 0; q < k * k * cin; q++) {
      for (let o = 0; o < cout; o++) bank[q * cout * S + o * S + i] = kappa[q * cout + o];
    }
  });
  const ref = conv2dRef(x, [n, h, w, cin], bank, k, cout * S, 3);
  const expected = ref.data.map((v, i) => v + bias[Math.floor((i % (cout * S)) / S)]);
  assert.ok(maxAbsDiff(apply(layer, xt), expected) < TOL);
});

Deno.test("ScaleLiftConv2D with rotations is exactly P4-equivariant", () => {
  const layer = new ScaleLiftConv2D({ filters: 2, rotations: 4, useBias: true });
  const x = randomTensor<tf.Rank.R4>([2, 9, 9, 3], 2) as tf.Tensor4D;
  const y = apply(layer, x) as tf.Tensor4D;
  assert.deepEqual(y.shape, [2, 9, 9, 2 * S * 4]);
  for (let k = 0; k < 4; k++) {
    assert.ok(maxAbsDiff(apply(layer, rot90(x, k)), rotP4(y, k)) < 1e-5, `k=${k}`);
  }
});

// ---------------------------------------------------------------- ScaleConv2D

Deno.test("ScaleConv2D equals a loop reference over each scale window (window 1, 2, 3)", () => {
  const [n, h, w, cin, cout, k] = [1, 6, 6, 2, 2, 7];
  const x = randomArray(n * h * w * cin * S, 3);
  for (const window of [1, 2, 3]) {
    const layer = new ScaleConv2D({ filters: cout, window, useBias: true });
    const xt = tf.tensor(x, [n, h, w, cin * S]);
    const y = apply(layer, xt);
    assert.deepEqual(y.shape, [n, h, w, cout * S]);
    const bias = [0.25, -0.5];
    layer.setWeights([layer.getWeights()[0], tf.tensor1d(bias)]);
    const yb = apply(layer, xt).dataSync();
    const coeff = layer.getWeights()[0].dataSync() as Float32Array; // [F, W, cin, cout]
    const kernels = kernelsRef(k, [...SCALE_DEFAULTS.sigmas], coeff, window * cin * cout);
    const expected = new Float32Array(n * h * w * cout * S);
    for (let i = 0; i < S; i++) {
      for (let j = 0; j < window && i + j < S; j++) {
        // Input scale i + j, kernel κ_{i,j} = Σ_f w[f, j] ψ_{σ_i, f}.
        const xj = new Float32Array(n * h * w * cin);
        for (let p = 0; p < n * h * w; p++) {
          for (let c = 0; c < cin; c++) xj[p * cin + c] = x[(p * cin + c) * S + i + j];
        }
        const kij = new Float32Array(k * k * cin * cout);
        for (let q = 0; q < k * k; q++) {
          for (let c = 0; c < cin * cout; c++) {
            kij[q * cin * cout + c] = kernels[i][q * window * cin * cout + j * cin * cout + c];
          }
        }
        const part = conv2dRef(xj, [n, h, w, cin], kij, k, cout, 3).data;
        for (let p = 0; p < n * h * w; p++) {
          for (let o = 0; o < cout; o++) expected[(p * cout + o) * S + i] += part[p * cout + o];
        }
      }
    }
    const withBias = expected.map((v, idx) => v + bias[Math.floor((idx % (cout * S)) / S)]);
    assert.ok(maxAbsDiff(yb, withBias) < TOL, `window ${window}`);
  }
  assert.throws(() => new ScaleConv2D({ filters: 2, window: 4 }), /window/);
  assert.throws(() => apply(new ScaleConv2D({ filters: 2 }), tf.zeros([1, 4, 4, 4])), /C·3/);
});

Deno.test("ScaleConv2D with rotations is exactly P4-equivariant, stride 1 and 2 (odd)", () => {
  for (const strides of [1, 2]) {
    const layer = new ScaleConv2D({ filters: 2, rotations: 4, strides, useBias: true });
    const f = randomTensor<tf.Rank.R4>([2, 9, 9, 2 * S * 4], 4 + strides) as tf.Tensor4D;
    const y = apply(layer, f) as tf.Tensor4D;
    for (let k = 0; k < 4; k++) {
      assert.ok(maxAbsDiff(apply(layer, rotP4(f, k)), rotP4(y, k)) < 1e-5, `s=${strides} k=${k}`);
    }
  }
});

Deno.test("scale layers survive save/load, leak no tensors, gradients match finite differences", async () => {
  const x = randomTensor<tf.Rank.R4>([1, 8, 8, 3], 6);
  const lift = new ScaleLiftConv2D({ filters: 2, rotations: 4, useBias: true, seed: 1 });
  await assertRoundTrip(lift, x);
  assert.equal(tensorDelta(() => apply(lift, x)), 0);
  const f = randomTensor<tf.Rank.R4>([1, 8, 8, 2 * S * 4], 7);
  const conv = new ScaleConv2D({ filters: 2, rotations: 4, window: 2, useBias: true, seed: 2 });
  await assertRoundTrip(conv, f);
  assert.equal(tensorDelta(() => apply(conv, f)), 0);
  const probe = randomTensor([1, 8, 8, 2 * S * 4], 8);
  const loss = () => apply(conv, f).mul(probe).sum() as tf.Scalar;
  const kernel = conv.trainableWeights[0];
  const { grads } = tf.variableGrads(loss, [kernel.read() as tf.Variable]);
  const g = Object.values(grads)[0].dataSync();
  const w0 = kernel.read().clone();
  const flat = w0.dataSync();
  for (const j of [0, 11, flat.length - 1]) {
    const bumped = flat.slice();
    bumped[j] += 0.5;
    kernel.write(tf.tensor(bumped, w0.shape));
    const up = loss().dataSync()[0];
    kernel.write(w0);
    const fd = (up - loss().dataSync()[0]) / 0.5; // the loss is linear in the coefficients
    assert.ok(Math.abs(fd - g[j]) < 1e-2 * Math.max(1, Math.abs(g[j])), `${j}: ${fd} vs ${g[j]}`);
  }
});

// ---------------------------------------------------------------- ScaleBatchNorm, ScalePool

Deno.test("ScaleBatchNorm shares statistics over scales and rotations; commutes with both", async () => {
  const [c, r] = [2, 4];
  const layer = new ScaleBatchNorm({ scales: S, rotations: r });
  const f = randomTensor<tf.Rank.R4>([2, 3, 3, c * S * r], 9).mul(2).add(1) as tf.Tensor4D;
  const y = apply(layer, f, true);
  // Reference: per channel c, statistics over N, H, W, scales and rotations.
  const d = f.dataSync(), out = y.dataSync();
  for (let ch = 0; ch < c; ch++) {
    const idx = [...d.keys()].filter((i) => Math.floor((i % (c * S * r)) / (S * r)) === ch);
    const mean = idx.reduce((s, i) => s + d[i], 0) / idx.length;
    const variance = idx.reduce((s, i) => s + (d[i] - mean) ** 2, 0) / idx.length;
    for (const i of idx) {
      assert.ok(Math.abs(out[i] - (d[i] - mean) / Math.sqrt(variance + 1e-5)) < TOL);
    }
  }
  // A cyclic permutation of the scales inside each channel, and a quarter turn.
  const block = S * r;
  const cycle = Array.from({ length: block }, (_, i) => (i + r) % block);
  const moveScales = (t: tf.Tensor4D) =>
    permuteLast(t.reshape([2, 3, 3, c, block]), cycle).reshape(t.shape) as tf.Tensor4D;
  for (const training of [true, false]) {
    const a = apply(layer, moveScales(f), training);
    assert.ok(maxAbsDiff(a, moveScales(apply(layer, f, training) as tf.Tensor4D)) < TOL);
    const b = apply(layer, rotP4(f, 1), training);
    assert.ok(maxAbsDiff(b, rotP4(apply(layer, f, training) as tf.Tensor4D, 1)) < TOL);
  }
  await assertRoundTrip(layer, f);
  assert.equal(tensorDelta(() => apply(layer, f, true)), 0);
});

Deno.test("ScalePool takes the max over scales (loop reference) and keeps the P4 action", async () => {
  const f = randomTensor<tf.Rank.R4>([2, 3, 3, 2 * S * 4], 10) as tf.Tensor4D;
  const layer = new ScalePool({ scales: S, rotations: 4 });
  const y = apply(layer, f) as tf.Tensor4D;
  assert.deepEqual(y.shape, [2, 3, 3, 8]);
  const d = f.dataSync();
  const ref = new Float32Array(y.size).map((_, o) => {
    const [p, c, r] = [Math.floor(o / 8), Math.floor((o % 8) / 4), o % 4];
    return Math.max(...[0, 1, 2].map((i) => d[p * 2 * S * 4 + (c * S + i) * 4 + r]));
  });
  assert.equal(maxAbsDiff(y, ref), 0);
  for (let k = 0; k < 4; k++) assert.equal(maxAbsDiff(apply(layer, rotP4(f, k)), rotP4(y, k)), 0);
  // Moving content up one scale only matters where it leaves the range.
  const up = shiftScales(f, S, 4, 1);
  assert.ok(maxAbsDiff(apply(layer, up), y) > 0);
  await assertRoundTrip(layer, f);
  assert.equal(tensorDelta(() => apply(layer, f)), 0);
});

// ---------------------------------------------------------------- measured equivariance

Deno.test("scale lifting: measured equivariance error ≤ half an ordinary 7×7 conv's", async () => {
  const ds = generateSynthetic({ train: 1, test: 100, seed: 3 });
  const real = tf.tensor4d(Float32Array.from(ds.test.images, (v) => v / 255), [100, 32, 32, 3]);
  const noise = tf.randomUniform([100, 32, 32, 3], 0, 1, "float32", 11) as tf.Tensor4D;
  const lift = new ScaleLiftConv2D({ filters: 6, seed: 1 });
  const plain = new Z2Conv2D({ filters: 6, kernelSize: 7, seed: 1 });
  for (const [name, x] of [["synthetic", real], ["uniform noise", noise]] as const) {
    for (const t of [1, -1]) {
      const factor = Math.SQRT2 ** t;
      const ours = await meanEquivarianceError((v) => apply(lift, v) as tf.Tensor4D, x, factor, t, {
        scales: S,
        rotations: 1,
      });
      const theirs = await meanEquivarianceError(
        (v) => apply(plain, v) as tf.Tensor4D,
        x,
        factor,
        0,
        {
          scales: 1,
          rotations: 1,
        },
      );
      assert.ok(ours <= theirs / 2, `${name} ×${factor.toFixed(3)}: ${ours} vs conv ${theirs}`);
    }
  }
});
