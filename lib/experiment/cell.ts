/**
 * One cell of an experiment: its training run, then its evaluation, each in a subprocess of its
 * own (`deno run -A lib/experiment/task.ts train|eval <options file>`, lib/experiment/task.ts),
 * in `<out>/<cell-id>/`:
 *
 * - `cell.json` the cell's parameters; `train-options.json` and `eval-options.json` the two
 *   steps' options (lib/train/options.ts, lib/eval/options.ts; train's rewritten per attempt,
 *   with `resume` true when the attempt continues the checkpoint); `command.txt` every command
 *   line run, exactly;
 * - `log.txt` both programs' output (appended across attempts);
 * - `ckpt/<model>/` the resumable checkpoint, `ckpt/<model>-best/` the checkpoint chosen on the
 *   validation split, `selected/<model>` a link to it, which is what `eval/` measured;
 * - `done.json`, written atomically (temporary file + rename) after everything else: a cell
 *   is finished exactly when it exists. `failed.json` says which step failed and its log's last
 *   line; it is removed when the cell is tried again.
 *
 * Running a cell again skips it when done, skips training when the checkpoint has every epoch,
 * and otherwise resumes training from the checkpoint (`resume: true`).
 *
 * A cell trains its registry model (`baseline` for `baseline+rotaug`, with shift+rotate) into
 * `ckpt/<arch>/`; when the grid lists `<model>+tta`, its eval adds `tta: [<arch>]`, and the
 * `+tta` cell (no directory of its own, lib/experiment/spec.ts) is done when this one is.
 *
 * @module
 */
import { type EvalOptions, parseEvalOptions } from "../eval/options.ts";
import { parseTrainTask, type TrainTask } from "../train/options.ts";
import {
  type Cell,
  cellArch,
  cellCurveEvery,
  cellEpochs,
  cellMicroBatch,
  type ExperimentSpec,
  trainAugment,
  ttaOf,
} from "./spec.ts";
import { TASK_ENTRY, type TaskName } from "./task.ts";

/** Where a cell keeps its files. */
export interface CellPaths {
  dir: string;
  ckpt: string;
  selected: string;
  evalDir: string;
  log: string;
  command: string;
  /** The options files of the cell's two steps (lib/experiment/task.ts). */
  trainOptions: string;
  evalOptions: string;
  done: string;
  failed: string;
}

/** The paths of a cell under the experiment's output directory. */
export function cellPaths(out: string, cell: Pick<Cell, "id">): CellPaths {
  const dir = `${out}/${cell.id}`;
  return {
    dir,
    ckpt: `${dir}/ckpt`,
    selected: `${dir}/selected`,
    evalDir: `${dir}/eval`,
    log: `${dir}/log.txt`,
    command: `${dir}/command.txt`,
    trainOptions: `${dir}/train-options.json`,
    evalOptions: `${dir}/eval-options.json`,
    done: `${dir}/done.json`,
    failed: `${dir}/failed.json`,
  };
}

/**
 * Train's options for a cell (the same recipe for every cell; only the grid's axes differ), as
 * `train-options.json` holds them: lib/train/options.ts's schema, validated.
 */
export function trainTask(
  spec: ExperimentSpec,
  cell: Cell,
  paths: Pick<CellPaths, "ckpt">,
  resume: boolean,
): TrainTask {
  return parseTrainTask({
    model: cellArch(cell),
    dataset: spec.dataset,
    ...(spec.dataDir ? { dataDir: spec.dataDir } : {}),
    ...spec.folder,
    preset: spec.preset,
    epochs: cellEpochs(spec, cell),
    batchSize: spec.batchSize,
    microBatch: cellMicroBatch(spec, cell),
    optimizer: spec.optimizer,
    lr: spec.lr,
    momentum: spec.momentum,
    schedule: spec.schedule,
    weightDecay: spec.weightDecay,
    augment: trainAugment(cell),
    seed: cell.seed,
    trainSize: cell.size,
    valFraction: spec.valFraction,
    evalLimit: spec.epochEvalLimit,
    curveEvery: cellCurveEvery(spec, cell),
    backend: spec.backend,
    out: paths.ckpt,
    resume,
  }, `cell ${cell.id}: train options`);
}

/**
 * Eval's options for a cell, as `eval-options.json` holds them: the validation-chosen
 * checkpoint, the spec's sweep, and `tta` when the grid lists this cell's `+tta` variant.
 */
export function evalTask(
  spec: ExperimentSpec,
  paths: Pick<CellPaths, "selected" | "evalDir">,
  cell?: Cell,
): EvalOptions {
  const tta = cell ? ttaOf(spec, cell) : [];
  return parseEvalOptions({
    checkpoints: paths.selected,
    ...(spec.dataDir ? { dataDir: spec.dataDir } : {}),
    ...spec.eval,
    backend: spec.backend,
    out: paths.evalDir,
    ...(tta.length ? { tta } : {}),
  }, `cell ${cell?.id ?? paths.selected}: eval options`);
}

/** Quotes an argument for a POSIX shell (so command.txt can be pasted back). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=+,@%-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Where a cell stands, from its files alone. */
export interface CellStatus {
  state: "done" | "failed" | "partial" | "new";
  /** Epochs completed by the checkpoint (0 if none). */
  epoch: number;
  /** The step that failed and its log's last line (state "failed"). */
  failure?: { step: string; code: number; lastLine: string };
  /** Epoch/total of the run in progress as the log last reported it. */
  logEpoch?: [number, number];
  /** "train" or "eval": which program wrote the log's last command. */
  step?: string;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return undefined;
  }
}

/** The last `bytes` of a file as text (empty if missing). */
export async function tail(path: string, bytes = 4096): Promise<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return "";
  }
  try {
    const size = (await file.stat()).size;
    const start = Math.max(0, size - bytes);
    await file.seek(start, Deno.SeekMode.Start);
    const buf = new Uint8Array(size - start);
    let read = 0;
    while (read < buf.length) {
      const n = await file.read(buf.subarray(read));
      if (n === null) break;
      read += n;
    }
    return new TextDecoder().decode(buf.subarray(0, read));
  } finally {
    file.close();
  }
}

/**
 * What a failed program last said: its last `error:` line (train and eval print one-line
 * errors so), else its last non-empty line; progress redraws (`\r`) resolved, the runner's
 * own `$ command` and `[exit N]` lines skipped.
 */
export function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.split("\r").at(-1)!.trim())
    .filter((l) => l && !/^\[exit -?\d+\]$/.test(l) && !l.startsWith("$ "));
  return lines.findLast((l) => /^error:/i.test(l)) ?? lines.at(-1) ?? "";
}

/** Completed epochs of `<ckpt>/<model>/meta.json` (0 when there is no checkpoint yet). */
export async function checkpointEpoch(paths: CellPaths, model: string): Promise<number> {
  const meta = await readJson<{ epoch?: number }>(`${paths.ckpt}/${model}/meta.json`);
  return meta?.epoch ?? 0;
}

/**
 * A cell's state from its files: done (marker), failed (failure record), partial (some
 * checkpoint or log) or new.
 */
export async function cellStatus(out: string, cell: Cell): Promise<CellStatus> {
  // A +tta cell stands where the cell that evaluates it stands.
  const paths = cellPaths(out, { id: cell.evaluatedIn ?? cell.id });
  const epoch = await checkpointEpoch(paths, cellArch(cell));
  if (await readJson(paths.done)) return { state: "done", epoch };
  const failure = await readJson<CellStatus["failure"]>(paths.failed);
  const log = await tail(paths.log);
  const m = [...log.matchAll(/epoch (\d+)\/(\d+)/g)].at(-1);
  const logEpoch = m ? [Number(m[1]), Number(m[2])] as [number, number] : undefined;
  // `task.ts train|eval FILE`; `scripts/train.ts` / `scripts/eval.ts` in cells run before.
  const last = [...log.matchAll(/^\$ .*(?:scripts\/(train|eval)\.ts|task\.ts (train|eval) )/gm)]
    .at(-1);
  const step = last?.[1] ?? last?.[2];
  if (failure) return { state: "failed", epoch, failure, logEpoch, step };
  return { state: epoch > 0 || log ? "partial" : "new", epoch, logEpoch, step };
}

/** Options of {@linkcode runCell}. */
export interface RunCellOptions {
  /** OpenMP threads (oneDNN) for this cell's processes: cores / jobs. */
  threads: number;
  /** Aborting it interrupts the running program with SIGINT (train saves and exits). */
  signal?: AbortSignal;
  /** The deno binary (default: this one). */
  deno?: string;
}

/** What became of a cell. */
export interface CellResult {
  id: string;
  outcome: "done" | "skipped" | "failed" | "interrupted";
  /** For "failed": the step and the log's last line. */
  failure?: { step: string; code: number; lastLine: string };
  seconds: number;
}

// `setsid` puts each program in its own session, so a terminal Ctrl-C reaches only the runner,
// which forwards exactly one SIGINT (two would make train quit without its mid-epoch save).
const SETSID = (() => {
  try {
    return Deno.statSync("/usr/bin/setsid").isFile ? "/usr/bin/setsid" : undefined;
  } catch {
    return undefined;
  }
})();

async function runLogged(
  argv: string[],
  paths: CellPaths,
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<number> {
  const line = argv.map(shellQuote).join(" ");
  const envText = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`).join(" ");
  await Deno.writeTextFile(paths.command, `${envText} ${line}\n`, { append: true });
  const log = await Deno.open(paths.log, { append: true, create: true });
  const encoder = new TextEncoder();
  await log.write(encoder.encode(`$ ${envText} ${line}\n`));
  const [cmd, ...args] = SETSID ? [SETSID, ...argv] : argv;
  const child = new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const onAbort = () => {
    try {
      child.kill("SIGINT");
    } catch { /* already exited */ }
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  const copy = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) await log.write(chunk);
  };
  try {
    await Promise.all([copy(child.stdout), copy(child.stderr)]);
    const { code } = await child.status;
    await log.write(encoder.encode(`[exit ${code}]\n`));
    return code;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    log.close();
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(`${path}.tmp`, text);
  await Deno.rename(`${path}.tmp`, path);
}

/**
 * Runs (or finishes) one cell; never throws for a failing program: the failure is recorded in
 * `failed.json` and returned, so that the other cells go on.
 *
 * @example
 * ```ts ignore
 * // not run: trains and evaluates a model in a subprocess
 * const r = await runCell(spec, cells[0], "runs/smoke", { threads: 2 });
 * ```
 */
export async function runCell(
  spec: ExperimentSpec,
  cell: Cell,
  out: string,
  options: RunCellOptions,
): Promise<CellResult> {
  const started = performance.now();
  const seconds = () => Number(((performance.now() - started) / 1000).toFixed(1));
  // Measured by the eval of cell.evaluatedIn, which the runners run instead.
  if (cell.evaluatedIn) return { id: cell.id, outcome: "skipped", seconds: 0 };
  const paths = cellPaths(out, cell);
  const arch = cellArch(cell);
  await Deno.mkdir(paths.dir, { recursive: true });
  if (await readJson(paths.done)) return { id: cell.id, outcome: "skipped", seconds: 0 };
  await Deno.remove(paths.failed).catch(() => {});
  await Deno.writeTextFile(`${paths.dir}/cell.json`, JSON.stringify(cell, null, 2) + "\n");
  const deno = options.deno ?? Deno.execPath();
  const env = { OMP_NUM_THREADS: String(options.threads), NO_COLOR: "1" };
  const fail = async (step: string, code: number): Promise<CellResult> => {
    const failure = { step, code, lastLine: lastLine(await tail(paths.log)) };
    await writeAtomic(paths.failed, JSON.stringify(failure, null, 2) + "\n");
    return { id: cell.id, outcome: "failed", failure, seconds: seconds() };
  };
  const interrupted = (): CellResult => ({ id: cell.id, outcome: "interrupted", seconds: 0 });

  const epochs = cellEpochs(spec, cell);
  let epoch = await checkpointEpoch(paths, arch);
  // Each step: its options file (rewritten per attempt: `resume` says whether this one
  // continues the checkpoint), then `task.ts <step> <file>` in a process of its own.
  const step = async (name: TaskName, file: string, task: TrainTask | EvalOptions) => {
    await writeAtomic(file, JSON.stringify(task, null, 2) + "\n");
    const argv = [deno, "run", "-A", TASK_ENTRY, name, file];
    return await runLogged(argv, paths, env, options.signal);
  };
  if (epoch < epochs) {
    const resume = epoch > 0 || await hasResumeState(paths, arch);
    const code = await step("train", paths.trainOptions, trainTask(spec, cell, paths, resume));
    if (options.signal?.aborted) return interrupted();
    if (code !== 0) return fail("train", code);
    epoch = await checkpointEpoch(paths, arch);
    if (epoch < epochs) {
      return fail("train", code);
    }
  }
  if (options.signal?.aborted) return interrupted();
  // The reported checkpoint: the one train kept as best on the validation split.
  const best = `${paths.ckpt}/${arch}-best`;
  const chosen = await exists(`${best}/meta.json`) ? `${arch}-best` : arch;
  await Deno.mkdir(paths.selected, { recursive: true });
  await Deno.remove(`${paths.selected}/${arch}`).catch(() => {});
  await Deno.symlink(`../ckpt/${chosen}`, `${paths.selected}/${arch}`);
  const code = await step("eval", paths.evalOptions, evalTask(spec, paths, cell));
  if (options.signal?.aborted) return interrupted();
  if (code !== 0) return fail("eval", code);
  if (!await exists(`${paths.evalDir}/report.json`)) return fail("eval", code);
  const marker = {
    id: cell.id,
    finishedAt: new Date().toISOString(),
    trainedEpochs: epoch,
    selected: chosen,
    secondsThisAttempt: seconds(),
  };
  await writeAtomic(paths.done, JSON.stringify(marker, null, 2) + "\n");
  return { id: cell.id, outcome: "done", seconds: seconds() };
}

async function hasResumeState(paths: CellPaths, model: string): Promise<boolean> {
  const meta = await readJson<{ training?: { state?: unknown } }>(
    `${paths.ckpt}/${model}/meta.json`,
  );
  return meta?.training?.state !== undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
