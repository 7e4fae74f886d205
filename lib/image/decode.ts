/**
 * Decoding uploaded images with libvips (through `sharp`): the C decoders that browsers and
 * image services run on untrusted bytes every day, instead of our own.
 *
 * - {@linkcode detectImageType} names a file from its magic bytes alone. Only the raster types
 *   in {@linkcode IMAGE_TYPES} are ever handed to libvips: SVG, PDF and other vector or
 *   document formats are refused by name before any parser sees them (a vector file can
 *   reference other files and is not a photo).
 * - {@linkcode readImageHeader} asks libvips for width, height and EXIF orientation from the
 *   header alone, so a caller can refuse an oversized image before a single pixel is decoded.
 * - {@linkcode decodeImage} checks that pixel count, then decodes with libvips' own input-pixel
 *   limit set to the same value as a second guard, applies the EXIF orientation, composites
 *   alpha over a background (white by default) and returns 8-bit sRGB. Bad bytes only ever
 *   raise {@linkcode ImageError}.
 * - A PNG whose zlib stream inflates far beyond the scanlines its header declares (a
 *   decompression bomb) is refused before libvips sees it: libpng would inflate the whole
 *   excess to check it, up to 1032 bytes per byte uploaded (a 1 MB file holding 1 GiB of zeros
 *   took 0.09 s at load 3.8 and 0.8 s at load 12 on 2 cores, and ended in 200; a 10 MiB upload
 *   can hold 10 GiB), and no libvips option stops it (`failOn: "warning"` still decodes; the
 *   "IDAT: Too much image data" warning comes after the work).
 *
 * Resizing to a model input lives in `./resample.ts`.
 *
 * @module
 */
import sharp, { type Metadata, type OutputInfo } from "sharp";
import { z } from "zod";

// libvips caches recent operations and their pixels (50 MB by default). Each upload is decoded
// exactly once, so the cache would only keep other people's images alive between requests and
// make the server's memory depend on what was uploaded before.
sharp.cache(false);

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
  | "zero_size"
  | "decompression_bomb";

/**
 * The only error {@linkcode decodeImage} and {@linkcode readImageHeader} throw for bad bytes.
 * The message is one line saying what was expected and what was got.
 *
 * @example
 * ```ts
 * try {
 *   await decodeImage(new TextEncoder().encode("<svg xmlns='http://www.w3.org/2000/svg'/>"));
 * } catch (e) {
 *   if (e instanceof ImageError) console.log(e.code, e.message);
 *   // unsupported_type Expected a raster image (PNG, JPEG, WebP, AVIF, TIFF or GIF), got SVG …
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
 * passes; the decoded RGB costs 3 bytes per pixel), and composite transparent pixels over
 * white, as browsers show them on a default page.
 *
 * @example
 * ```ts
 * const bytes = await Deno.readFile("routes/static/samples/cat.jpg");
 * await decodeImage(bytes, { maxPixels: IMAGE_DEFAULTS.maxPixels / 10 });
 * ```
 */
export const IMAGE_DEFAULTS: {
  readonly maxPixels: number;
  readonly background: readonly [number, number, number];
} = { maxPixels: 50_000_000, background: [255, 255, 255] };

// ---------------------------------------------------------------------------------------------
// Type detection

/** The image types this module decodes. */
export type ImageType = "png" | "jpeg" | "webp" | "avif" | "tiff" | "gif";

/** Every {@linkcode ImageType}, with the name used in messages. */
export const IMAGE_TYPES: Readonly<Record<ImageType, string>> = {
  png: "PNG",
  jpeg: "JPEG",
  webp: "WebP",
  avif: "AVIF",
  tiff: "TIFF",
  gif: "GIF",
};

const EXPECTED = "Expected a raster image (PNG, JPEG, WebP, AVIF, TIFF or GIF)";

/** Types recognised only to be refused, and why (appended to the 415 message). */
const REFUSED_WHY: Record<string, string> = {
  SVG: "vector drawings can reference other files and are not photos",
  PDF: "documents are not photos",
  PostScript: "documents are not photos",
  HEIC: "its HEVC codec is not in this server's libvips",
};

const ascii = (bytes: Uint8Array, from: number, to: number) =>
  String.fromCharCode(...bytes.subarray(from, Math.min(to, bytes.length)));

const startsWith = (bytes: Uint8Array, prefix: number[], at = 0) =>
  bytes.length >= at + prefix.length && prefix.every((b, i) => bytes[at + i] === b);

const HEIF_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"]);

/**
 * Names the type of an image from its magic bytes only (never from a file name or a
 * Content-Type). Returns an {@linkcode ImageType} for the types this module decodes,
 * `{ other }` with a human name for a recognised type it refuses (SVG, PDF, PostScript, HEIC,
 * HEIF, BMP, ICO, CUR, JPEG XL, JPEG 2000, PSD, QOI, ISO media), and `null` for anything else.
 *
 * @example
 * ```ts
 * detectImageType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])); // "png"
 * detectImageType(new TextEncoder().encode("GIF89a")); // "gif"
 * detectImageType(new TextEncoder().encode("%PDF-1.7")); // { other: "PDF" }
 * detectImageType(new Uint8Array([1, 2, 3])); // null
 * ```
 */
export function detectImageType(bytes: Uint8Array): ImageType | { other: string } | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "png";
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "jpeg";
  const head4 = ascii(bytes, 0, 4);
  if (ascii(bytes, 0, 6) === "GIF87a" || ascii(bytes, 0, 6) === "GIF89a") return "gif";
  if (head4 === "RIFF" && ascii(bytes, 8, 12) === "WEBP") return "webp";
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) {
    return "tiff";
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
    if (brands.some((b) => b === "avif" || b === "avis")) return "avif";
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
  if (head4 === "%!PS" || startsWith(bytes, [0xc5, 0xd0, 0xd3, 0xc6])) {
    return { other: "PostScript" };
  }
  const text = new TextDecoder().decode(bytes.subarray(0, 1024)).replace(/^\uFEFF/, "").trimStart();
  // An SVG may open with an XML declaration, comments or a doctype before its <svg> element.
  if (
    /^<svg[\s>]/i.test(text) || (/^<(\?xml|!--|!doctype)/i.test(text) && /<svg[\s>]/i.test(text))
  ) {
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

/** Detects the type and throws the matching ImageError unless it is one this module decodes. */
function requireDecodable(bytes: Uint8Array): ImageType {
  if (bytes.length === 0) throw new ImageError("empty", `${EXPECTED}, got 0 bytes`);
  const type = detectImageType(bytes);
  if (type === null) {
    throw new ImageError("not_image", `${EXPECTED}, got ${describeUnknown(bytes)}`);
  }
  if (typeof type === "object") {
    const why = REFUSED_WHY[type.other];
    throw new ImageError(
      "unsupported_type",
      `${EXPECTED}, got ${type.other}${why ? ` (${why})` : ""}`,
    );
  }
  return type;
}

// ---------------------------------------------------------------------------------------------
// libvips errors

/** Whether the container says the file is cut short (its end marker or declared size missing). */
function looksCut(type: ImageType, bytes: Uint8Array): boolean {
  const n = bytes.length;
  switch (type) {
    case "png": // the last chunk of every PNG is IEND: length 0, "IEND", CRC AE 42 60 82
      return !startsWith(
        bytes,
        [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82],
        n - 12,
      );
    case "jpeg": // EOI
      return !(bytes[n - 2] === 0xff && bytes[n - 1] === 0xd9);
    case "gif": // trailer
      return bytes[n - 1] !== 0x3b;
    case "webp": // RIFF size counts the bytes after the first 8
      return n < 12 ||
        ((bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24)) >>> 0) + 8 > n;
    default: // TIFF and AVIF have no end marker; libvips' message says when data is missing
      return false;
  }
}

/** libvips' reason in one line: its distinct messages, without the seek noise of short reads. */
function vipsReason(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const lines = message.split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !/^source: bad seek/.test(l));
  const reason = [...new Set(lines)].join("; ").replace(/^Input buffer has corrupt header: /, "");
  return reason.length > 240 ? `${reason.slice(0, 240)}…` : reason;
}

const TRUNCATION =
  /premature end|unexpected end|end of (file|data|stream)|truncat|outside of file bounds|not enough data|short read/i;

/** Turns an error from libvips into an ImageError (pixel limit, truncated or corrupt). */
function fromVips(type: ImageType, bytes: Uint8Array, e: unknown): ImageError {
  if (e instanceof ImageError) return e;
  const reason = vipsReason(e);
  const name = IMAGE_TYPES[type];
  if (/exceeds pixel limit/i.test(reason)) {
    return new ImageError(
      "too_many_pixels",
      `Expected an image within the pixel limit, got ${name}: ${reason}`,
    );
  }
  if (looksCut(type, bytes) || TRUNCATION.test(reason)) {
    return new ImageError(
      "truncated",
      `Expected a complete ${name}, got one cut short at ${bytes.length} bytes (${reason})`,
    );
  }
  return new ImageError(
    "corrupt",
    `Expected a valid ${name}, got one the decoder refused (${reason})`,
  );
}

// libvips' `fail_on`: "error" refuses truncated and corrupt pixel data (a cut file must be a
// 400, not a half-grey picture), while "warning" would also refuse the harmless quirks phones and
// editors leave (extraneous bytes before a JPEG marker, a known-incorrect sRGB iCCP in a PNG)
// that every browser displays.
const FAIL_ON = "error";

// ---------------------------------------------------------------------------------------------
// Decompression bombs

/** Deflate's largest expansion: a 258-byte match costs at least 2 bits. */
const DEFLATE_MAX_RATIO = 1032;
/**
 * Excess inflation left to libpng unchecked: a stream too short to inflate past the declared
 * scanlines by more than this (at 1032:1) is not inflated twice, so PNGs of up to about 520 KB
 * cost nothing extra. libvips inflated 256 MiB / 1 GiB of zeros in 25 / 88 ms here at load 3.8
 * (and 1 GiB in 0.8 s at load 12 on 2 cores), so this is at most about 45 ms unloaded.
 */
const UNCHECKED_EXCESS = 512 * 2 ** 20;

// Samples per pixel of each PNG colour type (grey, RGB, palette, grey+alpha, RGBA).
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
// Adam7 passes: first column, first row, column step, row step.
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/**
 * Bytes of filtered scanlines (a filter byte + packed samples per row) that a PNG's IHDR
 * declares, over every Adam7 pass when interlaced; null when the IHDR is malformed (libvips
 * then says why).
 */
export function pngDeclaredBytes(bytes: Uint8Array): number | null {
  if (bytes.length < 33 || ascii(bytes, 12, 16) !== "IHDR") return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16), height = view.getUint32(20);
  const depth = bytes[24], channels = PNG_CHANNELS[bytes[25]], interlace = bytes[28];
  if (!channels || ![1, 2, 4, 8, 16].includes(depth) || interlace > 1) return null;
  const rows = (w: number, h: number) =>
    w === 0 || h === 0 ? 0 : h * (1 + Math.ceil((w * channels * depth) / 8));
  if (interlace === 0) return rows(width, height);
  return ADAM7.reduce(
    (sum, [x0, y0, dx, dy]) =>
      sum +
      rows(Math.max(0, Math.ceil((width - x0) / dx)), Math.max(0, Math.ceil((height - y0) / dy))),
    0,
  );
}

/** The data of a PNG's IDAT chunks, in order (stopping at IEND or where the file is cut). */
function idatChunks(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  for (let at = 8; at + 8 <= bytes.length;) {
    const length = view.getUint32(at), type = ascii(bytes, at + 4, at + 8);
    if (type === "IEND") break;
    if (type === "IDAT") {
      parts.push(bytes.subarray(at + 8, Math.min(at + 8 + length, bytes.length)));
    }
    at += 12 + length;
  }
  return parts;
}

/**
 * Throws `decompression_bomb` when a PNG's zlib stream inflates to more than twice the
 * scanlines its header declares plus 64 KiB (a real encoder writes exactly those; the slack
 * only forgives stray bytes). Inflates at most that much, in pieces small enough that no
 * piece's output exceeds the declared size, and only when the stream could hide more than
 * `UNCHECKED_EXCESS`. A corrupt or cut stream is left to libvips to name.
 */
async function refusePngBomb(bytes: Uint8Array, width: number, height: number): Promise<void> {
  const declared = pngDeclaredBytes(bytes);
  if (declared === null) return;
  const parts = idatChunks(bytes);
  const compressed = parts.reduce((n, p) => n + p.length, 0);
  if (compressed * DEFLATE_MAX_RATIO <= declared + UNCHECKED_EXCESS) return;
  const limit = 2 * declared + 65536;
  const piece = Math.min(65536, Math.max(1024, Math.floor(declared / DEFLATE_MAX_RATIO)));
  const inflate = new DecompressionStream("deflate");
  const writer = inflate.writable.getWriter();
  const reader = inflate.readable.getReader();
  let inflated = 0, over = false;
  const counting = (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      inflated += r.value.length;
      if (inflated > limit) {
        over = true;
        await reader.cancel();
        return;
      }
    }
  })().catch(() => {}); // a corrupt stream: libvips gives the reason
  try {
    for (const part of parts) {
      for (let at = 0; at < part.length && !over; at += piece) {
        await writer.write(part.subarray(at, at + piece) as Uint8Array<ArrayBuffer>);
      }
    }
    if (!over) await writer.close();
  } catch {
    // cancelled after the limit, or a corrupt stream
  }
  await counting;
  if (over) {
    throw new ImageError(
      "decompression_bomb",
      `Expected PNG image data of the ${width}×${height} its header declares (${declared} ` +
        `bytes), got ${compressed} bytes of zlib stream that inflate past ${limit} (a ` +
        `decompression bomb)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Headers

/** What the header of an image says, read without decoding any pixel. */
export interface ImageHeader {
  /** The type named by the magic bytes (and confirmed by libvips). */
  type: ImageType;
  /** Width as stored, before any EXIF orientation is applied. */
  width: number;
  /** Height as stored (of the first frame for GIF and multi-page TIFF), before orientation. */
  height: number;
  /** The EXIF Orientation tag (2–8) when present and not 1; 5–8 swap the displayed sides. */
  orientation?: number;
}

/** libvips' loader names per type (`metadata().format`). */
const VIPS_FORMAT: Record<ImageType, string> = {
  png: "png",
  jpeg: "jpeg",
  webp: "webp",
  avif: "heif",
  tiff: "tiff",
  gif: "gif",
};

/**
 * Reads the size and EXIF orientation of an image from its header (libvips reads no pixel data
 * for this). Throws {@linkcode ImageError} like {@linkcode decodeImage}, except that it does not
 * check the pixel limit or the rest of the file.
 *
 * @example
 * ```ts
 * const header = await readImageHeader(await Deno.readFile("routes/static/samples/cat.jpg"));
 * if (header.width * header.height > 10_000_000) throw new Error("too big");
 * ```
 */
export async function readImageHeader(bytes: Uint8Array): Promise<ImageHeader> {
  const type = requireDecodable(bytes);
  let meta: Metadata;
  try {
    // No pixel limit here: this call reads the header only, and the caller compares its size
    // with the limit to answer 413 rather than a libvips error.
    meta = await sharp(bytes, { failOn: FAIL_ON, limitInputPixels: false }).metadata();
  } catch (e) {
    // libvips refuses a zero-sized PNG as a "corrupt header"; the IHDR says which it is.
    const ihdr = type === "png" && ascii(bytes, 12, 16) === "IHDR" && bytes.length >= 24;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (ihdr && (view.getUint32(16) === 0 || view.getUint32(20) === 0)) {
      return { type, width: view.getUint32(16), height: view.getUint32(20) };
    }
    // libvips refuses WebP canvases over 16383 pixels a side, which a VP8X header can declare (up
    // to 2^24): its size then still decides between 413 (over the limit) and 400 (refused).
    if (type === "webp" && ascii(bytes, 12, 16) === "VP8X" && bytes.length >= 30) {
      const u24 = (at: number) => bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16);
      const width = u24(24) + 1, height = u24(27) + 1;
      // Within the limit, decoding then fails with libvips' reason (400).
      if (width > 16383 || height > 16383) return { type, width, height };
    }
    throw fromVips(type, bytes, e);
  }
  if (meta.format !== VIPS_FORMAT[type]) {
    throw new ImageError(
      "corrupt",
      `Expected the ${
        IMAGE_TYPES[type]
      } that the file's first bytes announce, got ${meta.format} data`,
    );
  }
  if (type === "avif" && meta.compression !== "av1") {
    throw new ImageError(
      "unsupported_type",
      `${EXPECTED}, got HEIF with ${meta.compression ?? "unknown"} compression in an AVIF box`,
    );
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  const orientation =
    meta.orientation !== undefined && meta.orientation >= 2 && meta.orientation <= 8
      ? meta.orientation
      : undefined;
  return { type, width, height, ...(orientation && { orientation }) };
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Options of {@linkcode decodeImage}. */
export interface DecodeOptions {
  /**
   * Refuse images with more pixels than this: checked from the header before decoding, and
   * given to libvips as its input-pixel limit. Default 50 000 000.
   */
  maxPixels?: number;
  /** RGB (0–255) that transparent pixels are composited over; default white `[255, 255, 255]`. */
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

/** A decoded image: 8-bit sRGB, row-major HWC, as a viewer would display it. */
export interface DecodedImage {
  /** `height * width * 3` bytes, RGB interleaved, alpha already composited over the background. */
  data: Uint8Array;
  /** Displayed width in pixels (after orientation). */
  width: number;
  /** Displayed height in pixels (after orientation). */
  height: number;
  /** What the bytes were. */
  sourceType: ImageType;
  /** The EXIF Orientation the file carried (already applied to `data`); absent when none or 1. */
  orientation?: number;
}

/**
 * RGBA to RGB over a background, `round((c·α + bg·(255 − α)) / 255)` in integers. Done here
 * rather than with libvips' flatten, which composites a grey+alpha image over the first
 * component of the background only (grey over [10, 20, 30] gave 10, 10, 10) and lands a level
 * off the exact value for about half the pixels of a translucent gradient.
 */
function overBackground(rgba: Uint8Array, bg: readonly [number, number, number]): Uint8Array {
  const n = rgba.length / 4;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = rgba[4 * i + 3], rest = 255 - a;
    for (let k = 0; k < 3; k++) {
      out[3 * i + k] = Math.floor(((rgba[4 * i + k] * a + bg[k] * rest) * 2 + 255) / 510);
    }
  }
  return out;
}

/**
 * Decodes a PNG, JPEG, WebP, AVIF, TIFF or GIF (its first frame) into 8-bit sRGB with libvips.
 *
 * - Order: type from the magic bytes, size from the header, the pixel limit (413 in the
 *   server), for PNG the decompression-bomb check (400), and only then the pixels, with
 *   libvips' `limitInputPixels` at the same limit.
 * - Grey, palette, 16-bit and CMYK images become 8-bit sRGB (16-bit samples by libvips'
 *   `v >> 8`; CMYK through its ICC profile, or libvips' default CMYK profile when it has none).
 * - Alpha (an alpha channel, a PNG tRNS, a GIF's transparent entry) is composited over the
 *   background: `round(c·α + background·(1 − α))` on the 8-bit values.
 * - The EXIF Orientation tag is applied, so the result is upright.
 *
 * Throws {@linkcode ImageError} for every kind of bad input, and only that.
 *
 * @example
 * ```ts
 * const img = await decodeImage(await Deno.readFile("routes/static/samples/cat.jpg"), { maxPixels: 4_000_000 });
 * console.log(img.sourceType, img.width, img.height, img.data.length); // jpeg w h w*h*3
 * ```
 */
export async function decodeImage(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): Promise<DecodedImage> {
  const parsed = DecodeOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`Invalid decode options: ${issue.path.join(".")}: ${issue.message}`);
  }
  const maxPixels = parsed.data.maxPixels ?? IMAGE_DEFAULTS.maxPixels;
  const [r, g, b] = parsed.data.background ?? IMAGE_DEFAULTS.background;
  const header = await readImageHeader(bytes);
  const { type, width, height } = header;
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
  if (type === "png") await refusePngBomb(bytes, width, height);
  let out: { data: Uint8Array; info: OutputInfo };
  try {
    out = await sharp(bytes, {
      failOn: FAIL_ON,
      limitInputPixels: maxPixels,
      autoOrient: true,
      pages: 1, // the first frame of an animated GIF or WebP, or a multi-page TIFF
    })
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw fromVips(type, bytes, e);
  }
  const { info } = out;
  const swapped = (header.orientation ?? 1) >= 5;
  const [w, h] = swapped ? [height, width] : [width, height];
  if (info.width !== w || info.height !== h || (info.channels !== 3 && info.channels !== 4)) {
    throw new ImageError(
      "corrupt",
      `Expected ${w}×${h} RGB pixels as the ${
        IMAGE_TYPES[type]
      } header says, got ${info.width}×${info.height}×${info.channels}`,
    );
  }
  // A view, not a copy: the Buffer is ours alone and already the right size.
  const raw = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
  const data = info.channels === 3 ? raw : overBackground(raw, [r, g, b]);
  return {
    data,
    width: w,
    height: h,
    sourceType: type,
    ...(header.orientation && { orientation: header.orientation }),
  };
}
