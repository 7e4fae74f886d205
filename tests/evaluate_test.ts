import assert from "node:assert/strict";
import { provenance } from "../lib/provenance.ts";
import * as tf from "@tensorflow/tfjs";
import { fgsm, inputGradient, lossOf, pgd, pgdWorstCase } from "../lib/eval/attacks.ts";
import { generateSynthetic } from "../lib/data/mod.ts";
import { evaluate } from "../lib/eval/evaluate.ts";
import { EVAL_SEED, SWEEPS } from "../lib/eval/measures.ts";
import {
  decodeBits,
  decodeScores,
  isAttackRow,
  testSetHash,
  validateOutcomes,
} from "../lib/eval/outcomes.ts";
import { mixSeed } from "../lib/data/rng.ts";
import { testMetrics } from "../lib/train/train.ts";
import { writeReport } from "../lib/eval/report.ts";
import { loadModels } from "../lib/model/checkpoint.ts";
import { useBackend } from "./helpers.ts";
import { trainTinyCheckpoints } from "./server_fixtures.ts";

await useBackend("wasm");
const dir = await Deno.makeTempDir();
await trainTinyCheckpoints(dir);
const models = await loadModels(dir);
const data = generateSynthetic({ seed: 4, train: 10, test: 40 });
const x = tf.tidy(() =>
  tf.tensor4d(Float32Array.from(data.test.images.subarray(0, 8 * 3072), (v) => v / 255), [
    8,
    32,
    32,
    3,
  ])
);
const labels = tf.tensor1d(data.test.labels.subarray(0, 8), "int32");

Deno.test("input gradients match central finite differences", () => {
  for (const { model } of models) {
    const xs = x.slice([0, 0, 0, 0], [2, 16, 16, 3]) as tf.Tensor4D;
    const ys = labels.slice([0], [2]) as tf.Tensor1D;
    const g = inputGradient(model, xs, ys).dataSync();
    const base = xs.dataSync() as Float32Array;
    const total = (v: Float32Array) =>
      lossOf(model, tf.tensor4d(v, xs.shape), ys).dataSync()[0] * 2;
    for (const i of [5, 300, 1000]) {
      const h = 1e-2;
      const up = base.slice(), down = base.slice();
      up[i] += h;
      down[i] -= h;
      const fd = (total(up) - total(down)) / (2 * h);
      assert.ok(Math.abs(fd - g[i]) < 2e-2 + 0.1 * Math.abs(g[i]), `pixel ${i}: ${fd} vs ${g[i]}`);
    }
  }
});

Deno.test("an FGSM step raises the loss; PGD stays in the ε-ball and the [0, 1] box", () => {
  for (const { model } of models) {
    const before = lossOf(model, x, labels).dataSync()[0];
    const adv = fgsm(model, x, labels, 8);
    assert.ok(lossOf(model, adv, labels).dataSync()[0] > before);
    const p = pgd(model, x, labels, 4, { steps: 3, seed: 1 });
    const d = tf.max(tf.abs(p.sub(x))).dataSync()[0];
    assert.ok(d <= 4 / 255 + 1e-6, `max change ${d}`);
    assert.ok(tf.min(p).dataSync()[0] >= 0 && tf.max(p).dataSync()[0] <= 1);
    assert.ok(lossOf(model, p, labels).dataSync()[0] >= before);
  }
});

Deno.test("the report is produced, well-formed, and the same for the same seed", async () => {
  const opts = {
    sweep: "quick" as const,
    seed: 3,
    limit: 40,
    advLimit: 8,
    batchSize: 20,
    progress: false,
  };
  const { results: a } = await evaluate(models, data.test, opts);
  const { results: b } = await evaluate(models, data.test, opts);
  assert.deepEqual(a, b);
  const sym = a.symmetric;
  assert.equal(sym.rotation.find((r) => r.angle === 90)!.invariance > 0.9999, true);
  assert.ok(Math.abs(sym.rotation.find((r) => r.angle === 90)!.acc - sym.clean.top1) < 1e-9);
  const out = await Deno.makeTempDir();
  const context = {
    dataset: { name: "synthetic", source: "test", testImages: 40, advImages: 8 },
    backend: "wasm",
    seed: 3,
    sweep: "quick",
    checkpoints: Object.fromEntries(models.map((m) => [m.name, {
      dir: m.dir,
      weightsSha256: m.meta.weightsSha256,
      epoch: 1,
      preset: "tiny",
      params: m.params,
    }])),
    provenance: provenance("cpu"),
    date: "2026-11-25",
  };
  // An epoch between curve points (--curve-every) has train and validation accuracy only.
  const between = { epoch: 9, trainLoss: 1, trainAcc: 0.5, valAcc: 0.5 };
  const files = await writeReport(out, a, context, {
    baseline: models[0].meta.history,
    symmetric: [...models[1].meta.history, between],
  });
  const curves = await Deno.readTextFile(`${out}/fig2-training-curves.svg`);
  assert.ok(!curves.includes("NaN"), "no point for a curve an epoch did not measure");
  const report = JSON.parse(await Deno.readTextFile(`${out}/report.json`));
  for (
    const key of [
      "dataset",
      "backend",
      "seed",
      "checkpoints",
      "provenance",
      "definitions",
      "results",
    ]
  ) {
    assert.ok(key in report, key);
  }
  assert.deepEqual(report.results, JSON.parse(JSON.stringify(a)));
  for (const f of files.filter((f) => f.endsWith(".svg"))) {
    const svg = await Deno.readTextFile(`${out}/${f}`);
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/, f);
    assert.match(svg.trimEnd(), /<\/svg>$/, f);
  }
  const md = await Deno.readTextFile(`${out}/report.md`);
  assert.match(md, /\| measure \| baseline \| symmetric \| symmetric − baseline \(points\) \|/);
  assert.match(md, /random rotation \(Fig\. 3\)/);
  await Deno.remove(out, { recursive: true });
});

const quick = { sweep: "quick" as const, seed: 3, limit: 40, advLimit: 8, progress: false };
// One evaluation at batch size 20, shared by the tests that only read it.
let atBatch20: ReturnType<typeof evaluate> | undefined;
const evaluatedAtBatch20 = () =>
  atBatch20 ??= evaluate(models, data.test, { ...quick, batchSize: 20 });

Deno.test("per-image outcomes: each row's mean is the reported number, at the right length", async () => {
  const { results, outcomes } = await evaluatedAtBatch20();
  validateOutcomes(JSON.parse(JSON.stringify(outcomes)), "outcomes");
  assert.equal(outcomes.images, 40);
  assert.equal(outcomes.advImages, 8);
  assert.equal(outcomes.testSet, testSetHash(data.test, 40));
  assert.notEqual(outcomes.testSet, testSetHash(data.test, 39));
  for (const [name, r] of Object.entries(results)) {
    const o = outcomes.models[name];
    const mean = (key: string) => {
      const bits = decodeBits(o.bits[key], isAttackRow(key) ? 8 : 40, key);
      return bits.reduce((s, v) => s + v, 0) / bits.length;
    };
    assert.equal(mean("clean"), r.clean.top1, name);
    assert.equal(mean("top5"), r.clean.top5, name);
    assert.equal(mean("perturbed"), r.perturbed, name);
    assert.equal(mean("randomRotation"), r.randomRotation.acc, name);
    for (const row of r.rotation) assert.equal(mean(`rotation:${row.angle}`), row.acc, name);
    for (const row of r.zoom) assert.equal(mean(`zoom:${row.factor}`), row.acc, name);
    for (const row of r.mirror) assert.equal(mean(`mirror:${row.element}`), row.acc, name);
    for (const row of r.noise) assert.equal(mean(`noise:${row.sigma}`), row.acc, name);
    for (const row of r.pgd) assert.equal(mean(`pgd:${row.eps}`), row.acc, name);
    for (const row of r.fgsm) assert.equal(mean(`fgsm:${row.eps}`), row.acc, name);
    for (const row of r.pgdSanity) assert.equal(mean(`pgdSanity:${row.eps}`), row.acc, name);
    // The attacked images' clean accuracy is the clean bits of the first advImages images.
    const clean = decodeBits(o.bits.clean, 40);
    assert.equal(r.attackedClean, clean.subarray(0, 8).reduce((s, v) => s + v, 0) / 8, name);
    assert.equal(mean("attackedClean"), r.attackedClean, name);
    // Per-image rotation invariance averages to the report's mean over non-zero angles.
    const inv = decodeScores(o.scores.rotationInvariance, 40);
    const avg = inv.reduce((s, v) => s + v, 0) / 40;
    assert.ok(
      Math.abs(avg - r.invariance.rotation) < 1e-6,
      `${name}: ${avg} vs ${r.invariance.rotation}`,
    );
  }
});

Deno.test("every measure, attacks included, is the same at any batch size (per-image seeds)", async () => {
  const a = await evaluatedAtBatch20();
  const b = await evaluate(models, data.test, { ...quick, batchSize: 7 });
  for (const name of Object.keys(a.results)) {
    assert.deepEqual(b.outcomes.models[name].bits, a.outcomes.models[name].bits, name);
    const sa = decodeScores(a.outcomes.models[name].scores.rotationInvariance, 40);
    const sb = decodeScores(b.outcomes.models[name].scores.rotationInvariance, 40);
    sa.forEach((v, i) => assert.ok(Math.abs(v - sb[i]) < 1e-5, `${name} image ${i}`));
  }
});

Deno.test("training's per-epoch perturbed and rotated accuracies are eval's measures at the default seed", async () => {
  for (const { name, model } of models) {
    const perEpoch = await testMetrics(model, data.test, 40);
    const { results } = await evaluate([{ name, model }], data.test, {
      ...quick,
      seed: EVAL_SEED,
      batchSize: 15,
    });
    assert.equal(perEpoch.testAcc, results[name].clean.top1, name);
    assert.equal(perEpoch.perturbedAcc, results[name].perturbed, name);
    assert.equal(perEpoch.rotatedAcc, results[name].randomRotation.acc, name);
  }
});

Deno.test("PGD with restarts keeps the worst case: robust only where every start fails", async () => {
  const seeds = [11, 12, 13, 14, 15, 16, 17, 18];
  for (const { model } of models) {
    const worst = await pgdWorstCase(model, x, labels, 2, { steps: 3, restarts: 3, seeds });
    const truth = labels.dataSync();
    const each = [0, 1, 2].map((r) => {
      const adv = pgd(model, x, labels, 2, { steps: 3, seed: seeds.map((s) => mixSeed(s, r)) });
      const pred = tf.tidy(() => (model.predict(adv) as tf.Tensor).argMax(1).dataSync());
      adv.dispose();
      return Array.from(pred, (p, i) => p === truth[i] ? 1 : 0);
    });
    const expected = each[0].map((_, i) => each[0][i] & each[1][i] & each[2][i]);
    assert.deepEqual(Array.from(worst.correct), expected);
    // Each start attacked only the images the earlier ones had not fooled.
    const sum = (bits: number[]) => bits.reduce((n, b) => n + b, 0);
    assert.deepEqual(worst.attacked, [8, sum(each[0]), sum(each[0].map((b, i) => b & each[1][i]))]);
    // The kept examples are what `correct` says, and inside the ε-ball.
    const pred = tf.tidy(() => (model.predict(worst.adv) as tf.Tensor).argMax(1).dataSync());
    assert.deepEqual(Array.from(pred, (p, i) => p === truth[i] ? 1 : 0), expected);
    assert.ok(tf.max(tf.abs(worst.adv.sub(x))).dataSync()[0] <= 2 / 255 + 1e-6);
    worst.adv.dispose();
  }
});

Deno.test("PGD's sanity rows fall to 0 at ε = 255/255, and the report says so", async () => {
  const { results } = await evaluatedAtBatch20();
  for (const [name, r] of Object.entries(results)) {
    assert.deepEqual(r.pgdSanity.map((row) => row.eps), [32, 255], name);
    assert.equal(r.pgdSanity.at(-1)!.acc, 0, name);
    assert.equal(r.fallsToZero, true, name);
    assert.ok(r.pgd.at(-1)!.acc <= r.attackedClean + 1e-9, name);
    assert.deepEqual(r.attack, { pgdSteps: 5, pgdRestarts: 2 }, name);
  }
});

Deno.test("sanity rows attack only the still-robust images, and equal attacking every image", async () => {
  const { outcomes } = await evaluatedAtBatch20();
  const sweep = SWEEPS.quick;
  for (const { name, model } of models) {
    // The slow reference: every ε, every image, every start; robust = AND over ε' ≤ ε.
    let robust = new Uint8Array(8).fill(1);
    for (const eps of [...sweep.eps, ...sweep.pgdSanity]) {
      const seeds = Array.from({ length: 8 }, (_, i) => mixSeed(mixSeed(quick.seed, eps), i));
      const { adv, correct } = await pgdWorstCase(model, x, labels, eps, {
        steps: sweep.pgdSteps,
        restarts: 2,
        seeds,
      });
      adv.dispose();
      robust = robust.map((r, i) => r & correct[i]);
      if (!sweep.pgdSanity.includes(eps)) continue;
      const got = decodeBits(outcomes.models[name].bits[`pgdSanity:${eps}`], 8, "sanity");
      assert.deepEqual(Array.from(got), Array.from(robust), `${name} at ${eps}/255`);
    }
  }
});

Deno.test("a sanity row is the worst case over every PGD run at ε' ≤ ε, image by image", async () => {
  for (const sweep of Object.values(SWEEPS)) {
    const all = [...sweep.eps, ...sweep.pgdSanity];
    assert.deepEqual(all, [...all].sort((a, b) => a - b));
  }
  const { outcomes } = await evaluatedAtBatch20();
  for (const [name, o] of Object.entries(outcomes.models)) {
    const bits = (key: string) => decodeBits(o.bits[key], 8, key);
    const below32 = [bits("pgd:2"), bits("pgd:8")];
    const s32 = bits("pgdSanity:32"), s255 = bits("pgdSanity:255");
    for (let i = 0; i < 8; i++) {
      assert.ok(s32[i] <= (below32[0][i] & below32[1][i]), `${name} image ${i}`);
      assert.ok(s255[i] <= s32[i], `${name} image ${i}`);
    }
  }
});
