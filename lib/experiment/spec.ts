/**
 * Experiment files: a grid of training runs (model × seed × training-set size × augmentation)
 * with one recipe and one evaluation sweep, read from YAML or JSON and validated with zod.
 * {@linkcode expandCells} turns a spec into its cells; each cell's directory name is its id.
 *
 * @module
 */
import { z } from "zod";
import { parse as parseYaml } from "yaml";

/** A file that is not a valid experiment; the one-line message names the field. */
export class SpecError extends Error {
  override name = "SpecError";
}

const AUGMENTS = ["none", "shift", "shift+rot90", "shift+rotate"] as const;

/** The schema of an experiment file (defaults are the training CLI's where it has one). */
export const ExperimentSpecSchema = z.object({
  /** A name for the grid, used in the summary's title. */
  name: z.string().min(1).regex(/^[A-Za-z0-9._-]+$/, "expected letters, digits, . _ -"),
  dataset: z.enum(["cifar100", "cifar10", "fashion-mnist", "synthetic", "folder"]),
  /** An already extracted copy of the dataset (passed as --data-dir); a folder dataset's folder. */
  dataDir: z.string().min(1).optional(),
  /**
   * `dataset: folder` only: train's --size, --channels, --test-fraction and --split-seed
   * (lib/data/folder.ts). One split seed for the whole grid, so every cell tests on the same
   * images.
   */
  folder: z.object({
    size: z.number().int().min(4).max(1024).optional(),
    channels: z.union([z.literal("auto"), z.literal(1), z.literal(3)]).optional(),
    testFraction: z.number().gt(0).max(0.9).optional(),
    splitSeed: z.number().int().min(0).optional(),
  }).strict().optional(),
  models: z.array(z.enum(["baseline", "symmetric"])).min(1),
  seeds: z.array(z.number().int().min(0)).min(1),
  /**
   * Training-set sizes after the validation split: counts (integers > 1) or fractions in
   * (0, 1]; drawn class-balanced and nested per seed (lib/data/subset.ts). Default: all.
   */
  sizes: z.array(z.number().positive()).min(1).default([1]),
  augmentations: z.array(z.enum(AUGMENTS)).min(1).default(["shift"]),
  preset: z.enum(["tiny", "small", "paper", "reference"]).default("small"),
  epochs: z.number().int().min(1).max(10_000),
  batchSize: z.number().int().min(1).max(4096).default(64),
  optimizer: z.enum(["sgd", "adam"]).default("adam"),
  lr: z.number().positive().max(10).default(0.002),
  momentum: z.number().min(0).max(0.999).default(0.9),
  schedule: z.enum(["onecycle", "cosine", "constant"]).default("onecycle"),
  weightDecay: z.number().min(0).max(1).default(5e-4),
  /** Held out from the training set; the reported checkpoint is the best on it. */
  valFraction: z.number().min(0).max(0.5).default(0.1),
  /** Images of the per-epoch metrics (train's --eval-limit). */
  epochEvalLimit: z.number().int().min(0).default(2000),
  backend: z.enum(["auto", "wasm", "webgpu", "cpu"]).default("auto"),
  eval: z.object({
    sweep: z.enum(["full", "quick"]).default("quick"),
    limit: z.number().int().min(0).default(2000),
    advLimit: z.number().int().min(0).default(500),
    seed: z.number().int().min(0).default(1),
  }).strict().default({ sweep: "quick", limit: 2000, advLimit: 500, seed: 1 }),
}).strict();

/** A validated experiment. */
export type ExperimentSpec = z.infer<typeof ExperimentSpecSchema>;

/** One cell of the grid: one training run and its evaluation. */
export interface Cell {
  /** Directory name under the experiment's output directory. */
  id: string;
  /** Position in the grid (the Slurm array index). */
  index: number;
  model: "baseline" | "symmetric";
  seed: number;
  size: number;
  augment: (typeof AUGMENTS)[number];
}

/**
 * Validates a parsed experiment object; throws {@linkcode SpecError} naming the first bad
 * field (`sizes[1]: expected a number …`).
 *
 * @example
 * ```ts
 * const spec = validateSpec({ name: "t", dataset: "synthetic", models: ["baseline"], seeds: [1], epochs: 1 });
 * ```
 */
export function validateSpec(raw: unknown, source = "experiment"): ExperimentSpec {
  const parsed = ExperimentSpecSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.reduce<string>(
      (s, p) => typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p),
      "",
    );
    const keys = issue.code === "unrecognized_keys" ? ` (${issue.keys.join(", ")})` : "";
    throw new SpecError(`${source}: ${field || "(top level)"}: ${issue.message}${keys}`);
  }
  const spec = parsed.data;
  if (spec.dataset === "folder" && !spec.dataDir) {
    throw new SpecError(`${source}: dataDir: dataset folder needs the folder of images`);
  }
  if (spec.folder && spec.dataset !== "folder") {
    throw new SpecError(`${source}: folder: applies to dataset folder only`);
  }
  for (const key of ["models", "seeds", "sizes", "augmentations"] as const) {
    const list = spec[key] as unknown[];
    const dup = list.find((v, i) => list.indexOf(v) !== i);
    if (dup !== undefined) {
      throw new SpecError(`${source}: ${key}: ${JSON.stringify(dup)} is listed twice`);
    }
  }
  spec.sizes.forEach((s, i) => {
    if (s > 1 && !Number.isInteger(s)) {
      throw new SpecError(
        `${source}: sizes[${i}]: expected an integer count above 1 or a fraction in (0, 1], got ${s}`,
      );
    }
  });
  if (spec.sizes.some((s) => s <= 1) && spec.sizes.some((s) => s > 1)) {
    throw new SpecError(
      `${source}: sizes: expected all counts (> 1) or all fractions (≤ 1), got ${
        JSON.stringify(spec.sizes)
      }`,
    );
  }
  return spec;
}

/**
 * Reads and validates an experiment file (`.yaml`/`.yml` or `.json`).
 *
 * @example
 * ```ts
 * const spec = await readSpec("experiments/smoke.yaml");
 * ```
 */
export async function readSpec(path: string): Promise<ExperimentSpec> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new SpecError(`${path}: cannot read (${(e as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new SpecError(
      `${path}: not valid ${/\.json$/i.test(path) ? "JSON" : "YAML"} (${
        (e as Error).message.split("\n")[0]
      })`,
    );
  }
  return validateSpec(raw, path);
}

/** The id part of a size: `n4000` for a count, `f0.25` for a fraction, `all` for 1. */
export function sizeLabel(size: number): string {
  if (size === 1) return "all";
  return size < 1 ? `f${size}` : `n${size}`;
}

/**
 * The cells of a spec in a fixed order (augmentation, size, seed, model: the two models of one
 * seed are neighbours, so a partial grid still has complete pairs).
 *
 * @example
 * ```ts
 * expandCells(spec).map((c) => c.id); // ["baseline-s1-n64-shift", "symmetric-s1-n64-shift", …]
 * ```
 */
export function expandCells(spec: ExperimentSpec): Cell[] {
  const cells: Cell[] = [];
  for (const augment of spec.augmentations) {
    for (const size of spec.sizes) {
      for (const seed of spec.seeds) {
        for (const model of spec.models) {
          const id = `${model}-s${seed}-${sizeLabel(size)}-${augment.replace("+", "_")}`;
          cells.push({ id, index: cells.length, model, seed, size, augment });
        }
      }
    }
  }
  return cells;
}
