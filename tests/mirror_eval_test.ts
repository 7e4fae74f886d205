/**
 * The evaluation sweep's mirrors: rows for all 8 D4 elements (both flips among them) with
 * accuracy and invariance, p4m invariant to every one within 1e-4, the baseline not; the zoom
 * and resolution sweeps cover the scale model; the report's summary and figure carry them.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { generateSynthetic } from "../lib/data/mod.ts";
import { evaluate } from "../lib/eval/evaluate.ts";
import { D4_ELEMENTS, measures, SWEEPS } from "../lib/eval/measures.ts";
import { summaryRows, writeReport } from "../lib/eval/report.ts";
import { loadModels } from "../lib/model/checkpoint.ts";
import { provenance } from "../lib/provenance.ts";
import { flip, rot90 } from "../lib/transforms.ts";
import { useBackend } from "./helpers.ts";
import { trainTinyCheckpoints } from "./server_fixtures.ts";

await useBackend("wasm");
const dir = await Deno.makeTempDir();
await trainTinyCheckpoints(dir, { models: ["baseline", "p4m", "scale"] });
const models = await loadModels(dir);
const data = generateSynthetic({ seed: 5, train: 10, test: 24 });
const options = {
  sweep: "quick" as const,
  seed: 2,
  limit: 24,
  advLimit: 4,
  batchSize: 12,
  progress: false,
};

Deno.test("the mirror measures are the 8 D4 elements: 4 is flip h, 6 flip v, the rest turns and diagonals", async () => {
  const mirror = measures(SWEEPS.quick, 1).filter((m) => m.key === "mirror");
  assert.deepEqual(mirror.map((m) => m.value), D4_ELEMENTS);
  assert.deepEqual(measures(SWEEPS.full, 1).filter((m) => m.key === "mirror").length, 8);
  const x = tf.tensor4d(Float32Array.from({ length: 2 * 5 * 5 * 3 }, (_, i) => i), [2, 5, 5, 3]);
  const same = (a: tf.Tensor, b: tf.Tensor, what: string) =>
    assert.deepEqual(a.dataSync(), b.dataSync(), what);
  const t = async (e: number) => await mirror[e].transform(x, 0);
  same(await t(0), x, "0 is the identity");
  for (const r of [1, 2, 3]) same(await t(r), rot90(x, r), `${r} is ${r} quarter turns`);
  same(await t(4), flip(x, "h"), "4 is flip h");
  same(await t(6), flip(x, "v"), "6 is flip v");
  // The diagonal mirrors: 5 = a quarter turn then flip h; 7 = three turns then flip h.
  same(await t(5), flip(rot90(x, 1), "h"), "5");
  same(await t(7), flip(rot90(x, 3), "h"), "7");
  // Each mirror is its own inverse.
  for (const e of [4, 5, 6, 7]) same(await mirror[e].transform(await t(e), 0), x, `${e}²`);
  x.dispose();
});

Deno.test("eval: mirror rows for every model; p4m invariant to all 8 within 1e-4, the baseline not; scale in zoom and resolution", async () => {
  const { results } = await evaluate(models, data.test, options);
  assert.deepEqual(Object.keys(results), ["baseline", "p4m", "scale"]);
  for (const [name, r] of Object.entries(results)) {
    assert.deepEqual(r.mirror.map((row) => row.element), D4_ELEMENTS, name);
    for (const row of r.mirror) {
      assert.deepEqual(Object.keys(row), ["element", "acc", "invariance"], name);
      assert.ok(row.acc >= 0 && row.acc <= 1 && row.invariance >= 0 && row.invariance <= 1 + 1e-6);
    }
    // The identity: the clean predictions again.
    assert.ok(Math.abs(r.mirror[0].invariance - 1) <= 1e-6, `${name} identity`);
    assert.equal(r.mirror[0].acc, r.clean.top1, `${name} identity accuracy`);
    const mean = (es: number[]) => es.reduce((s, e) => s + r.mirror[e].invariance, 0) / es.length;
    assert.ok(Math.abs(r.invariance.flip - mean([4, 6])) <= 1e-12, `${name} flip mean`);
    assert.ok(Math.abs(r.invariance.d4 - mean([1, 2, 3, 4, 5, 6, 7])) <= 1e-12, `${name} d4 mean`);
    // The zoom and resolution sweeps cover every model given, the scale model included.
    assert.deepEqual(r.zoom.map((z) => z.factor), SWEEPS.quick.zooms, name);
    assert.deepEqual(r.resolution.map((z) => z.size), SWEEPS.quick.resolutions, name);
  }
  for (const row of results.p4m.mirror) {
    assert.ok(
      Math.abs(row.invariance - 1) <= 1e-4,
      `p4m element ${row.element}: ${row.invariance}`,
    );
  }
  assert.ok(Math.abs(results.p4m.invariance.d4 - 1) <= 1e-4);
  // Untrained-ish weights: the baseline changes its answers under flips.
  assert.ok(results.baseline.invariance.flip < 1 - 1e-3, `${results.baseline.invariance.flip}`);
  assert.ok(results.baseline.invariance.d4 < 1 - 1e-3, `${results.baseline.invariance.d4}`);

  const rows = Object.fromEntries(summaryRows(results));
  assert.equal(rows["flip h (left-right)"].p4m, results.p4m.mirror[4].acc);
  assert.equal(rows["flip v (upside down)"].baseline, results.baseline.mirror[6].acc);
  assert.equal(rows["mean flip invariance (h, v; 1 − JSD)"].scale, results.scale.invariance.flip);
  assert.equal(rows["mean D4 invariance (7 flips/turns; 1 − JSD)"].p4m, results.p4m.invariance.d4);

  const out = await Deno.makeTempDir();
  const files = await writeReport(out, results, {
    dataset: { name: "synthetic", source: "test", testImages: 24, advImages: 4 },
    backend: "wasm",
    seed: 2,
    sweep: "quick",
    checkpoints: Object.fromEntries(models.map((m) => [m.name, {
      dir: m.dir,
      weightsSha256: m.meta.weightsSha256,
      epoch: 1,
      preset: "tiny",
      params: m.params,
    }])),
    provenance: provenance("cpu"),
    date: "2026-12-02",
  }, {});
  assert.ok(files.includes("invariance-vs-d4.svg") && files.includes("invariance-vs-d4.png"));
  const md = await Deno.readTextFile(`${out}/report.md`);
  assert.match(
    md,
    /\| mean D4 invariance \(7 flips\/turns; 1 − JSD\) \| [\d.]+ \| 1\.000 \| [\d.]+ \|/,
  );
  assert.match(md, /!\[invariance-vs-d4\.svg\]\(invariance-vs-d4\.png\)/);
  assert.match(md, /- \*\*mirror\*\*: accuracy and mean invariance under the 8 exact flips/);
  await Deno.remove(out, { recursive: true });
});

Deno.test("mirror_eval: clean up", async () => {
  for (const m of models) m.model.dispose();
  await Deno.remove(dir, { recursive: true });
});
