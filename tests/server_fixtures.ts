/** Shared by the server tests: checkpoints trained by the tests, and images made in code. */
import * as tf from "@tensorflow/tfjs";
import { encode as encodePng } from "fast-png";
import { crc32 } from "node:zlib";
import { saveCheckpoint } from "../lib/model/checkpoint.ts";
import { countParams, createModel, modelConfig, type ModelName } from "../lib/model/models.ts";
import { randomArray } from "./helpers.ts";

/** Options of {@linkcode trainTinyCheckpoints}. */
export interface TinyOptions {
  /** Input channels: 3 (RGB, default) or 1 (grey, like Fashion-MNIST). */
  channels?: 1 | 3;
  /**
   * A fixed input side written into the model config (`inputShape [s, s, c]`) and no
   * `meta.training.inputSize`; default: any size, trained and recorded at 16×16.
   */
  fixedSide?: number;
  models?: ModelName[];
}

/**
 * Trains tiny models a few Adam steps on random data and saves them under `dir/<name>`, as
 * `deno task train` would (class names c0…c9, one epoch of history).
 */
export async function trainTinyCheckpoints(dir: string, options: TinyOptions = {}): Promise<void> {
  const { channels = 3, fixedSide, models = ["baseline", "symmetric"] } = options;
  const side = fixedSide ?? 16;
  const n = 16;
  const x = tf.tensor4d(
    randomArray(n * side * side * channels, 1).map((v) => (v + 1) / 2),
    [n, side, side, channels],
  );
  const y = tf.oneHot(tf.tensor1d([...Array(n).keys()].map((i) => i % 10), "int32"), 10);
  for (const name of models) {
    const opts = {
      preset: "tiny",
      numClasses: 10,
      seed: 3,
      inputShape: [fixedSide ?? null, fixedSide ?? null, channels] as [
        number | null,
        number | null,
        number,
      ],
    };
    const config = modelConfig(name, opts);
    const model = createModel(name, opts);
    const opt = tf.train.adam(0.01);
    for (let i = 0; i < 5; i++) {
      opt.minimize(() =>
        tf.losses.softmaxCrossEntropy(
          y,
          model.apply(x, { training: true }) as tf.Tensor,
        ) as tf.Scalar
      );
    }
    opt.dispose();
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
        ...(fixedSide ? {} : { training: { inputSize: [16, 16] } }),
      },
    });
    model.dispose();
  }
  tf.dispose([x, y]);
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

/**
 * A PNG whose IHDR says `width`×`height` (with a valid CRC) but whose pixels are those of a
 * 1×1 image: enough for header checks (zero size, pixel limits) without allocating pixels.
 */
export function pngWithHeader(width: number, height: number): Uint8Array {
  const png = testPng(1, 1).slice();
  const view = new DataView(png.buffer);
  // Signature (8), IHDR length (4), "IHDR" (4), then width and height; CRC after 13 bytes.
  view.setUint32(16, width);
  view.setUint32(20, height);
  view.setUint32(29, crc32(png.subarray(12, 29)));
  return png;
}

/** A PNG with one byte of its pixel data changed, so that the IDAT CRC fails. */
export function corruptPng(): Uint8Array {
  const png = testPng().slice();
  const idat = new TextDecoder("latin1").decode(png).indexOf("IDAT");
  png[idat + 8] ^= 0xff;
  return png;
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
