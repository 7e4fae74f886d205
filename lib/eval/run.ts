/**
 * One evaluation run, as `deno task eval` and an experiment cell run it: load the checkpoints
 * (and their `+tta` variants), rebuild the test set they were trained against, then either
 * measure the sweep (report.json, report.md, figures, outcomes.json) or run the protocol audit
 * (lib/eval/protocol.ts). Options: lib/eval/options.ts.
 *
 * @module
 */
import { setBackend } from "../kernels/backend.ts";
import { assertSameSplit, type Dataset, type DatasetName, loadDataset } from "../data/mod.ts";
import { provenance } from "../provenance.ts";
import { parseTrainingMeta } from "../train/options.ts";
import { type LoadedModel, loadModels, servedInputSize } from "../model/checkpoint.ts";
import { averageOverQuarterTurns, ttaName } from "../model/tta.ts";
import { OptionsError } from "../validate.ts";
import { evaluate } from "./evaluate.ts";
import { measureExamples } from "./examples.ts";
import { type SweepName, SWEEPS } from "./measures.ts";
import { writeOutcomes } from "./outcomes.ts";
import { exampleGrid, type ReportContext, writeReport } from "./report.ts";
import { AUDIT_EPS, roleOf, runAudit } from "./protocol.ts";
import { writeProtocolReport } from "./protocol_report.ts";
import type { EvalOptions } from "./options.ts";

/** A model as evaluated: a loaded checkpoint, or its `<model>+tta` average (same record). */
export type EvaluatedModel = Omit<LoadedModel, "name"> & { name: string };

/** What an evaluation run wrote. */
export interface EvalRun {
  /** The report directory. */
  out: string;
  /** The files written, relative to `out`. */
  files: string[];
  seconds: number;
}

/** A dataset's classes that differ from a checkpoint's: refused before anything is measured. */
export class ClassCountError extends Error {
  override name = "ClassCountError";
}

/**
 * The loaded models and, after them, `<model>+tta` for each model `tta` names: it shares its
 * base's weights and checkpoint record; an unknown name is an {@linkcode OptionsError}.
 */
export function withTta(loaded: LoadedModel[], tta: string[] = []): EvaluatedModel[] {
  for (const t of tta) {
    if (!loaded.some((m) => m.name === t)) {
      throw new OptionsError(
        "tta",
        `expected loaded models (${loaded.map((m) => m.name).join(", ")}), got "${t}"`,
      );
    }
  }
  return [
    ...loaded,
    ...loaded.filter((m) => tta.includes(m.name)).map((m) => ({
      ...m,
      name: ttaName(m.name),
      model: averageOverQuarterTurns(m.model),
    })),
  ];
}

/**
 * The dataset the models were trained against, re-read: the synthetic test split from the
 * training seed, a folder with the split, size and channels its checkpoint records (a folder
 * whose split changed is refused); then every model's class count checked against it.
 */
export async function trainedDataset(
  models: EvaluatedModel[],
  options: Pick<EvalOptions, "dataset" | "dataDir">,
  log: (line: string) => void,
): Promise<{ dataset: Dataset; reason: string }> {
  const meta = models[0].meta;
  const file = `${models[0].dir}/meta.json`;
  // The synthetic test split depends on the training seed.
  const trainedSeed = meta.training ? parseTrainingMeta(meta.training, file).options.seed : 1;
  const name = options.dataset ?? meta.dataset.name as DatasetName;
  const split = name === "folder" ? meta.dataset.split : undefined;
  const { dataset, reason } = await loadDataset({
    name,
    dataDir: options.dataDir ?? split?.dir,
    seed: trainedSeed,
    log,
    ...(name === "folder" && {
      folder: split
        ? {
          size: split.size,
          channels: split.channelsOption,
          testFraction: split.testFraction,
          splitSeed: split.seed,
        }
        : { size: servedInputSize(meta).size[0], channels: models[0].channels },
    }),
  });
  if (split && dataset.split) assertSameSplit(split, dataset.split, file);
  for (const m of models) {
    const classes = m.meta.dataset.classNames.length;
    if (classes !== dataset.classNames.length) {
      throw new ClassCountError(
        `${m.dir} has ${classes} classes, ${dataset.name} has ${dataset.classNames.length}`,
      );
    }
  }
  return { dataset, reason };
}

/** Each model's checkpoint as a report records it. */
function checkpointRecords(models: EvaluatedModel[]) {
  return Object.fromEntries(models.map((m) => [m.name, {
    dir: m.dir,
    weightsSha256: m.meta.weightsSha256,
    epoch: m.meta.epoch,
    preset: m.meta.config.preset,
    params: m.params,
  }]));
}

/**
 * Runs one evaluation: chooses the backend, loads `options.checkpoints`, re-reads the test set
 * and writes the sweep's report, or the protocol audit's with `protocol` other than `ours`.
 * Throws an {@linkcode OptionsError} for a `tta` model that is not loaded, a
 * {@linkcode ClassCountError} for checkpoints of another dataset.
 *
 * @example
 * ```ts ignore
 * // not run: needs checkpoints written by `deno task train`
 * const { out, files } = await runEvaluation(parseEvalOptions({ checkpoints: "checkpoints" }));
 * ```
 */
export async function runEvaluation(
  options: EvalOptions,
  log: (line: string) => void = console.log,
): Promise<EvalRun> {
  const backend = await setBackend(options.backend);
  log(`backend: ${backend.name} (${backend.reason})`);
  const models = withTta(await loadModels(options.checkpoints, log), options.tta);
  const { dataset, reason } = await trainedDataset(models, options, log);
  log(`dataset: ${dataset.name} (${reason})`);
  // In report.json's key order: dataset, backend, seed, (sweep,) checkpoints, provenance, date.
  const context = (dataset: ReportContext["dataset"], sweep?: SweepName) => ({
    dataset,
    backend: `${backend.name}: ${backend.reason}`,
    seed: options.seed,
    ...(sweep && { sweep }),
    checkpoints: checkpointRecords(models),
    provenance: provenance(backend.name),
    date: new Date().toISOString().slice(0, 10),
  });
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const count = dataset.test.count;
  if (options.protocol !== "ours") {
    const nAdv = Math.min(options.advLimit || count, count);
    log(
      `protocol audit (--protocol ${options.protocol}): ours, published and published-symmetric-fair on ${nAdv} test images, ${AUDIT_EPS.length} ε each; roles: ${
        models.map((m) => `${m.name} ${roleOf(m.name)}`).join(", ")
      }`,
    );
    const audit = await runAudit(
      models.map((m) => ({ name: m.name, role: roleOf(m.name), model: m.model })),
      dataset.test,
      { limit: nAdv, seed: options.seed },
    );
    const out = options.out ?? `reports/${dataset.name}/protocol`;
    const files = await writeProtocolReport(out, audit, {
      ...context({ name: dataset.name, source: dataset.source, testImages: nAdv, advImages: nAdv }),
      requested: options.protocol,
    });
    return { out, files, seconds: seconds() };
  }
  const n = options.limit ? Math.min(options.limit, count) : count;
  const pgdSteps = options.pgdSteps ?? SWEEPS[options.sweep].pgdSteps;
  const { sweep, advLimit, pgdRestarts } = options;
  log(
    `evaluating ${models.map((m) => m.name).join(" and ")} on ${n} test images (${
      Math.min(advLimit, n)
    } attacked: PGD ${pgdSteps} steps × ${pgdRestarts} restarts), sweep ${sweep}`,
  );
  const { results, outcomes } = await evaluate(models, dataset.test, {
    sweep,
    seed: options.seed,
    limit: n,
    advLimit,
    pgdSteps,
    pgdRestarts,
  });
  const out = options.out ?? `reports/${dataset.name}`;
  const files = await writeReport(
    out,
    results,
    context({
      name: dataset.name,
      source: dataset.source,
      testImages: n,
      advImages: Math.min(advLimit, n),
    }, sweep) as ReportContext,
    Object.fromEntries(models.map((m) => [m.name, m.meta.history])),
    exampleGrid(await measureExamples(models, dataset.test)),
  );
  // Per-image outcomes for `experiment aggregate`'s bootstrap (lib/eval/outcomes.ts).
  files.push(await writeOutcomes(out, outcomes));
  return { out, files, seconds: seconds() };
}
