/**
 * Datasets: `cifar100` (the paper's), `cifar10`, `fashion-mnist`, the embedded `synthetic`
 * set, and `folder`, a folder of your own labelled images (lib/data/folder.ts). Every loader returns the same {@linkcode Dataset} shape (uint8 NHWC images, int labels,
 * class names), and {@linkcode loadDataset} says what it chose and why.
 *
 * Where each dataset is looked for, in order:
 * - `cifar100` / `cifar10`: `dataDir` when given (its `<archive dir>/` or itself; nothing else),
 *   else the extracted copy in the cache, else the archive in the cache (extracted), else a
 *   download into the cache (when `download` is not false).
 * - `fashion-mnist`: `dataDir` when given (itself or its `fashion-mnist/`; nothing else), else
 *   Debian's `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist`), else the cache,
 *   else a download into the cache (the S3 bucket, then GitHub), each file MD5-checked.
 * - `folder`: `dataDir` only (required), decoded into the cache dir's `folder/` once.
 * - `auto`: CIFAR-100 as above; when it is neither given, cached nor downloadable, the
 *   synthetic set, and `reason` says why. A cached copy that is corrupt is an error, not a
 *   reason to switch datasets.
 *
 * @module
 */
import { z } from "zod";
import { CIFAR10, CIFAR100, type CifarSpec, loadCifarDir } from "./cifar.ts";
import { downloadFile, downloadProgressRenderer, extractTarGz } from "./download.ts";
import {
  DEBIAN_FASHION_DIR,
  FASHION_CLASSES,
  FASHION_FILES,
  loadFashionMnist,
} from "./fashion_mnist.ts";
import { type FolderOptions, loadFolder } from "./folder.ts";
import { generateSynthetic } from "./synthetic.ts";
import { type Dataset, DATASET_NAMES, DatasetError, head } from "./types.ts";

export { batches, channelStats } from "./batches.ts";
export type { Augment, Batch, BatchOptions } from "./batches.ts";
export { CIFAR10, CIFAR100 } from "./cifar.ts";
export { FASHION_CLASSES } from "./fashion_mnist.ts";
export {
  assertSameSplit,
  FOLDER_DEFAULTS,
  FOLDER_EXTENSIONS,
  FolderSplitSchema,
  loadFolder,
} from "./folder.ts";
export { generateSynthetic, SYNTHETIC_CLASSES } from "./synthetic.ts";
export { DATASET_NAMES, DatasetError } from "./types.ts";

/** What `--dataset` accepts: a dataset, or `auto` (CIFAR-100 when it can be had, else synthetic). */
export const DATASET_CHOICES = ["auto", ...DATASET_NAMES] as const;
export type { Dataset, DatasetName, FolderSplitRecord, Split } from "./types.ts";

/** Where Fashion-MNIST's gzipped IDX files are downloaded from, tried in order. */
export const FASHION_MIRRORS = [
  "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
  "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
];

/** Published MD5s of the four gzipped Fashion-MNIST files (zalandoresearch/fashion-mnist). */
export const FASHION_MD5: Record<string, string> = {
  "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
  "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
  "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
  "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
};

/** Options of {@linkcode loadDataset}. */
export interface LoadDatasetOptions {
  name: typeof DATASET_CHOICES[number];
  /** An already extracted copy (works offline); when given, nothing else is tried. */
  dataDir?: string;
  /** Download cache (default `$SYMLAB_CACHE`, else `~/.cache/symlab`). */
  cacheDir?: string;
  /** Allow downloading (default true). */
  download?: boolean;
  /** Seed of the synthetic set (default 1). */
  seed?: number;
  /** Synthetic split sizes (default 10,000 and 2,000). */
  syntheticTrain?: number;
  syntheticTest?: number;
  /** Keep the first N training images. */
  limit?: number;
  /** Keep the first N test images (the full test split by default). */
  testLimit?: number;
  /** Receives one line per step worth telling (downloading, extracting). */
  log?: (line: string) => void;
  fetch?: typeof fetch;
  /** Download URLs by dataset name: the archive for CIFAR, the base for Fashion-MNIST. */
  urls?: Partial<Record<string, string>>;
  /** Expected MD5s by file name (e.g. a mirror's re-packed archive; tests). */
  md5s?: Partial<Record<string, string>>;
  /** Draw download progress on stderr (default true). */
  progress?: boolean;
  /** Where a system package put Fashion-MNIST (default Debian's; tests point it elsewhere). */
  systemDir?: string;
  /** `folder` only: size, channels, split and decoding (lib/data/folder.ts). */
  folder?: Pick<
    FolderOptions,
    "size" | "channels" | "testFraction" | "splitSeed" | "concurrency"
  >;
}

const isFunction = (v: unknown) => typeof v === "function";
const OptionsSchema = z.strictObject({
  name: z.enum(DATASET_CHOICES),
  dataDir: z.string().min(1).optional(),
  cacheDir: z.string().min(1).optional(),
  download: z.boolean().optional(),
  seed: z.number().int().optional(),
  syntheticTrain: z.number().int().positive().optional(),
  syntheticTest: z.number().int().positive().optional(),
  limit: z.number().int().positive().optional(),
  testLimit: z.number().int().positive().optional(),
  log: z.custom<(line: string) => void>(isFunction, "expected a function").optional(),
  fetch: z.custom<typeof fetch>(isFunction, "expected a function").optional(),
  urls: z.record(z.string(), z.url()).optional(),
  md5s: z.record(z.string(), z.string().regex(/^[0-9a-fA-F]{32}$/, "expected 32 hex digits"))
    .optional(),
  progress: z.boolean().optional(),
  systemDir: z.string().min(1).optional(),
  // Checked in full by loadFolder, which names the field.
  folder: z.record(z.string(), z.unknown()).optional(),
});

/** The cache directory in effect: `$SYMLAB_CACHE`, else `~/.cache/symlab`. */
export function defaultCacheDir(): string {
  const env = (k: string) => {
    try {
      return Deno.env.get(k);
    } catch {
      return undefined; // no --allow-env
    }
  };
  return env("SYMLAB_CACHE") ?? `${env("HOME") ?? "."}/.cache/symlab`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const day = (d: Date | null) => (d ?? new Date()).toISOString().slice(0, 10);

/** The first directory of `dirs` holding an extracted CIFAR archive. */
async function findCifar(spec: CifarSpec, dirs: string[]): Promise<string | null> {
  for (const dir of dirs) if (await exists(`${dir}/${spec.namesFile}`)) return dir;
  return null;
}

async function readCifar(spec: CifarSpec, dir: string, source: string): Promise<Dataset> {
  const { train, test, classNames } = await loadCifarDir(dir, spec);
  return { name: spec.name, classNames, train, test, source };
}

/** Downloads (unless the verified archive is already cached) and extracts into the cache. */
async function fetchCifar(spec: CifarSpec, cache: string, o: LoadDatasetOptions): Promise<string> {
  const archive = `${cache}/${spec.archive}`;
  await Deno.mkdir(cache, { recursive: true });
  if (!(await exists(archive))) {
    const url = o.urls?.[spec.name] ?? spec.url;
    o.log?.(`downloading ${url} (${(spec.bytes / 1e6).toFixed(0)} MB) to ${cache}`);
    await downloadFile(url, archive, {
      md5: o.md5s?.[spec.archive] ?? spec.md5,
      fetch: o.fetch,
      onProgress: o.progress === false ? undefined : downloadProgressRenderer(spec.archive),
    });
  }
  o.log?.(`extracting ${archive}`);
  await extractTarGz(archive, cache);
  const dir = `${cache}/${spec.dir}`;
  if (!(await exists(`${dir}/${spec.namesFile}`))) {
    throw new DatasetError(`${archive}: extracted, but ${spec.dir}/${spec.namesFile} is missing`);
  }
  return dir;
}

async function loadCifar(spec: CifarSpec, o: LoadDatasetOptions): Promise<[Dataset, string]> {
  if (o.dataDir) {
    const dir = await findCifar(spec, [`${o.dataDir}/${spec.dir}`, o.dataDir]);
    if (!dir) {
      throw new DatasetError(
        `${o.dataDir}: no extracted ${spec.archive} here (expected ${spec.dir}/${spec.namesFile})`,
      );
    }
    return [await readCifar(spec, dir, dir), `from --data-dir ${dir}`];
  }
  const cache = o.cacheDir ?? defaultCacheDir();
  const cached = await findCifar(spec, [`${cache}/${spec.dir}`]);
  if (cached) {
    const mtime = (await Deno.stat(`${cached}/${spec.namesFile}`)).mtime;
    return [
      await readCifar(spec, cached, `${cached} (extracted ${day(mtime)})`),
      `cached in ${cached}`,
    ];
  }
  if (o.download === false && !(await exists(`${cache}/${spec.archive}`))) {
    throw new DatasetError(`${cache}/${spec.dir}: not found, and downloading is off`);
  }
  const dir = await fetchCifar(spec, cache, o);
  return [await readCifar(spec, dir, `${dir} (downloaded ${day(null)})`), `downloaded to ${dir}`];
}

/** Whether `dir` holds the four IDX files (plain or gzipped). */
async function hasFashion(dir: string): Promise<boolean> {
  for (const name of Object.values(FASHION_FILES)) {
    if (!(await exists(`${dir}/${name}`)) && !(await exists(`${dir}/${name}.gz`))) return false;
  }
  return true;
}

/** Downloads the missing gzipped IDX files into `dir`, trying each mirror in turn. */
async function fetchFashion(dir: string, o: LoadDatasetOptions): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const given = o.urls?.["fashion-mnist"];
  const mirrors = given ? [given.endsWith("/") ? given : `${given}/`] : FASHION_MIRRORS;
  for (const name of Object.values(FASHION_FILES).map((n) => `${n}.gz`)) {
    const file = `${dir}/${name}`;
    if (await exists(file)) continue;
    const failures: string[] = [];
    for (const base of mirrors) {
      o.log?.(`downloading ${base}${name} to ${dir}`);
      try {
        await downloadFile(`${base}${name}`, file, {
          md5: o.md5s?.[name] ?? FASHION_MD5[name],
          fetch: o.fetch,
          onProgress: o.progress === false ? undefined : downloadProgressRenderer(name),
        });
        break;
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    if (failures.length === mirrors.length) throw new DatasetError(failures.join("; "));
  }
}

async function loadFashion(o: LoadDatasetOptions): Promise<[Dataset, string]> {
  const make = async (dir: string, source: string): Promise<Dataset> => {
    const { train, test } = await loadFashionMnist(dir);
    return { name: "fashion-mnist", classNames: [...FASHION_CLASSES], train, test, source };
  };
  if (o.dataDir) {
    for (const dir of [o.dataDir, `${o.dataDir}/fashion-mnist`]) {
      if (await hasFashion(dir)) return [await make(dir, dir), `from --data-dir ${dir}`];
    }
    throw new DatasetError(
      `${o.dataDir}: no Fashion-MNIST here (expected ${FASHION_FILES.trainImages}(.gz) and the other three IDX files)`,
    );
  }
  const system = o.systemDir ?? DEBIAN_FASHION_DIR;
  if (await hasFashion(system)) {
    return [
      await make(system, `${system} (Debian package dataset-fashion-mnist)`),
      `Debian package dataset-fashion-mnist (${system})`,
    ];
  }
  const dir = `${o.cacheDir ?? defaultCacheDir()}/fashion-mnist`;
  if (await hasFashion(dir)) return [await make(dir, dir), `cached in ${dir}`];
  if (o.download === false) {
    throw new DatasetError(`${dir}: not found (nor in ${system}), and downloading is off`);
  }
  await fetchFashion(dir, o);
  return [await make(dir, `${dir} (downloaded ${day(null)})`), `downloaded to ${dir}`];
}

/**
 * Loads a dataset, downloading it when needed and allowed. `reason` says what was chosen and
 * why (for `auto`, whether CIFAR-100 was given, cached, downloaded, or unavailable). Throws
 * `TypeError` for invalid options and {@linkcode DatasetError} (naming the file) for missing
 * or corrupt data.
 *
 * @example
 * ```ts ignore
 * // not run: may download CIFAR-100 (168 MB)
 * const { dataset, reason } = await loadDataset({ name: "auto", log: console.log });
 * console.log(`dataset: ${dataset.name} (${reason})`);
 * ```
 */
export async function loadDataset(
  options: LoadDatasetOptions,
): Promise<{ dataset: Dataset; reason: string }> {
  const parsed = OptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(
      `Invalid dataset options: ${issue.path.join(".") || "(value)"}: ${issue.message}`,
    );
  }
  const o: LoadDatasetOptions = parsed.data;
  const seed = o.seed ?? 1;
  const synthetic = () =>
    generateSynthetic({ seed, train: o.syntheticTrain, test: o.syntheticTest });
  let dataset: Dataset;
  let reason: string;
  switch (o.name) {
    case "synthetic":
      dataset = synthetic();
      reason = `requested: the embedded synthetic set, generated from seed ${seed}`;
      break;
    case "fashion-mnist": {
      [dataset, reason] = await loadFashion(o);
      reason = `requested: ${reason}`;
      break;
    }
    case "folder": {
      if (!o.dataDir) {
        throw new DatasetError(
          "folder: needs a data dir (--data-dir DIR holding DIR/<class>/*.png …)",
        );
      }
      const cacheDir = o.cacheDir ?? defaultCacheDir();
      ({ dataset } = await loadFolder({
        dir: o.dataDir,
        cacheDir,
        log: o.log,
        progress: o.progress,
        ...o.folder,
      }));
      reason = `requested: from --data-dir ${o.dataDir}`;
      break;
    }
    case "cifar100":
    case "cifar10": {
      [dataset, reason] = await loadCifar(o.name === "cifar100" ? CIFAR100 : CIFAR10, o);
      reason = `requested: ${reason}`;
      break;
    }
    case "auto": {
      const cache = o.cacheDir ?? defaultCacheDir();
      const cached = o.dataDir ||
        await findCifar(CIFAR100, [`${cache}/${CIFAR100.dir}`]) ||
        await exists(`${cache}/${CIFAR100.archive}`);
      if (cached || o.download !== false) {
        try {
          [dataset, reason] = await loadCifar(CIFAR100, o);
          reason = `auto: CIFAR-100 ${reason}`;
          break;
        } catch (e) {
          if (cached) throw e; // a given or cached copy that fails is an error to fix
          dataset = synthetic();
          reason = `auto: CIFAR-100 is not cached in ${cache} and the download failed ` +
            `(${(e as Error).message}); using the embedded synthetic set (seed ${seed})`;
          break;
        }
      }
      dataset = synthetic();
      reason = `auto: CIFAR-100 is not cached in ${cache} and downloading is off; ` +
        `using the embedded synthetic set (seed ${seed})`;
      break;
    }
  }
  if (o.limit) dataset = { ...dataset, train: head(dataset.train, o.limit) };
  if (o.testLimit) dataset = { ...dataset, test: head(dataset.test, o.testLimit) };
  return { dataset, reason };
}
