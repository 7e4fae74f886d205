/**
 * The two models compared by the paper, built from one zod-validated config:
 *
 * - **baseline**: stages of (conv3×3 → batch norm → ReLU) × convsPerStage, a 2× max-pool
 *   between stages, then a head.
 * - **symmetric**: the same with a lifting conv first, P4 group convs and P4 batch norm after,
 *   and a rotation-invariant head: P4 spatial pyramid pooling (`spp`) or group max-pool +
 *   global average pool (`gap`, the PyTorch reference trunk).
 *
 * A P4 layer with C filters has C·4 channels, so at equal parameters the symmetric model has
 * half the widths of the baseline and about four times its convolution FLOPs (docs/design.md).
 * Both output **logits**; apply softmax for probabilities.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import {
  BatchNorm,
  P4BatchNorm,
  P4Conv2D,
  P4LiftConv2D,
  P4Pool,
  P4SpatialPyramidPool,
  SpatialPyramidPool,
  Standardize,
  SymmetricMaxPool2D,
  Z2Conv2D,
} from "../../layers/mod.ts";

/** The two model families. */
export const MODEL_NAMES = ["baseline", "symmetric"] as const;
export type ModelName = typeof MODEL_NAMES[number];

const positiveInt = z.number().int().positive();

/** Everything needed to rebuild a model; stored in every checkpoint's meta.json. */
export const ModelConfigSchema = z.object({
  model: z.enum(MODEL_NAMES),
  preset: z.string(),
  widths: z.array(positiveInt).min(1),
  convsPerStage: positiveInt,
  kernelSize: positiveInt.refine((k) => k % 2 === 1, "kernelSize must be odd"),
  head: z.enum(["spp", "gap"]),
  sppLevels: z.array(positiveInt).min(1),
  numClasses: z.number().int().min(2),
  inputShape: z.tuple([positiveInt.nullable(), positiveInt.nullable(), positiveInt]),
  normalization: z.object({ mean: z.array(z.number()), std: z.array(z.number().positive()) }),
  bnMomentum: z.number().min(0).max(1),
  /** Seed of the weight initializers; layer i uses seed·1000 + i. */
  seed: z.number().int().min(0).default(0),
});
export type ModelConfig = z.infer<typeof ModelConfigSchema>;

/** A preset: widths per model family and the shared recipe. */
export interface Preset {
  description: string;
  widths: Record<ModelName, number[]>;
  convsPerStage: number;
  head: "spp" | "gap";
  sppLevels: number[];
}

/**
 * Named presets. Symmetric widths are half the baseline's so that parameter counts match
 * (a P4 conv with C filters has 4·C channels and 4× the kernel of an ordinary conv).
 */
export const presets: Record<string, Preset> = {
  tiny: {
    description: "for tests: two stages of one conv, trains a step in well under a second",
    widths: { baseline: [8, 16], symmetric: [4, 8] },
    convsPerStage: 1,
    head: "spp",
    sppLevels: [1, 2],
  },
  small: {
    description:
      "the default: CPU-sized (a quarter of the reference trunk's FLOPs), three stages of two convs, SPP head {1, 2, 4}",
    widths: { baseline: [16, 32, 64], symmetric: [8, 16, 32] },
    convsPerStage: 2,
    head: "spp",
    sppLevels: [1, 2, 4],
  },
  paper: {
    description: "larger, for a GPU: three stages of three convs, SPP head {1, 2, 4}",
    widths: { baseline: [64, 128, 256], symmetric: [32, 64, 128] },
    convsPerStage: 3,
    head: "spp",
    sppLevels: [1, 2, 4],
  },
  reference: {
    description:
      "exactly the trunks of bench/torch_reference.py (global average pool + linear head), the speed yardstick",
    widths: { baseline: [32, 64, 128], symmetric: [16, 32, 64] },
    convsPerStage: 2,
    head: "gap",
    sppLevels: [1],
  },
};

/** Options of {@linkcode createModel}. */
export interface CreateModelOptions {
  preset?: string;
  numClasses?: number;
  inputShape?: [number | null, number | null, number];
  /** Per-channel input statistics (of [0, 1] pixels); default mean 0.5, std 0.25. */
  normalization?: { mean: number[]; std: number[] };
  /** Seed of the weight initializers (default 0): same seed, same initial weights. */
  seed?: number;
}

/** Thrown for a config that does not validate; the message names the field. */
export class ModelConfigError extends Error {
  override name = "ModelConfigError";
}

/** Builds and validates the full config of a model from a preset name and options. */
export function modelConfig(name: ModelName, options: CreateModelOptions = {}): ModelConfig {
  const presetName = options.preset ?? "small";
  const preset = Object.hasOwn(presets, presetName) ? presets[presetName] : undefined;
  if (!preset) {
    throw new ModelConfigError(
      `Unknown preset "${presetName}": expected one of ${Object.keys(presets).join(", ")}`,
    );
  }
  const inputShape = options.inputShape ?? [null, null, 3];
  const channels = inputShape[2];
  return parseModelConfig({
    model: name,
    preset: presetName,
    widths: preset.widths[name as ModelName],
    convsPerStage: preset.convsPerStage,
    kernelSize: 3,
    head: preset.head,
    sppLevels: preset.sppLevels,
    numClasses: options.numClasses ?? 100,
    inputShape,
    normalization: options.normalization ??
      { mean: Array(channels).fill(0.5), std: Array(channels).fill(0.25) },
    bnMomentum: 0.9,
    seed: options.seed ?? 0,
  });
}

/** Validates a config with zod; errors name the offending field. */
export function parseModelConfig(raw: unknown): ModelConfig {
  const parsed = ModelConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelConfigError(
      `Invalid model config: ${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
  }
  const config = parsed.data;
  const c = config.inputShape[2];
  if (config.normalization.mean.length !== c || config.normalization.std.length !== c) {
    throw new ModelConfigError(
      `Invalid model config: normalization: expected ${c} means and stds (one per input channel)`,
    );
  }
  return config;
}

/** Builds a model from a validated config. */
export function buildModel(config: ModelConfig): tf.LayersModel {
  const sym = config.model === "symmetric";
  const model = tf.sequential({ name: config.model });
  let layerIndex = 0;
  const seed = () => config.seed * 1000 + layerIndex++;
  model.add(new Standardize({ ...config.normalization, inputShape: config.inputShape }));
  config.widths.forEach((width, stage) => {
    for (let i = 0; i < config.convsPerStage; i++) {
      const first = stage === 0 && i === 0;
      const args = {
        filters: width,
        kernelSize: config.kernelSize,
        padding: "same" as const,
        seed: seed(),
      };
      if (sym) {
        model.add(first ? new P4LiftConv2D(args) : new P4Conv2D(args));
        model.add(new P4BatchNorm({ momentum: config.bnMomentum, epsilon: 1e-5 }));
      } else {
        model.add(new Z2Conv2D(args));
        model.add(new BatchNorm({ momentum: config.bnMomentum, epsilon: 1e-5 }));
      }
      model.add(tf.layers.reLU());
    }
    if (stage < config.widths.length - 1) model.add(new SymmetricMaxPool2D({}));
  });
  if (config.head === "gap") {
    if (sym) model.add(new P4Pool({ mode: "max" }));
    model.add(tf.layers.globalAveragePooling2d({}));
  } else if (sym) {
    // Max and mean over each orbit: invariant, and as long as the baseline's SPP vector
    // (2·C/2 = C per bin), so both heads have the same number of parameters.
    model.add(new P4SpatialPyramidPool({ levels: config.sppLevels, reduce: "max+mean" }));
  } else {
    model.add(new SpatialPyramidPool({ levels: config.sppLevels }));
  }
  if (config.head === "spp") {
    // The SPP vector has thousands of unnormalised max-pooled entries (‖f‖² ≈ 10⁴): without
    // this, SGD at lr 0.05 diverged on the head (measured). Per-feature affine maps keep the
    // symmetric model's features invariant.
    model.add(new BatchNorm({ momentum: config.bnMomentum, epsilon: 1e-5 }));
  }
  model.add(tf.layers.dense({
    units: config.numClasses,
    name: "logits",
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed() }),
  }));
  return model;
}

/**
 * Creates a baseline or symmetric model (outputs logits).
 *
 * @example
 * ```ts
 * const model = createModel("symmetric", { preset: "tiny", numClasses: 10 });
 * const logits = model.predict(tf.zeros([1, 32, 32, 3])) as tf.Tensor; // [1, 10]
 * ```
 */
export function createModel(name: ModelName, options: CreateModelOptions = {}): tf.LayersModel {
  if (!(MODEL_NAMES as readonly string[]).includes(name)) {
    throw new ModelConfigError(`Unknown model "${name}": expected baseline or symmetric`);
  }
  return buildModel(modelConfig(name, options));
}

/** Number of trainable parameters (what PyTorch counts; BN moving statistics excluded). */
export function countParams(model: tf.LayersModel): number {
  return model.trainableWeights.reduce(
    (s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1),
    0,
  );
}

/** Smallest input side a config accepts: each pool halves (rounding up), SPP needs ≥ L. */
export function minInputSize(config: ModelConfig): number {
  const need = config.head === "spp" ? Math.max(...config.sppLevels) : 1;
  let n = need;
  for (let i = 1; i < config.widths.length; i++) n = 2 * n - 1;
  return Math.max(n, 1);
}
