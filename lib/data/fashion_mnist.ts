/**
 * Fashion-MNIST from IDX files (Xiao et al. 2017): 60,000 train and 10,000 test 28×28 grey
 * images in 10 classes. Read from Debian's `dataset-fashion-mnist` package
 * (`/usr/share/datasets/fashion-mnist/`, gzipped IDX), a `--data-dir`, or the download cache.
 *
 * Images are padded to 32×32 with a 2-pixel black border: the models pool three times by two,
 * and exact 90° equivariance needs map sizes that stay even (28 → 14 → 7 would not).
 *
 * @module
 */
import { DatasetError, type Split } from "./types.ts";

/** Class names, in label order. */
export const FASHION_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** The four IDX files (without .gz). */
export const FASHION_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
};

/** Where Debian's `dataset-fashion-mnist` package installs the gzipped IDX files. */
export const DEBIAN_FASHION_DIR = "/usr/share/datasets/fashion-mnist";

/**
 * Reads a file, transparently gunzipping `.gz` (tries `name` then `name.gz`).
 *
 * @example
 * ```ts ignore
 * // not run: needs Debian's dataset-fashion-mnist
 * const { path, bytes } = await readMaybeGz(DEBIAN_FASHION_DIR, "t10k-labels-idx1-ubyte");
 * ```
 */
export async function readMaybeGz(
  dir: string,
  name: string,
): Promise<{ path: string; bytes: Uint8Array }> {
  for (const candidate of [name, `${name}.gz`]) {
    const path = `${dir}/${candidate}`;
    let raw: Uint8Array;
    try {
      raw = await Deno.readFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw new DatasetError(`${path}: cannot read (${(e as Error).message})`);
    }
    if (!candidate.endsWith(".gz")) return { path, bytes: raw };
    try {
      const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream()
        .pipeThrough(new DecompressionStream("gzip"));
      return { path, bytes: new Uint8Array(await new Response(stream).arrayBuffer()) };
    } catch (e) {
      throw new DatasetError(`${path}: not a valid gzip file (${(e as Error).message})`);
    }
  }
  throw new DatasetError(`${dir}/${name}(.gz): file not found`);
}

/**
 * Parses an IDX file: magic `00 00 08 <rank>` (uint8 data), big-endian uint32 dims, then the
 * data; the size must match the dims exactly.
 *
 * @example
 * ```ts
 * // an IDX header (magic 0x00000801: unsigned bytes, rank 1), 3 items, then the labels
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 9]);
 * const { dims, data } = parseIdx("labels", bytes, 1); // dims [3], data [7, 2, 9]
 * ```
 */
export function parseIdx(
  path: string,
  bytes: Uint8Array,
  rank: 1 | 3,
): { dims: number[]; data: Uint8Array } {
  if (bytes.length < 4 + 4 * rank) throw new DatasetError(`${path}: truncated IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== 0 || bytes[2] !== 0x08 || bytes[3] !== rank) {
    throw new DatasetError(
      `${path}: expected an IDX file of uint8 with ${rank} dimension(s) (magic 00 00 08 0${rank}), got ${
        Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ")
      }`,
    );
  }
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  const offset = 4 + 4 * rank;
  if (bytes.length !== offset + size) {
    throw new DatasetError(
      `${path}: expected ${offset + size} bytes for dims ${
        dims.join("×")
      }, got ${bytes.length} (truncated or corrupt)`,
    );
  }
  return { dims, data: bytes.subarray(offset) };
}

async function loadSplit(dir: string, images: string, labels: string): Promise<Split> {
  const img = await readMaybeGz(dir, images);
  const lab = await readMaybeGz(dir, labels);
  const { dims: [n, h, w], data } = parseIdx(img.path, img.bytes, 3);
  const { dims: [m], data: labelBytes } = parseIdx(lab.path, lab.bytes, 1);
  if (n !== m) {
    throw new DatasetError(`${lab.path}: ${m} labels for ${n} images in ${img.path}`);
  }
  const labelsOut = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (labelBytes[i] > 9) {
      throw new DatasetError(`${lab.path}: label ${labelBytes[i]} at ${i} is not in 0..9`);
    }
    labelsOut[i] = labelBytes[i];
  }
  const [H, W, pad] = [h + 4, w + 4, 2];
  const out = new Uint8Array(n * H * W);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      out.set(data.subarray((i * h + y) * w, (i * h + y + 1) * w), (i * H + y + pad) * W + pad);
    }
  }
  return { images: out, labels: labelsOut, count: n, height: H, width: W, channels: 1 };
}

/**
 * Loads Fashion-MNIST from a directory of (optionally gzipped) IDX files. Each 28×28 image is
 * padded to 32×32 with a 2-pixel zero border, channels = 1: the models pool three times by
 * 2×2, and exact 90° equivariance needs map sizes that stay even (32 → 16 → 8 → 4, where 28
 * would give 28 → 14 → 7 → 3 and an odd map whose pooling grid does not rotate onto itself).
 *
 * @example
 * ```ts ignore
 * // not run: needs Debian's dataset-fashion-mnist
 * const { train, test } = await loadFashionMnist(DEBIAN_FASHION_DIR);
 * train.count; // 60000, each 32×32×1
 * ```
 */
export async function loadFashionMnist(dir: string): Promise<{ train: Split; test: Split }> {
  const f = FASHION_FILES;
  return {
    train: await loadSplit(dir, f.trainImages, f.trainLabels),
    test: await loadSplit(dir, f.testImages, f.testLabels),
  };
}
