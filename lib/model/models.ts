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
import * as L from "../../layers/mod.ts";
import { type Group, P4, P4M, Z2 } from "../../layers/group.ts";
import { SCALE_DEFAULTS } from "../../layers/scale_basis.ts";

/**
 * The model families: `baseline` and `symmetric` (the paper's), then `p4m` (turns and
 * mirrors), `scale` (a scale-equivariant trunk) and `rotscale` (turns and scales together).
 * Each is built by its entry in {@linkcode MODELS}.
 */
export const MODEL_NAMES = ["baseline", "symmetric", "p4m", "scale", "rotscale"] as const;
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
  /** Scale layers of `scale` and `rotscale` (absent for the others; see SCALE_MODEL). */
  scale: z.object({
    sigmas: z.array(z.number().positive()).min(1),
    kernelSize: positiveInt.refine((k) => k % 2 === 1, "scale.kernelSize must be odd"),
    basisOrder: z.number().int().min(0),
    window: positiveInt,
  }).optional(),
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
 * The scale layers of the `scale` and `rotscale` models: SCALE_DEFAULTS (3 scales σ₀ = 0.9 px
 * apart by √2, 7×7 kernels, 9 basis functions) with a window of 1 scale in the scale-to-scale
 * convs: a window W > 1 loses equivariance at W − 1 more scales per layer at the end of the
 * range (measured in docs/results/equivariance.md), which three scales cannot afford.
 */
export const SCALE_MODEL = {
  sigmas: [...SCALE_DEFAULTS.sigmas],
  kernelSize: SCALE_DEFAULTS.kernelSize,
  basisOrder: SCALE_DEFAULTS.basisOrder,
  window: 1,
};

/**
 * Every family's widths from the baseline's: a P4 conv with C filters has 4·C channels and 4×
 * the kernel of an ordinary conv (half the widths), a p4m conv 8× (widths ≈ 1/√8, rounded so the
 * total matches: `p4m`, given); a scale conv with window 1 has 9 coefficients per (input, output)
 * pair like a 3×3 kernel (the baseline's widths) and rotscale the P4 count (the symmetric widths).
 */
function familyWidths(baseline: number[], p4m: number[]): Record<ModelName, number[]> {
  const half = baseline.map((w) => w / 2);
  return { baseline, symmetric: half, p4m, scale: [...baseline], rotscale: [...half] };
}

/** A preset of `convsPerStage` convs per stage, the SPP head at `sppLevels` or global pooling. */
function preset(
  description: string,
  widths: Record<ModelName, number[]>,
  convsPerStage: number,
  head: Preset["head"],
  sppLevels: number[],
): Preset {
  return { description, widths, convsPerStage, head, sppLevels };
}

/**
 * Named presets, with parameter counts within 10% of the baseline's in every family
 * ({@linkcode familyWidths}). The p4m widths were fitted (by counting, see
 * tests/models_test.ts) so that both 10 and 100 classes stay within 10%: the p4m head vector
 * (max + mean per bin) is 2·C per bin against the baseline's C, which moves the balance with the
 * class count.
 */
export const presets: Record<string, Preset> = {
  tiny: preset(
    "for tests: two stages of one conv, trains a step in well under a second",
    familyWidths([8, 16], [3, 7]),
    1,
    "spp",
    [1, 2],
  ),
  small: preset(
    "the default: CPU-sized (a quarter of the reference trunk's FLOPs), three stages of two convs, SPP head {1, 2, 4}",
    familyWidths([16, 32, 64], [6, 10, 26]),
    2,
    "spp",
    [1, 2, 4],
  ),
  paper: preset(
    "larger, for a GPU: three stages of three convs, SPP head {1, 2, 4}",
    familyWidths([64, 128, 256], [23, 46, 92]),
    3,
    "spp",
    [1, 2, 4],
  ),
  reference: preset(
    "exactly the trunks of bench/torch_reference.py (global average pool + linear head), the speed yardstick",
    familyWidths([32, 64, 128], [12, 23, 46]),
    2,
    "gap",
    [1],
  ),
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
    ...(MODELS[name].scales ? { scale: structuredClone(SCALE_MODEL) } : {}),
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

/** How one model family is built from a config: its stages' blocks and its head. */
export interface ModelBuilder {
  /** The symmetries built into the layers, in words, as `/models` and reports show them. */
  group: string;
  /**
   * The group whose every element the model is exactly invariant to (layers/group.ts): its
   * layers are equivariant to it and its head reduces over it; Z2 when only translations are
   * built in exactly (the scale family's scales are approximate).
   */
  exact: Group;
  /** Whether the config carries `scale` (the scale layers' settings). */
  scales: boolean;
  /** Adds conv → batch norm for one block; `first` is the model's first conv. */
  block(model: tf.Sequential, config: ModelConfig, args: BlockArgs, first: boolean): void;
  /** Adds the invariant head up to the feature vector (before the head BN and the logits). */
  head(model: tf.Sequential, config: ModelConfig): void;
}

/** The arguments every conv of a model gets. */
export interface BlockArgs {
  filters: number;
  kernelSize: number;
  padding: "same";
  seed: number;
}

const bn = (config: ModelConfig) => ({ momentum: config.bnMomentum, epsilon: 1e-5 });

/** Scale-layer arguments of a config (`rotations` 1 for `scale`, 4 for `rotscale`). */
function scaleArgs(config: ModelConfig, rotations: 1 | 4) {
  const s = config.scale;
  if (!s) throw new ModelConfigError(`Invalid model config: scale: required for "${config.model}"`);
  return { sigmas: s.sigmas, basisOrder: s.basisOrder, kernelSize: s.kernelSize, rotations };
}

/** The layer classes of a family built exactly equivariant to one group. */
interface EquivariantLayers {
  lift: new (args: BlockArgs) => tf.layers.Layer;
  conv: new (args: BlockArgs) => tf.layers.Layer;
  norm: new (args: L.BatchNormArgs) => tf.layers.Layer;
  pool: new (args: L.GroupPoolArgs) => tf.layers.Layer;
  pyramid: new (args: L.GroupPyramidPoolArgs) => tf.layers.Layer;
}

/**
 * A family equivariant to `group`: a lifting conv first, group convs after, each followed by
 * the group's batch norm; the head pools the group away, by group pooling + global average
 * pooling (`gap`) or the group's invariant pyramid pool with max and mean over each orbit.
 */
function equivariantFamily(group: Group, layers: EquivariantLayers): ModelBuilder {
  return {
    group: group.label,
    exact: group,
    scales: false,
    block(model, config, args, first) {
      model.add(first ? new layers.lift(args) : new layers.conv(args));
      model.add(new layers.norm(bn(config)));
    },
    head(model, config) {
      if (config.head === "gap") {
        model.add(new layers.pool({ mode: "max" }));
        model.add(tf.layers.globalAveragePooling2d({}));
      } else {
        // Max and mean over each orbit: invariant, and for p4 as long as the baseline's SPP
        // vector (2·C/2 = C per bin), so both heads have the same number of parameters.
        model.add(new layers.pyramid({ levels: config.sppLevels, reduce: "max+mean" }));
      }
    },
  };
}

/**
 * A scale-equivariant family (SESN's scale layers), with the turns of `turns` exact too (Z2:
 * none, 1 rotation; P4: rotscale's 4): then its scales are max-pooled away and `head`'s family
 * head takes the map that is left.
 */
function scaleFamily(group: string, turns: Group, head: ModelName): ModelBuilder {
  const rotations = turns.order as 1 | 4;
  return {
    group,
    exact: turns,
    scales: true,
    block(model, config, args, first) {
      const s = scaleArgs(config, rotations);
      const conv = { ...args, ...s };
      model.add(
        first
          ? new L.ScaleLiftConv2D(conv)
          : new L.ScaleConv2D({ ...conv, window: config.scale!.window }),
      );
      model.add(new L.ScaleBatchNorm({ ...bn(config), scales: s.sigmas.length, rotations }));
    },
    head(model, config) {
      model.add(new L.ScalePool({ scales: config.scale!.sigmas.length, rotations }));
      MODELS[head].head(model, config);
    },
  };
}

/**
 * The registry: one builder per family. Every family shares the recipe of
 * {@linkcode buildModel} (standardise, stages of blocks + ReLU with a symmetric 2× max-pool
 * between stages, an invariant head, BN, dense logits) and differs only in its layers.
 */
export const MODELS: Record<ModelName, ModelBuilder> = {
  baseline: {
    group: Z2.label,
    exact: Z2,
    scales: false,
    block(model, config, args) {
      model.add(new L.Z2Conv2D(args));
      model.add(new L.BatchNorm(bn(config)));
    },
    head(model, config) {
      if (config.head === "gap") model.add(tf.layers.globalAveragePooling2d({}));
      else model.add(new L.SpatialPyramidPool({ levels: config.sppLevels }));
    },
  },
  symmetric: equivariantFamily(P4, {
    lift: L.P4LiftConv2D,
    conv: L.P4Conv2D,
    norm: L.P4BatchNorm,
    pool: L.P4Pool,
    pyramid: L.P4SpatialPyramidPool,
  }),
  p4m: equivariantFamily(P4M, {
    lift: L.P4mLiftConv2D,
    conv: L.P4mConv2D,
    norm: L.P4mBatchNorm,
    pool: L.P4mPool,
    pyramid: L.P4mSpatialPyramidPool,
  }),
  // Max over scales (SESN's projection), then the baseline's head on the invariant map.
  scale: scaleFamily("scale (3 scales, approximate)", Z2, "baseline"),
  // Max over scales leaves a P4 map: then the symmetric model's rotation-invariant head.
  rotscale: scaleFamily("p4 × scale (90° turns exact, scales approximate)", P4, "symmetric"),
};

/** Builds a model from a validated config. */
export function buildModel(config: ModelConfig): tf.LayersModel {
  const builder = MODELS[config.model];
  const model = tf.sequential({ name: config.model });
  let layerIndex = 0;
  const seed = () => config.seed * 1000 + layerIndex++;
  model.add(new L.Standardize({ ...config.normalization, inputShape: config.inputShape }));
  config.widths.forEach((width, stage) => {
    for (let i = 0; i < config.convsPerStage; i++) {
      const first = stage === 0 && i === 0;
      const args = {
        filters: width,
        kernelSize: config.kernelSize,
        padding: "same" as const,
        seed: seed(),
      };
      builder.block(model, config, args, first);
      model.add(tf.layers.reLU());
    }
    if (stage < config.widths.length - 1) model.add(new L.SymmetricMaxPool2D({}));
  });
  builder.head(model, config);
  if (config.head === "spp") {
    // The SPP vector has thousands of unnormalised max-pooled entries (‖f‖² ≈ 10⁴): without
    // this, SGD at lr 0.05 diverged on the head (measured). Per-feature affine maps keep the
    // symmetric model's features invariant.
    model.add(new L.BatchNorm({ momentum: config.bnMomentum, epsilon: 1e-5 }));
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
 * import * as tf from "@tensorflow/tfjs";
 * const model = createModel("symmetric", { preset: "tiny", numClasses: 10 });
 * const logits = model.predict(tf.zeros([1, 32, 32, 3])) as tf.Tensor; // [1, 10]
 * ```
 */
export function createModel(name: ModelName, options: CreateModelOptions = {}): tf.LayersModel {
  if (!(MODEL_NAMES as readonly string[]).includes(name)) {
    throw new ModelConfigError(
      `Unknown model "${name}": expected one of ${MODEL_NAMES.join(", ")}`,
    );
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
