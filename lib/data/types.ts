/**
 * The one shape every dataset loader returns, so that training, evaluation and serving never
 * care where the images came from.
 *
 * @module
 */

/** One split: uint8 images NHWC (row-major), int labels. */
export interface Split {
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

/** Dataset names a user may ask for (besides "auto"). */
export const DATASET_NAMES = ["cifar100", "cifar10", "fashion-mnist", "synthetic"] as const;
/** One of {@linkcode DATASET_NAMES}. */
export type DatasetName = typeof DATASET_NAMES[number];

/** A loaded dataset. */
export interface Dataset {
  name: DatasetName;
  classNames: string[];
  train: Split;
  test: Split;
  /** Where it came from, human readable. */
  source: string;
}

/**
 * A dataset file that is missing, truncated or malformed, or a download that failed; the
 * one-line message names the file (or URL) and what was expected.
 *
 * @example
 * ```ts
 * try { await loadDataset({ name: "cifar100", download: false }); }
 * catch (e) { if (e instanceof DatasetError) console.error(e.message); }
 * ```
 */
export class DatasetError extends Error {
  override name = "DatasetError";
}

/**
 * The first `n` images of a split (views, no copy).
 *
 * @example
 * ```ts
 * const small = head(dataset.train, 1000); // small.count === 1000
 * ```
 */
export function head(split: Split, n: number): Split {
  const count = Math.min(n, split.count);
  const size = split.height * split.width * split.channels;
  return {
    ...split,
    count,
    images: split.images.subarray(0, count * size),
    labels: split.labels.subarray(0, count),
  };
}
