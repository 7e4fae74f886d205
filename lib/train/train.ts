/**
 * The training loop shared by both models: same data order, augmentation, optimizer and
 * schedule for each, per-epoch metrics (the paper's Fig. 2 curves), atomic checkpoints,
 * resume, interruption and NaN guards.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { batches, channelStats, type Dataset, type Split } from "../data/mod.ts";
import {
  type CheckpointMeta,
  type EpochMetrics,
  loadCheckpoint,
  saveCheckpoint,
} from "../model/checkpoint.ts";
import {
  buildModel,
  countParams,
  MODEL_NAMES,
  type ModelConfig,
  modelConfig,
  type ModelName,
  presets,
} from "../model/models.ts";
import { DataParallel } from "./data_parallel.ts";
import { accuracy } from "../model/predict.ts";
import { formatDuration, Progress } from "../progress.ts";
import { perturb, PERTURB_DEFAULTS, randomRotate } from "../transforms.ts";

/** Every training option with its default: the one place defaults live. */
export const TRAIN_DEFAULTS = {
  model: "both" as "baseline" | "symmetric" | "both",
  preset: "small",
  epochs: 8,
  batchSize: 64,
  // Adam: the P4 filter bank reuses each kernel entry four times, so its gradients are ~4×
  // larger than an ordinary conv's; SGD at lr 0.05 diverged on the symmetric model while Adam
  // (scale-invariant) trained both (measured 2026-11 on the synthetic set).
  optimizer: "adam" as "sgd" | "adam",
  lr: 0.002,
  momentum: 0.9,
  schedule: "onecycle" as "onecycle" | "cosine" | "constant",
  weightDecay: 5e-4,
  augment: "shift" as "none" | "shift" | "shift+rot90" | "shift+rotate",
  seed: 1,
  out: "checkpoints",
  resume: false,
  limit: 0,
  evalLimit: 2000,
  /** Pure-wasm data-parallel worker threads (lib/data_parallel.ts); 0 = one process. */
  workers: 0,
};

/** Validated training options (see {@linkcode TRAIN_DEFAULTS}). */
export const TrainOptionsSchema = z.object({
  model: z.enum(["baseline", "symmetric", "both"]),
  preset: z.string().refine((p) => p in presets, {
    message: `expected one of ${Object.keys(presets).join(", ")}`,
  }),
  epochs: z.number().int().min(1).max(10_000),
  batchSize: z.number().int().min(1).max(4096),
  optimizer: z.enum(["sgd", "adam"]),
  lr: z.number().positive().max(10),
  momentum: z.number().min(0).max(0.999),
  schedule: z.enum(["onecycle", "cosine", "constant"]),
  weightDecay: z.number().min(0).max(1),
  augment: z.enum(["none", "shift", "shift+rot90", "shift+rotate"]),
  seed: z.number().int().min(0),
  out: z.string().min(1),
  resume: z.boolean(),
  limit: z.number().int().min(0),
  evalLimit: z.number().int().min(0),
  workers: z.number().int().min(0).max(256),
});
export type TrainOptions = z.infer<typeof TrainOptionsSchema>;

/** Thrown when training cannot go on (NaN loss, bad resume state). */
export class TrainingError extends Error {
  override name = "TrainingError";
}

/** Learning rate at fractional progress t ∈ [0, 1] through the run. */
export function learningRate(options: Pick<TrainOptions, "lr" | "schedule">, t: number): number {
  const { lr, schedule } = options;
  if (schedule === "constant") return lr;
  if (schedule === "cosine") return lr * 0.5 * (1 + Math.cos(Math.PI * t));
  // One-cycle (Smith 2018): linear warm-up over the first 15%, then cosine down to lr/1000.
  const warm = 0.15;
  if (t < warm) return lr * (0.1 + 0.9 * t / warm);
  const u = (t - warm) / (1 - warm);
  return lr * (0.001 + 0.999 * 0.5 * (1 + Math.cos(Math.PI * u)));
}

function makeOptimizer(options: TrainOptions): tf.Optimizer {
  return options.optimizer === "adam"
    ? tf.train.adam(options.lr)
    : tf.train.momentum(options.lr, options.momentum, true);
}

function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as {
    setLearningRate?: (lr: number) => void;
    learningRate: number;
  };
  if (o.setLearningRate) o.setLearningRate(lr);
  else o.learningRate = lr;
}

const AUGMENT: Record<
  TrainOptions["augment"],
  { shift: number; rotate: "none" | "rot90" | "any" }
> = {
  none: { shift: 0, rotate: "none" },
  shift: { shift: 4, rotate: "none" },
  "shift+rot90": { shift: 4, rotate: "rot90" },
  "shift+rotate": { shift: 4, rotate: "any" },
};

/** Seeds of the fixed perturbed and rotated test sets: the same images every epoch. */
const EVAL_SEED = 12345;

/** Test metrics of one model: clean, perturbed (noise σ + shift) and randomly rotated. */
export async function testMetrics(
  model: tf.LayersModel,
  test: Split,
  limit: number,
): Promise<{ testAcc: number; perturbedAcc: number; rotatedAcc: number }> {
  const lim = limit || test.count;
  const testAcc = await accuracy(model, test, { limit: lim });
  const perturbedAcc = await accuracy(model, test, {
    limit: lim,
    transform: (x, offset) => perturb(x, { ...PERTURB_DEFAULTS, seed: EVAL_SEED + offset }),
  });
  const rotatedAcc = await accuracy(model, test, {
    limit: lim,
    transform: (x, offset) => randomRotate(x, EVAL_SEED + offset).images,
  });
  return { testAcc, perturbedAcc, rotatedAcc };
}

/** What the caller is told as training goes. */
export interface TrainHooks {
  log?: (line: string) => void;
  /** Set (e.g. on Ctrl-C) to stop after the current batch, save and return. */
  signal?: AbortSignal;
  /** Progress bars on stderr (default true). */
  progress?: boolean;
}

/** Result per model. */
export interface TrainResult {
  model: ModelName;
  dir: string;
  epochs: EpochMetrics[];
  interrupted: boolean;
  /** Live tensors after each completed epoch (steady memory: all equal). */
  tensorsAfterEpoch: number[];
}

interface ResumeState {
  epoch: number; // epochs completed
  batch: number; // batches of the next epoch already done (interrupted mid-epoch)
  partial: { loss: number; correct: number; seen: number; seconds: number };
}

/**
 * Trains one model on a dataset. Resumable: `options.resume` continues from
 * `<out>/<model>/` with optimizer state and the position inside the epoch, producing the same
 * curve as an uninterrupted run with the same seed.
 */
export async function trainModel(
  name: ModelName,
  dataset: Dataset,
  options: TrainOptions,
  context: { backend: string; reason?: string },
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const log = hooks.log ?? console.log;
  const dir = `${options.out}/${name}`;
  const { train, test } = dataset;
  const trainCount = options.limit ? Math.min(options.limit, train.count) : train.count;
  const trainSet: Split = options.limit
    ? {
      ...train,
      count: trainCount,
      images: train.images.subarray(0, trainCount * train.height * train.width * train.channels),
      labels: train.labels.subarray(0, trainCount),
    }
    : train;
  const steps = Math.floor(trainCount / options.batchSize);
  if (steps < 1) {
    throw new TrainingError(
      `--batch-size ${options.batchSize} is larger than the ${trainCount} training images`,
    );
  }

  let model: tf.LayersModel;
  let config: ModelConfig;
  const optimizer = makeOptimizer(options);
  let history: EpochMetrics[] = [];
  let state: ResumeState = {
    epoch: 0,
    batch: 0,
    partial: { loss: 0, correct: 0, seen: 0, seconds: 0 },
  };
  let best = -Infinity;
  if (options.resume) {
    const loaded = await loadCheckpoint(dir, { withOptimizer: true });
    model = loaded.model;
    config = loaded.meta.config;
    history = loaded.meta.history;
    const saved = loaded.meta.training as { state?: ResumeState; best?: number } | undefined;
    if (!saved?.state) throw new TrainingError(`${dir}/meta.json: no resume state`);
    state = saved.state;
    best = saved.best ?? -Infinity;
    if (loaded.optimizerState) {
      if (loaded.optimizerState.name !== optimizer.getClassName()) {
        throw new TrainingError(
          `${dir}: saved optimizer is ${loaded.optimizerState.name}, --optimizer asks for ${optimizer.getClassName()}`,
        );
      }
      // tfjs creates optimizer slots lazily; setWeights restores them in variable order.
      await optimizer.setWeights(loaded.optimizerState.weights);
    }
    log(`${name}: resuming from ${dir} at epoch ${state.epoch + 1}, batch ${state.batch}`);
  } else {
    const stats = channelStats(trainSet);
    config = modelConfig(name, {
      preset: options.preset,
      numClasses: dataset.classNames.length,
      inputShape: [null, null, train.channels],
      normalization: { mean: stats.mean, std: stats.std },
      seed: options.seed,
    });
    model = buildModel(config);
  }
  const params = countParams(model);
  log(
    `${name}: preset ${options.preset}, ${
      params.toLocaleString("en-US")
    } parameters, ${steps} batches of ${options.batchSize} per epoch`,
  );

  const kernels = model.trainableWeights.filter((w) => /kernel/.test(w.originalName));
  const save = async (epochState: ResumeState) => {
    const meta: Omit<CheckpointMeta, "format" | "weightsSha256" | "createdAt" | "optimizer"> = {
      model: name,
      config,
      dataset: {
        name: dataset.name,
        source: dataset.source,
        classNames: dataset.classNames,
        reason: context.reason,
      },
      epoch: epochState.epoch,
      history,
      backend: context.backend,
      params,
      training: {
        options,
        inputSize: [train.height, train.width],
        state: epochState,
        best,
      },
    };
    await saveCheckpoint(dir, model, { meta, optimizer });
  };

  const result: TrainResult = {
    model: name,
    dir,
    epochs: history,
    interrupted: false,
    tensorsAfterEpoch: [],
  };
  const totalSteps = steps * options.epochs;
  // --workers: gradients from pure-wasm worker threads (the model here stays the source of truth).
  const parallel = options.workers > 0
    ? await DataParallel.create(config, options.workers)
    : undefined;
  if (parallel) log(`${name}: gradients from ${options.workers} pure-wasm data-parallel workers`);
  try {
    for (let epoch = state.epoch; epoch < options.epochs; epoch++) {
      const skip = epoch === state.epoch ? state.batch : 0;
      let { loss: lossSum, correct, seen, seconds } = skip
        ? state.partial
        : { loss: 0, correct: 0, seen: 0, seconds: 0 };
      const bar = hooks.progress === false
        ? undefined
        : new Progress(`${name} epoch ${epoch + 1}/${options.epochs}`, steps);
      const started = performance.now();
      let done = skip;
      const aug = AUGMENT[options.augment];
      for (
        const batch of batches(trainSet, {
          batchSize: options.batchSize,
          shuffle: true,
          seed: options.seed,
          epoch,
          augment: { shift: aug.shift, rotate: aug.rotate },
          dropLast: true,
        })
      ) {
        if (batch.index < skip) continue;
        setLearningRate(
          optimizer,
          learningRate(options, (epoch * steps + batch.index) / totalSteps),
        );
        const x = tf.tensor4d(batch.x, [batch.size, train.height, train.width, train.channels]);
        const labels = tf.tensor1d(batch.y, "int32");
        const y = tf.oneHot(labels, dataset.classNames.length);
        const l2 = !options.weightDecay || options.optimizer === "adam" ? 0 : options.weightDecay;
        let hits: tf.Tensor | undefined;
        let value: tf.Scalar, grads: tf.NamedTensorMap;
        if (parallel) {
          const shape = [batch.size, train.height, train.width, train.channels] as const;
          const classes = dataset.classNames.length;
          const r = await parallel.gradients(model, batch.x, [...shape], batch.y, classes);
          grads = r.grads;
          hits = tf.scalar(r.hits);
          value = tf.scalar(r.loss);
          if (l2) {
            // The workers differentiate the cross-entropy; ½·λ·Σ‖W‖² adds λ·W to each kernel's.
            for (const w of kernels) {
              const name = (w.read() as tf.Variable).name;
              const g = grads[name];
              grads[name] = g.add(w.read().mul(l2));
              g.dispose();
            }
            const penalty = tf.tidy(() =>
              tf.addN(kernels.map((w) => tf.sum(tf.square(w.read())))).mul(l2 / 2).add(value)
            );
            value.dispose();
            value = penalty as tf.Scalar;
          }
        } else {
          ({ value, grads } = tf.variableGrads(() => {
            const logits = model.apply(x, { training: true }) as tf.Tensor;
            hits = tf.keep(logits.argMax(1).equal(labels).sum());
            const ce = tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
            if (!l2) return ce;
            // L2 on conv/dense kernels (not BN, not biases): ½·λ·Σ‖W‖².
            const sq = tf.addN(kernels.map((w) => tf.sum(tf.square(w.read()))));
            return ce.add(sq.mul(l2 / 2)) as tf.Scalar;
          }, model.trainableWeights.map((w) => w.read() as tf.Variable)));
        }
        optimizer.applyGradients(grads);
        if (options.optimizer === "adam" && options.weightDecay) {
          // AdamW: decoupled decay, W ← W − lr·λ·W.
          const lr = learningRate(options, (epoch * steps + batch.index) / totalSteps);
          tf.tidy(() =>
            kernels.forEach((w) => w.write(w.read().mul(1 - lr * options.weightDecay)))
          );
        }
        const [lossValue] = await value.data();
        const [hitCount] = await hits!.data();
        tf.dispose([x, labels, y, value, hits!, ...Object.values(grads)]);
        if (!Number.isFinite(lossValue)) {
          bar?.done();
          throw new TrainingError(
            `${name}: loss became ${lossValue} at epoch ${epoch + 1}, batch ${batch.index + 1}; ` +
              `stopped, the last good checkpoint in ${dir} is kept (try a lower --lr)`,
          );
        }
        lossSum += lossValue * batch.size;
        correct += hitCount;
        seen += batch.size;
        done = batch.index + 1;
        bar?.update(
          done,
          seen,
          `loss ${(lossSum / seen).toFixed(3)} acc ${(correct / seen).toFixed(3)}`,
        );
        if (hooks.signal?.aborted && done < steps) {
          bar?.done();
          const elapsed = seconds + (performance.now() - started) / 1000;
          await save({
            epoch,
            batch: done,
            partial: { loss: lossSum, correct, seen, seconds: elapsed },
          });
          log(
            `${name}: interrupted after batch ${done} of epoch ${
              epoch + 1
            }; saved ${dir} (resume with --resume)`,
          );
          result.interrupted = true;
          return result;
        }
      }
      bar?.done();
      const trainSeconds = seconds + (performance.now() - started) / 1000;
      const evalStart = performance.now();
      const metrics = await testMetrics(model, test, options.evalLimit);
      const [trainLoss, trainAcc] = [lossSum / seen, correct / seen];
      const row: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss,
        trainAcc,
        ...metrics,
        lr: learningRate(options, (epoch + 1) * steps / totalSteps),
        seconds: Number(trainSeconds.toFixed(2)),
        evalSeconds: Number(((performance.now() - evalStart) / 1000).toFixed(2)),
        imgPerSec: Number((seen / trainSeconds).toFixed(1)),
      };
      history.push(row);
      const improved = metrics.testAcc > best;
      if (improved) best = metrics.testAcc;
      await save({
        epoch: epoch + 1,
        batch: 0,
        partial: { loss: 0, correct: 0, seen: 0, seconds: 0 },
      });
      if (improved) await copyBest(dir);
      result.tensorsAfterEpoch.push(tf.memory().numTensors);
      log(
        `${name} epoch ${epoch + 1}/${options.epochs}: loss ${trainLoss.toFixed(3)} train ${
          pct(trainAcc)
        } ` +
          `test ${pct(metrics.testAcc)} perturbed ${pct(metrics.perturbedAcc)} rotated ${
            pct(metrics.rotatedAcc)
          } ` +
          `| ${formatDuration(trainSeconds)} ${row.imgPerSec} img/s, eval ${
            formatDuration((performance.now() - evalStart) / 1000)
          }${
            epoch + 1 < options.epochs
              ? `; about ${
                formatDuration(
                  (options.epochs - epoch - 1) * (performance.now() - started) / 1000,
                )
              } left for ${name}`
              : ""
          }`,
      );
      if (hooks.signal?.aborted && epoch + 1 < options.epochs) {
        log(`${name}: interrupted after epoch ${epoch + 1}; saved ${dir} (resume with --resume)`);
        result.interrupted = true;
        return result;
      }
    }
  } finally {
    parallel?.close();
  }
  optimizer.dispose();
  return result;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/** Copies a complete checkpoint directory to `<dir>-best` atomically (same scheme as saves). */
async function copyBest(dir: string): Promise<void> {
  const best = `${dir}-best`;
  const tmp = `${best}.tmp`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile) await Deno.copyFile(`${dir}/${entry.name}`, `${tmp}/${entry.name}`);
  }
  await Deno.remove(`${best}.old`, { recursive: true }).catch(() => {});
  await Deno.rename(best, `${best}.old`).catch(() => {});
  await Deno.rename(tmp, best);
  await Deno.remove(`${best}.old`, { recursive: true }).catch(() => {});
}

/** The models a `--model` value names. */
export function modelsToTrain(model: TrainOptions["model"]): ModelName[] {
  return model === "both" ? [...MODEL_NAMES] : [model];
}
