/**
 * `deno task eval`: loads the checkpoints, measures them on the same test images, and writes
 * a report (JSON + Markdown + SVG figures); lib/eval/run.ts does the work, its options and
 * flags are lib/eval/options.ts. Run with --help for flags.
 *
 * @module
 */
import { EvalOptionsSchema, PROTOCOL_HELP } from "../lib/eval/options.ts";
import { runEvaluation } from "../lib/eval/run.ts";
import { formatDuration } from "../lib/progress.ts";
import { optionsHelp, parseOptions, runMain } from "./cli.ts";

const HELP = `Usage: deno task eval [flags]

Measures the baseline and symmetric checkpoints on the same test images: clean, perturbed,
rotation (every 15°, random angles), zoom, resolution, shift, noise, blur, contrast, JPEG,
FGSM / PGD (white-box) and PGD transfer; writes report.json, report.md and SVG figures.

${optionsHelp(EvalOptionsSchema)}

${PROTOCOL_HELP}`;

/** Parses argv into validated evaluation options; throws a UsageError with a one-line message. */
export function parseEvalArgs(args: string[]) {
  return parseOptions(EvalOptionsSchema, args);
}

async function main(): Promise<number> {
  const { help, options } = parseEvalArgs(Deno.args);
  if (help) {
    console.log(HELP);
    return 0;
  }
  const { out, files, seconds } = await runEvaluation(options);
  console.log(
    `wrote ${files.length} files to ${out}/ in ${formatDuration(seconds)}: ${files.join(", ")}`,
  );
  return 0;
}

if (import.meta.main) runMain(main);
