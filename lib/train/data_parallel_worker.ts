/**
 * One worker of {@linkcode DataParallel} (lib/data_parallel.ts): its own tfjs on the pure wasm
 * backend and its own copy of the model. Per step it takes the current weights and a slice of
 * the batch, and returns the gradients of the slice's mean softmax cross-entropy, the slice's
 * loss and hits, and the weights after the step's training-mode forward pass (batch-norm
 * moving statistics updated from this slice).
 *
 * Protocol (structured messages, buffers transferred): see {@linkcode WorkerRequest} and
 * {@linkcode WorkerReply}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setBackend } from "../kernels/backend.ts";
import { buildModel, type ModelConfig } from "../model/models.ts";
import { setNativeEnabled } from "../kernels/mod.ts";
import { crossEntropyGradients } from "./step.ts";

/** Messages to a worker. */
export type WorkerRequest =
  | { type: "init"; config: ModelConfig; native: boolean }
  | {
    type: "step";
    /** Every weight of the model, in `model.weights` order. */
    weights: Float32Array[];
    /** The slice [n, h, w, c] in [0, 1], and its integer labels. */
    x: Float32Array;
    shape: [number, number, number, number];
    labels: Int32Array;
    numClasses: number;
  };

/** Messages from a worker. */
export type WorkerReply =
  | { type: "booted" }
  | { type: "ready"; backend: string }
  | {
    type: "step";
    /** Gradients of the slice's mean loss, in `model.trainableWeights` order. */
    grads: Float32Array[];
    /** Every weight after the step (only the non-trainable ones changed). */
    weights: Float32Array[];
    loss: number;
    hits: number;
  }
  | { type: "error"; message: string };

const scope = self as unknown as {
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
};
let model: tf.LayersModel | undefined;

async function handle(m: WorkerRequest): Promise<void> {
  if (m.type === "init") {
    const choice = await setBackend("wasm");
    setNativeEnabled(m.native);
    model = buildModel(m.config);
    scope.postMessage({ type: "ready", backend: choice.name });
    return;
  }
  if (!model) throw new Error("step before init");
  const net = model;
  const incoming = m.weights.map((w, i) => tf.tensor(w, net.weights[i].read().shape));
  net.setWeights(incoming);
  tf.dispose(incoming); // the variables hold their own references
  const x = tf.tensor4d(m.x, m.shape);
  const labels = tf.tensor1d(m.labels, "int32");
  const { grads, loss, hits } = crossEntropyGradients(net, x, labels, m.numClasses);
  const vars = net.trainableWeights.map((w) => w.read() as tf.Variable);
  // Copies: the replies transfer their buffers, which must not be the backend's own memory.
  const read = async (t: tf.Tensor) => (await t.data() as Float32Array).slice();
  const gradArrays = await Promise.all(vars.map((v) => read(grads[v.name])));
  const weights = await Promise.all(net.getWeights().map(read));
  const reply: WorkerReply = {
    type: "step",
    grads: gradArrays,
    weights,
    loss: (await loss.data())[0],
    hits: (await hits.data())[0],
  };
  tf.dispose([x, labels, loss, hits, ...Object.values(grads)]);
  scope.postMessage(reply, [...gradArrays, ...weights].map((a) => a.buffer as ArrayBuffer));
}

scope.onmessage = (e) => {
  handle(e.data).catch((err) =>
    scope.postMessage({ type: "error", message: (err as Error).message ?? String(err) })
  );
};
scope.postMessage({ type: "booted" });
