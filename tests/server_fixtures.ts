/** Shared by the server tests: checkpoints trained by the tests, and images made in code. */
import * as tf from "@tensorflow/tfjs";
import { encode as encodePng } from "fast-png";
import { saveCheckpoint } from "../lib/checkpoint.ts";
import { countParams, createModel, modelConfig, type ModelName } from "../lib/models.ts";
import { randomArray } from "./helpers.ts";

/** Trains tiny models a few steps on random data and saves them under `dir/<name>`. */
export async function trainTinyCheckpoints(dir: string): Promise<void> {
  const x = tf.tensor4d(randomArray(16 * 16 * 16 * 3, 1).map((v) => (v + 1) / 2), [16, 16, 16, 3]);
  const y = tf.oneHot(tf.tensor1d([...Array(16).keys()].map((i) => i % 10), "int32"), 10);
  for (const name of ["baseline", "symmetric"] as ModelName[]) {
    const config = modelConfig(name, { preset: "tiny", numClasses: 10, seed: 3 });
    const model = createModel(name, { preset: "tiny", numClasses: 10, seed: 3 });
    const opt = tf.train.adam(0.01);
    for (let i = 0; i < 5; i++) {
      opt.minimize(() =>
        tf.losses.softmaxCrossEntropy(
          y,
          model.apply(x, { training: true }) as tf.Tensor,
        ) as tf.Scalar
      );
    }
    await saveCheckpoint(`${dir}/${name}`, model, {
      meta: {
        model: name,
        config,
        dataset: {
          name: "synthetic",
          source: "test",
          classNames: [...Array(10).keys()].map((i) => `c${i}`),
        },
        epoch: 1,
        history: [{ epoch: 1, testAcc: 0.1 }],
        backend: "wasm",
        params: countParams(model),
        training: { inputSize: [16, 16] },
      },
    });
  }
}

/** An RGB PNG of w×h with a deterministic, orientation-revealing pattern. */
export function testPng(w = 24, h = 24): Uint8Array {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      data[o] = (x * 10) % 256;
      data[o + 1] = (y * 7 + (x > w / 2 ? 120 : 0)) % 256;
      data[o + 2] = x < w / 3 && y < h / 3 ? 255 : 30;
    }
  }
  return encodePng({ width: w, height: h, data, channels: 3, depth: 8 });
}

/** A multipart body with the file in field `img`. */
export function multipart(bytes: Uint8Array, field = "img"): FormData {
  const form = new FormData();
  form.append(
    field,
    new File([bytes as Uint8Array<ArrayBuffer>], "upload.png", { type: "image/png" }),
  );
  return form;
}
