/**
 * symlab's wasm kernels (lib/wasm_kernels.ts: conv filter gradient, stride-1 input gradient,
 * depthwise gradients, Sum/Mean over leading axes) against the cpu backend, with the native
 * path off, on small shapes: strides 1 and 2, same/valid/explicit padding, non-square.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setBackend } from "../lib/backend.ts";
import { setNativeEnabled } from "../lib/native/mod.ts";
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
