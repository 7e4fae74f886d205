/**
 * The evaluation sweep as a data table: which transforms are measured at which strengths
 * ({@linkcode SWEEPS}), what each measure means ({@linkcode DEFINITIONS}, written into the
 * report beside its numbers), and the list of seeded batch transforms that evaluate.ts runs
 * ({@linkcode measures}).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { d4Image } from "../../layers/group.ts";
import {
  contrast,
  gaussianBlur,
  gaussianNoise,
  jpegCompress,
  perturb,
  PERTURB_DEFAULTS,
  randomRotate,
  resize,
  rotate,
  shift,
  zoom,
} from "../transforms.ts";

/**
 * The 8 elements of D4 (p4m's point group) by index e = 4·m + r: r quarter turns
 * counter-clockwise, then a left-right mirror if m = 1 (layers/group.ts `d4Image`). Element 4
 * is the horizontal flip (`/classify?flip=h`), 6 the vertical flip (`flip=v`), 5 and 7 the
 * mirrors in the two diagonals; 0 is the identity (invariance 1 by definition, kept as a check).
 */
export const D4_ELEMENTS: number[] = [0, 1, 2, 3, 4, 5, 6, 7];

/** What the report calls D4 element e. */
export const D4_NAMES: readonly string[] = [
  "identity",
  "turn 90°",
  "turn 180°",
  "turn 270°",
  "flip h",
  "turn 90° + flip h",
  "flip v",
  "turn 270° + flip h",
];

/** What each sweep covers. */
export const SWEEPS = {
  full: {
    angles: Array.from({ length: 24 }, (_, i) => i * 15),
    zooms: [0.5, 0.625, 0.75, 0.875, 1, 1.25, 1.5, 2],
    resolutions: [16, 24, 32, 48, 64],
    shifts: [0, 1, 2, 3, 4],
    sigmas: [0, 0.02, 0.05, 0.1, 0.2],
    blur: [0.5, 1, 2],
    contrast: [0.5, 0.25],
    jpeg: [50, 20],
    mirrors: D4_ELEMENTS,
    eps: [1, 2, 4, 8],
    pgdSteps: 10,
  },
  quick: {
    angles: [0, 45, 90, 135, 180, 270],
    zooms: [0.5, 1, 1.5],
    resolutions: [16, 32, 48],
    shifts: [0, 1, 2],
    sigmas: [0, 0.05, 0.1],
    blur: [1],
    contrast: [0.5],
    jpeg: [30],
    mirrors: D4_ELEMENTS,
    eps: [2, 8],
    pgdSteps: 5,
  },
};
export type SweepName = keyof typeof SWEEPS;
/** One sweep's strengths. */
export type Sweep = typeof SWEEPS.full;

/**
 * The definition of a `<model>+tta` entry (scripts/eval.ts --tta), added to a report's
 * definitions when it has one ({@linkcode definitionsFor}).
 */
export const TTA_DEFINITION =
  "<model>+tta is the checkpoint <model> averaged over the four quarter turns at test time (lib/model/tta.ts): logits log(mean_k softmax(model(rot90(x, k)))), k = 0…3, so its probabilities are exactly invariant to 90° turns, at 4× the inference cost and no retraining. Every measure runs on the averaged model, the attacks included: FGSM and PGD differentiate through the average (white-box against the TTA model, not against <model>)";

/** The definitions of a report on the given model names: TTA's only when one is a `+tta`. */
export function definitionsFor(names: string[]): Record<string, string> {
  return names.some((n) => n.endsWith("+tta"))
    ? { ...DEFINITIONS, tta: TTA_DEFINITION }
    : DEFINITIONS;
}

/** Definitions written into the report. */
export const DEFINITIONS: Record<string, string> = {
  clean: "top-1 / top-5 accuracy on the unmodified test images",
  perturbed:
    `accuracy after the training-time perturbation: a random integer shift of up to ±${PERTURB_DEFAULTS.maxShift} px in x and y (zero fill), then additive Gaussian noise σ = ${PERTURB_DEFAULTS.sigma} on [0, 1] pixels, clipped to [0, 1]; seeded per image`,
  rotation:
    "accuracy and mean invariance score vs rotation angle about the image centre (counter-clockwise, bilinear, zero fill; multiples of 90° are exact array turns)",
  randomRotation:
    "accuracy on the test images each rotated by an angle uniform in [0°, 360°), seeded (the paper's Fig. 3)",
  zoom:
    "accuracy and mean invariance vs zoom factor about the centre at the training size (bilinear; > 1 crops, < 1 shrinks with a black border)",
  resolution:
    "accuracy vs input resolution: images resized (area/bilinear) to n×n and fed at that size, not resized back (both heads accept any size ≥ their minimum)",
  shift: "accuracy vs translation by n pixels right and n down, zero fill",
  noise: "accuracy vs additive Gaussian noise σ on [0, 1] pixels, clipped, seeded",
  blur: "accuracy vs Gaussian blur σ (pixels), renormalised at the borders",
  contrast: "accuracy vs contrast factor (blend with each image's per-channel mean)",
  jpeg: "accuracy after a JPEG round trip at the given quality (libvips, 4:2:0 chroma)",
  mirror:
    "accuracy and mean invariance under the 8 exact flips and turns of D4, element e = 4·m + r: r quarter turns counter-clockwise, then a left-right mirror if m = 1 (4 = flip h, left-right; 6 = flip v, upside down; 5 and 7 the diagonal mirrors; 0 the identity)",
  fgsm: "white-box FGSM, L∞, ε in /255: x' = clip(x + ε·sign ∇ₓCE), inference mode",
  pgd:
    "white-box PGD, L∞, ε in /255: uniform random start in the ε-ball, `steps` signed-gradient steps of α = 2.5·ε/steps, projected on the ε-ball and [0, 1]",
  transfer: "accuracy on PGD examples crafted against the other model (black-box transfer)",
  invariance:
    "mean over images of 1 − JSD(p(x), p(T x)) in bits, p the softmax output; 1 = identical predictions",
};

/** The measures a report has, one key per section. */
export type MeasureKey =
  | "perturbed"
  | "rotation"
  | "randomRotation"
  | "zoom"
  | "resolution"
  | "shift"
  | "noise"
  | "blur"
  | "contrast"
  | "jpeg"
  | "mirror";

/** A transform of a batch: (x, offset of the batch's first image) -> transformed batch. */
export type BatchTransform = (x: tf.Tensor4D, offset: number) => tf.Tensor4D | Promise<tf.Tensor4D>;

/** One row of the table: a measure at one strength. */
export interface Measure {
  key: MeasureKey;
  param: string;
  value: number;
  transform: BatchTransform;
  invariance?: boolean;
}

/** Every transform of a sweep, in report order, seeded by `seed` + the batch offset. */
export function measures(sweep: Sweep, seed: number): Measure[] {
  // One line per family: its key, the parameter it sweeps, the values, the transform at a value,
  // and whether the invariance score against the clean image is recorded.
  const rows = <V extends number>(
    key: MeasureKey,
    param: string,
    values: readonly V[],
    transform: (v: V) => BatchTransform,
    invariance = false,
  ): Measure[] =>
    values.map((value) => ({
      key,
      param,
      value,
      transform: transform(value),
      ...(invariance ? { invariance } : {}),
    }));
  return [
    ...rows(
      "perturbed",
      "",
      [0],
      () => (x, o) => perturb(x, { ...PERTURB_DEFAULTS, seed: seed + o }),
    ),
    ...rows("rotation", "angle", sweep.angles, (a) => (x) => rotate(x, a), true),
    ...rows("randomRotation", "", [0], () => (x, o) => randomRotate(x, seed + o).images, true),
    ...rows("zoom", "factor", sweep.zooms, (z) => (x) => zoom(x, z), true),
    ...rows("resolution", "size", sweep.resolutions, (r) => (x) => resize(x, r, r)),
    ...rows("shift", "pixels", sweep.shifts, (p) => (x) => shift(x, p, p)),
    ...rows(
      "noise",
      "sigma",
      sweep.sigmas,
      (s) => (x, o) => s ? gaussianNoise(x, s, seed + o) : x.clone(),
    ),
    ...rows("blur", "sigma", sweep.blur, (s) => (x) => gaussianBlur(x, s)),
    ...rows("contrast", "factor", sweep.contrast, (f) => (x) => contrast(x, f)),
    ...rows("jpeg", "quality", sweep.jpeg, (q) => (x) => jpegCompress(x, q)),
    ...rows("mirror", "element", sweep.mirrors, (e) => (x) => d4Image(x, e), true),
  ];
}
