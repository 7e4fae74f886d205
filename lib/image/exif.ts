/**
 * A small reader for the one EXIF field the image decoder needs: Orientation (tag 0x0112 in
 * IFD0), and the transform that each of its eight values asks a viewer to apply.
 *
 * EXIF data is a TIFF structure (CIPA DC-008, §4.5): a byte-order mark (`II` little-endian or
 * `MM` big-endian), the magic 42, the offset of IFD0, then 12-byte entries
 * `tag(2) type(2) count(4) value-or-offset(4)`. JPEG carries it in an APP1 segment after the
 * six bytes `Exif\0\0`; PNG in an `eXIf` chunk with no prefix.
 *
 * @module
 */

/** The EXIF Orientation values, 1–8 (TIFF 6.0, tag 274). */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

const ORIENTATION_TAG = 0x0112;
const TYPE_SHORT = 3;

/**
 * Reads the Orientation tag from a TIFF-structured EXIF block (without the `Exif\0\0`
 * prefix). Returns `undefined` when the block is malformed, has no such tag, or holds a value
 * outside 1–8: a broken EXIF block must not make an otherwise good image undecodable.
 *
 * @example
 * ```ts
 * const tiff = new Uint8Array([
 *   0x4d, 0x4d, 0, 42, 0, 0, 0, 8, // MM, 42, IFD0 at 8
 *   0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, // one entry: Orientation = 6
 *   0, 0, 0, 0, // no next IFD
 * ]);
 * readExifOrientation(tiff); // 6
 * ```
 */
export function readExifOrientation(tiff: Uint8Array): Orientation | undefined {
  if (tiff.length < 8) return undefined;
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  const big = tiff[0] === 0x4d && tiff[1] === 0x4d;
  if (!little && !big) return undefined;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const u16 = (at: number) => view.getUint16(at, little);
  const u32 = (at: number) => view.getUint32(at, little);
  if (u16(2) !== 42) return undefined;
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return undefined;
  const entries = u16(ifd);
  for (let i = 0; i < entries; i++) {
    const at = ifd + 2 + i * 12;
    if (at + 12 > tiff.length) return undefined;
    if (u16(at) !== ORIENTATION_TAG) continue;
    if (u16(at + 2) !== TYPE_SHORT || u32(at + 4) < 1) return undefined;
    const value = u16(at + 8); // a SHORT value sits left-justified in the 4-byte field
    return value >= 1 && value <= 8 ? value as Orientation : undefined;
  }
  return undefined;
}

/**
 * Finds the Orientation tag in a JPEG APP1 segment's payload (the bytes after the segment
 * length). Returns `undefined` when the segment is not EXIF or has no valid Orientation.
 *
 * @example
 * ```ts
 * readExifOrientationFromApp1(new TextEncoder().encode("http://ns.adobe.com/xap/1.0/\0")); // undefined
 * ```
 */
export function readExifOrientationFromApp1(payload: Uint8Array): Orientation | undefined {
  const exifHeader = [0x45, 0x78, 0x69, 0x66, 0, 0]; // "Exif\0\0"
  if (payload.length < 6 || exifHeader.some((b, i) => payload[i] !== b)) return undefined;
  return readExifOrientation(payload.subarray(6));
}

/**
 * Applies an EXIF orientation to an interleaved HWC pixel buffer, returning the image as a
 * viewer should display it. Orientations 5–8 swap width and height.
 *
 * The tag says where the stored rows and columns belong (TIFF 6.0, p. 37): 1 as stored;
 * 2 mirrored left–right; 3 turned 180°; 4 mirrored top–bottom; 5 transposed (mirrored along the
 * main diagonal); 6 needs a 90° clockwise turn; 7 transversed (mirrored along the other
 * diagonal); 8 needs a 90° counter-clockwise turn. With `(r, c)` a displayed pixel and the
 * stored image `h × w`:
 *
 * | o | displayed size | displayed (r, c) comes from stored |
 * |---|----------------|-------------------------------------|
 * | 2 | h × w | (r, w−1−c) |
 * | 3 | h × w | (h−1−r, w−1−c) |
 * | 4 | h × w | (h−1−r, c) |
 * | 5 | w × h | (c, r) |
 * | 6 | w × h | (h−1−c, r) |
 * | 7 | w × h | (h−1−c, w−1−r) |
 * | 8 | w × h | (c, w−1−r) |
 *
 * @example
 * ```ts
 * // A 2-wide, 1-high RGB image [red, blue] with orientation 6 displays 1 wide, 2 high.
 * const out = applyOrientation(new Uint8Array([255, 0, 0, 0, 0, 255]), 2, 1, 3, 6);
 * // out.width === 1, out.height === 2, out.data = [red, blue] top to bottom
 * ```
 */
export function applyOrientation(
  data: Uint8Array,
  width: number,
  height: number,
  channels: number,
  orientation: number,
): { data: Uint8Array; width: number; height: number } {
  if (orientation < 2 || orientation > 8) return { data, width, height };
  const w = width, h = height;
  const swap = orientation >= 5;
  const outW = swap ? h : w, outH = swap ? w : h;
  const out = new Uint8Array(data.length);
  const source: (r: number, c: number) => number = {
    2: (r: number, c: number) => r * w + (w - 1 - c),
    3: (r: number, c: number) => (h - 1 - r) * w + (w - 1 - c),
    4: (r: number, c: number) => (h - 1 - r) * w + c,
    5: (r: number, c: number) => c * w + r,
    6: (r: number, c: number) => (h - 1 - c) * w + r,
    7: (r: number, c: number) => (h - 1 - c) * w + (w - 1 - r),
    8: (r: number, c: number) => c * w + (w - 1 - r),
  }[orientation as 2 | 3 | 4 | 5 | 6 | 7 | 8];
  let o = 0;
  for (let r = 0; r < outH; r++) {
    for (let c = 0; c < outW; c++) {
      const s = source(r, c) * channels;
      for (let k = 0; k < channels; k++) out[o++] = data[s + k];
    }
  }
  return { data: out, width: outW, height: outH };
}
