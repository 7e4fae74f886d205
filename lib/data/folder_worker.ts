/**
 * A Deno worker that decodes folder-dataset files for lib/data/folder.ts (`workers > 0`): it
 * reads each file it is sent, runs {@linkcode decodeFile}, and posts the bytes back
 * (transferred, not copied).
 *
 * @module
 */
import { type DecodedEntry, decodeFile } from "./folder.ts";

interface Job {
  index: number;
  path: string;
  size: number;
  channels: "auto" | 1 | 3;
}

/** The worker's global scope, typed (Deno's lib types `self` as a window). */
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(message: unknown, transfer: Transferable[]): void;
};

const post = (index: number, entry: DecodedEntry) =>
  scope.postMessage(
    { index, entry },
    "pixels" in entry ? [entry.pixels.buffer as ArrayBuffer] : [],
  );

scope.onmessage = async (e) => {
  const { index, path, size, channels } = e.data;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    post(index, { error: `cannot read (${(err as Error).message})` });
    return;
  }
  post(index, await decodeFile(bytes, size, channels));
};
