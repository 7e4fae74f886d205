/**
 * The measurements of `deno task eval`: every model sees the same test images under the same
 * seeded transforms. Each measure's exact definition is in {@linkcode DEFINITIONS} and goes
 * into the report beside its numbers.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fgsm, pgd } from "./attacks.ts";
import type { Split } from "../data/mod.ts";
import { invarianceScore } from "./invariance.ts";
import { imagesToTensor } from "../model/predict.ts";
import { Progress } from "../progress.ts";
import {
  contrast,
  gaussianBlur,
  gaussianNoise,
  jpegCompress,
  perturb,
  PERTURB_DEFAULTS,
  randomRotate,
  resize,
  rotate,
  shift,
  zoom,
} from "../transforms.ts";

/** What each sweep covers. */
export const SWEEPS = {
  full: {
    angles: Array.from({ length: 24 }, (_, i) => i * 15),
    zooms: [0.5, 0.625, 0.75, 0.875, 1, 1.25, 1.5, 2],
    resolutions: [16, 24, 32, 48, 64],
    shifts: [0, 1, 2, 3, 4],
    sigmas: [0, 0.02, 0.05, 0.1, 0.2],
    blur: [0.5, 1, 2],
    contrast: [0.5, 0.25],
    jpeg: [50, 20],
    eps: [1, 2, 4, 8],
    pgdSteps: 10,
  },
  quick: {
    angles: [0, 45, 90, 135, 180, 270],
    zooms: [0.5, 1, 1.5],
    resolutions: [16, 32, 48],
    shifts: [0, 1, 2],
    sigmas: [0, 0.05, 0.1],
    blur: [1],
    contrast: [0.5],
    jpeg: [30],
    eps: [2, 8],
    pgdSteps: 5,
  },
};
export type SweepName = keyof typeof SWEEPS;

/** Definitions written into the report. */
export const DEFINITIONS: Record<string, string> = {
  clean: "top-1 / top-5 accuracy on the unmodified test images",
  perturbed:
    `accuracy after the training-time perturbation: a random integer shift of up to ±${PERTURB_DEFAULTS.maxShift} px in x and y (zero fill), then additive Gaussian noise σ = ${PERTURB_DEFAULTS.sigma} on [0, 1] pixels, clipped to [0, 1]; seeded per image`,
  rotation:
    "accuracy and mean invariance score vs rotation angle about the image centre (counter-clockwise, bilinear, zero fill; multiples of 90° are exact array turns)",
  randomRotation:
    "accuracy on the test images each rotated by an angle uniform in [0°, 360°), seeded (the paper's Fig. 3)",
  zoom:
    "accuracy and mean invariance vs zoom factor about the centre at the training size (bilinear; > 1 crops, < 1 shrinks with a black border)",
  resolution:
    "accuracy vs input resolution: images resized (area/bilinear) to n×n and fed at that size, not resized back (both heads accept any size ≥ their minimum)",
  shift: "accuracy vs translation by n pixels right and n down, zero fill",
  noise: "accuracy vs additive Gaussian noise σ on [0, 1] pixels, clipped, seeded",
  blur: "accuracy vs Gaussian blur σ (pixels), renormalised at the borders",
  contrast: "accuracy vs contrast factor (blend with each image's per-channel mean)",
  jpeg: "accuracy after a JPEG round trip at the given quality (jpeg-js)",
  fgsm: "white-box FGSM, L∞, ε in /255: x' = clip(x + ε·sign ∇ₓCE), inference mode",
  pgd:
    "white-box PGD, L∞, ε in /255: uniform random start in the ε-ball, `steps` signed-gradient steps of α = 2.5·ε/steps, projected on the ε-ball and [0, 1]",
  transfer: "accuracy on PGD examples crafted against the other model (black-box transfer)",
  invariance:
    "mean over images of 1 − JSD(p(x), p(T x)) in bits, p the softmax output; 1 = identical predictions",
};

/** A model to evaluate. */
export interface NamedModel {
  name: string;
  model: tf.LayersModel;
}

/** Options of {@linkcode evaluate}. */
export interface EvaluateOptions {
  sweep: SweepName;
  seed: number;
  /** Test images used (0 = all). */
  limit: number;
  /** Test images attacked (adversarial sweeps cost ~30 forward passes each). */
  advLimit: number;
  batchSize?: number;
  progress?: boolean;
}

type Row = Record<string, number>;

/** All numbers for one model. */
export interface ModelEval {
  clean: { top1: number; top5: number };
  perturbed: number;
  rotation: Row[];
  randomRotation: { acc: number; invariance: number };
  zoom: Row[];
  resolution: Row[];
  shift: Row[];
  noise: Row[];
  blur: Row[];
  contrast: Row[];
  jpeg: Row[];
  fgsm: Row[];
  pgd: Row[];
  transfer: Row[];
  invariance: { rotation: number; zoom: number };
}

/** A transform of a batch: (x, offset of the batch's first image) -> transformed batch. */
type BatchTransform = (x: tf.Tensor4D, offset: number) => tf.Tensor4D | Promise<tf.Tensor4D>;

interface Measure {
  key: keyof ModelEval;
  param: string;
  value: number;
  transform: BatchTransform;
  invariance?: boolean;
}

function measures(sweep: typeof SWEEPS.full, seed: number): Measure[] {
  const m: Measure[] = [];
  m.push({
    key: "perturbed",
    param: "",
    value: 0,
    transform: (x, o) => perturb(x, { ...PERTURB_DEFAULTS, seed: seed + o }),
  });
  for (const a of sweep.angles) {
    m.push({
      key: "rotation",
      param: "angle",
      value: a,
      transform: (x) => rotate(x, a),
      invariance: true,
    });
  }
  m.push({
    key: "randomRotation",
    param: "",
    value: 0,
    transform: (x, o) => randomRotate(x, seed + o).images,
    invariance: true,
  });
  for (const z of sweep.zooms) {
    m.push({
      key: "zoom",
      param: "factor",
      value: z,
      transform: (x) => zoom(x, z),
      invariance: true,
    });
  }
  for (const r of sweep.resolutions) {
    m.push({
      key: "resolution",
      param: "size",
      value: r,
      transform: (x) => resize(x, r, r),
    });
  }
  for (const s of sweep.shifts) {
    m.push({
      key: "shift",
      param: "pixels",
      value: s,
      transform: (x) => shift(x, s, s),
    });
  }
  for (const s of sweep.sigmas) {
    m.push({
      key: "noise",
      param: "sigma",
      value: s,
      transform: (x, o) => s ? gaussianNoise(x, s, seed + o) : x.clone(),
    });
  }
  for (const s of sweep.blur) {
    m.push({
      key: "blur",
      param: "sigma",
      value: s,
      transform: (x) => gaussianBlur(x, s),
    });
  }
  for (const f of sweep.contrast) {
    m.push({
      key: "contrast",
      param: "factor",
      value: f,
      transform: (x) => contrast(x, f),
    });
  }
  for (const q of sweep.jpeg) {
    m.push({
      key: "jpeg",
      param: "quality",
      value: q,
      transform: (x) => jpegCompress(x, q),
    });
  }
  return m;
}

async function probabilities(model: tf.LayersModel, x: tf.Tensor4D): Promise<Float32Array> {
  const p = tf.tidy(() => tf.softmax(model.predict(x) as tf.Tensor));
  const out = await p.data() as Float32Array;
  p.dispose();
  return out;
}

function argmaxRow(p: Float32Array, i: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (p[i * k + c] > p[i * k + best]) best = c;
  return best;
}

/**
 * Runs every measure on the first `limit` test images for each model.
 *
 * @example
 * ```ts
 * const results = await evaluate([{ name: "symmetric", model }], dataset.test, { sweep: "quick", seed: 1, limit: 500, advLimit: 200 });
 * ```
 */
export async function evaluate(
  models: NamedModel[],
  test: Split,
  options: EvaluateOptions,
): Promise<Record<string, ModelEval>> {
  const sweep = SWEEPS[options.sweep];
  const n = options.limit ? Math.min(options.limit, test.count) : test.count;
  const nAdv = Math.min(options.advLimit, n);
  const bs = options.batchSize ?? 200;
  const list = measures(sweep, options.seed);
  // Accumulators: hits and invariance sums per (model, measure index).
  const acc = models.map(() => ({
    top1: 0,
    top5: 0,
    hits: new Float64Array(list.length),
    inv: new Float64Array(list.length),
    fgsm: new Float64Array(sweep.eps.length),
    pgd: new Float64Array(sweep.eps.length),
    transfer: new Float64Array(sweep.eps.length),
  }));
  const batches = Math.ceil(n / bs);
  const bar = options.progress === false ? undefined : new Progress("eval", batches);
  for (let b = 0; b < batches; b++) {
    const start = b * bs, size = Math.min(bs, n - start);
    const x = imagesToTensor(test, start, size);
    const labels = test.labels.subarray(start, start + size);
    const clean = await Promise.all(models.map((m) => probabilities(m.model, x)));
    const k = clean[0].length / size;
    models.forEach((_, mi) => {
      for (let i = 0; i < size; i++) {
        const row = Array.from(clean[mi].subarray(i * k, (i + 1) * k));
        const order = row.map((p, c) => [p, c]).sort((a, b) => b[0] - a[0]);
        if (order[0][1] === labels[i]) acc[mi].top1++;
        if (order.slice(0, 5).some(([, c]) => c === labels[i])) acc[mi].top5++;
      }
    });
    for (let j = 0; j < list.length; j++) {
      const t = await list[j].transform(x, start);
      for (let mi = 0; mi < models.length; mi++) {
        const p = await probabilities(models[mi].model, t);
        for (let i = 0; i < size; i++) {
          if (argmaxRow(p, i, k) === labels[i]) acc[mi].hits[j]++;
          if (list[j].invariance) {
            acc[mi].inv[j] += invarianceScore(
              clean[mi].subarray(i * k, (i + 1) * k),
              p.subarray(i * k, (i + 1) * k),
            );
          }
        }
      }
      t.dispose();
    }
    if (start < nAdv) {
      const m = Math.min(size, nAdv - start);
      const xa = x.slice([0, 0, 0, 0], [m, -1, -1, -1]) as tf.Tensor4D;
      const ya = tf.tensor1d(labels.subarray(0, m), "int32");
      const countHits = async (model: tf.LayersModel, adv: tf.Tensor4D) => {
        const p = await probabilities(model, adv);
        let h = 0;
        for (let i = 0; i < m; i++) if (argmaxRow(p, i, k) === labels[i]) h++;
        return h;
      };
      for (let e = 0; e < sweep.eps.length; e++) {
        for (let mi = 0; mi < models.length; mi++) {
          const f = fgsm(models[mi].model, xa, ya, sweep.eps[e]);
          acc[mi].fgsm[e] += await countHits(models[mi].model, f);
          f.dispose();
          const adv = pgd(models[mi].model, xa, ya, sweep.eps[e], {
            steps: sweep.pgdSteps,
            seed: options.seed + start,
          });
          acc[mi].pgd[e] += await countHits(models[mi].model, adv);
          // Transfer: the other model(s) classify these examples.
          for (let oi = 0; oi < models.length; oi++) {
            if (oi !== mi) acc[oi].transfer[e] += await countHits(models[oi].model, adv);
          }
          adv.dispose();
        }
      }
      xa.dispose();
      ya.dispose();
    }
    x.dispose();
    bar?.update(b + 1, start + size);
  }
  bar?.done();
  const out: Record<string, ModelEval> = {};
  models.forEach((model, mi) => {
    const a = acc[mi];
    const rows = (key: keyof ModelEval) =>
      list.flatMap((m, j) =>
        m.key !== key ? [] : [{
          [m.param]: m.value,
          acc: a.hits[j] / n,
          ...(m.invariance ? { invariance: a.inv[j] / n } : {}),
        }]
      );
    const single = (key: keyof ModelEval) => list.findIndex((m) => m.key === key);
    const rot = rows("rotation"), zm = rows("zoom");
    const meanInv = (r: Row[], skip: (row: Row) => boolean) => {
      const kept = r.filter((row) => !skip(row));
      return kept.reduce((s, row) => s + row.invariance, 0) / Math.max(kept.length, 1);
    };
    const rr = single("randomRotation");
    const other = models.length > 1 ? a.transfer : undefined;
    out[model.name] = {
      clean: { top1: a.top1 / n, top5: a.top5 / n },
      perturbed: a.hits[single("perturbed")] / n,
      rotation: rot,
      randomRotation: { acc: a.hits[rr] / n, invariance: a.inv[rr] / n },
      zoom: zm,
      resolution: rows("resolution"),
      shift: rows("shift"),
      noise: rows("noise"),
      blur: rows("blur"),
      contrast: rows("contrast"),
      jpeg: rows("jpeg"),
      fgsm: sweep.eps.map((eps, e) => ({ eps, acc: a.fgsm[e] / nAdv })),
      pgd: sweep.eps.map((eps, e) => ({ eps, acc: a.pgd[e] / nAdv })),
      transfer: other ? sweep.eps.map((eps, e) => ({ eps, acc: other[e] / nAdv })) : [],
      invariance: {
        rotation: meanInv(rot, (r) => r.angle === 0),
        zoom: meanInv(zm, (r) => r.factor === 1),
      },
    };
  });
  return out;
}
