/**
 * Folder datasets: your own labelled images, one subfolder per class (the layout of
 * torchvision's `ImageFolder` and Keras' `image_dataset_from_directory`).
 *
 * ```text
 * DIR/<class>/*.{png,jpg,jpeg,webp,avif,tif,tiff,gif}          a seeded, stratified test split
 * DIR/train/<class>/…  +  DIR/test/<class>/…                   the split you give
 * ```
 *
 * - Class names are the folder names, sorted by code point (label i is the i-th name).
 * - Every image is decoded by lib/image/decode.ts (libvips) and resized by `toModelInput`
 *   (lib/image/resample.ts) to `size × size`: the functions the server runs on an upload, so a
 *   trained model sees its training images and the served ones resampled alike. The split
 *   stores bytes, `round(255·x)`, within 0.5/255 of the float input the server feeds.
 * - Channels: `auto` keeps grey as one channel (a dataset whose every image has R = G = B,
 *   within {@linkcode GREY_TOLERANCE}) and is RGB otherwise; `1` (BT.601 luma) and `3` force one.
 * - Without `train/` and `test/`: each class is shuffled on its own (seed `splitSeed`) and
 *   `round(testFraction · n)` of its images (at least one, never all) go to the test split;
 *   both parts are then put in a class-balanced order (lib/data/subset.ts), so that `--limit`
 *   prefixes stay balanced. The split is recorded as {@linkcode FolderSplitRecord} in the
 *   checkpoint (seed, fraction, SHA-256 of each part's file list) and evaluation refuses a
 *   folder that no longer gives the same test files ({@linkcode assertSameSplit}). The split
 *   seed is not the training seed: every seed of an experiment tests on the same images.
 * - Decoded once: `<cacheDir>/folder/<key>.bin` holds the resized bytes of every file, keyed
 *   by the folder, `size` and `channels`, and per file by path, byte size and modification time;
 *   a changed file is decoded again alone, files that did not decode are remembered too.
 * - Bad files (unreadable, truncated, not an image, or not named like one) never stop a load:
 *   they are counted and named, the first few, in one summary line. A folder with no images,
 *   one class only, or an empty class is a {@linkcode DatasetError} naming the folder.
 *
 * @module
 */
import { z } from "zod";
import { decodeImage } from "../image/decode.ts";
import { toModelInput } from "../image/resample.ts";
import { Progress } from "../progress.ts";
import { mixSeed, mulberry32 } from "./rng.ts";
import { balancedOrder } from "./subset.ts";
import { type Dataset, DatasetError, type FolderSplitRecord, type Split } from "./types.ts";

/** File name extensions read as images (lower-cased before comparing). */
export const FOLDER_EXTENSIONS = ["png", "jpg", "jpeg", "webp", "avif", "tif", "tiff", "gif"];

/** Defaults of {@linkcode loadFolder}, one place for the CLI help and the experiment runner. */
export const FOLDER_DEFAULTS = {
  /** Side of the square model input. */
  size: 32,
  /** `auto`: grey stays one channel. */
  channels: "auto" as "auto" | 1 | 3,
  /** Share of each class held out for testing when the folder gives no split. */
  testFraction: 0.2,
  /** Seed of that split (not the training seed). */
  splitSeed: 1,
  /**
   * Decodes in flight in one process: sharp decodes off the JavaScript thread, so several in
   * flight keep both cores busy. Measured on the 2-core machine (docs/results/folder_dataset.md,
   * commit 0be3d22): 1 / 2 / 4 in flight gave 426 / 763 / 1066 files/s on 28×28 PNGs and
   * 192 / 394 / 451 on 256×256 ones; two Deno workers gave 486 and 184 (each worker loads the
   * whole module graph, tfjs included, and every image crosses a message port).
   */
  concurrency: 4,
};

/**
 * Bumped whenever decoding or resizing changes what a file turns into, so that caches written
 * by an older version are not read as current ones.
 */
export const FOLDER_CACHE_VERSION = 1;

const CACHE_MAGIC = "SYMFOLD1";

/** Options of {@linkcode loadFolder}. */
export interface FolderOptions {
  /** The folder (see the module doc for the layouts). */
  dir: string;
  /** Side of the square model input (default 32). */
  size?: number;
  /** `auto` (grey stays one channel), 1 or 3 (default auto). */
  channels?: "auto" | 1 | 3;
  /** Per-class share held out for testing when there is no `train/` + `test/` (default 0.2). */
  testFraction?: number;
  /** Seed of that split (default 1). */
  splitSeed?: number;
  /** Where the decode cache lives (its `folder/` subfolder); none: no cache. */
  cacheDir?: string;
  /** Decodes in flight (default 4). */
  concurrency?: number;
  /** One line per step worth telling (what was found, cache use, the skipped files). */
  log?: (line: string) => void;
  /** Progress while decoding: true draws on stderr (default), or a writer (tests). */
  progress?: boolean | ((s: string) => void);
}

/**
 * What a folder's images become and how it splits (each optional, {@linkcode FOLDER_DEFAULTS}
 * when absent): checked here, and the fields of train's options and of an experiment file's
 * `folder:` (lib/train/options.ts, lib/experiment/spec.ts).
 */
export const FolderSplitSchema = z.strictObject({
  size: z.number().int().min(4).max(1024).optional(),
  channels: z.union([z.literal("auto"), z.literal(1), z.literal(3)]).optional(),
  testFraction: z.number().gt(0).max(0.9).optional(),
  splitSeed: z.number().int().min(0).optional(),
});

const OptionsSchema = z.strictObject({
  dir: z.string().min(1),
  ...FolderSplitSchema.shape,
  cacheDir: z.string().min(1).optional(),
  concurrency: z.number().int().min(1).max(64).optional(),
  log: z.custom<(line: string) => void>((v) => typeof v === "function").optional(),
  progress: z.union([z.boolean(), z.custom<(s: string) => void>((v) => typeof v === "function")])
    .optional(),
});

/** One image file found by {@linkcode scanFolder}. */
export interface FolderFile {
  /** Path relative to the folder, `/`-separated (`cat/001.png`, `train/cat/001.png`). */
  path: string;
  label: number;
  /** `train` / `test` for a given split, `all` when the split is to be drawn. */
  part: "all" | "train" | "test";
  bytes: number;
  mtimeMs: number;
}

/** What {@linkcode scanFolder} found. */
export interface FolderScan {
  /** Absolute path of the folder. */
  root: string;
  layout: "class-folders" | "train-test";
  classNames: string[];
  /** Image files by class, then name (code-point order). */
  files: FolderFile[];
  /** Entries that are not images by their name (hidden files aside), relative paths. */
  ignored: string[];
}

const EXPECTED = `expected DIR/<class>/*.{${FOLDER_EXTENSIONS.join(",")}} ` +
  `(or DIR/train/<class>/… and DIR/test/<class>/…) with at least two classes`;

const byCodePoint = (a: string, b: string) => a < b ? -1 : a > b ? 1 : 0;

const isImageName = (name: string) =>
  FOLDER_EXTENSIONS.includes(name.slice(name.lastIndexOf(".") + 1).toLowerCase()) &&
  name.includes(".");

async function listDir(dir: string): Promise<Deno.DirEntry[]> {
  const out: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (!e.name.startsWith(".")) out.push(e);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DatasetError(`${dir}: no such folder`);
    throw new DatasetError(`${dir}: cannot list (${(e as Error).message})`);
  }
  return out.sort((a, b) => byCodePoint(a.name, b.name));
}

/** Lists `dir/<class>/` folders and their image files; `prefix` is `dir` relative to the root. */
async function scanClasses(root: string, prefix: string) {
  const classes: { name: string; files: string[] }[] = [];
  const ignored: string[] = [];
  const base = prefix ? `${root}/${prefix}` : root;
  for (const entry of await listDir(base)) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (!entry.isDirectory) {
      ignored.push(rel);
      continue;
    }
    const files: string[] = [];
    for (const f of await listDir(`${base}/${entry.name}`)) {
      if ((f.isFile || f.isSymlink) && isImageName(f.name)) files.push(`${rel}/${f.name}`);
      else ignored.push(`${rel}/${f.name}${f.isDirectory ? "/" : ""}`);
    }
    classes.push({ name: entry.name, files });
  }
  return { classes, ignored };
}

function requireClasses(
  where: string,
  classes: { name: string; files: string[] }[],
  minClasses = 2,
) {
  if (classes.length === 0) throw new DatasetError(`${where}: no class folders (${EXPECTED})`);
  if (classes.every((c) => c.files.length === 0)) {
    throw new DatasetError(
      `${where}: no images in its ${classes.length} class folder(s) (${EXPECTED})`,
    );
  }
  if (classes.length < minClasses) {
    throw new DatasetError(
      `${where}: only one class folder ("${classes[0].name}"); expected at least two`,
    );
  }
  const empty = classes.find((c) => c.files.length === 0);
  if (empty) {
    throw new DatasetError(
      `${where}/${empty.name}: no images (every class needs at least one *.{${
        FOLDER_EXTENSIONS.join(",")
      }})`,
    );
  }
}

/**
 * Finds the classes and image files of a folder (no pixel is read). Throws
 * {@linkcode DatasetError} naming the folder when it is missing, holds no images, one class
 * only, or an empty class, and when `test/` names a class that `train/` lacks.
 *
 * @example
 * ```ts ignore
 * // not run: needs a folder of your images
 * const scan = await scanFolder("data/tiles");
 * console.log(scan.classNames, scan.files.length);
 * ```
 */
export async function scanFolder(dir: string): Promise<FolderScan> {
  let root: string;
  try {
    root = await Deno.realPath(dir);
    if (!(await Deno.stat(root)).isDirectory) throw new DatasetError(`${dir}: not a folder`);
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(`${dir}: no such folder (${EXPECTED})`);
  }
  const top = await listDir(root);
  const has = (name: string) => top.some((e) => e.isDirectory && e.name === name);
  const parts: { part: FolderFile["part"]; classes: { name: string; files: string[] }[] }[] = [];
  const ignored: string[] = [];
  let layout: FolderScan["layout"];
  if (has("train") || has("test")) {
    if (!has("train") || !has("test")) {
      throw new DatasetError(
        `${dir}: has ${has("train") ? "train/ but no test/" : "test/ but no train/"} ` +
          `(give both, or put the class folders directly in ${dir})`,
      );
    }
    layout = "train-test";
    for (const part of ["train", "test"] as const) {
      const found = await scanClasses(root, part);
      // test/ may lack a class (but not hold one that train/ lacks: checked below).
      requireClasses(`${dir}/${part}`, found.classes, part === "train" ? 2 : 1);
      parts.push({ part, classes: found.classes });
      ignored.push(...found.ignored);
    }
    for (const e of top) if (e.name !== "train" && e.name !== "test") ignored.push(e.name);
    const trainNames = parts[0].classes.map((c) => c.name);
    const stray = parts[1].classes.find((c) => !trainNames.includes(c.name));
    if (stray) {
      throw new DatasetError(
        `${dir}/test/${stray.name}: a class that ${dir}/train/ does not have (expected one of ${
          trainNames.join(", ")
        })`,
      );
    }
  } else {
    layout = "class-folders";
    const found = await scanClasses(root, "");
    requireClasses(dir, found.classes);
    parts.push({ part: "all", classes: found.classes });
    ignored.push(...found.ignored);
  }
  const classNames = parts[0].classes.map((c) => c.name);
  const paths: { path: string; label: number; part: FolderFile["part"] }[] = [];
  for (const { part, classes } of parts) {
    for (const c of classes) {
      const label = classNames.indexOf(c.name);
      for (const path of c.files) paths.push({ path, label, part });
    }
  }
  const files: FolderFile[] = new Array(paths.length);
  // Stats in parallel batches: tens of thousands of files would otherwise wait one by one.
  for (let i = 0; i < paths.length; i += 256) {
    await Promise.all(
      paths.slice(i, i + 256).map(async (p, k) => {
        try {
          const s = await Deno.stat(`${root}/${p.path}`);
          files[i + k] = { ...p, bytes: s.size, mtimeMs: s.mtime?.getTime() ?? 0 };
        } catch {
          // A dangling symlink: reported with the files that do not decode.
          files[i + k] = { ...p, bytes: -1, mtimeMs: 0 };
        }
      }),
    );
  }
  return { root, layout, classNames, files, ignored };
}

// ---------------------------------------------------------------------------------------------
// Split

/**
 * The seeded, class-stratified test split of a scan without `train/` + `test/` (see the module
 * doc): indices into `labels` for each part, each in a class-balanced order. Throws
 * {@linkcode DatasetError} for a class with fewer than two images.
 *
 * @example
 * ```ts
 * const { train, test } = stratifiedSplit(new Int32Array([0, 0, 0, 1, 1, 1]), 0.34, 1);
 * // one image of each class in test
 * ```
 */
export function stratifiedSplit(
  labels: Int32Array,
  testFraction: number,
  seed: number,
  names: (label: number) => string = (l) => `class ${l}`,
): { train: number[]; test: number[] } {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]) ?? [];
    list.push(i);
    byClass.set(labels[i], list);
  }
  const train: number[] = [], test: number[] = [];
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const pool = byClass.get(c)!;
    if (pool.length < 2) {
      throw new DatasetError(
        `${names(c)}: ${pool.length} image; a test split needs at least two per class ` +
          `(or give train/ and test/ folders)`,
      );
    }
    const rand = mulberry32(mixSeed(seed, 0xf01d, c));
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    const nTest = Math.min(pool.length - 1, Math.max(1, Math.round(testFraction * pool.length)));
    test.push(...pool.slice(0, nTest));
    train.push(...pool.slice(nTest));
  }
  const balanced = (idx: number[]) => {
    idx.sort((a, b) => a - b);
    const order = balancedOrder(Int32Array.from(idx, (i) => labels[i]), mixSeed(seed, 0x0de4));
    return Array.from(order, (k) => idx[k]);
  };
  return { train: balanced(train), test: balanced(test) };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** SHA-256 of a part's file list: relative paths, sorted, one per line. */
export function fileListSha256(paths: string[]): Promise<string> {
  return sha256Hex([...paths].sort(byCodePoint).join("\n"));
}

/**
 * Refuses to evaluate on a folder whose test split is not the recorded one (files added,
 * removed or renamed since training would mix training images into the test set). Throws a
 * {@linkcode DatasetError} naming `where` (the meta.json) and the folder.
 *
 * @example
 * ```ts ignore
 * // not run: needs a checkpoint trained on a folder
 * assertSameSplit(meta.dataset.split, dataset.split!, "checkpoints/symmetric/meta.json");
 * ```
 */
export function assertSameSplit(
  recorded: FolderSplitRecord,
  loaded: FolderSplitRecord,
  where: string,
): void {
  if (recorded.testSha256 !== loaded.testSha256 || recorded.trainSha256 !== loaded.trainSha256) {
    throw new DatasetError(
      `${loaded.dir}: its split (${loaded.train} train / ${loaded.test} test, test files ${
        loaded.testSha256.slice(0, 12)
      }…) is not the one ${where} records (${recorded.train} / ${recorded.test}, ${
        recorded.testSha256.slice(0, 12)
      }…): files were added, removed or renamed since training`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** One file turned into a model input, or the reason it could not be. */
export type DecodedEntry = { pixels: Uint8Array; channels: 1 | 3 } | { error: string };

/**
 * How far apart R, G and B may be for a pixel to count as grey: a grey image saved as WebP
 * (which has no grey mode) decodes with channels one level apart (measured with libvips 8.17
 * in tests/folder_test.ts), and lossy codecs' colour conversion may add another.
 */
export const GREY_TOLERANCE = 2;

/** Whether every pixel of 8-bit RGB is grey within {@linkcode GREY_TOLERANCE}. */
function isGrey(rgb: Uint8Array): boolean {
  for (let i = 0; i < rgb.length; i += 3) {
    const r = rgb[i], g = rgb[i + 1], b = rgb[i + 2];
    if (Math.max(r, g, b) - Math.min(r, g, b) > GREY_TOLERANCE) return false;
  }
  return true;
}

/**
 * Decodes one file's bytes and resizes them as the server does (`decodeImage`, then
 * `toModelInput` to `size × size`), stored as bytes `round(255·x)`. With `channels: "auto"` a
 * grey image (R = G = B everywhere, within {@linkcode GREY_TOLERANCE}) gives one channel, a colour one three. Bad bytes give
 * `{ error }` (the decoder's one-line reason), never a throw.
 *
 * @example
 * ```ts ignore
 * // not run: needs a folder of your images
 * const e = await decodeFile(await Deno.readFile("cat/1.png"), 32, "auto");
 * if ("pixels" in e) console.log(e.channels, e.pixels.length); // 1, 1024 for a grey PNG
 * ```
 */
export async function decodeFile(
  bytes: Uint8Array,
  size: number,
  channels: "auto" | 1 | 3,
): Promise<DecodedEntry> {
  let img;
  try {
    img = await decodeImage(bytes);
  } catch (e) {
    return { error: (e as Error).message };
  }
  const c = channels === "auto" ? (isGrey(img.data) ? 1 : 3) : channels;
  const x = toModelInput(img, { height: size, width: size, channels: c });
  const pixels = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) pixels[i] = Math.round(x[i] * 255); // clamps by Uint8
  return { pixels, channels: c };
}

/** A cached entry: what a file turned into and the file's identity when it did. */
interface CacheEntry {
  path: string;
  bytes: number;
  mtimeMs: number;
  channels?: 1 | 3;
  offset?: number;
  length?: number;
  error?: string;
}

/** The cache file for a folder and resize settings: `<cacheDir>/folder/<key>.bin`. */
export async function folderCachePath(
  cacheDir: string,
  root: string,
  size: number,
  channels: "auto" | 1 | 3,
): Promise<string> {
  const key = await sha256Hex(
    JSON.stringify({ v: FOLDER_CACHE_VERSION, root, size, channels }),
  );
  const name = root.split("/").filter(Boolean).at(-1) ?? "root";
  return `${cacheDir}/folder/${name.replace(/[^A-Za-z0-9._-]/g, "_")}-${key.slice(0, 16)}.bin`;
}

async function readCache(path: string): Promise<Map<string, DecodedEntry & CacheEntry>> {
  const out = new Map<string, DecodedEntry & CacheEntry>();
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    return out;
  }
  // A cache that does not parse is rebuilt: it is ours, and holds nothing the files do not.
  try {
    if (new TextDecoder().decode(bytes.subarray(0, 8)) !== CACHE_MAGIC) return out;
    const len = new DataView(bytes.buffer, bytes.byteOffset + 8, 4).getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len)));
    const data = bytes.subarray(12 + len);
    for (const e of header.entries as CacheEntry[]) {
      if (e.error !== undefined) out.set(e.path, { ...e, error: e.error });
      else {
        const pixels = data.subarray(e.offset!, e.offset! + e.length!);
        if (pixels.length !== e.length) return new Map();
        out.set(e.path, { ...e, pixels, channels: e.channels! });
      }
    }
  } catch {
    return new Map();
  }
  return out;
}

async function writeCache(
  path: string,
  files: FolderFile[],
  entries: DecodedEntry[],
): Promise<void> {
  const header: CacheEntry[] = [];
  let offset = 0;
  files.forEach((f, i) => {
    const e = entries[i];
    const id = { path: f.path, bytes: f.bytes, mtimeMs: f.mtimeMs };
    if ("error" in e) header.push({ ...id, error: e.error });
    else {
      header.push({ ...id, channels: e.channels, offset, length: e.pixels.length });
      offset += e.pixels.length;
    }
  });
  const json = new TextEncoder().encode(JSON.stringify({ entries: header }));
  const out = new Uint8Array(12 + json.length + offset);
  out.set(new TextEncoder().encode(CACHE_MAGIC));
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  let at = 12 + json.length;
  for (const e of entries) {
    if ("pixels" in e) {
      out.set(e.pixels, at);
      at += e.pixels.length;
    }
  }
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeFile(tmp, out);
  await Deno.rename(tmp, path); // atomic: a reader sees the old cache or the new one
}

/** Decodes `jobs` (indices into `files`) in this process, `concurrency` at a time. */
async function decodeHere(
  root: string,
  files: FolderFile[],
  jobs: number[],
  o: { size: number; channels: "auto" | 1 | 3; concurrency: number },
  done: (index: number, entry: DecodedEntry) => void,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) {
      const i = jobs[next++];
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(`${root}/${files[i].path}`);
      } catch (e) {
        done(i, { error: `cannot read (${(e as Error).message})` });
        continue;
      }
      done(i, await decodeFile(bytes, o.size, o.channels));
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, jobs.length) }, lane));
}

/** What {@linkcode loadFolder} did, for logs and tests. */
export interface FolderLoadReport {
  /** Image files found (by name). */
  files: number;
  /** Files decoded in this call (0 when everything came from the cache). */
  decoded: number;
  /** Files whose result came from the cache. */
  fromCache: number;
  /** Files that are not usable images: relative path and reason. */
  skipped: { path: string; reason: string }[];
  /** The cache file read and written, when a cache dir was given. */
  cachePath?: string;
  /** Seconds spent decoding (0 on a full cache hit). */
  decodeSeconds: number;
}

/**
 * One summary line for the files a load could not use: the count, then the first `show`
 * names with their reasons. Returns undefined when there are none.
 *
 * @example
 * ```ts
 * skippedLine([{ path: "cat/x.png", reason: "truncated" }], 10);
 * // "skipped 1 of 10 files: cat/x.png (truncated)"
 * ```
 */
export function skippedLine(
  skipped: { path: string; reason: string }[],
  total: number,
  show = 3,
): string | undefined {
  if (skipped.length === 0) return undefined;
  const shown = skipped.slice(0, show).map((s) => `${s.path} (${s.reason})`).join("; ");
  const more = skipped.length > show ? `; and ${skipped.length - show} more` : "";
  return `skipped ${skipped.length} of ${total} files: ${shown}${more}`;
}

/** Assembles a split from per-file entries at `indices`, widening grey entries to RGB. */
function assemble(
  entries: DecodedEntry[],
  labels: Int32Array,
  indices: number[],
  size: number,
  channels: 1 | 3,
): Split {
  const px = size * size * channels;
  const images = new Uint8Array(indices.length * px);
  const out = new Int32Array(indices.length);
  indices.forEach((i, k) => {
    const e = entries[i] as { pixels: Uint8Array; channels: 1 | 3 };
    if (e.channels === channels) images.set(e.pixels, k * px);
    else {
      // A grey image in an RGB dataset: R = G = B, as toModelInput makes it with channels 3.
      for (let p = 0; p < size * size; p++) {
        const v = e.pixels[p];
        images[k * px + 3 * p] = v;
        images[k * px + 3 * p + 1] = v;
        images[k * px + 3 * p + 2] = v;
      }
    }
    out[k] = labels[i];
  });
  return { images, labels: out, count: indices.length, height: size, width: size, channels };
}

/**
 * Loads a folder of labelled images as a {@linkcode Dataset} named `folder` (see the module
 * doc): scans, decodes what the cache does not hold (with progress), skips bad files with one
 * summary line, splits, and records the split in `dataset.split`.
 *
 * @example
 * ```ts ignore
 * // not run: needs a folder of your images
 * const { dataset, report } = await loadFolder({ dir: "data/tiles", cacheDir: "/tmp/cache" });
 * console.log(dataset.classNames, dataset.train.count, report.decoded);
 * ```
 */
export async function loadFolder(
  options: FolderOptions,
): Promise<{ dataset: Dataset; report: FolderLoadReport }> {
  const parsed = OptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(
      `Invalid folder options: ${issue.path.join(".") || "(value)"}: ${issue.message}`,
    );
  }
  const o = parsed.data as FolderOptions;
  const size = o.size ?? FOLDER_DEFAULTS.size;
  const channelsOption = o.channels ?? FOLDER_DEFAULTS.channels;
  const testFraction = o.testFraction ?? FOLDER_DEFAULTS.testFraction;
  const seed = o.splitSeed ?? FOLDER_DEFAULTS.splitSeed;
  const log = o.log ?? (() => {});
  const loadStarted = performance.now();
  const scan = await scanFolder(o.dir);
  const { root, files, classNames } = scan;

  // Decode what the cache does not hold, and reuse what it does.
  const cachePath = o.cacheDir
    ? await folderCachePath(o.cacheDir, root, size, channelsOption)
    : undefined;
  const cached = cachePath ? await readCache(cachePath) : new Map();
  const entries: DecodedEntry[] = new Array(files.length);
  const jobs: number[] = [];
  files.forEach((f, i) => {
    const c = cached.get(f.path);
    if (f.bytes < 0) entries[i] = { error: "cannot read (dangling link?)" };
    else if (c && c.bytes === f.bytes && c.mtimeMs === f.mtimeMs) entries[i] = c;
    else jobs.push(i);
  });
  let decodeSeconds = 0;
  if (jobs.length) {
    const concurrency = o.concurrency ?? FOLDER_DEFAULTS.concurrency;
    log(
      `decoding ${jobs.length} of ${files.length} images in ${o.dir} to ${size}×${size} (${concurrency} in flight)` +
        (cachePath ? `; cache ${cachePath}` : "; no cache"),
    );
    const bar = o.progress === false ? undefined : new Progress(`decoding`, jobs.length, {
      unit: "files",
      ...(typeof o.progress === "function" ? { write: o.progress, tty: false } : {}),
    });
    let n = 0;
    const done = (i: number, e: DecodedEntry) => {
      entries[i] = e;
      bar?.update(++n, n);
    };
    const started = performance.now();
    await decodeHere(root, files, jobs, { size, channels: channelsOption, concurrency }, done);
    bar?.done();
    decodeSeconds = (performance.now() - started) / 1000;
    if (cachePath) await writeCache(cachePath, files, entries);
    log(
      `decoded ${jobs.length} images in ${decodeSeconds.toFixed(2)} s (${
        (jobs.length / decodeSeconds).toFixed(0)
      } images/s)` + (cachePath ? `, cached` : ""),
    );
  } else {
    log(
      `decode cache: all ${files.length} images of ${o.dir} from ${cachePath} (${
        ((performance.now() - loadStarted) / 1000).toFixed(2)
      } s since the scan began)`,
    );
  }

  // Bad files: one line, then the folder must still hold two usable classes.
  const skipped = [
    ...scan.ignored.map((path) => ({ path, reason: "not an image by its name" })),
    ...files.flatMap((f, i) => {
      const e = entries[i];
      return "error" in e ? [{ path: f.path, reason: e.error }] : [];
    }),
  ];
  const line = skippedLine(skipped, files.length + scan.ignored.length);
  if (line) log(line);
  const usable = files.map((_, i) => i).filter((i) => "pixels" in entries[i]);
  const labels = Int32Array.from(files, (f) => f.label);
  for (let c = 0; c < classNames.length; c++) {
    const where = scan.layout === "train-test"
      ? `${o.dir}/train/${classNames[c]}`
      : `${o.dir}/${classNames[c]}`;
    const inTrain = usable.filter((i) => labels[i] === c && files[i].part !== "test").length;
    if (inTrain === 0) {
      throw new DatasetError(`${where}: none of its images could be decoded (see skipped files)`);
    }
  }
  const channels: 1 | 3 = channelsOption !== "auto"
    ? channelsOption
    : usable.every((i) => (entries[i] as { channels: 1 | 3 }).channels === 1)
    ? 1
    : 3;

  let trainIdx: number[], testIdx: number[];
  if (scan.layout === "train-test") {
    trainIdx = usable.filter((i) => files[i].part === "train");
    testIdx = usable.filter((i) => files[i].part === "test");
  } else {
    // Drawn over every image file (decodable or not), so that a file that fails today and is
    // fixed tomorrow does not move the others between the parts.
    const split = stratifiedSplit(labels, testFraction, seed, (c) => `${o.dir}/${classNames[c]}`);
    const ok = new Set(usable);
    trainIdx = split.train.filter((i) => ok.has(i));
    testIdx = split.test.filter((i) => ok.has(i));
  }
  const record: FolderSplitRecord = {
    dir: root,
    layout: scan.layout,
    ...(scan.layout === "class-folders" ? { seed, testFraction } : {}),
    size,
    channels,
    channelsOption,
    train: trainIdx.length,
    test: testIdx.length,
    skipped: skipped.length,
    trainSha256: await fileListSha256(trainIdx.map((i) => files[i].path)),
    testSha256: await fileListSha256(testIdx.map((i) => files[i].path)),
  };
  const dataset: Dataset = {
    name: "folder",
    classNames,
    train: assemble(entries, labels, trainIdx, size, channels),
    test: assemble(entries, labels, testIdx, size, channels),
    source: `${root} (${classNames.length} classes, ${
      scan.layout === "train-test"
        ? "its train/ and test/"
        : `test split ${testFraction} drawn with seed ${seed}`
    }, ${size}×${size}×${channels})`,
    split: record,
  };
  return {
    dataset,
    report: {
      files: files.length,
      decoded: jobs.length,
      fromCache: files.length - jobs.length,
      skipped,
      cachePath,
      decodeSeconds,
    },
  };
}
