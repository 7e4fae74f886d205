/**
 * symlab's kernels for the wasm backend, installed in one place and in one order:
 *
 * 1. `wasm/kernels.ts`: the training kernels tfjs-backend-wasm 4.22 lacks or runs slowly
 *    (conv gradients, Sum/Mean, Gather, Cast, …, the ChannelChain of batch norm);
 * 2. `wasm/pool_kernels.ts`: a correct MaxPoolGrad in place of wasm's;
 * 3. `native/kernels.ts`: oneDNN (through FFI) wrapping the heavy ones of 1 and 2 and of wasm's
 *    own (conv, matmul, max-pool gradient, ChannelChain), falling through to them while the
 *    native path is off or a call is unsupported or below {@linkcode NativeThresholds}.
 *
 * Each layer replaces a kernel with {@linkcode overrideKernel} and falls through to the kernel
 * it replaced, so the order matters: native must wrap what wasm already replaced.
 * {@linkcode installKernels} is the only caller of the three installers; `setBackend`
 * (backend.ts) calls it before it starts the wasm backend.
 *
 * @module
 */
import "@tensorflow/tfjs-backend-wasm"; // registers wasm's own kernels, which 1–3 replace
import { z } from "zod";
import { parseWith } from "../validate.ts";
import { installWasmTrainingKernels } from "./wasm/kernels.ts";
import { installWasmPoolKernels } from "./wasm/pool_kernels.ts";
import {
  installNativeKernels,
  type NativeThresholds,
  nativeThresholds,
  setNativeLibrary,
  useNativeThresholds,
} from "./native/kernels.ts";
import { nativeLibrary, type NativeStatus, nativeStatus } from "./native/mod.ts";

export { overrideKernel } from "./override.ts";
export type { KernelArgs, KernelBody } from "./override.ts";
export {
  DEFAULT_NATIVE_THRESHOLDS,
  nativeCallStats,
  nativeThresholds,
  resetNativeCallStats,
} from "./native/kernels.ts";
export type { NativeCallCount, NativeThresholds } from "./native/kernels.ts";
export { nativeDisabledByEnv, nativeStatus } from "./native/mod.ts";
export type { NativeStatus } from "./native/mod.ts";

/** What {@linkcode installKernels} may change besides installing. */
export interface KernelOptions {
  /** `true` routes the heavy kernels to oneDNN when it loads, `false` back to wasm; unset: as is. */
  native?: boolean;
  /** Thresholds to change; the others keep their current values. */
  thresholds?: Partial<NativeThresholds>;
}

const threshold = z.number().min(0, "expected a number ≥ 0");
const ThresholdsSchema = z.strictObject({
  minConvMacs: threshold.optional(),
  minChainElements: threshold.optional(),
  minMatMulMacs: threshold.optional(),
});
const OptionsSchema = z.strictObject({
  native: z.boolean().optional(),
  thresholds: ThresholdsSchema.optional(),
});

let installed = false;

/**
 * Installs symlab's wasm and native kernels (once, in the order of the module doc; later calls
 * only apply `options`) and returns the native path's status. Run before the wasm backend
 * starts so that the kernels' setup runs with the backend (`setBackend` does this).
 * A bad option throws a `TypeError` naming it.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * installKernels({ thresholds: { minConvMacs: 0 } }); // every convolution to oneDNN
 * await tf.setBackend("wasm");
 * console.log(setNativeEnabled(true).label);
 * ```
 */
export function installKernels(options: KernelOptions = {}): NativeStatus {
  const { native, thresholds } = parseWith(OptionsSchema, options, "Invalid kernel options");
  if (thresholds) useNativeThresholds({ ...nativeThresholds(), ...defined(thresholds) });
  if (!installed) {
    installed = true;
    installWasmTrainingKernels();
    installWasmPoolKernels();
    installNativeKernels();
  }
  if (native === false) setNativeLibrary(undefined);
  if (native === true) {
    const lib = nativeLibrary();
    if (lib) setNativeLibrary(lib);
  }
  return nativeStatus();
}

/**
 * Routes the wasm backend's conv, matmul, max-pool-gradient and ChannelChain kernels to oneDNN
 * (`true`) or back to wasm (`false`), installing the kernels first if needed. Returns the
 * resulting status; enabling is a no-op with a reason when oneDNN is unavailable.
 *
 * @example
 * ```ts
 * const s = setNativeEnabled(true);
 * console.log(s.enabled ? s.label : `pure wasm: ${s.reason}`);
 * ```
 */
export function setNativeEnabled(on: boolean): NativeStatus {
  return installKernels({ native: on });
}

/**
 * Changes the sizes below which calls stay on wasm (the others keep their values) and returns
 * the thresholds now in use. A value that is not a number ≥ 0 throws a `TypeError` naming it.
 *
 * @example
 * ```ts
 * setNativeThresholds({ minConvMacs: 0 }); // every conv native, however small
 * setNativeThresholds(DEFAULT_NATIVE_THRESHOLDS); // and back
 * ```
 */
export function setNativeThresholds(t: Partial<NativeThresholds>): Readonly<NativeThresholds> {
  const parsed = parseWith(ThresholdsSchema, t, "Invalid native thresholds");
  useNativeThresholds({ ...nativeThresholds(), ...defined(parsed) });
  return nativeThresholds();
}

/** `t` without its undefined entries (`{ minConvMacs: undefined }` changes nothing). */
function defined(t: Partial<NativeThresholds>): Partial<NativeThresholds> {
  return Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined));
}
