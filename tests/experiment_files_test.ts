/**
 * The experiment files shipped in experiments/: each one validates, quick.yaml stays the tiny
 * grid the Slurm test runs, and paper.yaml is the paper's comparison with the cell count and
 * recipe its comment states.
 */
import assert from "node:assert/strict";
import { expandCells, isTrained, readSpec } from "../lib/experiment/spec.ts";
import { TRAIN_DEFAULTS } from "../lib/train/options.ts";

const DIR = "experiments";

Deno.test("every file in experiments/ is a valid experiment", async () => {
  const files = [...Deno.readDirSync(DIR)].filter((e) => e.isFile).map((e) => e.name).sort();
  assert.ok(files.includes("quick.yaml") && files.includes("paper.yaml"), files.join(", "));
  for (const name of files) {
    assert.match(name, /\.(ya?ml|json)$/i, `${DIR}/${name}: not an experiment file`);
    const spec = await readSpec(`${DIR}/${name}`);
    assert.ok(expandCells(spec).length > 0, name);
  }
});

Deno.test("quick.yaml is 2 models × 2 seeds × 64 images on the tiny preset (the Slurm test's grid)", async () => {
  const spec = await readSpec(`${DIR}/quick.yaml`);
  assert.equal(spec.dataset, "synthetic"); // no download
  assert.deepEqual(spec.models, ["baseline", "symmetric"]);
  assert.deepEqual(spec.seeds, [1, 2]);
  assert.deepEqual(spec.sizes, [64]);
  assert.deepEqual(spec.augmentations, ["shift"]);
  assert.equal(spec.preset, "tiny");
  assert.equal(spec.epochs, 2); // tests/slurm_test.ts expects "2/2 epochs" per cell
  const cells = expandCells(spec);
  assert.equal(cells.length, 4); // tests/slurm_test.ts expects "4 array tasks"
  assert.ok(cells.every(isTrained));
  assert.deepEqual(cells.map((c) => c.id), [
    "baseline-s1-n64-shift",
    "symmetric-s1-n64-shift",
    "baseline-s2-n64-shift",
    "symmetric-s2-n64-shift",
  ]);
});

Deno.test("paper.yaml has the cell count its comment states", async () => {
  const text = await Deno.readTextFile(`${DIR}/paper.yaml`);
  const stated = text.match(/^# Cells: (\d+)/m)?.[1];
  assert.ok(stated, "paper.yaml's comment names its number of cells (# Cells: N)");
  const cells = expandCells(await readSpec(`${DIR}/paper.yaml`));
  assert.equal(cells.length, Number(stated));
  assert.equal(cells.length, 60);
  assert.equal(cells.filter(isTrained).length, 48); // the 12 baseline+tta cells only evaluate
  assert.equal(new Set(cells.map((c) => c.id)).size, cells.length);
});

Deno.test("paper.yaml is the paper's comparison on CIFAR-100 with the recipe the paper states", async () => {
  const spec = await readSpec(`${DIR}/paper.yaml`);
  // Sec. III: "we implement a symmetry-enforced CNN architecture and compare it with a baseline
  // standard CNN"; "We utilize CIFAR-100 as a benchmark dataset".
  assert.equal(spec.dataset, "cifar100");
  assert.ok(spec.models.includes("baseline"), spec.models.join(", "));
  assert.ok(spec.models.includes("symmetric"), spec.models.join(", "));
  assert.ok(spec.models.includes("baseline+rotaug") && spec.models.includes("baseline+tta"));
  assert.equal(spec.preset, "paper");
  assert.ok(spec.seeds.length >= 3, `expected 3 or more seeds, got ${spec.seeds}`);
  // Sec. III: "Despite limited training data, our symmetry-enhanced model demonstrates improved
  // expressive capability": the full set and fractions of it.
  assert.ok(spec.sizes.includes(1) && spec.sizes.some((s) => s < 1), `${spec.sizes}`);
  // Sec. III names no optimizer, learning rate, schedule, batch size, epochs, weight decay or
  // augmentation, so the file takes the training CLI's defaults for each.
  assert.equal(spec.optimizer, TRAIN_DEFAULTS.optimizer);
  assert.equal(spec.lr, TRAIN_DEFAULTS.lr);
  assert.equal(spec.schedule, TRAIN_DEFAULTS.schedule);
  assert.equal(spec.batchSize, TRAIN_DEFAULTS.batchSize);
  assert.equal(spec.epochs, TRAIN_DEFAULTS.epochs);
  assert.equal(spec.epochsFor, undefined);
  assert.equal(spec.weightDecay, TRAIN_DEFAULTS.weightDecay);
  assert.deepEqual(spec.augmentations, [TRAIN_DEFAULTS.augment]);
  // The full sweep (Fig. 3's random rotations among it) on every test image, 1,000 attacked.
  assert.equal(spec.eval.sweep, "full");
  assert.equal(spec.eval.limit, 0);
  assert.equal(spec.eval.advLimit, 1000);
  assert.equal(spec.eval.seed, 1);
});
