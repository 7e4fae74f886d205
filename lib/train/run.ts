/**
 * One training run, as `deno task train` and an experiment cell run it: choose the backend,
 * load the dataset, train each model of `model` in turn (lib/train/train.ts). Options:
 * lib/train/options.ts.
 *
 * @module
 */
import { setBackend } from "../kernels/backend.ts";
import { nativeStatus } from "../kernels/native/mod.ts";
import { loadDataset } from "../data/mod.ts";
import { formatDuration } from "../progress.ts";
import { provenance } from "../provenance.ts";
import { OptionsError } from "../validate.ts";
import { modelsToTrain, TrainOptionsSchema, type TrainTask } from "./options.ts";
import { trainModel, type TrainResult } from "./train.ts";

/** What a training run did. */
export interface TrainRun {
  /** One per model trained, in order; the last is cut short when the run was interrupted. */
  results: TrainResult[];
  /** True when `signal` stopped it (the checkpoint saved is resumable). */
  interrupted: boolean;
}

/**
 * Trains every model `task.model` names with one recipe, writing `<out>/<model>/` after each
 * epoch. Aborting `signal` finishes the current batch, saves a resumable checkpoint and
 * returns. Throws an {@linkcode OptionsError} when `workers` meets a backend other than wasm.
 *
 * @example
 * ```ts ignore
 * // not run: trains a model (2 epochs of 2,000 images with `quick`) and writes checkpoints/
 * await runTraining(parseTrainTask({ model: "baseline", quick: true, out: "checkpoints" }));
 * ```
 */
export async function runTraining(
  task: TrainTask,
  hooks: { log?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<TrainRun> {
  const log = hooks.log ?? console.log;
  const backend = await setBackend(task.backend);
  log(`backend: ${backend.name} (${backend.reason})`);
  if (task.workers > 0) {
    if (backend.name !== "wasm") {
      throw new OptionsError("workers", `needs the wasm backend; auto chose ${backend.name}`);
    }
    log(
      `workers: ${task.workers} pure-wasm threads compute each batch's gradients` +
        (nativeStatus().enabled
          ? " (note: the native oneDNN path is available and faster in one process; " +
            "drop --workers to use it)"
          : ""),
    );
  }
  const { dataset, reason } = await loadDataset({
    name: task.dataset,
    dataDir: task.dataDir,
    cacheDir: task.cacheDir,
    seed: task.seed,
    folder: task.dataset === "folder"
      ? {
        size: task.size,
        channels: task.channels,
        testFraction: task.testFraction,
        splitSeed: task.splitSeed,
      }
      : undefined,
    log,
  });
  log(`dataset: ${dataset.name} (${reason})`);
  log(
    `         ${dataset.train.count} train / ${dataset.test.count} test images, ` +
      `${dataset.train.height}×${dataset.train.width}×${dataset.train.channels}, ${dataset.classNames.length} classes`,
  );
  // What a checkpoint records of the run: the recipe (meta.json has the data and backend).
  const options = TrainOptionsSchema.parse(task);
  const context = {
    backend: `${backend.name}: ${backend.reason}`,
    reason,
    provenance: provenance(backend.name),
  };
  const started = performance.now();
  const results: TrainResult[] = [];
  for (const name of modelsToTrain(options.model)) {
    const result = await trainModel(name, dataset, options, context, { signal: hooks.signal, log });
    results.push(result);
    if (result.interrupted) return { results, interrupted: true };
  }
  log(
    `done in ${
      formatDuration((performance.now() - started) / 1000)
    }; checkpoints in ${options.out}/ ` +
      `(serve them with: deno task serve; evaluate with: deno task eval)`,
  );
  return { results, interrupted: false };
}
