/** The Hono app in-process (`app.request()`), over checkpoints trained by the test. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { encode as encodePng } from "fast-png";
import { loadModels, servedInputSize } from "../lib/model/checkpoint.ts";
import { InferenceQueue, QueueFullError } from "../lib/serve/queue.ts";
import { createApp, createState } from "../routes/app.ts";
import { useBackend } from "./helpers.ts";
import {
  corruptPng,
  multipart,
  pngWithHeader,
  testPng,
  trainTinyCheckpoints,
} from "./server_fixtures.ts";

await useBackend("wasm");
const dir = await Deno.makeTempDir();
await trainTinyCheckpoints(dir);
const models = await loadModels(dir);
const state = createState(models, { maxBodyBytes: 200_000, maxPixels: 1_000_000, queue: 4 });
const app = createApp(state);
const png = testPng();
const jpeg = await Deno.readFile(new URL("./fixtures/images/baseline.jpg", import.meta.url));

const post = (a: typeof app, query: string, body: BodyInit | null, headers: HeadersInit = {}) =>
  a.request(`/classify${query}`, { method: "POST", body, headers });
const classify = (query: string, body: BodyInit | null, headers: HeadersInit = {}) =>
  post(app, query, body, headers);

async function errorOf(res: Response, status: number, code?: string) {
  assert.equal(res.status, status, await res.clone().text());
  const json = await res.json();
  assert.deepEqual(Object.keys(json), ["error"]);
  assert.equal(typeof json.error.message, "string");
  assert.ok(!/\n\s+at /.test(json.error.message), "no stack traces");
  if (code) assert.equal(json.error.code, code);
  return json.error.message as string;
}

/** A request body that yields `chunks` one by one, waiting for `gate` before the last. */
function streamBody(chunks: Uint8Array[], gate: Promise<void> = Promise.resolve()) {
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i === chunks.length - 1) await gate;
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else controller.close();
    },
  });
  return { stream, pulled: () => i };
}

async function until(condition: () => boolean, what: string, ms = 2000) {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

Deno.test("health, readiness and KServe v2 aliases", async () => {
  assert.deepEqual(await (await app.request("/health")).json(), { status: "ok" });
  const ready = await app.request("/ready");
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { ready: true, models: ["baseline", "symmetric"] });
  assert.deepEqual(await (await app.request("/v2/health/live")).json(), { live: true });
  assert.deepEqual(await (await app.request("/v2/health/ready")).json(), { ready: true });
  const meta = await (await app.request("/v2/models/symmetric")).json();
  assert.equal(meta.name, "symmetric");
  assert.deepEqual(meta.inputs[0].shape, [-1, 16, 16, 3]);
  assert.deepEqual(meta.outputs[0].shape, [-1, 10]);
  const r = await app.request("/v2/models/symmetric/ready");
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { name: "symmetric", ready: true });
  // Under /v2 errors have the protocol's shape (tests/oip_test.ts checks every path).
  for (const path of ["/v2/models/resnet", "/v2/models/resnet/ready"]) {
    const res = await app.request(path);
    assert.equal(res.status, 404);
    assert.match((await res.json()).error, /No model "resnet"/);
  }
});

Deno.test("/models describes each loaded checkpoint", async () => {
  const { models: list } = await (await app.request("/models")).json();
  assert.deepEqual(list.map((m: { name: string }) => m.name), ["baseline", "symmetric"]);
  const sym = list[1];
  assert.equal(sym.preset, "tiny");
  assert.equal(sym.classes, 10);
  assert.equal(sym.dataset, "synthetic");
  assert.equal(sym.parameters, models[1].params);
  assert.deepEqual(sym.inputSize, [16, 16, 3]);
  assert.equal(sym.backend, "wasm");
  assert.equal(sym.checkpoint.weightsSha256, models[1].meta.weightsSha256);
  assert.match(sym.checkpoint.weightsSha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(sym.metrics, { epoch: 1, testAcc: 0.1 });
});

Deno.test("/classify: the symmetric model scores 1 for quarter turns, the baseline less", async () => {
  const res = await classify("?rotate=90,180,270", multipart(png));
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const body = await res.json();
  assert.deepEqual(body.image, { type: "png", width: 24, height: 24 });
  const sym = body.models.symmetric;
  assert.equal(sym.transforms.length, 3);
  for (const t of sym.transforms) {
    assert.equal(t.kind, "rotate");
    assert.ok(Math.abs(t.invariance - 1) <= 1e-4, `symmetric ${t.value}: ${t.invariance}`);
    assert.equal(t.top1Agrees, true);
    assert.equal(t.top.length, 5);
  }
  assert.ok(Math.abs(sym.meanInvariance - 1) <= 1e-4);
  assert.equal(sym.original.top.length, 5);
  assert.equal(sym.original.top[0].label, `c${sym.original.top[0].index}`);
  const probs = sym.original.top.map((t: { probability: number }) => t.probability);
  assert.deepEqual(probs, [...probs].sort((a, b) => b - a), "best first");
  assert.ok(probs.reduce((s: number, p: number) => s + p, 0) <= 1 + 1e-5);
  assert.deepEqual(sym.batch, { requests: 1, images: 4 }, "original + 3 turns in one call");
  const base = body.models.baseline;
  assert.ok(base.meanInvariance < 1 - 1e-3, `baseline ${base.meanInvariance}`);
  assert.equal(typeof base.ms, "number");
  assert.equal(typeof body.ms, "number");
});

Deno.test("/classify: defaults, scale, any angle, model, topk and repeated keys", async () => {
  const d = await (await classify("", multipart(png))).json();
  assert.deepEqual(d.transforms, [90, 180, 270].map((value) => ({ kind: "rotate", value })));
  assert.deepEqual(Object.keys(d.models), ["baseline", "symmetric"]);
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
  const neg = await (await classify("?rotate=-90,450,-37.5&model=baseline", multipart(png))).json();
  assert.deepEqual(
    neg.models.baseline.transforms.map((x: { value: number }) => x.value),
    [-90, 450, -37.5],
  );
  const twice = await (await classify("?rotate=90&rotate=180&model=symmetric", multipart(png)))
    .json();
  assert.deepEqual(twice.transforms.map((x: { value: number }) => x.value), [90, 180]);
});

Deno.test("/classify accepts JPEG uploads and raw image bodies (type from magic bytes)", async () => {
  const j = await classify("?rotate=90", multipart(jpeg));
  assert.equal(j.status, 200);
  assert.deepEqual((await j.json()).image, { type: "jpeg", width: 24, height: 16 });
  const rawJpeg = await classify("", jpeg.slice(), { "content-type": "image/jpeg" });
  assert.equal(rawJpeg.status, 200);
  const raw = await classify("?rotate=90", png.slice() as Uint8Array<ArrayBuffer>, {
    "content-type": "image/jpeg", // a wrong type header: magic bytes decide
  });
  assert.equal(raw.status, 200);
  assert.equal((await raw.json()).image.type, "png");
});

Deno.test("/classify 400 for empty, non-image, truncated, corrupt and zero-size uploads", async () => {
  await errorOf(await classify("", multipart(new Uint8Array(0))), 400, "empty");
  await errorOf(await classify("", null, { "content-type": "image/png" }), 400, "empty");
  const text = await errorOf(
    await classify("", multipart(new TextEncoder().encode("hello, not an image"))),
    400,
    "not_image",
  );
  assert.match(text, /Expected a raster image \(PNG, JPEG, WebP, AVIF, TIFF or GIF\)/);
  await errorOf(await classify("", multipart(png.subarray(0, png.length - 30))), 400, "truncated");
  await errorOf(await classify("", multipart(jpeg.subarray(0, 200))), 400);
  await errorOf(await classify("", multipart(corruptPng())), 400, "corrupt");
  await errorOf(await classify("", multipart(pngWithHeader(0, 5))), 400, "zero_size");
  await errorOf(await classify("", new FormData()), 400, "missing_image");
  const form = new FormData();
  form.append("img", "just a string field");
  await errorOf(await classify("", form), 400, "missing_image");
  await errorOf(
    await classify("", "--x\r\ngarbage", { "content-type": "multipart/form-data; boundary=y" }),
    400,
    "bad_multipart",
  );
  assert.equal((await classify("?rotate=90", multipart(png))).status, 200, "still serving");
});

Deno.test("/classify 415 names SVG and PDF; a broken GIF or WebP is 400", async () => {
  const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>');
  assert.match(await errorOf(await classify("", multipart(svg)), 415, "unsupported_type"), /SVG/);
  const pdf = new TextEncoder().encode("%PDF-1.7\n");
  assert.match(await errorOf(await classify("", pdf), 415, "unsupported_type"), /PDF/);
  const gif = new TextEncoder().encode("GIF89a\x01\x00\x01\x00\x00\x00\x00;");
  await errorOf(await classify("", multipart(gif)), 400, "corrupt");
  const webp = Uint8Array.from([
    ...new TextEncoder().encode("RIFF"),
    ...[0, 0, 0, 0],
    ...new TextEncoder().encode("WEBPVP8 "),
  ]);
  await errorOf(await classify("", webp), 400, "corrupt"); // a RIFF that claims 0 bytes
});

Deno.test("/classify 413: declared length, while streaming, and pixel count from the header", async () => {
  // Content-Length over the limit: refused before reading a byte.
  await errorOf(
    await classify("", png.slice(), { "content-length": "300000", "content-type": "image/png" }),
    413,
    "body_too_large",
  );
  // No Content-Length and an endless body: refused once past the limit, not after buffering.
  const chunk = new Uint8Array(64 * 1024);
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(chunk);
    },
  });
  await errorOf(
    await classify("", endless, { "content-type": "image/png" }),
    413,
    "body_too_large",
  );
  assert.ok(pulled * chunk.length < 200_000 + 3 * chunk.length, `read ${pulled} chunks`);
  await errorOf(await classify("", multipart(new Uint8Array(300_000))), 413, "body_too_large");
  // 1100×1000 > 1 MP: refused from the header (the file holds one pixel, so nothing decodes it).
  const msg = await errorOf(
    await classify("", multipart(pngWithHeader(1100, 1000))),
    413,
    "too_many_pixels",
  );
  assert.match(msg, /1100×1000/);
  const huge = encodePng({
    width: 1100,
    height: 1000,
    data: new Uint8Array(1100 * 1000 * 3),
    channels: 3,
  });
  assert.ok(huge.length < 200_000);
  await errorOf(await classify("", multipart(huge)), 413, "too_many_pixels");
});

Deno.test("/classify 422 names the bad field", async () => {
  const bad: [string, RegExp][] = [
    ["?rotate=abc", /^rotate:/],
    ["?rotate=", /^rotate:/],
    ["?rotate=1e7", /^rotate:/],
    ["?rotate=Infinity", /^rotate:/],
    ["?scale=50", /^scale:/],
    ["?scale=0", /^scale:/],
    ["?scale=-1", /^scale:/],
    ["?topk=0", /^topk:/],
    ["?topk=2.5", /^topk:/],
    ["?topk=many", /^topk:/],
    ["?model=resnet", /^model:/],
    ["?colour=red", /colour/],
    [`?rotate=${Array(33).fill(1).join(",")}`, /^rotate:/],
  ];
  for (const [query, field] of bad) {
    assert.match(await errorOf(await classify(query, multipart(png)), 422, "bad_query"), field);
  }
  const only = createApp(createState([models[1]]));
  assert.match(
    await errorOf(await post(only, "?model=baseline", multipart(png)), 422, "bad_query"),
    /model: "baseline" is not loaded/,
  );
});

Deno.test("404 for unknown routes, 405 for wrong methods, in the same JSON shape", async () => {
  await errorOf(await app.request("/nope"), 404, "not_found");
  const res = await app.request("/classify");
  await errorOf(res, 405, "method_not_allowed");
  assert.equal(res.headers.get("allow"), "POST");
  await errorOf(await app.request("/health", { method: "DELETE" }), 405);
  const v2 = await app.request("/v2/models/symmetric", { method: "POST" });
  assert.equal(v2.status, 405);
  assert.match((await v2.json()).error, /POST \/v2\/models\/symmetric: expected GET/);
});

Deno.test("503 while loading, while shutting down, and when the inference queue is full", async () => {
  const loading = createApp(createState([]));
  await errorOf(await loading.request("/ready"), 503, "loading");
  assert.equal((await loading.request("/v2/health/ready")).status, 503);
  assert.equal((await loading.request("/health")).status, 200);
  await errorOf(await post(loading, "", multipart(png)), 503, "loading");

  const draining = createState(models);
  draining.draining = true;
  const stopping = createApp(draining);
  await errorOf(await stopping.request("/ready"), 503, "shutting_down");
  await errorOf(await post(stopping, "", multipart(png)), 503, "shutting_down");
  assert.equal((await stopping.request("/health")).status, 200);

  const tight = createState(models, { queue: 1 });
  const busy = createApp(tight);
  let release!: () => void;
  const blocker = tight.queue.run(() => new Promise<void>((r) => release = r));
  await until(() => release !== undefined, "the blocker to run");
  const waiting = post(busy, "", multipart(png)); // takes the one waiting place
  await until(() => tight.queue.depth === 2, "the request to queue");
  const msg = await errorOf(await post(busy, "", multipart(png)), 503, "overloaded");
  assert.match(msg, /queue is full \(1 requests waiting\)/);
  release();
  await blocker;
  assert.equal((await waiting).status, 200);
  assert.equal((await post(busy, "", multipart(png))).status, 200, "served again");
});

Deno.test("InferenceQueue refuses beyond its capacity and keeps going after a failed job", async () => {
  const q = new InferenceQueue({ capacity: 2 });
  let release!: () => void;
  const first = q.run(() => new Promise<void>((r) => release = r));
  await until(() => release !== undefined, "the first job to run");
  const a = q.run(() => Promise.reject(new Error("boom")));
  const b = q.run(() => Promise.resolve(7));
  await assert.rejects(q.run(() => Promise.resolve(0)), QueueFullError);
  assert.equal(q.depth, 3);
  release();
  await first;
  await assert.rejects(a, /boom/);
  assert.equal(await b, 7);
  assert.equal(q.depth, 0);
});

Deno.test("a slow upload does not hold the model; a stalled one gets 408", async () => {
  let finish!: () => void;
  const gate = new Promise<void>((r) => finish = r);
  const slow = streamBody([png.subarray(0, 100), png.subarray(100)], gate);
  const pending = classify("?rotate=90", slow.stream, { "content-type": "image/png" });
  await until(() => slow.pulled() >= 1, "the first chunk");
  assert.equal(state.queue.depth, 0, "nothing queued while the body is incomplete");
  const other = await classify("?rotate=90", multipart(png));
  assert.equal(other.status, 200);
  finish();
  assert.equal((await pending).status, 200);

  const impatient = createApp(createState(models, { bodyTimeoutMs: 50 }));
  const stalled = streamBody([png.subarray(0, 100), png.subarray(100)], new Promise(() => {}));
  await errorOf(
    await post(impatient, "", stalled.stream, { "content-type": "image/png" }),
    408,
    "body_timeout",
  );
});

Deno.test("requests that wait together run as one micro-batch with the same results", async () => {
  const alone = await (await classify("?rotate=90,33", multipart(png))).json();
  const s = createState(models, { queue: 16 });
  const a = createApp(s);
  let release!: () => void;
  const blocker = s.queue.run(() => new Promise<void>((r) => release = r));
  await until(() => release !== undefined, "the blocker to run");
  const queries = ["?rotate=90,33", "?rotate=90,33", "", "?scale=1.5&model=symmetric", ""];
  const pending = queries.map((q) => post(a, q, multipart(png)));
  await until(() => s.queue.depth === 1 + queries.length, "all requests to queue");
  release();
  await blocker;
  const bodies = await Promise.all(pending.map(async (p) => (await p).json()));
  // 5 requests ask the symmetric model: 3 + 3 + 4 + 2 + 4 images; 4 ask the baseline: 14.
  assert.deepEqual(bodies[0].models.symmetric.batch, { requests: 5, images: 16 });
  assert.deepEqual(bodies[0].models.baseline.batch, { requests: 4, images: 14 });
  for (const name of ["baseline", "symmetric"]) {
    const x = bodies[0].models[name], y = alone.models[name];
    assert.equal(x.original.top[0].index, y.original.top[0].index);
    for (let i = 0; i < 2; i++) {
      assert.ok(Math.abs(x.transforms[i].invariance - y.transforms[i].invariance) < 1e-4);
      const [p, q] = [x.transforms[i].top[0], y.transforms[i].top[0]];
      assert.equal(p.index, q.index);
      assert.ok(Math.abs(p.probability - q.probability) < 1e-4);
    }
  }
  assert.deepEqual(Object.keys(bodies[3].models), ["symmetric"]);
  assert.equal(bodies[3].models.symmetric.transforms[0].kind, "scale");
  const metrics = await (await a.request("/metrics")).text();
  assert.match(metrics, /symlab_inference_batch_requests_bucket\{le="4"\} 1\n/);
  assert.match(metrics, /symlab_inference_batch_requests_sum 9\n/);
});

Deno.test("grey models with a fixed input size get grey uploads at that size", async () => {
  const greyDir = await Deno.makeTempDir();
  await trainTinyCheckpoints(greyDir, { channels: 1, fixedSide: 12 });
  const grey = await loadModels(greyDir);
  assert.deepEqual(servedInputSize(grey[0].meta), {
    size: [12, 12],
    source: "meta.config.inputShape",
  });
  const a = createApp(createState(grey));
  const { models: list } = await (await a.request("/models")).json();
  assert.deepEqual(list[1].inputSize, [12, 12, 1]);
  const body = await (await post(a, "", multipart(testPng(40, 30)))).json();
  for (const t of body.models.symmetric.transforms) assert.ok(Math.abs(t.invariance - 1) <= 1e-4);
  assert.equal((await post(a, "", multipart(jpeg))).status, 200);
  await Deno.remove(greyDir, { recursive: true });
});

Deno.test("loadModels serves whichever checkpoints exist and names what is missing", async () => {
  const one = await Deno.makeTempDir();
  await Deno.rename(`${dir}/symmetric`, `${one}/symmetric`);
  try {
    const served = await loadModels(one);
    assert.deepEqual(served.map((m) => m.name), ["symmetric"]);
  } finally {
    await Deno.rename(`${one}/symmetric`, `${dir}/symmetric`);
  }
  const empty = await Deno.makeTempDir();
  await assert.rejects(
    loadModels(empty),
    new RegExp(`no checkpoints found: expected ${empty}/baseline and/or ${empty}/symmetric`),
  );
  assert.deepEqual(servedInputSize({ ...models[0].meta, training: undefined }).size, [32, 32]);
});

Deno.test("/metrics exposes request counts, latency, queue depth and batch sizes", async () => {
  await classify("?rotate=90", multipart(png));
  await app.request("/nope");
  const res = await app.request("/metrics");
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /symlab_http_requests_total\{route="\/classify",status="200"\} \d+/);
  assert.match(text, /symlab_http_requests_total\{route="\/classify",status="422"\} \d+/);
  assert.match(text, /symlab_http_requests_total\{route="other",status="404"\} \d+/);
  assert.match(text, /# TYPE symlab_http_request_duration_seconds histogram/);
  assert.match(text, /symlab_http_request_duration_seconds_bucket\{le="\+Inf"\} \d+/);
  assert.match(text, /symlab_inference_queue_depth 0\n/);
  assert.match(text, /symlab_inference_queue_capacity 4\n/);
  assert.match(text, /symlab_models_loaded 2\n/);
  assert.match(text, /symlab_inference_batch_images_bucket\{le="2"\} [1-9]\d*\n/); // ?rotate=90
  // Buckets are cumulative and end at the count.
  const buckets = [...text.matchAll(/symlab_http_request_duration_seconds_bucket\{[^}]*\} (\d+)/g)]
    .map((m) => Number(m[1]));
  assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b));
  const count = Number(text.match(/symlab_http_request_duration_seconds_count (\d+)/)![1]);
  assert.equal(buckets.at(-1), count);
});

Deno.test("/classify leaks no tensors, also on errors", async () => {
  await classify("?rotate=90,33&scale=1.5", multipart(png));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    assert.equal((await classify("?rotate=90,33&scale=1.5", multipart(png))).status, 200);
    assert.equal((await classify("", multipart(jpeg))).status, 200);
    assert.equal((await classify("", multipart(corruptPng()))).status, 400);
  }
  assert.equal(tf.memory().numTensors, before);
});
