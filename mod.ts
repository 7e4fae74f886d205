/**
 * symlab: symmetry-enforced CNNs (P4 group convolutions + spatial pyramid pooling) against a
 * standard CNN, in TensorFlow.js on Deno. This module is the scriptable API.
 *
 * @example
 * ```ts
 * import { createModel, rot90, setBackend } from "./mod.ts";
 * import * as tf from "@tensorflow/tfjs";
 * console.log(await setBackend("auto"));
 * const model = createModel("symmetric", { preset: "tiny", numClasses: 10 });
 * const x = tf.randomUniform([1, 32, 32, 3]) as tf.Tensor4D;
 * const p = tf.softmax(model.predict(x) as tf.Tensor);
 * const q = tf.softmax(model.predict(rot90(x, 1)) as tf.Tensor); // equals p
 * ```
 *
 * @module
 */
export { BACKEND_NAMES, BackendError, setBackend } from "./lib/kernels/backend.ts";
export type { BackendChoice, BackendName } from "./lib/kernels/backend.ts";
export {
  DEFAULT_NATIVE_THRESHOLDS,
  installKernels,
  nativeCallStats,
  nativeStatus,
  nativeThresholds,
  resetNativeCallStats,
  setNativeEnabled,
  setNativeThresholds,
} from "./lib/kernels/mod.ts";
export type { KernelOptions, NativeStatus, NativeThresholds } from "./lib/kernels/mod.ts";
export { actImage, actMap, groupNamed, GROUPS, mod4, rot90, rotP4 } from "./layers/group.ts";
export type { Group, GroupName } from "./layers/group.ts";
export {
  buildModel,
  countParams,
  createModel,
  MODEL_NAMES,
  modelConfig,
  ModelConfigError,
  parseModelConfig,
  presets,
} from "./lib/model/models.ts";
export type { CreateModelOptions, ModelConfig, ModelName, Preset } from "./lib/model/models.ts";
export {
  CheckpointError,
  loadCheckpoint,
  loadModels,
  saveCheckpoint,
} from "./lib/model/checkpoint.ts";
export type { CheckpointMeta, LoadedCheckpoint, LoadedModel } from "./lib/model/checkpoint.ts";
export {
  BatchNorm,
  binEdges,
  GroupBatchNorm,
  GroupConv2D,
  GroupLiftConv2D,
  GroupPool,
  GroupSpatialPyramidPool,
  P4BatchNorm,
  P4Conv2D,
  P4LiftConv2D,
  P4Pool,
  P4SpatialPyramidPool,
  SpatialPyramidPool,
  Standardize,
  SymmetricMaxPool2D,
  Z2Conv2D,
} from "./layers/mod.ts";
export {
  batches,
  channelStats,
  DatasetError,
  generateSynthetic,
  loadDataset,
} from "./lib/data/mod.ts";
export type { Dataset, Split } from "./lib/data/mod.ts";
export {
  parseTrainTask,
  TRAIN_DEFAULTS,
  TrainTaskSchema,
  withContextDefaults,
} from "./lib/train/options.ts";
export type { TrainTask } from "./lib/train/options.ts";
export { runTraining } from "./lib/train/run.ts";
export { TrainingError, trainModel } from "./lib/train/train.ts";
export { MicroBatches, trainStep } from "./lib/train/step.ts";
export { DataParallel, DataParallelError } from "./lib/train/data_parallel.ts";
export type { ParallelGradients } from "./lib/train/data_parallel.ts";
export type { TrainOptions } from "./lib/train/options.ts";
export type { TrainResult } from "./lib/train/train.ts";
export {
  contrast,
  gaussianBlur,
  gaussianNoise,
  perturb,
  PERTURB_DEFAULTS,
  randomRotate,
  resize,
  rotate,
  shift,
  zoom,
} from "./lib/transforms.ts";
export { invarianceScore, jsdBits } from "./lib/eval/invariance.ts";
export { fgsm, pgd, pgdWorstCase } from "./lib/eval/attacks.ts";
export { evaluate } from "./lib/eval/evaluate.ts";
export { EvalOptionsSchema, parseEvalOptions } from "./lib/eval/options.ts";
export type { EvalOptions } from "./lib/eval/options.ts";
export { runEvaluation } from "./lib/eval/run.ts";
export type { Evaluation, ModelEval } from "./lib/eval/evaluate.ts";
export { EVAL_SEED, imageSeeds, PGD_RESTARTS, SWEEPS } from "./lib/eval/measures.ts";
export { decodeBits, decodeScores, readOutcomes } from "./lib/eval/outcomes.ts";
export type { Outcomes } from "./lib/eval/outcomes.ts";
export { aggregate, compareSummary } from "./lib/experiment/aggregate.ts";
export { pairedBootstrap } from "./lib/experiment/bootstrap.ts";
export { expandCells, readSpec, validateSpec } from "./lib/experiment/spec.ts";
export { decodeImage, ImageError } from "./lib/image/decode.ts";
export { classifyImage } from "./lib/serve/classify.ts";
export { createApp, createState } from "./routes/app.ts";
export { OnnxExportError, toOnnx } from "./lib/export/onnx.ts";
export type { OnnxOptions } from "./lib/export/onnx.ts";
export { exportCheckpoints } from "./lib/export/checkpoints.ts";
