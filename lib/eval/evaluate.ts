/**
 * The measurements of `deno task eval`: every model sees the same test images under the same
 * seeded transforms (the table in measures.ts), plus FGSM / PGD attacks (PGD the worst case over
 * restarts, with large-ε sanity rows) and their transfer between models. Besides the numbers it
 * returns every measure's per-image outcomes (lib/eval/outcomes.ts), which the experiment
 * aggregator bootstraps over.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fgsm, pgdWorstCase } from "./attacks.ts";
import type { Split } from "../data/mod.ts";
import { invarianceScore } from "./invariance.ts";
import { imagesToTensor, logitsOf } from "../model/predict.ts";
import { Progress } from "../progress.ts";
import { imageSeeds, measures, PGD_RESTARTS, type SweepName, SWEEPS } from "./measures.ts";
import { encodeBits, encodeScores, type Outcomes, rowKey, testSetHash } from "./outcomes.ts";
import { lookup } from "../validate.ts";
import { mixSeed } from "../data/rng.ts";

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
  /** PGD steps (default: the sweep's `pgdSteps`). */
  pgdSteps?: number;
  /** PGD random starts per image, worst case kept (default {@linkcode PGD_RESTARTS}). */
  pgdRestarts?: number;
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
  /** Clean top-1 of the attacked images (the first `advImages`): what the attack rows start from. */
  attackedClean: number;
  /** The attack's settings. */
  attack: { pgdSteps: number; pgdRestarts: number };
  fgsm: Row[];
  pgd: Row[];
  /** PGD at large ε: must reach 0 (`fallsToZero`), or the attack is not working. */
  pgdSanity: Row[];
  /** Whether the largest sanity ε left no attacked image classified correctly. */
  fallsToZero: boolean;
  transfer: Row[];
  /**
   * Mean invariance: over non-zero angles, over zooms ≠ 1, over the two flips (h and v), and
   * over the 7 D4 elements that are not the identity.
   */
  invariance: { rotation: number; zoom: number; flip: number; d4: number };
}

/** What {@linkcode evaluate} returns: the numbers, and the per-image outcomes behind them. */
export interface Evaluation {
  results: Record<string, ModelEval>;
  outcomes: Outcomes;
}

async function probabilities(model: tf.LayersModel, x: tf.Tensor4D): Promise<Float32Array> {
  const p = tf.tidy(() => tf.softmax(logitsOf(model, x)));
  const out = await p.data() as Float32Array;
  p.dispose();
  return out;
}

function argmaxRow(p: Float32Array, i: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (p[i * k + c] > p[i * k + best]) best = c;
  return best;
}

/** Per-image 0/1 rows of one model, filled batch by batch. */
class Hits {
  readonly rows = new Map<string, Uint8Array>();
  constructor(readonly n: number, readonly nAdv: number) {}
  row(key: string, attacked = false): Uint8Array {
    let r = this.rows.get(key);
    if (!r) this.rows.set(key, r = new Uint8Array(attacked ? this.nAdv : this.n));
    return r;
  }
  mean(key: string): number {
    const r = this.rows.get(key)!;
    return r.reduce((s, v) => s + v, 0) / r.length;
  }
}

/**
 * Attacks (PGD worst case at ε) the images still marked robust and clears the mark of each one
 * that falls; the others are not attacked again (they are not robust at any larger ε either).
 */
async function attackRobust(
  model: tf.LayersModel,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  eps: number,
  seeds: number[],
  robust: Uint8Array,
  attack: { pgdSteps: number; pgdRestarts: number },
): Promise<void> {
  const pending = Array.from(robust.keys()).filter((i) => robust[i] === 1);
  if (pending.length === 0) return;
  const index = tf.tensor1d(pending, "int32");
  const [xs, ys] = [tf.gather(x, index) as tf.Tensor4D, tf.gather(labels, index) as tf.Tensor1D];
  const { adv, correct } = await pgdWorstCase(model, xs, ys, eps, {
    steps: attack.pgdSteps,
    restarts: attack.pgdRestarts,
    seeds: pending.map((i) => seeds[i]),
  });
  tf.dispose([index, xs, ys, adv]);
  pending.forEach((i, j) => robust[i] = correct[j]);
}

/**
 * Runs every measure on the first `limit` test images for each model.
 *
 * @example
 * ```ts
 * import { generateSynthetic } from "../data/synthetic.ts";
 * import { createModel } from "../model/models.ts";
 * const dataset = generateSynthetic({ seed: 1, train: 10, test: 32 });
 * const model = createModel("symmetric", { preset: "tiny", numClasses: 10 });
 * const { results, outcomes } = await evaluate([{ name: "symmetric", model }], dataset.test, { sweep: "quick", seed: 1, limit: 32, advLimit: 8 });
 * ```
 */
export async function evaluate(
  models: NamedModel[],
  test: Split,
  options: EvaluateOptions,
): Promise<Evaluation> {
  const sweep = lookup(SWEEPS, options.sweep, "sweep");
  const n = options.limit ? Math.min(options.limit, test.count) : test.count;
  const nAdv = Math.min(options.advLimit, n);
  const bs = options.batchSize ?? 200;
  const attack = {
    pgdSteps: options.pgdSteps ?? sweep.pgdSteps,
    pgdRestarts: options.pgdRestarts ?? PGD_RESTARTS,
  };
  const list = measures(sweep, options.seed);
  const hits = models.map(() => new Hits(n, nAdv));
  // Invariance per (model, measure) summed over images, and per image over the non-zero angles.
  const inv = models.map(() => new Float64Array(list.length));
  const rotInv = models.map(() => new Float64Array(n));
  const nonZeroAngles = sweep.angles.filter((a) => a !== 0).length;
  // Transfer: hits of each model on the examples crafted against each other model.
  const transfer = models.map(() => new Float64Array(sweep.eps.length));
  const attackEps = [
    ...sweep.eps.map((eps) => ({ eps, kind: "pgd" })),
    ...sweep.pgdSanity.map((eps) => ({ eps, kind: "pgdSanity" })),
  ];
  const batches = Math.ceil(n / bs);
  const attackBatches = Math.ceil(nAdv / bs);
  const bar = options.progress === false ? undefined : new Progress("eval", batches);
  // Seconds of the measures and of the attacks so far: the first attackBatches batches also
  // run the attacks, many times the measures' cost, so the ETA prices the two apart.
  const spent = { measures: 0, attacks: 0 };
  for (let b = 0; b < batches; b++) {
    const batchStart = performance.now();
    const start = b * bs, size = Math.min(bs, n - start);
    const x = imagesToTensor(test, start, size);
    const labels = test.labels.subarray(start, start + size);
    const clean = await Promise.all(models.map((m) => probabilities(m.model, x)));
    const k = clean[0].length / size;
    models.forEach((_, mi) => {
      const top1 = hits[mi].row("clean"), top5 = hits[mi].row("top5");
      for (let i = 0; i < size; i++) {
        const row = Array.from(clean[mi].subarray(i * k, (i + 1) * k));
        const order = row.map((p, c) => [p, c]).sort((a, b) => b[0] - a[0]);
        top1[start + i] = order[0][1] === labels[i] ? 1 : 0;
        top5[start + i] = order.slice(0, 5).some(([, c]) => c === labels[i]) ? 1 : 0;
      }
    });
    for (let j = 0; j < list.length; j++) {
      const m = list[j];
      const t = await m.transform(x, start);
      for (let mi = 0; mi < models.length; mi++) {
        const p = await probabilities(models[mi].model, t);
        const row = hits[mi].row(rowKey(m.key, m.param ? m.value : undefined));
        for (let i = 0; i < size; i++) {
          row[start + i] = argmaxRow(p, i, k) === labels[i] ? 1 : 0;
          if (!m.invariance) continue;
          const score = invarianceScore(
            clean[mi].subarray(i * k, (i + 1) * k),
            p.subarray(i * k, (i + 1) * k),
          );
          inv[mi][j] += score;
          if (m.key === "rotation" && m.value !== 0) rotInv[mi][start + i] += score / nonZeroAngles;
        }
      }
      t.dispose();
    }
    const attackStart = performance.now();
    spent.measures += (attackStart - batchStart) / 1000;
    if (start < nAdv) {
      const m = Math.min(size, nAdv - start);
      const xa = x.slice([0, 0, 0, 0], [m, -1, -1, -1]) as tf.Tensor4D;
      const ya = tf.tensor1d(labels.subarray(0, m), "int32");
      // 1 where `model` still classifies the attacked image correctly.
      const correctOn = async (model: tf.LayersModel, adv: tf.Tensor4D) => {
        const p = await probabilities(model, adv);
        return Uint8Array.from({ length: m }, (_, i) => argmaxRow(p, i, k) === labels[i] ? 1 : 0);
      };
      models.forEach((_, mi) => {
        const row = hits[mi].row("attackedClean", true);
        row.set(hits[mi].row("clean").subarray(start, start + m), start);
      });
      for (let e = 0; e < sweep.eps.length; e++) {
        for (let mi = 0; mi < models.length; mi++) {
          const f = fgsm(models[mi].model, xa, ya, sweep.eps[e]);
          const row = hits[mi].row(rowKey("fgsm", sweep.eps[e]), true);
          row.set(await correctOn(models[mi].model, f), start);
          f.dispose();
        }
      }
      // Robust so far: not fooled by any PGD run at this ε or a smaller one (runs go up in ε).
      const robust = models.map(() => new Uint8Array(m).fill(1));
      for (const { eps, kind } of attackEps) {
        const e = sweep.eps.indexOf(eps);
        const seeds = imageSeeds(mixSeed(options.seed, eps), start, m);
        for (let mi = 0; mi < models.length; mi++) {
          if (kind === "pgdSanity") {
            // Only whether an image is still robust counts here, so only the robust ones are
            // attacked (each with its own seeds, so the bits are what attacking all gives).
            await attackRobust(models[mi].model, xa, ya, eps, seeds, robust[mi], attack);
            hits[mi].row(rowKey(kind, eps), true).set(robust[mi], start);
            continue;
          }
          const { adv, correct } = await pgdWorstCase(models[mi].model, xa, ya, eps, {
            steps: attack.pgdSteps,
            restarts: attack.pgdRestarts,
            seeds,
          });
          robust[mi].forEach((r, i) => robust[mi][i] = r & correct[i]);
          // A sanity row is the worst case over every run at ε' ≤ ε: an example inside a smaller
          // ball is inside this one, so its accuracy can only fall as ε grows.
          hits[mi].row(rowKey(kind, eps), true).set(kind === "pgd" ? correct : robust[mi], start);
          if (kind === "pgd") {
            for (let oi = 0; oi < models.length; oi++) {
              if (oi === mi) continue;
              const bits = await correctOn(models[oi].model, adv);
              transfer[oi][e] += bits.reduce((n, v) => n + v, 0);
            }
          }
          adv.dispose();
        }
      }
      xa.dispose();
      ya.dispose();
    }
    x.dispose();
    spent.attacks += (performance.now() - attackStart) / 1000;
    const attacksLeft = Math.max(0, attackBatches - b - 1);
    bar?.update(
      b + 1,
      start + size,
      attacksLeft ? `(attacks on the first ${nAdv}: batch ${b + 1} of ${attackBatches})` : "",
      (batches - b - 1) * spent.measures / (b + 1) +
        (attacksLeft ? attacksLeft * spent.attacks / (b + 1) : 0),
    );
  }
  bar?.done();
  const results: Record<string, ModelEval> = {};
  const outcomes: Outcomes = {
    format: 1,
    images: n,
    advImages: nAdv,
    testSet: testSetHash(test, n),
    models: {},
  };
  models.forEach((model, mi) => {
    const h = hits[mi];
    const rows = (key: keyof ModelEval) =>
      list.flatMap((m, j) =>
        m.key !== key ? [] : [{
          [m.param]: m.value,
          acc: h.mean(rowKey(m.key, m.value)),
          ...(m.invariance ? { invariance: inv[mi][j] / n } : {}),
        }]
      );
    const single = (key: keyof ModelEval) => list.findIndex((m) => m.key === key);
    const rot = rows("rotation"), zm = rows("zoom"), mirror = rows("mirror");
    const meanInv = (r: Row[], skip: (row: Row) => boolean) => {
      const kept = r.filter((row) => !skip(row));
      return kept.reduce((s, row) => s + row.invariance, 0) / Math.max(kept.length, 1);
    };
    const attacked = (kind: string, eps: number[]) =>
      nAdv ? eps.map((e) => ({ eps: e, acc: h.mean(rowKey(kind, e)) })) : [];
    const sanity = attacked("pgdSanity", sweep.pgdSanity);
    const sources = models.length - 1;
    results[model.name] = {
      clean: { top1: h.mean("clean"), top5: h.mean("top5") },
      perturbed: h.mean("perturbed"),
      rotation: rot,
      randomRotation: {
        acc: h.mean("randomRotation"),
        invariance: inv[mi][single("randomRotation")] / n,
      },
      zoom: zm,
      resolution: rows("resolution"),
      shift: rows("shift"),
      noise: rows("noise"),
      blur: rows("blur"),
      contrast: rows("contrast"),
      jpeg: rows("jpeg"),
      mirror,
      attackedClean: nAdv ? h.mean("attackedClean") : NaN,
      attack,
      fgsm: attacked("fgsm", sweep.eps),
      pgd: attacked("pgd", sweep.eps),
      pgdSanity: sanity,
      fallsToZero: sanity.length > 0 && sanity.at(-1)!.acc === 0,
      transfer: sources && nAdv
        ? sweep.eps.map((eps, e) => ({ eps, acc: transfer[mi][e] / sources / nAdv }))
        : [],
      invariance: {
        rotation: meanInv(rot, (r) => r.angle === 0),
        zoom: meanInv(zm, (r) => r.factor === 1),
        flip: meanInv(mirror, (r) => r.element !== 4 && r.element !== 6),
        d4: meanInv(mirror, (r) => r.element === 0),
      },
    };
    outcomes.models[model.name] = {
      bits: Object.fromEntries([...h.rows].map(([key, row]) => [key, encodeBits(row)])),
      scores: { rotationInvariance: encodeScores(rotInv[mi]) },
    };
  });
  return { results, outcomes };
}
