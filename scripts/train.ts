/**
 * `deno task train`: trains the baseline and the symmetric model with one recipe and writes
 * checkpoints + per-epoch metrics (the paper's Fig. 2 curves). Run with --help for flags.
 *
 * @module
 */
import { BACKEND_NAMES, setBackend } from "../lib/kernels/backend.ts";
import { DATASET_CHOICES, FOLDER_DEFAULTS, loadDataset } from "../lib/data/mod.ts";
import { presets } from "../lib/model/models.ts";
import { formatDuration } from "../lib/progress.ts";
import { nativeStatus } from "../lib/kernels/native/mod.ts";
import { provenance } from "../lib/provenance.ts";
import {
  AUGMENTATIONS,
  MODEL_CHOICES,
  modelsToTrain,
  OPTIMIZER_NAMES,
  SCHEDULE_NAMES,
  TRAIN_DEFAULTS,
  type TrainOptions,
  TrainOptionsSchema,
} from "../lib/train/options.ts";
import { trainModel } from "../lib/train/train.ts";
import { choiceFlag, numberFlag, optionsError, parseFlags, runMain, UsageError } from "./cli.ts";

const D = TRAIN_DEFAULTS;
const HELP = `Usage: deno task train [flags]

Trains the baseline CNN and the symmetric CNN (P4 group convs + invariant SPP) with the same
recipe; writes <out>/<model>/{model.json,weights.bin,meta.json,metrics.jsonl} after every
epoch (and <out>/<model>-best/ for the best validation accuracy with --val-fraction, else the
best test accuracy).

  --model NAME         ${MODEL_CHOICES.join(" | ")} (default ${D.model}:
                       baseline and symmetric; all: every model)
  --dataset NAME       ${DATASET_CHOICES.join(" | ")} (default auto:
                       CIFAR-100 if cached or downloadable, else the embedded synthetic set)
  --data-dir DIR       an already extracted dataset (works offline); for --dataset folder,
                       DIR/<class>/*.{png,jpg,webp,avif,tif,gif} or DIR/train/<class>/… +
                       DIR/test/<class>/… (class names: the folder names, sorted)
  --size N             folder: side the images are resized to, as the server resizes uploads
                       (default ${FOLDER_DEFAULTS.size}; a multiple of 8 keeps 90° turns exact
                       through the three poolings)
  --channels C         folder: auto | 1 | 3 (default auto: grey stays 1 channel, else RGB)
  --test-fraction F    folder without train/ + test/: each class's share held out for testing
                       (default ${FOLDER_DEFAULTS.testFraction}), drawn with --split-seed
  --split-seed N       folder: seed of that split (default ${FOLDER_DEFAULTS.splitSeed}; not --seed, so every
                       training seed tests on the same images)
  --cache-dir DIR      download cache (default $SYMLAB_CACHE or ~/.cache/symlab)
  --preset NAME        ${Object.keys(presets).join(" | ")} (default ${D.preset})
  --epochs N           (default ${D.epochs})
  --batch-size N       (default ${D.batchSize})
  --optimizer NAME     ${
  OPTIMIZER_NAMES.join(" | ")
} (SGD with Nesterov momentum; default ${D.optimizer})
  --lr X               peak learning rate (default ${D.lr}; SGD wants ~0.01–0.05)
  --momentum X         SGD momentum (default ${D.momentum})
  --schedule NAME      ${SCHEDULE_NAMES.join(" | ")} (default ${D.schedule})
  --weight-decay X     L2 on kernels for SGD, decoupled (AdamW) for Adam (default ${D.weightDecay})
  --augment NAME       ${Object.keys(AUGMENTATIONS).join(" | ")} (default ${D.augment}); the
                       rotations compare "augmentation vs built-in symmetry"
  --seed N             data order, augmentation and init (default ${D.seed})
  --backend NAME       ${BACKEND_NAMES.join(" | ")} (default auto)
  --out DIR            checkpoint directory (default ${D.out})
  --resume             continue from <out>/<model>/ (weights, optimizer, position in epoch)
  --limit N            train on the first N images only (0 = all)
  --train-size N|F     a class-balanced subset of N images (or a fraction F ≤ 1) of what the
                       validation split leaves, nested: for one seed the smaller subsets lie
                       inside the larger ones (0 = all, default)
  --val-fraction F     hold out a class-balanced fraction F (≤ 0.5) of the training images;
                       <model>-best is chosen on it, never on test data (default 0: off;
                       0.1 for --dataset folder, whose split is then train / validation / test)
  --eval-limit N       test images used for the per-epoch metrics (default ${D.evalLimit}; 0 = all)
  --workers N          split each batch across N pure-wasm worker threads (data-parallel, batch
                       norm per worker slice; for machines without the native oneDNN path,
                       which is faster and already uses every core); 0 = off (default)
  --micro-batch N      compute each batch's gradients N images at a time and accumulate them
                       (one optimizer step per batch at an N-image peak memory, for models
                       whose step does not fit at --batch-size; batch norm then normalises
                       each chunk on its own); 0 = off (default)
  --quick              a one-minute demonstration: synthetic data, 2,000 images, 2 epochs
  --help               this text

Ctrl-C finishes the current batch, saves a resumable checkpoint and exits 0.`;

/** Parses argv into validated options; throws a {@linkcode UsageError} with a one-line message. */
export function parseTrainArgs(args: string[]) {
  const values = parseFlags(args, {
    model: { type: "string" },
    dataset: { type: "string" },
    "data-dir": { type: "string" },
    "cache-dir": { type: "string" },
    size: { type: "string" },
    channels: { type: "string" },
    "test-fraction": { type: "string" },
    "split-seed": { type: "string" },
    preset: { type: "string" },
    epochs: { type: "string" },
    "batch-size": { type: "string" },
    optimizer: { type: "string" },
    lr: { type: "string" },
    momentum: { type: "string" },
    schedule: { type: "string" },
    "weight-decay": { type: "string" },
    augment: { type: "string" },
    seed: { type: "string" },
    backend: { type: "string" },
    out: { type: "string" },
    resume: { type: "boolean" },
    limit: { type: "string" },
    "train-size": { type: "string" },
    "val-fraction": { type: "string" },
    "eval-limit": { type: "string" },
    workers: { type: "string" },
    "micro-batch": { type: "string" },
    quick: { type: "boolean" },
    help: { type: "boolean" },
  });
  const quick = values.quick === true;
  const isFolder = values.dataset === "folder";
  const raw = {
    model: values.model ?? D.model,
    preset: values.preset ?? D.preset,
    epochs: numberFlag("epochs", values.epochs, quick ? 2 : D.epochs),
    batchSize: numberFlag("batch-size", values["batch-size"], D.batchSize),
    optimizer: values.optimizer ?? D.optimizer,
    lr: numberFlag("lr", values.lr, D.lr),
    momentum: numberFlag("momentum", values.momentum, D.momentum),
    schedule: values.schedule ?? D.schedule,
    weightDecay: numberFlag("weight-decay", values["weight-decay"], D.weightDecay),
    augment: values.augment ?? D.augment,
    seed: numberFlag("seed", values.seed, D.seed),
    out: values.out ?? D.out,
    resume: values.resume ?? D.resume,
    limit: numberFlag("limit", values.limit, quick ? 2000 : D.limit),
    trainSize: numberFlag("train-size", values["train-size"], D.trainSize),
    valFraction: numberFlag(
      "val-fraction",
      values["val-fraction"],
      isFolder ? FOLDER_VAL_FRACTION : D.valFraction,
    ),
    evalLimit: numberFlag("eval-limit", values["eval-limit"], quick ? 500 : D.evalLimit),
    workers: numberFlag("workers", values.workers, D.workers),
    microBatch: numberFlag("micro-batch", values["micro-batch"], D.microBatch),
  };
  const parsed = TrainOptionsSchema.safeParse(raw);
  if (!parsed.success) throw optionsError(parsed.error, raw);
  const dataset = choiceFlag(
    "dataset",
    values.dataset,
    DATASET_CHOICES,
    quick ? "synthetic" : "auto",
  );
  const backend = choiceFlag("backend", values.backend, BACKEND_NAMES, "auto");
  if (raw.workers > 0 && raw.microBatch > 0) {
    throw new UsageError(
      "--micro-batch: the workers already split each batch; use one of --workers and --micro-batch",
    );
  }
  if (raw.workers > 0 && !["auto", "wasm"].includes(backend)) {
    throw new UsageError(
      `--workers: the workers run pure wasm; it cannot be combined with --backend ${backend}`,
    );
  }
  return {
    help: values.help === true,
    options: parsed.data as TrainOptions,
    dataset,
    dataDir: values["data-dir"],
    cacheDir: values["cache-dir"],
    folder: folderFlags(values, isFolder),
    backend,
  };
}

/** The validation share of a folder dataset's training part when --val-fraction is not given. */
export const FOLDER_VAL_FRACTION = 0.1;

/**
 * `--size`, `--channels`, `--test-fraction`, `--split-seed` as loadDataset's `folder` options;
 * a usage error when given for another dataset. Shared with scripts/eval.ts.
 */
export function folderFlags(
  values: {
    size?: string;
    channels?: string;
    "test-fraction"?: string;
    "split-seed"?: string;
  },
  isFolder: boolean,
) {
  const given = (["size", "channels", "test-fraction", "split-seed"] as const).filter((k) =>
    values[k] !== undefined
  );
  if (!isFolder) {
    if (given.length) {
      throw new UsageError(`--${given[0]}: applies to --dataset folder only`);
    }
    return undefined;
  }
  const channels = choiceFlag("channels", values.channels, ["auto", "1", "3"], "auto");
  return {
    size: numberFlag("size", values.size, FOLDER_DEFAULTS.size, { integer: true, min: 4 }),
    channels: channels === "auto" ? "auto" as const : Number(channels) as 1 | 3,
    testFraction: numberFlag(
      "test-fraction",
      values["test-fraction"],
      FOLDER_DEFAULTS.testFraction,
      {
        min: 0.01,
      },
    ),
    splitSeed: numberFlag("split-seed", values["split-seed"], FOLDER_DEFAULTS.splitSeed, {
      integer: true,
      min: 0,
    }),
  };
}

async function main(): Promise<number> {
  const args = parseTrainArgs(Deno.args);
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const { options } = args;
  const backend = await setBackend(args.backend);
  console.log(`backend: ${backend.name} (${backend.reason})`);
  if (options.workers > 0) {
    if (backend.name !== "wasm") {
      console.error(`error: --workers needs the wasm backend; auto chose ${backend.name}`);
      return 2;
    }
    console.log(
      `workers: ${options.workers} pure-wasm threads compute each batch's gradients` +
        (nativeStatus().enabled
          ? " (note: the native oneDNN path is available and faster in one process; " +
            "drop --workers to use it)"
          : ""),
    );
  }
  const { dataset, reason } = await loadDataset({
    name: args.dataset,
    dataDir: args.dataDir,
    cacheDir: args.cacheDir,
    seed: options.seed,
    folder: args.folder,
    log: (line) => console.log(line),
  });
  console.log(`dataset: ${dataset.name} (${reason})`);
  console.log(
    `         ${dataset.train.count} train / ${dataset.test.count} test images, ` +
      `${dataset.train.height}×${dataset.train.width}×${dataset.train.channels}, ${dataset.classNames.length} classes`,
  );

  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) {
      console.error("\nsecond interrupt: exiting now (the last complete checkpoint is intact)");
      Deno.exit(130);
    }
    console.error("\ninterrupt: finishing the current batch and saving (Ctrl-C again to quit now)");
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const started = performance.now();
  try {
    for (const name of modelsToTrain(options.model)) {
      const result = await trainModel(
        name,
        dataset,
        options,
        {
          backend: `${backend.name}: ${backend.reason}`,
          reason,
          provenance: provenance(backend.name),
        },
        { signal: controller.signal },
      );
      if (result.interrupted) return 0;
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  console.log(
    `done in ${
      formatDuration((performance.now() - started) / 1000)
    }; checkpoints in ${options.out}/ ` +
      `(serve them with: deno task serve; evaluate with: deno task eval)`,
  );
  return 0;
}

if (import.meta.main) runMain(main);
