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
export const DATASET_NAMES = [
  "cifar100",
  "cifar10",
  "fashion-mnist",
  "synthetic",
  "folder",
] as const;
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
  /** How a folder dataset was split (recorded in meta.json so evaluation reads the same test set). */
  split?: FolderSplitRecord;
}

/**
 * What a checkpoint records about a folder dataset's split (lib/data/folder.ts): enough to
 * rebuild it and to check that a later load gives the same test files.
 */
export interface FolderSplitRecord {
  /** Absolute path of the folder at training time. */
  dir: string;
  /** `train-test`: the folder's own train/ and test/; `class-folders`: a drawn split. */
  layout: "class-folders" | "train-test";
  /** Seed of the drawn split (class-folders only). */
  seed?: number;
  /** Per-class share held out for testing (class-folders only). */
  testFraction?: number;
  /** Side of the square images. */
  size: number;
  /** Channels of the images. */
  channels: 1 | 3;
  /** The channel setting asked for (`auto` keeps grey as 1). */
  channelsOption: "auto" | 1 | 3;
  /** Images in each part. */
  train: number;
  test: number;
  /** Files skipped (not images by name, or not decodable). */
  skipped: number;
  /** SHA-256 of each part's relative file paths, sorted, one per line. */
  trainSha256: string;
  testSha256: string;
}

/**
 * A dataset file that is missing, truncated or malformed, or a download that failed; the
 * one-line message names the file (or URL) and what was expected.
 *
 * @example
 * ```ts
 * import { loadDataset } from "./mod.ts";
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
 * import { generateSynthetic } from "./synthetic.ts";
 * const dataset = generateSynthetic({ seed: 1, train: 2000, test: 10 });
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
