/**
 * Downloads into a cache: streamed to `<file>.part`, resumed with an HTTP Range request when a
 * partial file exists (restarted when the server ignores Range), MD5-verified, then renamed
 * into place, so a complete-looking file is always a verified one. Extraction of `.tar.gz`
 * archives goes to a temporary directory renamed into place at the end.
 *
 * @module
 */
import { Progress } from "../progress.ts";
import { Md5 } from "./md5.ts";
import { readTar } from "./tar.ts";
import { DatasetError } from "./types.ts";

/** Progress of a download, in bytes. */
export interface DownloadProgress {
  received: number;
  total: number | null;
}

/** Options of {@linkcode downloadFile}. */
export interface DownloadOptions {
  /** Expected MD5 (hex); the file is refused and deleted when it differs. */
  md5?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Give up when no connection or no new bytes arrive for this long (default 15 s). */
  stallMs?: number;
  fetch?: typeof fetch;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

async function md5File(path: string): Promise<string> {
  const md5 = new Md5();
  const file = await Deno.open(path);
  for await (const chunk of file.readable) md5.update(chunk);
  return md5.hex();
}

/**
 * Downloads `url` to `dest` (resuming `dest.part`), verifying MD5 when given.
 *
 * @example
 * ```ts
 * await downloadFile(CIFAR100.url, `${cache}/${CIFAR100.archive}`, { md5: CIFAR100.md5 });
 * ```
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}) {
  const part = `${dest}.part`;
  const doFetch = options.fetch ?? fetch;
  const stallMs = options.stallMs ?? 15_000;
  let have = await fileSize(part);
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(), stallMs);
  const poke = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(), stallMs);
  };
  try {
    let response: Response;
    try {
      response = await doFetch(url, {
        headers: have ? { Range: `bytes=${have}-` } : {},
        signal: controller.signal,
      });
    } catch (e) {
      throw new DatasetError(`cannot download ${url}: ${(e as Error).message}`);
    }
    if (response.status === 416 && have) {
      // The partial file is already complete (or bogus): verify it below, restart if bad.
      await response.body?.cancel();
    } else if (response.status !== 200 && response.status !== 206) {
      await response.body?.cancel();
      throw new DatasetError(`cannot download ${url}: HTTP ${response.status}`);
    } else {
      const append = response.status === 206 && have > 0;
      if (!append) have = 0; // the server ignored Range: start over
      const length = Number(response.headers.get("content-length") ?? NaN);
      const total = Number.isFinite(length) ? have + length : null;
      const file = await Deno.open(part, { write: true, create: true, append, truncate: !append });
      try {
        let received = have;
        for await (const chunk of response.body!) {
          poke();
          await file.write(chunk);
          received += chunk.length;
          options.onProgress?.({ received, total });
        }
        if (total !== null && received < total) {
          throw new DatasetError(
            `download of ${url} stopped at ${received} of ${total} bytes; run again to resume`,
          );
        }
      } catch (e) {
        if (e instanceof DatasetError) throw e;
        throw new DatasetError(
          `download of ${url} interrupted (${
            (e as Error).message
          }); ${part} is kept, run again to resume`,
        );
      } finally {
        file.close();
      }
    }
  } finally {
    clearTimeout(timer);
  }
  if (options.md5) {
    const got = await md5File(part);
    if (got !== options.md5) {
      await Deno.remove(part).catch(() => {});
      throw new DatasetError(
        `${dest}: MD5 mismatch: expected ${options.md5}, got ${got} (deleted; run again to re-download)`,
      );
    }
  }
  await Deno.rename(part, dest);
}

/**
 * Extracts the regular files of a `.tar.gz` into `destDir/<their paths>` atomically per top
 * directory: files go to `<destDir>/.extract-<random>/` first and each top-level entry is
 * renamed into place when the archive has been read completely.
 */
export async function extractTarGz(archive: string, destDir: string): Promise<string[]> {
  await Deno.mkdir(destDir, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: destDir, prefix: ".extract-" });
  const tops = new Set<string>();
  try {
    const file = await Deno.open(archive);
    const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
    try {
      for await (const entry of readTar(stream, archive)) {
        const parts = entry.name.split("/").filter((p) => p && p !== ".");
        if (parts.length === 0 || parts.includes("..")) {
          throw new DatasetError(`${archive}: refusing entry with unsafe path "${entry.name}"`);
        }
        tops.add(parts[0]);
        const path = `${tmp}/${parts.join("/")}`;
        await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
        await Deno.writeFile(path, entry.data);
      }
    } catch (e) {
      if (e instanceof DatasetError) throw e;
      throw new DatasetError(`${archive}: corrupt or truncated archive (${(e as Error).message})`);
    }
    for (const top of tops) {
      await Deno.remove(`${destDir}/${top}`, { recursive: true }).catch(() => {});
      await Deno.rename(`${tmp}/${top}`, `${destDir}/${top}`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return [...tops];
}

/** Renders download progress in MB with {@linkcode Progress} (bar on a TTY, lines otherwise). */
export function progressPrinter(label: string): (p: DownloadProgress) => void {
  let bar: Progress | undefined;
  return ({ received, total }) => {
    const totalMb = total ? Math.ceil(total / 1e6) : 0;
    bar ??= new Progress(label, totalMb, { unit: "MB" });
    const mb = Math.floor(received / 1e6);
    bar.update(Math.min(mb, totalMb || mb), received / 1e6);
    if (total && received >= total) bar.done();
  };
}
