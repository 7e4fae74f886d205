import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  P4mBatchNorm,
  P4mConv2D,
  P4mLiftConv2D,
  P4mPool,
  P4mSpatialPyramidPool,
} from "../layers/mod.ts";
import { ConvBase } from "../layers/conv_base.ts";
import { actP4m, d4Image, groupBank, P4M, rot90 } from "../layers/group.ts";
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
const TOL = 1e-5;
const D4_ORDER = P4M.order;
const ELEMENTS = [...Array(D4_ORDER).keys()];
const d4Compose = P4M.compose;
const d4Inverse = P4M.inverse;
const p4mFilterBank = (w: tf.Tensor5D) => groupBank(P4M, w);

function apply(layer: tf.layers.Layer, x: tf.Tensor, training = false): tf.Tensor {
  return layer.apply(x, { training }) as tf.Tensor;
}

/** Max |a − b| relative to max |b| (outputs of random layers are O(1)–O(10)). */
function relErr(a: tf.Tensor, b: tf.Tensor): number {
  return maxAbsDiff(a, b) / Math.max(1, tf.max(tf.abs(b)).dataSync()[0]);
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

// ---- an independent D4: 2×2 integer matrices of points, (m, r) = Mᵐ Rʳ ----

type Mat = [number, number, number, number];
const mul = (a: Mat, b: Mat): Mat => [
  a[0] * b[0] + a[1] * b[2],
  a[0] * b[1] + a[1] * b[3],
  a[2] * b[0] + a[3] * b[2],
  a[2] * b[1] + a[3] * b[3],
];
const R: Mat = [0, -1, 1, 0];
const M: Mat = [-1, 0, 0, 1]; // the left-right mirror: x = column ↦ −x
const matOf = (e: number): Mat => {
  let g: Mat = [1, 0, 0, 1];
  for (let i = 0; i < (e & 3); i++) g = mul(R, g);
  return e >= 4 ? mul(M, g) : g;
};
const indexOf = (g: Mat) => ELEMENTS.find((e) => matOf(e).every((v, i) => v === g[i]))!;
const composeRef = (a: number, b: number) => indexOf(mul(matOf(a), matOf(b)));

/** Flips the columns of a k×k×rest filter: out[a][b] = in[a][k-1-b]. */
function flipFilterRef(w: Float32Array, k: number, rest: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      for (let q = 0; q < rest; q++) {
        out[(a * k + b) * rest + q] = w[(a * k + k - 1 - b) * rest + q];
      }
    }
  }
  return out;
}

/** The filter transformed by element e: turned by r, then mirrored if m = 1. */
function d4FilterRef(w: Float32Array, k: number, rest: number, e: number): Float32Array {
  const turned = rotFilterRef(w, k, rest, e & 3);
  return e >= 4 ? flipFilterRef(turned, k, rest) : turned;
}

// ---------------------------------------------------------------- D4 maths

Deno.test("d4Compose and d4Inverse agree with 2×2 matrices; M R M = R⁻¹", () => {
  for (const a of ELEMENTS) {
    for (const b of ELEMENTS) assert.equal(d4Compose(a, b), composeRef(a, b), `${a}·${b}`);
    assert.equal(d4Compose(a, d4Inverse(a)), 0);
  }
  assert.equal(d4Compose(4, d4Compose(1, 4)), 3); // M R M = R³ = R⁻¹
  assert.throws(() => d4Compose(8, 0), /0\.\.7/);
});

Deno.test("d4Image is a representation: d4Image(d4Image(x, b), a) = d4Image(x, a·b)", () => {
  const x = randomTensor<tf.Rank.R4>([2, 5, 7, 2], 1) as tf.Tensor4D;
  for (const a of ELEMENTS) {
    for (const b of ELEMENTS) {
      assert.equal(maxAbsDiff(d4Image(d4Image(x, b), a), d4Image(x, d4Compose(a, b))), 0);
    }
  }
  // Element 4 is the left-right flip, element 6 the up-down flip.
  assert.equal(maxAbsDiff(d4Image(x, 4), tf.reverse(x, 2)), 0);
  assert.equal(maxAbsDiff(d4Image(x, 6), tf.reverse(x, 1)), 0);
  assert.equal(maxAbsDiff(d4Image(x, 1), rot90(x, 1)), 0);
});

Deno.test("actP4m is a group action and moves r → r+1 unmirrored, r → r−1 mirrored", () => {
  const f = randomTensor<tf.Rank.R4>([1, 4, 6, 16], 2) as tf.Tensor4D;
  for (const a of ELEMENTS) {
    for (const b of ELEMENTS) {
      assert.equal(maxAbsDiff(actP4m(actP4m(f, b), a), actP4m(f, d4Compose(a, b))), 0);
    }
  }
  // A quarter turn: slot (0, r) takes (0, r − 1); slot (1, r) takes (1, r + 1).
  const turned = actP4m(f, 1).reshape([-1, 8]).arraySync() as number[][];
  const plane = rot90(f, 1).reshape([-1, 8]).arraySync() as number[][];
  for (let row = 0; row < plane.length; row++) {
    for (let r = 0; r < 4; r++) {
      assert.equal(turned[row][r], plane[row][(r + 3) % 4]);
      assert.equal(turned[row][4 + r], plane[row][4 + (r + 1) % 4]);
    }
  }
  // A mirror: the plane flips and the m blocks swap, r unchanged.
  const mirrored = actP4m(f, 4).reshape([-1, 8]).arraySync() as number[][];
  const flipped = tf.reverse(f, 2).reshape([-1, 8]).arraySync() as number[][];
  for (let row = 0; row < flipped.length; row++) {
    for (let e = 0; e < 8; e++) assert.equal(mirrored[row][e], flipped[row][(e + 4) % 8]);
  }
});

// ---------------------------------------------------------------- P4mLiftConv2D

Deno.test("P4mLiftConv2D equals a loop reference with the eight transformed filters", () => {
  const [n, h, w, cin, cout, k] = [2, 5, 6, 2, 3, 3];
  const x = randomArray(n * h * w * cin, 3);
  const layer = new P4mLiftConv2D({ filters: cout, useBias: true });
  const xt = tf.tensor(x, [n, h, w, cin]);
  assert.deepEqual(apply(layer, xt).shape, [n, h, w, cout * 8]);
  const bias = [0.5, -1, 2];
  layer.setWeights([layer.getWeights()[0], tf.tensor1d(bias)]);
  const kernel = layer.getWeights()[0].dataSync() as Float32Array;
  const bank = new Float32Array(k * k * cin * cout * 8);
  for (const e of ELEMENTS) {
    const we = d4FilterRef(kernel, k, cin * cout, e);
    for (let q = 0; q < k * k * cin; q++) {
      for (let o = 0; o < cout; o++) bank[q * cout * 8 + o * 8 + e] = we[q * cout + o];
    }
  }
  const ref = conv2dRef(x, [n, h, w, cin], bank, k, cout * 8, 1);
  const expected = ref.data.map((v, i) => v + bias[Math.floor((i % (cout * 8)) / 8)]);
  assert.ok(maxAbsDiff(apply(layer, xt), expected) < 1e-4);
});

Deno.test("P4mLiftConv2D transforms with its input: Φ(g·x) = g·Φ(x) for all 8 elements", () => {
  const layer = new P4mLiftConv2D({ filters: 3, useBias: true });
  for (const [h, w] of [[8, 8], [5, 7]]) {
    const x = randomTensor<tf.Rank.R4>([2, h, w, 3], h * w) as tf.Tensor4D;
    const y = apply(layer, x) as tf.Tensor4D;
    for (const g of ELEMENTS) {
      assert.ok(relErr(apply(layer, d4Image(x, g)), actP4m(y, g)) < TOL, `${h}x${w} g=${g}`);
    }
  }
});

Deno.test("P4mLiftConv2D survives save/load and leaks no tensors", async () => {
  const layer = new P4mLiftConv2D({ filters: 2, useBias: true, seed: 3 });
  const x = randomTensor<tf.Rank.R4>([1, 6, 6, 3], 4);
  await assertRoundTrip(layer, x);
  assert.equal(tensorDelta(() => apply(layer, x)), 0);
});

// ---------------------------------------------------------------- P4mConv2D

Deno.test("P4mConv2D equals a loop reference with transformed and permuted filters", () => {
  const [n, h, w, cin, cout, k] = [2, 5, 4, 2, 2, 3];
  const x = randomArray(n * h * w * cin * 8, 5);
  const layer = new P4mConv2D({ filters: cout });
  const y = apply(layer, tf.tensor(x, [n, h, w, cin * 8]));
  assert.deepEqual(y.shape, [n, h, w, cout * 8]);
  const kernel = layer.getWeights()[0].dataSync() as Float32Array; // [k,k,cin,8,cout]
  const bank = new Float32Array(k * k * cin * 8 * cout * 8);
  for (const e of ELEMENTS) {
    const we = d4FilterRef(kernel, k, cin * 8 * cout, e);
    for (let q = 0; q < k * k; q++) {
      for (let c = 0; c < cin; c++) {
        for (const j of ELEMENTS) {
          for (let o = 0; o < cout; o++) {
            // ψ_e(q, c, s) = ψ(e⁻¹q, c, e⁻¹s): slot e·j holds input element j.
            const s = composeRef(e, j);
            bank[((q * cin + c) * 8 + s) * cout * 8 + o * 8 + e] =
              we[((q * cin + c) * 8 + j) * cout + o];
          }
        }
      }
    }
  }
  const ref = conv2dRef(x, [n, h, w, cin * 8], bank, k, cout * 8, 1);
  assert.ok(maxAbsDiff(y, ref.data) < 1e-4);
});

Deno.test("P4mConv2D transforms with its input for all 8 elements, stride 1 and 2 (odd)", () => {
  for (const strides of [1, 2]) {
    const layer = new P4mConv2D({ filters: 3, useBias: true, strides });
    const f = randomTensor<tf.Rank.R4>([2, 7, 7, 16], 6 + strides) as tf.Tensor4D;
    const y = apply(layer, f) as tf.Tensor4D;
    for (const g of ELEMENTS) {
      assert.ok(relErr(apply(layer, actP4m(f, g)), actP4m(y, g)) < TOL, `s=${strides} g=${g}`);
    }
  }
});

/** A p4m conv whose bank composes elements as if mirrors did not reverse turns (Z2 × Z4). */
class BrokenP4mConv2D extends ConvBase {
  static className = "BrokenP4mConv2D";
  protected readonly order = 8;
  protected kernelShape(c8: number): number[] {
    return [3, 3, c8 / 8, 8, this.filters];
  }
  protected filterBank(kernel: tf.Tensor): tf.Tensor4D {
    const [k, , cin, , cout] = kernel.shape;
    const source = new Int32Array(k * k * cin * 8 * cout * 8);
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) {
        for (let c = 0; c < cin; c++) {
          for (const j of ELEMENTS) {
            for (let o = 0; o < cout; o++) {
              for (const e of ELEMENTS) {
                let [ta, tb] = [a, b];
                for (let t = 0; t < (e & 3); t++) [ta, tb] = [k - 1 - tb, ta];
                if (e >= 4) tb = k - 1 - tb;
                const s = 4 * ((e >> 2) ^ (j >> 2)) + (((e & 3) + (j & 3)) % 4); // wrong: no sign
                source[((ta * k + tb) * cin * 8 + c * 8 + s) * cout * 8 + o * 8 + e] =
                  (((a * k + b) * cin + c) * 8 + j) * cout + o;
              }
            }
          }
        }
      }
    }
    return tf.gather(kernel.reshape([-1]), tf.tensor1d(source, "int32"))
      .reshape([k, k, cin * 8, cout * 8]) as tf.Tensor4D;
  }
}

Deno.test("negative control: a bank that ignores M R M = R⁻¹ is not equivariant", () => {
  const broken = new BrokenP4mConv2D({ filters: 2 });
  const good = new P4mConv2D({ filters: 2 });
  const f = randomTensor<tf.Rank.R4>([1, 6, 6, 16], 8) as tf.Tensor4D;
  apply(good, f);
  apply(broken, f);
  broken.setWeights(good.getWeights()); // same kernel, only the layout differs
  const err = (layer: tf.layers.Layer, g: number) =>
    relErr(apply(layer, actP4m(f, g)), actP4m(apply(layer, f) as tf.Tensor4D, g));
  const worst = Math.max(...ELEMENTS.map((g) => err(broken, g)));
  assert.ok(worst > 1e-2, `the broken layout should fail (worst error ${worst})`);
  assert.ok(Math.max(...ELEMENTS.map((g) => err(good, g))) < TOL);
});

Deno.test("P4mConv2D rejects a non-p4m input, survives save/load, leaks no tensors", async () => {
  assert.throws(() => apply(new P4mConv2D({ filters: 2 }), tf.zeros([1, 4, 4, 12])), /C·8/);
  const layer = new P4mConv2D({ filters: 2, seed: 9 });
  const f = randomTensor<tf.Rank.R4>([1, 5, 5, 16], 9);
  await assertRoundTrip(layer, f);
  assert.equal(tensorDelta(() => apply(layer, f)), 0);
});

Deno.test("p4m filter-bank gradients equal finite differences", () => {
  for (const layer of [new P4mLiftConv2D({ filters: 2 }), new P4mConv2D({ filters: 2 })]) {
    const cin = layer instanceof P4mConv2D ? 16 : 3;
    const x = randomTensor<tf.Rank.R4>([2, 5, 5, cin], 10);
    const probe = randomTensor([2, 5, 5, 16], 11);
    apply(layer, x);
    const kernel = layer.trainableWeights[0];
    const f = () => apply(layer, x).mul(probe).sum() as tf.Scalar;
    const { grads } = tf.variableGrads(f, [kernel.read() as tf.Variable]);
    const g = Object.values(grads)[0].dataSync();
    const w0 = kernel.read().clone();
    const flat = w0.dataSync();
    for (const j of [0, 5, flat.length - 1, Math.floor(flat.length / 3)]) {
      const bumped = flat.slice();
      bumped[j] += 1;
      kernel.write(tf.tensor(bumped, w0.shape));
      const up = f().dataSync()[0];
      kernel.write(w0);
      const fd = up - f().dataSync()[0];
      assert.ok(Math.abs(fd - g[j]) < 1e-2 * Math.max(1, Math.abs(g[j])), `${j}: ${fd} vs ${g[j]}`);
    }
  }
  // The bank is a re-indexing: every kernel entry appears exactly 8 times.
  const w = tf.range(0, 3 * 3 * 1 * 8 * 1).reshape([3, 3, 1, 8, 1]) as tf.Tensor5D;
  const counts = new Map<number, number>();
  for (const v of p4mFilterBank(w).dataSync()) counts.set(v, (counts.get(v) ?? 0) + 1);
  assert.equal(counts.size, 72);
  assert.ok([...counts.values()].every((c) => c === 8));
});

// ---------------------------------------------------------------- P4mBatchNorm

Deno.test("P4mBatchNorm shares statistics over the 8 elements (loop reference)", () => {
  const [n, h, w, c] = [3, 2, 3, 2];
  const x = randomArray(n * h * w * c * 8, 12).map((v, i) => v * (1 + (i % 8)) + (i % 5));
  const layer = new P4mBatchNorm({ momentum: 0.5 });
  layer.build([null, h, w, c * 8]);
  const gamma = [1.5, -0.5], beta = [0.25, 2];
  const [, , mm, mv] = layer.getWeights();
  layer.setWeights([tf.tensor1d(gamma), tf.tensor1d(beta), mm, mv]);
  const y = apply(layer, tf.tensor(x, [n, h, w, c * 8]), true).dataSync();
  const count = n * h * w * 8;
  const channelOf = (i: number) => Math.floor((i % (c * 8)) / 8);
  for (let ch = 0; ch < c; ch++) {
    let s = 0, s2 = 0;
    for (let i = 0; i < x.length; i++) if (channelOf(i) === ch) s += x[i];
    const mean = s / count;
    for (let i = 0; i < x.length; i++) if (channelOf(i) === ch) s2 += (x[i] - mean) ** 2;
    const variance = s2 / count;
    for (let i = 0; i < x.length; i++) {
      if (channelOf(i) !== ch) continue;
      const ref = (x[i] - mean) / Math.sqrt(variance + 1e-5) * gamma[ch] + beta[ch];
      assert.ok(Math.abs(y[i] - ref) < 1e-4);
    }
    const [, , newMean, newVar] = layer.getWeights();
    assert.ok(Math.abs(newMean.dataSync()[ch] - 0.5 * mean) < 1e-4);
    assert.ok(
      Math.abs(newVar.dataSync()[ch] - (0.5 + 0.5 * variance * count / (count - 1))) < 1e-4,
    );
  }
});

Deno.test("P4mBatchNorm commutes with the p4m action; save/load; no leaks", async () => {
  const layer = new P4mBatchNorm({});
  const f = randomTensor<tf.Rank.R4>([2, 4, 4, 16], 13).mul(3).add(1) as tf.Tensor4D;
  for (const training of [true, false]) {
    for (const g of ELEMENTS) {
      const a = apply(layer, actP4m(f, g), training);
      const b = actP4m(apply(layer, f, training) as tf.Tensor4D, g);
      assert.ok(relErr(a, b) < TOL, `training=${training} g=${g}`);
    }
  }
  assert.throws(() => apply(new P4mBatchNorm({}), tf.zeros([1, 2, 2, 12])), /C·8/);
  await assertRoundTrip(layer, f);
  assert.equal(tensorDelta(() => apply(layer, f, true)), 0);
  assert.equal(tensorDelta(() => apply(layer, f, false)), 0);
});

// ---------------------------------------------------------------- P4mPool

Deno.test("P4mPool reduces the element axis (loop reference) and is equivariant", async () => {
  const f = randomTensor<tf.Rank.R4>([2, 3, 4, 24], 14) as tf.Tensor4D;
  const data = f.dataSync();
  for (const mode of ["max", "mean"] as const) {
    const layer = new P4mPool({ mode });
    const y = apply(layer, f) as tf.Tensor4D;
    assert.deepEqual(y.shape, [2, 3, 4, 3]);
    const ref = new Float32Array(y.size).map((_, i) => {
      const vals = ELEMENTS.map((e) => data[i * 8 + e]);
      return mode === "max" ? Math.max(...vals) : vals.reduce((a, b) => a + b) / 8;
    });
    assert.ok(maxAbsDiff(y, ref) < TOL);
    for (const g of ELEMENTS) {
      assert.ok(maxAbsDiff(apply(layer, actP4m(f, g)), d4Image(y, g)) < TOL, `${mode} g=${g}`);
    }
    await assertRoundTrip(layer, f);
    assert.equal(tensorDelta(() => apply(layer, f)), 0);
  }
});

// ---------------------------------------------------------------- P4mSpatialPyramidPool

/** Loop reference of M(b, c) = reduce_g F(g·b, c, g), bins as pyramid_bins.ts. */
function p4mSppRef(f: tf.Tensor4D, levels: number[], reduce: "max" | "mean"): number[] {
  const [n, h, w, c8] = f.shape;
  const c = c8 / 8;
  const d = f.dataSync();
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    for (const l of levels) {
      const bin = (i: number, j: number, ch: number, e: number) => {
        const [r0, r1] = [Math.floor(i * h / l), Math.ceil((i + 1) * h / l)];
        const [c0, c1] = [Math.floor(j * w / l), Math.ceil((j + 1) * w / l)];
        let m = -Infinity;
        for (let y = r0; y < r1; y++) {
          for (let z = c0; z < c1; z++) m = Math.max(m, d[((b * h + y) * w + z) * c8 + ch * 8 + e]);
        }
        return m;
      };
      // g·b on the L×L grid via the matrix of g acting on centred bin coordinates.
      const move = (i: number, j: number, g: number): [number, number] => {
        const [yc, xc] = [i - (l - 1) / 2, j - (l - 1) / 2];
        // Points as (x = column, y = −row) so that R turns counter-clockwise as rot90 does.
        const [px, py] = [xc, -yc];
        const mg = matOf(g);
        const [qx, qy] = [mg[0] * px + mg[1] * py, mg[2] * px + mg[3] * py];
        return [-qy + (l - 1) / 2, qx + (l - 1) / 2];
      };
      for (let i = 0; i < l; i++) {
        for (let j = 0; j < l; j++) {
          for (let ch = 0; ch < c; ch++) {
            const vals = ELEMENTS.map((g) => bin(...move(i, j, g), ch, g));
            out.push(reduce === "max" ? Math.max(...vals) : vals.reduce((a, v) => a + v) / 8);
          }
        }
      }
    }
  }
  return out;
}

Deno.test("P4mSpatialPyramidPool equals a loop reference of its orbit formula", () => {
  for (const size of [8, 9]) {
    const f = randomTensor<tf.Rank.R4>([2, size, size, 16], size + 30) as tf.Tensor4D;
    for (const reduce of ["max", "mean"] as const) {
      const y = apply(new P4mSpatialPyramidPool({ levels: [1, 2, 3, 4], reduce }), f);
      assert.deepEqual(y.shape, [2, 2 * 30]);
      const ref = [0, 1].flatMap((b) =>
        p4mSppRef(f.slice([b], [1]) as tf.Tensor4D, [1, 2, 3, 4], reduce)
      );
      assert.ok(maxAbsDiff(y, ref) < TOL, `size ${size} ${reduce}`);
    }
  }
});

Deno.test("P4mSpatialPyramidPool is exactly invariant to all 8 elements at every level", async () => {
  for (const levels of [[1], [2], [3], [4], [5], [1, 2, 4]]) {
    const layer = new P4mSpatialPyramidPool({ levels, reduce: "max+mean" });
    for (const size of [8, 9, 12]) {
      if (size < Math.max(...levels)) continue;
      const f = randomTensor<tf.Rank.R4>([2, size, size, 16], size * 7 + levels.length);
      const y = apply(layer, f);
      for (const g of ELEMENTS) {
        assert.ok(
          maxAbsDiff(apply(layer, actP4m(f as tf.Tensor4D, g)), y) < 1e-6,
          `levels ${levels} size ${size} g=${g}`,
        );
      }
    }
  }
  // Non-square maps: a quarter turn swaps H and W, still exact.
  const layer = new P4mSpatialPyramidPool({ levels: [1, 2, 3], reduce: "max+mean" });
  const f = randomTensor<tf.Rank.R4>([1, 7, 10, 16], 40) as tf.Tensor4D;
  for (const g of ELEMENTS) {
    assert.ok(maxAbsDiff(apply(layer, actP4m(f, g)), apply(layer, f)) < 1e-6);
  }
  await assertRoundTrip(layer, f);
  assert.equal(tensorDelta(() => apply(layer, f)), 0);
});
