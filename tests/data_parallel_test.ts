/**
 * lib/data_parallel.ts: gradients from N wasm workers equal the slice-weighted mean of
 * single-process gradients of the slices (exactly a single-process step with one worker),
 * moving statistics likewise; failures are one-line errors; nothing leaks on the main thread.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { DataParallel, DataParallelError, splitRows } from "../lib/train/data_parallel.ts";
import { buildModel, modelConfig, type ModelName } from "../lib/model/models.ts";
import { setNativeEnabled } from "../lib/kernels/mod.ts";
import { maxAbsDiff, randomArray, useBackend } from "./helpers.ts";

await useBackend("wasm");
setNativeEnabled(false); // the workers run pure wasm: compare like with like

const SHAPE: [number, number, number, number] = [7, 12, 12, 3]; // 2 workers: slices of 3 and 4
const CLASSES = 5;
const x = randomArray(7 * 12 * 12 * 3, 41).map((v) => Math.abs(v) % 1);
const labels = Int32Array.from([0, 3, 1, 4, 2, 3, 1]);

/** Single-process gradients and moving statistics of rows [a, b), from `weights`. */
function local(model: tf.LayersModel, weights: tf.Tensor[], a: number, b: number) {
  model.setWeights(weights);
  const pixels = SHAPE[1] * SHAPE[2] * SHAPE[3];
  const xs = tf.tensor4d(x.slice(a * pixels, b * pixels), [b - a, ...SHAPE.slice(1)] as never);
  const y = tf.oneHot(tf.tensor1d(labels.slice(a, b), "int32"), CLASSES);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(
    () => tf.losses.softmaxCrossEntropy(y, model.apply(xs, { training: true }) as tf.Tensor),
    vars,
  );
  const out = {
    grads: vars.map((v) => grads[v.name].dataSync().slice() as Float32Array),
    stats: model.weights.filter((w) => !w.trainable)
      .map((w) => w.read().dataSync().slice() as Float32Array),
    loss: value.dataSync()[0],
  };
  tf.dispose([xs, y, value, ...Object.values(grads)]);
  return out;
}

function assertNear(a: ArrayLike<number>, b: ArrayLike<number>, what: string) {
  const scale = Math.max(1, ...Array.from(b, Math.abs));
  assert.ok(maxAbsDiff(a, b) / scale < 2e-5, `${what}: ${maxAbsDiff(a, b)}`);
}

Deno.test("splitRows covers every row once, in order, in near-equal slices", () => {
  for (const [n, k] of [[64, 2], [7, 3], [2, 5], [1, 1]]) {
    const s = splitRows(n, k);
    assert.equal(s[0][0], 0);
    assert.equal(s.at(-1)![1], n);
    s.slice(1).forEach(([a], i) => assert.equal(a, s[i][1]));
    const sizes = s.map(([a, b]) => b - a);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1 && Math.min(...sizes) >= 1);
  }
});

for (const name of ["baseline", "symmetric"] as ModelName[]) {
  Deno.test(`${name}: 1 and 2 workers give the slice-weighted mean of single-process steps`, async () => {
    const config = modelConfig(name, { preset: "tiny", numClasses: CLASSES, seed: 3 });
    const model = buildModel(config);
    model.apply(tf.zeros([1, 12, 12, 3])); // build
    const start = model.getWeights().map((w) => w.clone());
    for (const workers of [1, 2]) {
      const slices = splitRows(SHAPE[0], workers);
      const parts = slices.map(([a, b]) => local(model, start, a, b));
      const share = slices.map(([a, b]) => (b - a) / SHAPE[0]);
      const weighted = (pick: (p: typeof parts[0]) => Float32Array[], k: number) => {
        const out = new Float32Array(pick(parts[0])[k].length);
        parts.forEach((p, i) => pick(p)[k].forEach((v, j) => out[j] += share[i] * v));
        return out;
      };
      model.setWeights(start);
      const dp = await DataParallel.create(config, workers);
      try {
        const before = tf.memory().numTensors;
        const got = await dp.gradients(model, x, SHAPE, labels, CLASSES);
        const vars = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
        vars.forEach((v, k) =>
          assertNear(
            got.grads[v].dataSync(),
            weighted((p) => p.grads, k),
            `${workers} workers ${v}`,
          )
        );
        model.weights.filter((w) => !w.trainable).forEach((w, k) =>
          assertNear(
            w.read().dataSync(),
            weighted((p) => p.stats, k),
            `${workers} workers ${w.name}`,
          )
        );
        assert.ok(Math.abs(got.loss - parts.reduce((s, p, i) => s + share[i] * p.loss, 0)) < 1e-5);
        assert.ok(got.hits >= 0 && got.hits <= SHAPE[0]);
        tf.dispose(Object.values(got.grads));
        assert.equal(tf.memory().numTensors, before, "tensors left on the main thread");
      } finally {
        dp.close();
      }
    }
    tf.dispose(start);
    model.dispose();
  });
}

Deno.test("a failing worker step is a one-line DataParallelError, and bad sizes are refused", async () => {
  await assert.rejects(
    DataParallel.create(modelConfig("baseline", { preset: "tiny" }), 0),
    DataParallelError,
  );
  const config = modelConfig("baseline", { preset: "tiny", numClasses: CLASSES });
  const model = buildModel(config);
  model.apply(tf.zeros([1, 12, 12, 3]));
  const dp = await DataParallel.create(config, 1);
  try {
    // 5 channels for a 3-channel model: the worker's tfjs refuses the input.
    const bad = new Float32Array(2 * 12 * 12 * 5);
    await assert.rejects(
      dp.gradients(model, bad, [2, 12, 12, 5], Int32Array.from([0, 1]), CLASSES),
      (e: Error) => e instanceof DataParallelError && !e.message.includes("\n"),
    );
  } finally {
    dp.close();
    model.dispose();
  }
});
