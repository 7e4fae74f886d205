/**
 * Tests of lib/image.ts: PNGs of every colour type and bit depth made here by two encoders
 * (a small one below that uses every row filter, and fast-png for Adam7), JPEG fixtures made
 * by Pillow (tests/fixtures/images/README.md), errors for bad bytes, and resizing against
 * slow references.
 */
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import * as tf from "@tensorflow/tfjs";
import { encode as fastPngEncode } from "fast-png";
import {
  type DecodedImage,
  decodeImage,
  detectImageType,
  ImageError,
  type ImageErrorCode,
  imageToTensor,
  readImageHeader,
  resampleWeights,
  toModelInput,
} from "../lib/image/decode.ts";

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

function assertImageError(fn: () => unknown, codes: ImageErrorCode[], pattern?: RegExp) {
  try {
    fn();
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

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
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
  return concatBytes(
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    ...(spec.exif ? [chunk("eXIf", spec.exif)] : []),
    ...(spec.palette ? [chunk("PLTE", new Uint8Array(spec.palette))] : []),
    ...(spec.trns ? [chunk("tRNS", new Uint8Array(spec.trns))] : []),
    chunk("IDAT", deflateSync(concatBytes(...rows))),
    chunk("IEND", new Uint8Array()),
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

Deno.test("PNG: every colour type and bit depth, all five row filters, decodes to what was encoded", () => {
  for (const { colorType, depths, name } of COLOUR_TYPES) {
    for (const depth of depths) {
      for (const interlace of [false, true]) {
        const spec = { ...randomSpec(colorType, depth, colorType * 100 + depth), interlace };
        const img = decodeImage(encodePng(spec));
        const what = `${name} ${depth}-bit${interlace ? " Adam7" : ""}`;
        assert.equal(img.width, 13, what);
        assert.equal(img.height, 7, what);
        assert.equal(img.sourceType, "png");
        assert.equal(img.orientation, undefined);
        assert.deepEqual(img.data, expectedRgb(spec, [255, 255, 255]), what);
      }
    }
  }
});

Deno.test("PNG: tRNS on grey and RGB makes the key colour show the background", () => {
  const grey: PngSpec = {
    width: 3,
    height: 1,
    colorType: 0,
    depth: 16,
    samples: [0, 1234, 65535],
    trns: [0x04, 0xd2], // 1234
  };
  assert.deepEqual(
    decodeImage(encodePng(grey), { background: [10, 20, 30] }).data,
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
  assert.deepEqual(decodeImage(encodePng(rgb)).data, new Uint8Array([255, 255, 255, 1, 2, 4]));
});

Deno.test("PNG: alpha is composited over the background, white by default", () => {
  const spec: PngSpec = {
    width: 3,
    height: 1,
    colorType: 6,
    depth: 8,
    samples: [200, 100, 0, 0, 200, 100, 0, 255, 200, 100, 0, 128],
  };
  assert.deepEqual(
    decodeImage(encodePng(spec)).data,
    new Uint8Array([255, 255, 255, 200, 100, 0, 227, 177, 127]),
  );
  assert.deepEqual(
    decodeImage(encodePng(spec), { background: [0, 0, 0] }).data,
    new Uint8Array([0, 0, 0, 200, 100, 0, 100, 50, 0]),
  );
});

Deno.test("PNG: Adam7 images from fast-png decode like the non-interlaced ones", () => {
  const rand = rng(7);
  for (const [channels, depth] of [[1, 8], [2, 8], [3, 8], [4, 8], [3, 16], [1, 16]] as const) {
    const width = 11, height = 9;
    const n = width * height * channels;
    const data = depth === 16
      ? Uint16Array.from({ length: n }, () => rand(65536))
      : Uint8Array.from({ length: n }, () => rand(256));
    const colorType = ({ 1: 0, 2: 4, 3: 2, 4: 6 } as const)[channels];
    const spec: PngSpec = { width, height, colorType, depth, samples: [...data] };
    const interlaced = fastPngEncode({ width, height, data, channels, depth }, {
      interlace: "Adam7",
    });
    assert.equal(interlaced[28], 1, "fast-png wrote an interlaced PNG");
    assert.deepEqual(decodeImage(interlaced).data, expectedRgb(spec, [255, 255, 255]));
  }
  // A palette image (fast-png's Adam7 writer mishandles depths below 8, so 8 bits here; our own
  // encoder covers 1, 2 and 4 bits. All entries are translucent: its tRNS writer skips opaque ones).
  const palette = Array.from({ length: 5 }, (_, i) => [i * 50, 255 - i * 40, i * 20, 10 + i * 60]);
  const indices = Array.from({ length: 10 * 3 }, () => rand(5));
  const png = fastPngEncode(
    { width: 10, height: 3, data: Uint8Array.from(indices), channels: 1, depth: 8, palette },
    { interlace: "Adam7" },
  );
  const spec: PngSpec = {
    width: 10,
    height: 3,
    colorType: 3,
    depth: 8,
    samples: indices,
    palette: palette.flatMap((c) => c.slice(0, 3)),
    trns: palette.map((c) => c[3]),
  };
  assert.deepEqual(decodeImage(png).data, expectedRgb(spec, [255, 255, 255]));
});

Deno.test("PNG: files written by Pillow (adaptive filters) decode to Pillow's pixels", async () => {
  for (
    const [png, raw, ch] of [["pil_rgb.png", "pil_rgb.raw", 3], [
      "pil_grey.png",
      "pil_grey.raw",
      1,
    ]] as const
  ) {
    const img = decodeImage(await fixture(png));
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
// Orientation

/** A minimal big-endian TIFF block with one Orientation entry. */
function exifWithOrientation(o: number): Uint8Array {
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

Deno.test("EXIF orientation 6 turns a 4×2 PNG into a 2×4 image, pixel by pixel", () => {
  // Stored:  A B C D      Displayed (turned 90° clockwise):  E A
  //          E F G H                                         F B
  //                                                          G C
  //                                                          H D
  const [A, B, C, D, E, F, G, H] = [10, 20, 30, 40, 50, 60, 70, 80];
  const spec: PngSpec = {
    width: 4,
    height: 2,
    colorType: 0,
    depth: 8,
    samples: [A, B, C, D, E, F, G, H],
    exif: exifWithOrientation(6),
  };
  const bytes = encodePng(spec);
  assert.deepEqual(readImageHeader(bytes), { type: "png", width: 4, height: 2, orientation: 6 });
  const img = decodeImage(bytes);
  assert.equal(img.width, 2);
  assert.equal(img.height, 4);
  assert.equal(img.orientation, 6);
  const grey = [...img.data].filter((_, i) => i % 3 === 0);
  assert.deepEqual(grey, [E, A, F, B, G, C, H, D]);
});

Deno.test("EXIF orientations 1–8 on a 4×2 PNG match the TIFF 6.0 descriptions", () => {
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
    const img = decodeImage(encodePng({
      width: 4,
      height: 2,
      colorType: 0,
      depth: 8,
      samples: stored.flat(),
      exif: exifWithOrientation(o),
    }));
    const rows = Array.from(
      { length: img.height },
      (_, r) => Array.from({ length: img.width }, (_, c) => img.data[(r * img.width + c) * 3]),
    );
    assert.deepEqual(rows, displayed[o], `orientation ${o}`);
  }
});

Deno.test("EXIF orientations 1–8 in JPEGs display as Pillow's exif_transpose shows them", async () => {
  const expected = JSON.parse(await Deno.readTextFile(new URL("orientation.json", FIXTURES)));
  for (let o = 1; o <= 8; o++) {
    const name = `orientation_${o}.jpg`;
    const img = decodeImage(await fixture(name));
    assert.equal(img.orientation, o);
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

// ---------------------------------------------------------------------------------------------
// JPEG

Deno.test("JPEG: baseline and progressive, grey and colour, decode close to Pillow", async () => {
  for (const name of ["baseline", "progressive", "grey_baseline", "grey_progressive"]) {
    const bytes = await fixture(`${name}.jpg`);
    const img = decodeImage(bytes);
    const ref = await fixture(`${name}.pil.raw`);
    const ch = name.startsWith("grey") ? 1 : 3;
    assert.equal(img.sourceType, "jpeg");
    assert.deepEqual([img.width, img.height], [24, 16]);
    assert.deepEqual(readImageHeader(bytes), { type: "jpeg", width: 24, height: 16 });
    let max = 0, sum = 0;
    for (let i = 0; i < 24 * 16; i++) {
      for (let k = 0; k < 3; k++) {
        const d = Math.abs(img.data[i * 3 + k] - ref[i * ch + (ch === 1 ? 0 : k)]);
        (max = Math.max(max, d), sum += d);
      }
    }
    // Grey decodes agree to a level. Colour fixtures are 4:2:0: jpeg-js replicates chroma
    // where libjpeg interpolates it ("fancy upsampling"); with 4:4:4 the gap is ≤ 3 levels.
    const [maxLimit, meanLimit] = ch === 1 ? [2, 0.5] : [24, 5];
    assert.ok(
      max <= maxLimit && sum / (24 * 16 * 3) <= meanLimit,
      `${name}: max ${max}, mean ${sum / 1152}`,
    );
  }
});

Deno.test("JPEG: progressive and baseline of the same picture decode alike", async () => {
  const a = decodeImage(await fixture("baseline.jpg")).data;
  const b = decodeImage(await fixture("progressive.jpg")).data;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  assert.ok(max <= 2, `max ${max}`);
});

// ---------------------------------------------------------------------------------------------
// Types, sizes and errors

Deno.test("detectImageType names PNG, JPEG and the types a 415 should name", () => {
  const t = (s: string | number[]) =>
    detectImageType(typeof s === "string" ? new TextEncoder().encode(s) : new Uint8Array(s));
  assert.equal(t([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]), "png");
  assert.equal(t([0xff, 0xd8, 0xff, 0xe0]), "jpeg");
  assert.deepEqual(t("GIF89a\x01\x00"), { other: "GIF" });
  assert.deepEqual(t("GIF87a"), { other: "GIF" });
  assert.deepEqual(t("RIFF\x10\x00\x00\x00WEBPVP8 "), { other: "WebP" });
  assert.deepEqual(t([0x42, 0x4d, 0x3a, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0]), { other: "BMP" });
  assert.deepEqual(t([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0]), { other: "TIFF" });
  assert.deepEqual(t([0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8]), { other: "TIFF" });
  assert.deepEqual(t("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"), { other: "AVIF" });
  assert.deepEqual(t("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), { other: "HEIC" });
  assert.deepEqual(t("\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic"), { other: "HEIC" });
  assert.deepEqual(t([0, 0, 1, 0, 1, 0, 16, 16]), { other: "ICO" });
  assert.deepEqual(t("%PDF-1.7"), { other: "PDF" });
  assert.deepEqual(t('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">'), {
    other: "SVG",
  });
  assert.equal(t("hello, world"), null);
  assert.equal(t([]), null);
  assert.equal(t([0xff, 0xd8]), null, "two bytes are not yet a JPEG");
});

Deno.test("decodeImage refuses empty input, random bytes and other image types with typed errors", () => {
  assertImageError(() => decodeImage(new Uint8Array()), ["empty"], /got 0 bytes/);
  const rand = rng(3);
  for (let i = 0; i < 50; i++) {
    const bytes = Uint8Array.from({ length: 1 + rand(200) }, () => rand(256));
    if (detectImageType(bytes) !== null) continue;
    assertImageError(
      () => decodeImage(bytes),
      ["not_image"],
      /^Expected a PNG or JPEG image, got /,
    );
  }
  assertImageError(
    () => decodeImage(new TextEncoder().encode("name,value\n")),
    ["not_image"],
    /got text/,
  );
  for (
    const [bytes, name] of [["GIF89a\x01\x00\x01\x00", "GIF"], [
      "RIFF\x10\x00\x00\x00WEBPVP8L",
      "WebP",
    ]]
  ) {
    const e = assertImageError(() => decodeImage(new TextEncoder().encode(bytes)), [
      "unsupported_type",
    ]);
    assert.equal(e.message, `Expected a PNG or JPEG image, got ${name}`);
  }
});

Deno.test("a truncated PNG or JPEG is reported as truncated or corrupt at every cut", async () => {
  const png = encodePng(randomSpec(6, 8, 1));
  const jpegs = [await fixture("baseline.jpg"), await fixture("progressive.jpg")];
  for (const bytes of [png, ...jpegs]) {
    // Cuts inside the signature leave bytes that are not recognisably an image (not_image).
    for (let cut = bytes[0] === 0x89 ? 8 : 3; cut < bytes.length; cut++) {
      const codes: ImageErrorCode[] = ["truncated", "corrupt"];
      assertImageError(() => decodeImage(bytes.subarray(0, cut)), codes);
    }
  }
  // A cut inside the compressed data is named as such.
  assertImageError(() => decodeImage(png.subarray(0, png.length - 20)), ["truncated"]);
  assertImageError(() => decodeImage(jpegs[1].subarray(0, jpegs[1].length - 40)), ["truncated"]);
});

Deno.test("corrupted bytes give an ImageError or an image, never another exception", async () => {
  const sources = [
    encodePng(randomSpec(2, 8, 2)),
    encodePng({ ...randomSpec(3, 4, 5), interlace: true }),
    await fixture("baseline.jpg"),
    await fixture("grey_progressive.jpg"),
  ];
  const rand = rng(11);
  for (const source of sources) {
    for (let trial = 0; trial < 150; trial++) {
      const bytes = source.slice();
      for (let k = 1 + rand(4); k > 0; k--) bytes[rand(bytes.length)] = rand(256);
      try {
        const img = decodeImage(bytes, { maxPixels: 1_000_000 });
        assert.equal(img.data.length, img.width * img.height * 3);
      } catch (e) {
        assert.ok(e instanceof ImageError, `trial ${trial}: ${e}`);
      }
    }
  }
});

Deno.test("PNG CRC mismatches and bad filter bytes are corrupt", () => {
  const png = encodePng(randomSpec(0, 8, 4));
  const badCrc = png.slice();
  badCrc[29] ^= 1; // last CRC byte of IHDR
  assertImageError(() => decodeImage(badCrc), ["corrupt"], /CRC/);
  const spec = randomSpec(0, 8, 4);
  const rows = [];
  for (let y = 0; y < spec.height; y++) rows.push(7, ...spec.samples.slice(y * 13, y * 13 + 13));
  const ihdr = png.subarray(8, 33);
  const badFilter = concatBytes(
    png.subarray(0, 8),
    ihdr,
    chunk("IDAT", deflateSync(new Uint8Array(rows))),
    chunk("IEND", new Uint8Array()),
  );
  assertImageError(() => decodeImage(badFilter), ["corrupt"], /filter 0–4, got 7/);
});

/** A PNG signature and IHDR claiming a size, with no image data at all. */
function pngHeaderOnly(width: number, height: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return concatBytes(
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
  );
}

Deno.test("the pixel limit is checked from the header, before any decoding", async () => {
  const huge = pngHeaderOnly(100_000, 100_000);
  assert.deepEqual(readImageHeader(huge), { type: "png", width: 100_000, height: 100_000 });
  assertImageError(
    () => decodeImage(huge),
    ["too_many_pixels"],
    /at most 50000000 pixels, got 100000×100000/,
  );
  const small = encodePng(randomSpec(2, 8, 9)); // 13×7 = 91 pixels
  assertImageError(() => decodeImage(small, { maxPixels: 90 }), ["too_many_pixels"]);
  assert.equal(decodeImage(small, { maxPixels: 91 }).width, 13);
  // A JPEG whose frame header claims 60000×60000.
  const jpeg = (await fixture("baseline.jpg")).slice();
  const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0) + 1;
  jpeg.set([0xea, 0x60, 0xea, 0x60], sof + 4);
  assert.deepEqual(readImageHeader(jpeg), { type: "jpeg", width: 60000, height: 60000 });
  assertImageError(() => decodeImage(jpeg), ["too_many_pixels"]);
  assertImageError(() => readImageHeader(pngHeaderOnly(1, 1).subarray(0, 20)), ["truncated"]);
});

Deno.test("an image with zero width or height is zero_size", () => {
  assertImageError(() => decodeImage(pngHeaderOnly(0, 10)), ["zero_size"], /got 0×10/);
});

Deno.test("arithmetic-coded and 12-bit JPEGs are unsupported, by name", async () => {
  const jpeg = await fixture("grey_baseline.jpg");
  const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0) + 1;
  const arithmetic = jpeg.slice();
  arithmetic[sof] = 0xc9;
  assertImageError(
    () => decodeImage(arithmetic),
    ["unsupported_type"],
    /arithmetic-coded \(SOF9\)/,
  );
  const twelve = jpeg.slice();
  twelve[sof + 3] = 12;
  assertImageError(() => decodeImage(twelve), ["unsupported_type"], /12-bit/);
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

Deno.test("bad sizes and options are refused with TypeErrors, not ImageErrors", () => {
  assert.throws(
    () => toModelInput(image(2, 2, 1), { height: 0, width: 2, channels: 3 }),
    TypeError,
  );
  assert.throws(
    () => toModelInput(image(2, 2, 1), { height: 2, width: 2, channels: 2 as 1 }),
    TypeError,
  );
  assert.throws(() => decodeImage(new Uint8Array([1]), { maxPixels: -1 }), TypeError);
});
