/**
 * Experiment files: a grid of training runs (model × seed × training-set size × augmentation)
 * with one recipe and one evaluation sweep, read from YAML or JSON and validated with zod.
 * {@linkcode expandCells} turns a spec into its cells; each cell's directory name is its id.
 *
 * A grid's `models` are registry models (lib/model/models.ts) and two variants, the
 * alternatives a practitioner would pick instead of a built-in symmetry
 * ({@linkcode variantOf}):
 *
 * - `baseline+rotaug`: trained like `baseline` but with `--augment shift+rotate`, whatever the
 *   grid's augmentation (the cell keeps the grid's augmentation for pairing);
 * - `<model>+tta` (`<model>` any other entry of the grid): no training of its own; `<model>`'s
 *   cell of the same seed, size and augmentation evaluates its checkpoint a second time
 *   averaged over the four quarter turns (`eval --tta`), in the same eval run, so there is no
 *   order between cells to keep (locally or in a Slurm array). The `+tta` cell is listed
 *   with `evaluatedIn` naming that cell; it has no directory and is never run itself.
 *
 * `sizesFor` gives a model its own training-set sizes instead of `sizes` (e.g. every model
 * at the smallest and the full size, baseline and symmetric along the whole curve).
 *
 * @module
 */
import { z } from "zod";
import { parse as parseYaml } from "yaml";
import { DATASET_NAMES, FolderSplitSchema } from "../data/mod.ts";
import { MODEL_NAMES, type ModelName } from "../model/models.ts";
import { EvalOptionsSchema } from "../eval/options.ts";
import { type AugmentName, TRAIN_DEFAULTS, TrainTaskSchema } from "../train/options.ts";

/** A file that is not a valid experiment; the one-line message names the field. */
export class SpecError extends Error {
  override name = "SpecError";
}

const T = TrainTaskSchema.shape;
const E = EvalOptionsSchema.shape;

/**
 * The schema of an experiment file. Its recipe fields are train's and eval's options (the same
 * validation and defaults: lib/train/options.ts, lib/eval/options.ts), but for the three an
 * experiment chooses otherwise: `valFraction` 0.1 (the reported checkpoint is chosen on
 * validation images), `epochs` required, and `eval.sweep` quick.
 */
export const ExperimentSpecSchema = z.object({
  /** A name for the grid, used in the summary's title. */
  name: z.string().min(1).regex(
    /^[A-Za-z0-9._-]+$/,
    "expected letters, digits, . _ -",
  ),
  dataset: z.enum(DATASET_NAMES),
  /** An already extracted copy of the dataset (train's and eval's dataDir); a folder dataset's folder. */
  dataDir: z.string().min(1).optional(),
  /**
   * `dataset: folder` only: train's size, channels, testFraction and splitSeed
   * (lib/data/folder.ts). One split seed for the whole grid, so every cell tests on the same
   * images.
   */
  folder: FolderSplitSchema.optional(),
  /** Registry models and variants (`baseline+rotaug`, `<model>+tta`; see the module doc). */
  models: z.array(z.string()).min(1),
  seeds: z.array(T.seed.removeDefault()).min(1),
  /**
   * Training-set sizes after the validation split: counts (integers > 1) or fractions in
   * (0, 1]; drawn class-balanced and nested per seed (lib/data/subset.ts). Default: all.
   */
  sizes: z.array(z.number().positive()).min(1).default([1]),
  /** Per-model sizes replacing `sizes` for that model (a `+tta` model defaults to its base's). */
  sizesFor: z.record(z.string(), z.array(z.number().positive()).min(1))
    .optional(),
  augmentations: z.array(T.augment.removeDefault()).min(1).default([
    TRAIN_DEFAULTS.augment,
  ]),
  preset: T.preset,
  epochs: T.epochs.removeDefault(),
  /**
   * Epochs at a given training-set size (keys: sizes as written in `sizes`/`sizesFor`),
   * replacing `epochs` there: a small subset needs more passes for a comparable number of
   * optimizer steps.
   */
  epochsFor: z.record(z.string(), T.epochs.removeDefault()).optional(),
  /**
   * Epochs between the test / perturbed / rotated curve points (train's curveEvery; validation,
   * which chooses the reported checkpoint, is measured every epoch), and per size (keys as in
   * `epochsFor`): where a cell's per-epoch measurements cost more than its training.
   */
  curveEvery: T.curveEvery,
  curveEveryFor: z.record(z.string(), T.curveEvery.removeDefault()).optional(),
  /**
   * Seeds at a given training-set size (keys as in `epochsFor`), replacing `seeds` there: small
   * subsets are cheap cells whose seed-to-seed spread is the widest, so they get more seeds.
   */
  seedsFor: z.record(z.string(), z.array(T.seed.removeDefault()).min(1))
    .optional(),
  batchSize: T.batchSize,
  /**
   * Per grid model: images per gradient chunk (train's microBatch), for a model whose step
   * does not fit in memory at `batchSize`; the optimizer still steps once per batch.
   */
  microBatchFor: z.record(z.string(), T.microBatch.removeDefault().min(1))
    .optional(),
  optimizer: T.optimizer,
  lr: T.lr,
  momentum: T.momentum,
  schedule: T.schedule,
  weightDecay: T.weightDecay,
  /** Held out from the training set; the reported checkpoint is the best on it. */
  valFraction: T.valFraction.removeDefault().default(0.1),
  /** Images of the per-epoch metrics (train's evalLimit). */
  epochEvalLimit: T.evalLimit,
  backend: T.backend,
  eval: z.strictObject({
    sweep: E.sweep.removeDefault().default("quick"),
    limit: E.limit,
    advLimit: E.advLimit,
    seed: E.seed,
    /** PGD steps (default: the sweep's, lib/eval/measures.ts). */
    pgdSteps: E.pgdSteps,
    /** PGD random starts per image, the worst case kept. */
    pgdRestarts: E.pgdRestarts,
  }).prefault({}),
}).strict();

/** A validated experiment. */
export type ExperimentSpec = z.infer<typeof ExperimentSpecSchema>;

/** An augmentation name of train's augment. */
export type Augment = AugmentName;

/** One cell of the grid: one training run and its evaluation. */
export interface Cell {
  /** Directory name under the experiment's output directory. */
  id: string;
  /** Position in the grid (the Slurm array index). */
  index: number;
  /** The grid's model name: a registry model or a variant ({@linkcode variantOf}). */
  model: string;
  seed: number;
  size: number;
  /** The grid's augmentation (what cells are paired on; `baseline+rotaug` trains differently). */
  augment: Augment;
  /** For a `<model>+tta` cell: the id of the `<model>` cell whose eval measures it. */
  evaluatedIn?: string;
}

/** What a grid model name means: the registry model trained, and the two variant marks. */
export interface Variant {
  /** The registry model that is trained (and loaded for evaluation). */
  arch: ModelName;
  /** Trained with `--augment shift+rotate` instead of the grid's augmentation. */
  rotaug: boolean;
  /** Evaluated averaged over the four quarter turns, from the checkpoint of `base`. */
  tta: boolean;
  /** For a `+tta` name: the grid model whose checkpoint it uses (the name without `+tta`). */
  base?: string;
}

const VARIANT_HELP = `${MODEL_NAMES.join(", ")}, baseline+rotaug, or one of them + "+tta"`;

/**
 * Parses a grid model name: `baseline`…`rotscale`, `baseline+rotaug`, and either of those with
 * `+tta`; undefined for anything else.
 *
 * @example
 * ```ts
 * variantOf("baseline+rotaug+tta"); // { arch: "baseline", rotaug: true, tta: true, base: "baseline+rotaug" }
 * ```
 */
export function variantOf(name: string): Variant | undefined {
  const tta = name.endsWith("+tta");
  const base = tta ? name.slice(0, -"+tta".length) : name;
  const rotaug = base === "baseline+rotaug";
  const arch = rotaug ? "baseline" : base;
  if (!(MODEL_NAMES as readonly string[]).includes(arch)) return undefined;
  return { arch: arch as ModelName, rotaug, tta, ...(tta ? { base } : {}) };
}

/** The augmentation a cell trains with: the grid's, or shift+rotate for `baseline+rotaug`. */
export function trainAugment(cell: Pick<Cell, "model" | "augment">): Augment {
  return variantOf(cell.model)?.rotaug ? "shift+rotate" : cell.augment;
}

/** The registry model a cell trains and loads (`baseline` for `baseline+rotaug`). */
export function cellArch(cell: Pick<Cell, "model">): ModelName {
  const v = variantOf(cell.model);
  if (!v) {
    throw new SpecError(`model "${cell.model}": expected ${VARIANT_HELP}`);
  }
  return v.arch;
}

/**
 * The key of a cell's entry in its eval report.json: the registry name eval loaded, with
 * `+tta` for a TTA cell (`baseline+rotaug+tta` is `baseline+tta` in its base cell's report).
 */
export function reportName(cell: Pick<Cell, "model">): string {
  return cellArch(cell) + (variantOf(cell.model)!.tta ? "+tta" : "");
}

/** The training-set sizes of one grid model: its `sizesFor` entry, else its base's, else `sizes`. */
export function modelSizes(spec: ExperimentSpec, model: string): number[] {
  const own = spec.sizesFor?.[model];
  if (own) return own;
  const base = variantOf(model)?.base;
  return base ? modelSizes(spec, base) : spec.sizes;
}

/** Every size of the grid, in first-listed order (`sizes`, then `sizesFor` in model order). */
export function gridSizes(spec: ExperimentSpec): number[] {
  const all = [
    ...spec.sizes,
    ...spec.models.flatMap((m) => modelSizes(spec, m)),
  ];
  return all.filter((s, i) => all.indexOf(s) === i);
}

/** A cell's gradient chunk (train's --micro-batch): its model's `microBatchFor`, else 0 (off). */
export function cellMicroBatch(
  spec: ExperimentSpec,
  cell: Pick<Cell, "model">,
): number {
  return spec.microBatchFor?.[cell.model] ?? 0;
}

/**
 * Settings a grid may change between runs of one experiment directory: they move only the
 * per-epoch curve points, never what a cell trains, the checkpoint it reports or eval's numbers.
 */
export const CURVE_KEYS: readonly string[] = ["curveEvery", "curveEveryFor"];

/** A per-size setting's value at `size` (keys are sizes as written), else `fallback`. */
function atSize<V>(bySize: Record<string, V> | undefined, size: number, fallback: V): V {
  const own = Object.entries(bySize ?? {}).find(([k]) => Number(k) === size);
  return own ? own[1] : fallback;
}

/** The epochs a cell trains: `epochsFor` at its size, else `epochs`. */
export function cellEpochs(
  spec: ExperimentSpec,
  cell: Pick<Cell, "size">,
): number {
  return atSize(spec.epochsFor, cell.size, spec.epochs);
}

/** Epochs between a cell's curve points: `curveEveryFor` at its size, else `curveEvery`. */
export function cellCurveEvery(
  spec: ExperimentSpec,
  cell: Pick<Cell, "size">,
): number {
  return atSize(spec.curveEveryFor, cell.size, spec.curveEvery);
}

/** The seeds of a grid size: `seedsFor` at that size, else `seeds`. */
export function sizeSeeds(spec: ExperimentSpec, size: number): number[] {
  return atSize(spec.seedsFor, size, spec.seeds);
}

/** Whether a grid model has a training run of its own (not a `+tta` evaluation). */
export function isTrained(cell: Pick<Cell, "evaluatedIn">): boolean {
  return cell.evaluatedIn === undefined;
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
export function validateSpec(
  raw: unknown,
  source = "experiment",
): ExperimentSpec {
  const parsed = ExperimentSpecSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.reduce<string>(
      (s, p) => typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p),
      "",
    );
    const keys = issue.code === "unrecognized_keys" ? ` (${issue.keys.join(", ")})` : "";
    throw new SpecError(
      `${source}: ${field || "(top level)"}: ${issue.message}${keys}`,
    );
  }
  const spec = parsed.data;
  if (spec.dataset === "folder" && !spec.dataDir) {
    throw new SpecError(
      `${source}: dataDir: dataset folder needs the folder of images`,
    );
  }
  if (spec.folder && spec.dataset !== "folder") {
    throw new SpecError(`${source}: folder: applies to dataset folder only`);
  }
  spec.models.forEach((m, i) => {
    const v = variantOf(m);
    if (!v) {
      throw new SpecError(
        `${source}: models[${i}]: expected ${VARIANT_HELP}, got "${m}"`,
      );
    }
    if (v.base && !spec.models.includes(v.base)) {
      throw new SpecError(
        `${source}: models[${i}]: ${m} is evaluated from ${v.base}'s checkpoints, so models must list ${v.base}`,
      );
    }
  });
  for (const model of Object.keys(spec.microBatchFor ?? {})) {
    if (!spec.models.includes(model)) {
      throw new SpecError(
        `${source}: microBatchFor.${model}: not one of models (${spec.models.join(", ")})`,
      );
    }
  }
  for (const [model, sizes] of Object.entries(spec.sizesFor ?? {})) {
    if (!spec.models.includes(model)) {
      throw new SpecError(
        `${source}: sizesFor.${model}: not one of models (${spec.models.join(", ")})`,
      );
    }
    const dup = sizes.find((v, i) => sizes.indexOf(v) !== i);
    if (dup !== undefined) {
      throw new SpecError(
        `${source}: sizesFor.${model}: ${dup} is listed twice`,
      );
    }
  }
  for (const m of spec.models) {
    const base = variantOf(m)!.base;
    if (!base) continue;
    const missing = modelSizes(spec, m).find((s) => !modelSizes(spec, base).includes(s));
    if (missing !== undefined) {
      throw new SpecError(
        `${source}: sizesFor.${m}: size ${missing} has no ${base} cell to evaluate (${base} has ${
          JSON.stringify(modelSizes(spec, base))
        })`,
      );
    }
  }
  for (const key of ["models", "seeds", "sizes", "augmentations"] as const) {
    const list = spec[key] as unknown[];
    const dup = list.find((v, i) => list.indexOf(v) !== i);
    if (dup !== undefined) {
      throw new SpecError(
        `${source}: ${key}: ${JSON.stringify(dup)} is listed twice`,
      );
    }
  }
  const lists: [string, number[]][] = [
    ["sizes", spec.sizes],
    ...Object.entries(spec.sizesFor ?? {}).map((
      [m, l],
    ): [string, number[]] => [`sizesFor.${m}`, l]),
  ];
  for (const [field, list] of lists) {
    list.forEach((s, i) => {
      if (s > 1 && !Number.isInteger(s)) {
        throw new SpecError(
          `${source}: ${field}[${i}]: expected an integer count above 1 or a fraction in (0, 1], got ${s}`,
        );
      }
    });
  }
  for (const [key, seeds] of Object.entries(spec.seedsFor ?? {})) {
    if (!gridSizes(spec).includes(Number(key))) {
      throw new SpecError(
        `${source}: seedsFor.${key}: not a size of the grid (${gridSizes(spec).join(", ")})`,
      );
    }
    const dup = seeds.find((v, i) => seeds.indexOf(v) !== i);
    if (dup !== undefined) {
      throw new SpecError(`${source}: seedsFor.${key}: ${dup} is listed twice`);
    }
  }
  for (const name of ["epochsFor", "curveEveryFor"] as const) {
    for (const key of Object.keys(spec[name] ?? {})) {
      if (!gridSizes(spec).includes(Number(key))) {
        throw new SpecError(
          `${source}: ${name}.${key}: not a size of the grid (${gridSizes(spec).join(", ")})`,
        );
      }
    }
  }
  // One kind across the grid, so that sizes sort and pair as numbers.
  const all = lists.flatMap(([, l]) => l);
  if (all.some((s) => s <= 1) && all.some((s) => s > 1)) {
    throw new SpecError(
      `${source}: sizes: expected all counts (> 1) or all fractions (≤ 1) in sizes and sizesFor, got ${
        JSON.stringify(all)
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
 * const spec = await readSpec("experiments/quick.yaml");
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

/** A cell's id: `<model>-s<seed>-<size>-<augment>`, every `+` as `_` (shell- and path-safe). */
export function cellId(
  model: string,
  seed: number,
  size: number,
  augment: string,
): string {
  return `${model}-s${seed}-${sizeLabel(size)}-${augment}`.replaceAll("+", "_");
}

/**
 * The cells of a spec in a fixed order (augmentation, size, seed, model: the models of one
 * seed are neighbours, so a partial grid still has complete pairs); a model appears only at
 * its own sizes ({@linkcode modelSizes}). A `+tta` cell names its base cell in `evaluatedIn`.
 *
 * @example
 * ```ts
 * const spec = await readSpec("experiments/quick.yaml");
 * expandCells(spec).map((c) => c.id); // ["baseline-s1-n64-shift", "symmetric-s1-n64-shift", …]
 * ```
 */
export function expandCells(spec: ExperimentSpec): Cell[] {
  const cells: Cell[] = [];
  const sizesOf = new Map(spec.models.map((m) => [m, modelSizes(spec, m)]));
  for (const augment of spec.augmentations) {
    for (const size of gridSizes(spec)) {
      for (const seed of sizeSeeds(spec, size)) {
        for (const model of spec.models) {
          if (!sizesOf.get(model)!.includes(size)) continue;
          const id = cellId(model, seed, size, augment);
          const base = variantOf(model)?.base;
          cells.push({
            id,
            index: cells.length,
            model,
            seed,
            size,
            augment,
            ...(base ? { evaluatedIn: cellId(base, seed, size, augment) } : {}),
          });
        }
      }
    }
  }
  return cells;
}

/**
 * The `+tta` report names a trained cell's eval adds (`--tta`): `[arch]` when the grid lists
 * `<cell.model>+tta` at this cell's size, else none.
 */
export function ttaOf(spec: ExperimentSpec, cell: Cell): string[] {
  const tta = `${cell.model}+tta`;
  return spec.models.includes(tta) && modelSizes(spec, tta).includes(cell.size)
    ? [cellArch(cell)]
    : [];
}

/**
 * The cells of `models` (a `+tta` model's are its base's: its base cell measures it); every
 * cell when `models` is undefined. A name the experiment does not list is a one-line error.
 *
 * @example
 * ```ts
 * const spec = await readSpec("experiments/quick.yaml");
 * cellsOfModels(spec, expandCells(spec), ["symmetric"]).map((c) => c.id); // the symmetric cells
 * ```
 */
export function cellsOfModels(spec: ExperimentSpec, cells: Cell[], models?: string[]): Cell[] {
  if (!models) return cells;
  const unknown = models.find((m) => !spec.models.includes(m));
  if (unknown !== undefined) {
    throw new SpecError(`"${unknown}" is not a model of ${spec.name} (${spec.models.join(", ")})`);
  }
  const ids = new Set(
    cells.filter((c) => models.includes(c.model)).map((c) => c.evaluatedIn ?? c.id),
  );
  return cells.filter((c) => ids.has(c.id));
}
