/**
 * Every route of KServe's Open Inference Protocol REST spec (kserve/kserve
 * docs/predict-api/v2/rest_predict_v2.yaml) against the app in-process, each answer validated by
 * ajv against the spec's own schemas, written out below; and the protocol's error body on every
 * /v2 path, unknown ones included.
 *
 * Why ajv and not zod: the spec's schemas are JSON Schema (OpenAPI 3.0's subset), so they are
 * written here as the spec gives them, with only `$ref`s moved from `#/components/schemas/` to
 * `#/$defs/`, and checked by a validator of the standard; a zod transcription would be a second
 * reading of the spec that could itself be wrong.
 */
import assert from "node:assert/strict";
import { Ajv, type ValidateFunction } from "ajv";
import { loadModels } from "../lib/model/checkpoint.ts";
import { binaryReply } from "../lib/serve/binary_tensor.ts";
import { createApp, createState } from "../routes/app.ts";
import { randomArray, useBackend } from "./helpers.ts";
import { trainTinyCheckpoints } from "./server_fixtures.ts";

/** The spec's three error schemas, which are the same. */
const ERROR_RESPONSE = {
  type: "object",
  properties: { error: { type: "string" } },
  required: ["error"],
};

/** The spec's `components.schemas` (the ones its responses and requests use). */
const KSERVE_V2_SCHEMAS = {
  $id: "kserve-v2",
  $defs: {
    metadata_server_response: {
      type: "object",
      properties: {
        name: { type: "string" },
        version: { type: "string" },
        extensions: { type: "array", items: { type: "string" } },
      },
      required: ["name", "version", "extensions"],
    },
    metadata_server_error_response: ERROR_RESPONSE,
    metadata_model_response: {
      type: "object",
      properties: {
        name: { type: "string" },
        versions: { type: "array", items: { type: "string" } },
        platform: { type: "string" },
        inputs: { type: "array", items: { $ref: "#/$defs/metadata_tensor" } },
        outputs: { type: "array", items: { $ref: "#/$defs/metadata_tensor" } },
      },
      required: ["name", "platform"],
    },
    metadata_tensor: {
      type: "object",
      properties: {
        name: { type: "string" },
        datatype: { type: "string" },
        shape: { type: "array", items: { type: "integer" } },
      },
      required: ["name", "datatype", "shape"],
    },
    metadata_model_error_response: ERROR_RESPONSE,
    inference_request: {
      type: "object",
      properties: {
        id: { type: "string" },
        parameters: { $ref: "#/$defs/parameters" },
        inputs: { type: "array", items: { $ref: "#/$defs/request_input" } },
        outputs: { type: "array", items: { $ref: "#/$defs/request_output" } },
      },
      required: ["inputs"],
    },
    parameters: { type: "object" },
    request_input: {
      type: "object",
      properties: {
        name: { type: "string" },
        shape: { type: "array", items: { type: "integer" } },
        datatype: { type: "string" },
        parameters: { $ref: "#/$defs/parameters" },
        data: { $ref: "#/$defs/tensor_data" },
      },
      required: ["name", "shape", "datatype", "data"],
    },
    tensor_data: {
      type: "array",
      items: {
        anyOf: [
          { $ref: "#/$defs/tensor_data" },
          { type: "number" },
          { type: "string" },
          { type: "boolean" },
        ],
      },
    },
    request_output: {
      type: "object",
      properties: { name: { type: "string" }, parameters: { $ref: "#/$defs/parameters" } },
      required: ["name"],
    },
    response_output: {
      type: "object",
      properties: {
        name: { type: "string" },
        shape: { type: "array", items: { type: "integer" } },
        datatype: { type: "string" },
        parameters: { $ref: "#/$defs/parameters" },
        data: { $ref: "#/$defs/tensor_data" },
      },
      required: ["name", "shape", "datatype", "data"],
    },
    inference_response: {
      type: "object",
      properties: {
        model_name: { type: "string" },
        model_version: { type: "string" },
        id: { type: "string" },
        parameters: { $ref: "#/$defs/parameters" },
        outputs: { type: "array", items: { $ref: "#/$defs/response_output" } },
      },
      required: ["model_name", "outputs"],
    },
    inference_error_response: ERROR_RESPONSE,
  },
};

const ajv = new Ajv({ allErrors: true, strict: true });
ajv.addSchema(KSERVE_V2_SCHEMAS);
const validators = new Map<string, ValidateFunction>();

/** Asserts that `value` is valid against the spec's schema `name`. */
function assertSchema(name: keyof typeof KSERVE_V2_SCHEMAS.$defs, value: unknown) {
  let validate = validators.get(name);
  if (!validate) {
    validate = ajv.compile({ $ref: `kserve-v2#/$defs/${name}` });
    validators.set(name, validate);
  }
  assert.ok(
    validate(value),
    `not a valid ${name}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`,
  );
}

/** An error of the protocol: `status`, exactly `{ "error": "<one line>" }`, valid by `schema`. */
async function protocolError(
  res: Response,
  status: number,
  pattern: RegExp,
  schema: "metadata_server_error_response" | "metadata_model_error_response" =
    "metadata_model_error_response",
) {
  assert.equal(res.status, status, await res.clone().text());
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const json = await res.json();
  assertSchema(schema, json);
  assertSchema("inference_error_response", json);
  assert.deepEqual(Object.keys(json), ["error"]);
  assert.ok(!json.error.includes("\n"), `one line: ${json.error}`);
  assert.match(json.error, pattern);
}

await useBackend("wasm");
const dir = await Deno.makeTempDir();
await trainTinyCheckpoints(dir);
const models = await loadModels(dir);
const app = createApp(createState(models));
const version = (name: string) =>
  models.find((m) => m.name === name)!.meta.weightsSha256.slice(0, 12);

// Two 16×16 RGB images in [0, 1], the models' input size.
const pixels = Array.from(randomArray(2 * 16 * 16 * 3, 11), (v) => (v + 1) / 2);
const request = {
  id: "spec",
  inputs: [{ name: "img", shape: [2, 16, 16, 3], datatype: "FP32", data: pixels }],
};

Deno.test("the spec's schemas reject what they should (the validator is not a pass-through)", () => {
  assert.throws(() => assertSchema("metadata_server_response", { name: "x", version: "1" }));
  assert.throws(() =>
    assertSchema("metadata_tensor", { name: "x", datatype: "FP32", shape: [1.5] })
  );
  assert.throws(() =>
    assertSchema("inference_response", {
      model_name: "m",
      outputs: [{ name: "o", datatype: "FP32", shape: [1], data: [{ nested: 1 }] }],
    })
  );
  assert.throws(() => assertSchema("inference_error_response", { message: "no" }));
  assertSchema("tensor_data", [[1, 2], [3, 4]]);
  assertSchema("inference_request", request);
});

Deno.test("server metadata at GET /v2 and GET /v2/ (the spec's path), and health live/ready", async () => {
  for (const path of ["/v2", "/v2/"]) {
    const res = await app.request(path);
    assert.equal(res.status, 200, path);
    const body = await res.json();
    assertSchema("metadata_server_response", body);
    assert.equal(body.name, "symlab");
    assert.deepEqual(body.extensions, ["binary_tensor_data"]);
  }
  assert.deepEqual(await (await app.request("/v2/health/live")).json(), { live: true });
  const ready = await app.request("/v2/health/ready");
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { ready: true });
});

Deno.test("model metadata and model ready, with and without /versions/{v}", async () => {
  for (const m of models) {
    const v = version(m.name);
    const plain = await app.request(`/v2/models/${m.name}`);
    const versioned = await app.request(`/v2/models/${m.name}/versions/${v}`);
    for (const res of [plain, versioned]) {
      assert.equal(res.status, 200);
      const body = await res.json();
      assertSchema("metadata_model_response", body);
      assert.equal(body.name, m.name);
      assert.deepEqual(body.versions, [v]);
      assert.deepEqual(body.inputs, [{ name: "img", datatype: "FP32", shape: [-1, 16, 16, 3] }]);
      assert.deepEqual(body.outputs.map((o: { name: string }) => o.name), [
        "probabilities",
        "invariance",
      ]);
    }
    for (const path of [`/v2/models/${m.name}/ready`, `/v2/models/${m.name}/versions/${v}/ready`]) {
      const res = await app.request(path);
      assert.equal(res.status, 200, path);
      assert.deepEqual(await res.json(), { name: m.name, ready: true });
    }
  }
});

Deno.test("infer with and without /versions/{v}: the same answer, valid against the spec", async () => {
  assertSchema("inference_request", request);
  const post = (path: string) =>
    app.request(path, {
      method: "POST",
      body: JSON.stringify(request),
      headers: { "content-type": "application/json" },
    });
  const plain = await post("/v2/models/symmetric/infer");
  const versioned = await post(`/v2/models/symmetric/versions/${version("symmetric")}/infer`);
  const bodies = [];
  for (const res of [plain, versioned]) {
    assert.equal(res.status, 200, await res.clone().text());
    const body = await res.json();
    assertSchema("inference_response", body);
    assert.equal(body.model_name, "symmetric");
    assert.equal(body.model_version, version("symmetric"));
    assert.equal(body.id, "spec");
    bodies.push(body);
  }
  assert.deepEqual(bodies[0].outputs, bodies[1].outputs);
  // With transforms: both outputs, still valid.
  const both = await app.request("/v2/models/baseline/infer", {
    method: "POST",
    body: JSON.stringify({ ...request, parameters: { rotate: "90,45", flip: "h" } }),
  });
  const body = await both.json();
  assertSchema("inference_response", body);
  assert.deepEqual(body.outputs.map((o: { shape: number[] }) => o.shape), [[2, 10], [2, 3]]);
});

Deno.test("errors on every /v2 path are { error } (unknown paths, models, versions, methods)", async () => {
  const v = version("baseline");
  await protocolError(await app.request("/v2/nonsense"), 404, /No route GET \/v2\/nonsense/);
  await protocolError(await app.request("/v2/models"), 404, /No route GET \/v2\/models$/);
  await protocolError(
    await app.request("/v2/models/baseline/versions"),
    404,
    /No route GET \/v2\/models\/baseline\/versions$/,
  );
  await protocolError(await app.request("/v2/health/dead"), 404, /No route/);
  for (const path of ["/v2/models/resnet", "/v2/models/resnet/ready"]) {
    await protocolError(
      await app.request(path),
      404,
      /No model "resnet": serving baseline, symmetric/,
    );
  }
  for (
    const path of [
      "/v2/models/baseline/versions/000000000000",
      "/v2/models/baseline/versions/000000000000/ready",
    ]
  ) {
    await protocolError(await app.request(path), 404, /has version [0-9a-f]{12}, not 000000000000/);
  }
  // Infer answers 400 to every fault of the request, as Triton does.
  await protocolError(
    await app.request("/v2/models/resnet/infer", { method: "POST", body: "{}" }),
    400,
    /No model "resnet"/,
  );
  await protocolError(
    await app.request(`/v2/models/baseline/versions/${v}x/infer`, { method: "POST", body: "{}" }),
    400,
    new RegExp(`has version ${v}, not ${v}x`),
  );
  // Wrong methods: 405 naming the allowed one, in the protocol's shape too.
  for (
    const [method, path, allowed] of [
      ["POST", "/v2", "GET"],
      ["DELETE", "/v2/", "GET"],
      ["POST", "/v2/health/ready", "GET"],
      ["POST", "/v2/models/baseline", "GET"],
      ["PUT", `/v2/models/baseline/versions/${v}/ready`, "GET"],
      ["GET", "/v2/models/baseline/infer", "POST"],
      ["GET", `/v2/models/baseline/versions/${v}/infer`, "POST"],
    ]
  ) {
    const res = await app.request(path, { method });
    await protocolError(res, 405, new RegExp(`${method} .*: expected ${allowed}`));
    assert.equal(res.headers.get("allow"), allowed);
  }
  // Outside /v2 the server's own shape stays.
  const other = await (await app.request("/nonsense")).json();
  assert.equal(other.error.code, "not_found");
});

Deno.test("while loading and while shutting down: 503 on ready and infer, with { error } on infer", async () => {
  const loading = createApp(createState([]));
  assert.equal((await loading.request("/v2/health/ready")).status, 503);
  assert.deepEqual(await (await loading.request("/v2/health/ready")).json(), { ready: false });
  assert.equal((await loading.request("/v2/health/live")).status, 200);
  assertSchema("metadata_server_response", await (await loading.request("/v2/")).json());
  await protocolError(
    await loading.request("/v2/models/baseline/infer", { method: "POST", body: "{}" }),
    503,
    /still loading/,
  );
  await protocolError(await loading.request("/v2/models/baseline"), 404, /serving none yet/);
  const state = createState(models);
  state.draining = true;
  const stopping = createApp(state);
  const ready = await stopping.request("/v2/models/baseline/ready");
  assert.equal(ready.status, 503);
  assert.deepEqual(await ready.json(), { name: "baseline", ready: false });
  await protocolError(
    await stopping.request("/v2/models/baseline/infer", { method: "POST", body: "{}" }),
    503,
    /shutting down/,
  );
});

// ---- the binary tensor data extension ----

/** FP32 values as little-endian bytes, written here without the server's helper. */
function leFloats(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return out;
}

/**
 * A request in the extension's framing: JSON header, then `tensors`' bytes (framed by the
 * server's own binaryReply, whose framing the reply tests check independently).
 */
function framed(
  header: unknown,
  tensors: Uint8Array[],
  headerLength?: string,
): { body: Uint8Array<ArrayBuffer>; headers: Record<string, string> } {
  const { body, headerLength: length } = binaryReply(header, tensors);
  return {
    body: body as Uint8Array<ArrayBuffer>,
    headers: {
      "content-type": "application/octet-stream",
      "inference-header-content-length": headerLength ?? String(length),
    },
  };
}

const inferOn = (a: typeof app, name: string, req: ReturnType<typeof framed>) =>
  a.request(`/v2/models/${name}/infer`, { method: "POST", ...req });

/** A reply in the extension's framing: its JSON header and the bytes after it. */
async function splitReply(res: Response) {
  const length = Number(res.headers.get("inference-header-content-length"));
  assert.ok(Number.isInteger(length) && length > 0, "Inference-Header-Content-Length in the reply");
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.ok(length <= bytes.length);
  return {
    json: JSON.parse(new TextDecoder().decode(bytes.subarray(0, length))),
    binary: bytes.subarray(length),
  };
}

/** Little-endian FP32 bytes back to numbers. */
function floatsOf(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/**
 * The extension's reply output: the spec's response_output with `parameters.binary_data_size`
 * in place of `data` (Triton's and KServe's binary tensor data extension).
 */
const binaryOutput = ajv.compile({
  type: "object",
  properties: {
    name: { type: "string" },
    shape: { type: "array", items: { type: "integer" } },
    datatype: { type: "string" },
    parameters: {
      type: "object",
      properties: { binary_data_size: { type: "integer", minimum: 0 } },
      required: ["binary_data_size"],
    },
    data: false, // the bytes are after the JSON instead
  },
  required: ["name", "shape", "datatype", "parameters"],
});

/** The reply header: the spec's inference_response with any output binary or JSON. */
function assertBinaryReply(json: { outputs: unknown[] }) {
  assertSchema("inference_response", { ...json, outputs: [] });
  for (const o of json.outputs) {
    if (binaryOutput(o)) continue;
    assertSchema("response_output", o);
  }
}

Deno.test("binary FP32 and UINT8 inputs give exactly the answers of the same tensors as JSON", async () => {
  const shape = [2, 16, 16, 3];
  const asJson = await (await app.request("/v2/models/baseline/infer", {
    method: "POST",
    body: JSON.stringify({ inputs: [{ name: "img", shape, datatype: "FP32", data: pixels }] }),
  })).json();
  const bytes = leFloats(pixels);
  const res = await inferOn(
    app,
    "baseline",
    framed({
      id: "b",
      inputs: [{
        name: "img",
        shape,
        datatype: "FP32",
        parameters: { binary_data_size: bytes.length },
      }],
    }, [bytes]),
  );
  assert.equal(res.status, 200, await res.clone().text());
  // No binary output asked for: the reply is plain JSON.
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  assert.equal(res.headers.get("inference-header-content-length"), null);
  const body = await res.json();
  assertSchema("inference_response", body);
  assert.equal(body.id, "b");
  assert.deepEqual(body.outputs, asJson.outputs);
  // UINT8 at another size (resized as /classify resizes), with transforms.
  const [h, w] = [20, 24];
  const u8 = new Uint8Array(h * w * 3).map((_, i) => (i * 37 + (i % 7) * 11) % 256);
  const input = { name: "img", shape: [1, h, w, 3], datatype: "UINT8" };
  const parameters = { rotate: "90,33", flip: "h" };
  const viaJson = await (await app.request("/v2/models/symmetric/infer", {
    method: "POST",
    body: JSON.stringify({ parameters, inputs: [{ ...input, data: Array.from(u8) }] }),
  })).json();
  const viaBinary = await (await inferOn(
    app,
    "symmetric",
    framed({ parameters, inputs: [{ ...input, parameters: { binary_data_size: u8.length } }] }, [
      u8,
    ]),
  )).json();
  assert.deepEqual(viaBinary.outputs, viaJson.outputs);
  assert.deepEqual(viaBinary.outputs.map((o: { shape: number[] }) => o.shape), [[1, 10], [1, 3]]);
  // The header may also cover the whole body with the tensor as JSON data.
  const whole = await inferOn(
    app,
    "baseline",
    framed({ inputs: [{ name: "img", shape, datatype: "FP32", data: pixels }] }, []),
  );
  assert.deepEqual((await whole.json()).outputs, asJson.outputs);
});

Deno.test("binary outputs: binary_data_output for all, binary_data per output, the reply's framing", async () => {
  const shape = [2, 16, 16, 3];
  const inputs = [{ name: "img", shape, datatype: "FP32", data: pixels }];
  const parameters = { rotate: "90,180" };
  const asJson = await (await app.request("/v2/models/symmetric/infer", {
    method: "POST",
    body: JSON.stringify({ parameters, inputs }),
  })).json();
  const [probs, inv] = asJson.outputs;
  // Every output as bytes.
  const all = await app.request("/v2/models/symmetric/infer", {
    method: "POST",
    body: JSON.stringify({ parameters: { ...parameters, binary_data_output: true }, inputs }),
  });
  assert.equal(all.status, 200, await all.clone().text());
  assert.equal(all.headers.get("content-type"), "application/octet-stream");
  const a = await splitReply(all);
  assertBinaryReply(a.json);
  assert.deepEqual(a.json.outputs, [
    {
      name: "probabilities",
      datatype: "FP32",
      shape: [2, 10],
      parameters: { binary_data_size: 80 },
    },
    { name: "invariance", datatype: "FP32", shape: [2, 2], parameters: { binary_data_size: 16 } },
  ]);
  assert.equal(a.binary.length, 96);
  // The same float32 values as the JSON reply (which prints them as doubles).
  assert.deepEqual(floatsOf(a.binary.subarray(0, 80)), probs.data.map(Math.fround));
  assert.deepEqual(floatsOf(a.binary.subarray(80)), inv.data.map(Math.fround));
  // Per output, overriding the request's default: invariance as bytes, probabilities as JSON.
  const bytes = leFloats(pixels);
  const mixed = await inferOn(
    app,
    "symmetric",
    framed({
      parameters: { ...parameters, binary_data_output: true },
      inputs: [{ name: "img", shape, datatype: "FP32", parameters: { binary_data_size: 6144 } }],
      outputs: [
        { name: "probabilities", parameters: { binary_data: false } },
        { name: "invariance", parameters: { binary_data: true } },
      ],
    }, [bytes]),
  );
  const m = await splitReply(mixed);
  assertBinaryReply(m.json);
  assert.deepEqual(m.json.outputs[0], probs);
  assert.deepEqual(m.json.outputs[1].parameters, { binary_data_size: 16 });
  assert.deepEqual(floatsOf(m.binary), inv.data.map(Math.fround));
  // binary_data: false everywhere: a plain JSON reply.
  const none = await app.request("/v2/models/symmetric/infer", {
    method: "POST",
    body: JSON.stringify({
      inputs,
      outputs: [{ name: "probabilities", parameters: { binary_data: false } }],
    }),
  });
  assert.match(none.headers.get("content-type") ?? "", /application\/json/);
  assert.deepEqual((await none.json()).outputs, [probs]);
});

Deno.test("binary framing errors: one line, HTTP 400, naming what was expected", async () => {
  const shape = [1, 16, 16, 3];
  const one = leFloats(pixels.slice(0, 768)); // 3072 bytes
  const header = (size: unknown, extra: Record<string, unknown> = {}) => ({
    inputs: [{ name: "img", shape, datatype: "FP32", parameters: { binary_data_size: size } }],
    ...extra,
  });
  const ok = framed(header(3072), [one]);
  assert.equal((await inferOn(app, "baseline", ok)).status, 200);
  const jsonLength = Number(ok.headers["inference-header-content-length"]);
  const cases: [ReturnType<typeof framed>, RegExp][] = [
    [
      framed(header(3072), [one], "abc"),
      /Inference-Header-Content-Length: expected the JSON header's length as a whole number of bytes, got "abc"/,
    ],
    [framed(header(3072), [one], "-5"), /as a whole number of bytes, got "-5"/],
    [framed(header(3072), [one], "12.5"), /as a whole number of bytes, got "12\.5"/],
    [
      framed(header(3072), [one], "999999"),
      new RegExp(`999999 bytes is past the end of the ${jsonLength + 3072}-byte body`),
    ],
    [
      framed(header(3072), [one], String(jsonLength - 5)),
      new RegExp(`Expected a JSON inference request in the first ${jsonLength - 5} bytes`),
    ],
    [
      framed(header(3000), [one.subarray(0, 3000)]),
      /inputs\[0\]\.parameters\.binary_data_size: expected 768 elements × 4 bytes = 3072 bytes for its shape and FP32, got 3000 bytes/,
    ],
    [
      framed({ inputs: [{ ...header(3072).inputs[0], datatype: "UINT8" }] }, [one]),
      /expected 768 elements × 1 bytes = 768 bytes for its shape and UINT8, got 3072 bytes/,
    ],
    [
      framed(header(3072), [one, new Uint8Array(8)]),
      /the inputs' binary_data_size add up to 3072 bytes, but 3080 bytes follow the JSON header/,
    ],
    [
      framed(header(3072), [one.subarray(0, 100)]),
      /add up to 3072 bytes, but 100 bytes follow/,
    ],
    [
      framed({ inputs: [{ name: "img", shape, datatype: "FP32", data: pixels.slice(0, 768) }] }, [
        new Uint8Array(4),
      ]),
      /add up to 0 bytes, but 4 bytes follow/,
    ],
    [
      framed(header("3072"), [one]),
      /binary_data_size: expected a whole number of bytes, got "3072"/,
    ],
    [framed(header(1.5), [one]), /binary_data_size: expected a whole number of bytes, got 1\.5/],
    [framed(header(-4), [one]), /binary_data_size: expected a whole number of bytes, got -4/],
    [
      framed({ inputs: [{ ...header(3072).inputs[0], data: pixels.slice(0, 768) }] }, [one]),
      /inputs\[0\]: expected data or parameters\.binary_data_size, not both/,
    ],
    [
      framed(header(3072), [leFloats([...pixels.slice(0, 767), NaN])]),
      /inputs\[0\]\.data\[767\]: expected a number in \[0, 1\] for FP32, got NaN/,
    ],
    [
      framed(header(3072), [leFloats([2, ...pixels.slice(1, 768)])]),
      /inputs\[0\]\.data\[0\]: expected a number in \[0, 1\] for FP32, got 2/,
    ],
    [
      framed(header(3072, { parameters: { binary_data_output: "yes" } }), [one]),
      /parameters\.binary_data_output: expected true or false, got "yes"/,
    ],
    [
      framed(
        header(3072, { outputs: [{ name: "probabilities", parameters: { binary_data: 1 } }] }),
        [
          one,
        ],
      ),
      /outputs\[0\]\.parameters\.binary_data: expected true or false, got 1/,
    ],
    [
      framed({
        inputs: [{ name: "img", shape, datatype: "INT64", parameters: { binary_data_size: 6144 } }],
      }, [
        new Uint8Array(6144),
      ]),
      /expected FP32 \(in \[0, 1\]\) or UINT8, got INT64/,
    ],
  ];
  for (const [req, pattern] of cases) {
    await protocolError(await inferOn(app, "baseline", req), 400, pattern);
  }
  // Without the header, binary_data_size has nothing to point into.
  await protocolError(
    await app.request("/v2/models/baseline/infer", {
      method: "POST",
      body: JSON.stringify(header(3072)),
    }),
    400,
    /binary_data_size is given but the request has no Inference-Header-Content-Length header/,
  );
  assert.equal((await inferOn(app, "baseline", ok)).status, 200, "still serving");
});

Deno.test("binary requests keep the JSON limits: body bytes, pixels per image, images per call", async () => {
  const small = createApp(
    createState(models, { maxBodyBytes: 20_000, maxPixels: 4096, maxBatchImages: 4 }),
  );
  const u8 = (n: number, h: number, w: number) => {
    const bytes = new Uint8Array(n * h * w * 3).fill(128);
    return framed({
      inputs: [{
        name: "img",
        shape: [n, h, w, 3],
        datatype: "UINT8",
        parameters: { binary_data_size: bytes.length },
      }],
    }, [bytes]);
  };
  assert.equal((await inferOn(small, "baseline", u8(4, 16, 16))).status, 200);
  // Declared by Content-Length: refused before the body is read.
  const big = u8(1, 90, 90);
  await protocolError(
    await small.request("/v2/models/baseline/infer", {
      method: "POST",
      body: big.body,
      headers: { ...big.headers, "content-length": String(big.body.length) },
    }),
    400,
    new RegExp(`Request body of ${big.body.length} bytes is over the limit of 20000 bytes`),
  );
  // The same, streamed without a Content-Length: the byte count while reading stops it.
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(big.body);
      controller.close();
    },
  });
  await protocolError(
    await small.request("/v2/models/baseline/infer", {
      method: "POST",
      body: stream,
      headers: big.headers,
    }),
    400,
    /Request body is over the limit of 20000 bytes/,
  );
  await protocolError(
    await inferOn(small, "baseline", u8(1, 65, 65)),
    400,
    /65×65 pixels per image is over the limit of 4096/,
  );
  await protocolError(
    await inferOn(small, "baseline", u8(5, 8, 8)),
    400,
    /5 image\(s\) × \(1 \+ 0 transforms\) = 5 is over the limit of 4 images per request/,
  );
});
