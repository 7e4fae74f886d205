/**
 * The measurements of `deno task eval`: every model sees the same test images under the same
 * seeded transforms (the table in measures.ts), plus FGSM / PGD attacks and their transfer
 * between models.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fgsm, pgd } from "./attacks.ts";
import type { Split } from "../data/mod.ts";
import { invarianceScore } from "./invariance.ts";
import { imagesToTensor } from "../model/predict.ts";
import { Progress } from "../progress.ts";
import { measures, type SweepName, SWEEPS } from "./measures.ts";
import { lookup } from "../validate.ts";

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
  /** The 8 D4 elements (`element` 4·m + r; 4 = flip h, 6 = flip v) with acc and invariance. */
  mirror: Row[];
  fgsm: Row[];
  pgd: Row[];
  transfer: Row[];
  /**
   * Mean invariance: over non-zero angles, over zooms ≠ 1, over the two flips (h and v), and
   * over the 7 D4 elements that are not the identity.
   */
  invariance: { rotation: number; zoom: number; flip: number; d4: number };
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
  const sweep = lookup(SWEEPS, options.sweep, "sweep");
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
    const rot = rows("rotation"), zm = rows("zoom"), mirror = rows("mirror");
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
      mirror,
      fgsm: sweep.eps.map((eps, e) => ({ eps, acc: a.fgsm[e] / nAdv })),
      pgd: sweep.eps.map((eps, e) => ({ eps, acc: a.pgd[e] / nAdv })),
      transfer: other ? sweep.eps.map((eps, e) => ({ eps, acc: other[e] / nAdv })) : [],
      invariance: {
        rotation: meanInv(rot, (r) => r.angle === 0),
        zoom: meanInv(zm, (r) => r.factor === 1),
        flip: meanInv(mirror, (r) => r.element !== 4 && r.element !== 6),
        d4: meanInv(mirror, (r) => r.element === 0),
      },
    };
  });
  return out;
}
