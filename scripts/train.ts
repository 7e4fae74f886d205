/**
 * `deno task train`: trains the baseline and the symmetric model with one recipe and writes
 * checkpoints + per-epoch metrics (the paper's Fig. 2 curves); lib/train/run.ts does the work,
 * its options and flags are lib/train/options.ts. Run with --help for flags.
 *
 * @module
 */
import { interruptible } from "../lib/interrupt.ts";
import { TrainTaskSchema, withContextDefaults } from "../lib/train/options.ts";
import { runTraining } from "../lib/train/run.ts";
import { optionsHelp, parseOptions, runMain } from "./cli.ts";

const HELP = `Usage: deno task train [flags]

Trains the baseline CNN and the symmetric CNN (P4 group convs + invariant SPP) with the same
recipe; writes <out>/<model>/{model.json,weights.bin,meta.json,metrics.jsonl} after every
epoch (and <out>/<model>-best/ for the best validation accuracy with --val-fraction, else the
best test accuracy).

${optionsHelp(TrainTaskSchema)}

Ctrl-C finishes the current batch, saves a resumable checkpoint and exits 0.`;

/** Parses argv into validated options; throws a UsageError with a one-line message. */
export function parseTrainArgs(args: string[]) {
  return parseOptions(TrainTaskSchema, args, withContextDefaults);
}

async function main(): Promise<number> {
  const { help, options } = parseTrainArgs(Deno.args);
  if (help) {
    console.log(HELP);
    return 0;
  }
  await interruptible((signal) => runTraining(options, { signal }), () => Deno.exit(130));
  return 0;
}

if (import.meta.main) runMain(main);
