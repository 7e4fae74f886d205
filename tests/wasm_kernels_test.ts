/**
 * symlab's wasm kernels (lib/kernels/wasm/: conv filter gradient, stride-1 input gradient,
 * depthwise gradients, Sum/Mean over leading axes, …) against the cpu backend, with the native
 * path off, on small shapes: strides 1 and 2, same/valid/explicit padding, non-square.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setBackend } from "../lib/kernels/backend.ts";
import { setNativeEnabled } from "../lib/kernels/mod.ts";
import { assertClose, KERNEL_CASES, runCases } from "./kernel_cases.ts";

await setBackend("cpu");
const reference = runCases(KERNEL_CASES);

async function pureWasm(): Promise<void> {
  await setBackend("wasm");
  setNativeEnabled(false);
}

KERNEL_CASES.forEach((c, i) => {
  Deno.test(`wasm matches cpu: ${c.name}`, async () => {
    await pureWasm();
    const [got] = runCases([c]);
    got.forEach((g, j) => assertClose(g, reference[i][j], `output ${j}`));
  });
});

Deno.test("wasm kernels leak no tensors and no bytes", async () => {
  await pureWasm();
  runCases(KERNEL_CASES); // first calls may cache kernels or backend state
  const before = tf.memory();
  runCases(KERNEL_CASES);
  const after = tf.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
});

Deno.test("same-dtype Cast and clone share the buffer safely; other casts still convert", async () => {
  await pureWasm();
  const v = tf.variable(tf.tensor1d([1.5, -2.25, 3]));
  const cast = tf.cast(v, "float32");
  const clone = tf.clone(v);
  v.assign(tf.tensor1d([7, 8, 9])); // variables swap buffers: the shares keep the old values
  assert.deepEqual([...cast.dataSync()], [1.5, -2.25, 3]);
  assert.deepEqual([...clone.dataSync()], [1.5, -2.25, 3]);
  const x = tf.tensor1d([0.5, -1.5, 2.75]);
  const y = tf.cast(x, "float32");
  x.dispose(); // the share holds its own reference
  assert.deepEqual([...y.dataSync()], [0.5, -1.5, 2.75]);
  const i = tf.cast(tf.tensor1d([2.7, -1.2, 0]), "int32");
  assert.equal(i.dtype, "int32");
  assert.deepEqual([...i.dataSync()], [2, -1, 0]);
  assert.deepEqual([...tf.cast(tf.tensor1d([0, 3, -1], "int32"), "bool").dataSync()], [0, 1, 1]);
  assert.deepEqual([...tf.cast(tf.tensor1d([4, 5], "int32"), "float32").dataSync()], [4, 5]);
  tf.dispose([v, cast, clone, y, i]);
});
