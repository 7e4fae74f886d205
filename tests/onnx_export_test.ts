/**
 * ONNX export (lib/export/onnx.ts, `deno task export`): each model family, trained a few steps
 * on real Fashion-MNIST images so that its batch norms have moved statistics and affine
 * parameters, is exported, loaded in ONNX Runtime (onnxruntime-node) and compared with the tfjs
 * model's probabilities on real test images, within 1e-4; at the served 32×32 and at 29×29,
 * where the symmetric pool takes its odd-size path and the pyramid bins are uneven, with a
 * pyramid level 3 (the odd-level "pinwheel" orbits) and the global-average heads too. Debian's
 * `python3-onnx` checker must accept every file.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as ort from "onnxruntime-node";
import { DEBIAN_FASHION_DIR, parseIdx, readMaybeGz } from "../lib/data/fashion_mnist.ts";
import { OnnxExportError, toOnnx } from "../lib/export/onnx.ts";
import { exportCheckpoints } from "../lib/export/checkpoints.ts";
import { loadModels, saveCheckpoint } from "../lib/model/checkpoint.ts";
import {
  buildModel,
  countParams,
  type ModelConfig,
  modelConfig,
  type ModelName,
} from "../lib/model/models.ts";
import { QuarterTurn } from "../layers/mod.ts";
import { requireInCI, useBackend } from "./helpers.ts";

await useBackend("wasm");

const fashion = requireInCI(
  "Debian's dataset-fashion-mnist",
  await Deno.stat(DEBIAN_FASHION_DIR).then(() => true, () => false),
  `${DEBIAN_FASHION_DIR} is absent (apt-get install dataset-fashion-mnist)`,
);

/** Debian's Python, where python3-onnx installs (a pyenv or venv python3 may lack it). */
const PYTHON = "/usr/bin/python3";
const hasOnnxChecker = await new Deno.Command(PYTHON, { args: ["-c", "import onnx"] })
  .output().then((o) => o.success, () => false);
requireInCI(
  "Debian's python3-onnx",
  hasOnnxChecker,
  `${PYTHON} cannot import onnx (apt-get install python3-onnx)`,
);

/** `count` Fashion-MNIST test images from `from`, padded to 32×32 like the dataset loader. */
async function fashionImages(from: number, count: number): Promise<Float32Array> {
  const { path, bytes } = await readMaybeGz(DEBIAN_FASHION_DIR, "t10k-images-idx3-ubyte");
  const { data } = parseIdx(path, bytes, 3);
  const out = new Float32Array(count * 32 * 32);
  for (let i = 0; i < count; i++) {
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        out[(i * 32 + y + 2) * 32 + x + 2] = data[((from + i) * 28 + y) * 28 + x] / 255;
      }
    }
  }
  return out;
}

/** The top-left `side`×`side` crop of 32×32 grey images. */
function crop(images: Float32Array, count: number, side: number): Float32Array {
  const out = new Float32Array(count * side * side);
  for (let i = 0; i < count; i++) {
    for (let y = 0; y < side; y++) {
      out.set(images.subarray((i * 32 + y) * 32, (i * 32 + y) * 32 + side), (i * side + y) * side);
    }
  }
  return out;
}

/** The families and head variants exported: every layer type the models are built from. */
const VARIANTS: { name: ModelName; head?: "gap"; levels?: number[] }[] = [
  { name: "baseline" },
  { name: "symmetric" },
  { name: "symmetric", levels: [1, 2, 3] },
  { name: "symmetric", head: "gap" },
  { name: "p4m" },
  { name: "p4m", levels: [1, 3] },
  { name: "p4m", head: "gap" },
  { name: "scale" },
  { name: "rotscale" },
];

const label = (v: typeof VARIANTS[number]) =>
  `${v.name}${v.head ? " gap" : ""}${v.levels ? ` levels ${v.levels}` : ""}`;

const trained = new Map<string, { model: tf.LayersModel; config: ModelConfig }>();

/**
 * A tiny model of the variant, trained 3 Adam steps on 16 real training images in training mode
 * (which moves the batch norms' moving statistics, γ and β away from 0 and 1); made once per
 * variant and shared by the tests.
 */
async function trainedModel(v: typeof VARIANTS[number]) {
  const key = label(v);
  const done = trained.get(key);
  if (done) return done;
  const x = tf.tensor4d(await fashionImages(0, 16), [16, 32, 32, 1]);
  const y = tf.oneHot(tf.tensor1d([...Array(16).keys()].map((i) => i % 10), "int32"), 10);
  const base = modelConfig(v.name, {
    preset: "tiny",
    numClasses: 10,
    inputShape: [null, null, 1],
    normalization: { mean: [0.29], std: [0.35] },
    seed: 5,
  });
  const config: ModelConfig = {
    ...base,
    ...(v.head ? { head: v.head, sppLevels: [1] } : {}),
    ...(v.levels ? { sppLevels: v.levels } : {}),
  };
  const model = buildModel(config);
  const opt = tf.train.adam(0.02);
  for (let i = 0; i < 3; i++) {
    opt.minimize(() =>
      tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar
    );
  }
  opt.dispose();
  tf.dispose([x, y]);
  trained.set(key, { model, config });
  return { model, config };
}

/** Max |a − b|. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test({
  name: "ONNX export: ONNX Runtime gives the tfjs probabilities within 1e-4 on real images",
  ignore: !fashion,
  fn: async () => {
    // Test images, not the ones trained on.
    const test = await fashionImages(1000, 24);
    const checked: string[] = [];
    for (const v of VARIANTS) {
      const { model } = await trainedModel(v);
      // Batch norms with moved statistics: the export's inference form is really exercised.
      const moved = model.layers.filter((l) => l.getClassName().endsWith("BatchNorm"))
        .map((l) => l.weights.find((w) => w.originalName.endsWith("moving_mean"))!.read());
      assert.ok(moved.length >= 2, `${label(v)}: batch norms`);
      for (const m of moved) {
        assert.ok(tf.tidy(() => m.abs().max().dataSync()[0]) > 1e-3, `${label(v)}: moving mean`);
      }
      for (const side of [32, 29]) {
        const images = side === 32 ? test : crop(test, 24, side);
        const bytes = toOnnx(model, { height: side, width: side });
        const session = await ort.InferenceSession.create(bytes);
        const out = await session.run({
          img: new ort.Tensor("float32", images, [24, side, side, 1]),
        });
        assert.deepEqual(out.probabilities.dims, [24, 10]);
        const expected = tf.tidy(() =>
          tf.softmax(model.predict(tf.tensor4d(images, [24, side, side, 1])) as tf.Tensor)
            .dataSync()
        );
        const logits = tf.tidy(() =>
          (model.predict(tf.tensor4d(images, [24, side, side, 1])) as tf.Tensor).dataSync()
        );
        const diff = maxDiff(out.probabilities.data as Float32Array, expected);
        assert.ok(diff <= 1e-4, `${label(v)} at ${side}×${side}: max |Δp| = ${diff}`);
        const logitDiff = maxDiff(out.logits.data as Float32Array, logits);
        assert.ok(logitDiff <= 1e-3, `${label(v)} at ${side}: max |Δlogit| = ${logitDiff}`);
        // Not a constant answer: the images get different distributions.
        assert.ok(maxDiff(expected.slice(0, 10), expected.slice(10, 20)) > 1e-3, label(v));
        await session.release();
        checked.push(`${label(v)} ${side}: ${diff.toExponential(1)}`);
      }
    }
    console.log(`max |Δp| per model and size: ${checked.join("; ")}`);
  },
});

Deno.test({
  name:
    "deno task export: model.onnx for every checkpoint, accepted by Debian's python3-onnx checker",
  ignore: !fashion,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const out = await Deno.makeTempDir();
    for (const name of ["baseline", "symmetric", "p4m", "scale", "rotscale"] as const) {
      const { model, config } = await trainedModel({ name });
      await saveCheckpoint(`${dir}/${name}`, model, {
        meta: {
          model: name,
          config,
          dataset: {
            name: "fashion-mnist",
            source: "test",
            classNames: [...Array(10).keys()].map((i) => `c${i}`),
          },
          epoch: 1,
          history: [],
          backend: "wasm",
          params: countParams(model),
          training: { inputSize: [32, 32] },
        },
      });
    }
    const lines: string[] = [];
    const written = await exportCheckpoints(await loadModels(dir), out, (l) => lines.push(l));
    assert.deepEqual(
      written.map((w) => w.path),
      ["baseline", "symmetric", "p4m", "scale", "rotscale"].map((n) => `${out}/${n}/model.onnx`),
    );
    assert.equal(lines.length, 5);
    assert.match(
      lines[1],
      /symmetric: .*\/symmetric\/model\.onnx \(\d+ bytes, \d+ nodes, input \[N, 32, 32, 1\]\)/,
    );
    // The file is what ONNX Runtime loads, with the metadata a server needs.
    const session = await ort.InferenceSession.create(written[1].path);
    assert.deepEqual(session.inputNames, ["img"]);
    assert.deepEqual(session.outputNames, ["probabilities", "logits"]);
    await session.release();
    if (!hasOnnxChecker) return;
    const check = await new Deno.Command(PYTHON, {
      args: [
        "-c",
        [
          "import onnx, sys",
          "for p in sys.argv[1:]:",
          "    m = onnx.load(p)",
          "    onnx.checker.check_model(m, full_check=True)",
          "    meta = {e.key: e.value for e in m.metadata_props}",
          "    print(p, m.ir_version, m.opset_import[0].version, meta['model'], meta['classNames'])",
        ].join("\n"),
        ...written.map((w) => w.path),
      ],
    }).output();
    const stdout = new TextDecoder().decode(check.stdout);
    assert.ok(check.success, new TextDecoder().decode(check.stderr));
    const rows = stdout.trim().split("\n");
    assert.equal(rows.length, 5);
    assert.match(rows[0], /baseline\/model\.onnx 8 13 baseline \["c0","c1",/);
    // The checker is no pass-through: a graph with a dangling input is refused.
    const broken = `${out}/broken.onnx`;
    const bytes = await Deno.readFile(written[0].path);
    await Deno.writeFile(broken, bytes.subarray(0, bytes.length - 7));
    const refused = await new Deno.Command(PYTHON, {
      args: ["-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]))", broken],
    }).output();
    assert.ok(!refused.success, "the checker refuses a truncated file");
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(out, { recursive: true });
  },
});

Deno.test("ONNX export refuses what it cannot map, naming the layer", () => {
  const model = tf.sequential({
    layers: [
      tf.layers.inputLayer({ inputShape: [8, 8, 1] }),
      new QuarterTurn({ k: 1, name: "turn" }),
    ],
  });
  assert.throws(
    () => toOnnx(model, { height: 8, width: 8 }),
    (e: Error) =>
      e instanceof OnnxExportError &&
      /layer "turn" \(QuarterTurn\) has no ONNX mapping/.test(e.message),
  );
  assert.throws(
    () => toOnnx(model, { height: 9, width: 8 }),
    /takes 8×8 inputs, not 9×8/,
  );
  model.dispose();
});
