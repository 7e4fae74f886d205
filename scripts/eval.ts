/**
 * `deno task eval`: loads both checkpoints, measures them on the same test images, and writes
 * a report (JSON + Markdown + SVG figures). Run with --help for flags.
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { type BackendName, setBackend } from "../lib/kernels/backend.ts";
import { loadDataset } from "../lib/data/mod.ts";
import { evaluate, type SweepName, SWEEPS } from "../lib/eval/evaluate.ts";
import { formatDuration } from "../lib/progress.ts";
import { exampleGrid, writeReport } from "../lib/eval/report.ts";
import { loadModels } from "../lib/model/checkpoint.ts";

const HELP = `Usage: deno task eval [flags]

Measures the baseline and symmetric checkpoints on the same test images: clean, perturbed,
rotation (every 15°, random angles), zoom, resolution, shift, noise, blur, contrast, JPEG,
FGSM / PGD (white-box) and PGD transfer; writes report.json, report.md and SVG figures.

  --checkpoints DIR   holding baseline/ and symmetric/ (default checkpoints)
  --dataset NAME      override the dataset recorded in the checkpoints
  --data-dir DIR      an extracted copy of that dataset
  --limit N           test images (default 2000; 0 = all)
  --adv-limit N       test images attacked (default 500)
  --sweep NAME        full | quick (default full)
  --seed N            seed of the sampled transforms (default 1)
  --backend NAME      auto | wasm | webgpu | cpu (default auto)
  --out DIR           report directory (default reports/<dataset>)
  --help`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        checkpoints: { type: "string", default: "checkpoints" },
        dataset: { type: "string" },
        "data-dir": { type: "string" },
        limit: { type: "string", default: "2000" },
        "adv-limit": { type: "string", default: "500" },
        sweep: { type: "string", default: "full" },
        seed: { type: "string", default: "1" },
        backend: { type: "string", default: "auto" },
        out: { type: "string" },
        help: { type: "boolean" },
      },
    }));
  } catch (e) {
    console.error(`error: ${(e as Error).message}\nRun with --help for the flags.`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const int = (flag: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      throw new Error(`--${flag}: expected an integer ≥ 0, got "${v}"`);
    }
    return n;
  };
  if (!(values.sweep in SWEEPS)) {
    console.error(`error: --sweep: expected full or quick, got "${values.sweep}"`);
    return 2;
  }
  let limit, advLimit, seed;
  try {
    [limit, advLimit, seed] = [
      int("limit", values.limit),
      int("adv-limit", values["adv-limit"]),
      int("seed", values.seed),
    ];
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  const backend = await setBackend(values.backend as BackendName);
  console.log(`backend: ${backend.name} (${backend.reason})`);
  const models = await loadModels(values.checkpoints, (l) => console.log(l));
  const meta = models[0].meta;
  const trainedSeed =
    (meta.training as { options?: { seed?: number } } | undefined)?.options?.seed ?? 1;
  const name = (values.dataset ?? meta.dataset.name) as "synthetic";
  const { dataset, reason } = await loadDataset({
    name,
    dataDir: values["data-dir"],
    seed: trainedSeed, // the synthetic test split depends on the training seed
  });
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
    } attacked), sweep ${values.sweep}`,
  );
  const started = performance.now();
  const results = await evaluate(models, dataset.test, {
    sweep: values.sweep as SweepName,
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
      sweep: values.sweep,
      checkpoints: Object.fromEntries(models.map((m) => [m.name, {
        dir: m.dir,
        weightsSha256: m.meta.weightsSha256,
        epoch: m.meta.epoch,
        preset: m.meta.config.preset,
        params: m.params,
      }])),
      versions: { deno: Deno.version.deno, tfjs: tf.version.tfjs, symlab: "0.1.0" },
      date: new Date().toISOString().slice(0, 10),
    },
    Object.fromEntries(models.map((m) => [m.name, m.meta.history])),
    await exampleGrid(models, dataset.test),
  );
  console.log(
    `wrote ${files.length} files to ${out}/ in ${
      formatDuration((performance.now() - started) / 1000)
    }: ${files.join(", ")}`,
  );
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
