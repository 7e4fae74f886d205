/**
 * Tests of lib/image/: decoding through libvips (sharp) and resizing to model inputs.
 *
 * - PNGs of every colour type, bit depth, tRNS and Adam7 from a small independent encoder below
 *   (every row filter in turn), checked against what the PNG specification says they hold.
 * - Every accepted format and variant written by libvips from a known pattern
 *   (tests/image_fixtures.ts), checked pixel by pixel with a tolerance fit for its codec.
 * - Files from Pillow and one real photo (tests/fixtures/images/README.md).
 * - Errors, limits before pixels and decompression bombs; resizing against slow references;
 *   90° turns as exact array rotations of the model input.
 */
import assert from "node:assert/strict";
import { deflateSync, inflateSync } from "node:zlib";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import {
  type DecodedImage,
  decodeImage,
  detectImageType,
  ImageError,
  type ImageErrorCode,
  pngDeclaredBytes,
  readImageHeader,
} from "../lib/image/decode.ts";
import { imageToTensor, resampleWeights, toModelInput } from "../lib/image/resample.ts";
import { rot90 } from "../lib/transforms.ts";
import { lineChart, PNG_SCALE, svgToPng, writeFigure } from "../lib/eval/plots.ts";
import {
  animated,
  blocks,
  concat,
  jpegClaiming,
  orientedSource,
  pattern,
  type Pixels,
  pngBomb,
  pngChunk,
  VARIANTS,
  VECTOR_FILES,
  webpClaiming,
  withOrientation,
} from "./image_fixtures.ts";

const FIXTURES = new URL("./fixtures/images/", import.meta.url);
const fixture = (name: string) => Deno.readFile(new URL(name, FIXTURES));

/** Deterministic integers in [0, n) (mulberry32). */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

async function assertImageError(
  fn: () => Promise<unknown>,
  codes: ImageErrorCode[],
  pattern?: RegExp,
): Promise<ImageError> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof ImageError, `expected an ImageError, got ${e}`);
    assert.ok(
      codes.includes(e.code),
      `expected code ${codes.join("|")}, got ${e.code}: ${e.message}`,
    );
    assert.ok(!e.message.includes("\n"), "the message is one line");
    if (pattern) assert.match(e.message, pattern);
    return e;
  }
  assert.fail(`expected an ImageError ${codes.join("|")}, got a result`);
}

/** Largest and mean absolute difference of two byte arrays of the same length. */
function diff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } {
  assert.equal(a.length, b.length, "lengths");
  let max = 0, sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

/** What a viewer shows for a pattern: alpha composited over white (exact rationals, rounded). */
function overWhite(p: Pixels): Uint8Array {
  if (p.channels === 3) return p.data;
  const out = new Uint8Array(p.width * p.height * 3);
  for (let i = 0; i < p.width * p.height; i++) {
    const a = p.data[i * 4 + 3];
    for (let k = 0; k < 3; k++) {
      out[i * 3 + k] = Math.round((p.data[i * 4 + k] * a + 255 * (255 - a)) / 255);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// A small PNG encoder: every row filter in turn, optional Adam7, tRNS, eXIf.

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

interface PngSpec {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  depth: 1 | 2 | 4 | 8 | 16;
  /** Raw samples, width·height·channels, each below 2^depth. */
  samples: number[];
  palette?: number[]; // RGB triples
  trns?: number[]; // chunk bytes
  interlace?: boolean;
  exif?: Uint8Array;
}

/** Packs one row of samples at a bit depth, big-endian, MSB first. */
function packRow(samples: number[], depth: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((samples.length * depth) / 8));
  samples.forEach((v, i) => {
    if (depth === 16) (out[2 * i] = v >> 8, out[2 * i + 1] = v & 255);
    else {
      const bit = i * depth;
      out[bit >> 3] |= v << (8 - depth - (bit & 7));
    }
  });
  return out;
}

/** Applies PNG filter `f` to a packed row (the encoder's side of §9.2). */
function filterRow(f: number, row: Uint8Array, prev: Uint8Array, bpp: number): Uint8Array {
  const out = new Uint8Array(row.length);
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
    let pred = 0;
    if (f === 1) pred = a;
    if (f === 2) pred = b;
    if (f === 3) pred = Math.floor((a + b) / 2);
    if (f === 4) {
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
    out[i] = (row[i] - pred) & 255;
  }
  return out;
}

function encodePng(spec: PngSpec): Uint8Array {
  const ch = CHANNELS[spec.colorType];
  const bpp = Math.max(1, (spec.depth * ch) >> 3);
  const passes = spec.interlace
    ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [
      0,
      1,
      1,
      2,
    ]]
    : [[0, 0, 1, 1]];
  const rows: Uint8Array[] = [];
  let n = 0;
  for (const [x0, y0, dx, dy] of passes) {
    let prev: Uint8Array | undefined;
    for (let y = y0; y < spec.height; y += dy) {
      const rowSamples: number[] = [];
      for (let x = x0; x < spec.width; x += dx) {
        for (let k = 0; k < ch; k++) rowSamples.push(spec.samples[(y * spec.width + x) * ch + k]);
      }
      if (rowSamples.length === 0) continue;
      const row = packRow(rowSamples, spec.depth);
      prev ??= new Uint8Array(row.length);
      const f = n++ % 5;
      rows.push(new Uint8Array([f]), filterRow(f, row, prev, bpp));
      prev = row;
    }
  }
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, spec.width);
  view.setUint32(4, spec.height);
  ihdr.set([spec.depth, spec.colorType, 0, 0, spec.interlace ? 1 : 0], 8);
  return concat(
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    ...(spec.exif ? [pngChunk("eXIf", spec.exif)] : []),
    ...(spec.palette ? [pngChunk("PLTE", new Uint8Array(spec.palette))] : []),
    ...(spec.trns ? [pngChunk("tRNS", new Uint8Array(spec.trns))] : []),
    pngChunk("IDAT", deflateSync(concat(...rows))),
    pngChunk("IEND", new Uint8Array()),
  );
}

/**
 * What the decoder must produce, from the PNG specification: samples scaled to 8 bits by
 * `round(v · 255 / max)`, alpha composited as `round(c·α + bg·(1 − α))` (exact rationals),
 * tRNS keys fully transparent.
 */
function expectedRgb(spec: PngSpec, bg: number[]): Uint8Array {
  const ch = CHANNELS[spec.colorType];
  const max = 2 ** spec.depth - 1;
  const out = new Uint8Array(spec.width * spec.height * 3);
  const over = (v: number, vmax: number, a: number, amax: number, b: number) =>
    Math.round((v * 255 * a + b * vmax * (amax - a)) / (vmax * amax));
  const key = spec.trns && spec.colorType !== 3
    ? Array.from(
      { length: spec.trns.length / 2 },
      (_, i) => spec.trns![2 * i] * 256 + spec.trns![2 * i + 1],
    )
    : undefined;
  for (let i = 0; i < spec.width * spec.height; i++) {
    const s = spec.samples.slice(i * ch, i * ch + ch);
    let rgb: number[];
    if (spec.colorType === 3) {
      const a = spec.trns?.[s[0]] ?? 255;
      rgb = [0, 1, 2].map((k) => over(spec.palette![s[0] * 3 + k], 255, a, 255, bg[k]));
    } else {
      const colour = spec.colorType === 0 || spec.colorType === 4
        ? [s[0], s[0], s[0]]
        : s.slice(0, 3);
      const alpha = spec.colorType === 4 ? s[1] : spec.colorType === 6 ? s[3] : max;
      const clear = key !== undefined && key.every((v, k) => v === s[k]);
      rgb = [0, 1, 2].map((k) => clear ? bg[k] : over(colour[k], max, alpha, max, bg[k]));
    }
    out.set(rgb, i * 3);
  }
  return out;
}

const COLOUR_TYPES = [
  { colorType: 0, depths: [1, 2, 4, 8, 16], name: "grey" },
  { colorType: 2, depths: [8, 16], name: "RGB" },
  { colorType: 3, depths: [1, 2, 4, 8], name: "palette" },
  { colorType: 4, depths: [8, 16], name: "grey+alpha" },
  { colorType: 6, depths: [8, 16], name: "RGBA" },
] as const;

/** A random image of a colour type and depth, with a few fully opaque/transparent samples. */
function randomSpec(colorType: 0 | 2 | 3 | 4 | 6, depth: PngSpec["depth"], seed: number): PngSpec {
  const width = 13, height = 7; // odd sizes: partial bytes at low depths, short Adam7 passes
  const rand = rng(seed);
  const ch = CHANNELS[colorType];
  const entries = colorType === 3 ? Math.min(2 ** depth, 11) : 0;
  const samples = Array.from({ length: width * height * ch }, (_, i) => {
    if (colorType === 3) return rand(entries);
    const isAlpha = (colorType === 4 || colorType === 6) && i % ch === ch - 1;
    const max = 2 ** depth - 1;
    return isAlpha && i % 3 === 0 ? [0, max][rand(2)] : rand(max + 1);
  });
  const spec: PngSpec = { width, height, colorType, depth, samples };
  if (colorType === 3) {
    spec.palette = Array.from({ length: entries * 3 }, () => rand(256));
    spec.trns = Array.from({ length: Math.max(1, entries - 2) }, (_, i) => i === 0 ? 0 : rand(256));
  }
  return spec;
}

Deno.test("PNG: every colour type and bit depth, Adam7, all five row filters, decode to what was encoded", async () => {
  for (const { colorType, depths, name } of COLOUR_TYPES) {
    for (const depth of depths) {
      for (const interlace of [false, true]) {
        const spec = { ...randomSpec(colorType, depth, colorType * 100 + depth), interlace };
        const img = await decodeImage(encodePng(spec));
        const what = `${name} ${depth}-bit${interlace ? " Adam7" : ""}`;
        assert.equal(img.width, 13, what);
        assert.equal(img.height, 7, what);
        assert.equal(img.sourceType, "png");
        assert.equal(img.orientation, undefined);
        // libvips takes 16-bit samples to 8 bits as v >> 8 (the spec's rounding is
        // round(v · 255 / 65535)), and alpha is composited on those 8 bits: a level at most.
        const { max } = diff(img.data, expectedRgb(spec, [255, 255, 255]));
        assert.ok(max <= (depth === 16 ? 1 : 0), `${what}: max ${max}`);
      }
    }
  }
});

Deno.test("PNG: tRNS on grey and RGB makes the key colour show the background", async () => {
  const grey: PngSpec = {
    width: 3,
    height: 1,
    colorType: 0,
    depth: 16,
    samples: [0, 1234, 65535],
    trns: [0x04, 0xd2], // 1234
  };
  assert.deepEqual(
    (await decodeImage(encodePng(grey), { background: [10, 20, 30] })).data,
    new Uint8Array([0, 0, 0, 10, 20, 30, 255, 255, 255]),
  );
  const rgb: PngSpec = {
    width: 2,
    height: 1,
    colorType: 2,
    depth: 8,
    samples: [1, 2, 3, 1, 2, 4],
    trns: [0, 1, 0, 2, 0, 3],
  };
  assert.deepEqual(
    (await decodeImage(encodePng(rgb))).data,
    new Uint8Array([255, 255, 255, 1, 2, 4]),
  );
});

Deno.test("PNG: alpha is composited over the background, white by default", async () => {
  const spec: PngSpec = {
    width: 3,
    height: 1,
    colorType: 6,
    depth: 8,
    samples: [200, 100, 0, 0, 200, 100, 0, 255, 200, 100, 0, 128],
  };
  assert.deepEqual(
    (await decodeImage(encodePng(spec))).data,
    new Uint8Array([255, 255, 255, 200, 100, 0, 227, 177, 127]),
  );
  assert.deepEqual(
    (await decodeImage(encodePng(spec), { background: [0, 0, 0] })).data,
    new Uint8Array([0, 0, 0, 200, 100, 0, 100, 50, 0]),
  );
});

Deno.test("PNG: files written by Pillow (adaptive filters) decode to Pillow's pixels", async () => {
  for (
    const [png, raw, ch] of [["pil_rgb.png", "pil_rgb.raw", 3], [
      "pil_grey.png",
      "pil_grey.raw",
      1,
    ]] as const
  ) {
    const img = await decodeImage(await fixture(png));
    const ref = await fixture(raw);
    assert.equal(img.width * img.height * ch, ref.length);
    for (let i = 0; i < img.width * img.height; i++) {
      for (let k = 0; k < 3; k++) {
        assert.equal(img.data[i * 3 + k], ref[i * ch + (ch === 1 ? 0 : k)]);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Every format libvips writes

Deno.test("every format and variant decodes to the pattern it was made from, with its type", async () => {
  const p = pattern(48, 32);
  const grey = new Uint8Array(
    await sharp(p.data, { raw: { width: 48, height: 32, channels: 3 } }).toColourspace("b-w").raw()
      .toBuffer(),
  );
  const greyRgb = Uint8Array.from({ length: p.data.length }, (_, i) => grey[Math.floor(i / 3)]);
  for (const v of VARIANTS) {
    const bytes = await v.encode(p);
    assert.equal(detectImageType(bytes), v.type, v.name);
    assert.deepEqual(await readImageHeader(bytes), { type: v.type, width: 48, height: 32 }, v.name);
    const img = await decodeImage(bytes);
    assert.equal(img.sourceType, v.type, v.name);
    assert.deepEqual([img.width, img.height, img.data.length], [48, 32, 48 * 32 * 3], v.name);
    const { max, mean } = diff(img.data, v.grey ? greyRgb : p.data);
    assert.ok(
      max <= v.tolerance.max && mean <= v.tolerance.mean,
      `${v.name}: max ${max}, mean ${
        mean.toFixed(2)
      } (allowed ${v.tolerance.max}, ${v.tolerance.mean})`,
    );
  }
});

Deno.test("CMYK JPEGs keep their colours: cyan, magenta, yellow and black blocks", async () => {
  const p = pattern(48, 32);
  const cmyk = await VARIANTS.find((v) => v.name === "JPEG CMYK")!.encode(p);
  const meta = await sharp(cmyk).metadata();
  assert.deepEqual([meta.space, meta.channels], ["cmyk", 4], "the file really is CMYK");
  // Four flat blocks, written from sRGB through libvips' CMYK profile and read back.
  const colours = [[0, 160, 220], [220, 0, 140], [250, 220, 0], [40, 40, 40]];
  const src = new Uint8Array(32 * 8 * 3);
  for (let i = 0; i < 32 * 8; i++) src.set(colours[Math.floor((i % 32) / 8)], i * 3);
  const jpeg = new Uint8Array(
    await sharp(src, { raw: { width: 32, height: 8, channels: 3 } }).toColourspace("cmyk")
      .jpeg({ quality: 100, chromaSubsampling: "4:4:4" }).toBuffer(),
  );
  const img = await decodeImage(jpeg);
  colours.forEach((rgb, b) => {
    const at = (4 * 32 + b * 8 + 4) * 3;
    const got = [...img.data.subarray(at, at + 3)];
    // The strongest and weakest channel stay where they were (hue kept), within a press's gamut.
    const order = (c: number[]) => [c.indexOf(Math.max(...c)), c.indexOf(Math.min(...c))];
    if (b < 3) assert.deepEqual(order(got), order(rgb), `block ${b}: got ${got}, wrote ${rgb}`);
    assert.ok(diff(got, rgb).max <= 60, `block ${b}: got ${got}, wrote ${rgb}`);
  });
});

Deno.test("alpha in PNG, palette PNG with tRNS, WebP and AVIF is composited over the background", async () => {
  const p = pattern(48, 32, true);
  const expected = overWhite(p);
  const raw = () => sharp(p.data, { raw: { width: 48, height: 32, channels: 4 } });
  const cases: [string, Promise<Buffer>, number, number][] = [
    // [name, file, max, mean]: exact for lossless codecs.
    ["PNG RGBA", raw().png().toBuffer(), 0, 0],
    ["WebP lossless with alpha", raw().webp({ lossless: true }).toBuffer(), 0, 0],
    ["WebP lossy with alpha", raw().webp({ quality: 95, alphaQuality: 100 }).toBuffer(), 16, 1.5],
    ["AVIF with alpha", raw().avif({ quality: 90, chromaSubsampling: "4:4:4" }).toBuffer(), 10, 1],
  ];
  for (const [name, file, max, mean] of cases) {
    const bytes = new Uint8Array(await file);
    assert.ok((await sharp(bytes).metadata()).hasAlpha, `${name} has alpha`);
    const d = diff((await decodeImage(bytes)).data, expected);
    assert.ok(d.max <= max && d.mean <= mean, `${name}: max ${d.max}, mean ${d.mean.toFixed(2)}`);
  }
  // A palette of 16 colours with four alpha levels: every entry survives quantisation.
  const w = 32, h = 16, px = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    const b = Math.floor((i % w) / 8) + 4 * Math.floor(Math.floor(i / w) / 8);
    px.set([b * 30, 255 - b * 20, (b * 70) % 256, [0, 64, 128, 255][b % 4]], i * 4);
  }
  const palette = new Uint8Array(
    await sharp(px, { raw: { width: w, height: h, channels: 4 } })
      .png({ palette: true, colours: 16, dither: 0 }).toBuffer(),
  );
  const meta = await sharp(palette).metadata();
  assert.ok(meta.isPalette && meta.hasAlpha, "a palette PNG with tRNS");
  const d = diff(
    (await decodeImage(palette)).data,
    overWhite({ data: px, width: w, height: h, channels: 4 }),
  );
  assert.equal(d.max, 0, "palette + tRNS");
});

Deno.test("GIF and animated WebP: the first frame, exactly", async () => {
  const p = blocks(48, 32);
  for (const format of ["gif", "webp"] as const) {
    const bytes = await animated(p, format);
    assert.equal((await sharp(bytes).metadata()).pages, 2, `${format}: two frames`);
    assert.deepEqual(await readImageHeader(bytes), { type: format, width: 48, height: 32 });
    const img = await decodeImage(bytes);
    assert.equal(img.sourceType, format);
    assert.deepEqual(img.data, p.data, `${format}: the first frame, not the second`);
  }
  // GIF transparency is one palette entry: those pixels show the background.
  const px = new Uint8Array(16 * 8 * 4);
  for (let i = 0; i < 16 * 8; i++) px.set(i % 16 < 8 ? [10, 200, 30, 255] : [0, 0, 0, 0], i * 4);
  const gif = new Uint8Array(
    await sharp(px, { raw: { width: 16, height: 8, channels: 4 } }).gif({ dither: 0 }).toBuffer(),
  );
  const img = await decodeImage(gif, { background: [1, 2, 3] });
  assert.deepEqual([...img.data.subarray(0, 3)], [10, 200, 30]);
  assert.deepEqual([...img.data.subarray(15 * 3, 16 * 3)], [1, 2, 3]);
});

Deno.test("JPEG: baseline and progressive, grey and colour, decode close to Pillow", async () => {
  for (const name of ["baseline", "progressive", "grey_baseline", "grey_progressive"]) {
    const bytes = await fixture(`${name}.jpg`);
    const img = await decodeImage(bytes);
    const ref = await fixture(`${name}.pil.raw`);
    const ch = name.startsWith("grey") ? 1 : 3;
    assert.equal(img.sourceType, "jpeg");
    assert.deepEqual([img.width, img.height], [24, 16]);
    assert.deepEqual(await readImageHeader(bytes), { type: "jpeg", width: 24, height: 16 });
    const expanded = Uint8Array.from(
      { length: 24 * 16 * 3 },
      (_, i) => ch === 1 ? ref[Math.floor(i / 3)] : ref[i],
    );
    // Both are libjpeg-turbo with fancy upsampling; the IDCTs may differ by a level.
    const { max, mean } = diff(img.data, expanded);
    assert.ok(max <= 2 && mean <= 0.5, `${name}: max ${max}, mean ${mean}`);
  }
});

Deno.test("a real photo (Chelsea, 451×300) decodes alike from JPEG, PNG, WebP, AVIF, TIFF", async () => {
  const jpeg = await fixture("chelsea.jpg");
  const ref = await decodeImage(jpeg);
  assert.deepEqual([ref.sourceType, ref.width, ref.height], ["jpeg", 451, 300]);
  const s = () => sharp(ref.data, { raw: { width: 451, height: 300, channels: 3 } });
  const files: [string, Promise<Buffer>, number][] = [
    ["png", s().png().toBuffer(), 0],
    ["webp", s().webp({ lossless: true }).toBuffer(), 0],
    ["tiff", s().tiff({ compression: "lzw" }).toBuffer(), 0],
    ["avif", s().avif({ quality: 80 }).toBuffer(), 4], // mean levels; a photo's texture costs more
    ["gif", s().gif().toBuffer(), 6], // 256 colours with dithering
  ];
  for (const [type, file, mean] of files) {
    const img = await decodeImage(new Uint8Array(await file));
    assert.deepEqual([img.sourceType, img.width, img.height], [type, 451, 300]);
    const d = diff(img.data, ref.data);
    assert.ok(d.mean <= mean, `${type}: mean ${d.mean.toFixed(2)}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Orientation

/** A minimal big-endian TIFF block with one Orientation entry. */
function exifWithOrientation(o: number): Uint8Array {
  // MM, 42, IFD0 at 8; one entry: tag 0x0112, type SHORT, count 1, value o; no next IFD.
  return new Uint8Array([
    0x4d,
    0x4d,
    0,
    42,
    0,
    0,
    0,
    8,
    0,
    1,
    0x01,
    0x12,
    0,
    3,
    0,
    0,
    0,
    1,
    0,
    o,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
}

Deno.test("EXIF orientations 1–8 in a PNG eXIf chunk match the TIFF 6.0 descriptions", async () => {
  const stored = [[1, 2, 3, 4], [5, 6, 7, 8]];
  // Each displayed image, written out by hand from "the 0th row is the visual …, the 0th
  // column is the visual …" of TIFF 6.0 p. 37.
  const displayed: Record<number, number[][]> = {
    1: [[1, 2, 3, 4], [5, 6, 7, 8]],
    2: [[4, 3, 2, 1], [8, 7, 6, 5]],
    3: [[8, 7, 6, 5], [4, 3, 2, 1]],
    4: [[5, 6, 7, 8], [1, 2, 3, 4]],
    5: [[1, 5], [2, 6], [3, 7], [4, 8]],
    6: [[5, 1], [6, 2], [7, 3], [8, 4]],
    7: [[8, 4], [7, 3], [6, 2], [5, 1]],
    8: [[4, 8], [3, 7], [2, 6], [1, 5]],
  };
  for (let o = 1; o <= 8; o++) {
    const bytes = encodePng({
      width: 4,
      height: 2,
      colorType: 0,
      depth: 8,
      samples: stored.flat().map((v) => v * 20),
      exif: exifWithOrientation(o),
    });
    assert.deepEqual(await readImageHeader(bytes), {
      type: "png",
      width: 4,
      height: 2,
      ...(o > 1 && { orientation: o }),
    });
    const img = await decodeImage(bytes);
    const rows = Array.from(
      { length: img.height },
      (_, r) => Array.from({ length: img.width }, (_, c) => img.data[(r * img.width + c) * 3] / 20),
    );
    assert.deepEqual(rows, displayed[o], `orientation ${o}`);
  }
});

Deno.test("EXIF orientations 1–8 in JPEG, WebP and PNG from libvips display as TIFF 6.0 says", async () => {
  const p = blocks(32, 16);
  for (const format of ["jpeg", "webp", "png"] as const) {
    for (let o = 1; o <= 8; o++) {
      const img = await decodeImage(await withOrientation(p, o, format));
      const swap = o >= 5;
      assert.deepEqual([img.width, img.height], swap ? [16, 32] : [32, 16], `${format} ${o}`);
      assert.equal(img.orientation, o > 1 ? o : undefined);
      const expected = new Uint8Array(img.data.length);
      for (let r = 0; r < img.height; r++) {
        for (let c = 0; c < img.width; c++) {
          const [sr, sc] = orientedSource(o, 16, 32, r, c);
          expected.set(
            p.data.subarray((sr * 32 + sc) * 3, (sr * 32 + sc) * 3 + 3),
            (r * img.width + c) * 3,
          );
        }
      }
      const { max } = diff(img.data, expected);
      assert.ok(max <= (format === "jpeg" ? 8 : 0), `${format} orientation ${o}: max ${max}`);
    }
  }
});

Deno.test("EXIF orientations 1–8 in JPEGs display as Pillow's exif_transpose shows them", async () => {
  const expected = JSON.parse(await Deno.readTextFile(new URL("orientation.json", FIXTURES)));
  for (let o = 1; o <= 8; o++) {
    const name = `orientation_${o}.jpg`;
    const img = await decodeImage(await fixture(name));
    assert.equal(img.orientation, o > 1 ? o : undefined);
    assert.equal(img.width, expected[name].width, name);
    assert.equal(img.height, expected[name].height, name);
    expected[name].blocks.forEach((row: number[][], by: number) =>
      row.forEach((rgb, bx) => {
        const at = ((by * 8 + 4) * img.width + bx * 8 + 4) * 3;
        for (let k = 0; k < 3; k++) {
          assert.ok(Math.abs(img.data[at + k] - rgb[k]) <= 3, `${name} block ${by},${bx}`);
        }
      })
    );
  }
});

Deno.test("a 90° turn of the file is an exact 90° rotation of the model input", async () => {
  // Square images: the area-averaging resize commutes with rot90, so the served model sees the
  // rotated file as exactly the rotated input, and the invariance score of a P4 model is 1.
  const p = pattern(40, 40);
  const png = await sharp(p.data, { raw: { width: 40, height: 40, channels: 3 } }).png().toBuffer();
  const size = { height: 32, width: 32, channels: 3 as const };
  const original = toModelInput(await decodeImage(new Uint8Array(png)), size);
  for (
    const [k, file] of [
      [1, sharp(png).rotate(-90).png().toBuffer()], // counter-clockwise, as rot90(x, 1)
      [2, sharp(png).rotate(180).png().toBuffer()],
      [3, sharp(png).rotate(90).png().toBuffer()],
      [3, withOrientation(p, 6, "png")], // stored upright, shown turned 90° clockwise
    ] as const
  ) {
    const turned = toModelInput(await decodeImage(new Uint8Array(await file)), size);
    const expected = tf.tidy(() => rot90(tf.tensor4d(original, [1, 32, 32, 3]), k).dataSync());
    assert.ok(maxDiff(turned, expected) <= 1e-6, `k=${k}: ${maxDiff(turned, expected)}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Types, sizes and errors

Deno.test("detectImageType names each decoded type and the types a 415 should name", () => {
  const t = (s: string | number[]) =>
    detectImageType(typeof s === "string" ? new TextEncoder().encode(s) : new Uint8Array(s));
  assert.equal(t([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]), "png");
  assert.equal(t([0xff, 0xd8, 0xff, 0xe0]), "jpeg");
  assert.equal(t("GIF89a\x01\x00"), "gif");
  assert.equal(t("GIF87a"), "gif");
  assert.equal(t("RIFF\x10\x00\x00\x00WEBPVP8 "), "webp");
  assert.equal(t([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0]), "tiff");
  assert.equal(t([0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8]), "tiff");
  assert.equal(t("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"), "avif");
  assert.deepEqual(t([0x42, 0x4d, 0x3a, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0]), { other: "BMP" });
  assert.deepEqual(t("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), { other: "HEIC" });
  assert.deepEqual(t("\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic"), { other: "HEIC" });
  assert.deepEqual(t([0, 0, 1, 0, 1, 0, 16, 16]), { other: "ICO" });
  for (const [name, bytes] of Object.entries(VECTOR_FILES)) {
    assert.deepEqual(detectImageType(bytes), { other: name });
  }
  assert.deepEqual(t("<!-- drawn by hand -->\n<svg viewBox='0 0 1 1'></svg>"), { other: "SVG" });
  assert.equal(t("hello, world"), null);
  assert.equal(t([]), null);
  assert.equal(t([0xff, 0xd8]), null, "two bytes are not yet a JPEG");
});

Deno.test("SVG, PDF, PostScript, BMP and HEIC are refused by name before libvips sees them", async () => {
  for (const [name, bytes] of Object.entries(VECTOR_FILES)) {
    const e = await assertImageError(() => decodeImage(bytes), ["unsupported_type"]);
    assert.match(
      e.message,
      new RegExp(
        `^Expected a raster image \\(PNG, JPEG, WebP, AVIF, TIFF or GIF\\), got ${name} \\(`,
      ),
    );
    await assertImageError(() => readImageHeader(bytes), ["unsupported_type"]);
  }
  const bmp = new Uint8Array([0x42, 0x4d, 0x3a, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0]);
  await assertImageError(() => decodeImage(bmp), ["unsupported_type"], /got BMP$/);
  const heic = new TextEncoder().encode("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic");
  await assertImageError(
    () => decodeImage(heic),
    ["unsupported_type"],
    /got HEIC \(its HEVC codec/,
  );
});

Deno.test("decodeImage refuses empty input and random bytes with typed errors", async () => {
  await assertImageError(() => decodeImage(new Uint8Array()), ["empty"], /got 0 bytes/);
  const rand = rng(3);
  for (let i = 0; i < 50; i++) {
    const bytes = Uint8Array.from({ length: 1 + rand(200) }, () => rand(256));
    if (detectImageType(bytes) !== null) continue;
    await assertImageError(
      () => decodeImage(bytes),
      ["not_image"],
      /^Expected a raster image .*, got /,
    );
  }
  await assertImageError(
    () => decodeImage(new TextEncoder().encode("name,value\n")),
    ["not_image"],
    /got text starting "name,value\\n"/,
  );
});

Deno.test("a truncated file of each type is truncated or corrupt at every cut, with libvips' reason", async () => {
  const p = pattern(24, 16, true);
  const raw = () => sharp(p.data, { raw: { width: 24, height: 16, channels: 4 } });
  const files: [string, Uint8Array][] = [
    ["png", encodePng(randomSpec(6, 8, 1))],
    ["jpeg", await fixture("baseline.jpg")],
    ["jpeg progressive", await fixture("progressive.jpg")],
    ["webp", new Uint8Array(await raw().webp({ quality: 90 }).toBuffer())],
    ["webp lossless", new Uint8Array(await raw().webp({ lossless: true }).toBuffer())],
    ["gif", new Uint8Array(await raw().gif().toBuffer())],
    ["tiff", new Uint8Array(await raw().tiff({ compression: "deflate" }).toBuffer())],
    ["avif", new Uint8Array(await raw().avif().toBuffer())],
  ];
  for (const [name, bytes] of files) {
    // Cuts inside the magic bytes leave bytes that are not recognisably an image (not_image).
    const from = name.startsWith("avif") ? 16 : 12;
    const step = Math.max(1, Math.floor(bytes.length / 300));
    // A PNG cut inside its IEND chunk, or a GIF before its one-byte trailer, still holds every
    // pixel; libvips shows it, as browsers do.
    const end = bytes.length - ({ png: 12, gif: 1 }[name] ?? 0);
    for (let cut = from; cut < end; cut += step) {
      await assertImageError(
        () => decodeImage(bytes.subarray(0, cut)),
        ["truncated", "corrupt"],
        /\(.+\)$/,
      );
    }
  }
  // A cut inside the compressed data of a file with an end marker or declared size is named.
  for (const [name, bytes] of files.filter(([n]) => !/tiff|avif/.test(n))) {
    const e = await assertImageError(() => decodeImage(bytes.subarray(0, bytes.length - 20)), [
      "truncated",
    ]);
    assert.match(
      e.message,
      new RegExp(
        `^Expected a complete (PNG|JPEG|WebP|GIF), got one cut short at \\d+ bytes \\(.+\\)$`,
      ),
      name,
    );
  }
});

Deno.test("corrupted bytes give an ImageError or an image, never another exception", async () => {
  const p = pattern(24, 16);
  const raw = () => sharp(p.data, { raw: { width: 24, height: 16, channels: 3 } });
  const sources = [
    encodePng(randomSpec(2, 8, 2)),
    encodePng({ ...randomSpec(3, 4, 5), interlace: true }),
    await fixture("baseline.jpg"),
    await fixture("grey_progressive.jpg"),
    new Uint8Array(await raw().webp().toBuffer()),
    new Uint8Array(await raw().gif().toBuffer()),
    new Uint8Array(await raw().avif().toBuffer()),
    new Uint8Array(await raw().tiff().toBuffer()),
  ];
  const rand = rng(11);
  for (const source of sources) {
    for (let trial = 0; trial < 60; trial++) {
      const bytes = source.slice();
      for (let k = 1 + rand(4); k > 0; k--) bytes[12 + rand(bytes.length - 12)] = rand(256);
      try {
        const img = await decodeImage(bytes, { maxPixels: 1_000_000 });
        assert.equal(img.data.length, img.width * img.height * 3);
      } catch (e) {
        assert.ok(e instanceof ImageError, `trial ${trial}: ${e}`);
        assert.ok(!e.message.includes("\n"), e.message);
      }
    }
  }
});

Deno.test("a PNG with a bad CRC or a bad filter byte is corrupt", async () => {
  const png = encodePng(randomSpec(0, 8, 4));
  const idat = new TextDecoder("latin1").decode(png).indexOf("IDAT");
  const badCrc = png.slice();
  badCrc[idat + 6] ^= 0xff; // inside the compressed data, so its CRC fails
  await assertImageError(() => decodeImage(badCrc), ["corrupt"], /libpng/);
  const spec = randomSpec(0, 8, 4);
  const rows = [];
  for (let y = 0; y < spec.height; y++) rows.push(7, ...spec.samples.slice(y * 13, y * 13 + 13));
  const badFilter = concat(
    png.subarray(0, 33),
    pngChunk("IDAT", deflateSync(new Uint8Array(rows))),
    pngChunk("IEND", new Uint8Array()),
  );
  await assertImageError(() => decodeImage(badFilter), ["corrupt"]);
});

/** A PNG signature and IHDR claiming a size, then an empty IDAT: no pixels at all. */
function pngHeaderOnly(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return concat(
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", deflateSync(new Uint8Array(0))),
    pngChunk("IEND", new Uint8Array()),
  );
}

Deno.test("a 65,000 × 65,000 header in PNG, JPEG and WebP is refused from the header alone", async () => {
  const files: [string, Uint8Array][] = [
    ["png", pngHeaderOnly(65_000, 65_000)],
    ["jpeg", await jpegClaiming(65_000, 65_000)],
    ["webp", await webpClaiming(65_000, 65_000)],
  ];
  for (const [type, bytes] of files) {
    assert.ok(bytes.length < 2000, `${type}: a small file (${bytes.length} bytes)`);
    assert.deepEqual(await readImageHeader(bytes), { type, width: 65_000, height: 65_000 });
    const started = performance.now();
    await assertImageError(
      () => decodeImage(bytes),
      ["too_many_pixels"],
      /^Expected at most 50000000 pixels, got 65000×65000 = 4225000000$/,
    );
    const ms = performance.now() - started;
    assert.ok(ms < 200, `${type}: refused in ${ms.toFixed(1)} ms`);
  }
  // Within a raised limit, the WebP canvas that libvips cannot open is a 400 with its reason.
  await assertImageError(
    () => decodeImage(files[2][1], { maxPixels: 5e9 }),
    ["corrupt"],
    /bad image dimensions/,
  );
});

Deno.test("the pixel limit counts stored pixels: at the limit decodes, one under refuses", async () => {
  const small = encodePng(randomSpec(2, 8, 9)); // 13×7 = 91 pixels
  await assertImageError(() => decodeImage(small, { maxPixels: 90 }), ["too_many_pixels"]);
  assert.equal((await decodeImage(small, { maxPixels: 91 })).width, 13);
  await assertImageError(() => readImageHeader(pngHeaderOnly(1, 1).subarray(0, 20)), ["truncated"]);
});

Deno.test("an image with zero width or height is zero_size", async () => {
  await assertImageError(() => decodeImage(pngHeaderOnly(0, 10)), ["zero_size"], /got 0×10/);
});

/** The IDAT data of a PNG, joined (a test-side chunk walk, independent of the decoder's). */
function idatOf(png: Uint8Array): Uint8Array {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const parts: Uint8Array[] = [];
  for (let at = 8; at < png.length; at += 12 + view.getUint32(at)) {
    const type = new TextDecoder().decode(png.subarray(at + 4, at + 8));
    if (type === "IDAT") parts.push(png.subarray(at + 8, at + 8 + view.getUint32(at)));
  }
  return concat(...parts);
}

Deno.test("pngDeclaredBytes equals the inflated image data of real PNGs: every type, depth, Adam7", async () => {
  const sizes = [[1, 1], [2, 3], [13, 7], [9, 1], [1, 9], [17, 33], [8, 8]];
  let checked = 0;
  for (const { colorType, depths } of COLOUR_TYPES) {
    for (const depth of depths) {
      for (const [width, height] of sizes) {
        for (const interlace of [false, true]) {
          const spec = { ...randomSpec(colorType, depth, width * 31 + height), interlace };
          const ch = CHANNELS[colorType];
          spec.width = width, spec.height = height;
          spec.samples = spec.samples.slice(0, width * height * ch);
          while (spec.samples.length < width * height * ch) spec.samples.push(0);
          const png = encodePng(spec);
          const inflated = inflateSync(idatOf(png)).length;
          assert.equal(
            pngDeclaredBytes(png),
            inflated,
            `${colorType}/${depth} ${width}×${height} ${interlace}`,
          );
          checked++;
        }
      }
    }
  }
  // libvips' own encoder: plain, Adam7 ("progressive"), palette, 16-bit, grey+alpha.
  const src = pattern(37, 23, true);
  const input = () => sharp(src.data, { raw: { width: 37, height: 23, channels: 4 } });
  const made = [
    await input().png().toBuffer(),
    await input().png({ progressive: true }).toBuffer(),
    await input().png({ palette: true }).toBuffer(),
    await input().toColourspace("rgb16").png().toBuffer(),
    await input().toColourspace("b-w").png({ progressive: true }).toBuffer(),
  ];
  for (const buffer of made) {
    const png = new Uint8Array(buffer);
    assert.equal(pngDeclaredBytes(png), inflateSync(idatOf(png)).length);
    checked++;
  }
  assert.equal(checked, 215);
  // A malformed IHDR (depth 3, colour type 5) is left to libvips to name.
  const bad = encodePng({ ...randomSpec(2, 8, 1) });
  bad[24] = 3;
  assert.equal(pngDeclaredBytes(bad), null);
});

/**
 * Each bomb's cost from tests/bomb_cost.ts, run in a process of its own (test modules share this
 * one's RSS).
 */
async function bombCosts(): Promise<Record<string, { ms: number; grewMb: number; error: string }>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./bomb_cost.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `bomb_cost.ts: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(text.trim().split("\n").at(-1)!);
}

Deno.test("zlib bombs: refused from the header when huge, from the stream when small, in < 1 s", async () => {
  // 50,000 × 50,000 of zeros in 2.1 MB: 7.5 GB of pixels declared, refused from the header.
  const huge = pngBomb(50_000, 50_000, 2 ** 31);
  await assertImageError(() => decodeImage(huge), ["too_many_pixels"]);
  // 1000 × 1000 declared (2.9 MB of RGB), 1 GiB of zeros in a 1 MB stream, and 3 GiB in 3 MB:
  // libpng would inflate all of it (0.8 s for 1 GiB) and answer with the black image; the
  // stream check stops at twice the declared scanlines.
  for (const gib of [1, 3]) {
    const bomb = pngBomb(1000, 1000, gib * 2 ** 30);
    assert.ok(bomb.length < gib * 1.1e6, `${bomb.length} bytes`);
    await assertImageError(
      () => decodeImage(bomb),
      ["decompression_bomb"],
      /^Expected PNG image data of the 1000×1000 its header declares \(3001000 bytes\), got \d+ bytes of zlib stream that inflate past 6067536 \(a decompression bomb\)$/,
    );
  }
  // Interlaced: the declared size is the seven Adam7 passes' (125² + 125² + 125·250 + 250² +
  // 250·500 + 500² + 500·1000 pixels, each pass's rows with a filter byte), and the same excess
  // is refused.
  const adam7 = pngBomb(1000, 1000, 2 ** 30).slice();
  adam7[28] = 1; // IHDR interlace method; then the IHDR's CRC again
  adam7.set(pngChunk("IHDR", adam7.slice(16, 29)).subarray(21, 25), 29);
  assert.equal(pngDeclaredBytes(adam7), 3_001_875);
  await assertImageError(() => decodeImage(adam7), ["decompression_bomb"]);
  // A stream too short to hide more than 512 MiB of excess is not inflated twice: 256 MiB of
  // zeros in 261 KB costs libpng tens of ms and decodes as the declared black image.
  const small = pngBomb(1000, 1000, 2 ** 28);
  const img = await decodeImage(small);
  assert.ok(img.width === 1000 && img.data.every((v) => v === 0), "the declared black image");

  // What each costs, in a process of its own. The RSS bound: the check inflates at most
  // 2 × declared + 64 KiB (5.8 MB) in 64 KiB pieces, and libvips decodes the 2.9 MB image at most
  // once, so 2 × 2.9 + 16 MB of slack for V8's garbage; measured 8–11 MB there on 2026-12-07
  // (in the shared test process, other modules' allocations added up to 40 MB). A decoder that
  // inflated a bomb into memory grows it by the bomb's size (node:zlib's inflateSync of the
  // 1 GiB one: +2,017 MB, 10 s), over 40× the bound.
  const declaredMb = (1000 * 1000 * 3) / 2 ** 20;
  const bound = 2 * declaredMb + 16;
  const costs = await bombCosts();
  assert.equal(costs.huge.error, "too_many_pixels");
  assert.ok(costs.huge.ms < 100 && costs.huge.grewMb < 16, `huge: ${JSON.stringify(costs.huge)}`);
  for (const name of ["gib1", "gib3"]) {
    const cost = costs[name];
    assert.equal(cost.error, "decompression_bomb", name);
    assert.ok(cost.ms < 1000, `${name} refused in ${cost.ms.toFixed(0)} ms`);
    assert.ok(cost.grewMb < bound, `${name}: RSS grew ${cost.grewMb.toFixed(1)} MB`);
  }
  assert.equal(costs.small.error, "");
  assert.ok(costs.small.ms < 1000 && costs.small.grewMb < bound, JSON.stringify(costs.small));
  console.log(`zlib bombs (own process): ${JSON.stringify(costs)}`);
});

Deno.test("the bomb check refuses no real PNG: fixtures, every variant, a large photo-like one", async () => {
  for (const name of ["pil_grey.png", "pil_rgb.png"]) {
    assert.equal((await decodeImage(await fixture(name))).sourceType, "png", name);
  }
  // 2000 × 1500 of smooth colour with noise (compresses ~2:1, so the stream check runs).
  const w = 2000, h = 1500, rand = rng(5);
  const rgb = new Uint8Array(w * h * 3).map((_, i) =>
    (((i / 3) % w) / 8 + Math.floor(i / 3 / w) / 6 + (i % 3) * 40 + rand(24)) & 255
  );
  const png = new Uint8Array(
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer(),
  );
  assert.ok(idatOf(png).length * 1032 > pngDeclaredBytes(png)! + 512 * 2 ** 20, "checked");
  const started = performance.now();
  const img = await decodeImage(png);
  const ms = performance.now() - started;
  assert.equal(maxDiff(img.data, rgb), 0);
  const t0 = performance.now();
  await sharp(png).raw().toBuffer();
  console.log(
    `2000×1500 PNG (${(png.length / 1e6).toFixed(1)} MB): decodeImage ${
      ms.toFixed(0)
    } ms, libvips alone ${(performance.now() - t0).toFixed(0)} ms`,
  );
});

// ---------------------------------------------------------------------------------------------
// PNG figures

Deno.test("figures: the PNG is the SVG rendered at PNG_SCALE, drawn, with no file references", async () => {
  const values = [0, 90, 180].flatMap((angle) =>
    ["baseline", "symmetric"].map((model, m) => ({ model, angle, acc: 0.3 + 0.2 * m }))
  );
  const svg = await lineChart("t", values, { field: "angle", title: "angle" }, {
    field: "acc",
    title: "accuracy",
  });
  const [, w, h] = svg.match(/^<svg[^>]*width="(\d+(?:\.\d+)?)"[^>]*height="(\d+(?:\.\d+)?)"/)!;
  const dir = await Deno.makeTempDir();
  assert.deepEqual(await writeFigure(dir, "fig.svg", svg), ["fig.svg", "fig.png"]);
  assert.equal(await Deno.readTextFile(`${dir}/fig.svg`), svg);
  const png = await Deno.readFile(`${dir}/fig.png`);
  const img = await decodeImage(png);
  assert.deepEqual(
    [img.sourceType, img.width, img.height],
    ["png", Math.round(Number(w) * PNG_SCALE), Math.round(Number(h) * PNG_SCALE)],
  );
  const dark = img.data.filter((v) => v < 128).length;
  assert.ok(dark > img.data.length / 200, `lines and text are drawn (${dark} dark samples)`);
  await Deno.remove(dir, { recursive: true });
  // librsvg follows no file reference in an SVG rendered from memory; data: images it draws.
  const red = await sharp({ create: { width: 2, height: 2, channels: 3, background: "#f00" } })
    .png().toBuffer();
  const refs = (href: string) =>
    `<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><image width="8" height="8" href="${href}"/></svg>`;
  const local = await decodeImage(await svgToPng(refs(new URL("chelsea.jpg", FIXTURES).href), 1));
  assert.ok(local.data.every((v) => v === 255), "a file:// image is not drawn");
  const inline = await decodeImage(
    await svgToPng(refs(`data:image/png;base64,${red.toString("base64")}`), 1),
  );
  assert.deepEqual([...inline.data.subarray(0, 3)], [255, 0, 0], "a data: image is drawn");
  await assert.rejects(() => writeFigure(dir, "fig.png", svg), RangeError);
});

// ---------------------------------------------------------------------------------------------
// Model input

function image(width: number, height: number, seed: number): DecodedImage {
  const rand = rng(seed);
  return {
    width,
    height,
    sourceType: "png",
    data: Uint8Array.from({ length: width * height * 3 }, () => rand(256)),
  };
}

/** Area average by exact 2-D overlap of each source pixel with the output footprint. */
function areaReference(img: DecodedImage, oh: number, ow: number): Float32Array {
  const out = new Float32Array(oh * ow * 3);
  const sy = img.height / oh, sx = img.width / ow;
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let y = 0; y < img.height; y++) {
          for (let x = 0; x < img.width; x++) {
            const wy = Math.max(0, Math.min(y + 1, (oy + 1) * sy) - Math.max(y, oy * sy));
            const wx = Math.max(0, Math.min(x + 1, (ox + 1) * sx) - Math.max(x, ox * sx));
            sum += wy * wx * img.data[(y * img.width + x) * 3 + c];
          }
        }
        out[(oy * ow + ox) * 3 + c] = sum / (sy * sx) / 255;
      }
    }
  }
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test("area downscale by an integer factor is the block mean", () => {
  const img = image(12, 8, 1);
  const out = toModelInput(img, { height: 2, width: 3, channels: 3 });
  for (let oy = 0; oy < 2; oy++) {
    for (let ox = 0; ox < 3; ox++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let y = 0; y < 4; y++) {
          for (let x = 0; x < 4; x++) sum += img.data[((oy * 4 + y) * 12 + ox * 4 + x) * 3 + c];
        }
        assert.equal(out[(oy * 3 + ox) * 3 + c], Math.fround(sum / 16 / 255));
      }
    }
  }
});

Deno.test("area downscale by a fractional factor matches the exact 2-D overlap", () => {
  const img = image(17, 11, 2);
  for (const [h, w] of [[5, 7], [11, 3], [4, 17], [1, 1]]) {
    const out = toModelInput(img, { height: h, width: w, channels: 3 });
    assert.ok(maxDiff(out, areaReference(img, h, w)) < 1e-6, `${h}×${w}`);
  }
});

Deno.test("upscaling is bilinear with half-pixel centres (tf.image.resizeBilinear)", () => {
  const img = image(5, 4, 3);
  const out = toModelInput(img, { height: 9, width: 13, channels: 3 });
  const ref = tf.tidy(() =>
    tf.image.resizeBilinear(
      tf.tensor4d(Float32Array.from(img.data, (v) => v / 255), [1, 4, 5, 3]),
      [9, 13],
      false,
      true,
    )
      .dataSync()
  );
  assert.ok(maxDiff(out, ref) < 1e-6);
});

Deno.test("upscaling a constant image gives the same constant", () => {
  const img: DecodedImage = {
    width: 3,
    height: 2,
    sourceType: "jpeg",
    data: new Uint8Array(18).fill(77),
  };
  const out = toModelInput(img, { height: 31, width: 20, channels: 3 });
  assert.ok(out.every((v) => Math.abs(v - 77 / 255) < 1e-7));
});

Deno.test("resizing to the same size is the identity", () => {
  const img = image(9, 6, 4);
  const out = toModelInput(img, { height: 6, width: 9, channels: 3 });
  assert.deepEqual(out, Float32Array.from(img.data, (v) => v / 255));
  const w = resampleWeights(9, 9);
  assert.deepEqual([...w.index], [...Array(9).keys()]);
  assert.ok(w.weight.every((v) => v === 1));
});

Deno.test("one channel is BT.601 luma, resized like RGB", () => {
  const img = image(8, 6, 5);
  const grey = toModelInput(img, { height: 3, width: 4, channels: 1 });
  const rgb = toModelInput(img, { height: 3, width: 4, channels: 3 });
  for (let i = 0; i < 12; i++) {
    const luma = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
    assert.ok(Math.abs(grey[i] - luma) < 1e-6);
  }
});

Deno.test("imageToTensor gives [1, H, W, C] in [0, 1] and leaks nothing else", () => {
  const before = tf.memory().numTensors;
  const x = imageToTensor(image(6, 4, 6), { height: 2, width: 3, channels: 1 });
  assert.deepEqual(x.shape, [1, 2, 3, 1]);
  const full = imageToTensor(image(6, 4, 6));
  assert.deepEqual(full.shape, [1, 4, 6, 3]);
  assert.ok(full.dataSync().every((v) => v >= 0 && v <= 1));
  tf.dispose([x, full]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("bad sizes and options are refused with TypeErrors, not ImageErrors", async () => {
  assert.throws(
    () => toModelInput(image(2, 2, 1), { height: 0, width: 2, channels: 3 }),
    TypeError,
  );
  assert.throws(
    () => toModelInput(image(2, 2, 1), { height: 2, width: 2, channels: 2 as 1 }),
    TypeError,
  );
  await assert.rejects(() => decodeImage(new Uint8Array([1]), { maxPixels: -1 }), TypeError);
});
