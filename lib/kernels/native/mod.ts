/**
 * The optional native path: oneDNN (the library behind PyTorch's CPU convolutions) called
 * through Deno FFI for the wasm backend's heavy kernels, multi-threaded, on the wasm heap in
 * place. Detected on first use; pure wasm is the fallback whenever it is absent or off.
 *
 * - Library: `libdnnl.so.2` (Debian/Ubuntu package `libdnnl2`), or the path in
 *   `SYMLAB_NATIVE_LIB`.
 * - `SYMLAB_NATIVE=0` turns it off; `setNativeEnabled` (lib/kernels/mod.ts) toggles it at run
 *   time.
 * - Needs `--allow-ffi` (and `--allow-env` to read the variables; `-A` gives both).
 *
 * @module
 */
import { Dnnl } from "./dnnl.ts";
import { nativeEnabled } from "./kernels.ts";

/** What the native path is and why it is (not) available. */
export interface NativeStatus {
  /** The library loaded and the kernels can run. */
  available: boolean;
  /** Calls currently go native (available, not disabled, and enabled on the wasm backend). */
  enabled: boolean;
  /** e.g. "native oneDNN 2.6.3 kernels (libdnnl.so.2)". */
  label: string;
  /** Why it is unavailable or disabled; empty when enabled. */
  reason: string;
  library?: string;
  version?: string;
}

const DEFAULT_LIBRARIES = ["libdnnl.so.2"];

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: defaults
  }
}

let loaded: { dnnl?: Dnnl; error?: string } | undefined;

function load(): { dnnl?: Dnnl; error?: string } {
  if (loaded) return loaded;
  const custom = env("SYMLAB_NATIVE_LIB");
  try {
    loaded = { dnnl: Dnnl.open(custom ? [custom] : DEFAULT_LIBRARIES) };
  } catch (e) {
    const msg = (e as Error).message;
    loaded = {
      error: /--allow-ffi|NotCapable|PermissionDenied|Requires ffi/i.test(msg + (e as Error).name)
        ? `no FFI permission (run with --allow-ffi or -A): ${msg}`
        : `oneDNN not found (install the Debian package libdnnl2): ${msg}`,
    };
  }
  return loaded;
}

/** Whether the user turned the native path off with `SYMLAB_NATIVE=0`. */
export function nativeDisabledByEnv(): boolean {
  return ["0", "false", "off", "no"].includes((env("SYMLAB_NATIVE") ?? "").toLowerCase());
}

/**
 * Reports the native path without changing anything (loads the library on first call).
 *
 * @example
 * ```ts
 * const s = nativeStatus();
 * console.log(s.available ? s.label : `pure wasm: ${s.reason}`);
 * ```
 */
export function nativeStatus(): NativeStatus {
  if (nativeDisabledByEnv()) {
    return { available: false, enabled: false, label: "native off", reason: "SYMLAB_NATIVE=0" };
  }
  const { dnnl, error } = load();
  if (!dnnl) return { available: false, enabled: false, label: "native off", reason: error! };
  const file = dnnl.path.split("/").at(-1);
  return {
    available: true,
    enabled: nativeEnabled(),
    label: `native oneDNN ${dnnl.version} kernels (${file})`,
    reason: nativeEnabled() ? "" : "available but not enabled",
    library: dnnl.path,
    version: dnnl.version,
  };
}

/**
 * The oneDNN library, loaded on first call, or undefined when it is absent, not permitted or
 * turned off with `SYMLAB_NATIVE=0` ({@linkcode nativeStatus} says which).
 */
export function nativeLibrary(): Dnnl | undefined {
  return nativeDisabledByEnv() ? undefined : load().dnnl;
}
