/**
 * The one way symlab replaces a tfjs kernel: register a body under the kernel's name and keep
 * the kernel it replaced to fall through to. Used by the wasm kernels (lib/kernels/wasm/) and
 * the native ones (lib/kernels/native/); the order they are installed in is owned by
 * `installKernels` (lib/kernels/mod.ts), since each layer wraps whatever the one before left.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** What a kernel function receives. */
export type KernelArgs = Parameters<tf.KernelConfig["kernelFunc"]>[0];

/** A kernel body: its result, or undefined to run the kernel it replaced with the same args. */
export type KernelBody = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[] | undefined;

/**
 * Registers `body` as kernel `name` of `backendName`, in place of the kernel registered there
 * now (if any). A call for which `body` returns undefined goes to the replaced kernel, whose
 * setup and dispose functions stay registered (wasm's setup binds the module's functions that
 * its kernel function calls). With nothing to replace, `body` must always answer.
 *
 * @example
 * ```ts ignore
 * // not run: replaces wasm's Identity kernel for the whole process (`share` is lib/kernels/wasm's)
 * // Identity shares the buffer for numeric tensors; strings go to wasm's own copy.
 * overrideKernel("Identity", "wasm", ({ inputs }) =>
 *   inputs.x.dtype === "string" ? undefined : share(inputs.x));
 * ```
 */
export function overrideKernel(name: string, backendName: string, body: KernelBody): void {
  const previous = tf.getKernel(name, backendName);
  if (previous) tf.unregisterKernel(name, backendName);
  const fallThrough = previous?.kernelFunc ??
    (() => {
      throw new Error(`${name} on ${backendName}: no kernel to fall through to for these inputs`);
    });
  tf.registerKernel({
    kernelName: name,
    backendName,
    setupFunc: previous?.setupFunc,
    disposeFunc: previous?.disposeFunc,
    kernelFunc: (args) => body(args) ?? fallThrough(args),
  });
}
