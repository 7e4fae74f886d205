/**
 * The Open Inference Protocol's (KServe v2) server metadata and inference routes:
 *
 * - `GET /v2`: `{ name, version, extensions }`.
 * - `POST /v2/models/{name}[/versions/{version}]/infer` with the protocol's JSON request
 *   `{ id?, parameters?, inputs: [{ name: "img", shape, datatype, data }], outputs? }`:
 *   - `datatype` `FP32` (values in [0, 1]) or `UINT8` (0–255), `shape` `[N, H, W, C]` or
 *     `[H, W, C]` (NHWC, C = 1 grey or 3 RGB), `data` in row-major order, flat or nested;
 *   - at the model's input size an FP32 image is used as it is; any other size is resized as
 *     `/classify` resizes an upload (8-bit pixels, area averaging / bilinear; FP32 values are
 *     first rounded to 8 bits), and RGB becomes grey for a grey model (BT.601 luma);
 *   - `parameters.rotate` / `parameters.scale` / `parameters.flip`: comma-separated angles /
 *     zoom factors / mirrors (`h`, `v`), as in `/classify`'s query (a parameter value is a
 *     string, number or boolean in the protocol).
 *
 *   The response is `{ model_name, model_version, id, parameters?, outputs }` with
 *   `probabilities` (`FP32 [N, classes]`) and, when transforms were asked for, `invariance`
 *   (`FP32 [N, T]`, `1 − JSD(p, q)` per image and transform, in the order of
 *   `parameters.transforms`). A request's `outputs` picks among them. The request `id` is
 *   echoed (a fresh UUID when it has none).
 * - The binary tensor data extension (lib/serve/binary_tensor.ts; `binary_tensor_data` in `GET
 *   /v2`'s `extensions`): with an `Inference-Header-Content-Length` header the body is that many
 *   bytes of JSON, then the input's raw little-endian bytes (`parameters.binary_data_size`
 *   instead of `data`; FP32 or UINT8, the same checks as JSON values). An output with
 *   `parameters.binary_data: true`, or every output with the request's
 *   `parameters.binary_data_output: true`, comes back as bytes after the JSON reply, with
 *   `parameters.binary_data_size` in place of `data` and the reply's own
 *   `Inference-Header-Content-Length` (Content-Type `application/octet-stream`).
 *
 * Errors are the protocol's `{ "error": "<message>" }`: HTTP 400 for everything about the
 * request (unknown model included, as Triton answers, and the limits of `/classify`: body
 * bytes, pixels per image, images per model call), 503 while loading, shutting down or when
 * the queue is full.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import denoJson from "../deno.json" with { type: "json" };
import type { DecodedImage } from "../lib/image/decode.ts";
import { LUMA_BT601 } from "../lib/image/resample.ts";
import type { LoadedModel } from "../lib/model/checkpoint.ts";
import {
  type BinaryDatatype,
  binaryInputs,
  binaryReply,
  fp32Bytes,
  HEADER_LENGTH,
  readTensor,
  splitBody,
} from "../lib/serve/binary_tensor.ts";
import { type ClassifyJob, type Transform } from "../lib/serve/classify.ts";
import { HttpError, readLimited, TransformFields, transformsOf } from "../lib/serve/request.ts";
import { protocolError } from "./errors.ts";
import { limitDeclaredBody, requireReady, resolveModel, type Served } from "./guards.ts";
import type { ServerState } from "./state.ts";

/** The server's name and version in `GET /v2`. */
export const SERVER_METADATA = {
  name: "symlab",
  version: (denoJson as { version?: string }).version ?? "unversioned",
  extensions: ["binary_tensor_data"],
};

const Parameter = z.union([z.string(), z.number(), z.boolean()]);

const InferRequest = z.object({
  id: z.string().max(1000).optional(),
  parameters: z.record(z.string(), Parameter).optional(),
  inputs: z.array(
    z.object({
      name: z.string(),
      shape: z.array(z.number().int().min(0)),
      datatype: z.string(),
      parameters: z.record(z.string(), Parameter).optional(),
      data: z.array(z.unknown()).optional(),
    }).strict(),
  ).min(1),
  outputs: z.array(
    z.object({
      name: z.string(),
      parameters: z.record(z.string(), Parameter).optional(),
    }).strict(),
  ).optional(),
}).strict();

/** A request error: always HTTP 400 on these routes. */
const bad = (message: string) => new HttpError(400, "bad_request", message);

function zodMessage(issue: z.core.$ZodIssue): string {
  const where = issue.path.join(".");
  if (issue.code === "unrecognized_keys") {
    return `${where ? where + ": " : ""}unexpected field(s) ${issue.keys.join(", ")}`;
  }
  return `${where || "request"}: ${issue.message}`;
}

/**
 * Row-major elements of `data` for `shape`: either flat (`prod(shape)` numbers) or nested
 * exactly as `shape` says, as the protocol allows both.
 */
export function flattenTensor(data: unknown[], shape: number[]): number[] {
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length === count && data.every((v) => typeof v === "number")) return data as number[];
  const out: number[] = [];
  const walk = (d: unknown, axis: number, at: string) => {
    if (axis === shape.length) {
      if (typeof d !== "number") {
        throw bad(`data${at}: expected a number, got ${JSON.stringify(d)}`);
      }
      out.push(d);
      return;
    }
    if (!Array.isArray(d) || d.length !== shape[axis]) {
      throw bad(
        `data${at}: expected ${count} numbers flat, or nested as shape [${shape}] (${
          shape[axis]
        } at axis ${axis}), got ${Array.isArray(d) ? `${d.length} entries` : JSON.stringify(d)}`,
      );
    }
    d.forEach((v, i) => walk(v, axis + 1, `${at}[${i}]`));
  };
  walk(data, 0, "");
  return out;
}

/**
 * Transforms from `parameters.rotate` / `scale` / `flip`, validated as `/classify`'s query.
 */
function parameterTransforms(
  parameters: Record<string, z.infer<typeof Parameter>> = {},
): Transform[] {
  const known = ["rotate", "scale", "flip", "binary_data_output"];
  const unknown = Object.keys(parameters).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw bad(
      `parameters: expected rotate, scale, flip and/or binary_data_output, got ${
        unknown.join(", ")
      }`,
    );
  }
  const raw = Object.fromEntries(
    Object.entries(parameters).filter(([k]) => k !== "binary_data_output")
      .map(([k, v]) => [k, String(v)]),
  );
  const parsed = z.object(TransformFields).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.join(".");
    throw bad(
      `parameters.${
        issue.message.startsWith(field) ? issue.message : field + ": " + issue.message
      }`,
    );
  }
  const transforms = transformsOf(parsed.data);
  if (transforms.length > 32) {
    throw bad(`parameters: expected at most 32 transforms, got ${transforms.length}`);
  }
  return transforms;
}

/** A boolean parameter (`binary_data`, `binary_data_output`); `fallback` when absent. */
function flag(value: unknown, where: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw bad(`${where}: expected true or false, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The images of a validated input tensor, one job image each; `binary` is its bytes when it
 * came by the binary tensor data extension.
 */
function imagesOf(
  input: z.infer<typeof InferRequest>["inputs"][number],
  served: LoadedModel,
  maxPixels: number,
  binary: Uint8Array | undefined,
): ClassifyJob["image"][] {
  const [mh, mw] = served.inputSize;
  const mc = served.channels as 1 | 3;
  const expected =
    `[N, H, W, C] or [H, W, C] with C = 1 or 3 (this model: [-1, ${mh}, ${mw}, ${mc}])`;
  if (input.shape.length !== 3 && input.shape.length !== 4) {
    throw bad(`inputs[0].shape: expected ${expected}, got [${input.shape}]`);
  }
  const [n, h, w, c] = input.shape.length === 4 ? input.shape : [1, ...input.shape];
  if (n < 1 || h < 1 || w < 1 || (c !== 1 && c !== 3)) {
    throw bad(`inputs[0].shape: expected ${expected}, got [${input.shape}]`);
  }
  if (h * w > maxPixels) {
    throw bad(`inputs[0].shape: ${w}×${h} pixels per image is over the limit of ${maxPixels}`);
  }
  if (input.datatype !== "FP32" && input.datatype !== "UINT8") {
    throw bad(`inputs[0].datatype: expected FP32 (in [0, 1]) or UINT8, got ${input.datatype}`);
  }
  if (input.data !== undefined && binary !== undefined) {
    throw bad("inputs[0]: expected data or parameters.binary_data_size, not both");
  }
  const count = input.shape.reduce((a, b) => a * b, 1);
  let values: number[] | Float32Array | Uint8Array;
  if (binary !== undefined) {
    values = readTensor(binary, input.datatype as BinaryDatatype, count, "inputs[0]");
  } else if (input.data !== undefined) values = flattenTensor(input.data, input.shape);
  else {
    throw bad(
      `inputs[0].data: expected the tensor as JSON, or parameters.binary_data_size with its bytes after the JSON header (${HEADER_LENGTH})`,
    );
  }
  const fp32 = input.datatype === "FP32";
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const ok = fp32 ? v >= 0 && v <= 1 : Number.isInteger(v) && v >= 0 && v <= 255;
    if (!ok) {
      throw bad(
        `inputs[0].data[${i}]: expected ${
          fp32 ? "a number in [0, 1]" : "an integer in 0–255"
        } for ${input.datatype}, got ${v}`,
      );
    }
  }
  const size = h * w * c;
  return Array.from({ length: n }, (_, b) => {
    const px = values.slice(b * size, (b + 1) * size);
    if (fp32 && h === mh && w === mw) {
      // At the model's size the FP32 values are the model input (only channels may change).
      const data = new Float32Array(h * w * mc);
      for (let p = 0; p < h * w; p++) {
        if (c === mc) { for (let k = 0; k < c; k++) data[p * c + k] = px[p * c + k]; }
        else if (mc === 1) {
          const [r, g, b] = LUMA_BT601;
          data[p] = r * px[3 * p] + g * px[3 * p + 1] + b * px[3 * p + 2];
        } else data.fill(px[p], 3 * p, 3 * p + 3);
      }
      return { data, height: h, width: w, channels: mc };
    }
    // Any other size: 8-bit RGB, resized by classifyBatch exactly as an upload to /classify.
    const rgb = new Uint8Array(h * w * 3);
    for (let p = 0; p < h * w; p++) {
      for (let k = 0; k < 3; k++) {
        const v = px[p * c + (c === 3 ? k : 0)];
        rgb[3 * p + k] = fp32 ? Math.round(v * 255) : v;
      }
    }
    // sourceType is only reported by /classify; these pixels never were a file.
    const image: DecodedImage = { data: rgb, width: w, height: h, sourceType: "png" };
    return image;
  });
}

async function infer(c: Context<Served>, state: ServerState): Promise<Response> {
  const { served, version } = c.var;
  const { limits } = state;
  const body = await readLimited(c.req.raw.body, limits.maxBodyBytes, limits.bodyTimeoutMs);
  const split = splitBody(body, c.req.header(HEADER_LENGTH));
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(split.json));
  } catch (e) {
    throw bad(
      `Expected a JSON inference request${
        split.binary ? ` in the first ${split.json.length} bytes (${HEADER_LENGTH})` : ""
      }: ${(e as Error).message}`,
    );
  }
  const parsed = InferRequest.safeParse(json);
  if (!parsed.success) throw bad(zodMessage(parsed.error.issues[0]));
  const request = parsed.data;
  if (request.inputs.length !== 1 || request.inputs[0].name !== "img") {
    throw bad(
      `inputs: expected one tensor named "img", got ${
        request.inputs.map((i) => JSON.stringify(i.name)).join(", ")
      }`,
    );
  }
  const [binary] = binaryInputs(
    request.inputs.map((i) => i.parameters?.binary_data_size),
    split.binary,
  );
  const transforms = parameterTransforms(request.parameters);
  const allBinary = flag(
    request.parameters?.binary_data_output,
    "parameters.binary_data_output",
    false,
  );
  const images = imagesOf(request.inputs[0], served, limits.maxPixels, binary);
  const perCall = images.length * (1 + transforms.length);
  if (perCall > limits.maxBatchImages) {
    throw bad(
      `${images.length} image(s) × (1 + ${transforms.length} transforms) = ${perCall} is over the limit of ${limits.maxBatchImages} images per request`,
    );
  }
  const available = transforms.length > 0 ? ["probabilities", "invariance"] : ["probabilities"];
  const wanted = request.outputs?.map((o, i) => ({
    name: o.name,
    binary: flag(o.parameters?.binary_data, `outputs[${i}].parameters.binary_data`, allBinary),
  })) ?? available.map((name) => ({ name, binary: allBinary }));
  const missing = wanted.map((o) => o.name).filter((o) => !available.includes(o));
  if (missing.length > 0) {
    throw bad(
      `outputs: expected ${available.join(" or ")}${
        missing.includes("invariance") ? " (invariance needs parameters.rotate, scale or flip)" : ""
      }, got ${missing.join(", ")}`,
    );
  }
  const jobs = images.map((image) => ({
    image,
    models: [served],
    transforms,
    k: 1,
    probabilities: true,
  }));
  // Through the queue's one worker: one model call over the request's whole batch, together
  // with the requests (JSON or multipart) waiting beside it.
  const results = await state.queue.classifyJobs(jobs);
  const n = images.length, classes = served.meta.dataset.classNames.length;
  const tensors: Record<string, { shape: number[]; data: number[] }> = {
    probabilities: { shape: [n, classes], data: results.flatMap(([r]) => r.probabilities!) },
    invariance: {
      shape: [n, transforms.length],
      data: results.flatMap(([r]) => r.transforms.map((t) => t.invariance)),
    },
  };
  const reply = {
    model_name: served.name,
    model_version: version,
    id: request.id ?? crypto.randomUUID(),
    ...(transforms.length
      ? { parameters: { transforms: transforms.map((t) => `${t.kind}:${t.value}`).join(",") } }
      : {}),
    outputs: wanted.map(({ name, binary }) => {
      const { shape, data } = tensors[name];
      return binary
        ? { name, datatype: "FP32", shape, parameters: { binary_data_size: data.length * 4 } }
        : { name, datatype: "FP32", shape, data };
    }),
  };
  if (!wanted.some((o) => o.binary)) return c.json(reply);
  // The extension's framing: the JSON header, then each binary output's bytes in order.
  const framed = binaryReply(
    reply,
    wanted.filter((o) => o.binary).map((o) => fp32Bytes(tensors[o.name].data)),
  );
  return c.body(framed.body as Uint8Array<ArrayBuffer>, 200, {
    "content-type": "application/octet-stream",
    [HEADER_LENGTH]: String(framed.headerLength),
  });
}

/** `GET /v2` and `POST /v2/models/{name}[/versions/{version}]/infer` over the server's state. */
export function inferRoutes(state: ServerState): Hono {
  const chain = [requireReady(state), resolveModel(state), limitDeclaredBody(state)] as const;
  const handle = (c: Context<Served>) => infer(c, state);
  return new Hono<Served>()
    // The spec's path is /v2/; clients also ask /v2.
    .get("/v2", (c) => c.json(SERVER_METADATA))
    .get("/v2/", (c) => c.json(SERVER_METADATA))
    .post("/v2/models/:name/infer", ...chain, handle)
    .post("/v2/models/:name/versions/:version/infer", ...chain, handle)
    // Every fault of the request is 400, as Triton answers.
    .onError((e, c) => protocolError(e, c, 400)) as unknown as Hono;
}
