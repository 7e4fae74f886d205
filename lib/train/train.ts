/**
 * The training loop shared by every model: same data order, augmentation, optimizer and
 * schedule for each, per-epoch metrics (the paper's Fig. 2 curves), atomic checkpoints,
 * resume, interruption and NaN guards. One step is {@linkcode trainStep} (step.ts).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
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
  type ModelConfig,
  modelConfig,
  type ModelName,
} from "../model/models.ts";
import { accuracy } from "../model/predict.ts";
import { formatDuration, Progress } from "../progress.ts";
import type { Provenance } from "../provenance.ts";
import { EVAL_SEED, perturbedImages, randomlyRotatedImages } from "../eval/measures.ts";
import { trainValidationSplit } from "../data/subset.ts";
import { DataParallel } from "./data_parallel.ts";
import {
  AUGMENTATIONS,
  parseTrainingMeta,
  type ResumeState,
  type TrainingMeta,
  type TrainOptions,
} from "./options.ts";
import { learningRate, makeOptimizer, setLearningRate } from "./schedule.ts";
import { type GradientSource, MicroBatches, trainStep } from "./step.ts";

/** Thrown when training cannot go on (NaN loss, bad resume state). */
export class TrainingError extends Error {
  override name = "TrainingError";
}

/** The per-epoch curves beside validation: accuracy on test, perturbed and rotated images. */
export interface CurveMetrics {
  testAcc: number;
  perturbedAcc: number;
  rotatedAcc: number;
}

/**
 * Test metrics of one model: clean, perturbed (noise σ + shift) and randomly rotated, with eval's
 * definitions and default seed (lib/eval/measures.ts): the same images every epoch, and the
 * numbers `deno task eval` reports for the same checkpoint and test images.
 */
export async function testMetrics(
  model: tf.LayersModel,
  test: Split,
  limit: number,
): Promise<CurveMetrics> {
  const lim = limit || test.count;
  return {
    testAcc: await accuracy(model, test, { limit: lim }),
    perturbedAcc: await accuracy(model, test, {
      limit: lim,
      transform: perturbedImages(EVAL_SEED),
    }),
    rotatedAcc: await accuracy(model, test, {
      limit: lim,
      transform: randomlyRotatedImages(EVAL_SEED),
    }),
  };
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

/** Where the run is recorded: the dataset's choice and the provenance of the code. */
export interface TrainContext {
  backend: string;
  reason?: string;
  provenance?: Provenance;
}

const FRESH: ResumeState = {
  epoch: 0,
  batch: 0,
  partial: { loss: 0, correct: 0, seen: 0, seconds: 0 },
};

/**
 * Where a step's gradients come from, said in the log: pure-wasm worker threads (--workers;
 * the model here stays the source of truth), chunks of the batch (--micro-batch), or, with
 * neither, the step itself (undefined). `workers` is what must be closed afterwards.
 */
async function gradientSource(
  name: string,
  config: ModelConfig,
  options: TrainOptions,
  log: (line: string) => void,
): Promise<{ parallel?: GradientSource; workers?: DataParallel }> {
  if (options.workers > 0) {
    log(`${name}: gradients from ${options.workers} pure-wasm data-parallel workers`);
    const workers = await DataParallel.create(config, options.workers);
    return { parallel: workers, workers };
  }
  if (options.microBatch > 0 && options.microBatch < options.batchSize) {
    log(
      `${name}: gradients of each batch of ${options.batchSize} accumulated over chunks of ${options.microBatch} (--micro-batch; batch norm per chunk)`,
    );
    return { parallel: new MicroBatches(options.microBatch) };
  }
  return {};
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
  context: TrainContext,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const log = hooks.log ?? console.log;
  const dir = `${options.out}/${name}`;
  const { train, validation } = trainingSets(dataset.train, options);
  if (validation) {
    log(`${name}: ${train.count} training images, ${validation.count} held out for validation`);
  }
  const steps = Math.floor(train.count / options.batchSize);
  if (steps < 1) {
    throw new TrainingError(
      `--batch-size ${options.batchSize} is larger than the ${train.count} training images`,
    );
  }
  const optimizer = makeOptimizer(options);
  const run = await startOrResume(name, dataset, train, options, optimizer, log);
  const { model, history } = run;
  const params = countParams(model);
  log(
    `${name}: preset ${options.preset}, ${params.toLocaleString("en-US")} parameters, ` +
      `${steps} batches of ${options.batchSize} per epoch`,
  );
  const save = (state: ResumeState) =>
    saveCheckpoint(dir, model, {
      meta: checkpointMeta(name, dataset, train, options, context, run, params, state),
      optimizer,
    });

  const result: TrainResult = {
    model: name,
    dir,
    epochs: history,
    interrupted: false,
    tensorsAfterEpoch: [],
  };
  const totalSteps = steps * options.epochs;
  const progressAt = (epoch: number, index: number) => (epoch * steps + index) / totalSteps;
  const augment = AUGMENTATIONS[options.augment];
  const numClasses = dataset.classNames.length;
  const { parallel, workers } = await gradientSource(name, run.config, options, log);
  try {
    for (let epoch = run.state.epoch; epoch < options.epochs; epoch++) {
      const skip = epoch === run.state.epoch ? run.state.batch : 0;
      const sums = { ...(skip ? run.state.partial : FRESH.partial) };
      const bar = hooks.progress === false
        ? undefined
        : new Progress(`${name} epoch ${epoch + 1}/${options.epochs}`, steps);
      const started = performance.now();
      const order = {
        batchSize: options.batchSize,
        shuffle: true,
        seed: options.seed,
        epoch,
        augment,
        dropLast: true,
      };
      let lastTurn = 0;
      for (const batch of batches(train, order)) {
        if (batch.index < skip) continue;
        const lr = learningRate(options, progressAt(epoch, batch.index));
        setLearningRate(optimizer, lr);
        const { loss, hits } = await trainStep(model, {
          x: batch.x,
          shape: [batch.size, train.height, train.width, train.channels],
          labels: batch.y,
          numClasses,
        }, {
          optimizer,
          lr,
          weightDecay: options.weightDecay,
          decay: options.optimizer === "adam" ? "decoupled" : "l2",
          parallel,
        });
        if (!Number.isFinite(loss)) {
          bar?.done();
          throw new TrainingError(
            `${name}: loss became ${loss} at epoch ${epoch + 1}, batch ${batch.index + 1}; ` +
              `stopped, the last good checkpoint in ${dir} is kept (try a lower --lr)`,
          );
        }
        sums.loss += loss * batch.size;
        sums.correct += hits;
        sums.seen += batch.size;
        const done = batch.index + 1;
        // The batch's awaits resolve as microtasks, which never give the event loop a turn, so a
        // SIGINT listener (lib/interrupt.ts) would run only after the epoch; a timer turn about
        // once a second lets it run between batches.
        if (performance.now() - lastTurn > 1000) {
          await new Promise((resolve) => setTimeout(resolve, 0));
          lastTurn = performance.now();
        }
        bar?.update(
          done,
          sums.seen,
          `loss ${(sums.loss / sums.seen).toFixed(3)} acc ${(sums.correct / sums.seen).toFixed(3)}`,
        );
        if (hooks.signal?.aborted && done < steps) {
          bar?.done();
          const seconds = sums.seconds + (performance.now() - started) / 1000;
          await save({ epoch, batch: done, partial: { ...sums, seconds } });
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
      const trainSeconds = sums.seconds + (performance.now() - started) / 1000;
      const evalStart = performance.now();
      // The curves every curveEvery epochs and at the last; test every epoch when it chooses.
      const curve = !validation || (epoch + 1) % options.curveEvery === 0 ||
        epoch + 1 === options.epochs;
      const metrics: Partial<CurveMetrics> = curve
        ? await testMetrics(model, dataset.test, options.evalLimit)
        : {};
      // The reported checkpoint is chosen on held-out training images, never on test data.
      const valAcc = validation
        ? await accuracy(model, validation, { limit: options.evalLimit || validation.count })
        : undefined;
      const evalSeconds = (performance.now() - evalStart) / 1000;
      const row: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: sums.loss / sums.seen,
        trainAcc: sums.correct / sums.seen,
        ...metrics,
        ...(valAcc === undefined ? {} : { valAcc }),
        lr: learningRate(options, progressAt(epoch + 1, 0)),
        seconds: Number(trainSeconds.toFixed(2)),
        evalSeconds: Number(evalSeconds.toFixed(2)),
        imgPerSec: Number((sums.seen / trainSeconds).toFixed(1)),
      };
      history.push(row);
      // Without a validation split every epoch measures test, which then chooses.
      const score = valAcc ?? metrics.testAcc!;
      const improved = score > run.best;
      if (improved) run.best = score;
      await save({ ...FRESH, epoch: epoch + 1 });
      if (improved) await copyBest(dir);
      result.tensorsAfterEpoch.push(tf.memory().numTensors);
      const left = (options.epochs - epoch - 1) * (performance.now() - started) / 1000;
      log(
        epochLine(name, row, options.epochs, evalSeconds) +
          (left > 0 ? `; about ${formatDuration(left)} left for ${name}` : ""),
      );
      if (hooks.signal?.aborted && epoch + 1 < options.epochs) {
        log(`${name}: interrupted after epoch ${epoch + 1}; saved ${dir} (resume with --resume)`);
        result.interrupted = true;
        return result;
      }
    }
  } finally {
    workers?.close();
  }
  optimizer.dispose();
  return result;
}

/** The training images and the validation split held out from them (--limit, --train-size,
 * --val-fraction: class-balanced, seeded, nested subsets from data/subset.ts). */
function trainingSets(all: Split, options: TrainOptions): { train: Split; validation?: Split } {
  const first = firstImages(all, options.limit);
  if (!options.trainSize && !options.valFraction) return { train: first };
  return trainValidationSplit(first, {
    seed: options.seed,
    valFraction: options.valFraction,
    size: options.trainSize,
  });
}

/** What meta.json records of a run at `state` (the checkpoint module adds hashes and dates). */
function checkpointMeta(
  name: ModelName,
  dataset: Dataset,
  train: Split,
  options: TrainOptions,
  context: TrainContext,
  run: { config: ModelConfig; history: EpochMetrics[]; best: number },
  params: number,
  state: ResumeState,
): Omit<CheckpointMeta, "format" | "weightsSha256" | "createdAt" | "optimizer"> {
  const training: TrainingMeta = {
    options,
    inputSize: [train.height, train.width],
    state,
    best: Number.isFinite(run.best) ? run.best : null,
  };
  return {
    model: name,
    config: run.config,
    dataset: {
      name: dataset.name,
      source: dataset.source,
      classNames: dataset.classNames,
      reason: context.reason,
      ...(dataset.split ? { split: dataset.split } : {}),
    },
    epoch: state.epoch,
    history: run.history,
    backend: context.backend,
    params,
    training,
    provenance: context.provenance,
  };
}

/** The model to train and where the run stands: fresh, or read back from its checkpoint. */
async function startOrResume(
  name: ModelName,
  dataset: Dataset,
  train: Split,
  options: TrainOptions,
  optimizer: tf.Optimizer,
  log: (line: string) => void,
) {
  const dir = `${options.out}/${name}`;
  if (!options.resume) {
    const stats = channelStats(train);
    const config = modelConfig(name, {
      preset: options.preset,
      numClasses: dataset.classNames.length,
      inputShape: [null, null, train.channels],
      normalization: { mean: stats.mean, std: stats.std },
      seed: options.seed,
    });
    return {
      model: buildModel(config),
      config,
      history: [] as EpochMetrics[],
      state: FRESH,
      best: -Infinity,
    };
  }
  const loaded = await loadCheckpoint(dir, { withOptimizer: true });
  if (loaded.meta.training === undefined) {
    throw new TrainingError(`${dir}/meta.json: no resume state`);
  }
  const saved = parseTrainingMeta(loaded.meta.training, `${dir}/meta.json`);
  if (loaded.optimizerState) {
    if (loaded.optimizerState.name !== optimizer.getClassName()) {
      throw new TrainingError(
        `${dir}: saved optimizer is ${loaded.optimizerState.name}, --optimizer asks for ${optimizer.getClassName()}`,
      );
    }
    // tfjs creates optimizer slots lazily; setWeights restores them in variable order.
    await optimizer.setWeights(loaded.optimizerState.weights);
  }
  log(
    `${name}: resuming from ${dir} at epoch ${saved.state.epoch + 1}, batch ${saved.state.batch}`,
  );
  return {
    model: loaded.model,
    config: loaded.meta.config,
    history: loaded.meta.history,
    state: saved.state,
    best: saved.best ?? -Infinity,
  };
}

/** The first `limit` images of a split (all when 0). */
function firstImages(split: Split, limit: number): Split {
  if (!limit || limit >= split.count) return split;
  const size = split.height * split.width * split.channels;
  return {
    ...split,
    count: limit,
    images: split.images.subarray(0, limit * size),
    labels: split.labels.subarray(0, limit),
  };
}

const pct = (v: number | string | null) => `${(100 * Number(v)).toFixed(1)}%`;

/** The epoch's summary line: the accuracies it measured (curves only on curve epochs). */
function epochLine(name: string, row: EpochMetrics, epochs: number, evalSeconds: number): string {
  const measured = (["train", "test", "perturbed", "rotated", "val"] as const)
    .filter((k) => row[`${k}Acc`] !== undefined)
    .map((k) => `${k} ${pct(row[`${k}Acc`])}`);
  return `${name} epoch ${row.epoch}/${epochs}: loss ${Number(row.trainLoss).toFixed(3)} ` +
    `${measured.join(" ")} | ${formatDuration(Number(row.seconds))} ${row.imgPerSec} img/s, ` +
    `eval ${formatDuration(evalSeconds)}`;
}

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
