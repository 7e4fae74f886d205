/**
 * WebGPU under Deno cannot read a GPU tensor synchronously (tfjs' path needs a 2D canvas):
 * the project's training, evaluation and serving paths read asynchronously, and a
 * synchronous read gives a one-line error naming the asynchronous call. Runs on whatever
 * adapter is here (Mesa llvmpipe on the CI machine); skipped without one.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { loadDataset } from "../lib/data/mod.ts";
import { evaluate } from "../lib/eval/evaluate.ts";
import { setBackend } from "../lib/kernels/backend.ts";
import { canReadWebGPUSync, WebGPUSyncReadError } from "../lib/kernels/webgpu_reads.ts";
import { loadModels } from "../lib/model/checkpoint.ts";
import type { ModelName } from "../lib/model/models.ts";
import { TRAIN_DEFAULTS, type TrainOptions } from "../lib/train/options.ts";
import { trainModel } from "../lib/train/train.ts";
import { createApp, createState } from "../routes/app.ts";
import { hasWebGPU, useBackend } from "./helpers.ts";
import { multipart, testPng } from "./server_fixtures.ts";

const SYNC_METHODS = ["dataSync", "arraySync", "bufferSync"] as const;

/**
 * Records every synchronous read (whether or not its data is still on the CPU) until
 * `restore()`: the paths under test must not depend on tfjs keeping a copy on the CPU.
 */
function recordSyncReads(): { calls: string[]; restore: () => void } {
  const proto = tf.Tensor.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const calls: string[] = [];
  const saved = SYNC_METHODS.map((m) => [m, proto[m]] as const);
  for (const [m, original] of saved) {
    proto[m] = function (this: tf.Tensor, ...args: unknown[]) {
      calls.push(`${m}() of a ${this.dtype} [${this.shape}] tensor`);
      return original.apply(this, args);
    };
  }
  return { calls, restore: () => saved.forEach(([m, original]) => proto[m] = original) };
}

/** A tensor computed on the GPU (64×64 is above tfjs' 1,000-element CPU hand-off). */
const gpuTensor = () => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]));

/** Asserts `fn` throws the one-line explanation naming the asynchronous alternative. */
function assertExplained(fn: () => unknown, what: string) {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof WebGPUSyncReadError, `${what}: ${e.name}: ${e.message}`);
    assert.match(e.message, /a GPU tensor \(4096 float32 values\) on WebGPU under Deno/, what);
    assert.match(e.message, /use await tensor\.data\(\) \/ array\(\) \/ buffer\(\) instead/, what);
    assert.ok(!e.message.includes("\n"), `${what}: one line`);
    return true;
  });
}

Deno.test({
  name: "a synchronous read of a GPU tensor on webgpu says to use await data()",
  ignore: !hasWebGPU,
  fn: async () => {
    // Deno has OffscreenCanvas but no 2D context: the reason tfjs' sync path cannot work.
    assert.equal(canReadWebGPUSync(), false);
    await useBackend("webgpu");
    const y = gpuTensor();
    assertExplained(() => y.dataSync(), "dataSync");
    assertExplained(() => y.arraySync(), "arraySync");
    assertExplained(() => y.bufferSync(), "bufferSync");
    assertExplained(() => y.toString(true), "toString");
    // The asynchronous read works, and afterwards tfjs holds a CPU copy that reads sync.
    assert.ok((await y.data()).every((v) => v === 64));
    assert.equal(y.dataSync()[0], 64);
    // Values made on the CPU and not yet uploaded are still readable synchronously.
    assert.deepEqual([...tf.tensor1d([1, 2, 3]).dataSync()], [1, 2, 3]);
    // Using a GPU tensor on another backend moves it with a synchronous read.
    const z = gpuTensor();
    await setBackend("cpu");
    try {
      assertExplained(() => z.add(1), "a backend switch");
    } finally {
      await useBackend("webgpu");
    }
    assert.equal((await z.add(1).data())[0], 65);
    tf.dispose([y, z]);
  },
});

Deno.test({
  name: "on webgpu, training, evaluation and /classify make no synchronous read",
  ignore: !hasWebGPU,
  fn: async () => {
    await useBackend("webgpu");
    const out = await Deno.makeTempDir();
    const reads = recordSyncReads();
    try {
      tf.tidy(() => tf.scalar(1).dataSync());
      assert.equal(reads.calls.splice(0).length, 1, "the recorder sees a synchronous read");
      const { dataset } = await loadDataset({
        name: "synthetic",
        seed: 5,
        syntheticTrain: 32,
        syntheticTest: 16,
      });
      const options = {
        ...TRAIN_DEFAULTS,
        preset: "tiny",
        epochs: 1,
        batchSize: 16,
        limit: 32,
        evalLimit: 16,
        out,
      } as TrainOptions;
      const names: ModelName[] = ["baseline", "symmetric"];
      for (const name of names) {
        const r = await trainModel(name, dataset, options, { backend: "webgpu" }, {
          log: () => {},
          progress: false,
        });
        assert.ok(Number.isFinite(r.epochs[0].trainLoss), `${name} loss`);
        assert.equal(typeof r.epochs[0].rotatedAcc, "number", `${name} rotated accuracy`);
      }
      const models = await loadModels(out);
      assert.deepEqual(models.map((m) => m.name), names);
      // One model: evaluation runs the same code for each, ~10 s per model on llvmpipe.
      const sym = models.find((m) => m.name === "symmetric")!;
      const { results } = await evaluate([{ name: sym.name, model: sym.model }], dataset.test, {
        sweep: "quick",
        seed: 1,
        limit: 8,
        advLimit: 4,
        pgdRestarts: 1,
        batchSize: 8,
        progress: false,
      });
      assert.ok(results.symmetric.clean.top1 >= 0 && results.symmetric.clean.top1 <= 1);
      assert.equal(results.symmetric.fgsm.length, 2, "FGSM at each quick-sweep ε");
      // 90° turns are exact on the symmetric model, on the GPU as everywhere.
      const r90 = results.symmetric.rotation.find((r) => r.angle === 90)!;
      assert.ok(r90.invariance > 0.9999, `invariance ${r90.invariance}`);
      const app = createApp(createState(models));
      const res = await app.request("/classify?rotate=90", {
        method: "POST",
        body: multipart(testPng()),
      });
      const body = await res.text();
      assert.equal(res.status, 200, body);
      const served = JSON.parse(body).models;
      assert.deepEqual(Object.keys(served), names);
      const turn = served.symmetric.transforms[0];
      assert.equal(turn.kind, "rotate");
      assert.ok(Math.abs(turn.invariance - 1) <= 1e-4, `served invariance ${turn.invariance}`);
      assert.equal(served.symmetric.original.top.length, 5);
      assert.deepEqual(reads.calls, [], "synchronous reads on the webgpu paths");
      models.forEach((m) => m.model.dispose());
    } finally {
      reads.restore();
      await Deno.remove(out, { recursive: true });
    }
  },
});
