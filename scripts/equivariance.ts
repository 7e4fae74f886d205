/**
 * `deno task equivariance`: measures the scale equivariance error
 * Δ = ‖Φ(Dₛx) − D′ₛΦ(x)‖² / ‖D′ₛΦ(x)‖² (lib/eval/scale_equivariance.ts) after every block of
 * the `scale` trunk (random weights, inference mode) and of a baseline trunk with ordinary
 * convolutions of the same 7×7 size, for rescalings by √2^t, t = ±1, ±2, on 100 uniform-noise
 * images, 100 synthetic images and 100 Fashion-MNIST test images (when installed). Prints a
 * Markdown table (`--out FILE` also writes it).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BACKEND_NAMES, setBackend } from "../lib/kernels/backend.ts";
import { buildModel, modelConfig, parseModelConfig, presets } from "../lib/model/models.ts";
import { z } from "zod";
import { optionsHelp, parseOptions, runMain } from "./cli.ts";
import { relativeErrors, rescale, type ScaleLayout } from "../lib/eval/scale_equivariance.ts";
import { generateSynthetic } from "../lib/data/mod.ts";
import { loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import { DEBIAN_FASHION_DIR } from "../lib/data/fashion_mnist.ts";

/** The flags of `deno task equivariance`, their defaults and help (scripts/cli.ts). */
const EquivarianceOptionsSchema = z.strictObject({
  preset: z.enum(Object.keys(presets) as [string, ...string[]]).default("small"),
  backend: z.enum(BACKEND_NAMES).default("wasm"),
  out: z.string().min(1).optional().meta({
    arg: "FILE",
    help: "also write the Markdown table to FILE",
  }),
});

const HELP = `Usage: deno task equivariance [flags]

Measures the scale equivariance error of the scale trunk and of an ordinary-conv trunk, per
block, for rescalings by √2^t (t = ±1, ±2), on noise, synthetic and Fashion-MNIST images.

${optionsHelp(EquivarianceOptionsSchema)}`;

/** Outputs after each ReLU and after the scale projection, with their scale layouts. */
function trace(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  scales: number,
): [string, tf.Tensor4D, ScaleLayout][] {
  const out: [string, tf.Tensor4D, ScaleLayout][] = [];
  let h: tf.Tensor = x;
  let block = 0;
  let projected = false;
  for (const layer of model.layers) {
    if (
      layer.getClassName() === "SpatialPyramidPool" ||
      layer.getClassName() === "GlobalAveragePooling2D"
    ) break;
    h = layer.apply(h) as tf.Tensor;
    if (layer.getClassName() === "ReLU") {
      out.push([`block ${++block}`, h as tf.Tensor4D, {
        scales: projected ? 1 : scales,
        rotations: 1,
      }]);
    } else if (layer.getClassName() === "ScalePool") {
      projected = true;
      out.push(["scale projection (trunk output)", h as tf.Tensor4D, { scales: 1, rotations: 1 }]);
    }
  }
  return out;
}

async function inputs(): Promise<[string, tf.Tensor4D][]> {
  const sets: [string, tf.Tensor4D][] = [];
  sets.push([
    "uniform noise",
    tf.randomUniform([100, 32, 32, 3], 0, 1, "float32", 7) as tf.Tensor4D,
  ]);
  const syn = generateSynthetic({ train: 1, test: 100, seed: 5 }).test;
  sets.push([
    "synthetic",
    tf.tensor4d(Float32Array.from(syn.images, (v) => v / 255), [100, 32, 32, 3]),
  ]);
  try {
    const { test } = await loadFashionMnist(DEBIAN_FASHION_DIR);
    const px = Float32Array.from(
      test.images.subarray(0, 100 * test.height * test.width),
      (v) => v / 255,
    );
    sets.push([
      "fashion-mnist",
      tf.tile(tf.tensor4d(px, [100, test.height, test.width, 1]), [1, 1, 1, 3]),
    ]);
  } catch (e) {
    console.error(`fashion-mnist not measured: ${(e as Error).message}`);
  }
  return sets;
}

async function main(): Promise<number> {
  const { help, options } = parseOptions(EquivarianceOptionsSchema, Deno.args);
  if (help) {
    console.log(HELP);
    return 0;
  }
  const { preset } = options;
  const backend = await setBackend(options.backend);
  console.log(`backend: ${backend.name} (${backend.reason})`);
  const base = modelConfig("scale", { preset, numClasses: 10 });
  const trunks: [string, tf.LayersModel, number][] = [
    ["scale, window 1 (the model)", buildModel(base), base.scale!.sigmas.length],
    [
      "scale, window 2",
      buildModel(parseModelConfig({ ...base, scale: { ...base.scale!, window: 2 } })),
      3,
    ],
    [
      "ordinary 7×7 convs",
      buildModel(
        parseModelConfig({
          ...modelConfig("baseline", { preset, numClasses: 10 }),
          kernelSize: 7,
        }),
      ),
      1,
    ],
  ];
  const shifts = [-2, -1, 1, 2];
  const lines = [
    `Scale equivariance error Δ = ‖Φ(Dₛx) − D′ₛΦ(x)‖² / ‖D′ₛΦ(x)‖², mean over 100 images per set, random weights (seed 0), preset ${preset}, backend ${options.backend}.`,
    `Command: \`deno task equivariance --preset ${preset} --out docs/results/equivariance.md\`; ${
      new Date().toISOString().slice(0, 10)
    }.`,
    "",
    `| trunk | inputs | layer | ${
      shifts.map((t) => `s = ${(Math.SQRT2 ** t).toFixed(3)} (t = ${t})`).join(" | ")
    } |`,
    `| --- | --- | --- | ${shifts.map(() => "---").join(" | ")} |`,
  ];
  for (const [name, x] of await inputs()) {
    for (const [trunk, model, scales] of trunks) {
      const rows = new Map<string, string[]>();
      for (const t of shifts) {
        const sums = new Map<string, number[]>();
        for (let b = 0; b < 100; b += 25) {
          // A scope rather than a tidy: the errors are read asynchronously (WebGPU under Deno
          // cannot read synchronously), and endScope disposes every tensor made here.
          tf.engine().startScope();
          try {
            const xb = x.slice([b], [25]) as tf.Tensor4D;
            const ref = trace(model, xb, scales);
            const moved = trace(model, rescale(xb, Math.SQRT2 ** t), scales);
            for (const [i, [layer, phiX, layout]] of ref.entries()) {
              const errs = await relativeErrors(
                moved[i][1],
                phiX,
                layout.scales > 1 ? t : 0,
                layout,
              );
              sums.set(layer, [...(sums.get(layer) ?? []), ...errs]);
            }
          } finally {
            tf.engine().endScope();
          }
        }
        for (const [layer, errs] of sums) {
          rows.set(layer, [
            ...(rows.get(layer) ?? []),
            (errs.reduce((s, e) => s + e, 0) / errs.length).toFixed(4),
          ]);
        }
      }
      for (const [layer, cells] of rows) {
        lines.push(`| ${trunk} | ${name} | ${layer} | ${cells.join(" | ")} |`);
      }
      console.error(`${name}: ${trunk} done`);
    }
  }
  const text = lines.join("\n") + "\n";
  console.log(text);
  if (options.out) await Deno.writeTextFile(options.out, text);
  return 0;
}

if (import.meta.main) runMain(main);
