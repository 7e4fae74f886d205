/**
 * The kernel installer (lib/kernels/mod.ts): `overrideKernel` falls through to the kernel it
 * replaced, thresholds are checked options, call counts are read-only snapshots, and turning
 * the native path on before any backend starts still installs native over wasm's kernels.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setBackend } from "../lib/kernels/backend.ts";
import {
  DEFAULT_NATIVE_THRESHOLDS,
  installKernels,
  type KernelArgs,
  nativeCallStats,
  nativeStatus,
  nativeThresholds,
  overrideKernel,
  resetNativeCallStats,
  setNativeEnabled,
  setNativeThresholds,
} from "../lib/kernels/mod.ts";

const native = nativeStatus();
const noNative = !native.available;
if (noNative) console.error(`native kernel-installer tests ignored: ${native.reason}`);

interface CpuBackend {
  readSync(dataId: object): Float32Array;
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): tf.TensorInfo;
}

/** Runs kernel `name` on x and returns its values. */
function runOn(name: string, x: number[]): number[] {
  const t = tf.tensor1d(x);
  const out = tf.engine().runKernel(name, { x: t }) as tf.Tensor;
  const values = [...out.dataSync()];
  tf.dispose([t, out]);
  return values;
}

/** A cpu kernel body mapping every value of input x through f. */
function mapValues(f: (v: number) => number): (args: KernelArgs) => tf.TensorInfo {
  return ({ inputs, backend }) => {
    const cpu = backend as unknown as CpuBackend;
    const x = (inputs as { x: tf.TensorInfo }).x;
    return cpu.makeTensorInfo(x.shape, "float32", cpu.readSync(x.dataId).map(f));
  };
}

Deno.test("overrideKernel falls through to the kernel it replaced and keeps its setup", async () => {
  await setBackend("cpu");
  const name = "SymlabTestDouble";
  const setupFunc = () => {};
  tf.registerKernel({
    kernelName: name,
    backendName: "cpu",
    setupFunc,
    kernelFunc: mapValues((v) => 2 * v),
  });
  try {
    const body = mapValues((v) => v + 100);
    overrideKernel(name, "cpu", (args) => {
      const x = (args.inputs as { x: tf.TensorInfo }).x;
      return x.shape[0] > 2 ? body(args) : undefined; // short inputs: the doubling kernel
    });
    assert.deepEqual(runOn(name, [1, 2, 3]), [101, 102, 103]);
    assert.deepEqual(runOn(name, [1, 2]), [2, 4]);
    assert.equal(tf.getKernel(name, "cpu")!.setupFunc, setupFunc);
  } finally {
    tf.unregisterKernel(name, "cpu");
  }
});

Deno.test("a body that declines with nothing to fall through to names the kernel", async () => {
  await setBackend("cpu");
  const name = "SymlabTestNothingBelow";
  overrideKernel(name, "cpu", () => undefined);
  try {
    assert.throws(
      () => runOn(name, [1]),
      { message: `${name} on cpu: no kernel to fall through to for these inputs` },
    );
  } finally {
    tf.unregisterKernel(name, "cpu");
  }
});

Deno.test("setNativeThresholds changes only what it names and refuses what is not a size", () => {
  try {
    const t = setNativeThresholds({ minConvMacs: 5 });
    assert.deepEqual(t, { ...DEFAULT_NATIVE_THRESHOLDS, minConvMacs: 5 });
    assert.equal(nativeThresholds(), t);
    assert.throws(() => {
      (t as { minConvMacs: number }).minConvMacs = 0; // read-only: change it through the setter
    }, TypeError);
    installKernels({ thresholds: { minChainElements: 7 } });
    assert.deepEqual(nativeThresholds(), {
      ...DEFAULT_NATIVE_THRESHOLDS,
      minConvMacs: 5,
      minChainElements: 7,
    });
    const bad: [unknown, RegExp][] = [
      [{ minConvMacs: -1 }, /^Invalid native thresholds: minConvMacs: expected a number ≥ 0$/],
      [{ minMatMulMacs: NaN }, /^Invalid native thresholds: minMatMulMacs: /],
      [{ minChainElements: "1" }, /^Invalid native thresholds: minChainElements: .*number/],
      [{ minConvMac: 1 }, /^Invalid native thresholds: minConvMac: /],
    ];
    for (const [value, message] of bad) {
      assert.throws(() => setNativeThresholds(value as never), { name: "TypeError", message });
    }
    assert.throws(
      () => installKernels({ thresholds: { minConvMacs: -2 } }),
      { name: "TypeError", message: /^Invalid kernel options: thresholds\.minConvMacs: / },
    );
    assert.throws(
      () => installKernels({ native: "yes" as never }),
      { name: "TypeError", message: /^Invalid kernel options: native: / },
    );
    assert.deepEqual(nativeThresholds(), {
      ...DEFAULT_NATIVE_THRESHOLDS,
      minConvMacs: 5,
      minChainElements: 7,
    }); // a refused call changes nothing
  } finally {
    setNativeThresholds(DEFAULT_NATIVE_THRESHOLDS);
  }
  assert.deepEqual(nativeThresholds(), DEFAULT_NATIVE_THRESHOLDS);
});

/** One conv, its input gradient and its filter gradient on the active backend. */
function convWithGradients(): void {
  tf.tidy(() => {
    const x = tf.randomNormal([2, 8, 8, 3]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
    tf.grads((a, b) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same").sum())([x, w]);
  });
}

Deno.test({
  name: "nativeCallStats is a read-only snapshot and resetNativeCallStats zeroes it",
  ignore: noNative,
  async fn() {
    await setBackend("wasm");
    setNativeThresholds({ minConvMacs: 0 });
    try {
      assert.ok(setNativeEnabled(true).enabled);
      resetNativeCallStats();
      assert.deepEqual(nativeCallStats(), {});
      convWithGradients();
      const first = nativeCallStats();
      assert.deepEqual(first.Conv2D, { native: 1, fallback: 0 });
      assert.throws(() => {
        (first.Conv2D as { native: number }).native = 0;
      }, TypeError);
      convWithGradients();
      assert.deepEqual(first.Conv2D, { native: 1, fallback: 0 }); // a snapshot does not move
      assert.deepEqual(nativeCallStats().Conv2D, { native: 2, fallback: 0 });
      resetNativeCallStats();
      assert.deepEqual(nativeCallStats(), {});
    } finally {
      setNativeThresholds(DEFAULT_NATIVE_THRESHOLDS);
    }
  },
});

Deno.test({
  name: "native turned on before any backend starts still wraps wasm's kernels, not the shipped",
  ignore: noNative,
  async fn() {
    // A fresh process: the order only matters on the first install.
    const lib = (p: string) => new URL(`../lib/kernels/${p}`, import.meta.url).href;
    const code = `
      import * as tf from "@tensorflow/tfjs";
      import { nativeCallStats, setNativeEnabled, setNativeThresholds } from "${lib("mod.ts")}";
      import { setBackend } from "${lib("backend.ts")}";
      setNativeThresholds({ minConvMacs: 0 });
      if (!setNativeEnabled(true).enabled) throw new Error("native did not turn on");
      await setBackend("wasm");
      const x = tf.randomNormal([2, 8, 8, 3]), w = tf.randomNormal([3, 3, 3, 4]);
      tf.grads((a, b) => tf.conv2d(a, b, 1, "same").sum())([x, w]);
      console.log(JSON.stringify(nativeCallStats()));
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", code],
      cwd: new URL("..", import.meta.url),
      stderr: "inherit",
    }).output();
    assert.equal(out.code, 0);
    const stats = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
    for (const k of ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"]) {
      assert.ok(stats[k]?.native > 0, `${k} did not run natively: ${JSON.stringify(stats)}`);
    }
  },
});
