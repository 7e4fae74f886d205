/**
 * Minimal tar reader for the dataset archives: ustar headers (512-byte blocks, name split into
 * prefix + name), GNU long names (type "L") and POSIX pax `path` records (type "x"); regular
 * files only, streamed from a gzip-decompressed byte stream. No shell tool needed.
 *
 * @module
 */
import { DatasetError } from "./types.ts";

/** One regular file of an archive. */
export interface TarEntry {
  name: string;
  data: Uint8Array;
}

function text(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

function octal(path: string, bytes: Uint8Array): number {
  const s = text(bytes).trim();
  if (!/^[0-7]*$/.test(s)) {
    throw new DatasetError(`${path}: corrupt tar header (size field "${s}")`);
  }
  return s ? parseInt(s, 8) : 0;
}

/** The `path` of a pax extended header: records "<length> <key>=<value>\n". */
function paxPath(data: Uint8Array): string | undefined {
  const records = new TextDecoder().decode(data).split("\n");
  for (const record of records) {
    const m = record.match(/^\d+ path=(.*)$/s);
    if (m) return m[1];
  }
  return undefined;
}

/** Reads exactly n bytes from a stream reader, keeping leftovers between calls. */
class ByteReader {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  constructor(private reader: ReadableStreamDefaultReader<Uint8Array>) {}

  async read(n: number): Promise<Uint8Array | null> {
    while (this.#buffered < n) {
      const { value, done } = await this.reader.read();
      if (done) return this.#buffered === 0 ? null : this.#take(this.#buffered);
      this.#chunks.push(value);
      this.#buffered += value.length;
    }
    return this.#take(n);
  }

  #take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.#chunks[0];
      const k = Math.min(c.length, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
      if (k === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
    }
    this.#buffered -= n;
    return out;
  }
}

/**
 * Yields the regular files of a tar stream. `path` names the archive in error messages.
 *
 * @example
 * ```ts
 * const file = await Deno.open("data.tar.gz");
 * for await (const e of readTar(file.readable.pipeThrough(new DecompressionStream("gzip")), "data.tar.gz")) {
 *   console.log(e.name, e.data.length);
 * }
 * ```
 */
export async function* readTar(
  stream: ReadableStream<Uint8Array>,
  path: string,
): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(stream.getReader());
  let longName: string | undefined; // from a GNU "L" or pax "x" entry, for the next file
  while (true) {
    const header = await reader.read(512);
    if (!header || header.every((b) => b === 0)) return; // end-of-archive blocks
    if (header.length < 512) throw new DatasetError(`${path}: truncated tar header`);
    const sum = header.reduce((s, b, i) => s + (i >= 148 && i < 156 ? 32 : b), 0);
    if (sum !== octal(path, header.subarray(148, 156))) {
      throw new DatasetError(`${path}: corrupt tar header (checksum mismatch)`);
    }
    const size = octal(path, header.subarray(124, 136));
    const type = String.fromCharCode(header[156] || 48);
    const prefix = text(header.subarray(345, 500));
    const name = longName ?? (prefix ? `${prefix}/` : "") + text(header.subarray(0, 100));
    longName = undefined;
    const padded = Math.ceil(size / 512) * 512;
    const body = padded ? await reader.read(padded) : new Uint8Array(0);
    if (!body || body.length < padded) {
      throw new DatasetError(`${path}: truncated (entry "${name}" needs ${size} bytes)`);
    }
    const data = body.subarray(0, size);
    if (type === "L") longName = text(data);
    else if (type === "x") longName = paxPath(data);
    else if (type === "0" || type === "\0") yield { name, data };
  }
}
