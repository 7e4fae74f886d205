/**
 * `/classify` with uploads in every accepted format (made by libvips from a known pattern), the
 * refusals (SVG/PDF 415, truncated 400, oversized headers 413) and zlib bombs, through the Hono
 * app in-process over tiny checkpoints trained by the test.
 */
import assert from "node:assert/strict";
import { loadModels } from "../lib/model/checkpoint.ts";
import { createApp, createState } from "../routes/app.ts";
import { useBackend } from "./helpers.ts";
import {
  animated,
  blocks,
  jpegClaiming,
  pattern,
  pngBomb,
  VARIANTS,
  VECTOR_FILES,
  webpClaiming,
} from "./image_fixtures.ts";
import { multipart, trainTinyCheckpoints } from "./server_fixtures.ts";

await useBackend("wasm");
const dir = await Deno.makeTempDir();
await trainTinyCheckpoints(dir);
const state = createState(await loadModels(dir), {
  maxBodyBytes: 3_000_000,
  maxPixels: 1_000_000,
  queue: 4,
});
const app = createApp(state);

const classify = (query: string, bytes: Uint8Array) =>
  app.request(`/classify${query}`, { method: "POST", body: multipart(bytes) });

async function errorOf(res: Response, status: number, code: string): Promise<string> {
  const json = await res.json();
  assert.equal(res.status, status, JSON.stringify(json));
  assert.equal(json.error.code, code, JSON.stringify(json));
  return json.error.message;
}

Deno.test("/classify: every accepted format is 200 with its type, and quarter turns score 1", async () => {
  const uploads: [string, string, Uint8Array][] = [
    ...await Promise.all(
      VARIANTS.map(async (v) =>
        [v.name, v.type, await v.encode(pattern(24, 24))] as [string, string, Uint8Array]
      ),
    ),
    ["GIF (animated, first frame)", "gif", await animated(blocks(24, 24), "gif")],
    ["WebP (animated, first frame)", "webp", await animated(blocks(24, 24), "webp")],
  ];
  for (const [name, type, bytes] of uploads) {
    const res = await classify("?rotate=90,180", bytes);
    const body = await res.json();
    assert.equal(res.status, 200, `${name}: ${JSON.stringify(body)}`);
    assert.deepEqual(body.image, { type, width: 24, height: 24 }, name);
    for (const t of body.models.symmetric.transforms) {
      assert.ok(Math.abs(t.invariance - 1) <= 1e-4, `${name} ${t.value}: ${t.invariance}`);
    }
  }
});

Deno.test("/classify: SVG, PDF and PostScript are 415 by name; a truncated WebP is 400", async () => {
  for (const [name, bytes] of Object.entries(VECTOR_FILES)) {
    const message = await errorOf(await classify("", bytes), 415, "unsupported_type");
    assert.match(message, new RegExp(`got ${name} \\(`));
  }
  const webp = await VARIANTS.find((v) => v.name === "WebP lossy")!.encode(pattern(24, 24));
  const message = await errorOf(
    await classify("", webp.subarray(0, webp.length - 30)),
    400,
    "truncated",
  );
  assert.match(message, /^Expected a complete WebP, got one cut short at \d+ bytes \(.+\)$/);
});

Deno.test("/classify: 65,000 × 65,000 headers in PNG, JPEG and WebP are 413 before decoding", async () => {
  const png = pngBomb(65_000, 65_000, 1 << 24); // 16 MiB of zeros: its IDAT is never inflated
  for (
    const bytes of [png, await jpegClaiming(65_000, 65_000), await webpClaiming(65_000, 65_000)]
  ) {
    const started = performance.now();
    const message = await errorOf(await classify("", bytes), 413, "too_many_pixels");
    assert.match(message, /65000×65000 pixels is over the limit of 1000000 pixels/);
    assert.ok(performance.now() - started < 500, `${performance.now() - started} ms`);
  }
});

Deno.test("/classify: a zlib bomb is a 400 within a second, memory bounded by its declared pixels", async () => {
  // 1000 × 1000 declared (at the 1 MP limit), 1 GiB of zeros in a 1 MB IDAT.
  const bomb = pngBomb(1000, 1000, 2 ** 30);
  const before = Deno.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 2);
  const started = performance.now();
  const res = await classify("?rotate=90", bomb);
  const ms = performance.now() - started;
  clearInterval(timer);
  const message = await errorOf(res, 400, "decompression_bomb");
  assert.match(message, /1000×1000 its header declares .* \(a decompression bomb\)$/);
  assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
  const grewMb = (Math.max(peak, Deno.memoryUsage().rss) - before) / 2 ** 20;
  assert.ok(grewMb < 2 * 2.9 + 32, `RSS grew ${grewMb.toFixed(1)} MB for a 2.9 MB image`);
  // Over the limit, the same kind of file is refused from its header.
  await errorOf(await classify("", pngBomb(20_000, 20_000, 2 ** 30)), 413, "too_many_pixels");
});
