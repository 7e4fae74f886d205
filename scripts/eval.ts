/**
 * `deno task eval`: loads both checkpoints, measures them on the same test images, and writes
 * a report (JSON + Markdown + SVG figures). Run with --help for flags.
 *
 * @module
 */
import { BACKEND_NAMES, setBackend } from "../lib/kernels/backend.ts";
import { assertSameSplit, DATASET_NAMES, type DatasetName, loadDataset } from "../lib/data/mod.ts";
import { provenance } from "../lib/provenance.ts";
import { parseTrainingMeta } from "../lib/train/options.ts";
import { choiceFlag, numberFlag, parseFlags, runMain } from "./cli.ts";
import { evaluate } from "../lib/eval/evaluate.ts";
import { measureExamples } from "../lib/eval/examples.ts";
import { type SweepName, SWEEPS } from "../lib/eval/measures.ts";
import { formatDuration } from "../lib/progress.ts";
import { exampleGrid, writeReport } from "../lib/eval/report.ts";
import { loadModels, servedInputSize } from "../lib/model/checkpoint.ts";

const HELP = `Usage: deno task eval [flags]

Measures the baseline and symmetric checkpoints on the same test images: clean, perturbed,
rotation (every 15°, random angles), zoom, resolution, shift, noise, blur, contrast, JPEG,
FGSM / PGD (white-box) and PGD transfer; writes report.json, report.md and SVG figures.

  --checkpoints DIR   holding baseline/ and symmetric/ (default checkpoints)
  --dataset NAME      ${DATASET_NAMES.join(" | ")}: override the dataset recorded in the
                      checkpoints
  --data-dir DIR      an extracted copy of that dataset; for a folder dataset the folder
                      recorded in meta.json unless given (its split, size and channels are
                      the recorded ones, and a folder whose split changed is refused)
  --limit N           test images (default 2000; 0 = all)
  --adv-limit N       test images attacked (default 500)
  --sweep NAME        ${Object.keys(SWEEPS).join(" | ")} (default full)
  --seed N            seed of the sampled transforms (default 1)
  --backend NAME      ${BACKEND_NAMES.join(" | ")} (default auto)
  --out DIR           report directory (default reports/<dataset>)
  --help`;

async function main(): Promise<number> {
  const values = parseFlags(Deno.args, {
    checkpoints: { type: "string", default: "checkpoints" },
    dataset: { type: "string" },
    "data-dir": { type: "string" },
    limit: { type: "string" },
    "adv-limit": { type: "string" },
    sweep: { type: "string" },
    seed: { type: "string" },
    backend: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean" },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const int = { integer: true, min: 0 };
  const limit = numberFlag("limit", values.limit, 2000, int);
  const advLimit = numberFlag("adv-limit", values["adv-limit"], 500, int);
  const seed = numberFlag("seed", values.seed, 1, int);
  const sweep = choiceFlag("sweep", values.sweep, Object.keys(SWEEPS) as SweepName[], "full");
  const datasetName = values.dataset === undefined
    ? undefined
    : choiceFlag("dataset", values.dataset, DATASET_NAMES, "synthetic");
  const backendName = choiceFlag("backend", values.backend, BACKEND_NAMES, "auto");
  const backend = await setBackend(backendName);
  console.log(`backend: ${backend.name} (${backend.reason})`);
  const models = await loadModels(values.checkpoints, (l) => console.log(l));
  const meta = models[0].meta;
  // The synthetic test split depends on the training seed.
  const trainedSeed = meta.training
    ? parseTrainingMeta(meta.training, `${models[0].dir}/meta.json`).options.seed
    : 1;
  const name = datasetName ?? meta.dataset.name as DatasetName;
  // A folder dataset is re-read with the split, size and channels its checkpoint records.
  const split = name === "folder" ? meta.dataset.split : undefined;
  const { dataset, reason } = await loadDataset({
    name,
    dataDir: values["data-dir"] ?? split?.dir,
    seed: trainedSeed,
    log: (line) => console.log(line),
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
  if (split && dataset.split) assertSameSplit(split, dataset.split, `${models[0].dir}/meta.json`);
  console.log(`dataset: ${dataset.name} (${reason})`);
  for (const m of models) {
    if (m.meta.dataset.classNames.length !== dataset.classNames.length) {
      console.error(
        `error: ${m.dir} has ${m.meta.dataset.classNames.length} classes, ${dataset.name} has ${dataset.classNames.length}`,
      );
      return 1;
    }
  }
  const n = limit ? Math.min(limit, dataset.test.count) : dataset.test.count;
  console.log(
    `evaluating ${models.map((m) => m.name).join(" and ")} on ${n} test images (${
      Math.min(advLimit, n)
    } attacked), sweep ${sweep}`,
  );
  const started = performance.now();
  const results = await evaluate(models, dataset.test, {
    sweep,
    seed,
    limit: n,
    advLimit,
  });
  const out = values.out ?? `reports/${dataset.name}`;
  const files = await writeReport(
    out,
    results,
    {
      dataset: {
        name: dataset.name,
        source: dataset.source,
        testImages: n,
        advImages: Math.min(advLimit, n),
      },
      backend: `${backend.name}: ${backend.reason}`,
      seed,
      sweep,
      checkpoints: Object.fromEntries(models.map((m) => [m.name, {
        dir: m.dir,
        weightsSha256: m.meta.weightsSha256,
        epoch: m.meta.epoch,
        preset: m.meta.config.preset,
        params: m.params,
      }])),
      provenance: provenance(backend.name),
      date: new Date().toISOString().slice(0, 10),
    },
    Object.fromEntries(models.map((m) => [m.name, m.meta.history])),
    exampleGrid(await measureExamples(models, dataset.test)),
  );
  console.log(
    `wrote ${files.length} files to ${out}/ in ${
      formatDuration((performance.now() - started) / 1000)
    }: ${files.join(", ")}`,
  );
  return 0;
}

if (import.meta.main) runMain(main);
