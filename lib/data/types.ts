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

/** Dataset names a user may ask for. */
export const DATASET_NAMES = ["cifar100", "cifar10", "fashion-mnist", "synthetic"] as const;
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

/** A dataset file that is missing, truncated or malformed; the message names the file. */
export class DatasetError extends Error {
  override name = "DatasetError";
}

/** The first `n` images of a split (views, no copy). */
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
