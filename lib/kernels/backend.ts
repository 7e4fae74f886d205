/**
 * Backend selection. `auto` picks WebGPU on a hardware adapter and wasm (SIMD) otherwise:
 * on a software adapter such as Mesa llvmpipe, WebGPU is correct but about 30× slower than
 * wasm for convolutions (512³ matmul: ~390 ms on webgpu/llvmpipe vs ~13 ms on wasm, measured
 * 2026-11 on a 2-core AVX2 machine).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { installKernels, nativeDisabledByEnv, setNativeEnabled } from "./mod.ts";
import { guardSyncReads } from "./webgpu_reads.ts";

/** Backend names a user may ask for. */
export const BACKEND_NAMES = ["auto", "webgpu", "wasm", "cpu"] as const;
export type BackendName = typeof BACKEND_NAMES[number];

/** What {@linkcode setBackend} chose and why. */
export interface BackendChoice {
  name: "webgpu" | "wasm" | "cpu";
  reason: string;
  /** The WebGPU adapter's description when one was found, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  adapter?: string;
}

/** Thrown when an explicitly requested backend cannot be used. */
export class BackendError extends Error {
  override name = "BackendError";
}

interface AdapterProbe {
  adapter: GPUAdapter | null;
  description: string;
  software: boolean;
  error?: string;
}

// Deno hands out an adapter that cannot be reused after a device was made from it
// (tfjs#8518, denoland/deno#28135), so it is requested once and shared.
let probe: Promise<AdapterProbe> | undefined;

function probeAdapter(): Promise<AdapterProbe> {
  probe ??= (async () => {
    const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
    if (!gpu) return { adapter: null, description: "", software: false, error: "no navigator.gpu" };
    try {
      const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
      if (!adapter) return { adapter, description: "", software: false, error: "no adapter" };
      const info = adapter.info;
      const description = [info.description, info.vendor, info.architecture, info.device]
        .filter((s) => s && s !== "0").join(" / ");
      const software = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean })
            .isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader|softpipe|software/i
        .test(description);
      return { adapter, description, software };
    } catch (e) {
      return { adapter: null, description: "", software: false, error: String(e) };
    }
  })();
  return probe;
}

let webgpuRegistered = false;

function registerWebGPU(adapter: GPUAdapter): void {
  if (webgpuRegistered) return;
  webgpuRegistered = true;
  tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", async () => {
    const limits = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures: adapter.features.has("timestamp-query") ? ["timestamp-query"] : [],
      requiredLimits: {
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      },
    });
    // Sync reads of GPU tensors throw a one-line error instead of tfjs' canvas crash in Deno.
    return guardSyncReads(new WebGPUBackend(device, adapter.info as never));
  }, 1);
}

/**
 * On wasm, routes convolutions, matmuls and the max-pool gradient to native oneDNN when it loads
 * (lib/kernels/native/), unless SYMLAB_NATIVE=0; returns what to add to the reason either way.
 */
function nativeNote(): string {
  if (nativeDisabledByEnv()) return "; native kernels off (SYMLAB_NATIVE=0)";
  const status = setNativeEnabled(true);
  return status.enabled
    ? ` + ${status.label} for conv, matmul and max-pool gradient (SYMLAB_NATIVE=0 turns them off)`
    : `; pure wasm, native kernels unavailable: ${status.reason}`;
}

async function activate(name: "webgpu" | "wasm" | "cpu"): Promise<void> {
  if (name === "wasm") installKernels(); // before the backend starts: their setup runs with it
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new BackendError(`Could not start the ${name} backend: ${(e as Error).message}`);
  }
  if (!ok) throw new BackendError(`Could not start the ${name} backend (tfjs refused it)`);
  await tf.ready();
}

/**
 * Selects and initialises the tfjs backend.
 *
 * - `auto`: WebGPU when `navigator.gpu` gives a hardware adapter; wasm when the adapter is a
 *   software rasteriser (llvmpipe, SwiftShader) or there is none.
 * - `webgpu`, `wasm`, `cpu`: obeyed, or a {@linkcode BackendError} says why not.
 *
 * @example
 * ```ts
 * const { name, reason } = await setBackend("auto");
 * console.log(`backend ${name}: ${reason}`);
 * ```
 */
export async function setBackend(name: BackendName = "auto"): Promise<BackendChoice> {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new BackendError(
      `Unknown backend "${name}": expected one of ${BACKEND_NAMES.join(", ")}`,
    );
  }
  if (name === "cpu" || name === "wasm") {
    await activate(name);
    const reason = name === "wasm"
      ? "requested explicitly (wasm SIMD, with symlab's training kernels registered)" + nativeNote()
      : "requested explicitly (plain JavaScript; slow, for reference and tests)";
    return { name, reason };
  }
  const found = await probeAdapter();
  if (name === "webgpu") {
    if (!found.adapter) {
      throw new BackendError(`WebGPU was requested but no adapter is available (${found.error})`);
    }
    registerWebGPU(found.adapter);
    await activate("webgpu");
    const kind = found.software ? "software adapter, slow" : "hardware adapter";
    return {
      name,
      reason: `requested explicitly (${kind}: ${found.description})`,
      adapter: found.description,
    };
  }
  if (found.adapter && !found.software) {
    registerWebGPU(found.adapter);
    await activate("webgpu");
    return {
      name: "webgpu",
      reason: `auto: hardware WebGPU adapter found (${found.description})`,
      adapter: found.description,
    };
  }
  await activate("wasm");
  const why = found.adapter
    ? `the only WebGPU adapter is a software rasteriser (${found.description}), ~30× slower than wasm SIMD for convolutions`
    : `no WebGPU adapter (${found.error})`;
  return {
    name: "wasm",
    reason: `auto: ${why}${nativeNote()}`,
    adapter: found.description || undefined,
  };
}
