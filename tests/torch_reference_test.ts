/**
 * bench/torch_reference.py against symlab: each PyTorch trunk has the parameter count of the
 * symlab model of the `reference` preset at both bench inputs (cifar100: 32×32×3, 100 classes;
 * fashion-mnist: 32×32×1, 10 classes), and with symlab's weights loaded it computes the same
 * logits in training mode (batch statistics), so the `symlab / PyTorch` column of `deno task
 * bench` compares one function. Needs Debian's python3-torch (required in CI; .ci/run
 * installs it).
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { countParams, createModel, modelConfig, type ModelName } from "../lib/model/models.ts";
import { BENCH_INPUTS, type BenchInput, TORCH_MODELS } from "../scripts/bench.ts";
import { randomTensor, requireInCI, useBackend } from "./helpers.ts";

await useBackend("wasm");

/** Debian's Python, where python3-torch installs (a pyenv or venv python3 may lack it). */
const PYTHON = "/usr/bin/python3";
const SCRIPT = new URL("../bench/torch_reference.py", import.meta.url).pathname;
const hasTorch = await new Deno.Command(PYTHON, { args: ["-c", "import torch"] })
  .output().then((o) => o.success, () => false);
requireInCI(
  "Debian's python3-torch",
  hasTorch,
  `${PYTHON} cannot import torch (apt-get install python3-torch)`,
);

/** Runs the script with `args`; its stdout as JSON (the assertion names stderr on failure). */
async function script(args: string[]): Promise<unknown> {
  const out = await new Deno.Command(PYTHON, { args: [SCRIPT, "1", ...args] }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `${SCRIPT} ${args.join(" ")} failed: ${err}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const shapeArgs = (input: BenchInput) => {
  const { channels, classes } = BENCH_INPUTS[input];
  return ["--channels", String(channels), "--classes", String(classes)];
};

const symlab = (name: ModelName, input: BenchInput) => {
  const { channels, classes } = BENCH_INPUTS[input];
  return createModel(name, {
    preset: "reference",
    numClasses: classes,
    inputShape: [null, null, channels],
  });
};

for (const input of Object.keys(BENCH_INPUTS) as BenchInput[]) {
  Deno.test({
    name: `torch_reference.py: every trunk has symlab's reference parameter count (${input})`,
    ignore: !hasTorch,
    fn: async () => {
      const counts = await script(["--params", ...shapeArgs(input)]) as Record<string, number>;
      assert.deepEqual(Object.keys(counts), [...TORCH_MODELS]);
      for (const name of TORCH_MODELS) {
        const model = symlab(name, input);
        assert.equal(counts[name], countParams(model), `${name} / ${input}`);
        model.dispose();
      }
    },
  });
}

// p4m at both inputs (the lifting conv's input channels differ); the others at one each.
const FORWARD_CASES: [ModelName, BenchInput][] = [
  ["p4m", "cifar100"],
  ["p4m", "fashion-mnist"],
  ["symmetric", "fashion-mnist"],
  ["baseline", "cifar100"],
];

for (const [name, input] of FORWARD_CASES) {
  Deno.test({
    name: `torch_reference.py: the ${name} trunk with symlab's weights gives its logits (${input})`,
    ignore: !hasTorch,
    fn: async () => {
      const model = symlab(name, input);
      const { channels } = BENCH_INPUTS[input];
      // Random values everywhere (BN γ and β, the head's bias too): a weight loaded into the
      // wrong slot or layout then changes the logits.
      model.trainableWeights.forEach((w, i) => {
        w.write(randomTensor(w.shape as number[], 100 + i));
      });
      const shapes = model.trainableWeights.map((w) => w.shape as number[]);
      const weights = model.trainableWeights.map((w) => w.read().dataSync() as Float32Array);
      // 16×16: the pools keep even sizes (16 → 8 → 4), where both sides' 2×2 pools agree.
      const x = tf.tidy(() => randomTensor([3, 16, 16, channels], 7).add(1).div(2));
      const { normalization } = modelConfig(name, {
        preset: "reference",
        inputShape: [null, null, channels],
      });
      const standardised = tf.tidy(() =>
        x.sub(tf.tensor1d(normalization.mean)).div(tf.tensor1d(normalization.std))
      );
      const ours = tf.tidy(() => model.apply(x, { training: true }) as tf.Tensor2D);

      const dir = await Deno.makeTempDir();
      try {
        const flat = new Float32Array(weights.reduce((n, w) => n + w.length, 0));
        weights.reduce((at, w) => (flat.set(w, at), at + w.length), 0);
        await Deno.writeFile(`${dir}/weights.bin`, new Uint8Array(flat.buffer));
        const input4 = standardised.dataSync() as Float32Array;
        await Deno.writeFile(`${dir}/input.bin`, new Uint8Array(input4.slice().buffer));
        await Deno.writeTextFile(
          `${dir}/manifest.json`,
          JSON.stringify({ shapes, input: standardised.shape }),
        );
        const { logits } = await script([
          "--forward",
          dir,
          "--models",
          name,
          ...shapeArgs(input),
        ]) as { logits: number[][] };
        const want = ours.arraySync();
        assert.deepEqual([logits.length, logits[0].length], ours.shape);
        const scale = Math.max(...want.flat().map(Math.abs));
        const diff = Math.max(...want.flat().map((v, i) => Math.abs(v - logits.flat()[i])));
        // float32 sums in another order through seven convs and batch norms.
        assert.ok(
          diff <= 1e-5 * Math.max(1, scale),
          `${name} / ${input}: ${diff} (|logits| ≤ ${scale})`,
        );
        assert.ok(scale > 0.1, `logits too small to tell trunks apart: ${scale}`);
      } finally {
        await Deno.remove(dir, { recursive: true });
        tf.dispose([x, standardised, ours]);
        model.dispose();
      }
    },
  });
}

Deno.test({
  name: "torch_reference.py --plain-conv: the yardstick conv's training GFLOP/s, a positive number",
  ignore: !hasTorch,
  fn: async () => {
    const out = await script(["--plain-conv", "--batch", "4", "--size", "8", "--steps", "1"]);
    const gflops = (out as { plain_conv_gflops: number }).plain_conv_gflops;
    assert.ok(Number.isFinite(gflops) && gflops > 0, JSON.stringify(out));
  },
});
