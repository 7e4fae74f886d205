/**
 * Model metadata: `GET /models` (every loaded model with its symmetry group from the model
 * registry), and the Open Inference Protocol's (KServe v2) `GET /v2/models/{name}` and
 * `GET /v2/models/{name}/versions/{version}` (inputs, and the outputs `probabilities [-1,
 * classes]` and `invariance [-1, -1]`: one score per requested transform), `GET
 * /v2/models/{name}[/versions/{version}]/ready`. A model's one version is the first 12 hex digits
 * of its weights' hash; another version is 404 like an unknown model, in the protocol's
 * `{ "error": "..." }` shape (routes/errors.ts).
 *
 * @module
 */
import { type Context, Hono } from "hono";
import * as tf from "@tensorflow/tfjs";
import type { LoadedModel } from "../lib/model/checkpoint.ts";
import { MODELS } from "../lib/model/models.ts";
import { isReady, modelVersion, resolveModel, type Served } from "./guards.ts";
import type { ServerState } from "./state.ts";

function describe(m: LoadedModel) {
  const last = m.meta.history.at(-1) ?? null;
  return {
    name: m.name,
    group: MODELS[m.name].group,
    preset: m.meta.config.preset,
    parameters: m.params,
    dataset: m.meta.dataset.name,
    datasetSource: m.meta.dataset.source,
    classes: m.meta.dataset.classNames.length,
    classNames: m.meta.dataset.classNames,
    inputSize: [...m.inputSize, m.channels],
    epoch: m.meta.epoch,
    metrics: last,
    trainedOn: m.meta.backend,
    backend: tf.getBackend(),
    checkpoint: { dir: m.dir, weightsSha256: m.meta.weightsSha256, createdAt: m.meta.createdAt },
  };
}

/** The protocol's model metadata (GET /v2/models/{name}[/versions/{version}]). */
function metadata(m: LoadedModel) {
  return {
    name: m.name,
    versions: [modelVersion(m)],
    platform: "tfjs-layers",
    // Not in the protocol's metadata schema, which allows extra fields: what a client
    // choosing among the models wants to know (the same text as /models).
    parameters: { group: MODELS[m.name].group },
    inputs: [{ name: "img", datatype: "FP32", shape: [-1, ...m.inputSize, m.channels] }],
    outputs: [
      {
        name: "probabilities",
        datatype: "FP32",
        shape: [-1, m.meta.dataset.classNames.length],
      },
      // Only returned when the request's parameters ask for transforms: T of them, 1 − JSD.
      { name: "invariance", datatype: "FP32", shape: [-1, -1] },
    ],
  };
}

/** Model routes over the server's state. */
export function modelRoutes(state: ServerState): Hono {
  const find = resolveModel(state);
  const describeServed = (c: Context<Served>) => c.json(metadata(c.var.served));
  // Ready while the server is (not once shutdown has begun): 200, else 503, as the probes read.
  const ready = (c: Context<Served>) =>
    c.json({ name: c.var.served.name, ready: isReady(state) }, isReady(state) ? 200 : 503);
  return new Hono<Served>()
    .get("/models", (c) => c.json({ models: state.models.map(describe) }))
    .get("/v2/models/:name", find, describeServed)
    .get("/v2/models/:name/versions/:version", find, describeServed)
    .get("/v2/models/:name/ready", find, ready)
    .get("/v2/models/:name/versions/:version/ready", find, ready) as unknown as Hono;
}
