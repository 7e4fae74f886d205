/**
 * A correct `MaxPoolGrad` for tfjs-backend-wasm 4.22, whose own kernel drops gradient for
 * some windows: on an 8×8 map with 2×2/2 pooling and dy = 1 it routes 14 of 16 ones
 * (measured 2026-11 against the cpu backend; cf. tfjs#5920). This one scans each window on
 * the host and sends dy to the first maximum, as the cpu backend does. It is O(N·H·W·C·k²)
 * plain arithmetic, a few ms per pooling layer at the sizes symlab trains.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { overrideKernel } from "../override.ts";

type Info = tf.TensorInfo;
interface WasmBackend {
  readSync(dataId: object): Float32Array;
  makeOutput(shape: number[], dtype: "float32", offset?: number, values?: Float32Array): Info;
}

/** dx of max pooling: dy routed to the first maximum of each window. */
export function maxPoolGrad(
  x: Float32Array,
  dy: Float32Array,
  info: ReturnType<typeof tf.backend_util.computePool2DInfo>,
): Float32Array {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const dx = new Float32Array(x.length);
  // Channels innermost: contiguous reads, one running max per channel.
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  for (let n = 0; n < batchSize; n++) {
    const xBase = n * inHeight * inWidth * c;
    for (let i = 0; i < outHeight; i++) {
      const r0 = i * sh - top;
      const [a0, a1] = [Math.max(r0, 0), Math.min(r0 + fh, inHeight)];
      for (let j = 0; j < outWidth; j++) {
        const c0 = j * sw - left;
        const [b0, b1] = [Math.max(c0, 0), Math.min(c0 + fw, inWidth)];
        best.fill(-Infinity);
        at.fill(-1);
        for (let a = a0; a < a1; a++) {
          for (let b = b0; b < b1; b++) {
            const k = xBase + (a * inWidth + b) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[k + ch];
              if (v > best[ch] || at[ch] < 0) {
                best[ch] = v;
                at[ch] = k + ch;
              }
            }
          }
        }
        const dyBase = ((n * outHeight + i) * outWidth + j) * c;
        for (let ch = 0; ch < c; ch++) if (at[ch] >= 0) dx[at[ch]] += dy[dyBase + ch];
      }
    }
  }
  return dx;
}

/**
 * Replaces wasm's MaxPoolGrad with {@linkcode maxPoolGrad}. Called once, by `installKernels`
 * (lib/kernels/mod.ts), before the native MaxPoolGrad wraps it.
 */
export function installWasmPoolKernels(): void {
  overrideKernel("MaxPoolGrad", "wasm", ({ inputs, backend, attrs }) => {
    const { dy, input } = inputs as { dy: Info; input: Info };
    const a = attrs as {
      filterSize: [number, number] | number;
      strides: [number, number] | number;
      pad: "valid" | "same" | number;
      dimRoundingMode?: "floor" | "round" | "ceil";
    };
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      a.filterSize,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    const wasm = backend as unknown as WasmBackend;
    const dx = maxPoolGrad(wasm.readSync(input.dataId), wasm.readSync(dy.dataId), info);
    return wasm.makeOutput(input.shape, "float32", undefined, dx);
  });
}
