/**
 * Model metadata: `GET /models`, and the KServe v2 aliases `GET /v2/models/{name}` and
 * `GET /v2/models/{name}/ready`.
 *
 * @module
 */
import { Hono } from "hono";
import * as tf from "@tensorflow/tfjs";
import type { LoadedModel } from "../lib/model/checkpoint.ts";
import type { ServerState } from "./state.ts";
import { HttpError } from "./errors.ts";

function describe(m: LoadedModel) {
  const last = m.meta.history.at(-1) ?? null;
  return {
    name: m.name,
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
        inputs: [{ name: "img", datatype: "FP32", shape: [-1, ...m.inputSize, m.channels] }],
        outputs: [{
          name: "probabilities",
          datatype: "FP32",
          shape: [-1, m.meta.dataset.classNames.length],
        }],
      });
    })
    .get("/v2/models/:name/ready", (c) => {
      find(c.req.param("name"));
      return c.json({ name: c.req.param("name"), ready: true });
    });
}
