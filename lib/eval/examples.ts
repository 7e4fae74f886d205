/**
 * The report's example grid, measured: a few test images under a few transforms, each model's
 * top-1 label on each, and the invariance score against the original. report.ts renders it;
 * nothing here draws.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Split } from "../data/mod.ts";
import type { CheckpointMeta } from "../model/checkpoint.ts";
import { imagesToTensor, logitsOf } from "../model/predict.ts";
import { gaussianNoise, rotate, zoom } from "../transforms.ts";
import { argmax, invarianceScore } from "./invariance.ts";

/** Columns of the grid: a name and the transform of a batch. */
export const EXAMPLE_COLUMNS: [string, (x: tf.Tensor4D) => tf.Tensor4D][] = [
  ["original", (x) => x.clone()],
  ["rotate 45°", (x) => rotate(x, 45)],
  ["rotate 90°", (x) => rotate(x, 90)],
  ["zoom ×1.5", (x) => zoom(x, 1.5)],
  ["noise σ 0.1", (x) => gaussianNoise(x, 0.1, 7)],
];

/** One image under one transform, with each model's verdict on it. */
export interface ExampleCell {
  /** The transformed image as 8-bit pixels, [H, W, C] row-major. */
  pixels: Uint8Array;
  height: number;
  width: number;
  channels: number;
  predictions: {
    model: string;
    label: string;
    correct: boolean;
    /** Against the original column; null in the original column itself. */
    invariance: number | null;
  }[];
}

/** The measured grid: `cells[row][column]`. */
export interface Examples {
  columns: string[];
  models: string[];
  cells: ExampleCell[][];
}

/**
 * Classifies the first `count` test images under every column's transform with every model.
 *
 * @example
 * ```ts ignore
 * // not run: needs checkpoints written by `deno task train`
 * const grid = await measureExamples(models, dataset.test, 4);
 * grid.cells[0][2].predictions[0].invariance; // score of model 0 on image 0 turned 90°
 * ```
 */
export async function measureExamples(
  models: { name: string; model: tf.LayersModel; meta: CheckpointMeta }[],
  test: Split,
  count = 4,
): Promise<Examples> {
  const x = imagesToTensor(test, 0, count);
  const views = EXAMPLE_COLUMNS.map(([, f]) => f(x));
  try {
    const probs = await Promise.all(models.map((m) =>
      Promise.all(views.map(async (v) => {
        const p = tf.tidy(() => tf.softmax(logitsOf(m.model, v)));
        const d = await p.data() as Float32Array;
        p.dispose();
        return d;
      }))
    ));
    const pixels = await Promise.all(views.map(async (v) => {
      const q = tf.tidy(() => v.clipByValue(0, 1).mul(255).round());
      const d = await q.data();
      q.dispose();
      return d;
    }));
    const cells = Array.from({ length: count }, (_, r) =>
      views.map((v, c) => {
        const [, h, w, ch] = v.shape;
        return {
          pixels: Uint8Array.from(pixels[c].subarray(r * h * w * ch, (r + 1) * h * w * ch)),
          height: h,
          width: w,
          channels: ch,
          predictions: models.map((m, mi) => {
            const k = m.meta.dataset.classNames.length;
            const p = probs[mi][c].subarray(r * k, (r + 1) * k);
            const p0 = probs[mi][0].subarray(r * k, (r + 1) * k);
            const top = argmax(p);
            return {
              model: m.name,
              label: m.meta.dataset.classNames[top] ?? String(top),
              correct: top === test.labels[r],
              invariance: c === 0 ? null : invarianceScore(p0, p),
            };
          }),
        };
      }));
    return { columns: EXAMPLE_COLUMNS.map(([n]) => n), models: models.map((m) => m.name), cells };
  } finally {
    tf.dispose([x, ...views]);
  }
}
