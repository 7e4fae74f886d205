/** bench/gpu_check.ts: which group elements each family is checked with, and that the check has teeth. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { checkInvariance, groupElements, TOLERANCE } from "../bench/gpu_check.ts";
import { MODEL_NAMES, MODELS } from "../lib/model/models.ts";
import { rot90 } from "../lib/transforms.ts";
import { randomTensor, useBackend } from "./helpers.ts";

await useBackend("cpu");

Deno.test("gpu_check checks every p4 family with three turns and p4m with the mirrors too", () => {
  for (const name of MODEL_NAMES) {
    const group = MODELS[name].group;
    const names = groupElements(name).map((g) => g.name);
    if (group.startsWith("p4m")) {
      assert.deepEqual(names, [
        "rot90",
        "rot180",
        "rot270",
        "mirror",
        "rot90∘mirror",
        "rot180∘mirror",
        "rot270∘mirror",
      ]);
    } else if (group.startsWith("p4")) assert.deepEqual(names, ["rot90", "rot180", "rot270"]);
    else assert.deepEqual(names, [], name);
  }
  assert.ok(MODEL_NAMES.some((m) => groupElements(m).length === 7), "a p4m family exists");
});

Deno.test("gpu_check's group elements act on NHWC batches as turns and a W mirror", async () => {
  const x = randomTensor<tf.Rank.R4>([2, 5, 5, 3], 3) as tf.Tensor4D;
  const [r90, , , mirror, r90m] = groupElements("p4m");
  assert.deepEqual(await r90.apply(x).data(), await rot90(x, 1).data());
  const m = await mirror.apply(x).array(), src = await x.array();
  assert.deepEqual(m[1][2][0], src[1][2][4], "mirror reverses W");
  assert.deepEqual(await r90m.apply(x).data(), await rot90(tf.reverse(x, 2), 1).data());
});

Deno.test("checkInvariance: p4m is within the bound for every element, the baseline is not", async () => {
  const rows = await checkInvariance("p4m", "tiny", 16, 2);
  assert.equal(rows.length, 7);
  for (const r of rows) assert.ok(r.ok && r.probDiff <= TOLERANCE, `${r.element}: ${r.probDiff}`);
  const before = tf.memory().numTensors;
  const [control] = await checkInvariance("baseline", "tiny", 16, 2, groupElements("symmetric"));
  assert.equal(tf.memory().numTensors, before, "no tensor left behind");
  assert.ok(!control.ok && control.probDiff > TOLERANCE, `baseline ${control.probDiff}`);
});
