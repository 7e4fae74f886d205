import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { LogMeanSoftmax, QuarterTurn } from "../layers/mod.ts";
import { fgsm, inputGradient } from "../lib/eval/attacks.ts";
import { createModel } from "../lib/model/models.ts";
import { averageOverQuarterTurns, ttaName } from "../lib/model/tta.ts";
import { maxAbsDiff, randomArray, useBackend } from "./helpers.ts";

await useBackend("wasm");

/** Loop reference of one counter-clockwise quarter turn, applied k times: out[i][j] = in[j][W−1−i]. */
function rotRef(x: Float32Array, [n, h, w, c]: number[], k: number): [Float32Array, number[]] {
  let cur = x, shape = [n, h, w, c];
  for (let step = 0; step < ((k % 4) + 4) % 4; step++) {
    const [, H, W] = shape;
    const next = new Float32Array(cur.length);
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < W; i++) {
        for (let j = 0; j < H; j++) {
          for (let q = 0; q < c; q++) {
            next[((b * W + i) * H + j) * c + q] = cur[((b * H + j) * W + (W - 1 - i)) * c + q];
          }
        }
      }
    }
    cur = next;
    shape = [n, W, H, c];
  }
  return [cur, shape];
}

function images(shape: number[], seed: number): tf.Tensor4D {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor4d(randomArray(size, seed).map((v) => (v + 1) / 2), shape as never);
}

function turned(x: tf.Tensor4D, k: number): tf.Tensor4D {
  const [data, shape] = rotRef(x.dataSync() as Float32Array, x.shape, k);
  return tf.tensor4d(data, shape as never);
}

/** mean_k softmax(base(turn_k x)) in plain JS from four separate base calls. */
function meanSoftmaxRef(base: tf.LayersModel, x: tf.Tensor4D): Float32Array {
  let sum: Float64Array | undefined;
  for (let k = 0; k < 4; k++) {
    const t = turned(x, k);
    const logits = base.predict(t) as tf.Tensor;
    const z = logits.dataSync();
    const classes = logits.shape[1] as number;
    sum ??= new Float64Array(z.length);
    for (let r = 0; r < z.length / classes; r++) {
      const row = Array.from(z.subarray(r * classes, (r + 1) * classes));
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      e.forEach((v, c) => sum![r * classes + c] += v / s / 4);
    }
    tf.dispose([t, logits]);
  }
  return Float32Array.from(sum!);
}

function probs(model: tf.LayersModel, x: tf.Tensor4D): Float32Array {
  return tf.tidy(() => tf.softmax(model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

Deno.test("QuarterTurn is rot90 of a loop reference for every k, on a non-square input", () => {
  const x = images([2, 5, 7, 3], 1);
  for (const k of [0, 1, 2, 3, -1, 5]) {
    const layer = new QuarterTurn({ k });
    const y = layer.apply(x) as tf.Tensor;
    const [ref, shape] = rotRef(x.dataSync() as Float32Array, x.shape, k);
    assert.deepEqual(y.shape, shape, `k = ${k}`);
    assert.deepEqual(layer.computeOutputShape([null, 5, 7, 3]), [null, ...shape.slice(1)]);
    assert.equal(maxAbsDiff(y, ref), 0, `k = ${k}`);
    assert.equal(layer.getConfig().k, ((k % 4) + 4) % 4);
    y.dispose();
  }
  assert.throws(() => new QuarterTurn({ k: 0.5 }), /QuarterTurn: expected an integer k, got 0.5/);
  x.dispose();
});

Deno.test("LogMeanSoftmax: softmax of its output is the mean of the inputs' softmaxes", () => {
  const z = [0, 1, 2].map((s) => tf.tensor2d(randomArray(4 * 6, s + 7).map((v) => 8 * v), [4, 6]));
  const out = new LogMeanSoftmax().apply(z) as tf.Tensor;
  const ref = tf.tidy(() => tf.addN(z.map((t) => tf.softmax(t))).div(3));
  assert.ok(maxAbsDiff(tf.softmax(out), ref) < 1e-6);
  assert.ok(maxAbsDiff(tf.exp(out).sum(1), [1, 1, 1, 1]) < 1e-6, "already log-probabilities");
  tf.dispose([...z, out, ref]);
});

Deno.test("TTA of a random baseline: mean of the 4 softmaxes, exactly invariant to 90° turns", () => {
  const base = createModel("baseline", { preset: "tiny", numClasses: 10, seed: 2 });
  const tta = averageOverQuarterTurns(base);
  // Shared weights, not copies: the TTA model adds no weight of its own.
  assert.equal(tta.weights.length, base.weights.length);
  assert.ok(tta.weights.every((w, i) => w === base.weights[i]));
  for (const shape of [[3, 16, 16, 3], [2, 12, 16, 3]]) {
    const x = images(shape, 3);
    const p = probs(tta, x);
    assert.ok(maxAbsDiff(p, meanSoftmaxRef(base, x)) < 1e-6, `mean of softmaxes ${shape}`);
    const plain = probs(base, x);
    let baseMoves = 0;
    for (let k = 1; k < 4; k++) {
      const t = turned(x, k);
      assert.ok(maxAbsDiff(probs(tta, t), p) < 1e-6, `invariant to ${k}·90° on ${shape}`);
      baseMoves = Math.max(baseMoves, maxAbsDiff(probs(base, t), plain));
      t.dispose();
    }
    // The control: the baseline alone is not invariant, so the check above means something.
    assert.ok(baseMoves > 1e-3, `baseline moved only ${baseMoves}`);
    x.dispose();
  }
  base.dispose();
});

Deno.test("TTA gradients: finite, and equal to autodiff of log(mean_k softmax(base(turn_k x)))", () => {
  const base = createModel("baseline", { preset: "tiny", numClasses: 10, seed: 4 });
  const tta = averageOverQuarterTurns(base);
  const x = images([4, 12, 16, 3], 5);
  const labels = tf.tensor1d([1, 3, 5, 7], "int32");
  const g = inputGradient(tta, x, labels); // what FGSM/PGD use: model.apply
  const ref = tf.tidy(() =>
    tf.grad((input: tf.Tensor) => {
      const p = [0, 1, 2, 3].map((k) => {
        const t = tf.transpose(input, [0, 2, 1, 3]); // turns through plain ops, not the layer
        const rot = [input, tf.reverse(t, 1), tf.reverse(input, [1, 2]), tf.reverse(t, 2)][k];
        return tf.softmax(base.apply(rot) as tf.Tensor);
      });
      const logits = tf.log(tf.addN(p).div(4));
      return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 10), logits).mul(4);
    })(x)
  );
  const gd = g.dataSync();
  assert.ok(gd.every(Number.isFinite), "finite");
  const scale = Math.max(...Array.from(gd, Math.abs));
  assert.ok(scale > 0, "non-zero");
  assert.ok(maxAbsDiff(g, ref) < 1e-5 * scale, `gradients differ by ${maxAbsDiff(g, ref)}`);
  tf.dispose([x, labels, g, ref]);
  base.dispose();
});

Deno.test("TTA leaks no tensor in predict, gradients and FGSM, and refuses a fixed non-square input", () => {
  const base = createModel("baseline", { preset: "tiny", numClasses: 10, seed: 6 });
  const before = tf.memory().numTensors;
  const tta = averageOverQuarterTurns(base);
  assert.equal(tf.memory().numTensors, before, "building makes no tensor");
  const x = images([2, 16, 16, 3], 7);
  const labels = tf.tensor1d([0, 9], "int32");
  const start = tf.memory().numTensors;
  for (let i = 0; i < 2; i++) {
    tf.dispose(tta.predict(x) as tf.Tensor);
    inputGradient(tta, x, labels).dispose();
    fgsm(tta, x, labels, 8).dispose();
  }
  assert.equal(tf.memory().numTensors, start);
  tf.dispose([x, labels]);
  base.dispose();
  const fixed = createModel("baseline", {
    preset: "tiny",
    numClasses: 10,
    inputShape: [16, 24, 3],
  });
  assert.throws(
    () => averageOverQuarterTurns(fixed),
    /averageOverQuarterTurns: .* fixed 16×24 input, which its own quarter turns \(24×16\) do not fit/,
  );
  fixed.dispose();
  const square = createModel("baseline", {
    preset: "tiny",
    numClasses: 10,
    inputShape: [16, 16, 3],
  });
  const t = averageOverQuarterTurns(square);
  assert.deepEqual(t.inputs[0].shape, [null, 16, 16, 3]);
  square.dispose();
  assert.equal(ttaName("baseline"), "baseline+tta");
});

Deno.test({
  name: "eval --tta baseline: a baseline+tta entry measured by every sweep, defined in the report",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      // A real checkpoint (eval re-reads train's record of the split).
      const train = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "scripts/train.ts",
          "--model=baseline",
          "--dataset=synthetic",
          "--preset=tiny",
          "--epochs=1",
          "--batch-size=16",
          "--train-size=32",
          "--eval-limit=16",
          `--out=${dir}/ck`,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(train.code, 0, new TextDecoder().decode(train.stderr));
      const run = (args: string[]) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "scripts/eval.ts", "--checkpoints", `${dir}/ck`, ...args],
          stdout: "piped",
          stderr: "piped",
          env: { NO_COLOR: "1" },
        }).output();
      const r = await run([
        "--tta",
        "baseline",
        "--limit",
        "24",
        "--adv-limit",
        "8",
        "--sweep",
        "quick",
        "--out",
        `${dir}/report`,
      ]);
      const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
      assert.equal(r.code, 0, text);
      const report = JSON.parse(await Deno.readTextFile(`${dir}/report/report.json`));
      assert.deepEqual(Object.keys(report.results), ["baseline", "baseline+tta"]);
      const tta = report.results["baseline+tta"], plain = report.results.baseline;
      for (const key of Object.keys(plain)) assert.ok(key in tta, key);
      assert.equal(tta.pgd.length, plain.pgd.length);
      // 90°, 180°, 270° are exact turns: the TTA model's invariance there is 1.
      for (const row of tta.rotation.filter((r: { angle: number }) => r.angle % 90 === 0)) {
        assert.ok(row.invariance > 1 - 1e-5, `angle ${row.angle}: ${row.invariance}`);
      }
      assert.match(report.definitions.tta, /four quarter turns/);
      assert.match(report.definitions.tta, /attacks/);
      assert.equal(report.checkpoints["baseline+tta"].dir, report.checkpoints.baseline.dir);
      assert.match(await Deno.readTextFile(`${dir}/report/report.md`), /baseline\+tta/);
      const bad = await run(["--tta", "p4m"]);
      assert.equal(bad.code, 2);
      assert.match(
        new TextDecoder().decode(bad.stderr),
        /--tta: expected loaded models \(baseline\), got "p4m"/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
