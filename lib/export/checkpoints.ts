/**
 * `deno task export`: every loaded checkpoint as `model.onnx` (lib/export/onnx.ts), at the size
 * the server resizes uploads to, with what a server needs to label its answers in the file's
 * `metadata_props`.
 *
 * @module
 */
import onnxProto from "onnx-proto";
import { z } from "zod";
import type { LoadedModel } from "../model/checkpoint.ts";
import { MODELS } from "../model/models.ts";
import { toOnnx } from "./onnx.ts";

const { onnx } = onnxProto;

/** `deno task export`'s options: its flags, help and checks come from here (scripts/cli.ts). */
export const ExportOptionsSchema = z.strictObject({
  checkpoints: z.string().min(1).default("checkpoints").meta({
    arg: "DIR",
    help:
      "holding baseline/, symmetric/, … (default {default}): every checkpoint found is exported",
  }),
  format: z.enum(["onnx"]).default("onnx").meta({
    help: "ONNX (opset 13): one model.onnx per checkpoint",
  }),
  out: z.string().min(1).optional().meta({
    arg: "DIR",
    help:
      "write DIR/<model>/model.onnx (default: beside each checkpoint, <checkpoints>/<model>/model.onnx)",
  }),
});

/** One file written by {@linkcode exportCheckpoints}. */
export interface ExportedFile {
  model: string;
  path: string;
  bytes: number;
  nodes: number;
}

/**
 * Writes `<out>/<model>/model.onnx` for each model (beside its checkpoint when `out` is not
 * given), each through a temporary file renamed into place, and logs one line per file.
 *
 * @example
 * ```ts ignore
 * // not run: needs checkpoints written by `deno task train`
 * const files = await exportCheckpoints(await loadModels("checkpoints"), "onnx", console.log);
 * files[0].path; // "onnx/baseline/model.onnx"
 * ```
 */
export async function exportCheckpoints(
  models: LoadedModel[],
  out?: string,
  log: (line: string) => void = () => {},
): Promise<ExportedFile[]> {
  const files: ExportedFile[] = [];
  for (const m of models) {
    const [height, width] = m.inputSize;
    const bytes = toOnnx(m.model, {
      height,
      width,
      name: m.name,
      metadata: {
        model: m.name,
        group: MODELS[m.name].group,
        preset: m.meta.config.preset,
        dataset: m.meta.dataset.name,
        classNames: JSON.stringify(m.meta.dataset.classNames),
        epoch: String(m.meta.epoch),
        weightsSha256: m.meta.weightsSha256,
        input: `NHWC float32 in [0, 1], [N, ${height}, ${width}, ${m.channels}]`,
      },
    });
    const dir = out === undefined ? m.dir : `${out}/${m.name}`;
    await Deno.mkdir(dir, { recursive: true });
    const path = `${dir}/model.onnx`;
    const temp = `${path}.tmp-${crypto.randomUUID()}`;
    await Deno.writeFile(temp, bytes);
    await Deno.rename(temp, path);
    const nodes = onnx.ModelProto.decode(bytes).graph?.node?.length ?? 0;
    files.push({ model: m.name, path, bytes: bytes.length, nodes });
    log(
      `${m.name}: ${path} (${bytes.length} bytes, ${nodes} nodes, input [N, ${height}, ${width}, ${m.channels}])`,
    );
  }
  return files;
}
