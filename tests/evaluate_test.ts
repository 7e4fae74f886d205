import assert from "node:assert/strict";
import { provenance } from "../lib/provenance.ts";
import * as tf from "@tensorflow/tfjs";
import { fgsm, inputGradient, lossOf, pgd } from "../lib/eval/attacks.ts";
import { generateSynthetic } from "../lib/data/mod.ts";
import { evaluate } from "../lib/eval/evaluate.ts";
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
  const a = await evaluate(models, data.test, opts);
  const b = await evaluate(models, data.test, opts);
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
  const files = await writeReport(out, a, context, {
    baseline: models[0].meta.history,
    symmetric: models[1].meta.history,
  });
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
