/**
 * Decoding uploaded images for the HTTP server, and turning them into model inputs.
 *
 * - {@linkcode detectImageType} names a file from its magic bytes alone.
 * - {@linkcode readImageHeader} reads width and height without decoding pixels, so a caller can
 *   refuse an oversized image before spending memory on it.
 * - {@linkcode decodeImage} decodes PNG (every colour type and bit depth, palette with tRNS,
 *   Adam7 interlacing; our own decoder on top of `node:zlib`) and JPEG (baseline and
 *   progressive, grey, colour and CMYK; `jpeg-js`), composites alpha over a background, and
 *   applies the EXIF Orientation tag. Bad bytes only ever raise {@linkcode ImageError}.
 * - {@linkcode toModelInput} / {@linkcode imageToTensor} resize with area averaging when
 *   shrinking and bilinear interpolation when enlarging, and scale to [0, 1].
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import jpeg from "jpeg-js";
import { inflateSync } from "node:zlib";
import { z } from "zod";
import {
  applyOrientation,
  type Orientation,
  readExifOrientation,
  readExifOrientationFromApp1,
} from "./exif.ts";

// ---------------------------------------------------------------------------------------------
// Errors and defaults

/** Why bytes could not be decoded; the server maps each code to one HTTP status. */
export type ImageErrorCode =
  | "empty"
  | "not_image"
  | "unsupported_type"
  | "truncated"
  | "corrupt"
  | "too_many_pixels"
  | "zero_size";

/**
 * The only error {@linkcode decodeImage} and {@linkcode readImageHeader} throw for bad bytes.
 * The message is one line saying what was expected and what was got.
 *
 * @example
 * ```ts
 * try {
 *   decodeImage(new TextEncoder().encode("GIF89a..."));
 * } catch (e) {
 *   if (e instanceof ImageError) console.log(e.code, e.message);
 *   // unsupported_type Expected a PNG or JPEG image, got GIF
 * }
 * ```
 */
export class ImageError extends Error {
  /** Always "ImageError". */
  override name = "ImageError";
  /** Machine-readable reason. */
  readonly code: ImageErrorCode;
  /** An error with a reason code and a one-line message (expected …, got …). */
  constructor(code: ImageErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Defaults of {@linkcode decodeImage}: refuse images over 50 megapixels (a 12-MP phone photo
 * passes; decoding one costs about 4 bytes per pixel per stage), and composite transparent
 * pixels over white, as browsers show them on a default page.
 *
 * @example
 * ```ts
 * decodeImage(bytes, { maxPixels: IMAGE_DEFAULTS.maxPixels / 10 });
 * ```
 */
export const IMAGE_DEFAULTS: {
  readonly maxPixels: number;
  readonly background: readonly [number, number, number];
} = { maxPixels: 50_000_000, background: [255, 255, 255] };

// ---------------------------------------------------------------------------------------------
// Type detection

/** The image types this module decodes. */
export type ImageType = "png" | "jpeg";

const ascii = (bytes: Uint8Array, from: number, to: number) =>
  String.fromCharCode(...bytes.subarray(from, Math.min(to, bytes.length)));

const startsWith = (bytes: Uint8Array, prefix: number[], at = 0) =>
  bytes.length >= at + prefix.length && prefix.every((b, i) => bytes[at + i] === b);

const HEIF_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"]);

/**
 * Names the type of an image from its magic bytes only (never from a file name or a
 * Content-Type). Returns `"png"` or `"jpeg"` for the types this module decodes, `{ other }`
 * with a human name for a recognised type it does not decode (GIF, WebP, BMP, TIFF, AVIF,
 * HEIC, HEIF, ICO, CUR, JPEG XL, JPEG 2000, PSD, QOI, PDF, SVG, ISO media), and `null` for
 * anything else.
 *
 * @example
 * ```ts
 * detectImageType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])); // "png"
 * detectImageType(new TextEncoder().encode("GIF89a")); // { other: "GIF" }
 * detectImageType(new Uint8Array([1, 2, 3])); // null
 * ```
 */
export function detectImageType(bytes: Uint8Array): ImageType | { other: string } | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "png";
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "jpeg";
  const head4 = ascii(bytes, 0, 4);
  if (ascii(bytes, 0, 6) === "GIF87a" || ascii(bytes, 0, 6) === "GIF89a") return { other: "GIF" };
  if (head4 === "RIFF" && ascii(bytes, 8, 12) === "WEBP") return { other: "WebP" };
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) {
    return { other: "TIFF" };
  }
  if (ascii(bytes, 4, 8) === "ftyp" && bytes.length >= 12) {
    const size = Math.min(
      ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0,
      64,
    );
    const brands = [ascii(bytes, 8, 12)];
    for (let at = 16; at + 4 <= Math.min(size, bytes.length); at += 4) {
      brands.push(ascii(bytes, at, at + 4));
    }
    if (brands.some((b) => b === "avif" || b === "avis")) return { other: "AVIF" };
    if (brands.some((b) => HEIF_BRANDS.has(b))) return { other: "HEIC" };
    if (brands.some((b) => b === "mif1" || b === "msf1")) return { other: "HEIF" };
    return { other: `ISO media (brand "${brands[0].replace(/[^\x20-\x7e]/g, "?")}")` };
  }
  if (
    startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])
  ) {
    return { other: "JPEG XL" };
  }
  if (startsWith(bytes, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20])) return { other: "JPEG 2000" };
  if (startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) return { other: "JPEG 2000" };
  // BMP: "BM", file size, then 4 reserved bytes that are zero in every writer.
  if (head4.startsWith("BM") && bytes.length >= 14 && startsWith(bytes, [0, 0, 0, 0], 6)) {
    return { other: "BMP" };
  }
  // ICO/CUR: reserved 0, type 1 or 2, and a non-zero image count.
  if (startsWith(bytes, [0, 0]) && (bytes[2] === 1 || bytes[2] === 2) && bytes[3] === 0) {
    if (bytes.length >= 6 && (bytes[4] | (bytes[5] << 8)) > 0) {
      return { other: bytes[2] === 1 ? "ICO" : "CUR" };
    }
  }
  if (head4 === "8BPS") return { other: "PSD" };
  if (head4 === "qoif") return { other: "QOI" };
  if (head4 === "%PDF") return { other: "PDF" };
  const text = new TextDecoder().decode(bytes.subarray(0, 1024)).replace(/^\uFEFF/, "").trimStart();
  if (/^<svg[\s>]/i.test(text) || (/^<\?xml/i.test(text) && /<svg[\s>]/i.test(text))) {
    return { other: "SVG" };
  }
  return null;
}

/** Describes unrecognised bytes for an error message: printable text, or the first bytes in hex. */
function describeUnknown(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 16);
  if (head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 0x20 && b < 0x7f))) {
    return `text starting ${JSON.stringify(ascii(head, 0, 16))}`;
  }
  const hex = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  return `unrecognised bytes starting ${hex}`;
}

/** Detects the type and throws the matching ImageError unless it is PNG or JPEG. */
function requireDecodable(bytes: Uint8Array): ImageType {
  if (bytes.length === 0) {
    throw new ImageError("empty", "Expected a PNG or JPEG image, got 0 bytes");
  }
  const type = detectImageType(bytes);
  if (type === null) {
    throw new ImageError(
      "not_image",
      `Expected a PNG or JPEG image, got ${describeUnknown(bytes)}`,
    );
  }
  if (typeof type === "object") {
    throw new ImageError("unsupported_type", `Expected a PNG or JPEG image, got ${type.other}`);
  }
  return type;
}

// ---------------------------------------------------------------------------------------------
// Headers

/** What the header of a PNG or JPEG says, read without decoding any pixel. */
export interface ImageHeader {
  /** The type named by the magic bytes. */
  type: ImageType;
  /** Width as stored, before any EXIF orientation is applied. */
  width: number;
  /** Height as stored, before any EXIF orientation is applied. */
  height: number;
  /** The EXIF Orientation tag (1–8) when present; 5–8 swap the displayed width and height. */
  orientation?: Orientation;
}

/**
 * Reads the size (and EXIF orientation) of a PNG (IHDR, and `eXIf` when present) or JPEG
 * (the SOFn marker, and an EXIF APP1 segment before it) without decoding pixels. Throws
 * {@linkcode ImageError} like {@linkcode decodeImage}, except that it does not check the
 * pixel limit or the rest of the file.
 *
 * @example
 * ```ts
 * const header = readImageHeader(await Deno.readFile("photo.jpg"));
 * if (header.width * header.height > 10_000_000) throw new Error("too big");
 * ```
 */
export function readImageHeader(bytes: Uint8Array): ImageHeader {
  const type = requireDecodable(bytes);
  if (type === "png") {
    const ihdr = readPngIhdr(bytes);
    const orientation = findPngOrientation(bytes);
    return { type, width: ihdr.width, height: ihdr.height, ...(orientation && { orientation }) };
  }
  const sof = readJpegFrameHeader(bytes);
  return {
    type,
    width: sof.width,
    height: sof.height,
    ...(sof.orientation && { orientation: sof.orientation }),
  };
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Options of {@linkcode decodeImage}. */
export interface DecodeOptions {
  /** Refuse images with more pixels than this (checked from the header); default 50 000 000. */
  maxPixels?: number;
  /**
   * RGB (0–255) that transparent pixels are composited over; default white `[255, 255, 255]`.
   * Only PNGs can be transparent (an alpha channel, or tRNS).
   */
  background?: [number, number, number];
}

const DecodeOptionsSchema = z.object({
  maxPixels: z.number().int().positive().optional(),
  background: z.tuple([
    z.number().int().min(0).max(255),
    z.number().int().min(0).max(255),
    z.number().int().min(0).max(255),
  ]).optional(),
});

/** A decoded image: 8-bit RGB, row-major HWC, as a viewer would display it. */
export interface DecodedImage {
  /** `height * width * 3` bytes, RGB interleaved, alpha already composited over the background. */
  data: Uint8Array;
  /** Displayed width in pixels (after orientation). */
  width: number;
  /** Displayed height in pixels (after orientation). */
  height: number;
  /** What the bytes were. */
  sourceType: ImageType;
  /** The EXIF Orientation the file carried (already applied to `data`); absent when none. */
  orientation?: number;
}

/**
 * Decodes a PNG or JPEG into 8-bit RGB.
 *
 * - PNG: colour types grey, grey+alpha, RGB, RGBA and palette; bit depths 1–16; tRNS; Adam7.
 *   16-bit samples become 8-bit by rounding `v · 255 / 65535`; alpha is composited as
 *   `round(c·α + background·(1 − α))`. The critical chunks' CRCs are checked.
 * - JPEG: baseline and progressive Huffman-coded, 8-bit, grey, YCbCr, RGB and (Adobe) CMYK.
 *   Lossless, hierarchical, arithmetic-coded and 12-bit JPEGs are `unsupported_type`.
 * - The EXIF Orientation tag (JPEG APP1, PNG eXIf) is applied, so the result is upright.
 *
 * Throws {@linkcode ImageError} for every kind of bad input, and only that.
 *
 * @example
 * ```ts
 * const img = decodeImage(await Deno.readFile("cat.png"), { maxPixels: 4_000_000 });
 * console.log(img.width, img.height, img.data.length); // w, h, w * h * 3
 * ```
 */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): DecodedImage {
  const parsed = DecodeOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`Invalid decode options: ${issue.path.join(".")}: ${issue.message}`);
  }
  const maxPixels = parsed.data.maxPixels ?? IMAGE_DEFAULTS.maxPixels;
  const background = parsed.data.background ?? IMAGE_DEFAULTS.background;
  const header = readImageHeader(bytes);
  const { width, height } = header;
  if (width === 0 || height === 0) {
    throw new ImageError(
      "zero_size",
      `Expected an image of at least 1×1 pixels, got ${width}×${height}`,
    );
  }
  if (width * height > maxPixels) {
    throw new ImageError(
      "too_many_pixels",
      `Expected at most ${maxPixels} pixels, got ${width}×${height} = ${width * height}`,
    );
  }
  let data: Uint8Array;
  try {
    data = header.type === "png" ? decodePng(bytes, background) : decodeJpeg(bytes, width, height);
  } catch (e) {
    if (e instanceof ImageError) throw e;
    // Decoder bugs and resource errors on hostile input still end as an ImageError.
    const message = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    throw new ImageError(
      "corrupt",
      `Expected a valid ${header.type.toUpperCase()}, got an error: ${message}`,
    );
  }
  const upright = applyOrientation(data, width, height, 3, header.orientation ?? 1);
  return {
    data: upright.data,
    width: upright.width,
    height: upright.height,
    sourceType: header.type,
    ...(header.orientation && { orientation: header.orientation }),
  };
}

// ---------------------------------------------------------------------------------------------
// PNG (ISO/IEC 15948, https://www.w3.org/TR/png-3/)

const PNG_SIGNATURE_LENGTH = 8;
const VALID_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16], // greyscale
  2: [8, 16], // truecolour
  3: [1, 2, 4, 8], // indexed
  4: [8, 16], // greyscale + alpha
  6: [8, 16], // truecolour + alpha
};
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

interface PngIhdr {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace: number;
}

interface PngChunk {
  type: string;
  data: Uint8Array;
  /** Offset of the chunk's length field. */
  at: number;
}

const u32be = (b: Uint8Array, at: number) =>
  ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

/** Walks the chunks of a PNG. Throws `truncated` when a chunk runs past the end of the bytes. */
function* pngChunks(bytes: Uint8Array): Generator<PngChunk> {
  let at = PNG_SIGNATURE_LENGTH;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) {
      throw new ImageError(
        "truncated",
        `Expected a complete PNG, got a file cut inside a chunk header at byte ${at}`,
      );
    }
    const length = u32be(bytes, at);
    const type = ascii(bytes, at + 4, at + 8);
    if (length > 0x7fffffff || !/^[A-Za-z]{4}$/.test(type)) {
      throw new ImageError("corrupt", `Expected a PNG chunk at byte ${at}, got garbage`);
    }
    if (at + 12 + length > bytes.length) {
      throw new ImageError(
        "truncated",
        `Expected a complete PNG, got a file cut inside its ${type} chunk (${bytes.length} bytes)`,
      );
    }
    yield { type, data: bytes.subarray(at + 8, at + 8 + length), at };
    at += 12 + length;
  }
}

function readPngIhdr(bytes: Uint8Array): PngIhdr {
  if (bytes.length < PNG_SIGNATURE_LENGTH + 8 + 13 + 4) {
    throw new ImageError(
      "truncated",
      `Expected a PNG header (33 bytes), got ${bytes.length} bytes`,
    );
  }
  if (ascii(bytes, 12, 16) !== "IHDR" || u32be(bytes, 8) !== 13) {
    throw new ImageError(
      "corrupt",
      `Expected the PNG's first chunk to be IHDR, got "${ascii(bytes, 12, 16)}"`,
    );
  }
  const d = bytes.subarray(16, 29);
  const ihdr = {
    width: u32be(d, 0),
    height: u32be(d, 4),
    depth: d[8],
    colorType: d[9],
    interlace: d[12],
  };
  if (!VALID_DEPTHS[ihdr.colorType]?.includes(ihdr.depth)) {
    throw new ImageError(
      "corrupt",
      `Expected a valid PNG colour type and bit depth, got colour type ${ihdr.colorType} at ${ihdr.depth} bits`,
    );
  }
  if (d[10] !== 0 || d[11] !== 0 || ihdr.interlace > 1) {
    throw new ImageError(
      "corrupt",
      `Expected PNG compression 0, filter 0 and interlace 0 or 1, got ${d[10]}, ${
        d[11]
      } and ${ihdr.interlace}`,
    );
  }
  if (ihdr.width > 0x7fffffff || ihdr.height > 0x7fffffff) {
    throw new ImageError(
      "corrupt",
      `Expected PNG dimensions below 2^31, got ${ihdr.width}×${ihdr.height}`,
    );
  }
  return ihdr;
}

/** The orientation in a PNG's eXIf chunk, if any; a damaged file simply has none. */
function findPngOrientation(bytes: Uint8Array): Orientation | undefined {
  try {
    for (const chunk of pngChunks(bytes)) {
      if (chunk.type === "eXIf") return readExifOrientation(chunk.data);
      if (chunk.type === "IEND") break;
    }
  } catch (e) {
    if (!(e instanceof ImageError)) throw e;
  }
  return undefined;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 as in PNG (ISO 3309, polynomial 0xedb88320). */
function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The seven Adam7 passes: first column, first row, column step, row step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

interface PngPass {
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  width: number;
  height: number;
}

function pngPasses(ihdr: PngIhdr): PngPass[] {
  if (ihdr.interlace === 0) {
    return [{ x0: 0, y0: 0, dx: 1, dy: 1, width: ihdr.width, height: ihdr.height }];
  }
  return ADAM7.map(([x0, y0, dx, dy]) => ({
    x0,
    y0,
    dx,
    dy,
    width: Math.ceil(Math.max(0, ihdr.width - x0) / dx),
    height: Math.ceil(Math.max(0, ihdr.height - y0) / dy),
  })).filter((p) => p.width > 0 && p.height > 0); // an empty pass has no filter bytes at all
}

function decodePng(bytes: Uint8Array, background: readonly [number, number, number]): Uint8Array {
  const ihdr = readPngIhdr(bytes);
  const channels = CHANNELS[ihdr.colorType];
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  for (const chunk of pngChunks(bytes)) {
    const critical = chunk.type.charCodeAt(0) < 0x61; // upper-case first letter
    if (critical) {
      const crc = u32be(bytes, chunk.at + 8 + chunk.data.length);
      if (crc32(bytes.subarray(chunk.at + 4, chunk.at + 8 + chunk.data.length)) !== crc) {
        throw new ImageError(
          "corrupt",
          `Expected a valid CRC on the PNG's ${chunk.type} chunk, got a mismatch`,
        );
      }
    }
    if (chunk.type === "IEND") {
      ended = true;
      break;
    } else if (chunk.type === "IDAT") idat.push(chunk.data);
    else if (chunk.type === "PLTE") {
      if (chunk.data.length % 3 !== 0 || chunk.data.length === 0 || chunk.data.length > 768) {
        throw new ImageError(
          "corrupt",
          `Expected a PLTE of 1–256 RGB entries, got ${chunk.data.length} bytes`,
        );
      }
      palette = chunk.data;
    } else if (chunk.type === "tRNS") trns = chunk.data;
    else if (critical && chunk.type !== "IHDR") {
      throw new ImageError(
        "unsupported_type",
        `Expected a standard PNG, got one with the unknown critical chunk "${chunk.type}"`,
      );
    }
  }
  if (!ended) {
    throw new ImageError(
      "truncated",
      `Expected a complete PNG ending in IEND, got ${bytes.length} bytes without it`,
    );
  }
  if (ihdr.colorType === 3 && !palette) {
    throw new ImageError("corrupt", "Expected a PLTE chunk in an indexed-colour PNG, got none");
  }
  if (idat.length === 0) {
    throw new ImageError("corrupt", "Expected IDAT image data in the PNG, got none");
  }

  const bitsPerPixel = ihdr.depth * channels;
  const passes = pngPasses(ihdr);
  const expected = passes.reduce(
    (n, p) => n + p.height * (1 + Math.ceil((p.width * bitsPerPixel) / 8)),
    0,
  );
  const raw = inflatePng(concat(idat), expected);

  // Unfilter each pass and scatter its samples into one full-size sample array.
  const samples = ihdr.depth === 16
    ? new Uint16Array(ihdr.width * ihdr.height * channels)
    : new Uint8Array(ihdr.width * ihdr.height * channels);
  const bpp = Math.max(1, bitsPerPixel >> 3); // bytes per complete pixel, for the filters
  let offset = 0;
  for (const pass of passes) {
    const rowBytes = Math.ceil((pass.width * bitsPerPixel) / 8);
    let prev = new Uint8Array(rowBytes);
    let row = new Uint8Array(rowBytes);
    const rowSamples = new Uint16Array(pass.width * channels);
    for (let py = 0; py < pass.height; py++) {
      const filter = raw[offset];
      unfilterRow(filter, raw.subarray(offset + 1, offset + 1 + rowBytes), prev, row, bpp);
      offset += 1 + rowBytes;
      unpackSamples(row, ihdr.depth, rowSamples);
      const y = pass.y0 + py * pass.dy;
      for (let px = 0; px < pass.width; px++) {
        const dst = (y * ihdr.width + pass.x0 + px * pass.dx) * channels;
        for (let k = 0; k < channels; k++) samples[dst + k] = rowSamples[px * channels + k];
      }
      [prev, row] = [row, prev];
    }
  }
  return pngSamplesToRgb(samples, ihdr, palette, trns, background);
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Inflates the zlib stream of the IDAT chunks, refusing to produce more than `expected` bytes. */
function inflatePng(stream: Uint8Array, expected: number): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = inflateSync(stream, { maxOutputLength: Math.max(expected, 1) });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "Z_BUF_ERROR") {
      throw new ImageError(
        "truncated",
        "Expected a complete PNG data stream, got one that ends early",
      );
    }
    if (code === "ERR_BUFFER_TOO_LARGE") {
      throw new ImageError("corrupt", `Expected ${expected} bytes of PNG image data, got more`);
    }
    throw new ImageError(
      "corrupt",
      `Expected a valid zlib stream in the PNG, got: ${(e as Error).message}`,
    );
  }
  if (raw.length < expected) {
    throw new ImageError(
      "corrupt",
      `Expected ${expected} bytes of PNG image data, got ${raw.length}`,
    );
  }
  return raw;
}

/** Reverses one PNG row filter (§9.2): `out = in + predictor(left, up, up-left)`. */
function unfilterRow(
  filter: number,
  src: Uint8Array,
  prev: Uint8Array,
  out: Uint8Array,
  bpp: number,
) {
  const n = src.length;
  switch (filter) {
    case 0:
      out.set(src);
      return;
    case 1: // Sub
      for (let i = 0; i < n; i++) out[i] = src[i] + (i >= bpp ? out[i - bpp] : 0);
      return;
    case 2: // Up
      for (let i = 0; i < n; i++) out[i] = src[i] + prev[i];
      return;
    case 3: // Average
      for (let i = 0; i < n; i++) {
        out[i] = src[i] + (((i >= bpp ? out[i - bpp] : 0) + prev[i]) >> 1);
      }
      return;
    case 4: // Paeth
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? out[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        out[i] = src[i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      return;
    default:
      throw new ImageError("corrupt", `Expected a PNG row filter 0–4, got ${filter}`);
  }
}

/** Splits a filtered-back row into samples (MSB-first for depths below 8, big-endian for 16). */
function unpackSamples(row: Uint8Array, depth: number, out: Uint16Array) {
  const n = out.length;
  if (depth === 8) {
    for (let i = 0; i < n; i++) out[i] = row[i];
  } else if (depth === 16) {
    for (let i = 0; i < n; i++) out[i] = (row[2 * i] << 8) | row[2 * i + 1];
  } else {
    const perByte = 8 / depth, mask = (1 << depth) - 1;
    for (let i = 0; i < n; i++) {
      const shift = 8 - depth * ((i % perByte) + 1);
      out[i] = (row[Math.floor(i / perByte)] >> shift) & mask;
    }
  }
}

/** Composites `value` (of `max`) with alpha `a` (of `amax`) over an 8-bit background, to 8 bits. */
const over = (value: number, max: number, a: number, amax: number, bg: number) =>
  Math.round((value * 255 * a + bg * max * (amax - a)) / (max * amax));

function pngSamplesToRgb(
  samples: Uint8Array | Uint16Array,
  ihdr: PngIhdr,
  palette: Uint8Array | undefined,
  trns: Uint8Array | undefined,
  bg: readonly [number, number, number],
): Uint8Array {
  const pixels = ihdr.width * ihdr.height;
  const out = new Uint8Array(pixels * 3);
  const max = (1 << ihdr.depth) - 1;
  switch (ihdr.colorType) {
    case 0: { // grey; tRNS names one grey level that is fully transparent
      const key = trns && trns.length >= 2 ? (trns[0] << 8) | trns[1] : -1;
      for (let i = 0; i < pixels; i++) {
        const v = samples[i];
        for (let k = 0; k < 3; k++) out[i * 3 + k] = v === key ? bg[k] : over(v, max, 1, 1, 0);
      }
      break;
    }
    case 2: { // RGB; tRNS names one colour that is fully transparent
      const key = trns && trns.length >= 6
        ? [(trns[0] << 8) | trns[1], (trns[2] << 8) | trns[3], (trns[4] << 8) | trns[5]]
        : undefined;
      for (let i = 0; i < pixels; i++) {
        const r = samples[i * 3], g = samples[i * 3 + 1], b = samples[i * 3 + 2];
        const clear = key !== undefined && r === key[0] && g === key[1] && b === key[2];
        out[i * 3] = clear ? bg[0] : over(r, max, 1, 1, 0);
        out[i * 3 + 1] = clear ? bg[1] : over(g, max, 1, 1, 0);
        out[i * 3 + 2] = clear ? bg[2] : over(b, max, 1, 1, 0);
      }
      break;
    }
    case 3: { // indexed; tRNS gives alpha for the first palette entries, the rest are opaque
      const entries = palette!.length / 3;
      for (let i = 0; i < pixels; i++) {
        const p = samples[i];
        if (p >= entries) {
          throw new ImageError("corrupt", `Expected palette indices below ${entries}, got ${p}`);
        }
        const a = trns && p < trns.length ? trns[p] : 255;
        for (let k = 0; k < 3; k++) out[i * 3 + k] = over(palette![p * 3 + k], 255, a, 255, bg[k]);
      }
      break;
    }
    case 4: // grey + alpha
      for (let i = 0; i < pixels; i++) {
        const v = samples[i * 2], a = samples[i * 2 + 1];
        for (let k = 0; k < 3; k++) out[i * 3 + k] = over(v, max, a, max, bg[k]);
      }
      break;
    default: // 6, RGBA
      for (let i = 0; i < pixels; i++) {
        const a = samples[i * 4 + 3];
        for (let k = 0; k < 3; k++) out[i * 3 + k] = over(samples[i * 4 + k], max, a, max, bg[k]);
      }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JPEG (ITU-T T.81)

interface JpegFrame {
  width: number;
  height: number;
  orientation?: Orientation;
}

const SOF_NAMES: Record<number, string> = {
  0xc3: "lossless (SOF3)",
  0xc5: "hierarchical (SOF5)",
  0xc6: "hierarchical progressive (SOF6)",
  0xc7: "hierarchical lossless (SOF7)",
  0xc9: "arithmetic-coded (SOF9)",
  0xca: "arithmetic-coded progressive (SOF10)",
  0xcb: "arithmetic-coded lossless (SOF11)",
  0xcd: "arithmetic-coded hierarchical (SOF13)",
  0xce: "arithmetic-coded hierarchical progressive (SOF14)",
  0xcf: "arithmetic-coded hierarchical lossless (SOF15)",
};

/**
 * Finds the next marker at or after `at` and returns the offset of its code byte (the byte
 * after 0xFF), skipping fill bytes, stuffed zeros and restart markers inside entropy-coded
 * data. Returns -1 at the end of the bytes.
 */
function nextMarker(bytes: Uint8Array, at: number): number {
  for (let i = at; i + 1 < bytes.length; i++) {
    if (bytes[i] !== 0xff) continue;
    const m = bytes[i + 1];
    if (m === 0 || m === 0xff || (m >= 0xd0 && m <= 0xd7)) continue;
    return i + 1;
  }
  return -1;
}

const jpegTruncated = () =>
  new ImageError(
    "truncated",
    "Expected a complete JPEG ending in an EOI marker, got a file that stops early",
  );

/**
 * Walks the marker segments of a JPEG up to its frame header. With `toEnd`, walks on through
 * every scan to the EOI marker and throws `truncated` when there is none.
 */
function walkJpeg(bytes: Uint8Array, toEnd: boolean): JpegFrame {
  let frame: JpegFrame | undefined;
  let orientation: Orientation | undefined;
  let at = 2; // after SOI
  for (;;) {
    const m = nextMarker(bytes, at);
    if (m < 0) throw jpegTruncated();
    const marker = bytes[m];
    if (marker === 0xd9) {
      if (!frame) {
        throw new ImageError("corrupt", "Expected a JPEG frame header (SOFn) before EOI, got none");
      }
      return frame;
    }
    if (marker === 0xd8 || marker === 0x01) {
      at = m + 1;
      continue;
    }
    if (m + 3 > bytes.length) throw jpegTruncated();
    const length = (bytes[m + 1] << 8) | bytes[m + 2];
    if (length < 2) {
      throw new ImageError("corrupt", `Expected a JPEG segment length ≥ 2, got ${length}`);
    }
    const end = m + 1 + length;
    if (end > bytes.length) throw jpegTruncated();
    const payload = bytes.subarray(m + 3, end);
    if (marker === 0xe1 && !frame && orientation === undefined) {
      orientation = readExifOrientationFromApp1(payload);
    } else if (
      marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc
    ) {
      if (frame) {
        throw new ImageError(
          "unsupported_type",
          "Expected a single-frame JPEG, got several frames",
        );
      }
      if (SOF_NAMES[marker]) {
        throw new ImageError(
          "unsupported_type",
          `Expected a baseline or progressive JPEG, got a ${SOF_NAMES[marker]} JPEG`,
        );
      }
      if (payload.length < 6) {
        throw new ImageError("corrupt", "Expected a complete JPEG frame header, got a short one");
      }
      const precision = payload[0], components = payload[5];
      if (precision !== 8) {
        throw new ImageError(
          "unsupported_type",
          `Expected an 8-bit JPEG, got a ${precision}-bit JPEG`,
        );
      }
      if (![1, 3, 4].includes(components)) {
        throw new ImageError(
          "unsupported_type",
          `Expected a JPEG with 1, 3 or 4 components, got ${components}`,
        );
      }
      frame = {
        height: (payload[1] << 8) | payload[2],
        width: (payload[3] << 8) | payload[4],
        ...(orientation && { orientation }),
      };
      if (!toEnd) return frame;
    } else if (marker === 0xda && !frame) {
      throw new ImageError(
        "corrupt",
        "Expected a JPEG frame header (SOFn) before the first scan, got a scan",
      );
    }
    at = end; // for SOS, nextMarker then skips the entropy-coded data that follows
  }
}

function readJpegFrameHeader(bytes: Uint8Array): JpegFrame {
  return walkJpeg(bytes, false);
}

function decodeJpeg(bytes: Uint8Array, width: number, height: number): Uint8Array {
  walkJpeg(bytes, true); // a cut file is "truncated" rather than a half-grey picture
  const pixels = width * height;
  const image = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    tolerantDecoding: true, // accept the small encoder quirks that libjpeg also accepts
    maxResolutionInMP: pixels / 1e6 + 1, // the caller has already checked the pixel limit
    maxMemoryUsageInMB: Math.ceil((pixels * 32) / 2 ** 20) + 64, // DCT blocks: ≤ 16 B/pixel
  });
  if (image.width !== width || image.height !== height || image.data.length !== pixels * 3) {
    throw new ImageError(
      "corrupt",
      `Expected a ${width}×${height} JPEG as its header says, got ${image.width}×${image.height} pixels`,
    );
  }
  return image.data;
}

// ---------------------------------------------------------------------------------------------
// Resampling and model input

/**
 * Sparse 1-D resampling weights in compressed rows: output `o` is
 * `Σ weight[k] · input[index[k]]` over `k` in `[start[o], start[o + 1])`.
 */
export interface ResampleWeights {
  /** `outSize + 1` offsets into `index` and `weight`. */
  start: Int32Array;
  /** Source sample of each entry. */
  index: Int32Array;
  /** Weight of each entry; the weights of one output sum to 1. */
  weight: Float64Array;
}

/**
 * 1-D resampling weights from `inSize` to `outSize` samples. Shrinking (or keeping the size)
 * uses area averaging: output `o` covers the source interval `[o·s, (o+1)·s)` with
 * `s = inSize / outSize`, and each source sample is weighted by the fraction of that interval
 * it covers (a box filter over the exact footprint). Enlarging uses bilinear interpolation with
 * half-pixel centres: output `o` samples the source at `(o + ½)·s − ½`, clamped to the edges
 * (TensorFlow's `half_pixel_centers`). The same size is exactly the identity.
 *
 * @example
 * ```ts
 * const w = resampleWeights(4, 2); // each output averages two inputs
 * // w.start = [0, 2, 4], w.index = [0, 1, 2, 3], w.weight = [0.5, 0.5, 0.5, 0.5]
 * ```
 */
export function resampleWeights(inSize: number, outSize: number): ResampleWeights {
  if (!Number.isInteger(inSize) || !Number.isInteger(outSize) || inSize < 1 || outSize < 1) {
    throw new RangeError(`Expected positive integer sizes, got ${inSize} -> ${outSize}`);
  }
  const start = new Int32Array(outSize + 1);
  const index: number[] = [];
  const weight: number[] = [];
  const s = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    start[o] = index.length;
    if (outSize <= inSize) {
      // Integer arithmetic on the interval [o·in, (o+1)·in) in units of 1/out keeps integer
      // factors exact: every weight is then exactly 1/s.
      const a = o * inSize, b = (o + 1) * inSize;
      for (let p = Math.floor(a / outSize); p * outSize < b; p++) {
        const overlap = Math.min(b, (p + 1) * outSize) - Math.max(a, p * outSize);
        if (overlap > 0) {
          index.push(p);
          weight.push(overlap / inSize);
        }
      }
    } else {
      const x = Math.min(Math.max((o + 0.5) * s - 0.5, 0), inSize - 1);
      const p = Math.floor(x), f = x - p;
      index.push(p);
      weight.push(1 - f);
      if (f > 0) {
        index.push(p + 1);
        weight.push(f);
      }
    }
  }
  start[outSize] = index.length;
  return { start, index: Int32Array.from(index), weight: Float64Array.from(weight) };
}

/** The size of a model input; channels 1 is grey (BT.601 luma), 3 is RGB. */
export interface ModelInputSize {
  /** Output height in pixels. */
  height: number;
  /** Output width in pixels. */
  width: number;
  /** 1 for grey (BT.601 luma), 3 for RGB. */
  channels: 1 | 3;
}

const ModelInputSizeSchema = z.object({
  height: z.number().int().positive(),
  width: z.number().int().positive(),
  channels: z.union([z.literal(1), z.literal(3)]),
});

/**
 * ITU-R BT.601 luma weights, as in PIL's `convert("L")` and TensorFlow's `rgb_to_grayscale`.
 *
 * @example
 * ```ts
 * const [r, g, b] = LUMA_BT601;
 * const luma = r * 200 + g * 100 + b * 50; // 124.2
 * ```
 */
export const LUMA_BT601 = [0.299, 0.587, 0.114] as const;

/**
 * Resizes a decoded image to a model's input size and scales it to [0, 1], HWC float32:
 * area averaging along an axis that shrinks, bilinear (half-pixel centres) along one that
 * grows (see {@linkcode resampleWeights}), identity along one that keeps its size. With
 * `channels: 1` the image is first converted to grey with the BT.601 luma
 * `0.299 R + 0.587 G + 0.114 B`. Filtering happens on the stored (sRGB-encoded) values, as in
 * PIL and TensorFlow.
 *
 * @example
 * ```ts
 * const img = decodeImage(bytes);
 * const x = toModelInput(img, { height: 32, width: 32, channels: 3 }); // 32·32·3 floats
 * ```
 */
export function toModelInput(img: DecodedImage, size: ModelInputSize): Float32Array {
  const parsed = ModelInputSizeSchema.safeParse(size);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`Invalid model input size: ${issue.path.join(".")}: ${issue.message}`);
  }
  const { height, width, channels } = parsed.data;
  const { width: w, height: h } = img;
  if (img.data.length !== w * h * 3) {
    throw new RangeError(
      `Expected ${w}×${h}×3 = ${w * h * 3} bytes of RGB, got ${img.data.length}`,
    );
  }
  // Width first, one source row at a time: shrinking a 12-MP photo then touches each source
  // byte once and keeps only an h × width intermediate.
  const cols = resampleWeights(w, width), rows = resampleWeights(h, height);
  const tmp = new Float64Array(h * width * channels);
  const line = new Float64Array(w * channels);
  const d = img.data;
  for (let y = 0; y < h; y++) {
    const base = y * w * 3;
    if (channels === 1) {
      for (let x = 0; x < w; x++) {
        const p = base + 3 * x;
        line[x] = LUMA_BT601[0] * d[p] + LUMA_BT601[1] * d[p + 1] + LUMA_BT601[2] * d[p + 2];
      }
    } else {
      for (let i = 0; i < w * 3; i++) line[i] = d[base + i];
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      for (let k = cols.start[x]; k < cols.start[x + 1]; k++) {
        const wt = cols.weight[k], s = cols.index[k] * channels;
        for (let c = 0; c < channels; c++) tmp[o + c] += wt * line[s + c];
      }
    }
  }
  const out = new Float32Array(height * width * channels);
  const acc = new Float64Array(width * channels);
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    for (let k = rows.start[y]; k < rows.start[y + 1]; k++) {
      const wt = rows.weight[k], s = rows.index[k] * width * channels;
      for (let i = 0; i < acc.length; i++) acc[i] += wt * tmp[s + i];
    }
    for (let i = 0; i < acc.length; i++) out[y * width * channels + i] = acc[i] / 255;
  }
  return out;
}

/**
 * A decoded image as a `[1, H, W, C]` float32 tensor in [0, 1]: resized with
 * {@linkcode toModelInput} when `size` is given, else at full size in RGB.
 *
 * @example
 * ```ts
 * const x = imageToTensor(decodeImage(bytes), { height: 32, width: 32, channels: 3 });
 * x.shape; // [1, 32, 32, 3]
 * ```
 */
export function imageToTensor(img: DecodedImage, size?: ModelInputSize): tf.Tensor4D {
  const s = size ?? { height: img.height, width: img.width, channels: 3 as const };
  return tf.tensor4d(toModelInput(img, s), [1, s.height, s.width, s.channels]);
}
