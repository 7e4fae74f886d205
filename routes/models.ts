/**
 * Model metadata: `GET /models` (every loaded model with its symmetry group from the model
 * registry), and the KServe v2 aliases `GET /v2/models/{name}` (inputs, and the outputs
 * `probabilities [-1, classes]` and `invariance [-1, -1]`: one score per requested transform)
 * and `GET /v2/models/{name}/ready`.
 *
 * @module
 */
import { Hono } from "hono";
import * as tf from "@tensorflow/tfjs";
import type { LoadedModel } from "../lib/model/checkpoint.ts";
import { MODELS } from "../lib/model/models.ts";
import type { ServerState } from "./state.ts";
import { HttpError } from "./errors.ts";

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

/** Model routes over the server's state. */
export function modelRoutes(state: ServerState): Hono {
  const find = (name: string) => {
    const m = state.models.find((m) => m.name === name);
    if (!m) {
      throw new HttpError(
        404,
        "unknown_model",
        `No model "${name}": serving ${state.models.map((m) => m.name).join(", ") || "none yet"}`,
      );
    }
    return m;
  };
  return new Hono()
    .get("/models", (c) => c.json({ models: state.models.map(describe) }))
    .get("/v2/models/:name", (c) => {
      const m = find(c.req.param("name"));
      return c.json({
        name: m.name,
        versions: [m.meta.weightsSha256.slice(0, 12)],
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
      });
    })
    .get("/v2/models/:name/ready", (c) => {
      find(c.req.param("name"));
      return c.json({ name: c.req.param("name"), ready: true });
    });
}
