/**
 * `deno run -A scripts/bench_decode.ts`: time to decode one uploaded image alone (no HTTP, no
 * model), for a 451×300 photo as JPEG and PNG and the same photo enlarged to 4000×3000 as JPEG,
 * plus the resize to a 32×32 model input. Prints a Markdown table.
 *
 * `--decoder URL` times another module with the same `decodeImage(bytes)` (sync or async), e.g.
 * the hand-written decoder of an earlier commit extracted with `git archive`, for a before/after
 * comparison on the same machine and the same images (docs/bench/2026-12-01-decode.md).
 *
 * @module
 */
import sharp from "sharp";
import { toModelInput } from "../lib/image/resample.ts";
import { z } from "zod";
import { optionsHelp, parseOptions, runMain } from "./cli.ts";

/** The flags of bench_decode, their defaults and help (scripts/cli.ts derives the flags). */
const BenchDecodeOptionsSchema = z.strictObject({
  decoder: z.string().min(1).optional().meta({
    arg: "URL",
    help: "module exporting decodeImage(bytes) (default: lib/image/decode.ts)",
  }),
  repeat: z.number().int().min(1).default(20).meta({
    arg: "N",
    help: "timed decodes per image after one warm-up (default {default}; 5 for 4000×3000)",
  }),
});

const HELP = `Usage: deno run -A scripts/bench_decode.ts [flags]

${optionsHelp(BenchDecodeOptionsSchema)}`;

type Decode = (bytes: Uint8Array) => unknown;

/** The three images: the Chelsea photo (tests/fixtures/images) as JPEG, PNG and a 12-MP JPEG. */
async function images(): Promise<[string, Uint8Array][]> {
  const jpeg = await Deno.readFile(
    new URL("../tests/fixtures/images/chelsea.jpg", import.meta.url),
  );
  const photo = sharp(jpeg);
  const png = await photo.clone().png().toBuffer();
  // Enlarged with Lanczos and saved at quality 90: the size of a 12-MP phone photo.
  const big = await photo.clone().resize(4000, 3000, { fit: "fill" }).jpeg({ quality: 90 })
    .toBuffer();
  return [
    ["451×300 JPEG (chelsea.jpg, q85 4:2:0)", jpeg],
    ["451×300 PNG", new Uint8Array(png)],
    ["4000×3000 JPEG (q90 4:2:0)", new Uint8Array(big)],
  ];
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

async function main(): Promise<number> {
  const { help, options: { decoder, repeat } } = parseOptions(BenchDecodeOptionsSchema, Deno.args);
  if (help) {
    console.log(HELP);
    return 0;
  }
  const url = decoder
    ? new URL(decoder, `file://${Deno.cwd()}/`).href
    : new URL("../lib/image/decode.ts", import.meta.url).href;
  const { decodeImage } = await import(url) as { decodeImage: Decode };
  console.log(`decoder: ${url}`);
  console.log(
    `machine: ${navigator.hardwareConcurrency} cores, ${Deno.build.os} ${Deno.build.arch}, ` +
      `load average ${
        Deno.loadavg().map((v) => v.toFixed(2)).join(" ")
      }, sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}, ${
        new Date().toISOString()
      }`,
  );
  console.log("");
  console.log("| image | bytes | decode median ms | decode p90 ms | resize to 32×32 ms |");
  console.log("|---|---:|---:|---:|---:|");
  for (const [name, bytes] of await images()) {
    const n = bytes.length > 1e6 || name.startsWith("4000") ? Math.min(repeat, 5) : repeat;
    await decodeImage(bytes); // warm-up: first-call set-up (libvips loaders, JIT)
    const ms: number[] = [];
    let img: { data: Uint8Array; width: number; height: number } | undefined;
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      img = await decodeImage(bytes) as typeof img;
      ms.push(performance.now() - t);
    }
    const t = performance.now();
    toModelInput({ ...img!, sourceType: "jpeg" }, { height: 32, width: 32, channels: 3 });
    const resize = performance.now() - t;
    console.log(
      `| ${name} | ${bytes.length} | ${quantile(ms, 0.5).toFixed(1)} | ${
        quantile(ms, 0.9).toFixed(1)
      } | ${resize.toFixed(1)} |`,
    );
  }
  return 0;
}

if (import.meta.main) runMain(main);
