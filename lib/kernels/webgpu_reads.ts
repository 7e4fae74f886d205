/**
 * Synchronous reads on WebGPU under Deno: a clear error instead of tfjs' canvas crash.
 *
 * tfjs-backend-webgpu 4.22 reads a GPU buffer synchronously by copying it into a WebGPU
 * canvas texture and reading that back through an `OffscreenCanvas` 2D context. Deno has
 * `OffscreenCanvas` but no 2D context (`getContext("2d")` is `null`), so `dataSync()`,
 * `arraySync()`, `bufferSync()`, `print()`, and a backend switch that moves a GPU tensor
 * (tfjs' `moveData`) all died with `Cannot read properties of null (reading 'clearRect')`.
 * {@linkcode guardSyncReads} replaces the backend's `readSync` so that the same calls throw
 * a {@linkcode WebGPUSyncReadError} naming the asynchronous call to use. Values tfjs still
 * holds on the CPU (a tensor made from an array and not yet uploaded, or one already read
 * with `await data()`) are returned as before: those reads never touch the GPU.
 *
 * @module
 */
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";

/** Thrown by a synchronous read of a tensor that lives on the GPU (WebGPU under Deno). */
export class WebGPUSyncReadError extends Error {
  override name = "WebGPUSyncReadError";
}

/**
 * The one-line explanation of a failed synchronous read of `size` values of `dtype`. (The
 * size, not the shape: tfjs' record of a buffer keeps the shape it was made with, which a
 * reshape that shares the buffer does not update.)
 *
 * @example
 * ```ts
 * syncReadMessage("float32", 4096);
 * // "dataSync()/arraySync()/bufferSync() cannot read a GPU tensor (4096 float32 values) on WebGPU under Deno …"
 * ```
 */
export function syncReadMessage(dtype: string, size: number): string {
  return `dataSync()/arraySync()/bufferSync() cannot read a GPU tensor (${size} ${dtype} ` +
    `values) on WebGPU under Deno (tfjs reads GPU buffers synchronously through a 2D canvas, ` +
    `which Deno lacks): use await tensor.data() / array() / buffer() instead, and read GPU ` +
    `tensors before switching backends`;
}

/** Whether this runtime gives tfjs the 2D canvas its synchronous WebGPU read needs. */
export function canReadWebGPUSync(): boolean {
  try {
    return typeof OffscreenCanvas !== "undefined" &&
      new OffscreenCanvas(1, 1).getContext("2d") != null;
  } catch {
    return false;
  }
}

/** The parts of tfjs' per-tensor record that decide whether a read needs the GPU. */
interface TensorRecord {
  values: unknown;
  dtype: string;
  shape: number[];
}

/**
 * Makes `backend.readSync` throw {@linkcode WebGPUSyncReadError} for GPU-resident tensors
 * when the runtime has no 2D canvas (Deno); a runtime that has one (a browser) keeps tfjs'
 * own path. Returns the same backend.
 *
 * @example
 * ```ts ignore
 * // not run: needs a WebGPU device
 * const backend = guardSyncReads(new WebGPUBackend(device, adapter.info));
 * tf.registerBackend("webgpu", () => backend);
 * ```
 */
export function guardSyncReads(backend: WebGPUBackend): WebGPUBackend {
  if (canReadWebGPUSync()) return backend;
  const readSync = backend.readSync.bind(backend);
  // An own property shadows the prototype method, so tfjs' internal this.readSync calls
  // (bufferSync, complex64 parts, kernels that run small CPU-resident inputs on the CPU)
  // come through here too.
  backend.readSync = (dataId: object) => {
    const data = backend.tensorMap.get(dataId) as TensorRecord | undefined;
    // values != null: tfjs still holds the data on the CPU; complex64 reads its two parts
    // through this function again.
    if (!data || data.values != null || data.dtype === "string" || data.dtype === "complex64") {
      return readSync(dataId);
    }
    const size = data.shape.reduce((a, b) => a * b, 1);
    throw new WebGPUSyncReadError(syncReadMessage(data.dtype, size));
  };
  return backend;
}
