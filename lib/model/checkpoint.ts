/**
 * Checkpoints: `<dir>/model.json` (tfjs layers format, custom layers registered by
 * layers/mod.ts), `<dir>/weights.bin`, `<dir>/meta.json` (dataset, class names, config, epoch,
 * metrics history, backend, created-at, SHA-256 of weights.bin), `<dir>/metrics.jsonl` (one
 * line per epoch) and, for resuming, `<dir>/optimizer.bin` + its spec in meta.json.
 *
 * Atomicity: a new checkpoint is written completely into `<dir>.tmp`, then `<dir>` is renamed
 * to `<dir>.old`, `<dir>.tmp` to `<dir>`, and `<dir>.old` removed. A kill at any moment leaves
 * either `<dir>` or `<dir>.old` complete; {@linkcode loadCheckpoint} recovers from `.old`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "../../layers/mod.ts";
import { z } from "zod";
import type { FolderSplitRecord } from "../data/types.ts";
import type { Provenance } from "../provenance.ts";
import { parseWith } from "../validate.ts";
import {
  buildModel,
  countParams,
  MODEL_NAMES,
  type ModelConfig,
  type ModelName,
  parseModelConfig,
} from "./models.ts";

/** One epoch's metrics, as printed and appended to metrics.jsonl. */
export type EpochMetrics = Record<string, number | string | null>;

/** What meta.json holds. */
export interface CheckpointMeta {
  format: "symlab-checkpoint/1";
  model: string;
  config: ModelConfig;
  /** `split`: how a folder dataset was split (lib/data/folder.ts), so evaluation reuses it. */
  dataset: {
    name: string;
    source: string;
    classNames: string[];
    reason?: string;
    split?: FolderSplitRecord;
  };
  epoch: number;
  history: EpochMetrics[];
  backend: string;
  createdAt: string;
  weightsSha256: string;
  params: number;
  /** The trainer's record (lib/train/options.ts: TrainingMetaSchema). */
  training?: Record<string, unknown>;
  /** What made it (lib/provenance.ts). */
  provenance?: Provenance;
  optimizer?: { name: string; specs: { name: string; shape: number[] }[]; sha256: string };
}

/** A refused checkpoint; the message names the file and what was wrong. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

/** Hex SHA-256 of bytes. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function concatBuffers(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  if (!Array.isArray(data)) return new Uint8Array(data);
  const out = new Uint8Array(data.reduce((s, b) => s + b.byteLength, 0));
  let offset = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out;
}

/** What saveCheckpoint needs besides the model. */
export interface SaveOptions {
  meta: Omit<CheckpointMeta, "format" | "weightsSha256" | "createdAt" | "optimizer">;
  /** Optimizer state for --resume (tfjs `optimizer.getWeights()`). */
  optimizer?: tf.Optimizer;
}

/**
 * Writes a checkpoint atomically (see module doc). Returns the weights' SHA-256.
 *
 * @example
 * ```ts ignore
 * // not run: needs a trained model and its meta (`deno task train` writes both)
 * await saveCheckpoint("checkpoints/symmetric", model, { meta });
 * ```
 */
export async function saveCheckpoint(
  dir: string,
  model: tf.LayersModel,
  options: SaveOptions,
): Promise<string> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler((a) => {
    artifacts = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  if (!artifacts?.weightData || !artifacts.weightSpecs) {
    throw new CheckpointError(`Could not serialise the model for ${dir}`);
  }
  const weights = concatBuffers(artifacts.weightData as ArrayBuffer | ArrayBuffer[]);
  const weightsSha256 = await sha256(weights);
  const meta: CheckpointMeta = {
    format: "symlab-checkpoint/1",
    ...options.meta,
    createdAt: new Date().toISOString(),
    weightsSha256,
  };
  let optimizerBytes: Uint8Array | undefined;
  if (options.optimizer) {
    const named = await options.optimizer.getWeights();
    // All as float32 (the iteration counter may be int32): one dtype in optimizer.bin.
    const values = await Promise.all(
      named.map(async (w) => Float32Array.from(await w.tensor.data())),
    );
    // getWeights() makes a fresh tensor for the iteration count; the rest are its variables.
    for (const w of named) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
    optimizerBytes = concatBuffers(values.map((v) => v.buffer as ArrayBuffer));
    meta.optimizer = {
      name: options.optimizer.getClassName(),
      specs: named.map((w) => ({ name: w.name, shape: w.tensor.shape })),
      sha256: await sha256(optimizerBytes),
    };
  }
  const modelJson = {
    format: "layers-model",
    generatedBy: "symlab",
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs }],
  };
  const tmp = `${dir}.tmp`;
  const old = `${dir}.old`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  await Deno.writeTextFile(`${tmp}/model.json`, JSON.stringify(modelJson));
  await Deno.writeFile(`${tmp}/weights.bin`, weights);
  if (optimizerBytes) await Deno.writeFile(`${tmp}/optimizer.bin`, optimizerBytes);
  await Deno.writeTextFile(
    `${tmp}/metrics.jsonl`,
    meta.history.map((m) => JSON.stringify(m)).join("\n") + (meta.history.length ? "\n" : ""),
  );
  await Deno.writeTextFile(`${tmp}/meta.json`, JSON.stringify(meta, null, 2));
  if (await exists(dir)) {
    await Deno.remove(old, { recursive: true }).catch(() => {});
    await Deno.rename(dir, old);
  }
  await Deno.rename(tmp, dir);
  await Deno.remove(old, { recursive: true }).catch(() => {});
  return weightsSha256;
}

/** A loaded checkpoint. */
export interface LoadedCheckpoint {
  dir: string;
  model: tf.LayersModel;
  meta: CheckpointMeta;
  /** Optimizer state (name + tensors) if the checkpoint has one; caller owns the tensors. */
  optimizerState?: { name: string; weights: { name: string; tensor: tf.Tensor }[] };
}

async function readFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CheckpointError(`${path}: file not found (expected a symlab checkpoint here)`);
    }
    throw new CheckpointError(`${path}: cannot read (${(e as Error).message})`);
  }
}

function parseJson<T>(path: string, bytes: Uint8Array): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new CheckpointError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** The parts of a tfjs `model.json` that loading relies on. */
const ModelJsonSchema = z.object({
  modelTopology: z.record(z.string(), z.unknown()),
  weightsManifest: z.array(z.object({
    weights: z.array(z.object({
      name: z.string(),
      shape: z.array(z.number().int().min(0)),
      dtype: z.literal("float32"),
    })),
  })).min(1),
});

/**
 * Where a model rebuilt from `config` differs from the loaded one (weight count or a weight's
 * shape), or undefined when they agree: a meta.json copied beside another model.json is caught
 * here even when both files are valid on their own.
 */
function configMismatch(config: ModelConfig, loaded: tf.LayersModel): string | undefined {
  const fresh = buildModel(config);
  try {
    const want = fresh.weights.map((w) => w.shape);
    const got = loaded.weights.map((w) => w.shape);
    if (want.length !== got.length) {
      return `expected ${want.length} weight tensors for ${config.model}/${config.preset}, model.json has ${got.length}`;
    }
    const i = want.findIndex((s, i) => s.join("×") !== got[i].join("×"));
    if (i >= 0) {
      return `weight ${loaded.weights[i].originalName}: expected shape [${
        want[i]
      }] for ${config.model}/${config.preset}, model.json has [${got[i]}]`;
    }
    return undefined;
  } finally {
    fresh.dispose();
  }
}

/**
 * Loads and verifies a checkpoint; refuses a corrupt or mismatched one with a message naming
 * the file. Recovers from an interrupted save (`<dir>.old`).
 *
 * @example
 * ```ts ignore
 * // not run: needs a checkpoint written by `deno task train`
 * const { model, meta } = await loadCheckpoint("checkpoints/symmetric");
 * ```
 */
export async function loadCheckpoint(
  dir: string,
  options: { withOptimizer?: boolean } = {},
): Promise<LoadedCheckpoint> {
  if (!(await exists(`${dir}/meta.json`)) && (await exists(`${dir}.old/meta.json`))) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.rename(`${dir}.old`, dir);
  }
  const metaPath = `${dir}/meta.json`;
  const meta = parseJson<CheckpointMeta>(metaPath, await readFile(metaPath));
  if (meta.format !== "symlab-checkpoint/1") {
    throw new CheckpointError(
      `${metaPath}: expected format "symlab-checkpoint/1", got ${JSON.stringify(meta.format)}`,
    );
  }
  try {
    meta.config = parseModelConfig(meta.config);
  } catch (e) {
    throw new CheckpointError(`${metaPath}: ${(e as Error).message}`);
  }
  const modelPath = `${dir}/model.json`;
  const modelJson = parseWith(
    ModelJsonSchema,
    parseJson<unknown>(modelPath, await readFile(modelPath)),
    `${modelPath}: expected a tfjs layers model`,
    CheckpointError,
  );
  const specs = modelJson.weightsManifest.flatMap((g) => g.weights);
  const weightsPath = `${dir}/weights.bin`;
  const weights = await readFile(weightsPath);
  const expectedBytes = specs.reduce((s, w) => s + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
  if (weights.length !== expectedBytes) {
    throw new CheckpointError(
      `${weightsPath}: expected ${expectedBytes} bytes (float32 weights listed in model.json), found ${weights.length}` +
        (weights.length < expectedBytes ? " (truncated)" : ""),
    );
  }
  const hash = await sha256(weights);
  if (hash !== meta.weightsSha256) {
    throw new CheckpointError(
      `${weightsPath}: SHA-256 ${hash.slice(0, 12)}… does not match meta.json's ${
        String(meta.weightsSha256).slice(0, 12)
      }… (corrupt or from another checkpoint)`,
    );
  }
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: specs as tf.io.WeightsManifestEntry[],
      weightData: weights.slice().buffer as ArrayBuffer,
    }));
  } catch (e) {
    throw new CheckpointError(`${modelPath}: cannot rebuild the model (${(e as Error).message})`);
  }
  const mismatch = configMismatch(meta.config, model);
  if (mismatch) {
    model.dispose();
    throw new CheckpointError(`${metaPath}: its config does not match model.json: ${mismatch}`);
  }
  const loaded: LoadedCheckpoint = { dir, model, meta };
  if (options.withOptimizer && meta.optimizer) {
    const path = `${dir}/optimizer.bin`;
    const bytes = await readFile(path);
    const expectedFloats = meta.optimizer.specs.reduce(
      (n, spec) => n + spec.shape.reduce((a, b) => a * b, 1),
      0,
    );
    if (bytes.length !== 4 * expectedFloats) {
      throw new CheckpointError(
        `${path}: expected ${
          4 * expectedFloats
        } bytes (the optimizer state listed in meta.json), found ${bytes.length}` +
          (bytes.length < 4 * expectedFloats ? " (truncated)" : ""),
      );
    }
    if ((await sha256(bytes)) !== meta.optimizer.sha256) {
      throw new CheckpointError(`${path}: SHA-256 does not match meta.json (corrupt)`);
    }
    const floats = new Float32Array(bytes.slice().buffer);
    let offset = 0;
    const named = meta.optimizer.specs.map((s) => {
      const size = s.shape.reduce((a, b) => a * b, 1);
      const t = tf.tensor(floats.subarray(offset, offset + size), s.shape);
      offset += size;
      return { name: s.name, tensor: t };
    });
    if (offset !== floats.length) {
      throw new CheckpointError(`${path}: expected ${offset} floats, found ${floats.length}`);
    }
    loaded.optimizerState = { name: meta.optimizer.name, weights: named };
  }
  return loaded;
}

/** A checkpoint loaded for inference (served, evaluated, or compared in an experiment). */
export interface LoadedModel {
  name: ModelName;
  model: tf.LayersModel;
  meta: CheckpointMeta;
  dir: string;
  /** Input size [H, W] that uploads are resized to (see {@linkcode servedInputSize}). */
  inputSize: [number, number];
  /** 1 (grey, e.g. Fashion-MNIST) or 3 (RGB): uploads are converted to this. */
  channels: 1 | 3;
  params: number;
}

/** Side used when a checkpoint records no input size (CIFAR's 32×32). */
export const DEFAULT_INPUT_SIDE = 32;

/**
 * The size uploads are resized to: the fixed input shape of the model config if it has one,
 * else the size the model was trained at (`meta.training.inputSize`, written by lib/train/train.ts),
 * else 32×32. Returns where the size came from, for the start-up log.
 *
 * @example
 * ```ts ignore
 * // not run: needs a checkpoint written by `deno task train`
 * const { size, source } = servedInputSize(meta); // [32, 32], "meta.training.inputSize"
 * ```
 */
export function servedInputSize(
  meta: CheckpointMeta,
): { size: [number, number]; source: string } {
  const [h, w] = meta.config.inputShape;
  if (h && w) return { size: [h, w], source: "meta.config.inputShape" };
  const trained = (meta.training as { inputSize?: unknown } | undefined)?.inputSize;
  if (
    Array.isArray(trained) && trained.length === 2 &&
    trained.every((v) => Number.isInteger(v) && v > 0)
  ) {
    return { size: [trained[0], trained[1]], source: "meta.training.inputSize" };
  }
  return {
    size: [DEFAULT_INPUT_SIDE, DEFAULT_INPUT_SIDE],
    source: "assumed: meta.json records no input size",
  };
}

/**
 * Loads `<dir>/baseline` and `<dir>/symmetric`, whichever exist. Throws {@linkcode CheckpointError}
 * when neither does, and the checkpoint's own error (naming the file) when one is corrupt.
 *
 * @example
 * ```ts ignore
 * // not run: needs checkpoints written by `deno task train`
 * const models = await loadModels("checkpoints", console.log);
 * models.map((m) => m.name); // ["baseline", "symmetric"]
 * ```
 */
export async function loadModels(
  dir: string,
  log: (line: string) => void = () => {},
): Promise<LoadedModel[]> {
  const out: LoadedModel[] = [];
  const missing: string[] = [];
  for (const name of MODEL_NAMES) {
    const path = `${dir}/${name}`;
    try {
      await Deno.stat(`${path}/meta.json`);
    } catch {
      missing.push(path);
      continue;
    }
    const { model, meta } = await loadCheckpoint(path);
    const channels = meta.config.inputShape[2];
    if (channels !== 1 && channels !== 3) {
      throw new CheckpointError(
        `${path}/meta.json: expected a model with 1 or 3 input channels, got ${channels}`,
      );
    }
    const { size, source } = servedInputSize(meta);
    out.push({
      name,
      model,
      meta,
      dir: path,
      inputSize: size,
      channels,
      params: countParams(model),
    });
    log(
      `loaded ${name} from ${path} (${meta.dataset.name}, epoch ${meta.epoch}, input ${
        size.join("×")
      }×${channels} from ${source})`,
    );
  }
  if (out.length === 0) {
    throw new CheckpointError(
      `no checkpoints found: expected ${missing.join(" and/or ")} (train with deno task train)`,
    );
  }
  return out;
}
