/**
 * The native path (lib/kernels/native/: oneDNN through FFI on the wasm heap) against the cpu backend on
 * the same cases as the pure wasm kernels, plus its switches. Ignored when libdnnl.so.2 is
 * absent (install the Debian package libdnnl2) or SYMLAB_NATIVE=0.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setBackend } from "../lib/kernels/backend.ts";
import {
  nativeCallStats,
  nativeStatus,
  setNativeEnabled,
  setNativeThresholds,
} from "../lib/kernels/mod.ts";
import { requireInCI } from "./helpers.ts";
import { assertClose, KERNEL_CASES, runCases } from "./kernel_cases.ts";

// These cases are small; send every conv to oneDNN here so that it is the path under test.
setNativeThresholds({ minConvMacs: 0, minChainElements: 0 });

const status = nativeStatus();
const ignore = !requireInCI("oneDNN (libdnnl2)", status.available, status.reason);

await setBackend("cpu");
const reference = runCases(KERNEL_CASES);

async function native(): Promise<void> {
  await setBackend("wasm");
  assert.ok(setNativeEnabled(true).enabled);
}

const callsOf = (names: string[]) => {
  const stats = nativeCallStats();
  return names.map((n) => stats[n]?.native ?? 0);
};

KERNEL_CASES.forEach((c, i) => {
  Deno.test({
    name: `native matches cpu: ${c.name}`,
    ignore,
    async fn() {
      await native();
      const before = callsOf(c.kernels);
      const [got] = runCases([c]);
      got.forEach((g, j) => assertClose(g, reference[i][j], `output ${j}`));
      const after = callsOf(c.kernels);
      c.kernels.forEach((k, j) => assert.ok(after[j] > before[j], `${k} did not run natively`));
    },
  });
});

Deno.test({
  name: "native kernels leak no tensors and no bytes",
  ignore,
  async fn() {
    await native();
    runCases(KERNEL_CASES);
    const before = tf.memory();
    runCases(KERNEL_CASES);
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors);
    assert.equal(after.numBytes, before.numBytes);
  },
});

Deno.test({
  name: "setBackend('wasm') reports the native path; turning it off falls back to wasm",
  ignore,
  async fn() {
    const choice = await setBackend("wasm");
    assert.match(choice.reason, /oneDNN/);
    setNativeEnabled(false);
    const before = callsOf(["Conv2D"]);
    const [got] = runCases([KERNEL_CASES[0]]);
    assertClose(got[0], reference[0][0], "conv2d on pure wasm");
    assert.deepEqual(callsOf(["Conv2D"]), before);
    assert.equal(nativeStatus().enabled, false);
    setNativeEnabled(true);
  },
});
