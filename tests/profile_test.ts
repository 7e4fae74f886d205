/**
 * The bench's FLOP counts (bench/profile.ts) against the conv2d calls the models really make:
 * tf.profile records every kernel with its input and output shapes, so the multiply-adds of
 * every Conv2D (forward), Conv2DBackpropInput and Conv2DBackpropFilter (training) kernel can be
 * counted from what ran, independently of the config-derived count. They must agree exactly,
 * call by call, for every model and preset.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  buildModel,
  MODEL_NAMES,
  type ModelConfig,
  modelConfig,
  parseModelConfig,
  presets,
} from "../lib/model/models.ts";
import {
  convFlops,
  type ConvShape,
  plainConvStep,
  trunkConvs,
  trunkFlops,
} from "../bench/profile.ts";
import { useBackend } from "./helpers.ts";

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/** What the conv kernels of one profiled call did: per-call shapes and multiply-adds. */
interface Ran {
  /** Each forward Conv2D as "HxW kK cin->cout" (output size, per image). */
  forward: string[];
  forwardMacs: number;
  inputGradMacs: number;
  filterGradMacs: number;
  inputGradCalls: number;
  filterGradCalls: number;
  /** Any other kernel whose name mentions conv (would escape the count). */
  otherConvs: string[];
}

/** Profiles `fn` and counts the conv kernels it ran, from their recorded shapes. */
async function convKernels(fn: () => unknown): Promise<Ran> {
  const info = await tf.profile(async () => {
    await fn();
  });
  const ran: Ran = {
    forward: [],
    forwardMacs: 0,
    inputGradMacs: 0,
    filterGradMacs: 0,
    inputGradCalls: 0,
    filterGradCalls: 0,
    otherConvs: [],
  };
  for (const k of info.kernels) {
    const ins = k.inputShapes as number[][];
    const outs = k.outputShapes as number[][];
    if (k.name === "Conv2D") {
      // inputs {x, filter}: MACs = N·Ho·Wo·k·k·Cin·Cout = |y| · k·k·Cin.
      const [kh, kw, cin, cout] = ins[1];
      const [, ho, wo] = outs[0];
      assert.equal(kh, kw);
      ran.forward.push(`${ho}x${wo} k${kh} ${cin}->${cout}`);
      ran.forwardMacs += prod(outs[0]) * kh * kw * cin;
    } else if (k.name === "Conv2DBackpropInput") {
      // inputs {dy, filter}: the same multiply-adds as the forward call.
      const [kh, kw, cin] = ins[1];
      ran.inputGradMacs += prod(ins[0]) * kh * kw * cin;
      ran.inputGradCalls++;
    } else if (k.name === "Conv2DBackpropFilter") {
      // inputs {x, dy}, output the filter [k, k, Cin, Cout].
      const [kh, kw, cin] = outs[0];
      ran.filterGradMacs += prod(ins[1]) * kh * kw * cin;
      ran.filterGradCalls++;
    } else if (/conv/i.test(k.name) && tf.getKernel(k.name, tf.getBackend())) {
      ran.otherConvs.push(k.name);
    }
  }
  return ran;
}

const describe = (c: ConvShape) => `${c.height}x${c.width} k${c.kernel} ${c.cin}->${c.cout}`;

/** Smallest input side a config runs at (each pool halves rounding up; SPP needs ≥ its levels). */
function minSide(config: ModelConfig): number {
  let n = config.head === "spp" ? Math.max(...config.sppLevels) : 1;
  for (let i = 1; i < config.widths.length; i++) n = 2 * n - 1;
  return n;
}

/** A scale model with a window of 2 scales (the layer's default; the models use 1). */
function withWindow(name: "scale" | "rotscale", window: number): ModelConfig {
  const config = modelConfig(name, { preset: "tiny", numClasses: 10 });
  return parseModelConfig({ ...config, scale: { ...config.scale!, window } });
}

/** Forward: predict one batch; every Conv2D call must be one of trunkConvs, per image. */
async function checkForward(config: ModelConfig, h: number, w: number, batch: number) {
  const model = buildModel(config);
  const x = tf.randomUniform([batch, h, w, config.inputShape[2]], 0, 1, "float32", 1);
  const ran = await convKernels(() => tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync()));
  x.dispose();
  model.dispose();
  const expected = trunkConvs(config, h, w);
  const what = `${config.model} / ${config.preset} at ${h}x${w}`;
  assert.deepEqual(ran.otherConvs, [], what);
  assert.deepEqual([...ran.forward].sort(), expected.map(describe).sort(), what);
  const flops = trunkFlops(config, h, w);
  assert.equal(2 * ran.forwardMacs, batch * flops.forward, what);
  assert.equal(flops.forward, expected.map(convFlops).reduce((a, b) => a + b, 0), what);
}

/** Training: one SGD step; forward + both gradients must equal trunkFlops().training. */
async function checkTraining(config: ModelConfig, h: number, w: number, batch: number) {
  const model = buildModel(config);
  const x = tf.randomUniform([batch, h, w, config.inputShape[2]], 0, 1, "float32", 1);
  const y = tf.oneHot(tf.tensor1d([...Array(batch).keys()].map((i) => i % 2), "int32"), 10);
  const opt = tf.train.sgd(0.01);
  const ran = await convKernels(() => {
    const loss = opt.minimize(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor),
      true,
    )!;
    loss.dataSync();
    loss.dispose();
  });
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
  const convs = trunkConvs(config, h, w);
  const what = `${config.model} / ${config.preset} training at ${h}x${w}`;
  assert.deepEqual(ran.otherConvs, [], what);
  assert.equal(ran.forward.length, convs.length, what);
  assert.equal(ran.filterGradCalls, convs.length, what);
  assert.equal(ran.inputGradCalls, convs.filter((c) => c.inputGradient).length, what);
  const total = ran.forwardMacs + ran.inputGradMacs + ran.filterGradMacs;
  assert.equal(2 * total, batch * trunkFlops(config, h, w).training, what);
}

Deno.test("trunkFlops: every model and preset, forward = the Conv2D kernels that ran", async () => {
  await useBackend("wasm");
  for (const preset of Object.keys(presets)) {
    for (const name of MODEL_NAMES) {
      const config = modelConfig(name, { preset, numClasses: 10 });
      const side = minSide(config);
      // Not square and odd where the preset allows, so that H/W mix-ups and the pools'
      // rounding up would show.
      await checkForward(config, side + 2, side, 2);
    }
  }
});

Deno.test("trunkFlops: training = forward + filter gradients + input gradients past layer 1", async () => {
  await useBackend("wasm");
  for (const preset of ["tiny", "small"]) {
    for (const name of MODEL_NAMES) {
      const config = modelConfig(name, { preset, numClasses: 10 });
      await checkTraining(config, minSide(config) + 2, minSide(config), 2);
    }
  }
});

Deno.test("trunkConvs: scale windows wider than 1 (fewer input scales at the top)", async () => {
  await useBackend("wasm");
  for (const name of ["scale", "rotscale"] as const) {
    for (const window of [2, 3]) {
      const config = withWindow(name, window);
      // Output scale i reads min(W, S − i) scales: with S = 3 the spans are W, …, 1.
      const spans = trunkConvs(config, 5, 5).filter((c) => c.layer.includes("scale"))
        .map((c) => c.cin / (config.widths[0] * (name === "rotscale" ? 4 : 1)));
      assert.deepEqual(spans, [0, 1, 2].map((i) => Math.min(window, 3 - i)));
      await checkForward(config, 5, 4, 2);
      await checkTraining(config, 5, 4, 2);
    }
  }
});

Deno.test("trunkFlops: hand counts of the reference preset at 32×32 (one image)", () => {
  // Baseline: 3→32, 32→32 at 32², 32→64, 64→64 at 16², 64→128, 128→128 at 8², 3×3.
  const mac = (hw: number, cin: number, cout: number, k = 3) => hw * hw * k * k * cin * cout;
  const base = mac(32, 3, 32) + mac(32, 32, 32) + mac(16, 32, 64) + mac(16, 64, 64) +
    mac(8, 64, 128) + mac(8, 128, 128);
  const flops = (name: (typeof MODEL_NAMES)[number]) =>
    trunkFlops(modelConfig(name, { preset: "reference" }), 32, 32).forward;
  assert.equal(flops("baseline"), 2 * base);
  // p4: half widths, 4 elements: lift 3→64, group convs read and write 4·w.
  assert.equal(
    flops("symmetric"),
    2 * (mac(32, 3, 64) + mac(32, 64, 64) + mac(16, 64, 128) + mac(16, 128, 128) +
      mac(8, 128, 256) + mac(8, 256, 256)),
  );
  // p4m: widths 12, 23, 46, 8 elements.
  assert.equal(
    flops("p4m"),
    2 * (mac(32, 3, 96) + mac(32, 96, 96) + mac(16, 96, 184) + mac(16, 184, 184) +
      mac(8, 184, 368) + mac(8, 368, 368)),
  );
  // scale: 7×7, 3 scales, window 1: lift 3→32·3, then per layer 3 convs c→w.
  assert.equal(
    flops("scale"),
    2 * (mac(32, 3, 96, 7) + 3 * (mac(32, 32, 32, 7) + mac(16, 32, 64, 7) +
          mac(16, 64, 64, 7) + mac(8, 64, 128, 7) + mac(8, 128, 128, 7))),
  );
  // rotscale: as scale with 4 rotations on both sides and the symmetric widths.
  assert.equal(
    flops("rotscale"),
    2 * (mac(32, 3, 192, 7) + 3 * (mac(32, 64, 64, 7) + mac(16, 64, 128, 7) +
          mac(16, 128, 128, 7) + mac(8, 128, 256, 7) + mac(8, 256, 256, 7))),
  );
});

Deno.test("plainConvStep: its three passes are the conv, and autodiff's ∂x and ∂w at dy", () => {
  const step = plainConvStep(2, 6, 8);
  try {
    const [y, dx, dw] = step.passes();
    const f = (x: tf.Tensor, w: tf.Tensor) =>
      tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same").mul(step.dy).sum();
    const [gx, gw] = tf.grads(f)([step.x, step.w]);
    const close = (a: tf.Tensor, b: tf.Tensor) =>
      tf.max(tf.abs(a.sub(b))).dataSync()[0] / Math.max(1, tf.max(tf.abs(b)).dataSync()[0]);
    assert.ok(close(y, tf.conv2d(step.x, step.w, 1, "same")) < 1e-6);
    assert.ok(close(dx, gx) < 1e-5, `∂x off by ${close(dx, gx)}`);
    assert.ok(close(dw, gw) < 1e-5, `∂w off by ${close(dw, gw)}`);
    // 3 passes × 2 FLOPs × 2 images × 36 pixels × 8 × 8 channels × 9 taps.
    assert.equal(step.flops, 3 * 2 * 2 * 36 * 64 * 9);
    tf.dispose([y, dx, dw, gx, gw]);
  } finally {
    step.dispose();
  }
});
