/**
 * Training options: every default in one place, the zod schema that validates them, and the
 * schema of the training record a checkpoint keeps (`meta.training`), so that resuming,
 * serving and evaluation read it through one parser instead of casts.
 *
 * @module
 */
import { z } from "zod";
import { MODEL_NAMES, type ModelName, presets } from "../model/models.ts";
import { expectedOneOf, isKey, parseWith } from "../validate.ts";

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
 * `--model` takes a model name, a comma-separated list of them, `both` (baseline and
 * symmetric, the paper's pair) or `all`.
 */
export const MODEL_CHOICES = [...MODEL_NAMES, "both", "all"] as const;

/** Every training option with its default: the one place defaults live. */
export const TRAIN_DEFAULTS = {
  model: "both" as string,
  preset: "small",
  epochs: 8,
  batchSize: 64,
  // Adam: the P4 filter bank reuses each kernel entry four times, so its gradients are ~4×
  // larger than an ordinary conv's; SGD at lr 0.05 diverged on the symmetric model while Adam
  // (scale-invariant) trained both (measured 2026-11 on the synthetic set).
  optimizer: "adam" as typeof OPTIMIZER_NAMES[number],
  lr: 0.002,
  momentum: 0.9,
  schedule: "onecycle" as typeof SCHEDULE_NAMES[number],
  weightDecay: 5e-4,
  augment: "shift" as AugmentName,
  seed: 1,
  out: "checkpoints",
  resume: false,
  limit: 0,
  /** Training images after the validation split: a count > 1 or a fraction ≤ 1; 0 = all. */
  trainSize: 0,
  /** Held out from the training set to choose `<model>-best`; 0 = choose on test (legacy). */
  valFraction: 0,
  evalLimit: 2000,
  /** Pure-wasm data-parallel worker threads (data_parallel.ts); 0 = one process. */
  workers: 0,
  /** Images per gradient chunk, accumulated to the batch (step.ts MicroBatches); 0 = off. */
  microBatch: 0,
};

/** A name that must be an own key of `table` (never an inherited one such as "toString"). */
const ownName = (table: object) =>
  z.string().refine((v) => isKey(table, v), { error: () => expectedOneOf(Object.keys(table)) });

/** Validated training options (see {@linkcode TRAIN_DEFAULTS}). */
export const TrainOptionsSchema = z.object({
  model: z.string().refine(
    (m) => m.split(",").every((n) => (MODEL_CHOICES as readonly string[]).includes(n.trim())),
    { error: () => `${expectedOneOf(MODEL_CHOICES)}, or a comma-separated list of models` },
  ),
  preset: ownName(presets),
  epochs: z.number().int().min(1).max(10_000),
  batchSize: z.number().int().min(1).max(4096),
  optimizer: z.enum(OPTIMIZER_NAMES, { error: () => expectedOneOf(OPTIMIZER_NAMES) }),
  lr: z.number().positive().max(10),
  momentum: z.number().min(0).max(0.999),
  schedule: z.enum(SCHEDULE_NAMES, { error: () => expectedOneOf(SCHEDULE_NAMES) }),
  weightDecay: z.number().min(0).max(1),
  augment: ownName(AUGMENTATIONS).transform((a) => a as AugmentName),
  seed: z.number().int().min(0),
  out: z.string().min(1),
  resume: z.boolean(),
  limit: z.number().int().min(0),
  // Defaults so that checkpoints written before these options existed still resume.
  trainSize: z.number().min(0).refine((n) => n <= 1 || Number.isInteger(n), {
    error: "expected an integer count above 1 or a fraction in (0, 1]",
  }).default(0),
  valFraction: z.number().min(0).max(0.5).default(0),
  evalLimit: z.number().int().min(0),
  workers: z.number().int().min(0).max(256),
  microBatch: z.number().int().min(0).max(4096).default(0),
});
export type TrainOptions = z.infer<typeof TrainOptionsSchema>;

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
