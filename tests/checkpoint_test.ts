import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  CheckpointError,
  type CheckpointMeta,
  loadCheckpoint,
  saveCheckpoint,
} from "../lib/model/checkpoint.ts";
import { countParams, createModel, modelConfig } from "../lib/model/models.ts";
import { useBackend } from "./helpers.ts";

await useBackend("cpu");

/** Saves a tiny baseline with optimizer state; returns its directory. */
async function saved(): Promise<string> {
  const model = createModel("baseline", { preset: "tiny", numClasses: 10 });
  const optimizer = tf.train.adam(0.01);
  // One step so that Adam has slots to save.
  optimizer.minimize(() =>
    tf.tidy(() => (model.predict(tf.ones([2, 8, 8, 3])) as tf.Tensor).sum() as tf.Scalar)
  );
  const dir = `${await Deno.makeTempDir()}/baseline`;
  const meta = {
    model: "baseline",
    config: modelConfig("baseline", { preset: "tiny", numClasses: 10 }),
    dataset: { name: "synthetic", source: "test", classNames: [...Array(10).keys()].map(String) },
    epoch: 1,
    history: [],
    backend: "cpu",
    params: countParams(model),
  } satisfies Partial<CheckpointMeta>;
  await saveCheckpoint(dir, model, { meta, optimizer });
  model.dispose();
  optimizer.dispose();
  return dir;
}

/** Asserts a one-line CheckpointError naming `file` and matching `pattern`. */
async function refused(dir: string, file: string, pattern: RegExp, withOptimizer = false) {
  await assert.rejects(loadCheckpoint(dir, { withOptimizer }), (e: Error) => {
    assert.ok(e instanceof CheckpointError, `${e.name}: ${e.message}`);
    assert.ok(e.message.startsWith(`${dir}/${file}: `), e.message);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), `not one line: ${e.message}`);
    return true;
  });
}

Deno.test("a meta.json whose config disagrees with model.json is refused naming meta.json", async () => {
  const dir = await saved();
  const meta = JSON.parse(await Deno.readTextFile(`${dir}/meta.json`));
  // 5 classes instead of 10: still a valid config, but the head's kernel has another shape.
  meta.config = modelConfig("baseline", { preset: "tiny", numClasses: 5 });
  await Deno.writeTextFile(`${dir}/meta.json`, JSON.stringify(meta));
  await refused(
    dir,
    "meta.json",
    /does not match model\.json: weight .*expected shape \[\d+,5\].*\[\d+,10\]/,
  );
  // A deeper preset: a different number of weights.
  meta.config = modelConfig("baseline", { preset: "small", numClasses: 10 });
  await Deno.writeTextFile(`${dir}/meta.json`, JSON.stringify(meta));
  await refused(dir, "meta.json", /does not match model\.json: expected \d+ weight tensors/);
});

Deno.test("a corrupt model.json is refused naming model.json and what was expected", async () => {
  const dir = await saved();
  const good = await Deno.readTextFile(`${dir}/model.json`);
  await Deno.writeTextFile(`${dir}/model.json`, good.slice(0, good.length / 2));
  await refused(dir, "model.json", /not valid JSON/);
  const json = JSON.parse(good);
  delete json.weightsManifest;
  await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(json));
  await refused(dir, "model.json", /expected a tfjs layers model: weightsManifest/);
  await Deno.writeTextFile(
    `${dir}/model.json`,
    JSON.stringify({ ...JSON.parse(good), modelTopology: 7 }),
  );
  await refused(dir, "model.json", /expected a tfjs layers model: modelTopology/);
});

Deno.test("a truncated weights.bin or optimizer.bin is refused with the expected size", async () => {
  const dir = await saved();
  const weights = await Deno.readFile(`${dir}/weights.bin`);
  await Deno.writeFile(`${dir}/weights.bin`, weights.subarray(0, weights.length - 8));
  await refused(
    dir,
    "weights.bin",
    new RegExp(`expected ${weights.length} bytes .*found ${weights.length - 8} \\(truncated\\)$`),
  );
  await Deno.writeFile(`${dir}/weights.bin`, weights);
  assert.ok((await loadCheckpoint(dir)).model, "restored weights load again");
  const opt = await Deno.readFile(`${dir}/optimizer.bin`);
  await Deno.writeFile(`${dir}/optimizer.bin`, opt.subarray(0, 12));
  await refused(
    dir,
    "optimizer.bin",
    new RegExp(`expected ${opt.length} bytes .*found 12 \\(truncated\\)$`),
    true,
  );
  // Loading without the optimizer does not read optimizer.bin at all.
  assert.ok((await loadCheckpoint(dir)).model);
});
