import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  BatchNorm,
  P4BatchNorm,
  P4Conv2D,
  P4LiftConv2D,
  P4Pool,
  P4SpatialPyramidPool,
  SpatialPyramidPool,
  SymmetricMaxPool2D,
  Z2Conv2D,
} from "../layers/mod.ts";
import { binEdges, isSymmetricGrid } from "../layers/mod.ts";
import { rot90, rotP4 } from "../layers/group.ts";
import {
  conv2dRef,
  maxAbsDiff,
  randomArray,
  randomTensor,
  rotFilterRef,
  tensorDelta,
  useBackend,
} from "./helpers.ts";

await useBackend("wasm");
const TOL = 1e-4;

/** Applies a layer to a concrete tensor (building it on first use). */
function apply(layer: tf.layers.Layer, x: tf.Tensor, training = false): tf.Tensor {
  return layer.apply(x, { training }) as tf.Tensor;
}

/** Round-trips a one-layer model through tfjs serialization; returns the reloaded layer. */
async function roundTrip(layer: tf.layers.Layer, inputShape: (number | null)[]) {
  const model = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape }), layer] });
  let saved!: tf.io.ModelArtifacts;
  await model.save(tf.io.withSaveHandler((a) => {
    saved = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved));
  return { model, loaded };
}

async function assertRoundTrip(layer: tf.layers.Layer, x: tf.Tensor) {
  const { model, loaded } = await roundTrip(layer, [null, null, x.shape[3]!]);
  const reloaded = loaded.layers[loaded.layers.length - 1];
  assert.equal(reloaded.getClassName(), layer.getClassName());
  const { name: _a, ...configA } = layer.getConfig();
  const { name: _b, ...configB } = reloaded.getConfig();
  assert.deepEqual(configB, configA);
  assert.ok(maxAbsDiff(model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor) === 0);
}

// ---------------------------------------------------------------- Z2Conv2D

Deno.test("Z2Conv2D equals a loop reference, with and without bias, stride 1 and 2", () => {
  const [n, h, w, cin, cout, k] = [2, 7, 6, 3, 4, 3];
  const x = randomArray(n * h * w * cin, 21);
  for (const strides of [1, 2]) {
    const layer = new Z2Conv2D({ filters: cout, strides, useBias: true });
    const xt = tf.tensor(x, [n, h, w, cin]);
    assert.deepEqual(apply(layer, xt).shape, [
      n,
      Math.ceil(h / strides),
      Math.ceil(w / strides),
      cout,
    ]);
    const bias = [0.5, -1, 2, 0.25];
    layer.setWeights([layer.getWeights()[0], tf.tensor1d(bias)]);
    const kernel = layer.getWeights()[0].dataSync() as Float32Array;
    const ref = conv2dRef(x, [n, h, w, cin], kernel, k, cout, 1, strides);
    const expected = ref.data.map((v, i) => v + bias[i % cout]);
    assert.ok(maxAbsDiff(apply(layer, xt), expected) < TOL, `stride ${strides}`);
  }
});

Deno.test("Z2Conv2D starts from the same weights and outputs as tfjs-layers' conv2d", () => {
  const x = randomTensor<tf.Rank.R4>([2, 8, 8, 3], 22);
  const ours = new Z2Conv2D({ filters: 5, seed: 7 });
  const theirs = tf.layers.conv2d({
    filters: 5,
    kernelSize: 3,
    padding: "same",
    useBias: false,
    kernelInitializer: tf.initializers.heNormal({ seed: 7 }),
  });
  assert.ok(maxAbsDiff(apply(ours, x), apply(theirs, x)) < TOL);
  assert.equal(maxAbsDiff(ours.getWeights()[0], theirs.getWeights()[0]), 0);
});

Deno.test("Z2Conv2D survives save/load and leaks no tensors", async () => {
  const layer = new Z2Conv2D({ filters: 3, useBias: true, seed: 1 });
  const x = randomTensor<tf.Rank.R4>([1, 6, 6, 2], 23);
  await assertRoundTrip(layer, x);
  assert.equal(tensorDelta(() => apply(layer, x)), 0);
});

Deno.test("the first conv computes no input gradient (nothing upstream of it trains)", async () => {
  for (const first of [new Z2Conv2D({ filters: 4 }), new P4LiftConv2D({ filters: 2 })]) {
    const second = new Z2Conv2D({ filters: 3 });
    const x = randomTensor<tf.Rank.R4>([2, 8, 8, 3], 24);
    const loss = () => apply(second, apply(first, x)).square().sum() as tf.Scalar;
    loss().dispose(); // builds both layers
    const vars = [...first.trainableWeights, ...second.trainableWeights]
      .map((w) => w.read() as tf.Variable);
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(loss, vars);
      tf.dispose([value, ...Object.values(grads)]);
    });
    const calls = (name: string) => info.kernels.filter((k) => k.name === name).length;
    assert.equal(calls("Conv2DBackpropFilter"), 2, first.getClassName());
    assert.equal(calls("Conv2DBackpropInput"), 1, first.getClassName());
  }
});

// ---------------------------------------------------------------- P4LiftConv2D

Deno.test("P4LiftConv2D output shape is [N, H, W, filters·4]", () => {
  const y = apply(new P4LiftConv2D({ filters: 3 }), tf.zeros([2, 6, 5, 2]));
  assert.deepEqual(y.shape, [2, 6, 5, 12]);
  const s2 = new P4LiftConv2D({ filters: 3, strides: 2, padding: "valid" });
  assert.deepEqual(s2.computeOutputShape([null, 7, 9, 2]), [null, 3, 4, 12]);
});

Deno.test("P4LiftConv2D equals a loop reference with rotated filters", () => {
  const [n, h, w, cin, cout, k] = [2, 5, 6, 2, 3, 3];
  const x = randomArray(n * h * w * cin, 3);
  const layer = new P4LiftConv2D({ filters: cout, useBias: true });
  const y = apply(layer, tf.tensor(x, [n, h, w, cin]));
  const kernel = layer.getWeights()[0].dataSync() as Float32Array;
  layer.setWeights([layer.getWeights()[0], tf.tensor1d([0.5, -1, 2])]);
  const yb = apply(layer, tf.tensor(x, [n, h, w, cin]));
  const bank = new Float32Array(k * k * cin * cout * 4);
  for (let r = 0; r < 4; r++) {
    const rw = rotFilterRef(kernel, k, cin * cout, r);
    for (let q = 0; q < k * k * cin; q++) {
      for (let o = 0; o < cout; o++) bank[q * cout * 4 + o * 4 + r] = rw[q * cout + o];
    }
  }
  const ref = conv2dRef(x, [n, h, w, cin], bank, k, cout * 4, 1);
  assert.ok(maxAbsDiff(y, ref.data) < TOL);
  const bias = [0.5, -1, 2];
  const refB = ref.data.map((v, i) => v + bias[Math.floor((i % (cout * 4)) / 4)]);
  assert.ok(maxAbsDiff(yb, refB) < TOL);
});

Deno.test("P4LiftConv2D turns with its input: Φ(rot(x, k)) = k·Φ(x) for k = 0..3", () => {
  const layer = new P4LiftConv2D({ filters: 4, useBias: true });
  const x = randomTensor<tf.Rank.R4>([2, 8, 8, 3], 5);
  const y = apply(layer, x) as tf.Tensor4D;
  for (let k = 0; k < 4; k++) {
    assert.ok(maxAbsDiff(apply(layer, rot90(x, k)), rotP4(y, k)) < TOL, `k=${k}`);
  }
  // A non-square input: the plane turns, so H and W swap.
  const xr = randomTensor<tf.Rank.R4>([1, 5, 7, 3], 6);
  assert.ok(
    maxAbsDiff(apply(layer, rot90(xr, 1)), rotP4(apply(layer, xr) as tf.Tensor4D, 1)) < TOL,
  );
});

Deno.test("P4LiftConv2D survives save/load and leaks no tensors", async () => {
  const layer = new P4LiftConv2D({ filters: 2, useBias: true });
  const x = randomTensor<tf.Rank.R4>([1, 6, 6, 3], 7);
  await assertRoundTrip(layer, x);
  assert.equal(tensorDelta(() => apply(layer, x)), 0);
});

// ---------------------------------------------------------------- P4Conv2D

Deno.test("P4Conv2D equals a loop reference with rotated and rolled filters", () => {
  const [n, h, w, cin, cout, k] = [2, 5, 4, 2, 3, 3];
  const x = randomArray(n * h * w * cin * 4, 9);
  const layer = new P4Conv2D({ filters: cout });
  const y = apply(layer, tf.tensor(x, [n, h, w, cin * 4]));
  assert.deepEqual(y.shape, [n, h, w, cout * 4]);
  const kernel = layer.getWeights()[0].dataSync() as Float32Array; // [k,k,cin,4,cout]
  const bank = new Float32Array(k * k * cin * 4 * cout * 4);
  for (let r = 0; r < 4; r++) {
    const rw = rotFilterRef(kernel, k, cin * 4 * cout, r);
    for (let q = 0; q < k * k; q++) {
      for (let c = 0; c < cin; c++) {
        for (let s = 0; s < 4; s++) {
          for (let o = 0; o < cout; o++) {
            const src = rw[((q * cin + c) * 4 + (s - r + 4) % 4) * cout + o];
            bank[((q * cin + c) * 4 + s) * cout * 4 + o * 4 + r] = src;
          }
        }
      }
    }
  }
  const ref = conv2dRef(x, [n, h, w, cin * 4], bank, k, cout * 4, 1);
  assert.ok(maxAbsDiff(y, ref.data) < TOL);
});

Deno.test("P4Conv2D turns with its input for k = 0..3", () => {
  const layer = new P4Conv2D({ filters: 3, useBias: true });
  const f = randomTensor<tf.Rank.R4>([2, 6, 6, 8], 11);
  const y = apply(layer, f) as tf.Tensor4D;
  for (let k = 0; k < 4; k++) {
    assert.ok(maxAbsDiff(apply(layer, rotP4(f, k)), rotP4(y, k)) < TOL, `k=${k}`);
  }
});

Deno.test("P4Conv2D with stride 2 is exact on odd sizes and not on even ones", () => {
  const layer = new P4Conv2D({ filters: 2, strides: 2 });
  const err = (size: number) => {
    const f = randomTensor<tf.Rank.R4>([1, size, size, 8], size);
    return maxAbsDiff(apply(layer, rotP4(f, 1)), rotP4(apply(layer, f) as tf.Tensor4D, 1));
  };
  assert.ok(isSymmetricGrid(9, 3, 2, "same") && !isSymmetricGrid(8, 3, 2, "same"));
  assert.ok(err(9) < TOL, "odd size must be exact");
  assert.ok(err(8) > 1e-2, "even size with stride 2 samples an asymmetric grid");
});

Deno.test("P4Conv2D rejects a non-P4 input and survives save/load without leaks", async () => {
  assert.throws(() => apply(new P4Conv2D({ filters: 2 }), tf.zeros([1, 4, 4, 3])), /C·4/);
  const layer = new P4Conv2D({ filters: 2 });
  const f = randomTensor<tf.Rank.R4>([1, 5, 5, 8], 12);
  await assertRoundTrip(layer, f);
  assert.equal(tensorDelta(() => apply(layer, f)), 0);
});

// ---------------------------------------------------------------- P4BatchNorm

Deno.test("P4BatchNorm shares statistics across the four rotations (loop reference)", () => {
  const [n, h, w, c] = [3, 2, 3, 2];
  const x = randomArray(n * h * w * c * 4, 13).map((v, i) => v * (1 + (i % 8)) + (i % 3));
  const layer = new P4BatchNorm({ momentum: 0.5 });
  layer.build([null, h, w, c * 4]);
  const gamma = [1.5, -0.5], beta = [0.25, 2];
  const [, , mm, mv] = layer.getWeights();
  layer.setWeights([tf.tensor1d(gamma), tf.tensor1d(beta), mm, mv]);
  const y = apply(layer, tf.tensor(x, [n, h, w, c * 4]), true).dataSync();
  const count = n * h * w * 4;
  for (let ch = 0; ch < c; ch++) {
    let s = 0, s2 = 0;
    for (let i = 0; i < x.length; i++) if (Math.floor((i % (c * 4)) / 4) === ch) s += x[i];
    const mean = s / count;
    for (let i = 0; i < x.length; i++) {
      if (Math.floor((i % (c * 4)) / 4) === ch) s2 += (x[i] - mean) ** 2;
    }
    const variance = s2 / count;
    for (let i = 0; i < x.length; i++) {
      if (Math.floor((i % (c * 4)) / 4) !== ch) continue;
      const ref = (x[i] - mean) / Math.sqrt(variance + 1e-5) * gamma[ch] + beta[ch];
      assert.ok(Math.abs(y[i] - ref) < TOL);
    }
    const [, , newMean, newVar] = layer.getWeights();
    assert.ok(Math.abs(newMean.dataSync()[ch] - 0.5 * mean) < TOL);
    assert.ok(Math.abs(newVar.dataSync()[ch] - (0.5 + 0.5 * variance * count / (count - 1))) < TOL);
  }
});

Deno.test("BatchNorm/P4BatchNorm training gradients equal autodiff of the plain formula", () => {
  for (const [Layer, g] of [[BatchNorm, 1], [P4BatchNorm, 4]] as const) {
    const [n, h, w, c] = [3, 4, 5, 3];
    const layer = new Layer({});
    layer.build([null, h, w, c * g]);
    const gamma = tf.tensor1d([1.5, -0.5, 0.75]), beta = tf.tensor1d([0.25, 2, -1]);
    const [, , mm, mv] = layer.getWeights();
    layer.setWeights([gamma, beta, mm, mv]);
    const x = randomTensor<tf.Rank.R4>([n, h, w, c * g], 31).mul(3).add(1);
    const r = randomTensor<tf.Rank.R4>([n, h, w, c * g], 32); // loss Σ y·r: dy = r
    // Reference: the formula, differentiated by tfjs (statistics over N, H, W and the group).
    const plain = (xx: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => {
      const x5 = xx.reshape([n, h, w, c, g]);
      const { mean, variance } = tf.moments(x5, [0, 1, 2, 4], true);
      const y = x5.sub(mean).div(variance.add(1e-5).sqrt())
        .mul(gm.reshape([c, 1])).add(bt.reshape([c, 1]));
      return y.reshape(xx.shape).mul(r).sum() as tf.Scalar;
    };
    const expected = tf.grads(plain)([x, gamma, beta]);
    const ours = (xx: tf.Tensor, gm: tf.Tensor, bt: tf.Tensor) => {
      layer.setWeights([gm, bt, mm, mv]);
      return (apply(layer, xx, true).mul(r).sum()) as tf.Scalar;
    };
    // The layer reads its variables, so its γ/β gradients come from tf.variableGrads.
    const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => ours(x, gamma, beta), vars);
    const dx = tf.grad((xx: tf.Tensor) => ours(xx, gamma, beta))(x);
    assert.ok(maxAbsDiff(dx, expected[0]) < 1e-4, `${Layer.className} dx`);
    assert.ok(maxAbsDiff(grads[vars[0].name], expected[1]) < 1e-3, `${Layer.className} dγ`);
    assert.ok(maxAbsDiff(grads[vars[1].name], expected[2]) < 1e-3, `${Layer.className} dβ`);
  }
});

Deno.test("P4BatchNorm commutes with the P4 action in training and inference", () => {
  const layer = new P4BatchNorm({});
  const f = randomTensor<tf.Rank.R4>([2, 4, 4, 8], 14);
  for (const training of [true, false]) {
    for (let k = 0; k < 4; k++) {
      const a = apply(layer, rotP4(f, k), training);
      const b = rotP4(apply(layer, f, training) as tf.Tensor4D, k);
      assert.ok(maxAbsDiff(a, b) < TOL, `training=${training} k=${k}`);
    }
  }
});

Deno.test("P4BatchNorm survives save/load and leaks no tensors", async () => {
  const layer = new P4BatchNorm({});
  const f = randomTensor<tf.Rank.R4>([2, 3, 3, 8], 15);
  apply(layer, f, true); // move the statistics away from their initial values
  await assertRoundTrip(layer, f);
  assert.equal(tensorDelta(() => apply(layer, f, true)), 0);
  assert.equal(tensorDelta(() => apply(layer, f, false)), 0);
});

// ---------------------------------------------------------------- P4Pool

Deno.test("P4Pool reduces the rotation axis (loop reference) and is equivariant", async () => {
  const f = randomTensor<tf.Rank.R4>([2, 3, 4, 12], 16);
  const data = f.dataSync();
  for (const mode of ["max", "mean"] as const) {
    const layer = new P4Pool({ mode });
    const y = apply(layer, f);
    assert.deepEqual(y.shape, [2, 3, 4, 3]);
    const ref = new Float32Array(y.size).map((_, i) => {
      const vals = [0, 1, 2, 3].map((r) => data[i * 4 + r]);
      return mode === "max" ? Math.max(...vals) : vals.reduce((a, b) => a + b) / 4;
    });
    assert.ok(maxAbsDiff(y, ref) < TOL);
    for (let k = 0; k < 4; k++) {
      assert.ok(maxAbsDiff(apply(layer, rotP4(f, k)), rot90(y as tf.Tensor4D, k)) < TOL);
    }
    await assertRoundTrip(layer, f);
    assert.equal(tensorDelta(() => apply(layer, f)), 0);
  }
});

// ---------------------------------------------------------------- SymmetricMaxPool2D

Deno.test("SymmetricMaxPool2D is exact on odd sizes where a plain 2×2 pool is not", async () => {
  const layer = new SymmetricMaxPool2D({});
  for (const [h, w] of [[8, 8], [15, 15], [7, 10]]) {
    const x = randomTensor<tf.Rank.R4>([2, h, w, 3], h * w);
    const y = apply(layer, x) as tf.Tensor4D;
    assert.deepEqual(y.shape, [2, Math.ceil(h / 2), Math.ceil(w / 2), 3]);
    for (let k = 0; k < 4; k++) {
      assert.ok(maxAbsDiff(apply(layer, rot90(x, k)), rot90(y, k)) === 0, `${h}x${w} k=${k}`);
    }
  }
  const even = randomTensor<tf.Rank.R4>([1, 8, 8, 2], 17);
  assert.ok(maxAbsDiff(apply(layer, even), tf.maxPool(even, 2, 2, "valid")) === 0);
  const odd = randomTensor<tf.Rank.R4>([1, 15, 15, 2], 18);
  const plain = (x: tf.Tensor4D) => tf.maxPool(x, 2, 2, "valid");
  assert.ok(maxAbsDiff(plain(rot90(odd, 1)), rot90(plain(odd), 1)) > 0.01);
  await assertRoundTrip(layer, odd);
  assert.equal(tensorDelta(() => apply(layer, odd)), 0);
});

// ---------------------------------------------------------------- SpatialPyramidPool

/** Loop reference: level-major, bin-row-major, channel-minor; max or mean per bin. */
function sppRef(x: tf.Tensor4D, levels: number[], mode: "max" | "mean"): Float32Array {
  const [n, h, w, c] = x.shape;
  const d = x.dataSync();
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    for (const l of levels) {
      for (let i = 0; i < l; i++) {
        for (let j = 0; j < l; j++) {
          const [r0, r1] = [Math.floor(i * h / l), Math.ceil((i + 1) * h / l)];
          const [c0, c1] = [Math.floor(j * w / l), Math.ceil((j + 1) * w / l)];
          for (let ch = 0; ch < c; ch++) {
            let acc = mode === "max" ? -Infinity : 0;
            for (let y = r0; y < r1; y++) {
              for (let z = c0; z < c1; z++) {
                const v = d[((b * h + y) * w + z) * c + ch];
                acc = mode === "max" ? Math.max(acc, v) : acc + v;
              }
            }
            out.push(mode === "max" ? acc : acc / ((r1 - r0) * (c1 - c0)));
          }
        }
      }
    }
  }
  return new Float32Array(out);
}

Deno.test("binEdges are mirror-symmetric for every size, unlike SPP-net's window/stride", () => {
  for (let n = 4; n < 40; n++) {
    for (const l of [1, 2, 3, 4]) {
      const e = binEdges(n, l);
      e.forEach(([s, t], b) =>
        assert.deepEqual([n - e[l - 1 - b][1], n - e[l - 1 - b][0]], [s, t])
      );
      assert.equal(e[0][0], 0);
      assert.equal(e[l - 1][1], n);
    }
  }
  // SPP-net: window ceil(7/4) = 2, stride floor(7/4) = 1 -> bins start 0,1,2,3: not symmetric.
  const sppNet = [0, 1, 2, 3].map((b) => [b * Math.floor(7 / 4), b * Math.floor(7 / 4) + 2]);
  assert.notDeepEqual(sppNet[0], [7 - sppNet[3][1], 7 - sppNet[3][0]]);
});

Deno.test("SpatialPyramidPool equals a loop reference for divisible and other sizes", () => {
  for (const [h, w] of [[8, 8], [7, 9], [4, 13]]) {
    for (const mode of ["max", "mean"] as const) {
      const x = randomTensor<tf.Rank.R4>([2, h, w, 3], h + w);
      const layer = new SpatialPyramidPool({ levels: [1, 2, 4], mode });
      const y = apply(layer, x);
      assert.deepEqual(y.shape, [2, 3 * 21]);
      assert.ok(
        maxAbsDiff(y, sppRef(x as tf.Tensor4D, [1, 2, 4], mode)) < TOL,
        `${h}x${w} ${mode}`,
      );
    }
  }
  assert.throws(
    () => apply(new SpatialPyramidPool({ levels: [4] }), tf.zeros([1, 3, 8, 1])),
    /at least 4/,
  );
  assert.throws(() => new SpatialPyramidPool({ levels: [2, 2] }), /distinct/);
});

Deno.test("SpatialPyramidPool bins permute exactly under 90° turns", async () => {
  const layer = new SpatialPyramidPool({ levels: [1, 2, 3, 4] });
  for (const size of [8, 7, 10]) {
    const x = randomTensor<tf.Rank.R4>([2, size, size, 3], size);
    const y = apply(layer, x);
    for (let k = 1; k < 4; k++) {
      const yr = apply(layer, rot90(x, k));
      let offset = 0;
      for (const l of [1, 2, 3, 4]) {
        const grid = (t: tf.Tensor) => t.slice([0, offset], [2, l * l * 3]).reshape([2, l, l, 3]);
        assert.ok(
          maxAbsDiff(grid(yr), rot90(grid(y) as tf.Tensor4D, k)) === 0,
          `size ${size} L=${l}`,
        );
        offset += l * l * 3;
      }
      if (k === 1) assert.ok(maxAbsDiff(yr, y) > 0.01, "plain SPP is not invariant");
    }
  }
  const x = randomTensor<tf.Rank.R4>([1, 9, 9, 3], 19);
  await assertRoundTrip(layer, x);
  assert.equal(tensorDelta(() => apply(layer, x)), 0);
});

// ---------------------------------------------------------------- P4SpatialPyramidPool

/** Loop reference of the orbit pooling, straight from the formula in the layer's doc. */
function p4SppRef(f: tf.Tensor4D, levels: number[], reduce: "max" | "mean"): number[] {
  const [n, h, w, c4] = f.shape;
  const c = c4 / 4;
  const binned = sppRef(f, levels, "max");
  const out: number[] = [];
  const perSample = binned.length / n;
  for (let b = 0; b < n; b++) {
    let offset = b * perSample;
    for (const l of levels) {
      const at = (i: number, j: number, ch: number, s: number) =>
        binned[offset + (i * l + j) * c4 + ch * 4 + s];
      const turn = (i: number, j: number, g: number): [number, number] => {
        for (let t = 0; t < g; t++) [i, j] = [l - 1 - j, i];
        return [i, j];
      };
      const m = (i: number, j: number, ch: number, s: number) => {
        const vals = [0, 1, 2, 3].map((g) => at(...turn(i, j, g), ch, (s + g) % 4));
        return reduce === "max" ? Math.max(...vals) : vals.reduce((a, v) => a + v) / 4;
      };
      const half = Math.floor(l / 2);
      const [rows, cols] = l % 2 === 0 ? [half, half] : [half, half + 1];
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          for (let ch = 0; ch < c; ch++) for (let s = 0; s < 4; s++) out.push(m(i, j, ch, s));
        }
      }
      if (l % 2 === 1) { for (let ch = 0; ch < c; ch++) out.push(m(half, half, ch, 0)); }
      offset += l * l * c4;
    }
  }
  void h, w;
  return out;
}

Deno.test("P4SpatialPyramidPool equals a loop reference of its orbit formula", () => {
  for (const size of [8, 9]) {
    const f = randomTensor<tf.Rank.R4>([2, size, size, 8], size + 20);
    for (const reduce of ["max", "mean"] as const) {
      const y = apply(new P4SpatialPyramidPool({ levels: [1, 2, 3, 4], reduce }), f);
      assert.deepEqual(y.shape, [2, 2 * (1 + 4 + 9 + 16)]);
      const ref = [0, 1].flatMap((b) =>
        p4SppRef(f.slice([b], [1]) as tf.Tensor4D, [1, 2, 3, 4], reduce)
      );
      assert.ok(maxAbsDiff(y, ref) < TOL, `size ${size} ${reduce}`);
    }
  }
});

Deno.test("P4SpatialPyramidPool is exactly invariant to 90° turns at every level", async () => {
  for (const levels of [[1], [2], [3], [4], [5], [1, 2, 4]]) {
    const layer = new P4SpatialPyramidPool({ levels, reduce: "max+mean" });
    for (const size of [8, 9, 12]) {
      if (size < Math.max(...levels)) continue;
      const f = randomTensor<tf.Rank.R4>([2, size, size, 12], size * 7 + levels.length);
      const y = apply(layer, f);
      for (let k = 1; k < 4; k++) {
        assert.ok(
          maxAbsDiff(apply(layer, rotP4(f, k)), y) < 1e-6,
          `levels ${levels} size ${size} k=${k}`,
        );
      }
    }
  }
  const layer = new P4SpatialPyramidPool({ reduce: "max+mean" });
  const f = randomTensor<tf.Rank.R4>([1, 8, 8, 8], 23);
  await assertRoundTrip(layer, f);
  assert.equal(tensorDelta(() => apply(layer, f)), 0);
});

Deno.test("filter-bank gradients equal finite differences (the bank is linear in the kernel)", () => {
  for (const layer of [new P4LiftConv2D({ filters: 2 }), new P4Conv2D({ filters: 2 })]) {
    const cin = layer instanceof P4Conv2D ? 8 : 3;
    const x = randomTensor<tf.Rank.R4>([2, 5, 5, cin], 31);
    const probe = randomTensor([2, 5, 5, 8], 32);
    apply(layer, x);
    const kernel = layer.trainableWeights[0];
    const f = () => (apply(layer, x).mul(probe).sum() as tf.Scalar);
    const { grads } = tf.variableGrads(f, [kernel.read() as tf.Variable]);
    const g = Object.values(grads)[0].dataSync();
    const w0 = kernel.read().clone();
    const flat = w0.dataSync();
    for (const j of [0, 7, flat.length - 1, Math.floor(flat.length / 2)]) {
      const bumped = flat.slice();
      bumped[j] += 1;
      kernel.write(tf.tensor(bumped, w0.shape));
      const up = f().dataSync()[0];
      kernel.write(w0);
      const fd = up - f().dataSync()[0];
      assert.ok(Math.abs(fd - g[j]) < 1e-2 * Math.max(1, Math.abs(g[j])), `${j}: ${fd} vs ${g[j]}`);
    }
  }
});
