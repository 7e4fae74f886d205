/**
 * What refusing (or decoding) each zlib bomb of `image_test.ts` costs, measured in a process of
 * its own: `deno test --parallel` runs test modules as workers of one process, so an RSS read
 * there counts every other module's allocations too (40.4 MB over a 21.7 MB bound on a fresh
 * machine, issue 22). Each case is decoded once to warm up, then measured: wall time, and the
 * peak growth of this process's RSS sampled every 2 ms.
 *
 *   deno run -A tests/bomb_cost.ts
 *
 * Prints one JSON object: `{ [case]: { ms, grewMb, error } }`, `error` the ImageError code or
 * "" when the image decoded.
 *
 * @module
 */
import { decodeImage, ImageError } from "../lib/image/decode.ts";
import { pngBomb } from "./image_fixtures.ts";

/** The bombs, by name: 50000² declared, 1000² declared with 1 and 3 GiB, and 256 MiB. */
export const BOMBS: Record<string, () => Uint8Array> = {
  huge: () => pngBomb(50_000, 50_000, 2 ** 31),
  gib1: () => pngBomb(1000, 1000, 2 ** 30),
  gib3: () => pngBomb(1000, 1000, 3 * 2 ** 30),
  small: () => pngBomb(1000, 1000, 2 ** 28),
};

/** Runs `fn`, sampling this process's RSS every 2 ms; returns its time and RSS growth (MB). */
async function measured(fn: () => Promise<unknown>): Promise<{ ms: number; grewMb: number }> {
  const before = Deno.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 2);
  const started = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, Deno.memoryUsage().rss);
  return { ms: performance.now() - started, grewMb: (peak - before) / 2 ** 20 };
}

async function main(): Promise<void> {
  const result: Record<string, { ms: number; grewMb: number; error: string }> = {};
  for (const [name, make] of Object.entries(BOMBS)) {
    const bytes = make();
    let error = "";
    const decode = () =>
      decodeImage(bytes).then(() => error = "", (e) => {
        if (!(e instanceof ImageError)) throw e;
        error = e.code;
      });
    await decode();
    result[name] = { ...await measured(decode), error };
  }
  console.log(JSON.stringify(result));
}

if (import.meta.main) await main();
