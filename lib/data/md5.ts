/**
 * Streaming MD5 (RFC 1321), needed to verify the CIFAR archives against their published
 * checksums (WebCrypto has no MD5). Not for security.
 *
 * @module
 */

// Per-round left-rotation amounts (RFC 1321 §3.4): round r, step i uses S[r * 16 + i].
const S = Uint8Array.from(
  { length: 64 },
  (_, i) => [[7, 12, 17, 22], [5, 9, 14, 20], [4, 11, 16, 23], [6, 10, 15, 21]][i >> 4][i & 3],
);
// K[i] = floor(|sin(i + 1)| · 2³²)
const K = Int32Array.from(
  { length: 64 },
  (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0,
);

/**
 * Incremental MD5: `update()` any number of chunks, then `hex()` once.
 *
 * @example
 * ```ts
 * const md5 = new Md5();
 * for await (const chunk of (await Deno.open("a.tar.gz")).readable) md5.update(chunk);
 * md5.hex(); // "03b5dce0..."
 * ```
 */
export class Md5 {
  #state = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476);
  #buffer = new Uint8Array(64);
  #buffered = 0;
  #length = 0; // bytes
  #words = new Int32Array(16);

  #block(b: Uint8Array, o: number): void {
    const m = this.#words;
    for (let i = 0; i < 16; i++) {
      m[i] = b[o + 4 * i] | (b[o + 4 * i + 1] << 8) | (b[o + 4 * i + 2] << 16) |
        (b[o + 4 * i + 3] << 24);
    }
    let [a, bb, c, d] = this.#state;
    for (let i = 0; i < 64; i++) {
      let f: number, g: number;
      if (i < 16) [f, g] = [(bb & c) | (~bb & d), i];
      else if (i < 32) [f, g] = [(d & bb) | (~d & c), (5 * i + 1) % 16];
      else if (i < 48) [f, g] = [bb ^ c ^ d, (3 * i + 5) % 16];
      else [f, g] = [c ^ (bb | ~d), (7 * i) % 16];
      const t = (a + f + K[i] + m[g]) | 0;
      [a, d, c] = [d, c, bb];
      bb = (bb + ((t << S[i]) | (t >>> (32 - S[i])))) | 0;
    }
    const s = this.#state;
    s[0] = (s[0] + a) | 0;
    s[1] = (s[1] + bb) | 0;
    s[2] = (s[2] + c) | 0;
    s[3] = (s[3] + d) | 0;
  }

  /** Adds bytes. */
  update(data: Uint8Array): this {
    this.#length += data.length;
    let i = 0;
    if (this.#buffered) {
      const take = Math.min(64 - this.#buffered, data.length);
      this.#buffer.set(data.subarray(0, take), this.#buffered);
      this.#buffered += take;
      i = take;
      if (this.#buffered < 64) return this;
      this.#block(this.#buffer, 0);
      this.#buffered = 0;
    }
    for (; i + 64 <= data.length; i += 64) this.#block(data, i);
    this.#buffer.set(data.subarray(i), 0);
    this.#buffered = data.length - i;
    return this;
  }

  /** The digest as 32 hex characters (finalises; do not update afterwards). */
  hex(): string {
    const bits = this.#length * 8;
    const pad = new Uint8Array(((this.#buffered < 56 ? 56 : 120) - this.#buffered) + 8);
    pad[0] = 0x80;
    const n = pad.length;
    for (let i = 0; i < 8; i++) pad[n - 8 + i] = Math.floor(bits / 2 ** (8 * i)) & 0xff;
    const keep = this.#length;
    this.update(pad);
    this.#length = keep;
    return Array.from(
      this.#state,
      (w) => [0, 8, 16, 24].map((s) => ((w >>> s) & 0xff).toString(16).padStart(2, "0")).join(""),
    ).join("");
  }
}

/**
 * MD5 of a byte array as 32 hex digits.
 *
 * @example
 * ```ts
 * md5(new TextEncoder().encode("abc")); // "900150983cd24fb0d6963f7d28e17f72"
 * ```
 */
export function md5(data: Uint8Array): string {
  return new Md5().update(data).hex();
}
