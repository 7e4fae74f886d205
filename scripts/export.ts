/**
 * `deno task export`: every checkpoint in a directory as an ONNX file (lib/export/), to serve
 * with any ONNX runtime. Run with --help for the flags.
 *
 * @module
 */
import { exportCheckpoints, ExportOptionsSchema } from "../lib/export/checkpoints.ts";
import { setBackend } from "../lib/kernels/backend.ts";
import { loadModels } from "../lib/model/checkpoint.ts";
import { optionsHelp, parseOptions, runMain } from "./cli.ts";

const HELP = `Usage: deno task export --checkpoints DIR [--format onnx] [--out DIR]

Writes model.onnx for every checkpoint: NHWC float32 input "img" in [0, 1] at the size the
server resizes uploads to, outputs "probabilities" and "logits"; group convolutions become
ordinary Conv ops over their expanded filter banks (docs/http-api.md says how to serve it).

${optionsHelp(ExportOptionsSchema)}`;

async function main(): Promise<number> {
  const { help, options } = parseOptions(ExportOptionsSchema, Deno.args);
  if (help) {
    console.log(HELP);
    return 0;
  }
  // The filter banks are gathers and small matmuls: the plain cpu backend computes them exactly.
  await setBackend("cpu");
  const models = await loadModels(options.checkpoints, console.log);
  const files = await exportCheckpoints(models, options.out, console.log);
  console.log(`wrote ${files.length} ONNX file(s)`);
  return 0;
}

if (import.meta.main) runMain(main);
