/**
 * MD5, needed to verify the CIFAR archives against their published checksums (WebCrypto has no
 * MD5), through `node:crypto` (OpenSSL's implementation in Deno): streaming, so a 160 MB
 * archive is hashed chunk by chunk as it is read. Not for security.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";

/**
 * Incremental MD5: `update()` any number of chunks, then `hex()` once.
 *
 * @example
 * ```ts
 * const md5 = new Md5();
 * for await (const chunk of (await Deno.open("deno.json")).readable) md5.update(chunk);
 * md5.hex(); // 32 hex digits, as md5sum deno.json prints
 * ```
 */
export class Md5 {
  #hash: Hash = createHash("md5");
  #done = false;

  /** Adds bytes. */
  update(data: Uint8Array): this {
    if (this.#done) throw new Error("Md5: expected update() before hex(), got it after");
    this.#hash.update(data);
    return this;
  }

  /** The digest as 32 hex characters (finalises; do not update afterwards). */
  hex(): string {
    if (this.#done) throw new Error("Md5: expected one hex() call, got a second");
    this.#done = true;
    return this.#hash.digest("hex");
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
