/** bench/gpu_check.ts: which group elements each family is checked with, and that the check has teeth. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { checkInvariance, groupElements, TOLERANCE } from "../bench/gpu_check.ts";
import { MODEL_NAMES, MODELS } from "../lib/model/models.ts";
import { rot90 } from "../lib/transforms.ts";
import { randomTensor, useBackend } from "./helpers.ts";

await useBackend("cpu");

const TURNS = ["turn 90°", "turn 180°", "turn 270°"];

Deno.test("gpu_check checks every p4 family with three turns and p4m with the mirrors too", () => {
  // What each family is built exactly invariant to (lib/model/models.ts `exact`).
  const expected: Record<string, string[]> = {
    baseline: [],
    symmetric: TURNS,
    p4m: [...TURNS, "flip h", "turn 90° + flip h", "flip v", "turn 270° + flip h"],
    scale: [],
    rotscale: TURNS,
  };
  for (const name of MODEL_NAMES) {
    assert.deepEqual(groupElements(name).map((g) => g.name), expected[name], name);
    assert.equal(groupElements(name).length, MODELS[name].exact.order - 1, name);
  }
});

Deno.test("gpu_check's group elements act on NHWC batches as turns and W / H mirrors", async () => {
  const x = randomTensor<tf.Rank.R4>([2, 5, 5, 3], 3) as tf.Tensor4D;
  const [r90, , , flipH, r90FlipH, flipV] = groupElements("p4m");
  assert.deepEqual(await r90.apply(x).data(), await rot90(x, 1).data());
  const m = await flipH.apply(x).array(), src = await x.array();
  assert.deepEqual(m[1][2][0], src[1][2][4], "flip h reverses W");
  assert.deepEqual(await r90FlipH.apply(x).data(), await tf.reverse(rot90(x, 1), 2).data());
  assert.deepEqual(await flipV.apply(x).data(), await tf.reverse(x, 1).data(), "flip v reverses H");
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
