/**
 * Serving every model of the registry: `/classify?model=` lists, `flip=h,v` beside rotations
 * and zooms with exact mirrors (p4m scores 1 on flips and turns, the baseline does not),
 * `/models` and the Open Inference Protocol's metadata with each model's group, and `flip`
 * (lib/transforms.ts) against a loop reference.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { loadModels } from "../lib/model/checkpoint.ts";
import { MODELS } from "../lib/model/models.ts";
import { flip } from "../lib/transforms.ts";
import { d4Image } from "../layers/group.ts";
import { createApp, createState } from "../routes/app.ts";
import { randomArray, useBackend } from "./helpers.ts";
import { multipart, testPng, trainTinyCheckpoints } from "./server_fixtures.ts";

await useBackend("wasm");
const dir = await Deno.makeTempDir();
await trainTinyCheckpoints(dir, { models: ["baseline", "symmetric", "p4m"] });
const models = await loadModels(dir);
const app = createApp(createState(models));
const png = testPng();

const classify = (query: string, bytes = png) =>
  app.request(`/classify${query}`, { method: "POST", body: multipart(bytes) });

interface Scored {
  kind: string;
  value: number | string;
  invariance: number;
  top1Agrees: boolean;
}

async function ok(query: string, bytes = png) {
  const res = await classify(query, bytes);
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json();
}

/** A pseudo-random RGB PNG (the same seed gives the same picture). */
function noisePng(seed: number, w = 20, h = 20): Promise<Uint8Array> {
  const px = Uint8Array.from(randomArray(w * h * 3, seed), (v) => Math.round((v + 1) * 127.5));
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer()
    .then((b) => new Uint8Array(b));
}

Deno.test("flip mirrors exactly as a loop does, twice is the identity, and is D4's elements 4 and 6", () => {
  const [n, h, w, c] = [2, 5, 7, 3];
  const data = randomArray(n * h * w * c, 7);
  const x = tf.tensor4d(data, [n, h, w, c]);
  const at = (b: number, i: number, j: number, k: number) => data[((b * h + i) * w + j) * c + k];
  for (const axis of ["h", "v"] as const) {
    const got = flip(x, axis).dataSync();
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          for (let k = 0; k < c; k++) {
            const want = axis === "h" ? at(b, i, w - 1 - j, k) : at(b, h - 1 - i, j, k);
            assert.equal(
              got[((b * h + i) * w + j) * c + k],
              want,
              `${axis} at ${b},${i},${j},${k}`,
            );
          }
        }
      }
    }
    assert.deepEqual(flip(flip(x, axis), axis).dataSync(), x.dataSync(), `${axis} twice`);
  }
  assert.deepEqual(flip(x, "h").dataSync(), d4Image(x, 4).dataSync());
  assert.deepEqual(flip(x, "v").dataSync(), d4Image(x, 6).dataSync());
  const before = tf.memory().numTensors;
  tf.dispose(flip(x, "v"));
  assert.equal(tf.memory().numTensors, before, "no tensors left behind");
  assert.throws(() => flip(x, "d" as "h"), /^RangeError: flip: expected axis "h" or "v", got "d"$/);
  assert.throws(
    () => flip(tf.zeros([3, 3]) as unknown as tf.Tensor4D, "h"),
    /flip: expected an NHWC batch/,
  );
  x.dispose();
});

Deno.test("/classify: p4m scores 1 within 1e-4 on flips and quarter turns; the baseline does not", async () => {
  const query = "?rotate=90,180,270&flip=h,v&model=all";
  let baselineMin = 1, symmetricFlipMin = 1;
  for (const bytes of [png, await noisePng(1), await noisePng(2)]) {
    const body = await ok(query, bytes);
    assert.deepEqual(body.transforms, [
      { kind: "rotate", value: 90 },
      { kind: "rotate", value: 180 },
      { kind: "rotate", value: 270 },
      { kind: "flip", value: "h" },
      { kind: "flip", value: "v" },
    ]);
    assert.deepEqual(Object.keys(body.models), ["baseline", "symmetric", "p4m"]);
    for (const t of body.models.p4m.transforms as Scored[]) {
      assert.ok(Math.abs(t.invariance - 1) <= 1e-4, `p4m ${t.kind}:${t.value}: ${t.invariance}`);
      assert.equal(t.top1Agrees, true);
    }
    // p4 (symmetric): exact on the turns only; a mirror is not in its group.
    for (const t of (body.models.symmetric.transforms as Scored[]).slice(0, 3)) {
      assert.ok(Math.abs(t.invariance - 1) <= 1e-4, `symmetric ${t.value}: ${t.invariance}`);
    }
    for (const t of (body.models.symmetric.transforms as Scored[]).slice(3)) {
      symmetricFlipMin = Math.min(symmetricFlipMin, t.invariance);
    }
    for (const t of body.models.baseline.transforms as Scored[]) {
      baselineMin = Math.min(baselineMin, t.invariance);
    }
  }
  // Random-ish weights are invariant to no transform in general: < 1 somewhere, by a margin.
  assert.ok(baselineMin < 1 - 1e-3, `baseline's lowest invariance ${baselineMin}`);
  // And the flips are real mirrors: p4 alone does not keep its answer under them.
  assert.ok(symmetricFlipMin < 1 - 1e-4, `symmetric's lowest flip invariance ${symmetricFlipMin}`);
});

Deno.test("/classify?flip=h&inputs=png: the input the model saw is the mirror of the original", async () => {
  const body = await ok("?flip=h,v&model=p4m&inputs=png");
  const { original, transforms } = body.models.p4m.inputs;
  const raw = async (b64: string) => {
    const { data, info } = await sharp(Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)))
      .raw().toBuffer({ resolveWithObject: true });
    return { data, w: info.width, h: info.height, c: info.channels };
  };
  const o = await raw(original), fh = await raw(transforms[0]), fv = await raw(transforms[1]);
  for (let i = 0; i < o.h; i++) {
    for (let j = 0; j < o.w; j++) {
      for (let k = 0; k < o.c; k++) {
        const px = (img: typeof o, r: number, col: number) => img.data[(r * o.w + col) * o.c + k];
        assert.equal(px(fh, i, j), px(o, i, o.w - 1 - j), `h at ${i},${j}`);
        assert.equal(px(fv, i, j), px(o, o.h - 1 - i, j), `v at ${i},${j}`);
      }
    }
  }
});

Deno.test("/classify?model= takes a name, a list, both or all; 422 names the loaded models", async () => {
  const names = async (query: string) => Object.keys((await ok(query)).models);
  assert.deepEqual(await names(""), ["baseline", "symmetric", "p4m"], "default: every model");
  assert.deepEqual(await names("?model=all"), ["baseline", "symmetric", "p4m"]);
  assert.deepEqual(await names("?model=both"), ["baseline", "symmetric"]);
  assert.deepEqual(await names("?model=p4m"), ["p4m"]);
  assert.deepEqual(await names("?model=p4m,baseline"), ["baseline", "p4m"], "in loaded order");
  assert.deepEqual(await names("?model=p4m&model=p4m"), ["p4m"], "a name twice counts once");
  const error = async (query: string) => {
    const res = await classify(query);
    assert.equal(res.status, 422, await res.clone().text());
    const { error } = await res.json();
    assert.equal(error.code, "bad_query");
    return error.message as string;
  };
  for (const bad of ["scale", "resnet", "p4m,toString"]) {
    const message = await error(`?model=${bad}`);
    assert.match(
      message,
      /^model: "(scale|resnet|toString)" is not loaded \(serving baseline, symmetric, p4m;/,
    );
  }
  assert.match(await error("?model=,"), /^model: expected a model name/);
  const onlyP4m = createApp(createState(models.filter((m) => m.name === "p4m")));
  const res = await onlyP4m.request("/classify?model=both", {
    method: "POST",
    body: multipart(png),
  });
  assert.equal(res.status, 422);
  assert.match(
    (await res.json()).error.message,
    /^model: "both" needs baseline or symmetric \(serving p4m\)/,
  );
  assert.match(await error("?flip=d"), /^flip: expected h, v or h,v/);
  assert.match(await error("?flip="), /^flip: expected h, v or h,v/);
  assert.match(
    await error(`?rotate=${Array(20).fill(90).join(",")}&scale=${Array(13).fill(2).join(",")}`),
    /expected at most 32 transforms in all, got 33/,
  );
});

Deno.test("/models and the protocol's model metadata give each model's group and both outputs", async () => {
  const listed = (await (await app.request("/models")).json()).models;
  assert.deepEqual(
    listed.map((m: { name: string; group: string }) => [m.name, m.group]),
    ["baseline", "symmetric", "p4m"].map((n) => [n, MODELS[n as "p4m"].group]),
  );
  for (const name of ["baseline", "symmetric", "p4m"]) {
    const meta = await (await app.request(`/v2/models/${name}`)).json();
    assert.equal(meta.parameters.group, MODELS[name as "p4m"].group);
    assert.deepEqual(meta.outputs, [
      { name: "probabilities", datatype: "FP32", shape: [-1, 10] },
      { name: "invariance", datatype: "FP32", shape: [-1, -1] },
    ]);
  }
});

Deno.test("infer: parameters.flip gives p4m's invariance 1 within 1e-4, in the metadata's order", async () => {
  const pixels = Array.from(randomArray(16 * 16 * 3, 5), (v) => (v + 1) / 2);
  const res = await app.request("/v2/models/p4m/infer", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      id: "m",
      parameters: { flip: "h,v", rotate: 90 },
      inputs: [{ name: "img", shape: [1, 16, 16, 3], datatype: "FP32", data: pixels }],
    }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json();
  assert.deepEqual(body.parameters, { transforms: "rotate:90,flip:h,flip:v" });
  const inv = body.outputs.find((o: { name: string }) => o.name === "invariance");
  assert.deepEqual(inv.shape, [1, 3]);
  for (const s of inv.data) assert.ok(Math.abs(s - 1) <= 1e-4, `${s}`);
  const bad = await app.request("/v2/models/p4m/infer", {
    method: "POST",
    body: JSON.stringify({
      parameters: { flip: "x" },
      inputs: [{ name: "img", shape: [1, 16, 16, 3], datatype: "FP32", data: pixels }],
    }),
  });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /^parameters\.flip: expected h, v or h,v/);
});

Deno.test("serve_symmetry: clean up", async () => {
  for (const m of models) m.model.dispose();
  await Deno.remove(dir, { recursive: true });
});
