/**
 * Ctrl-C for a long run: the first SIGINT aborts a signal (the run finishes its batch, saves
 * and returns), the second calls `onSecond` (a main exits there). Used by `deno task train`
 * and by an experiment cell's train step (lib/experiment/task.ts), whose runner forwards
 * exactly one SIGINT.
 *
 * @module
 */

/**
 * Runs `run` with a signal that the first SIGINT aborts; removes its listener afterwards.
 *
 * @example
 * ```ts
 * // deno task train: await interruptible((signal) => runTraining(task, { signal }), () => Deno.exit(130));
 * const aborted = await interruptible(async (signal) => signal.aborted, () => Deno.exit(130)); // false: no Ctrl-C
 * ```
 */
export async function interruptible<T>(
  run: (signal: AbortSignal) => Promise<T>,
  onSecond: () => void,
): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) {
      console.error("\nsecond interrupt: exiting now (the last complete checkpoint is intact)");
      onSecond();
      return;
    }
    console.error("\ninterrupt: finishing the current batch and saving (Ctrl-C again to quit now)");
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    return await run(controller.signal);
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}
