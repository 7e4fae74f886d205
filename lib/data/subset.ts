/**
 * Training-set subsets for data-efficiency studies and the validation split that picks the
 * reported checkpoint.
 *
 * One seeded, class-balanced order of the training images does both jobs: every class is
 * shuffled on its own, then the classes are dealt round-robin (in a shuffled order each round),
 * so every prefix of the order holds each class ⌊n/K⌋ or ⌈n/K⌉ times while a class lasts. The
 * validation split is the first `round(valFraction × count)` images of that order and a
 * training subset of size n the next n. Hence, for one seed and validation fraction, the
 * subsets are nested (the 1k subset lies inside the 4k one), none of them touches the
 * validation images, and each is as class-balanced as the class counts allow.
 *
 * @module
 */
import { mixSeed, mulberry32 } from "./rng.ts";
import type { Split } from "./types.ts";

/** A training-set size or validation fraction that cannot be met; the message is one line. */
export class SubsetError extends Error {
  override name = "SubsetError";
}

/**
 * A seeded order of the indices `0 … labels.length − 1` whose every prefix is class-balanced
 * (see the module doc).
 *
 * @example
 * ```ts
 * const order = balancedOrder(new Int32Array([0, 0, 1, 1]), 7); // e.g. [1, 2, 3, 0]
 * ```
 */
export function balancedOrder(labels: Int32Array, seed: number): Uint32Array {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]);
    if (list) list.push(i);
    else byClass.set(labels[i], [i]);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const pools = classes.map((c) => {
    const pool = byClass.get(c)!;
    shuffle(pool, mulberry32(mixSeed(seed, 0x5b5e7, c)));
    return pool;
  });
  const order = new Uint32Array(labels.length);
  const dealer = mulberry32(mixSeed(seed, 0xdea1));
  let n = 0;
  const live = pools.map((_, i) => i);
  for (let round = 0; live.length > 0; round++) {
    // A fresh class order every round, so an uneven prefix does not always favour class 0.
    shuffle(live, dealer);
    for (const k of live) order[n++] = pools[k][round];
    for (let j = live.length - 1; j >= 0; j--) {
      if (pools[live[j]].length <= round + 1) live.splice(j, 1);
    }
  }
  return order;
}

function shuffle<T>(a: T[], rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
}

/**
 * The number of training images a size asks for: a value in (0, 1] is a fraction of
 * `available` (so `1` and `1.0` mean all of it), an integer above 1 is a count, 0 means all.
 *
 * @example
 * ```ts
 * resolveSize(0.25, 45000); // 11250
 * resolveSize(4000, 45000); // 4000
 * ```
 */
export function resolveSize(size: number, available: number): number {
  if (!Number.isFinite(size) || size < 0) {
    throw new SubsetError(
      `training-set size: expected a count > 1 or a fraction in (0, 1], got ${size}`,
    );
  }
  if (size === 0) return available;
  if (size <= 1) return Math.max(1, Math.round(size * available));
  if (!Number.isInteger(size)) {
    throw new SubsetError(
      `training-set size: expected an integer count above 1 or a fraction in (0, 1], got ${size}`,
    );
  }
  if (size > available) {
    throw new SubsetError(
      `training-set size: asked for ${size} images, only ${available} are left for training`,
    );
  }
  return size;
}

/** Options of {@linkcode trainValidationSplit}. */
export interface SubsetOptions {
  /** Seed of the order (the run's seed: each seed draws its own validation set and subsets). */
  seed: number;
  /** Fraction of the training split held out for validation, in [0, 0.5]; 0 = none. */
  valFraction: number;
  /** Training images kept after the validation split: see {@linkcode resolveSize}; 0 = all. */
  size: number;
}

/**
 * Gathers the images at `indices` into a new split (copies; `indices` order is kept).
 *
 * @example
 * ```ts
 * import { generateSynthetic } from "./synthetic.ts";
 * const dataset = generateSynthetic({ seed: 1, train: 100, test: 10 });
 * const two = gather(dataset.train, [5, 3]); // two.count === 2, two.labels[0] === train.labels[5]
 * ```
 */
export function gather(split: Split, indices: ArrayLike<number>): Split {
  const size = split.height * split.width * split.channels;
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    images.set(split.images.subarray(j * size, (j + 1) * size), i * size);
    labels[i] = split.labels[j];
  }
  return { ...split, images, labels, count: indices.length };
}

/**
 * Splits a training split into a class-balanced validation split and a class-balanced,
 * nested training subset (see the module doc). Returns the indices into `split` too, so that
 * callers can record exactly which images were used.
 *
 * @example
 * ```ts
 * import { generateSynthetic } from "./synthetic.ts";
 * const dataset = generateSynthetic({ seed: 1, train: 2000, test: 10 });
 * const { train, validation } = trainValidationSplit(dataset.train, { seed: 1, valFraction: 0.1, size: 1000 });
 * ```
 */
export function trainValidationSplit(split: Split, options: SubsetOptions): {
  train: Split;
  validation: Split | undefined;
  trainIndices: Uint32Array;
  validationIndices: Uint32Array;
} {
  const { valFraction } = options;
  if (!(valFraction >= 0 && valFraction <= 0.5)) {
    throw new SubsetError(`validation fraction: expected a number in [0, 0.5], got ${valFraction}`);
  }
  const order = balancedOrder(split.labels.subarray(0, split.count), options.seed);
  const nVal = Math.round(valFraction * split.count);
  if (valFraction > 0 && nVal < 1) {
    throw new SubsetError(
      `validation fraction: ${valFraction} of ${split.count} images is less than one image`,
    );
  }
  const n = resolveSize(options.size, split.count - nVal);
  const validationIndices = order.subarray(0, nVal);
  const trainIndices = order.subarray(nVal, nVal + n);
  return {
    train: gather(split, trainIndices),
    validation: nVal ? gather(split, validationIndices) : undefined,
    trainIndices,
    validationIndices,
  };
}
