/**
 * `deno task experiment`: grids of training runs with seeds, on this machine or as a Slurm job
 * array, aggregated with confidence intervals. Run with --help for the subcommands.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { writeSummary } from "../lib/experiment/aggregate.ts";
import { cellStatus, runCell } from "../lib/experiment/cell.ts";
import { runLocal, threadsPerCell } from "../lib/experiment/local.ts";
import { readSubmissions, slurmStates, submitArray } from "../lib/experiment/slurm.ts";
import {
  type Cell,
  cellEpochs,
  cellsOfModels,
  CURVE_KEYS,
  expandCells,
  type ExperimentSpec,
  gridSizes,
  isTrained,
  readSpec,
  SpecError,
  validateSpec,
} from "../lib/experiment/spec.ts";
import { formatDuration } from "../lib/progress.ts";

const HELP = `Usage: deno task experiment <command> [flags]

A grid of training runs (model × seed × training-set size × augmentation) from one experiment
file (YAML or JSON, see experiments/quick.yaml); each cell trains and is evaluated in
DIR/<cell-id>/, each step a process of its own from its options file (train-options.json,
eval-options.json: train's and eval's options; command.txt, log.txt, done.json last).
Models: baseline, symmetric, p4m, scale, rotscale; baseline+rotaug (baseline trained with
shift+rotate); <model>+tta (<model>'s checkpoints averaged over the four quarter turns, measured
in <model>'s cell by eval --tta). sizesFor / epochsFor give a model its own sizes and a size
its own epochs (lib/experiment/spec.ts; docs/results/study/*.yaml).

  run FILE --out DIR [--jobs N]       run the cells here, N at a time (default 1), the cores
                                      divided between them (OMP_NUM_THREADS = cores / N);
                                      again: finished cells are skipped, interrupted ones
                                      resume from their checkpoints; Ctrl-C stops cleanly
    --models LIST                     with run (local or --slurm): only these models' cells
                                      now (a +tta model's are its base's), e.g. the cheap
                                      models before the costly ones; the rest wait
  run FILE --out DIR --slurm [--slurm-args "ARGS"]
                                      submit the unfinished cells as one Slurm job array
                                      (sbatch --array); ARGS go to sbatch, e.g.
                                      "--partition=gpu --time=2:00:00 -c 8 --gres=gpu:1"
  status DIR                          each cell's state (markers, and squeue/sacct for Slurm)
  aggregate DIR                       DIR/summary.json, summary.md and SVG + PNG figures:
                                      mean, std and 95% t-interval over seeds; differences
                                      against baseline with a 95% paired bootstrap over seeds
                                      × test images (from eval's outcomes.json); the
                                      data-efficiency curve; the paper's claims with computed
                                      verdicts
  cell DIR --index I                  run one cell (what each Slurm array task runs)
  --help                              this text`;

class UsageError extends Error {}

/** Splits `--slurm-args` like a shell would (whitespace, single and double quotes). */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const m of text.matchAll(re)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** Parses argv into a subcommand and its validated flags; throws with a one-line message. */
export function parseExperimentArgs(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      out: { type: "string" },
      jobs: { type: "string" },
      slurm: { type: "boolean" },
      "slurm-args": { type: "string" },
      models: { type: "string" },
      index: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return { command: "help" as const };
  const [command, target, ...extra] = positionals;
  const commands = ["run", "status", "aggregate", "cell"];
  if (!command) throw new UsageError(`expected a command (${commands.join(", ")})`);
  if (!commands.includes(command)) {
    throw new UsageError(`expected a command (${commands.join(", ")}), got "${command}"`);
  }
  if (!target) {
    throw new UsageError(
      `${command}: expected ${command === "run" ? "an experiment FILE" : "a directory DIR"}`,
    );
  }
  if (extra.length) throw new UsageError(`${command}: unexpected argument "${extra[0]}"`);
  const only = (allowed: string[]) => {
    for (const [k, v] of Object.entries(values)) {
      if (v !== undefined && !allowed.includes(k)) {
        throw new UsageError(`--${k}: not a flag of "${command}"`);
      }
    }
  };
  if (command === "run") {
    only(["out", "jobs", "slurm", "slurm-args", "models"]);
    if (!values.out) throw new UsageError("run: --out DIR is required");
    const jobs = values.jobs === undefined ? 1 : Number(values.jobs);
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 1024) {
      throw new UsageError(`--jobs: expected an integer from 1 to 1024, got "${values.jobs}"`);
    }
    if (values.slurm && values.jobs !== undefined) {
      throw new UsageError(
        "--jobs: applies to local runs; with --slurm, Slurm schedules the tasks",
      );
    }
    if (values["slurm-args"] !== undefined && !values.slurm) {
      throw new UsageError("--slurm-args: only with --slurm");
    }
    return {
      command: "run" as const,
      file: target,
      out: values.out.replace(/\/+$/, ""),
      jobs,
      slurm: values.slurm === true,
      slurmArgs: splitArgs(values["slurm-args"] ?? ""),
      ...(values.models === undefined ? {} : { models: modelList(values.models) }),
    };
  }
  if (command === "cell") {
    only(["index"]);
    const index = Number(values.index);
    if (values.index === undefined || !Number.isInteger(index) || index < 0) {
      throw new UsageError(`--index: expected a cell index ≥ 0, got "${values.index ?? ""}"`);
    }
    return { command: "cell" as const, out: target.replace(/\/+$/, ""), index };
  }
  only([]);
  return { command: command as "status" | "aggregate", out: target.replace(/\/+$/, "") };
}

/** `--models a,b`: the names, non-empty; which are the experiment's is checked against it. */
function modelList(text: string): string[] {
  const names = text.split(",").map((m) => m.trim());
  if (names.some((m) => !m)) {
    throw new UsageError(`--models: expected comma-separated model names, got "${text}"`);
  }
  return names;
}

interface Saved {
  file: string;
  spec: ExperimentSpec;
  cells: Cell[];
}

/** Reads `DIR/experiment.json` (written by `run`). */
async function loadSaved(out: string): Promise<Saved> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${out}/experiment.json`);
  } catch {
    throw new UsageError(
      `${out}/experiment.json not found: expected a directory made by "experiment run"`,
    );
  }
  const saved = JSON.parse(text) as Saved;
  const spec = validateSpec(saved.spec, `${out}/experiment.json`);
  return { file: saved.file, spec, cells: expandCells(spec) };
}

/** Writes `DIR/experiment.json`, refusing a directory that holds a different experiment. */
export async function saveExperiment(
  file: string,
  spec: ExperimentSpec,
  out: string,
): Promise<Cell[]> {
  const cells = expandCells(spec);
  await Deno.mkdir(out, { recursive: true });
  const path = `${out}/experiment.json`;
  const text = await Deno.readTextFile(path).catch(() => undefined);
  if (text !== undefined) {
    // Read back through the schema, so that a setting added since (at its default) is no change.
    let before: Record<string, unknown>;
    try {
      before = validateSpec((JSON.parse(text) as Saved).spec, path);
    } catch (e) {
      throw new UsageError(
        `${path} does not hold a valid experiment (${(e as Error).message.split("\n")[0]}): ` +
          "use another --out",
      );
    }
    const now = spec as Record<string, unknown>;
    const changed = Object.keys({ ...before, ...now }).filter((k) =>
      JSON.stringify(before[k]) !== JSON.stringify(now[k])
    );
    const fixed = changed.filter((k) => !CURVE_KEYS.includes(k));
    if (fixed.length) {
      throw new UsageError(
        `${out} holds a different experiment (${fixed.join(", ")} changed): use another --out`,
      );
    }
    if (changed.length) {
      console.log(
        `${out}: ${changed.join(", ")} changed since the last run; cells train on with the new ` +
          "value (it moves only the curve points: training, the checkpoint chosen on validation " +
          "and eval's numbers are the same)",
      );
    }
  }
  await Deno.writeTextFile(path, JSON.stringify({ file, spec, cells }, null, 2) + "\n");
  return cells;
}

async function run(args: Extract<ReturnType<typeof parseExperimentArgs>, { command: "run" }>) {
  const spec = await readSpec(args.file);
  const cells = await saveExperiment(args.file, spec, args.out);
  const statuses = await Promise.all(cells.map((c) => cellStatus(args.out, c)));
  // +tta cells are measured by their base cell's eval: only trained cells run or go to Slurm.
  const all = cells.filter((c, i) => statuses[i].state !== "done" && isTrained(c));
  let chosen: Set<string>;
  try {
    chosen = new Set(cellsOfModels(spec, cells, args.models).map((c) => c.id));
  } catch (e) {
    if (e instanceof SpecError) throw new UsageError(`--models: ${e.message}`);
    throw e;
  }
  const pending = all.filter((c) => chosen.has(c.id));
  const trained = cells.filter((c) => isTrained(c) && chosen.has(c.id));
  const tta = cells.length - trained.length;
  console.log(
    `${spec.name}: ${cells.length} cells (${spec.models.length} models × ${spec.seeds.length} seeds × up to ${
      gridSizes(spec).length
    } sizes × ${spec.augmentations.length} augmentations${
      tta ? `; ${tta} +tta cells evaluated in their base cells` : ""
    }), ${cells.filter(isTrained).length - all.length} of ${
      cells.filter(isTrained).length
    } trained cells already done`,
  );
  if (args.models) {
    console.log(
      `--models ${
        args.models.join(",")
      }: ${pending.length} of the ${all.length} unfinished cells ` +
        `(the other ${all.length - pending.length} wait; run without --models to include them)`,
    );
  }
  if (args.slurm) {
    const states = await slurmStates(await readSubmissions(args.out));
    const active = new Set(["PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED"]);
    const queued = pending.filter((c) => active.has(states.get(c.index) ?? ""));
    const toSubmit = pending.filter((c) => !queued.includes(c));
    if (queued.length) console.log(`${queued.length} cells are already queued or running`);
    if (!toSubmit.length) {
      console.log("nothing to submit");
      return 0;
    }
    const s = await submitArray(
      args.out,
      spec.name,
      toSubmit.map((c) => c.index),
      args.slurmArgs,
    );
    console.log(
      `submitted job ${s.jobId}: ${toSubmit.length} array tasks (logs in ${args.out}/<cell>/log.txt and ${args.out}/slurm/); watch with: deno task experiment status ${args.out}`,
    );
    return 0;
  }
  const threads = threadsPerCell(navigator.hardwareConcurrency, args.jobs);
  console.log(
    `running ${pending.length} cells, ${args.jobs} at a time, ${threads} threads each (${navigator.hardwareConcurrency} cores); logs in ${args.out}/<cell>/log.txt`,
  );
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) {
      console.error("\nsecond interrupt: exiting now (finished cells and checkpoints are kept)");
      Deno.exit(130);
    }
    console.error(
      "\ninterrupt: letting running cells save their checkpoints (Ctrl-C again to quit now)",
    );
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const started = performance.now();
  try {
    // Every trained cell, so that the progress line counts the ones done before this run too
    // (runLocal skips them).
    const { results, interrupted } = await runLocal(spec, trained, args.out, {
      jobs: args.jobs,
      signal: controller.signal,
    });
    const failed = results.filter((r) => r.outcome === "failed");
    const done = (await Promise.all(cells.map((c) => cellStatus(args.out, c))))
      .filter((s) => s.state === "done").length;
    console.log(
      `${done}/${cells.length} cells done, ${failed.length} failed, in ${
        formatDuration((performance.now() - started) / 1000)
      }${interrupted ? "; interrupted: run the same command again to resume" : ""}`,
    );
    for (const f of failed) {
      console.log(`  failed ${f.id} (${f.failure!.step}): ${f.failure!.lastLine}`);
    }
    if (done === cells.length) {
      console.log(`aggregate with: deno task experiment aggregate ${args.out}`);
    }
    return interrupted ? 130 : failed.length ? 1 : 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

async function status(out: string) {
  const { spec, cells } = await loadSaved(out);
  const slurm = await slurmStates(await readSubmissions(out));
  const rows = await Promise.all(cells.map(async (c) => ({ c, s: await cellStatus(out, c) })));
  const width = Math.max(...cells.map((c) => c.id.length));
  for (const { c, s } of rows) {
    const q = slurm.get(c.index);
    const detail = c.evaluatedIn
      ? `evaluated in ${c.evaluatedIn}`
      : s.state === "failed"
      ? `${s.failure!.step}: ${s.failure!.lastLine}`
      : s.state === "done"
      ? `${s.epoch}/${cellEpochs(spec, c)} epochs, evaluated`
      : s.step === "eval"
      ? "trained, eval not finished"
      : s.logEpoch
      ? `epoch ${s.logEpoch.join("/")} (checkpoint at ${s.epoch})`
      : "";
    console.log(`${c.id.padEnd(width)}  ${s.state.padEnd(7)}  ${q ? `slurm ${q}  ` : ""}${detail}`);
  }
  const count = (state: string) => rows.filter((r) => r.s.state === state).length;
  console.log(
    `${count("done")}/${cells.length} done, ${count("failed")} failed, ${
      count("partial")
    } partial, ${count("new")} not started`,
  );
  return 0;
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseExperimentArgs(Deno.args);
  } catch (e) {
    console.error(`error: ${(e as Error).message}\nRun with --help for the commands.`);
    return 2;
  }
  try {
    switch (args.command) {
      case "help":
        console.log(HELP);
        return 0;
      case "run":
        return await run(args);
      case "status":
        return await status(args.out);
      case "aggregate": {
        const { spec, cells } = await loadSaved(args.out);
        const { summary, files } = await writeSummary(spec, cells, args.out);
        console.log(
          `${summary.cells.done}/${summary.cells.total} cells aggregated; wrote ${
            files.join(", ")
          } to ${args.out}/`,
        );
        for (const c of summary.claims) {
          const ci = c.ci95
            ? `[${(100 * c.ci95[0]).toFixed(1)}, ${(100 * c.ci95[1]).toFixed(1)}]`
            : "n < 2";
          console.log(
            `  ${c.verdict.padEnd(13)} ${c.model} ${c.claim}: ${
              c.difference == null ? "–" : (100 * c.difference).toFixed(1)
            } pts ${ci} (n = ${c.n})`,
          );
        }
        return 0;
      }
      case "cell": {
        const { spec, cells } = await loadSaved(args.out);
        const cell = cells[args.index];
        if (!cell) {
          throw new UsageError(`--index: ${args.index} is not a cell (0 to ${cells.length - 1})`);
        }
        const threads = Number(Deno.env.get("OMP_NUM_THREADS") ?? 1) || 1;
        const controller = new AbortController();
        const onSignal = () => controller.abort();
        // Slurm sends SIGTERM at the time limit (and scancel): save like Ctrl-C does.
        Deno.addSignalListener("SIGTERM", onSignal);
        Deno.addSignalListener("SIGINT", onSignal);
        try {
          const r = await runCell(spec, cell, args.out, { threads, signal: controller.signal });
          console.log(
            `${cell.id}: ${r.outcome}${r.failure ? ` (${r.failure.lastLine})` : ""}${
              cell.evaluatedIn ? ` (evaluated in ${cell.evaluatedIn})` : ""
            }`,
          );
          return r.outcome === "done" || r.outcome === "skipped" ? 0 : 1;
        } finally {
          Deno.removeSignalListener("SIGTERM", onSignal);
          Deno.removeSignalListener("SIGINT", onSignal);
        }
      }
    }
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main());
