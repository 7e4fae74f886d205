/**
 * Training options: one schema of every option of a training run with its default and help
 * ({@linkcode TrainTaskSchema}), the part a checkpoint records ({@linkcode TrainOptionsSchema}),
 * and the schema of that record (`meta.training`), so that resuming, serving and evaluation
 * read it through one parser instead of casts.
 *
 * @module
 */
import { z } from "zod";
import { DATASET_CHOICES, FOLDER_DEFAULTS, FolderSplitSchema } from "../data/mod.ts";
import { BACKEND_NAMES } from "../kernels/backend.ts";
import { MODEL_NAMES, type ModelName, presets } from "../model/models.ts";
import { expectedOneOf, parseWith } from "../validate.ts";

export const OPTIMIZER_NAMES = ["sgd", "adam"] as const;
export const SCHEDULE_NAMES = ["onecycle", "cosine", "constant"] as const;

/**
 * Augmentations: random shifts of up to `shift` pixels (zero fill), and rotations by
 * multiples of 90° (`rot90`) or by any angle (`any`).
 */
export const AUGMENTATIONS = {
  none: { shift: 0, rotate: "none" },
  shift: { shift: 4, rotate: "none" },
  "shift+rot90": { shift: 4, rotate: "rot90" },
  "shift+rotate": { shift: 4, rotate: "any" },
} as const satisfies Record<string, { shift: number; rotate: "none" | "rot90" | "any" }>;
export type AugmentName = keyof typeof AUGMENTATIONS;

/**
 * `model` takes a model name, a comma-separated list of them, `both` (baseline and
 * symmetric, the paper's pair) or `all`.
 */
export const MODEL_CHOICES = [...MODEL_NAMES, "both", "all"] as const;

/** The validation share of a folder dataset's training part when `valFraction` is not given. */
export const FOLDER_VAL_FRACTION = 0.1;

/** What `quick` sets unless given: a one-minute demonstration. */
export const QUICK = { dataset: "synthetic", epochs: 2, limit: 2000, evalLimit: 500 } as const;

const FOLDER = FolderSplitSchema.shape;
const FOLDER_KEYS = ["size", "channels", "testFraction", "splitSeed"] as const;

/**
 * Every option of a training run, its default and its help: the one place a training flag is
 * written. `deno task train`'s flags and help are derived from it (scripts/cli.ts), an
 * experiment cell's `train-options.json` is read with it (lib/experiment/task.ts), and an
 * experiment file's recipe reuses its fields (lib/experiment/spec.ts). Two defaults depend on
 * other options ({@linkcode withContextDefaults}): `quick`'s, and `valFraction` for a folder.
 */
export const TrainTaskSchema = z.strictObject({
  model: z.string().refine(
    (m) => m.split(",").every((n) => (MODEL_CHOICES as readonly string[]).includes(n.trim())),
    { error: () => `${expectedOneOf(MODEL_CHOICES)}, or a comma-separated list of models` },
  ).default("both").meta({
    arg: "NAME",
    help: `${MODEL_CHOICES.join(" | ")}, or a comma-separated list (default {default}: ` +
      "baseline and symmetric; all: every model)",
  }),
  dataset: z.enum(DATASET_CHOICES).default("auto").meta({
    help: "{choices} (default {default}: CIFAR-100 if cached or downloadable, else the " +
      "embedded synthetic set)",
  }),
  dataDir: z.string().min(1).optional().meta({
    arg: "DIR",
    help: "an already extracted dataset (works offline); for --dataset folder, " +
      "DIR/<class>/*.{png,jpg,webp,avif,tif,gif} or DIR/train/<class>/… + DIR/test/<class>/… " +
      "(class names: the folder names, sorted)",
  }),
  size: FOLDER.size.meta({
    arg: "N",
    help: "folder: side the images are resized to, as the server resizes uploads (default " +
      `${FOLDER_DEFAULTS.size}; a multiple of 8 keeps 90° turns exact through the three poolings)`,
  }),
  channels: FOLDER.channels.meta({
    arg: "C",
    help: "folder: {choices} (default auto: grey stays 1 channel, else RGB)",
  }),
  testFraction: FOLDER.testFraction.meta({
    arg: "F",
    help: "folder without train/ + test/: each class's share held out for testing (default " +
      `${FOLDER_DEFAULTS.testFraction}), drawn with --split-seed`,
  }),
  splitSeed: FOLDER.splitSeed.meta({
    arg: "N",
    help: `folder: seed of that split (default ${FOLDER_DEFAULTS.splitSeed}; not --seed, so ` +
      "every training seed tests on the same images)",
  }),
  cacheDir: z.string().min(1).optional().meta({
    arg: "DIR",
    help: "download cache (default $SYMLAB_CACHE or ~/.cache/symlab)",
  }),
  preset: z.enum(Object.keys(presets) as [string, ...string[]], {
    error: () => expectedOneOf(Object.keys(presets)),
  }).default("small"),
  epochs: z.number().int().min(1).max(10_000).default(8).meta({ arg: "N" }),
  batchSize: z.number().int().min(1).max(4096).default(64).meta({ arg: "N" }),
  // Adam: the P4 filter bank reuses each kernel entry four times, so its gradients are ~4×
  // larger than an ordinary conv's; SGD at lr 0.05 diverged on the symmetric model while Adam
  // (scale-invariant) trained both (measured 2026-11 on the synthetic set).
  optimizer: z.enum(OPTIMIZER_NAMES, { error: () => expectedOneOf(OPTIMIZER_NAMES) })
    .default("adam").meta({ help: "{choices} (SGD with Nesterov momentum; default {default})" }),
  lr: z.number().positive().max(10).default(0.002).meta({
    help: "peak learning rate (default {default}; SGD wants ~0.01–0.05)",
  }),
  momentum: z.number().min(0).max(0.999).default(0.9).meta({ help: "SGD momentum" }),
  schedule: z.enum(SCHEDULE_NAMES, { error: () => expectedOneOf(SCHEDULE_NAMES) })
    .default("onecycle"),
  weightDecay: z.number().min(0).max(1).default(5e-4).meta({
    help: "L2 on kernels for SGD, decoupled (AdamW) for Adam",
  }),
  augment: z.enum(Object.keys(AUGMENTATIONS) as [AugmentName, ...AugmentName[]], {
    error: () => expectedOneOf(Object.keys(AUGMENTATIONS)),
  }).default("shift").meta({
    help: '{choices} (default {default}); the rotations compare "augmentation vs built-in ' +
      'symmetry"',
  }),
  seed: z.number().int().min(0).default(1).meta({
    arg: "N",
    help: "data order, augmentation and init",
  }),
  backend: z.enum(BACKEND_NAMES).default("auto"),
  out: z.string().min(1).default("checkpoints").meta({ arg: "DIR", help: "checkpoint directory" }),
  resume: z.boolean().default(false).meta({
    help: "continue from <out>/<model>/ (weights, optimizer, position in epoch)",
  }),
  limit: z.number().int().min(0).default(0).meta({
    arg: "N",
    help: "train on the first N images only (default {default}: all)",
  }),
  /** Training images after the validation split: a count > 1 or a fraction ≤ 1; 0 = all. */
  trainSize: z.number().min(0).refine((n) => n <= 1 || Number.isInteger(n), {
    error: "expected an integer count above 1 or a fraction in (0, 1]",
  }).default(0).meta({
    arg: "N|F",
    help: "a class-balanced subset of N images (or a fraction F ≤ 1) of what the validation " +
      "split leaves, nested: for one seed the smaller subsets lie inside the larger ones " +
      "(default {default}: all)",
  }),
  /** Held out from the training set to choose `<model>-best`; 0 = choose on test (legacy). */
  valFraction: z.number().min(0).max(0.5).default(0).meta({
    arg: "F",
    help: "hold out a class-balanced fraction F (≤ 0.5) of the training images; <model>-best " +
      "is chosen on it, never on test data (default {default}: off; " +
      `${FOLDER_VAL_FRACTION} for --dataset folder, whose split is then train / validation / test)`,
  }),
  evalLimit: z.number().int().min(0).default(2000).meta({
    arg: "N",
    help: "test images used for the per-epoch metrics (default {default}; 0 = all)",
  }),
  /** Epochs between the test / perturbed / rotated curve points; validation is every epoch. */
  curveEvery: z.number().int().min(1).default(1).meta({
    arg: "N",
    help: "measure the test, perturbed and rotated accuracy curves every N epochs and at the " +
      "last; validation accuracy, which chooses <model>-best, is measured every epoch (and so " +
      "is test accuracy when there is no validation split, since it then chooses) (default " +
      "{default})",
  }),
  /** Pure-wasm data-parallel worker threads (data_parallel.ts); 0 = one process. */
  workers: z.number().int().min(0).max(256).default(0).meta({
    arg: "N",
    help: "split each batch across N pure-wasm worker threads (data-parallel, batch norm per " +
      "worker slice; for machines without the native oneDNN path, which is faster and already " +
      "uses every core; default {default}: off)",
  }),
  /** Images per gradient chunk, accumulated to the batch (step.ts MicroBatches); 0 = off. */
  microBatch: z.number().int().min(0).max(4096).default(0).meta({
    arg: "N",
    help: "compute each batch's gradients N images at a time and accumulate them (one " +
      "optimizer step per batch at an N-image peak memory, for models whose step does not " +
      "fit at --batch-size; batch norm then normalises each chunk on its own; default {default}: " +
      "off)",
  }),
  quick: z.boolean().default(false).meta({
    help: `a one-minute demonstration: ${QUICK.dataset} data, ` +
      `${QUICK.limit.toLocaleString("en-US")} images, ${QUICK.epochs} epochs`,
  }),
}).superRefine((o, ctx) => {
  const issue = (key: string, message: string) =>
    ctx.addIssue({ code: "custom", path: [key], message });
  if (o.dataset !== "folder") {
    const given = FOLDER_KEYS.find((k) => o[k] !== undefined);
    if (given) issue(given, "applies to `dataset` folder only");
  }
  if (o.workers > 0 && o.microBatch > 0) {
    issue(
      "microBatch",
      "the workers already split each batch; use one of `workers` and `microBatch`",
    );
  }
  if (o.workers > 0 && !["auto", "wasm"].includes(o.backend)) {
    issue(
      "workers",
      `the workers run pure wasm; it cannot be combined with \`backend\` ${o.backend}`,
    );
  }
});

/** A training run's validated options (see {@linkcode TrainTaskSchema}). */
export type TrainTask = z.output<typeof TrainTaskSchema>;

/**
 * The defaults that depend on other options, added to what was given: `quick`'s
 * ({@linkcode QUICK}), and {@linkcode FOLDER_VAL_FRACTION} for a folder dataset.
 */
export function withContextDefaults(given: Record<string, unknown>): Record<string, unknown> {
  return {
    ...(given.quick === true ? QUICK : {}),
    ...(given.dataset === "folder" ? { valFraction: FOLDER_VAL_FRACTION } : {}),
    ...given,
  };
}

/**
 * Reads a training run's options (an options file's contents), with the context defaults;
 * names `what` and the field when they do not fit.
 *
 * @example
 * ```ts
 * parseTrainTask({ model: "baseline", preset: "tiny", out: "runs/x/ckpt" }).epochs; // 8
 * ```
 */
export function parseTrainTask(raw: unknown, what = "train options"): TrainTask {
  const isRecord = typeof raw === "object" && raw !== null && !Array.isArray(raw);
  return parseWith(
    TrainTaskSchema,
    isRecord ? withContextDefaults(raw as Record<string, unknown>) : raw,
    what,
  );
}

const T = TrainTaskSchema.shape;

/**
 * The options a checkpoint records (`meta.training.options`) and trainModel takes: the recipe,
 * without where the data and the backend came from (meta.json records those on its own).
 */
export const TrainOptionsSchema = z.object({
  model: T.model,
  preset: T.preset,
  epochs: T.epochs,
  batchSize: T.batchSize,
  optimizer: T.optimizer,
  lr: T.lr,
  momentum: T.momentum,
  schedule: T.schedule,
  weightDecay: T.weightDecay,
  augment: T.augment,
  seed: T.seed,
  out: T.out,
  resume: T.resume,
  limit: T.limit,
  // Defaults also let checkpoints written before an option existed resume.
  trainSize: T.trainSize,
  valFraction: T.valFraction,
  evalLimit: T.evalLimit,
  curveEvery: T.curveEvery,
  workers: T.workers,
  microBatch: T.microBatch,
});
export type TrainOptions = z.infer<typeof TrainOptionsSchema>;

/** Every recorded training option's default (from {@linkcode TrainTaskSchema}). */
export const TRAIN_DEFAULTS: TrainOptions = TrainOptionsSchema.parse({});

/** Where a run stopped: epochs completed, batches of the next epoch done, and their sums. */
export const ResumeStateSchema = z.object({
  epoch: z.number().int().min(0),
  batch: z.number().int().min(0),
  partial: z.object({
    loss: z.number(),
    correct: z.number(),
    seen: z.number(),
    seconds: z.number(),
  }),
});
export type ResumeState = z.infer<typeof ResumeStateSchema>;

/** `meta.training` of a checkpoint written by the trainer. */
export const TrainingMetaSchema = z.object({
  options: TrainOptionsSchema,
  /** The [H, W] the model was trained at: what uploads are resized to when serving. */
  inputSize: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  state: ResumeStateSchema,
  /** Best test accuracy so far (null before the first epoch ends: JSON has no -Infinity). */
  best: z.number().nullable(),
});
export type TrainingMeta = z.infer<typeof TrainingMetaSchema>;

/** Reads `meta.training`, naming the file when it does not fit. */
export function parseTrainingMeta(raw: unknown, file: string): TrainingMeta {
  return parseWith(TrainingMetaSchema, raw, `${file}: training`);
}

/** The models a `--model` value names. */
export function modelsToTrain(model: string): ModelName[] {
  const names = model.split(",").map((n) => n.trim()).flatMap((n): ModelName[] =>
    n === "all" ? [...MODEL_NAMES] : n === "both" ? ["baseline", "symmetric"] : [n as ModelName]
  );
  return [...new Set(names)];
}
