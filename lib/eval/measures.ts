/**
 * The evaluation sweep as a data table: which transforms are measured at which strengths
 * ({@linkcode SWEEPS}), what each measure means ({@linkcode DEFINITIONS}, written into the
 * report beside its numbers), and the list of seeded batch transforms that evaluate.ts runs
 * ({@linkcode measures}).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { actImage, P4M } from "../../layers/group.ts";
import { mixSeed } from "../data/rng.ts";
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
 * The 8 elements of D4 (p4m's point group, layers/groups/p4m.ts) by index e = 4·m + r: r quarter
 * turns counter-clockwise, then a left-right mirror if m = 1. Element 4 is the horizontal flip
 * (`/classify?flip=h`), 6 the vertical flip (`flip=v`), 5 and 7 the mirrors in the two
 * diagonals; 0 is the identity (invariance 1 by definition, kept as a check).
 */
export const D4_ELEMENTS: number[] = [...Array(P4M.order).keys()];

/** What the report calls D4 element e (the group's own element names). */
export const D4_NAMES: readonly string[] = P4M.elementNames;

/**
 * The seed of the sampled measures when nobody picks one: eval's `--seed` default, and the seed of
 * training's per-epoch perturbed and rotated accuracies (lib/train/train.ts), so that the two
 * report the same number for the same checkpoint and images.
 */
export const EVAL_SEED = 1;

/**
 * PGD's random starts when nobody picks a number (eval --pgd-restarts): the worst case over two
 * starts per image (lib/eval/attacks.ts `pgdWorstCase`).
 */
export const PGD_RESTARTS = 2;

/**
 * What each sweep covers. `eps` are the attack strengths reported (in /255); `pgdSanity` are
 * larger ones whose only purpose is to show the attack works: PGD's accuracy must fall to 0 as ε
 * grows towards 255/255 (the whole [0, 1] box), or its gradients are masked. Both lists go up,
 * and every sanity ε is above every `eps` (a sanity row is the worst case over all runs at ε' ≤ ε).
 */
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
    pgdSanity: [16, 32, 64, 128, 255],
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
    pgdSanity: [32, 255],
  },
  /**
   * What a study's claims read, and nothing else, for grids that evaluate every cell on a whole
   * test set (docs/results/study/fashion-mnist-reference.yaml): quick's angles, zooms, noise
   * levels and attacks with PGD's 20 steps; no resolution, shift, blur, contrast, JPEG or mirror
   * rows (15 test-set passes instead of quick's 36).
   */
  study: {
    angles: [0, 45, 90, 135, 180, 270],
    zooms: [0.5, 1, 1.5],
    resolutions: [],
    shifts: [],
    sigmas: [0, 0.05, 0.1],
    blur: [],
    contrast: [],
    jpeg: [],
    mirrors: [],
    eps: [2, 8],
    pgdSteps: 20,
    pgdSanity: [32, 255],
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
    `accuracy after the training-time perturbation: a random integer shift of up to ±${PERTURB_DEFAULTS.maxShift} px in x and y (zero fill), then additive Gaussian noise σ = ${PERTURB_DEFAULTS.sigma} on [0, 1] pixels, clipped to [0, 1]; each image from its own seed mixSeed(seed, index), so the number does not depend on the batch size, and training's per-epoch "perturbed" (seed ${EVAL_SEED}) is the same measure`,
  rotation:
    "accuracy and mean invariance score vs rotation angle about the image centre (counter-clockwise, bilinear, zero fill; multiples of 90° are exact array turns)",
  randomRotation:
    `accuracy on the test images each rotated by an angle uniform in [0°, 360°) drawn from the image's own seed (the paper's Fig. 3; training's per-epoch "rotated" is the same measure at seed ${EVAL_SEED})`,
  zoom:
    "accuracy and mean invariance vs zoom factor about the centre at the training size (bilinear; > 1 crops, < 1 shrinks with a black border)",
  resolution:
    "accuracy vs input resolution: images resized (area/bilinear) to n×n and fed at that size, not resized back (both heads accept any size ≥ their minimum)",
  shift: "accuracy vs translation by n pixels right and n down, zero fill",
  noise: "accuracy vs additive Gaussian noise σ on [0, 1] pixels, clipped, seeded per image",
  blur: "accuracy vs Gaussian blur σ (pixels), renormalised at the borders",
  contrast: "accuracy vs contrast factor (blend with each image's per-channel mean)",
  jpeg: "accuracy after a JPEG round trip at the given quality (libvips, 4:2:0 chroma)",
  mirror:
    "accuracy and mean invariance under the 8 exact flips and turns of D4, element e = 4·m + r: r quarter turns counter-clockwise, then a left-right mirror if m = 1 (4 = flip h, left-right; 6 = flip v, upside down; 5 and 7 the diagonal mirrors; 0 the identity)",
  fgsm: "white-box FGSM, L∞, ε in /255: x' = clip(x + ε·sign ∇ₓCE), inference mode",
  pgd:
    "white-box PGD, L∞, ε in /255: uniform random start in the ε-ball, `steps` signed-gradient steps of α = 2.5·ε/steps, projected on the ε-ball and [0, 1]; the worst case over `restarts` independent starts per image (an image counts as robust only if no start fooled the model)",
  pgdSanity:
    "the same PGD at large ε up to 255/255 (the whole [0, 1] box), each row the worst case over every PGD run at ε' ≤ ε (an example inside a smaller ball is inside the larger one; at ε near 255 the step 2.5·ε/steps is half the pixel range or more, so a single run can do worse than a smaller ε's): accuracy must fall to 0, else the attack's gradients are masked and the PGD numbers above overstate robustness",
  attackedClean:
    "clean top-1 accuracy of the attacked images (the first `advImages` test images), the number the attacked accuracies should be read against",
  transfer:
    "accuracy on the worst-case PGD examples crafted against the other models (black-box transfer), averaged over the source models",
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

/**
 * The seeds of test images `offset … offset + n − 1` under a measure seed: image i's seed is
 * `mixSeed(seed, i)` (lib/data/rng.ts), a function of the seed and the image's index in the test
 * split alone. Every sampled measure draws each image's randomness from its own seed, so a
 * measure's value does not depend on the batch size or on how many images are measured.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { perturb, PERTURB_DEFAULTS } from "../transforms.ts";
 * const x = tf.randomUniform([4, 32, 32, 3]) as tf.Tensor4D; // test images 200 to 203
 * perturb(x, { ...PERTURB_DEFAULTS, seed: imageSeeds(EVAL_SEED, 200, x.shape[0]) });
 * ```
 */
export function imageSeeds(seed: number, offset: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => mixSeed(seed, offset + i));
}

/** The `perturbed` measure: the training-time shift + noise, each image from its own seed. */
export function perturbedImages(seed: number): (x: tf.Tensor4D, offset: number) => tf.Tensor4D {
  return (x, offset) =>
    perturb(x, { ...PERTURB_DEFAULTS, seed: imageSeeds(seed, offset, x.shape[0]) });
}

/** The `randomRotation` measure (Fig. 3): each image turned by its own uniform angle. */
export function randomlyRotatedImages(
  seed: number,
): (x: tf.Tensor4D, offset: number) => tf.Tensor4D {
  return (x, offset) => randomRotate(x, imageSeeds(seed, offset, x.shape[0])).images;
}

/**
 * Every transform of a sweep, in report order; the sampled ones draw each image's randomness
 * from `imageSeeds(seed, index)`.
 */
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
    ...rows("perturbed", "", [0], () => perturbedImages(seed)),
    ...rows("rotation", "angle", sweep.angles, (a) => (x) => rotate(x, a), true),
    ...rows("randomRotation", "", [0], () => randomlyRotatedImages(seed), true),
    ...rows("zoom", "factor", sweep.zooms, (z) => (x) => zoom(x, z), true),
    ...rows("resolution", "size", sweep.resolutions, (r) => (x) => resize(x, r, r)),
    ...rows("shift", "pixels", sweep.shifts, (p) => (x) => shift(x, p, p)),
    ...rows(
      "noise",
      "sigma",
      sweep.sigmas,
      (s) => (x, o) => s ? gaussianNoise(x, s, imageSeeds(seed, o, x.shape[0])) : x.clone(),
    ),
    ...rows("blur", "sigma", sweep.blur, (s) => (x) => gaussianBlur(x, s)),
    ...rows("contrast", "factor", sweep.contrast, (f) => (x) => contrast(x, f)),
    ...rows("jpeg", "quality", sweep.jpeg, (q) => (x) => jpegCompress(x, q)),
    ...rows("mirror", "element", sweep.mirrors, (e) => (x) => actImage(P4M, x, e), true),
  ];
}
