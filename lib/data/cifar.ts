/**
 * CIFAR-10 and CIFAR-100 (Krizhevsky 2009) from the official binary archives.
 *
 * CIFAR-100 records: 1 coarse-label byte, 1 fine-label byte, 3,072 pixel bytes channel-planar
 * (1,024 R, 1,024 G, 1,024 B, each row-major 32×32); `train.bin` 50,000 records, `test.bin`
 * 10,000; names in `fine_label_names.txt`. CIFAR-10 records: 1 label byte + 3,072 pixel bytes,
 * `data_batch_1..5.bin` (10,000 each) and `test_batch.bin`; names in `batches.meta.txt`.
 *
 * @module
 */
import { DatasetError, type Split } from "./types.ts";

/** What differs between the two archives. */
export interface CifarSpec {
  name: "cifar100" | "cifar10";
  url: string;
  archive: string;
  bytes: number;
  md5: string;
  /** Top directory inside the archive. */
  dir: string;
  trainFiles: string[];
  testFiles: string[];
  namesFile: string;
  /** Label bytes before the pixels; the label used is the last of them (fine for CIFAR-100). */
  labelBytes: number;
  classes: number;
}

/** The official CIFAR-100 binary archive (Krizhevsky 2009): 100 fine classes. */
export const CIFAR100: CifarSpec = {
  name: "cifar100",
  url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
  archive: "cifar-100-binary.tar.gz",
  bytes: 168_513_733,
  md5: "03b5dce01913d631647c71ecec9e9cb8",
  dir: "cifar-100-binary",
  trainFiles: ["train.bin"],
  testFiles: ["test.bin"],
  namesFile: "fine_label_names.txt",
  labelBytes: 2,
  classes: 100,
};

/** The official CIFAR-10 binary archive: 10 classes, five training batches. */
export const CIFAR10: CifarSpec = {
  name: "cifar10",
  url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
  archive: "cifar-10-binary.tar.gz",
  bytes: 170_052_171,
  md5: "c32a1d4ab5d03f1284b67883e8d87530",
  dir: "cifar-10-batches-bin",
  trainFiles: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  testFiles: ["test_batch.bin"],
  namesFile: "batches.meta.txt",
  labelBytes: 1,
  classes: 10,
};

const PIXELS = 32 * 32;

/**
 * Parses binary records into an NHWC split, checking sizes and label ranges: the channel-planar
 * pixel `c * 1024 + y * 32 + x` of a record becomes `(y * 32 + x) * 3 + c` of its image.
 *
 * @example
 * ```ts ignore
 * // not run: needs the downloaded CIFAR-100 files
 * const split = parseCifarRecords("test.bin", await Deno.readFile("test.bin"), CIFAR100);
 * ```
 */
export function parseCifarRecords(path: string, bytes: Uint8Array, spec: CifarSpec): Split {
  const record = spec.labelBytes + 3 * PIXELS;
  if (bytes.length === 0 || bytes.length % record !== 0) {
    throw new DatasetError(
      `${path}: expected a whole number of ${record}-byte records, got ${bytes.length} bytes (truncated?)`,
    );
  }
  const count = bytes.length / record;
  const images = new Uint8Array(count * 3 * PIXELS);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const r = i * record;
    const label = bytes[r + spec.labelBytes - 1];
    if (label >= spec.classes) {
      throw new DatasetError(`${path}: record ${i} has label ${label}, expected < ${spec.classes}`);
    }
    labels[i] = label;
    const px = r + spec.labelBytes;
    const o = i * 3 * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      images[o + 3 * p] = bytes[px + p];
      images[o + 3 * p + 1] = bytes[px + PIXELS + p];
      images[o + 3 * p + 2] = bytes[px + 2 * PIXELS + p];
    }
  }
  return { images, labels, count, height: 32, width: 32, channels: 3 };
}

async function readSplit(dir: string, files: string[], spec: CifarSpec): Promise<Split> {
  const parts: Split[] = [];
  for (const file of files) {
    const path = `${dir}/${file}`;
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch {
      throw new DatasetError(`${path}: file not found (expected an extracted ${spec.archive})`);
    }
    parts.push(parseCifarRecords(path, bytes, spec));
  }
  if (parts.length === 1) return parts[0];
  const count = parts.reduce((s, p) => s + p.count, 0);
  const images = new Uint8Array(count * 3 * PIXELS);
  const labels = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * 3 * PIXELS);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { images, labels, count, height: 32, width: 32, channels: 3 };
}

/**
 * Loads an extracted CIFAR directory (the archive's top directory), checking every file.
 *
 * @example
 * ```ts ignore
 * // not run: needs the downloaded CIFAR-100 files
 * const { train, test, classNames } = await loadCifarDir("/data/cifar-100-binary", CIFAR100);
 * ```
 */
export async function loadCifarDir(
  dir: string,
  spec: CifarSpec,
): Promise<{ train: Split; test: Split; classNames: string[] }> {
  const namesPath = `${dir}/${spec.namesFile}`;
  let names: string[];
  try {
    names = (await Deno.readTextFile(namesPath)).split(/\r?\n/).map((s) => s.trim()).filter(
      Boolean,
    );
  } catch {
    throw new DatasetError(`${namesPath}: file not found (expected an extracted ${spec.archive})`);
  }
  if (names.length !== spec.classes) {
    throw new DatasetError(
      `${namesPath}: expected ${spec.classes} class names, got ${names.length}`,
    );
  }
  return {
    train: await readSplit(dir, spec.trainFiles, spec),
    test: await readSplit(dir, spec.testFiles, spec),
    classNames: names,
  };
}
