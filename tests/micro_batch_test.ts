import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { crossEntropyGradients, MicroBatches } from "../lib/train/step.ts";
import { parseTrainArgs } from "../scripts/train.ts";
import { UsageError } from "../scripts/cli.ts";
import { useBackend } from "./helpers.ts";
import { expandCells, validateSpec } from "../lib/experiment/spec.ts";
import { cellPaths, trainTask } from "../lib/experiment/cell.ts";

await useBackend("wasm");

/** A small model without batch norm: chunked gradients must equal the whole batch's. */
function plainModel(): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.conv2d({
    inputShape: [8, 8, 3],
    filters: 4,
    kernelSize: 3,
    activation: "relu",
    kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
  }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({
    units: 5,
    kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
  }));
  return model;
}

const n = 10, shape: [number, number, number, number] = [n, 8, 8, 3];
const x = Float32Array.from({ length: n * 8 * 8 * 3 }, (_, i) => ((i * 7919) % 1000) / 1000);
const labels = Int32Array.from({ length: n }, (_, i) => (i * 3) % 5);

Deno.test("chunked gradients equal the whole batch's (no batch norm), for chunks that do not divide it", async () => {
  const model = plainModel();
  const whole = tf.tidy(() => {
    const g = crossEntropyGradients(
      model,
      tf.tensor4d(x, shape),
      tf.tensor1d(labels, "int32"),
      5,
    );
    return { grads: g.grads, loss: g.loss, hits: g.hits };
  });
  for (const size of [1, 3, 4, 10]) {
    const chunked = await new MicroBatches(size).gradients(model, x, shape, labels, 5);
    assert.deepEqual(Object.keys(chunked.grads).sort(), Object.keys(whole.grads).sort());
    for (const [name, g] of Object.entries(whole.grads)) {
      const a = await g.data(), b = await chunked.grads[name].data();
      const scale = Math.max(...Array.from(a, Math.abs));
      a.forEach((v, i) =>
        assert.ok(Math.abs(v - b[i]) <= 1e-5 * scale + 1e-7, `${name}[${i}] chunk ${size}`)
      );
    }
    assert.ok(Math.abs(chunked.loss - (await whole.loss.data())[0]) < 1e-5, `loss, chunk ${size}`);
    assert.equal(chunked.hits, (await whole.hits.data())[0], `hits, chunk ${size}`);
    tf.dispose(Object.values(chunked.grads));
  }
  tf.dispose([whole.loss, whole.hits, ...Object.values(whole.grads)]);
  model.dispose();
});

Deno.test("a chunked step leaves no tensors behind but its gradients", async () => {
  const model = plainModel();
  const before = tf.memory().numTensors;
  const r = await new MicroBatches(4).gradients(model, x, shape, labels, 5);
  assert.equal(tf.memory().numTensors, before + Object.keys(r.grads).length);
  tf.dispose(Object.values(r.grads));
  model.dispose();
});

Deno.test("train --micro-batch: recorded in the options; bad values and --workers together are one-line errors", () => {
  assert.equal(parseTrainArgs(["--micro-batch", "16"]).options.microBatch, 16);
  assert.equal(parseTrainArgs([]).options.microBatch, 0);
  assert.throws(() => parseTrainArgs(["--micro-batch", "-1"]), /micro-?[bB]atch/);
  assert.throws(() => parseTrainArgs(["--micro-batch", "2.5"]), /micro-?[bB]atch/);
  assert.throws(
    () => parseTrainArgs(["--micro-batch", "8", "--workers", "2"]),
    (e: Error) =>
      e instanceof UsageError && /use one of --workers and --micro-batch/.test(e.message),
  );
  assert.throws(() => new MicroBatches(0), /chunk size ≥ 1/);
});

Deno.test("experiment microBatchFor: that model's cells train with microBatch, the others without", () => {
  const spec = validateSpec({
    name: "t",
    dataset: "synthetic",
    models: ["baseline", "scale"],
    seeds: [1],
    epochs: 1,
    microBatchFor: { scale: 16 },
  });
  for (const cell of expandCells(spec)) {
    const task = trainTask(spec, cell, cellPaths("/tmp/x", cell), false);
    assert.equal(task.microBatch, cell.model === "scale" ? 16 : 0);
  }
  assert.throws(
    () => validateSpec({ ...spec, microBatchFor: { rotscale: 8 } }, "f.yaml"),
    /^SpecError: f\.yaml: microBatchFor\.rotscale: not one of models \(baseline, scale\)$/,
  );
});
