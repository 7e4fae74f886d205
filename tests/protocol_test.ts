import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { fgsm, inputGradient, pgd } from "../lib/eval/attacks.ts";
import {
  attackUnderProtocol,
  type Audit,
  clipToBox,
  fromSpace,
  gainsOf,
  type ModelAudit,
  PROTOCOL_NAMES,
  protocolOptions,
  PROTOCOLS,
  PUBLISHED_SPACE,
  roleOf,
  runAudit,
  toSpace,
  withWeightsRestored,
} from "../lib/eval/protocol.ts";
import { writeProtocolReport } from "../lib/eval/protocol_report.ts";
import { generateSynthetic, type Split } from "../lib/data/mod.ts";
import { loadModels } from "../lib/model/checkpoint.ts";
import { BatchNorm } from "../layers/batch_norm.ts";
import { maxAbsDiff, randomArray, useBackend } from "./helpers.ts";
import { trainTinyCheckpoints } from "./server_fixtures.ts";

await useBackend("wasm");
const dir = await Deno.makeTempDir();
await trainTinyCheckpoints(dir);
const models = await loadModels(dir);
const data = generateSynthetic({ seed: 4, train: 10, test: 16 });
// The tiny checkpoints take any size; 16×16 crops of 4 images keep 40-step PGD cheap.
const x = tf.tidy(() =>
  tf.tensor4d(Float32Array.from(data.test.images.subarray(0, 4 * 3072), (v) => v / 255), [
    4,
    32,
    32,
    3,
  ]).slice([0, 8, 8, 0], [4, 16, 16, 3])
) as tf.Tensor4D;
const labels = tf.tensor1d(data.test.labels.subarray(0, 4), "int32");
const crops: Split = {
  images: Uint8Array.from(x.dataSync(), (v) => Math.round(v * 255)),
  labels: data.test.labels.slice(0, 4),
  count: 4,
  height: 16,
  width: 16,
  channels: 3,
};
const published = PROTOCOLS.published;
const fair = PROTOCOLS["published-symmetric-fair"];

/**
 * Linear two-class model on a 4×4×1 image: logit1 − logit0 = Σ dᵢ·xᵢ with dᵢ = ±0.01, so for
 * label 0 the input gradient of the cross-entropy is p₁·d: its sign is sign(d), whatever x.
 * (The weights are small so p₁ stays far from 0 over the whole attack.)
 */
function linearToy(): { model: tf.LayersModel; sign: number[] } {
  const sign = Array.from({ length: 16 }, (_, i) => (i % 3 === 0 ? -1 : 1));
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [4, 4, 1] }),
      tf.layers.dense({ units: 2, useBias: false }),
    ],
  });
  const w = new Float32Array(32);
  sign.forEach((s, i) => w[i * 2 + 1] = 0.01 * s); // column 0 zero, column 1 = d
  model.setWeights([tf.tensor2d(w, [16, 2])]);
  return { model, sign };
}
const grey = () => tf.fill([1, 4, 4, 1], 0.5) as tf.Tensor4D;
const zeroLabel = () => tf.tensor1d([0], "int32");

Deno.test("u = (x − 0.5)/0.5 maps [0, 1] onto [−1, 1] and back to within float32 rounding", () => {
  const xs = tf.tensor4d([0, 0.25, 0.5, 1], [1, 2, 2, 1]);
  assert.deepEqual(Array.from(toSpace(xs, PUBLISHED_SPACE).dataSync()), [-1, -0.5, 0, 1]);
  assert.deepEqual(
    Array.from(fromSpace(tf.tensor4d([-1, -0.5, 0, 1], [1, 2, 2, 1]), PUBLISHED_SPACE).dataSync()),
    [0, 0.25, 0.5, 1],
  );
  const r = tf.tensor4d(randomArray(4096, 7).map((v) => (v + 1) / 2), [4, 32, 32, 1]);
  const back = fromSpace(toSpace(r, PUBLISHED_SPACE), PUBLISHED_SPACE);
  assert.ok(maxAbsDiff(back, r) <= 2 ** -24, `round trip off by ${maxAbsDiff(back, r)}`);
});

Deno.test("published clipping: the baseline's dark pixels become mid-grey, the symmetric models keep [0, 1]", () => {
  const px = [0, 0.1, 0.49, 0.5, 0.75, 1];
  const xs = tf.tensor4d(px, [1, 1, 6, 1]);
  const base = Array.from(clipToBox(xs, published, "baseline").dataSync());
  px.forEach((v, i) =>
    assert.ok(Math.abs(base[i] - Math.max(v, 0.5)) < 1e-7, `${v} -> ${base[i]}`)
  );
  const sym = Array.from(clipToBox(xs, published, "symmetric").dataSync());
  px.forEach((v, i) => assert.ok(Math.abs(sym[i] - v) < 1e-7, `${v} -> ${sym[i]}`));
  // The fair variant clips both like the symmetric models.
  const fb = Array.from(clipToBox(xs, fair, "baseline").dataSync());
  px.forEach((v, i) => assert.ok(Math.abs(fb[i] - v) < 1e-7, `fair: ${v} -> ${fb[i]}`));
  // Under attack: a black image attacked with the smallest ε comes back all mid-grey for the
  // baseline, and stays in [0, 1] (black pixels pushed down stay black) for the others.
  const { model, sign } = linearToy();
  const black = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
  for (const attack of ["fgsm", "pgd"] as const) {
    const b = attackUnderProtocol(model, black, zeroLabel(), 0.01, {
      protocol: published,
      role: "baseline",
      attack,
    }).dataSync();
    b.forEach((v) => assert.ok(Math.abs(v - 0.5) < 1e-7, `${attack} baseline pixel ${v}`));
    const s = attackUnderProtocol(model, black, zeroLabel(), 0.01, {
      protocol: published,
      role: "symmetric",
      attack,
    }).dataSync();
    s.forEach((v, i) => {
      const want = sign[i] > 0 ? 0.005 : 0; // ε = 0.01 in u is 0.005 in pixels
      assert.ok(Math.abs(v - want) < 1e-7, `${attack} symmetric pixel ${i}: ${v}, want ${want}`);
    });
  }
});

Deno.test("published PGD takes 40 steps of 0.01 in u (linear toy, known gradient sign)", () => {
  const { model, sign } = linearToy();
  const opts = { protocol: published, role: "symmetric" as const, attack: "pgd" as const };
  // ε = 1 never binds: 40 steps of 0.01 move u by exactly ±0.40, x by ±0.20.
  const free = attackUnderProtocol(model, grey(), zeroLabel(), 1, opts).dataSync();
  sign.forEach((s, i) =>
    assert.ok(Math.abs(free[i] - (0.5 + 0.2 * s)) < 1e-6, `pixel ${i}: ${free[i]}`)
  );
  // ε = 0.15 binds after 15 steps: u = ±0.15, x = 0.5 ± 0.075.
  const bound = attackUnderProtocol(model, grey(), zeroLabel(), 0.15, opts).dataSync();
  sign.forEach((s, i) =>
    assert.ok(Math.abs(bound[i] - (0.5 + 0.075 * s)) < 1e-6, `pixel ${i}: ${bound[i]}`)
  );
  // FGSM: one step of ε = 0.15 in u.
  const f = attackUnderProtocol(model, grey(), zeroLabel(), 0.15, { ...opts, attack: "fgsm" })
    .dataSync();
  sign.forEach((s, i) => assert.ok(Math.abs(f[i] - (0.5 + 0.075 * s)) < 1e-6, `fgsm ${i}`));
  // The baseline's box [0, 1] in u stops the darkening steps at mid-grey.
  const b = attackUnderProtocol(model, grey(), zeroLabel(), 1, { ...opts, role: "baseline" })
    .dataSync();
  sign.forEach((s, i) =>
    assert.ok(Math.abs(b[i] - (s > 0 ? 0.7 : 0.5)) < 1e-6, `baseline pixel ${i}: ${b[i]}`)
  );
});

Deno.test("published PGD has no random start (the same images for different seeds); ours does", () => {
  for (const { name, model } of models) {
    const run = (protocol: typeof published, seed: number) =>
      attackUnderProtocol(model, x, labels, 0.06, {
        protocol,
        role: roleOf(name),
        attack: "pgd",
        seed,
      });
    assert.equal(maxAbsDiff(run(published, 1), run(published, 2)), 0, `${name} published`);
    assert.equal(maxAbsDiff(run(fair, 1), run(fair, 2)), 0, `${name} fair`);
    assert.ok(maxAbsDiff(run(PROTOCOLS.ours, 1), run(PROTOCOLS.ours, 2)) > 1e-4, `${name} ours`);
  }
});

Deno.test("under ours the protocol attack is attacks.ts's fgsm and pgd (deno task eval)", () => {
  for (const { name, model } of models) {
    const eps = 0.06; // published units: 0.03 of the pixel range = 7.65/255
    const opts = { protocol: PROTOCOLS.ours, role: roleOf(name), seed: 5 };
    const f = attackUnderProtocol(model, x, labels, eps, { ...opts, attack: "fgsm" });
    assert.ok(maxAbsDiff(f, fgsm(model, x, labels, 0.03 * 255)) < 1e-6, `${name} fgsm`);
    const p = attackUnderProtocol(model, x, labels, eps, { ...opts, attack: "pgd" });
    const ref = pgd(model, x, labels, 0.03 * 255, { steps: 10, seed: 5 });
    assert.ok(maxAbsDiff(p, ref) < 1e-6, `${name} pgd: ${maxAbsDiff(p, ref)}`);
  }
});

/**
 * One pixel → our BatchNorm → logits (z, −z). Moving mean 10: in inference mode z < 0 for
 * every pixel (class 1); in training mode z is the batch-standardised pixel, > 0 (class 0) for
 * the pixels above the batch mean.
 */
function batchNormToy(): tf.LayersModel {
  const input = tf.input({ shape: [1, 1, 1] });
  const bn = new BatchNorm({});
  const z = tf.layers.flatten().apply(bn.apply(input)) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, useBias: false }).apply(z) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const values: Record<string, number[]> = {
    gamma: [1],
    beta: [0],
    moving_mean: [10],
    moving_variance: [1],
    kernel: [1, -1],
  };
  for (const w of model.weights) {
    const key = Object.keys(values).find((k) => w.originalName.endsWith(k));
    assert.ok(key, `unexpected weight ${w.originalName}`);
    w.write(tf.tensor(values[key], w.shape as number[]));
  }
  return model;
}
const movingMean = (model: tf.LayersModel) =>
  Array.from(
    (model.weights.find((w) => w.originalName.endsWith("moving_mean")) as tf.LayerVariable).read()
      .dataSync(),
  );
const fourPixels: Split = {
  images: Uint8Array.from([0, 50, 200, 255]),
  labels: Int32Array.from([0, 0, 0, 0]),
  count: 4,
  height: 1,
  width: 1,
  channels: 1,
};

Deno.test("training-mode batch norm: the symmetric models in published only; fair and ours use inference for both", async () => {
  const toy = batchNormToy();
  const audit = await runAudit(
    [{ name: "baseline", role: "baseline", model: toy }, {
      name: "symmetric",
      role: "symmetric",
      model: toy,
    }],
    fourPixels,
    { limit: 4, seed: 1, eps: [0.01], progress: false },
  );
  // Inference: all class 1 (0% correct); training: the two pixels above the batch mean, 50%.
  const clean = (p: (typeof PROTOCOL_NAMES)[number], m: string) => audit.results[p][m].clean;
  assert.equal(clean("published", "baseline"), 0);
  assert.equal(clean("published", "symmetric"), 0.5);
  for (const p of ["ours", "published-symmetric-fair"] as const) {
    assert.equal(clean(p, "baseline"), 0, p);
    assert.equal(clean(p, "symmetric"), 0, p);
  }
  assert.deepEqual(
    PROTOCOL_NAMES.map((p) => [PROTOCOLS[p].baseline.batchNorm, PROTOCOLS[p].symmetric.batchNorm]),
    [["inference", "inference"], ["inference", "training"], ["inference", "inference"]],
  );
  // The training-mode evaluation moved the moving mean, and runAudit put it back.
  assert.deepEqual(movingMean(toy), [10]);
});

Deno.test("training-mode batch norm moves the moving averages; withWeightsRestored puts every weight back", async () => {
  const toy = batchNormToy();
  const weightsBefore = toy.getWeights().map((w) => Array.from(w.dataSync()));
  const xs = tf.tensor4d([0, 0.2, 0.8, 1], [4, 1, 1, 1]);
  const y = tf.tensor1d([0, 0, 0, 0], "int32");
  await withWeightsRestored(toy, () => {
    inputGradient(toy, xs, y, true).dispose();
    const moved = movingMean(toy)[0];
    assert.ok(Math.abs(moved - (0.9 * 10 + 0.1 * 0.5)) < 1e-5, `moving mean ${moved}`);
    return Promise.resolve();
  });
  const weights = toy.getWeights().map((w) => Array.from(w.dataSync()));
  assert.deepEqual(weights, weightsBefore);
});

Deno.test("the evaluated checkpoints' weights are bit for bit unchanged after the audit", async () => {
  const before = models.map((m) => m.model.getWeights().map((w) => Array.from(w.dataSync())));
  const outBefore = models.map((m) => Array.from((m.model.predict(x) as tf.Tensor).dataSync()));
  const tensors = tf.memory().numTensors;
  const audit = await runAudit(
    models.map((m) => ({ name: m.name, role: roleOf(m.name), model: m.model })),
    crops,
    { limit: 4, seed: 1, eps: [0.03, 0.06], progress: false },
  );
  assert.equal(tf.memory().numTensors, tensors, "the audit leaks no tensors");
  models.forEach((m, i) => {
    const after = m.model.getWeights().map((w) => Array.from(w.dataSync()));
    assert.equal(after.length, before[i].length);
    after.forEach((w, j) => assert.deepEqual(w, before[i][j], `${m.name} weight ${j}`));
    assert.deepEqual(Array.from((m.model.predict(x) as tf.Tensor).dataSync()), outBefore[i]);
  });
  // The report has the three columns and the computed asymmetry line.
  const out = await Deno.makeTempDir();
  const files = await writeProtocolReport(out, audit, {
    dataset: { name: "synthetic", source: "test", testImages: 4, advImages: 4 },
    backend: "wasm",
    seed: 1,
    checkpoints: {},
    provenance: {} as never,
    date: "2026-01-01",
    requested: "published",
  });
  assert.deepEqual(files, ["report.json", "report.md", "pgd-accuracy-vs-epsilon.svg"]);
  const json = JSON.parse(await Deno.readTextFile(`${out}/report.json`));
  assert.deepEqual(Object.keys(json.results), [...PROTOCOL_NAMES]);
  const md = await Deno.readTextFile(`${out}/report.md`);
  assert.match(md, /The asymmetry alone produces/);
  assert.match(
    md,
    /\| ε \(u\) \| ε \(\/255\) \| baseline ours \| baseline published \| baseline fair/,
  );
});

Deno.test("gains: ratio and difference per protocol, and published − fair as the asymmetry's share", () => {
  const audit = (pgdAcc: number[]): ModelAudit => ({
    clean: 1,
    clipped: 1,
    fgsm: [],
    pgd: [0.03, 0.06].map((eps, i) => ({ eps, acc: pgdAcc[i] })),
  });
  const results = {
    ours: { baseline: audit([0.4, 0.2]), symmetric: audit([0.5, 0.3]) },
    published: { baseline: audit([0.1, 0]), symmetric: audit([0.3, 0.2]) },
    "published-symmetric-fair": { baseline: audit([0.2, 0.1]), symmetric: audit([0.3, 0.15]) },
  } as Audit["results"];
  const [g] = gainsOf(results, [{ name: "baseline", role: "baseline" }, {
    name: "symmetric",
    role: "symmetric",
  }]);
  const close = (a: number | null, b: number) =>
    assert.ok(a !== null && Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  close(g.perProtocol.ours[0].ratio, 1.25);
  close(g.perProtocol.published[0].ratio, 3);
  close(g.perProtocol.published[0].difference, 0.2);
  close(g.asymmetry[0].ratio, 3 - 1.5);
  close(g.asymmetry[0].difference, 0.2 - 0.1);
  assert.equal(g.perProtocol.published[1].ratio, null, "baseline at 0: no ratio");
  assert.equal(g.summary.eps, 0.06);
  close(g.summary.asymmetry.difference, 0.2 - 0.05);
  close(g.summary.mean.asymmetry.difference, (0.1 + 0.15) / 2);
  assert.equal(gainsOf(results, [{ name: "symmetric", role: "symmetric" }]).length, 0);
});

Deno.test("the option table is derived from the protocols and names the published choices", () => {
  const rows = Object.fromEntries(protocolOptions().map((o) => [o.option, o.values]));
  assert.equal(rows["PGD steps"].published, "40");
  assert.equal(rows["PGD steps"].ours, "10");
  assert.match(rows["PGD step α"].published, /^0\.01 in u \(1\.275\/255/);
  assert.match(rows["PGD start"].published, /no random start/);
  assert.match(rows["baseline: clip box"].published, /\[0, 1\] in u = \[0\.5, 1\] pixels/);
  assert.match(rows["symmetric models: clip box"].published, /\[-1, 1\] in u = \[0, 1\] pixels/);
  assert.match(rows["baseline: clip box"]["published-symmetric-fair"], /\[-1, 1\] in u/);
  assert.match(rows["symmetric models: batch norm"].published, /^training mode/);
  assert.match(rows["symmetric models: batch norm"]["published-symmetric-fair"], /^inference/);
  assert.match(rows["ε grid"].published, /^0\.01, 0\.02, …, 0\.15 in u/);
  assert.equal(roleOf("baseline"), "baseline");
  for (const m of ["symmetric", "p4m", "scale", "rotscale"]) assert.equal(roleOf(m), "symmetric");
});
