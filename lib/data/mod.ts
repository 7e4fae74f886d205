/**
 * Datasets: `cifar100` (the paper's), `cifar10`, `fashion-mnist`, and the embedded `synthetic`
 * set. Every loader returns the same {@linkcode Dataset} shape (uint8 NHWC images, int labels,
 * class names), and `auto` says what it chose and why.
 *
 * @module
 */
import { CIFAR10, CIFAR100, type CifarSpec, loadCifarDir } from "./cifar.ts";
import { downloadFile, extractTarGz, progressPrinter } from "./download.ts";
import {
  DEBIAN_FASHION_DIR,
  FASHION_CLASSES,
  FASHION_FILES,
  loadFashionMnist,
} from "./fashion_mnist.ts";
import { generateSynthetic } from "./synthetic.ts";
import { type Dataset, DatasetError, head } from "./types.ts";

export { batches, channelStats } from "./batches.ts";
export type { Augment, Batch, BatchOptions } from "./batches.ts";
export { CIFAR10, CIFAR100 } from "./cifar.ts";
export { generateSynthetic, SYNTHETIC_CLASSES } from "./synthetic.ts";
export { DATASET_NAMES, DatasetError } from "./types.ts";
export type { Dataset, DatasetName, Split } from "./types.ts";

/** Where Fashion-MNIST is downloaded from when Debian's package is absent. */
export const FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

/** Options of {@linkcode loadDataset}. */
export interface LoadDatasetOptions {
  name: "auto" | "cifar100" | "cifar10" | "fashion-mnist" | "synthetic";
  /** An already extracted copy (works offline). */
  dataDir?: string;
  /** Download cache (default `$SYMLAB_CACHE`, else `~/.cache/symlab`). */
  cacheDir?: string;
  /** Allow downloading (default true). */
  download?: boolean;
  seed?: number;
  syntheticTrain?: number;
  syntheticTest?: number;
  /** Keep the first N training / test images. */
  limit?: number;
  testLimit?: number;
  log?: (line: string) => void;
  fetch?: typeof fetch;
  /** Override download URLs by dataset name (a mirror; tests serve archives locally). */
  urls?: Partial<Record<"cifar100" | "cifar10" | "fashion-mnist", string>>;
  /** Override the expected archive MD5s (a mirror's re-packed archive; tests). */
  md5s?: Partial<Record<"cifar100" | "cifar10", string>>;
  /** Show a download progress bar on stderr (default true). */
  progress?: boolean;
}

/** The cache directory in effect. */
export function defaultCacheDir(): string {
  const env = (k: string) => {
    try {
      return Deno.env.get(k);
    } catch {
      return undefined;
    }
  };
  return env("SYMLAB_CACHE") ?? `${env("HOME") ?? "."}/.cache/symlab`;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function loadCifar(
  spec: CifarSpec,
  options: LoadDatasetOptions,
  allowDownload: boolean,
): Promise<{ dataset: Dataset; how: string }> {
  const cache = options.cacheDir ?? defaultCacheDir();
  const candidates = options.dataDir ? [`${options.dataDir}/${spec.dir}`, options.dataDir] : [];
  candidates.push(`${cache}/${spec.dir}`);
  let dir = "";
  for (const c of candidates) {
    if (await isDir(c) && (await Deno.stat(`${c}/${spec.namesFile}`).catch(() => null))) {
      dir = c;
      break;
    }
  }
  let how = `cached in ${dir}`;
  if (!dir) {
    if (options.dataDir) {
      throw new DatasetError(
        `${options.dataDir}: no extracted ${spec.archive} here (expected ${spec.dir}/${spec.namesFile})`,
      );
    }
    if (!allowDownload) {
      throw new DatasetError(`${spec.name} is not in ${cache} and downloading is off`);
    }
    const archive = `${cache}/${spec.archive}`;
    await Deno.mkdir(cache, { recursive: true });
    if (!(await Deno.stat(archive).catch(() => null))) {
      const url = options.urls?.[spec.name] ?? spec.url;
      options.log?.(`downloading ${url} (${(spec.bytes / 1e6).toFixed(0)} MB) to ${cache}`);
      await downloadFile(url, archive, {
        md5: options.md5s?.[spec.name] ?? spec.md5,
        fetch: options.fetch,
        onProgress: options.progress === false ? undefined : progressPrinter(spec.archive),
      });
    }
    options.log?.(`extracting ${archive}`);
    await extractTarGz(archive, cache);
    dir = `${cache}/${spec.dir}`;
    how = `downloaded to ${dir}`;
  }
  const { train, test, classNames } = await loadCifarDir(dir, spec);
  return { dataset: { name: spec.name, classNames, train, test, source: dir }, how };
}

async function loadFashion(
  options: LoadDatasetOptions,
): Promise<{ dataset: Dataset; how: string }> {
  const cache = options.cacheDir ?? defaultCacheDir();
  let dir = options.dataDir;
  let how = `from ${dir}`;
  if (!dir) {
    if (await isDir(DEBIAN_FASHION_DIR)) {
      dir = DEBIAN_FASHION_DIR;
      how = `Debian package dataset-fashion-mnist (${dir})`;
    } else {
      dir = `${cache}/fashion-mnist`;
      how = `cached in ${dir}`;
      await Deno.mkdir(dir, { recursive: true });
      const base = options.urls?.["fashion-mnist"] ?? FASHION_URL;
      for (const name of Object.values(FASHION_FILES)) {
        const file = `${dir}/${name}.gz`;
        if (await Deno.stat(file).catch(() => null)) continue;
        if (options.download === false) {
          throw new DatasetError(`${file}: not found and downloading is off`);
        }
        how = `downloaded to ${dir}`;
        await downloadFile(`${base}${name}.gz`, file, {
          fetch: options.fetch,
          onProgress: options.progress === false ? undefined : progressPrinter(`${name}.gz`),
        });
      }
    }
  }
  const { train, test } = await loadFashionMnist(dir);
  return {
    dataset: { name: "fashion-mnist", classNames: [...FASHION_CLASSES], train, test, source: dir },
    how,
  };
}

/**
 * Loads a dataset, downloading it when needed and allowed. `reason` says what was chosen and
 * why (for `auto`, whether CIFAR-100 was cached, downloaded, or unavailable).
 *
 * @example
 * ```ts
 * const { dataset, reason } = await loadDataset({ name: "auto" });
 * console.log(`dataset: ${dataset.name} (${reason})`);
 * ```
 */
export async function loadDataset(
  options: LoadDatasetOptions,
): Promise<{ dataset: Dataset; reason: string }> {
  let dataset: Dataset;
  let reason: string;
  const synthetic = () =>
    generateSynthetic({
      seed: options.seed,
      train: options.syntheticTrain,
      test: options.syntheticTest,
    });
  switch (options.name) {
    case "synthetic":
      dataset = synthetic();
      reason = "requested: the embedded synthetic set, generated from the seed";
      break;
    case "fashion-mnist": {
      const r = await loadFashion(options);
      [dataset, reason] = [r.dataset, `requested: ${r.how}`];
      break;
    }
    case "cifar100":
    case "cifar10": {
      const r = await loadCifar(
        options.name === "cifar100" ? CIFAR100 : CIFAR10,
        options,
        options.download !== false,
      );
      [dataset, reason] = [r.dataset, `requested: ${r.how}`];
      break;
    }
    case "auto": {
      try {
        const r = await loadCifar(CIFAR100, options, options.download !== false);
        [dataset, reason] = [r.dataset, `auto: CIFAR-100 ${r.how}`];
      } catch (e) {
        if (options.dataDir) throw e;
        dataset = synthetic();
        reason = `auto: CIFAR-100 is not cached and could not be downloaded ` +
          `(${(e as Error).message}); using the embedded synthetic set instead`;
      }
      break;
    }
    default:
      throw new DatasetError(
        `Unknown dataset "${options.name}": expected auto, cifar100, cifar10, fashion-mnist or synthetic`,
      );
  }
  if (options.limit) dataset = { ...dataset, train: head(dataset.train, options.limit) };
  if (options.testLimit) dataset = { ...dataset, test: head(dataset.test, options.testLimit) };
  return { dataset, reason };
}
