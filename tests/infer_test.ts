/**
 * The Open Inference Protocol (KServe v2) routes in-process: `GET /v2` and
 * `POST /v2/models/{name}/infer` with requests built as the protocol's documentation shows,
 * checked against the model itself (predict + softmax) and against `/classify`.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { loadModels } from "../lib/model/checkpoint.ts";
import { classifyBatch } from "../lib/serve/classify.ts";
import { createApp, createState } from "../routes/app.ts";
import { randomArray, useBackend } from "./helpers.ts";
import { multipart, trainTinyCheckpoints } from "./server_fixtures.ts";
import { encode as encodePng } from "fast-png";

await useBackend("wasm");
const dir = await Deno.makeTempDir();
await trainTinyCheckpoints(dir);
const models = await loadModels(dir);
const [baseline, symmetric] = models;
const state = createState(models, { maxBodyBytes: 400_000, maxPixels: 4096, maxBatchImages: 16 });
const app = createApp(state);

const infer = (name: string, body: unknown, headers: HeadersInit = {}) =>
  app.request(`/v2/models/${name}/infer`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });

/** A protocol error: HTTP 400 (unless given) with exactly `{ "error": "<one line>" }`. */
async function protocolError(res: Response, pattern: RegExp, status = 400) {
  assert.equal(res.status, status, await res.clone().text());
  const json = await res.json();
  assert.deepEqual(Object.keys(json), ["error"]);
  assert.equal(typeof json.error, "string");
  assert.ok(!json.error.includes("\n"), `one line: ${json.error}`);
  assert.match(json.error, pattern);
}

/** The reference: the model's own predict + softmax on a [N, H, W, C] batch. */
function reference(model: tf.LayersModel, data: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() =>
    tf.softmax(
      model.predict(tf.tensor4d(data, shape as [number, number, number, number])) as tf.Tensor,
    )
      .dataSync() as Float32Array
  );
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol,
      `element ${i}: ${actual[i]} vs ${expected[i]} (tolerance ${tol})`,
    );
  }
}

// Two 16×16 RGB images in [0, 1], the model's input size.
const pixels = randomArray(2 * 16 * 16 * 3, 7).map((v) => (v + 1) / 2);

Deno.test("GET /v2: server metadata with name, version and extensions", async () => {
  const res = await app.request("/v2");
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(Object.keys(body).sort(), ["extensions", "name", "version"]);
  assert.equal(body.name, "symlab");
  assert.equal(typeof body.version, "string");
  assert.ok(body.version.length > 0);
  assert.deepEqual(body.extensions, ["binary_tensor_data"]);
});

Deno.test("infer: an FP32 NHWC batch gives the model's own probabilities, every field as the protocol says", async () => {
  const meta = await (await app.request("/v2/models/baseline")).json();
  // The request exactly as the protocol's documentation shows it.
  const res = await infer("baseline", {
    id: "42",
    inputs: [{ name: "img", shape: [2, 16, 16, 3], datatype: "FP32", data: Array.from(pixels) }],
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const body = await res.json();
  assert.deepEqual(Object.keys(body), ["model_name", "model_version", "id", "outputs"]);
  assert.equal(body.model_name, "baseline");
  assert.equal(body.model_version, meta.versions[0]);
  assert.equal(body.id, "42");
  assert.equal(body.outputs.length, 1);
  const [out] = body.outputs;
  assert.deepEqual(Object.keys(out), ["name", "datatype", "shape", "data"]);
  assert.equal(out.name, meta.outputs[0].name);
  assert.equal(out.datatype, "FP32");
  assert.deepEqual(out.shape, [2, 10]);
  assertClose(out.data, reference(baseline.model, pixels, [2, 16, 16, 3]), 1e-5);
  // And what classifyBatch gives for the same pixels.
  const image = (b: number) => ({
    data: pixels.slice(b * 768, (b + 1) * 768),
    height: 16,
    width: 16,
    channels: 3 as const,
  });
  const direct = await classifyBatch([0, 1].map((b) => ({
    image: image(b),
    models: [baseline],
    transforms: [],
    k: 1,
    probabilities: true,
  })));
  assertClose(out.data, direct.flatMap(([r]) => r.probabilities!), 1e-5);
  for (let b = 0; b < 2; b++) {
    const row = out.data.slice(b * 10, (b + 1) * 10);
    assert.ok(Math.abs(row.reduce((s: number, p: number) => s + p, 0) - 1) < 1e-5);
  }
});

Deno.test("infer: nested data, [H, W, C], a grey image for an RGB model, versions/ path, no id", async () => {
  const one = Array.from(pixels.subarray(0, 768));
  const nested = Array.from(
    { length: 16 },
    (_, y) =>
      Array.from({ length: 16 }, (_, x) => one.slice((y * 16 + x) * 3, (y * 16 + x) * 3 + 3)),
  );
  const flat = await (await infer("symmetric", {
    inputs: [{ name: "img", shape: [16, 16, 3], datatype: "FP32", data: one }],
  })).json();
  assert.deepEqual(flat.outputs[0].shape, [1, 10]);
  assert.match(flat.id, /^[0-9a-f-]{36}$/, "a fresh id when the request has none");
  const deep = await (await infer("symmetric", {
    inputs: [{ name: "img", shape: [16, 16, 3], datatype: "FP32", data: nested }],
  })).json();
  assert.deepEqual(deep.outputs[0].data, flat.outputs[0].data);
  // Grey [16, 16, 1] to an RGB model: the grey value in all three channels.
  const grey = Array.from(pixels.subarray(0, 256));
  const rgb = new Float32Array(768).map((_, i) => grey[Math.floor(i / 3)]);
  const g = await (await infer("baseline", {
    inputs: [{ name: "img", shape: [1, 16, 16, 1], datatype: "FP32", data: grey }],
  })).json();
  assertClose(g.outputs[0].data, reference(baseline.model, rgb, [1, 16, 16, 3]), 1e-5);
  const version = symmetric.meta.weightsSha256.slice(0, 12);
  const v = await app.request(`/v2/models/symmetric/versions/${version}/infer`, {
    method: "POST",
    body: JSON.stringify({
      id: "v",
      inputs: [{ name: "img", shape: [16, 16, 3], datatype: "FP32", data: one }],
    }),
  });
  assert.equal(v.status, 200);
  assert.deepEqual((await v.json()).outputs[0].data, flat.outputs[0].data);
});

Deno.test("infer: UINT8 at another size with transforms matches /classify on the same pixels", async () => {
  const w = 24, h = 20;
  const rgb = new Uint8Array(w * h * 3).map((_, i) => (i * 37 + (i % 7) * 11) % 256);
  const png = encodePng({ width: w, height: h, data: rgb, channels: 3, depth: 8 });
  const viaClassify = await (await app.request("/classify?rotate=90,33&scale=1.5&topk=10", {
    method: "POST",
    body: multipart(png),
  })).json();
  for (const m of models) {
    const res = await infer(m.name, {
      id: "u8",
      parameters: { rotate: "90,33", scale: 1.5 },
      inputs: [{ name: "img", shape: [1, h, w, 3], datatype: "UINT8", data: Array.from(rgb) }],
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = await res.json();
    assert.deepEqual(body.parameters, { transforms: "rotate:90,rotate:33,scale:1.5" });
    assert.deepEqual(body.outputs.map((o: { name: string }) => o.name), [
      "probabilities",
      "invariance",
    ]);
    const [probs, inv] = body.outputs;
    assert.deepEqual(inv.shape, [1, 3]);
    assert.equal(inv.datatype, "FP32");
    const c = viaClassify.models[m.name];
    assertClose(inv.data, c.transforms.map((t: { invariance: number }) => t.invariance), 1e-6);
    // /classify's top-10 is the whole distribution, best first, rounded to 6 decimals.
    const expected = new Array(10);
    for (const t of c.original.top) expected[t.index] = t.probability;
    assertClose(probs.data, expected, 1e-5);
  }
  // The symmetric model keeps its answer under quarter turns: invariance 1 for 90, 180, 270.
  const turns = await (await infer("symmetric", {
    parameters: { rotate: "90,180,270" },
    inputs: [{ name: "img", shape: [2, 16, 16, 3], datatype: "FP32", data: Array.from(pixels) }],
    outputs: [{ name: "invariance" }],
  })).json();
  assert.deepEqual(turns.outputs.map((o: { name: string }) => o.name), ["invariance"]);
  assert.deepEqual(turns.outputs[0].shape, [2, 3]);
  for (const s of turns.outputs[0].data) assert.ok(Math.abs(s - 1) <= 1e-4, `${s}`);
});

Deno.test("infer errors: HTTP 400 with the protocol's { error } naming what was expected", async () => {
  const ok = {
    name: "img",
    shape: [1, 16, 16, 3],
    datatype: "FP32",
    data: new Array(768).fill(0.5),
  };
  const cases: [unknown, RegExp][] = [
    ["{not json", /Expected a JSON inference request/],
    [{}, /inputs: /],
    [{ inputs: [] }, /inputs: .*1/],
    [{ inputs: [ok], extra: 1 }, /unexpected field\(s\) extra/],
    [{ inputs: [{ ...ok, name: "input-0" }] }, /expected one tensor named "img", got "input-0"/],
    [{ inputs: [ok, ok] }, /expected one tensor named "img"/],
    [
      { inputs: [{ ...ok, datatype: "INT64" }] },
      /expected FP32 \(in \[0, 1\]\) or UINT8, got INT64/,
    ],
    [
      { inputs: [{ ...ok, shape: [768] }] },
      /shape: expected \[N, H, W, C\].*\[-1, 16, 16, 3\].*got \[768\]/,
    ],
    [{ inputs: [{ ...ok, shape: [1, 16, 16, 4] }] }, /C = 1 or 3/],
    [{ inputs: [{ ...ok, shape: [1, 16, 16, 2], data: new Array(512).fill(0) }] }, /C = 1 or 3/],
    [
      { inputs: [{ ...ok, data: new Array(767).fill(0.5) }] },
      /expected 768 numbers flat, or nested/,
    ],
    [
      { inputs: [{ ...ok, data: [...new Array(767).fill(0.5), 1.5] }] },
      /data\[767\]: expected a number in \[0, 1\] for FP32, got 1.5/,
    ],
    [
      { inputs: [{ ...ok, datatype: "UINT8", data: [...new Array(767).fill(0), 3.5] }] },
      /data\[767\]: expected an integer in 0–255/,
    ],
    [
      { inputs: [{ ...ok, data: undefined, parameters: { binary_data_size: 3072 } }] },
      /binary_data_size is given but the request has no Inference-Header-Content-Length header/,
    ],
    [
      { inputs: [{ ...ok, shape: [1, 65, 65, 3], data: [] }] },
      /65×65 pixels per image is over the limit of 4096/,
    ],
    [
      { inputs: [{ ...ok, shape: [17, 1, 1, 3], data: new Array(51).fill(0) }] },
      /17 image\(s\) × \(1 \+ 0 transforms\) = 17 is over the limit of 16/,
    ],
    [
      { inputs: [ok], parameters: { rotation: "90" } },
      /parameters: expected rotate, scale, flip and\/or binary_data_output, got rotation/,
    ],
    [
      { inputs: [ok], parameters: { rotate: "x" } },
      /parameters\.rotate: expected 1–32 comma-separated numbers/,
    ],
    [{ inputs: [ok], parameters: { scale: 100 } }, /parameters\.scale: expected .*\[0\.1, 10\]/],
    [
      { inputs: [ok], outputs: [{ name: "invariance" }] },
      /invariance needs parameters\.rotate, scale or flip/,
    ],
    [
      { inputs: [ok], outputs: [{ name: "logits" }] },
      /outputs: expected probabilities, got logits/,
    ],
  ];
  for (const [body, pattern] of cases) await protocolError(await infer("baseline", body), pattern);
  await protocolError(
    await infer("resnet", { inputs: [ok] }),
    /No model "resnet": serving baseline, symmetric/,
  );
  await protocolError(
    await app.request("/v2/models/baseline/versions/000000000000/infer", {
      method: "POST",
      body: JSON.stringify({ inputs: [ok] }),
    }),
    /has version [0-9a-f]{12}, not 000000000000/,
  );
  await protocolError(
    await infer("baseline", { inputs: [ok] }, { "content-length": "500000" }),
    /500000 bytes is over the limit of 400000 bytes/,
  );
  const big = JSON.stringify({ inputs: [{ ...ok, data: new Array(100_000).fill(0.123456789) }] });
  await protocolError(await infer("baseline", big), /over the limit of 400000 bytes/);
  // Not ready yet: 503, same body shape.
  const loading = createApp(createState([]));
  await protocolError(
    await loading.request("/v2/models/baseline/infer", { method: "POST", body: "{}" }),
    /still loading/,
    503,
  );
  assert.equal((await infer("baseline", { inputs: [ok] })).status, 200, "still serving");
  // Wrong method: the app's 405 names the allowed one.
  const get = await app.request("/v2/models/baseline/infer");
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
});

Deno.test("infer leaks no tensors, also on errors", async () => {
  const body = {
    parameters: { rotate: "90,45" },
    inputs: [{ name: "img", shape: [2, 16, 16, 3], datatype: "FP32", data: Array.from(pixels) }],
  };
  await infer("symmetric", body);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    assert.equal((await infer("symmetric", body)).status, 200);
    assert.equal((await infer("symmetric", { inputs: [] })).status, 400);
  }
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("infer requests waiting beside /classify uploads share their model call, results unchanged", async () => {
  const s = createState(models, { maxBatchImages: 16 });
  const a = createApp(s);
  const shape = [2, 16, 16, 3];
  const body = { inputs: [{ name: "img", shape, datatype: "FP32", data: Array.from(pixels) }] };
  const post = (name: string) =>
    a.request(`/v2/models/${name}/infer`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
  const rgb = Uint8Array.from(pixels.subarray(0, 16 * 16 * 3), (v) => Math.round(v * 255));
  const png = encodePng({ width: 16, height: 16, data: rgb, channels: 3, depth: 8 });
  let release!: () => void;
  const blocker = s.queue.run(() => new Promise<void>((r) => release = r));
  while (release === undefined) await new Promise((r) => setTimeout(r, 1));
  const pending = [
    post("baseline"),
    post("baseline"),
    a.request("/classify", { method: "POST", body: multipart(png) }),
  ];
  for (let i = 0; s.queue.depth < 4; i++) {
    if (i > 5000) throw new Error(`queue depth ${s.queue.depth}, expected 4`);
    await new Promise((r) => setTimeout(r, 1));
  }
  release();
  await blocker;
  const [first, second, upload] = await Promise.all(pending);
  const expected = reference(baseline.model, pixels, shape);
  for (const res of [first, second]) {
    assert.equal(res.status, 200);
    assertClose((await res.json()).outputs[0].data, expected, 1e-5);
  }
  // One baseline call: the two infer requests' 2 + 2 images, the upload's original and its
  // default transforms.
  const classified = await upload.json();
  const own = 1 + classified.models.baseline.transforms.length;
  assert.ok(own > 1);
  assert.deepEqual(classified.models.baseline.batch, { requests: 5, images: 4 + own });
  assert.deepEqual(classified.models.symmetric.batch, { requests: 1, images: own });
});
