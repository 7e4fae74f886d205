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
import { choiceFlag, numberFlag, parseFlags, runMain, UsageError } from "./cli.ts";
import { evaluate } from "../lib/eval/evaluate.ts";
import { measureExamples } from "../lib/eval/examples.ts";
import { EVAL_SEED, PGD_RESTARTS, type SweepName, SWEEPS } from "../lib/eval/measures.ts";
import { writeOutcomes } from "../lib/eval/outcomes.ts";
import { formatDuration } from "../lib/progress.ts";
import { exampleGrid, writeReport } from "../lib/eval/report.ts";
import { loadModels, servedInputSize } from "../lib/model/checkpoint.ts";
import { averageOverQuarterTurns, ttaName } from "../lib/model/tta.ts";
import { AUDIT_EPS, PROTOCOL_NAMES, PROTOCOLS, roleOf, runAudit } from "../lib/eval/protocol.ts";
import { writeProtocolReport } from "../lib/eval/protocol_report.ts";

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
  --seed N            seed of the sampled transforms and the attacks' random starts
                      (default ${EVAL_SEED}, the seed of training's per-epoch metrics)
  --pgd-steps N       PGD steps (default: the sweep's, full ${SWEEPS.full.pgdSteps}, quick ${SWEEPS.quick.pgdSteps})
  --pgd-restarts N    PGD random starts per image, the worst case kept (default ${PGD_RESTARTS})
  --backend NAME      ${BACKEND_NAMES.join(" | ")} (default auto)
  --tta MODEL[,MODEL] also evaluate each listed loaded model averaged over the four quarter
                      turns at test time (lib/model/tta.ts), as "<model>+tta": every
                      measure runs on it, the attacks included (they differentiate the
                      averaged model)
  --protocol NAME     ${PROTOCOL_NAMES.join(" | ")} (default ours; docs/protocol.md):
                      ours                      the sweep above; attacks on [0, 1] pixels,
                                                every model in inference mode, PGD ${PROTOCOLS.ours.pgdSteps} steps
                                                of 2.5·ε/steps from a random start
                      published                 the audit: Wang et al. (NeurIPS 2025)'s
                                                evaluation reproduced — inputs normalised with
                                                mean = std = 0.5 (u ∈ [−1, 1]); the baseline's
                                                adversarial images clipped to [0, 1] in u (dark
                                                pixels become mid-grey), the symmetric models' to
                                                [−1, 1]; symmetric models with batch norm in
                                                training mode (batches of ${PROTOCOLS.published.batchSize}), the baseline in
                                                inference mode; PGD ${PROTOCOLS.published.pgdSteps} steps of ${PROTOCOLS.published.pgdStep} in u, no
                                                random start; FGSM and PGD at ε = ${
  AUDIT_EPS[0]
} … ${AUDIT_EPS.at(-1)}
                                                in u (8/255 of the pixel range is 0.063) —
                                                side by side with ours and
                                                published-symmetric-fair at the same ε, on the
                                                first --adv-limit test images
                      published-symmetric-fair  the same audit (the three columns are always
                                                run together); fair = published with both
                                                models clipped to [−1, 1] and in inference mode
  --out DIR           report directory (default reports/<dataset>, or
                      reports/<dataset>/protocol for the audit)
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
    "pgd-steps": { type: "string" },
    "pgd-restarts": { type: "string" },
    backend: { type: "string" },
    out: { type: "string" },
    protocol: { type: "string" },
    tta: { type: "string" },
    help: { type: "boolean" },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const int = { integer: true, min: 0 };
  const limit = numberFlag("limit", values.limit, 2000, int);
  const advLimit = numberFlag("adv-limit", values["adv-limit"], 500, int);
  const seed = numberFlag("seed", values.seed, EVAL_SEED, int);
  const positive = { integer: true, min: 1 };
  const pgdRestarts = numberFlag("pgd-restarts", values["pgd-restarts"], PGD_RESTARTS, positive);
  const sweep = choiceFlag("sweep", values.sweep, Object.keys(SWEEPS) as SweepName[], "full");
  const pgdSteps = numberFlag("pgd-steps", values["pgd-steps"], SWEEPS[sweep].pgdSteps, positive);
  const datasetName = values.dataset === undefined
    ? undefined
    : choiceFlag("dataset", values.dataset, DATASET_NAMES, "synthetic");
  const backendName = choiceFlag("backend", values.backend, BACKEND_NAMES, "auto");
  const protocolName = choiceFlag("protocol", values.protocol, PROTOCOL_NAMES, "ours");
  if (values.tta !== undefined && protocolName !== "ours") {
    // The audit's roles (baseline vs symmetric clipping and batch-norm mode) name trained models.
    throw new UsageError("--tta: applies to --protocol ours only");
  }
  const backend = await setBackend(backendName);
  console.log(`backend: ${backend.name} (${backend.reason})`);
  const loaded = await loadModels(values.checkpoints, (l) => console.log(l));
  const ttaOf = values.tta === undefined ? [] : values.tta.split(",");
  for (const t of ttaOf) {
    if (!loaded.some((m) => m.name === t)) {
      throw new UsageError(
        `--tta: expected loaded models (${loaded.map((m) => m.name).join(", ")}), got "${t}"`,
      );
    }
  }
  // "<model>+tta" shares its base's weights and checkpoint record; the report lists it last.
  const models = [
    ...loaded,
    ...loaded.filter((m) => ttaOf.includes(m.name)).map((m) => ({
      ...m,
      name: ttaName(m.name),
      model: averageOverQuarterTurns(m.model),
    })),
  ];
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
  const checkpoints = Object.fromEntries(models.map((m) => [m.name, {
    dir: m.dir,
    weightsSha256: m.meta.weightsSha256,
    epoch: m.meta.epoch,
    preset: m.meta.config.preset,
    params: m.params,
  }]));
  if (protocolName !== "ours") {
    const nAdv = Math.min(advLimit || dataset.test.count, dataset.test.count);
    console.log(
      `protocol audit (--protocol ${protocolName}): ours, published and published-symmetric-fair on ${nAdv} test images, ${AUDIT_EPS.length} ε each; roles: ${
        models.map((m) => `${m.name} ${roleOf(m.name)}`).join(", ")
      }`,
    );
    const started = performance.now();
    const audit = await runAudit(
      models.map((m) => ({ name: m.name, role: roleOf(m.name), model: m.model })),
      dataset.test,
      { limit: nAdv, seed },
    );
    const out = values.out ?? `reports/${dataset.name}/protocol`;
    const files = await writeProtocolReport(out, audit, {
      dataset: { name: dataset.name, source: dataset.source, testImages: nAdv, advImages: nAdv },
      backend: `${backend.name}: ${backend.reason}`,
      seed,
      checkpoints,
      provenance: provenance(backend.name),
      date: new Date().toISOString().slice(0, 10),
      requested: protocolName,
    });
    console.log(
      `wrote ${files.length} files to ${out}/ in ${
        formatDuration((performance.now() - started) / 1000)
      }: ${files.join(", ")}`,
    );
    return 0;
  }
  console.log(
    `evaluating ${models.map((m) => m.name).join(" and ")} on ${n} test images (${
      Math.min(advLimit, n)
    } attacked: PGD ${pgdSteps} steps × ${pgdRestarts} restarts), sweep ${sweep}`,
  );
  const started = performance.now();
  const { results, outcomes } = await evaluate(models, dataset.test, {
    sweep,
    seed,
    limit: n,
    advLimit,
    pgdSteps,
    pgdRestarts,
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
      checkpoints,
      provenance: provenance(backend.name),
      date: new Date().toISOString().slice(0, 10),
    },
    Object.fromEntries(models.map((m) => [m.name, m.meta.history])),
    exampleGrid(await measureExamples(models, dataset.test)),
  );
  // Per-image outcomes for `experiment aggregate`'s bootstrap (lib/eval/outcomes.ts).
  files.push(await writeOutcomes(out, outcomes));
  console.log(
    `wrote ${files.length} files to ${out}/ in ${
      formatDuration((performance.now() - started) / 1000)
    }: ${files.join(", ")}`,
  );
  return 0;
}

if (import.meta.main) runMain(main);
