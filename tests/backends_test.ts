/**
 * Every layer and both models give the same forward outputs and gradients on cpu, wasm and
 * webgpu (llvmpipe here). cpu is the reference.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  BackendError,
  createModel,
  P4BatchNorm,
  P4Conv2D,
  P4LiftConv2D,
  P4Pool,
  P4SpatialPyramidPool,
  rot90,
  setBackend,
  SpatialPyramidPool,
  SymmetricMaxPool2D,
} from "../mod.ts";
import { d4Image } from "../layers/group.ts";
import { setNativeEnabled } from "../lib/kernels/mod.ts";
import {
  BACKENDS,
  hasWebGPU,
  maxAbsDiff,
  randomArray,
  randomTensor,
  requireInCI,
  useBackend,
} from "./helpers.ts";

type Case = {
  name: string;
  make: () => tf.layers.Layer | tf.LayersModel;
  input: number[];
  training?: boolean;
};

// Batch 4: with 2 images the head's batch norm maps each feature to ±γ + β, so its input
// gradient is 0 in exact arithmetic and each backend returns its own rounding noise × 1/σ.
const MODEL_INPUT = [4, 16, 16, 3];

const CASES: Case[] = [
  {
    name: "P4LiftConv2D",
    make: () => new P4LiftConv2D({ filters: 3, useBias: true }),
    input: [2, 6, 6, 3],
  },
  {
    name: "P4Conv2D",
    make: () => new P4Conv2D({ filters: 2, useBias: true }),
    input: [2, 6, 6, 8],
  },
  {
    name: "P4Conv2D stride 2",
    make: () => new P4Conv2D({ filters: 2, strides: 2 }),
    input: [2, 7, 7, 8],
  },
  { name: "P4BatchNorm", make: () => new P4BatchNorm({}), input: [3, 4, 4, 8], training: true },
  { name: "P4Pool max", make: () => new P4Pool({ mode: "max" }), input: [2, 4, 4, 8] },
  { name: "P4Pool mean", make: () => new P4Pool({ mode: "mean" }), input: [2, 4, 4, 8] },
  { name: "SymmetricMaxPool2D", make: () => new SymmetricMaxPool2D({}), input: [2, 7, 8, 3] },
  {
    name: "SpatialPyramidPool",
    make: () => new SpatialPyramidPool({ levels: [1, 2, 4] }),
    input: [2, 9, 8, 3],
  },
  {
    name: "P4SpatialPyramidPool",
    make: () => new P4SpatialPyramidPool({ levels: [1, 2, 3], reduce: "max+mean" }),
    input: [2, 7, 7, 8],
  },
  {
    name: "baseline model",
    make: () => createModel("baseline", { preset: "tiny", numClasses: 5 }),
    input: MODEL_INPUT,
    training: true,
  },
  {
    name: "symmetric model",
    make: () => createModel("symmetric", { preset: "tiny", numClasses: 5 }),
    input: MODEL_INPUT,
    training: true,
  },
];

/** Forward output, input gradient and weight gradients, as plain arrays. */
async function run(c: Case, weights?: { data: Float32Array; shape: number[] }[]) {
  const layer = c.make();
  const x = randomTensor<tf.Rank.R4>(c.input, 7);
  const call = (t: tf.Tensor) =>
    (layer as tf.layers.Layer).apply(t, { training: c.training === true }) as tf.Tensor;
  call(x); // build
  if (weights) layer.setWeights(weights.map((w) => tf.tensor(w.data, w.shape)));
  // data(), not dataSync(): webgpu under Deno cannot read synchronously.
  const saved = await Promise.all(
    layer.getWeights().map(async (w) => ({ data: await w.data() as Float32Array, shape: w.shape })),
  );
  const out = call(x);
  const probe = tf.tensor(randomArray(out.size, 9), out.shape);
  const f = (t: tf.Tensor) => call(t).mul(probe).sum() as tf.Scalar;
  const dx = tf.grad(f)(x);
  const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  const dw = vars.length ? Object.values(tf.variableGrads(() => f(x), vars).grads) : [];
  return {
    weights: saved,
    arrays: await Promise.all([out, dx, ...dw].map((t) => t.data() as Promise<Float32Array>)),
  };
}

for (const c of CASES) {
  Deno.test(`${c.name}: forward and gradients agree on ${BACKENDS.join(", ")}`, async () => {
    await useBackend("cpu");
    const ref = await run(c);
    for (const backend of BACKENDS.slice(1)) {
      await useBackend(backend);
      const got = await run(c, ref.weights);
      ref.arrays.forEach((want, i) => {
        const scale = Math.max(1, ...Array.from(want, Math.abs));
        const err = maxAbsDiff(got.arrays[i], want) / scale;
        // float32 sums in a different order; batch norm divides by small variances.
        assert.ok(err < 5e-4, `${backend} tensor ${i}: relative error ${err}`);
      });
    }
  });
}

Deno.test(`symmetric model is invariant to 90° turns on ${BACKENDS.join(", ")}`, async () => {
  await useBackend("cpu");
  const model = createModel("symmetric", { preset: "tiny", numClasses: 7 });
  const x = randomTensor<tf.Rank.R4>([2, 16, 16, 3], 21) as tf.Tensor4D;
  for (const backend of BACKENDS) {
    await useBackend(backend);
    const p = await tf.softmax(model.predict(x) as tf.Tensor).data();
    for (let k = 1; k < 4; k++) {
      const q = await tf.softmax(model.predict(rot90(x, k)) as tf.Tensor).data();
      assert.ok(maxAbsDiff(p, q) <= 1e-4, `${backend} k=${k}`);
    }
  }
});

// p4m (all 8 turns and mirrors) and rotscale (quarter turns): exact on every backend, and on
// wasm both with the native oneDNN kernels and without them.
for (
  const [name, elements] of [
    ["p4m", [1, 2, 3, 4, 5, 6, 7]],
    ["rotscale", [1, 2, 3]],
  ] as const
) {
  Deno.test(`${name} model is invariant to its group on ${BACKENDS.join(", ")}, native on and off`, async () => {
    await useBackend("cpu");
    const model = createModel(name, { preset: "tiny", numClasses: 7 });
    const x = randomTensor<tf.Rank.R4>([2, 16, 16, 3], 23) as tf.Tensor4D;
    const runs: [string, () => Promise<void>][] = BACKENDS.flatMap((b) =>
      b === "wasm"
        ? [
          ["wasm + native", async () => {
            await useBackend("wasm");
            setNativeEnabled(true);
          }],
          ["wasm", async () => {
            await useBackend("wasm");
            setNativeEnabled(false);
          }],
        ] as [string, () => Promise<void>][]
        : [[b, () => useBackend(b)]] as [string, () => Promise<void>][]
    );
    for (const [label, use] of runs) {
      await use();
      const p = await tf.softmax(model.predict(x) as tf.Tensor).data();
      for (const e of elements) {
        const g = name === "p4m" ? d4Image(x, e) : rot90(x, e);
        const q = await tf.softmax(model.predict(g) as tf.Tensor).data();
        assert.ok(maxAbsDiff(p, q) <= 1e-4, `${label} element ${e}: ${maxAbsDiff(p, q)}`);
      }
    }
    setNativeEnabled(true);
  });
}

Deno.test("setBackend obeys explicit names, rejects unknown ones, and auto says why", async () => {
  assert.equal((await setBackend("cpu")).name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.equal((await setBackend("wasm")).name, "wasm");
  await assert.rejects(
    setBackend("tpu" as "cpu"),
    (e: Error) =>
      e instanceof BackendError && /expected one of auto, webgpu, wasm, cpu/.test(e.message),
  );
  const auto = await setBackend("auto");
  assert.ok(auto.reason.startsWith("auto: "), auto.reason);
  const adapter = hasWebGPU ? await navigator.gpu.requestAdapter() : null;
  const software = adapter?.info.isFallbackAdapter ||
    /llvmpipe|swiftshader/i.test(adapter?.info.description ?? "");
  assert.equal(auto.name, adapter && !software ? "webgpu" : "wasm", auto.reason);
  if (software) assert.match(auto.reason, /software rasteriser/);
});

requireInCI(
  "a WebGPU adapter",
  hasWebGPU,
  "navigator.gpu.requestAdapter() gave none (.ci/run installs libegl-mesa0 and libgl1-mesa-dri: llvmpipe through GL)",
);

Deno.test({
  name: "setBackend('webgpu') runs on the adapter it reports",
  ignore: !hasWebGPU,
  fn: async () => {
    const choice = await setBackend("webgpu");
    assert.equal(choice.name, "webgpu");
    assert.equal(tf.getBackend(), "webgpu");
    assert.ok(choice.adapter && choice.adapter.length > 0);
    const y = tf.conv2d(
      tf.ones([1, 3, 3, 1]) as tf.Tensor4D,
      tf.ones([3, 3, 1, 1]) as tf.Tensor4D,
      1,
      "same",
    );
    assert.deepEqual(Array.from(await y.data()), [4, 6, 4, 6, 9, 6, 4, 6, 4]);
  },
});
