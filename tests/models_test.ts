import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  CheckpointError,
  countParams,
  createModel,
  loadCheckpoint,
  MODEL_NAMES,
  modelConfig,
  ModelConfigError,
  parseModelConfig,
  presets,
  rot90,
  saveCheckpoint,
} from "../mod.ts";
import type { CheckpointMeta, ModelName } from "../mod.ts";
import { d4Image } from "../layers/group.ts";
import { maxAbsDiff, randomTensor, tensorDelta, useBackend } from "./helpers.ts";

await useBackend("wasm");

const probs = (m: tf.LayersModel, x: tf.Tensor) => tf.softmax(m.predict(x) as tf.Tensor);

/** A few Adam steps on a fixed batch; returns the losses. */
function trainSteps(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, steps: number): number[] {
  const opt = tf.train.adam(0.01);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const loss = opt.minimize(() => {
      const logits = model.apply(x, { training: true }) as tf.Tensor;
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
    }, true)!;
    losses.push(loss.dataSync()[0]);
    loss.dispose();
  }
  opt.dispose();
  return losses;
}

function meta(model: tf.LayersModel, name: ModelName) {
  return {
    model: name,
    config: modelConfig(name, { preset: "tiny", numClasses: 10 }),
    dataset: { name: "synthetic", source: "test", classNames: [...Array(10).keys()].map(String) },
    epoch: 1,
    history: [{ epoch: 1, trainLoss: 1 }],
    backend: "wasm",
    params: countParams(model),
  } satisfies Partial<CheckpointMeta>;
}

for (const name of MODEL_NAMES) {
  Deno.test(`${name}: builds, trains a step that lowers the loss, reloads to identical outputs`, async () => {
    const model = createModel(name, { preset: "tiny", numClasses: 10 });
    const x = randomTensor<tf.Rank.R4>([8, 16, 16, 3], 1).add(1).div(2);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], "int32"), 10);
    assert.deepEqual((model.predict(x) as tf.Tensor).shape, [8, 10]);
    const losses = trainSteps(model, x, y, 8);
    assert.ok(losses.at(-1)! < losses[0], `loss ${losses[0]} -> ${losses.at(-1)}`);
    const dir = await Deno.makeTempDir();
    await saveCheckpoint(`${dir}/${name}`, model, { meta: meta(model, name) });
    const loaded = await loadCheckpoint(`${dir}/${name}`);
    assert.equal(
      maxAbsDiff(model.predict(x) as tf.Tensor, loaded.model.predict(x) as tf.Tensor),
      0,
    );
    assert.equal(loaded.meta.config.model, name);
    assert.equal(tensorDelta(() => model.predict(x)), 0);
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("every model's parameter count is within 10% of the baseline's in every preset", () => {
  for (const preset of Object.keys(presets)) {
    for (const numClasses of [10, 100]) {
      const b = countParams(createModel("baseline", { preset, numClasses }));
      for (const name of MODEL_NAMES) {
        const s = countParams(createModel(name, { preset, numClasses }));
        assert.ok(Math.abs(s / b - 1) <= 0.1, `${name} ${preset}/${numClasses}: ${b} vs ${s}`);
      }
    }
  }
});

Deno.test("reference preset has exactly the PyTorch reference trunks' parameter counts", () => {
  // torch_reference.py: convs (bias-free) + BN γ, β + linear. Baseline: Σ 9·cin·cout over
  // 3→32→32→64→64→128→128 = 286,560, BN 2·448 = 896, linear 128·100 + 100 = 12,900.
  // Symmetric: lift 9·3·16 + group convs 9·4·cin·cout = 286,128, BN3d 2·224 = 448, linear 6,500.
  // p4m: lift 9·3·12 = 324 + group convs 9·8·cin·cout over 12→12→23→23→46→46 = 296,856,
  // BN 2·162 = 324, linear 46·100 + 100 = 4,700.
  assert.equal(countParams(createModel("baseline", { preset: "reference" })), 300_356);
  assert.equal(countParams(createModel("symmetric", { preset: "reference" })), 293_076);
  assert.equal(countParams(createModel("p4m", { preset: "reference" })), 302_204);
  // bench --input fashion-mnist: 32×32×1, 10 classes. The lift loses 9·2·w₀ weights (w₀ = 32,
  // 16, 12), the linear layer 90·(c + 1) (c = 128, 64, 46).
  const counts = (["baseline", "symmetric", "p4m"] as const).map((m) =>
    countParams(
      createModel(m, { preset: "reference", numClasses: 10, inputShape: [null, null, 1] }),
    )
  );
  assert.deepEqual(counts, [
    300_356 - 576 - 11_610,
    293_076 - 288 - 5_850,
    302_204 - 216 - 4_230,
  ]);
});

Deno.test("symmetric probabilities are invariant to 90° turns; baseline's are not", () => {
  const x = randomTensor<tf.Rank.R4>([4, 32, 32, 3], 3).add(1).div(2) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d([1, 2, 3, 4], "int32"), 10);
  for (const preset of ["tiny", "reference"]) {
    const sym = createModel("symmetric", { preset, numClasses: 10 });
    const base = createModel("baseline", { preset, numClasses: 10 });
    for (const trained of [false, true]) {
      if (trained) {
        trainSteps(sym, x, y, 3);
        trainSteps(base, x, y, 3);
      }
      for (let k = 1; k < 4; k++) {
        const ds = maxAbsDiff(probs(sym, x), probs(sym, rot90(x, k)));
        assert.ok(ds <= 1e-4, `${preset} trained=${trained} k=${k}: ${ds}`);
        // Logits: a trained baseline's probabilities can saturate to the same one-hot vector.
        const db = maxAbsDiff(base.predict(x) as tf.Tensor, base.predict(rot90(x, k)) as tf.Tensor);
        assert.ok(db > 1e-2, `baseline should not be invariant (${db})`);
      }
    }
  }
});

Deno.test("symmetric model accepts other input sizes and stays invariant on odd ones", () => {
  const sym = createModel("symmetric", { preset: "tiny", numClasses: 5 });
  for (const size of [24, 30, 33]) {
    const x = randomTensor<tf.Rank.R4>([2, size, size, 3], size) as tf.Tensor4D;
    assert.deepEqual((sym.predict(x) as tf.Tensor).shape, [2, 5]);
    assert.ok(maxAbsDiff(probs(sym, x), probs(sym, rot90(x, 1))) <= 1e-4, `size ${size}`);
  }
});

Deno.test("a bad model config fails with a message naming the field", () => {
  const good = modelConfig("symmetric", { preset: "tiny" });
  assert.throws(() => parseModelConfig({ ...good, widths: [4, -1] }), /widths\.1/);
  assert.throws(() => parseModelConfig({ ...good, kernelSize: 4 }), /kernelSize/);
  assert.throws(() => parseModelConfig({ ...good, head: "flatten" }), /head/);
  assert.throws(() => createModel("symmetric", { preset: "huge" }), ModelConfigError);
  assert.throws(() => createModel("symmetric", { preset: "huge" }), /Unknown preset "huge"/);
  assert.throws(
    () => createModel("baseline", { normalization: { mean: [0], std: [1] } }),
    /normalization/,
  );
});

Deno.test("a corrupt checkpoint is refused naming the file; an interrupted save recovers", async () => {
  const model = createModel("baseline", { preset: "tiny", numClasses: 10 });
  const dir = await Deno.makeTempDir();
  const ck = `${dir}/baseline`;
  await saveCheckpoint(ck, model, { meta: meta(model, "baseline") });
  const weights = await Deno.readFile(`${ck}/weights.bin`);
  weights[10] ^= 0xff;
  await Deno.writeFile(`${ck}/weights.bin`, weights);
  await assert.rejects(
    loadCheckpoint(ck),
    (e: Error) =>
      e instanceof CheckpointError && e.message.includes("weights.bin") &&
      e.message.includes("SHA-256"),
  );
  await Deno.writeTextFile(`${ck}/meta.json`, "{ not json");
  await assert.rejects(loadCheckpoint(ck), /meta\.json: not valid JSON/);
  await assert.rejects(loadCheckpoint(`${dir}/missing`), /meta\.json: file not found/);
  // A kill between "rename dir -> dir.old" and "rename dir.tmp -> dir" leaves only .old.
  await saveCheckpoint(ck, model, { meta: meta(model, "baseline") });
  await Deno.rename(ck, `${ck}.old`);
  const loaded = await loadCheckpoint(ck);
  assert.equal(loaded.meta.model, "baseline");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("p4m, scale, rotscale parameter counts derived by hand (reference preset, 100 classes)", () => {
  // p4m: lift 9·3·12 = 324, group convs 72·(12·12 + 12·23 + 23·23 + 23·46 + 46·46) = 296,856,
  // BN 2·(2·12 + 2·23 + 2·46) = 324, linear 46·100 + 100 = 4,700.
  assert.equal(countParams(createModel("p4m", { preset: "reference" })), 302_204);
  // scale: 9 basis coefficients per (in, out) pair with window 1, like a 3×3 kernel: the
  // baseline's count exactly; rotscale likewise the symmetric model's.
  assert.equal(countParams(createModel("scale", { preset: "reference" })), 300_356);
  assert.equal(countParams(createModel("rotscale", { preset: "reference" })), 293_076);
});

Deno.test("p4m probabilities are invariant to all 8 turns and mirrors, before and after training", () => {
  const x = randomTensor<tf.Rank.R4>([4, 16, 16, 3], 5).add(1).div(2) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d([1, 2, 3, 4], "int32"), 10);
  const model = createModel("p4m", { preset: "tiny", numClasses: 10 });
  for (const trained of [false, true]) {
    if (trained) trainSteps(model, x, y, 3);
    for (let g = 1; g < 8; g++) {
      const d = maxAbsDiff(probs(model, x), probs(model, d4Image(x, g)));
      assert.ok(d <= 1e-4, `trained=${trained} g=${g}: ${d}`);
    }
  }
});

Deno.test("rotscale probabilities are invariant to 90° turns, before and after training", () => {
  const x = randomTensor<tf.Rank.R4>([4, 16, 16, 3], 6).add(1).div(2) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d([1, 2, 3, 4], "int32"), 10);
  const model = createModel("rotscale", { preset: "tiny", numClasses: 10 });
  for (const trained of [false, true]) {
    if (trained) trainSteps(model, x, y, 3);
    for (let k = 1; k < 4; k++) {
      const d = maxAbsDiff(probs(model, x), probs(model, rot90(x, k)));
      assert.ok(d <= 1e-4, `trained=${trained} k=${k}: ${d}`);
    }
  }
  // Mirrors are not in its group (the negative control for the D4 test above).
  const scale = createModel("scale", { preset: "tiny", numClasses: 10 });
  const d = maxAbsDiff(scale.predict(x) as tf.Tensor, scale.predict(rot90(x, 1)) as tf.Tensor);
  assert.ok(d > 1e-3, `the scale model has no rotation symmetry (${d})`);
});
