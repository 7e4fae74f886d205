/**
 * A cell's step in a process of its own: `deno run -A lib/experiment/task.ts train|eval FILE`,
 * where FILE is the step's options as JSON (`<cell>/train-options.json`, `eval-options.json`;
 * the schemas of lib/train/options.ts and lib/eval/options.ts). One process per step keeps
 * tfjs' and oneDNN's state of one cell apart from the next, and lets the runner's SIGINT stop
 * training mid-epoch with a resumable checkpoint (lib/experiment/cell.ts).
 *
 * Its output is the same as `deno task train` / `deno task eval` with those options; exit code
 * 0 (an interrupted training run included: it saved), 2 for an options file that does not fit,
 * 1 for a failure, each failure as one `error:` line.
 *
 * @module
 */
import { interruptible } from "../interrupt.ts";
import { parseEvalOptions } from "../eval/options.ts";
import { runEvaluation } from "../eval/run.ts";
import { formatDuration } from "../progress.ts";
import { parseTrainTask } from "../train/options.ts";
import { runTraining } from "../train/run.ts";
import { OptionsError } from "../validate.ts";

/** The steps a cell runs, by name. */
export const TASK_NAMES = ["train", "eval"] as const;
export type TaskName = typeof TASK_NAMES[number];

/** The entry's path, for the command line a cell runs and records. */
export const TASK_ENTRY = new URL(import.meta.url).pathname;

/** An options file that cannot be read or does not fit its task's schema. */
export class TaskFileError extends Error {
  override name = "TaskFileError";
}

/** An options file's JSON, or a {@linkcode TaskFileError} naming the file. */
async function readOptionsFile(file: string): Promise<unknown> {
  try {
    return JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    throw new TaskFileError(`${file}: cannot read JSON options (${(e as Error).message})`);
  }
}

/** `parse(raw, file)`, its error as a {@linkcode TaskFileError}. */
function parseFile<T>(parse: (raw: unknown, what: string) => T, raw: unknown, file: string): T {
  try {
    return parse(raw, file);
  } catch (e) {
    throw new TaskFileError((e as Error).message);
  }
}

/**
 * Runs one step from its options file: train (stopped at the next batch by `signal`, saving a
 * resumable checkpoint) or eval.
 *
 * @example
 * ```ts ignore
 * // not run as a doc test: it needs a cell's eval-options.json (written by runCell)
 * await runTask("eval", "runs/smoke/baseline-s1-all-shift/eval-options.json");
 * ```
 */
export async function runTask(name: TaskName, file: string, signal?: AbortSignal): Promise<void> {
  const raw = await readOptionsFile(file);
  if (name === "train") {
    await runTraining(parseFile(parseTrainTask, raw, file), { signal });
    return;
  }
  const { out, files, seconds } = await runEvaluation(parseFile(parseEvalOptions, raw, file));
  console.log(
    `wrote ${files.length} files to ${out}/ in ${formatDuration(seconds)}: ${files.join(", ")}`,
  );
}

async function main(args: string[]): Promise<number> {
  const [name, file, ...extra] = args;
  if (!(TASK_NAMES as readonly string[]).includes(name) || !file || extra.length) {
    console.error(
      `error: expected train|eval and an options file (deno run -A lib/experiment/task.ts train FILE), got "${
        args.join(" ")
      }"`,
    );
    return 2;
  }
  try {
    // Train saves on the first SIGINT; eval has nothing to save and stops at once.
    if (name === "train") {
      await interruptible((signal) => runTask(name, file, signal), () => Deno.exit(130));
    } else await runTask(name as TaskName, file);
    return 0;
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return e instanceof TaskFileError || e instanceof OptionsError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
