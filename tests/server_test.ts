import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { loadServedModels } from "../lib/serve.ts";
import { createApp, createState } from "../routes/app.ts";
import { encode as encodePng } from "fast-png";
import { useBackend } from "./helpers.ts";
import { multipart, testPng, trainTinyCheckpoints } from "./server_fixtures.ts";

await useBackend("wasm");
const dir = await Deno.makeTempDir();
await trainTinyCheckpoints(dir);
const models = await loadServedModels(dir);
const state = createState(models, { maxBodyBytes: 200_000, maxPixels: 1_000_000, queue: 4 });
const app = createApp(state);
const png = testPng();
const jpeg = await Deno.readFile(new URL("./fixtures/images/baseline.jpg", import.meta.url));

const classify = (query: string, body: BodyInit, headers: HeadersInit = {}) =>
  app.request(`/classify${query}`, { method: "POST", body, headers });

async function errorOf(res: Response, status: number, code?: string) {
  assert.equal(res.status, status, await res.clone().text());
  const json = await res.json();
  assert.equal(typeof json.error.message, "string");
  assert.ok(!/\n\s+at /.test(json.error.message), "no stack traces");
  if (code) assert.equal(json.error.code, code);
  return json.error.message as string;
}

Deno.test("health, readiness and KServe v2 aliases", async () => {
  assert.deepEqual(await (await app.request("/health")).json(), { status: "ok" });
  assert.equal((await app.request("/ready")).status, 200);
  assert.deepEqual(await (await app.request("/v2/health/live")).json(), { live: true });
  assert.deepEqual(await (await app.request("/v2/health/ready")).json(), { ready: true });
  const meta = await (await app.request("/v2/models/symmetric")).json();
  assert.equal(meta.name, "symmetric");
  assert.deepEqual(meta.inputs[0].shape, [-1, 16, 16, 3]);
  assert.equal((await app.request("/v2/models/symmetric/ready")).status, 200);
  await errorOf(await app.request("/v2/models/resnet"), 404, "unknown_model");
});

Deno.test("/models describes each loaded checkpoint", async () => {
  const { models: list } = await (await app.request("/models")).json();
  assert.deepEqual(list.map((m: { name: string }) => m.name), ["baseline", "symmetric"]);
  const sym = list[1];
  assert.equal(sym.preset, "tiny");
  assert.equal(sym.classes, 10);
  assert.equal(sym.dataset, "synthetic");
  assert.equal(sym.parameters, models[1].params);
  assert.equal(sym.checkpoint.weightsSha256, models[1].meta.weightsSha256);
  assert.deepEqual(sym.metrics, { epoch: 1, testAcc: 0.1 });
});

Deno.test("/classify: the symmetric model scores 1 for quarter turns, the baseline less", async () => {
  const res = await classify("?rotate=90,180,270", multipart(png));
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(body.image, { type: "png", width: 24, height: 24 });
  const sym = body.models.symmetric;
  assert.equal(sym.transforms.length, 3);
  for (const t of sym.transforms) {
    assert.equal(t.kind, "rotate");
    assert.ok(Math.abs(t.invariance - 1) <= 1e-4, `symmetric ${t.value}: ${t.invariance}`);
    assert.equal(t.top1Agrees, true);
  }
  assert.equal(sym.original.top.length, 5);
  assert.equal(sym.original.top[0].label, `c${sym.original.top[0].index}`);
  const sum = sym.original.top.reduce(
    (s: number, t: { probability: number }) => s + t.probability,
    0,
  );
  assert.ok(sum <= 1 + 1e-5);
  const base = body.models.baseline;
  assert.ok(base.meanInvariance < 1 - 1e-4, `baseline ${base.meanInvariance}`);
  assert.equal(typeof base.ms, "number");
});

Deno.test("/classify: defaults, scale, any angle, model and topk", async () => {
  const d = await (await classify("", multipart(png))).json();
  assert.deepEqual(d.transforms.map((t: { value: number }) => t.value), [90, 180, 270]);
  const r = await (await classify("?rotate=45&scale=0.5,2&model=symmetric&topk=3", multipart(png)))
    .json();
  assert.deepEqual(Object.keys(r.models), ["symmetric"]);
  const t = r.models.symmetric.transforms;
  assert.deepEqual(t.map((x: { kind: string; value: number }) => `${x.kind}:${x.value}`), [
    "rotate:45",
    "scale:0.5",
    "scale:2",
  ]);
  assert.equal(r.models.symmetric.original.top.length, 3);
  for (const x of t) assert.ok(x.invariance >= 0 && x.invariance <= 1);
});

Deno.test("/classify accepts JPEG uploads and raw image bodies (type from magic bytes)", async () => {
  const j = await classify("?rotate=90", multipart(jpeg));
  assert.equal(j.status, 200);
  assert.equal((await j.json()).image.type, "jpeg");
  const raw = await classify("?rotate=90", png.slice() as Uint8Array<ArrayBuffer>, {
    "content-type": "image/jpeg", // a wrong type header: magic bytes decide
  });
  assert.equal(raw.status, 200);
  assert.equal((await raw.json()).image.type, "png");
});

Deno.test("/classify errors: 400, 413, 415, 422 with the field named", async () => {
  await errorOf(await classify("", multipart(new Uint8Array(0))), 400, "empty");
  await errorOf(
    await classify("", multipart(new TextEncoder().encode("hello, not an image"))),
    400,
    "not_image",
  );
  await errorOf(await classify("", multipart(png.subarray(0, png.length - 30))), 400);
  await errorOf(await classify("", new FormData()), 400, "missing_image");
  const gif = new TextEncoder().encode("GIF89a\x01\x00\x01\x00\x00\x00\x00;");
  assert.match(await errorOf(await classify("", multipart(gif)), 415, "unsupported_type"), /GIF/);
  const webp = Uint8Array.from([
    ...new TextEncoder().encode("RIFF"),
    0,
    0,
    0,
    0,
    ...new TextEncoder().encode("WEBPVP8 "),
  ]);
  assert.match(await errorOf(await classify("", webp), 415), /WebP/);
  await errorOf(await classify("", multipart(new Uint8Array(300_000))), 413, "body_too_large");
  const huge = encodePng({
    width: 1100,
    height: 1000,
    data: new Uint8Array(1100 * 1000 * 3),
    channels: 3,
  });
  await errorOf(await classify("", multipart(huge)), 413, "too_many_pixels");
  assert.match(
    await errorOf(await classify("?rotate=abc", multipart(png)), 422, "bad_query"),
    /rotate/,
  );
  assert.match(await errorOf(await classify("?scale=50", multipart(png)), 422), /scale/);
  assert.match(await errorOf(await classify("?topk=0", multipart(png)), 422), /topk/);
  assert.match(await errorOf(await classify("?model=resnet", multipart(png)), 422), /model/);
  assert.match(await errorOf(await classify("?colour=red", multipart(png)), 422), /colour/);
  // The next request is served normally.
  assert.equal((await classify("?rotate=90", multipart(png))).status, 200);
});

Deno.test("404 for unknown routes, 405 for wrong methods", async () => {
  await errorOf(await app.request("/nope"), 404, "not_found");
  const res = await app.request("/classify");
  await errorOf(res, 405, "method_not_allowed");
  assert.equal(res.headers.get("allow"), "POST");
  await errorOf(await app.request("/health", { method: "DELETE" }), 405);
});

Deno.test("503 while loading and when the inference queue is full", async () => {
  const loading = createApp(createState([]));
  await errorOf(await loading.request("/ready"), 503);
  await errorOf(
    await loading.request("/classify", { method: "POST", body: multipart(png) }),
    503,
    "loading",
  );
  const tight = createState(models, { queue: 1 });
  const busy = createApp(tight);
  let release!: () => void;
  const blocker = tight.queue.run(() => new Promise<void>((r) => release = r));
  await new Promise((r) => setTimeout(r, 0)); // the blocker starts running
  const waiting = tight.queue.run(() => Promise.resolve()); // fills the one waiting slot
  await errorOf(
    await busy.request("/classify", { method: "POST", body: multipart(png) }),
    503,
    "overloaded",
  );
  release();
  await blocker;
  await waiting;
  assert.equal(
    (await busy.request("/classify", { method: "POST", body: multipart(png) })).status,
    200,
  );
});

Deno.test("/metrics exposes request counts, latency, queue depth and batch sizes", async () => {
  await classify("?rotate=90", multipart(png));
  const text = await (await app.request("/metrics")).text();
  assert.match(text, /symlab_http_requests_total\{route="\/classify",status="200"\} \d+/);
  assert.match(text, /symlab_http_request_duration_seconds_bucket\{le="\+Inf"\} \d+/);
  assert.match(text, /symlab_inference_queue_depth 0/);
  assert.match(text, /symlab_inference_batch_size_count \d+/);
});

Deno.test("/classify leaks no tensors", async () => {
  await classify("?rotate=90,33&scale=1.5", multipart(png));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) await classify("?rotate=90,33&scale=1.5", multipart(png));
  assert.equal(tf.memory().numTensors, before);
});
