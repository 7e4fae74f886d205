/**
 * Images in every accepted format, made in code by libvips (sharp) from a known pattern, and
 * hostile files (oversized headers, a zlib bomb) built byte by byte. Shared by
 * tests/image_test.ts and tests/server_images_test.ts.
 */
import { Buffer } from "node:buffer";
import { constants, crc32, deflateRawSync } from "node:zlib";
import sharp from "sharp";
import type { ImageType } from "../lib/image/decode.ts";

/** An RGB pattern, HWC 8-bit: `channels` 3, or 4 with an alpha ramp. */
export interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

/**
 * A smooth colour pattern (gradients a lossy codec keeps well) of w×h, with an alpha ramp from
 * 0 (left) to 255 (right) when `alpha`. Values stay inside [70, 185]: colours a CMYK press can
 * print, so that a round trip through CMYK loses no more than the codec.
 */
export function pattern(width: number, height: number, alpha = false): Pixels {
  const channels = alpha ? 4 : 3;
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      data[o] = Math.round(70 + 115 * x / Math.max(1, width - 1));
      data[o + 1] = Math.round(70 + 115 * y / Math.max(1, height - 1));
      data[o + 2] = Math.round(128 + 55 * Math.sin((x + y) / 6));
      if (alpha) data[o + 3] = Math.round(255 * x / Math.max(1, width - 1));
    }
  }
  return { data, width, height, channels };
}

/** Flat 8×8 blocks of distinct colours, w/8 × h/8 of them: survives lossy codecs at block centres. */
export function blocks(width: number, height: number): Pixels {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const b = Math.floor(y / 8) * Math.ceil(width / 8) + Math.floor(x / 8);
      data.set(
        [(b * 67 + 30) % 226 + 15, (b * 131 + 90) % 226 + 15, (b * 29 + 160) % 226 + 15],
        (y * width + x) * 3,
      );
    }
  }
  return { data, width, height, channels: 3 };
}

const input = (p: Pixels) =>
  sharp(p.data, { raw: { width: p.width, height: p.height, channels: p.channels } });

const bytes = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** One way of writing a pattern: its type, how close the decode must come, and the encoder. */
export interface Variant {
  name: string;
  type: ImageType;
  /**
   * Largest and mean absolute difference (levels of 255) allowed between the decode and the
   * pattern: 0 for lossless codecs, about 1.5× what libvips 8.18's encoders measured at the
   * quality used (2026-12-01) for lossy ones.
   */
  tolerance: { max: number; mean: number };
  /** The file holds grey: compare with the pattern's grey. */
  grey?: boolean;
  encode(p: Pixels): Promise<Uint8Array>;
}

const EXACT = { max: 0, mean: 0 };

/** Every format and variant the server accepts, encoded by libvips. */
export const VARIANTS: Variant[] = [
  {
    name: "PNG RGB 8-bit",
    type: "png",
    tolerance: EXACT,
    encode: async (p) => bytes(await input(p).png().toBuffer()),
  },
  {
    name: "PNG RGB 8-bit Adam7",
    type: "png",
    tolerance: EXACT,
    encode: async (p) => bytes(await input(p).png({ progressive: true }).toBuffer()),
  },
  {
    name: "PNG RGB 16-bit",
    type: "png",
    tolerance: EXACT,
    encode: async (p) => bytes(await input(p).toColourspace("rgb16").png().toBuffer()),
  },
  {
    name: "PNG grey 8-bit",
    type: "png",
    tolerance: EXACT,
    grey: true,
    encode: async (p) => bytes(await input(p).toColourspace("b-w").png().toBuffer()),
  },
  {
    name: "JPEG baseline",
    type: "jpeg",
    tolerance: { max: 8, mean: 1.1 },
    encode: async (p) =>
      bytes(await input(p).jpeg({ quality: 95, chromaSubsampling: "4:4:4" }).toBuffer()),
  },
  {
    name: "JPEG progressive 4:2:0",
    type: "jpeg",
    tolerance: { max: 24, mean: 2 },
    encode: async (p) => bytes(await input(p).jpeg({ quality: 90, progressive: true }).toBuffer()),
  },
  {
    name: "JPEG grey",
    type: "jpeg",
    tolerance: { max: 2, mean: 0.3 },
    grey: true,
    encode: async (p) =>
      bytes(await input(p).toColourspace("b-w").jpeg({ quality: 95 }).toBuffer()),
  },
  {
    name: "JPEG CMYK",
    type: "jpeg",
    tolerance: { max: 60, mean: 9 },
    encode: async (p) =>
      bytes(
        await input(p).toColourspace("cmyk").jpeg({ quality: 95, chromaSubsampling: "4:4:4" })
          .toBuffer(),
      ),
  },
  {
    name: "WebP lossy",
    type: "webp",
    tolerance: { max: 16, mean: 2.2 },
    encode: async (p) => bytes(await input(p).webp({ quality: 95 }).toBuffer()),
  },
  {
    name: "WebP lossless",
    type: "webp",
    tolerance: EXACT,
    encode: async (p) => bytes(await input(p).webp({ lossless: true }).toBuffer()),
  },
  {
    name: "AVIF",
    type: "avif",
    tolerance: { max: 9, mean: 1.1 },
    encode: async (p) =>
      bytes(await input(p).avif({ quality: 90, chromaSubsampling: "4:4:4" }).toBuffer()),
  },
  {
    name: "AVIF lossless",
    type: "avif",
    tolerance: EXACT,
    encode: async (p) => bytes(await input(p).avif({ lossless: true }).toBuffer()),
  },
  {
    name: "TIFF deflate",
    type: "tiff",
    tolerance: EXACT,
    encode: async (p) => bytes(await input(p).tiff({ compression: "deflate" }).toBuffer()),
  },
  {
    name: "TIFF JPEG-compressed",
    type: "tiff",
    tolerance: { max: 3, mean: 0.3 },
    encode: async (p) =>
      bytes(await input(p).tiff({ compression: "jpeg", quality: 95 }).toBuffer()),
  },
];

/** A two-frame animated GIF (or WebP): the pattern, then its colour negative. */
export async function animated(p: Pixels, format: "gif" | "webp"): Promise<Uint8Array> {
  const negative = {
    ...p,
    data: p.data.map((v, i) => p.channels === 4 && i % 4 === 3 ? v : 255 - v),
  };
  const frames = await Promise.all([p, negative].map(async (f) => await input(f).png().toBuffer()));
  const joined = sharp(frames, { join: { animated: true } });
  const out = format === "gif"
    // No dithering: a pattern of at most 256 colours then comes back exactly.
    ? await joined.gif({ dither: 0, effort: 10 }).toBuffer()
    : await joined.webp({ lossless: true }).toBuffer();
  return bytes(out);
}

/** The pattern with EXIF Orientation `o` in its header (pixels stored as given). */
export async function withOrientation(
  p: Pixels,
  o: number,
  format: "jpeg" | "webp" | "png",
): Promise<Uint8Array> {
  const s = input(p).withMetadata({ orientation: o });
  const out = format === "jpeg"
    ? await s.jpeg({ quality: 100, chromaSubsampling: "4:4:4" }).toBuffer()
    : format === "webp"
    ? await s.webp({ lossless: true }).toBuffer()
    : await s.png().toBuffer();
  return bytes(out);
}

/**
 * The displayed pixel `(r, c)` of an image stored h × w with EXIF orientation `o` comes from
 * stored `(sr, sc)` (TIFF 6.0 p. 37: 2 mirrored, 3 turned 180°, 4 flipped, 5 transposed,
 * 6 turned 90° clockwise, 7 transversed, 8 turned 90° counter-clockwise).
 */
export function orientedSource(
  o: number,
  h: number,
  w: number,
  r: number,
  c: number,
): [number, number] {
  switch (o) {
    case 2:
      return [r, w - 1 - c];
    case 3:
      return [h - 1 - r, w - 1 - c];
    case 4:
      return [h - 1 - r, c];
    case 5:
      return [c, r];
    case 6:
      return [h - 1 - c, r];
    case 7:
      return [h - 1 - c, w - 1 - r];
    case 8:
      return [c, w - 1 - r];
    default:
      return [r, c];
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile files

/** A PNG chunk with its CRC. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * A zlib stream that inflates to `total` zero bytes (rounded up to 16 MiB), about 1/1000 of
 * that size: one non-final deflate block of 16 MiB of zeros repeated, then an empty final
 * block and the Adler-32 of the whole (for n zeros: a = 1, b = n mod 65521).
 */
export function zlibZeros(total: number): Uint8Array {
  const block = 1 << 24;
  const piece = new Uint8Array(
    deflateRawSync(new Uint8Array(block), { finishFlush: constants.Z_SYNC_FLUSH }),
  );
  const n = Math.ceil(total / block);
  const adler = new Uint8Array(4);
  new DataView(adler.buffer).setUint32(0, (((n * block) % 65521) << 16 | 1) >>> 0);
  return concat(
    new Uint8Array([0x78, 0x9c]),
    ...Array.from({ length: n }, () => piece),
    new Uint8Array([0x03, 0x00]),
    adler,
  );
}

/**
 * A zlib bomb: an 8-bit RGB PNG declaring `width`×`height` whose single IDAT inflates to
 * `inflated` bytes of zeros (filter 0, black), far beyond the `height · (1 + 3·width)` its
 * header needs.
 */
export function pngBomb(width: number, height: number, inflated: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return concat(
    PNG_SIGNATURE,
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", zlibZeros(inflated)),
    pngChunk("IEND", new Uint8Array()),
  );
}

/** A real JPEG whose frame header (SOF0) is rewritten to claim width×height (at most 65535). */
export async function jpegClaiming(width: number, height: number): Promise<Uint8Array> {
  const jpeg = bytes(await input(pattern(16, 16)).jpeg().toBuffer()).slice();
  const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0);
  // FF C0, length (2), precision (1), then height and width, big-endian.
  jpeg.set([height >> 8, height & 255, width >> 8, width & 255], sof + 5);
  return jpeg;
}

/**
 * A real animated WebP whose VP8X canvas is rewritten to width×height (a canvas may be larger
 * than its frames): libwebp reads the size from the header alone.
 */
export async function webpClaiming(width: number, height: number): Promise<Uint8Array> {
  const webp = (await animated(pattern(8, 8), "webp")).slice();
  if (new TextDecoder().decode(webp.subarray(12, 16)) !== "VP8X") {
    throw new Error("Expected libvips to write an animated WebP with a VP8X chunk");
  }
  // RIFF(12) "VP8X" size(4) flags(4), then canvas width − 1 and height − 1, 24-bit little-endian.
  const set24 = (at: number, v: number) => webp.set([v & 255, (v >> 8) & 255, (v >> 16) & 255], at);
  set24(24, width - 1);
  set24(27, height - 1);
  return webp;
}

/** Documents that are not photos, which the server refuses by name. */
export const VECTOR_FILES: Record<string, Uint8Array> = {
  SVG: new TextEncoder().encode(
    '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">' +
      '<image href="file:///etc/passwd" width="8" height="8"/></svg>',
  ),
  PDF: new TextEncoder().encode("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"),
  PostScript: new TextEncoder().encode("%!PS-Adobe-3.0\n0 0 moveto showpage\n"),
};
