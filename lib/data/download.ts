/**
 * Downloads into a cache: streamed to `<file>.part`, resumed with an HTTP Range request when a
 * partial file exists (restarted from zero when the server answers 200 instead of 206),
 * MD5-verified, then renamed into place, so a file under its final name is always a verified
 * one. Extraction of `.tar.gz` archives goes to a temporary directory that is renamed into
 * place at the end, so a half-extracted directory never sits where a complete one is expected.
 *
 * Two timeouts keep an offline machine from hanging: no response headers within
 * `connectTimeoutMs` (default 8 s) fails at once with "offline?", and no new body bytes for
 * `stallMs` (default 30 s) interrupts the transfer, keeping the `.part` for a resume.
 *
 * @module
 */
import { formatDuration } from "../progress.ts";
import { Md5 } from "./md5.ts";
import { readTar } from "./tar.ts";
import { DatasetError } from "./types.ts";

/** Progress of a download: what the caller needs to draw a bar. */
export interface DownloadProgress {
  /** Bytes in the `.part` file so far (including a resumed prefix). */
  received: number;
  /** Size of the complete file, when the server said (`Content-Length`), else null. */
  total: number | null;
  /** Bytes this transfer resumed from (0 for a fresh download). */
  resumedFrom: number;
  /** Mean rate of this transfer, bytes per second. */
  bytesPerSecond: number;
  /** Seconds left at the mean rate, or null when the total is unknown. */
  etaSeconds: number | null;
}

/** Options of {@linkcode downloadFile}. */
export interface DownloadOptions {
  /** Expected MD5 (hex); the file is refused and deleted when it differs. */
  md5?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Fail when the server has not answered (response headers) within this time (8 s). */
  connectTimeoutMs?: number;
  /** Interrupt when no new body bytes arrive for this long (30 s); the `.part` is kept. */
  stallMs?: number;
  fetch?: typeof fetch;
}

/** Defaults of {@linkcode DownloadOptions}, in one place. */
export const DOWNLOAD_DEFAULTS = { connectTimeoutMs: 8_000, stallMs: 30_000 };

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

/** MD5 of a file, streamed (about 100 MB/s). */
export async function md5File(path: string): Promise<string> {
  const md5 = new Md5();
  const file = await Deno.open(path);
  for await (const chunk of file.readable) md5.update(chunk);
  return md5.hex();
}

/**
 * The most specific text of a fetch failure: Deno's `TypeError("fetch failed")` carries the OS
 * error in `cause`, prefixed by the URL we already name.
 */
function describe(e: unknown): string {
  const err = e as Error & { cause?: unknown };
  if (!(err.cause instanceof Error)) return err.message;
  return err.cause.message.replace(/^error sending request for url \([^)]*\): /, "");
}

/**
 * Downloads `url` to `dest` (resuming `dest.part`), verifying MD5 when given. Throws
 * {@linkcode DatasetError} naming the URL or file on every failure.
 *
 * @example
 * ```ts ignore
 * // not run: downloads 168 MB over the network
 * await downloadFile(CIFAR100.url, `${cache}/${CIFAR100.archive}`, {
 *   md5: CIFAR100.md5,
 *   onProgress: downloadProgressRenderer(CIFAR100.archive),
 * });
 * ```
 */
export async function downloadFile(
  url: string,
  dest: string,
  options: DownloadOptions = {},
): Promise<void> {
  const part = `${dest}.part`;
  const doFetch = options.fetch ?? fetch;
  const connectMs = options.connectTimeoutMs ?? DOWNLOAD_DEFAULTS.connectTimeoutMs;
  const stallMs = options.stallMs ?? DOWNLOAD_DEFAULTS.stallMs;
  let have = await fileSize(part);
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(), connectMs);
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
      const why = controller.signal.aborted
        ? `no answer within ${connectMs / 1000} s (offline?)`
        : `${describe(e)} (offline?)`;
      throw new DatasetError(`cannot download ${url}: ${why}`);
    }
    poke();
    if (response.status === 416 && have) {
      // The partial file is already complete (or bogus): the MD5 check below decides.
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
      const start = performance.now();
      try {
        let received = have;
        for await (const chunk of response.body!) {
          poke();
          await file.write(chunk);
          received += chunk.length;
          if (options.onProgress) {
            const seconds = Math.max((performance.now() - start) / 1000, 1e-3);
            const bytesPerSecond = (received - have) / seconds;
            const etaSeconds = total === null ? null : (total - received) / bytesPerSecond;
            options.onProgress({ received, total, resumedFrom: have, bytesPerSecond, etaSeconds });
          }
        }
        if (total !== null && received < total) {
          throw new DatasetError(
            `download of ${url} stopped at ${received} of ${total} bytes; ${part} is kept, run again to resume`,
          );
        }
      } catch (e) {
        if (e instanceof DatasetError) throw e;
        const why = controller.signal.aborted ? `no data for ${stallMs / 1000} s` : describe(e);
        throw new DatasetError(
          `download of ${url} interrupted (${why}); ${part} is kept, run again to resume`,
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
    if (got !== options.md5.toLowerCase()) {
      await Deno.remove(part).catch(() => {});
      throw new DatasetError(
        `${dest}: MD5 mismatch: expected ${options.md5}, got ${got} (deleted; run again to re-download)`,
      );
    }
  }
  await Deno.rename(part, dest);
}

/**
 * Extracts the regular files of a `.tar.gz` into `destDir/<their paths>`. Files go to
 * `<destDir>/.extract-<random>/` first; each top-level entry is renamed into place only when
 * the whole archive has been read, replacing an older copy. Returns the top-level names.
 *
 * @example
 * ```ts ignore
 * // not run: needs the downloaded CIFAR-100 archive
 * await extractTarGz(`${cache}/cifar-100-binary.tar.gz`, cache); // ["cifar-100-binary"]
 * ```
 */
export async function extractTarGz(archive: string, destDir: string): Promise<string[]> {
  await Deno.mkdir(destDir, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: destDir, prefix: ".extract-" });
  const tops = new Set<string>();
  try {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(archive);
    } catch (e) {
      throw new DatasetError(`${archive}: cannot open (${(e as Error).message})`);
    }
    const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
    try {
      for await (const entry of readTar(stream, archive)) {
        const parts = entry.name.split("/").filter((p) => p && p !== ".");
        if (parts.length === 0 || parts.includes("..")) {
          throw new DatasetError(`${archive}: refusing entry with unsafe path "${entry.name}"`);
        }
        tops.add(parts[0]);
        const path = `${tmp}/new/${parts.join("/")}`;
        await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
        await Deno.writeFile(path, entry.data);
      }
    } catch (e) {
      if (e instanceof DatasetError) throw e;
      throw new DatasetError(`${archive}: corrupt or truncated archive (${(e as Error).message})`);
    }
    if (tops.size === 0) throw new DatasetError(`${archive}: the archive holds no files`);
    await Deno.mkdir(`${tmp}/old`);
    for (const top of tops) {
      // Move an older copy aside (it is deleted with tmp), so the swap leaves no gap.
      await Deno.rename(`${destDir}/${top}`, `${tmp}/old/${top}`).catch(() => {});
      await Deno.rename(`${tmp}/new/${top}`, `${destDir}/${top}`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return [...tops];
}

/** Options of {@linkcode downloadProgressRenderer}. */
export interface RendererOptions {
  /** Draw a bar redrawn in place (default: whether stderr is a terminal). */
  tty?: boolean;
  /** Where text goes (default stderr). */
  write?: (text: string) => void;
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

/**
 * A progress callback that draws a bar on a terminal and prints a plain line about every 10%
 * otherwise (every 10 MB when the size is unknown).
 *
 * @example
 * ```ts ignore
 * // not run: downloads over the network
 * await downloadFile(url, dest, { onProgress: downloadProgressRenderer("cifar-100-binary.tar.gz") });
 * // [#########...........] cifar-100-binary.tar.gz 75.3/168.5 MB 9.8 MB/s ETA 10s
 * ```
 */
export function downloadProgressRenderer(
  label: string,
  options: RendererOptions = {},
): (p: DownloadProgress) => void {
  const tty = options.tty ?? Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  const write = options.write ?? ((s: string) => Deno.stderr.writeSync(encoder.encode(s)));
  let lastStep = -1;
  let finished = false;
  return (p) => {
    if (finished) return;
    const size = p.total === null ? `${mb(p.received)} MB` : `${mb(p.received)}/${mb(p.total)} MB`;
    const eta = p.etaSeconds === null ? "" : ` ETA ${formatDuration(p.etaSeconds)}`;
    const text = `${label} ${size} ${mb(p.bytesPerSecond)} MB/s${eta}`;
    const done = p.total !== null && p.received >= p.total;
    if (tty) {
      const width = 20;
      const filled = p.total ? Math.min(width, Math.round(width * p.received / p.total)) : 0;
      write(`\r\x1b[2K[${"#".repeat(filled)}${".".repeat(width - filled)}] ${text}`);
      if (done) write("\n");
    } else {
      const step = p.total ? Math.floor(10 * p.received / p.total) : Math.floor(p.received / 1e7);
      if (step > lastStep || done) write(`${text}\n`);
      lastStep = step;
    }
    finished = done;
  };
}
