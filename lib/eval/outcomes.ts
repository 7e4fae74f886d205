/**
 * Per-image outcomes of an evaluation, stored compactly beside report.json (`outcomes.json`) so
 * that `experiment aggregate` can bootstrap over test images as well as seeds
 * (lib/experiment/bootstrap.ts; docs/design.md "Statistics").
 *
 * For every model and every measure of the sweep, one bit per test image (1 = top-1 correct),
 * packed little-endian (image i is bit `i & 7` of byte `i >> 3`) and base64-encoded: 2,000 test
 * images are 336 characters a measure. Rows are keyed `<measure>:<value>` (`rotation:90`,
 * `zoom:0.5`, `mirror:4`, `pgd:8`, `pgdSanity:255`; `clean`, `top5`, `perturbed` and
 * `randomRotation` have no value). Attack rows cover only the first `advImages` images. Per-image
 * scores that are not bits (the mean rotation invariance over the non-zero angles) are float32
 * little-endian, base64.
 *
 * `testSet` is a SHA-256 of the evaluated images and labels: cells whose outcomes carry the same
 * hash measured the same images in the same order, so their outcomes can be paired image by image.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { Split } from "../data/mod.ts";

/** What `outcomes.json` holds. */
export interface Outcomes {
  /** Bumped when the meaning of a field changes. */
  format: 1;
  /** Test images measured: the first `images` of the test split, in split order. */
  images: number;
  /** The first `advImages` of them were attacked (the `fgsm:`, `pgd:` and `pgdSanity:` rows). */
  advImages: number;
  /** SHA-256 (hex) of the `images` test images' pixels and labels ({@linkcode testSetHash}). */
  testSet: string;
  models: Record<string, ModelOutcomes>;
}

/** One model's rows. */
export interface ModelOutcomes {
  /** `<measure>[:<value>]` → packed bits, base64. */
  bits: Record<string, string>;
  /** Per-image float scores, float32 little-endian, base64. */
  scores: Record<string, string>;
}

/** The file eval writes beside report.json. */
export const OUTCOMES_FILE = "outcomes.json";

/** An outcomes file that cannot be used (wrong shape, wrong lengths); the message names it. */
export class OutcomesError extends Error {
  override name = "OutcomesError";
}

/**
 * Packs 0/1 values (anything truthy is 1) into base64 of little-endian bits.
 *
 * @example
 * ```ts
 * encodeBits([1, 0, 1]); // "BQ==" (0b101)
 * ```
 */
export function encodeBits(bits: ArrayLike<number | boolean>): string {
  const bytes = new Uint8Array(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) if (bits[i]) bytes[i >> 3] |= 1 << (i & 7);
  return Buffer.from(bytes).toString("base64");
}

/** Unpacks `count` bits written by {@linkcode encodeBits} into 0/1 values. */
export function decodeBits(text: string, count: number, what = "bits"): Uint8Array {
  const bytes = Buffer.from(text, "base64");
  if (bytes.length !== Math.ceil(count / 8)) {
    throw new OutcomesError(
      `${what}: expected ${Math.ceil(count / 8)} bytes for ${count} images, got ${bytes.length}`,
    );
  }
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (bytes[i >> 3] >> (i & 7)) & 1;
  return out;
}

/** Float scores as base64 of float32 little-endian. */
export function encodeScores(values: ArrayLike<number>): string {
  const buf = Buffer.alloc(4 * values.length);
  for (let i = 0; i < values.length; i++) buf.writeFloatLE(values[i], 4 * i);
  return buf.toString("base64");
}

/** Reads `count` scores written by {@linkcode encodeScores}. */
export function decodeScores(text: string, count: number, what = "scores"): Float32Array {
  const buf = Buffer.from(text, "base64");
  if (buf.length !== 4 * count) {
    throw new OutcomesError(
      `${what}: expected ${4 * count} bytes for ${count} images, got ${buf.length}`,
    );
  }
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = buf.readFloatLE(4 * i);
  return out;
}

/** The row key of a measure at a value (`rotation:90`), or of a measure without one (`clean`). */
export function rowKey(measure: string, value?: number): string {
  return value === undefined ? measure : `${measure}:${value}`;
}

/**
 * SHA-256 over the first `n` images' bytes, then their labels (int32 little-endian), then the
 * image shape: equal for two evaluations exactly when they measured the same images.
 */
export function testSetHash(split: Split, n: number): string {
  const pixels = split.height * split.width * split.channels;
  const h = createHash("sha256");
  h.update(`${n}x${split.height}x${split.width}x${split.channels}\n`);
  h.update(split.images.subarray(0, n * pixels));
  const labels = split.labels.subarray(0, n);
  h.update(new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength));
  return h.digest("hex");
}

/**
 * Checks the shape of a parsed outcomes.json (every bit row of the right length); throws
 * {@linkcode OutcomesError} naming the file and row.
 */
export function validateOutcomes(raw: unknown, source: string): Outcomes {
  const o = raw as Partial<Outcomes> | null;
  if (
    !o || o.format !== 1 || !Number.isInteger(o.images) || !Number.isInteger(o.advImages) ||
    typeof o.testSet !== "string" || !o.models || typeof o.models !== "object"
  ) {
    throw new OutcomesError(
      `${source}: expected {format: 1, images, advImages, testSet, models}, got ${
        JSON.stringify(raw)?.slice(0, 80)
      }`,
    );
  }
  for (const [name, m] of Object.entries(o.models)) {
    for (const [key, text] of Object.entries(m.bits ?? {})) {
      const count = isAttackRow(key) ? o.advImages! : o.images!;
      decodeBits(text, count, `${source}: ${name} ${key}`);
    }
    for (const [key, text] of Object.entries(m.scores ?? {})) {
      decodeScores(text, o.images!, `${source}: ${name} ${key}`);
    }
  }
  return o as Outcomes;
}

/** Whether a row covers only the attacked images. */
export function isAttackRow(key: string): boolean {
  return /^(fgsm|pgd|pgdSanity|attackedClean)(:|$)/.test(key);
}

/** Writes `<dir>/outcomes.json` (one line: it is data, not for reading). */
export async function writeOutcomes(dir: string, outcomes: Outcomes): Promise<string> {
  await Deno.writeTextFile(`${dir}/${OUTCOMES_FILE}`, JSON.stringify(outcomes) + "\n");
  return OUTCOMES_FILE;
}

/** Reads and checks `<dir>/outcomes.json`; undefined when the file does not exist. */
export async function readOutcomes(dir: string): Promise<Outcomes | undefined> {
  const path = `${dir}/${OUTCOMES_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new OutcomesError(`${path}: cannot read (${(e as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new OutcomesError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return validateOutcomes(raw, path);
}
