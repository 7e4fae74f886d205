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
import { createApp, createState } from "../routes/app.ts";
import { randomArray, useBackend } from "./helpers.ts";
import { trainTinyCheckpoints } from "./server_fixtures.ts";

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
    metadata_server_error_response: {
      type: "object",
      properties: { error: { type: "string" } },
      required: ["error"],
    },
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
    metadata_model_error_response: {
      type: "object",
      properties: { error: { type: "string" } },
      required: ["error"],
    },
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
    inference_error_response: {
      type: "object",
      properties: { error: { type: "string" } },
      required: ["error"],
    },
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
    assert.deepEqual(body.extensions, []);
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
