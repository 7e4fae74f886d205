/**
 * Reading the dataset archives' tar streams with `modern-tar` (a kept, zero-dependency Web
 * Streams tar decoder): ustar, GNU long names (type "L") and POSIX pax `path` records, in its
 * strict mode so a bad header checksum or a cut archive is an error rather than a short file;
 * regular files only, streamed from a gzip-decompressed byte stream. No shell tool needed.
 *
 * @module
 */
import { createTarDecoder } from "modern-tar";
import { DatasetError } from "./types.ts";

/** One regular file of an archive. */
export interface TarEntry {
  name: string;
  data: Uint8Array;
}

/**
 * Yields the regular files of a tar stream; directories, links and other entries are read past.
 * `path` names the archive in error messages: a corrupt header or a truncated archive throws a
 * {@linkcode DatasetError} naming it.
 *
 * @example
 * ```ts ignore
 * // not run: needs an archive
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
  const entries = stream.pipeThrough(createTarDecoder({ strict: true }));
  let name = "";
  try {
    for await (const entry of entries) {
      name = entry.header.name;
      if (entry.header.type !== "file") {
        // Every body must be consumed or cancelled before the decoder moves on.
        await entry.body.cancel();
        continue;
      }
      const data = new Uint8Array(await new Response(entry.body).arrayBuffer());
      if (data.length !== entry.header.size) {
        throw new Error(`entry "${name}" needs ${entry.header.size} bytes, got ${data.length}`);
      }
      yield { name, data };
    }
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    const reason = e instanceof Error ? e.message : String(e);
    throw new DatasetError(
      `${path}: expected a complete tar archive, got a corrupt or truncated one (${reason}${
        name ? `; after entry "${name}"` : ""
      })`,
    );
  }
}
