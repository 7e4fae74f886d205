/** Test helpers: backends, deterministic data, comparisons, slow loop references. */
import * as tf from "@tensorflow/tfjs";
import { setBackend } from "../lib/kernels/backend.ts";
import { mulberry32 } from "../lib/data/rng.ts";

/** Deterministic pseudo-random floats in [-1, 1) (mulberry32). */
export function randomArray(size: number, seed = 1): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: size }, () => next() * 2 - 1);
}

/** A deterministic tensor with values in [-1, 1). */
export function randomTensor<R extends tf.Rank>(shape: number[], seed = 1): tf.Tensor<R> {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(randomArray(size, seed), shape as number[] & []) as unknown as tf.Tensor<R>;
}

/** Max |a − b| over two tensors or arrays of the same size. */
export function maxAbsDiff(a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>) {
  const x = a instanceof tf.Tensor ? a.dataSync() : a;
  const y = b instanceof tf.Tensor ? b.dataSync() : b;
  if (x.length !== y.length) throw new Error(`size mismatch: ${x.length} vs ${y.length}`);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** CI sets CI=true: there a missing component fails its test instead of skipping it. */
export const IN_CI = Deno.env.get("CI") === "true";

/**
 * Registers a test "<component> is available in CI" that fails in CI when the component is
 * missing (.ci/run installs it), and is skipped on a developer's machine; the tests of the
 * component itself are then `ignore: !available`. Returns `available`.
 */
export function requireInCI(component: string, available: boolean, hint: string): boolean {
  Deno.test({
    name: `${component} is available in CI`,
    ignore: !IN_CI,
    fn: () => {
      if (!available) throw new Error(`CI=true but ${component} is missing: ${hint}`);
    },
  });
  if (!available && !IN_CI) console.error(`${component} tests ignored: ${hint}`);
  return available;
}

/** Whether a hardware or software WebGPU adapter is available in this process. */
export const hasWebGPU = await (async () => {
  try {
    return !!(await navigator.gpu?.requestAdapter());
  } catch {
    return false;
  }
})();

/** The backends every cross-backend test runs on here. */
export const BACKENDS = hasWebGPU ? ["cpu", "wasm", "webgpu"] as const : ["cpu", "wasm"] as const;

/** Switches backend (quietly). */
export async function useBackend(name: "cpu" | "wasm" | "webgpu"): Promise<void> {
  await setBackend(name);
}

/** Asserts that fn leaves tf.memory().numTensors unchanged when run inside tf.tidy. */
export function tensorDelta(fn: () => unknown): number {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    fn();
  });
  return tf.memory().numTensors - before;
}

// ---- slow references: plain loops over flat NHWC arrays ----

/** Turns a k×k×rest filter by r·90° counter-clockwise: out[a][b] = in[b][k-1-a] per step. */
export function rotFilterRef(w: Float32Array, k: number, rest: number, r: number): Float32Array {
  let cur = w;
  for (let step = 0; step < ((r % 4) + 4) % 4; step++) {
    const next = new Float32Array(cur.length);
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) {
        for (let q = 0; q < rest; q++) {
          next[(a * k + b) * rest + q] = cur[(b * k + (k - 1 - a)) * rest + q];
        }
      }
    }
    cur = next;
  }
  return cur;
}

/** Cross-correlation with symmetric zero padding p and stride s; x [n,h,w,cin], w [k,k,cin,cout]. */
export function conv2dRef(
  x: Float32Array,
  [n, h, wd, cin]: number[],
  w: Float32Array,
  k: number,
  cout: number,
  p: number,
  s = 1,
): { data: Float32Array; shape: number[] } {
  const ho = Math.floor((h + 2 * p - k) / s) + 1;
  const wo = Math.floor((wd + 2 * p - k) / s) + 1;
  const out = new Float32Array(n * ho * wo * cout);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        for (let o = 0; o < cout; o++) {
          let acc = 0;
          for (let a = 0; a < k; a++) {
            for (let c = 0; c < k; c++) {
              const yi = i * s + a - p, xj = j * s + c - p;
              if (yi < 0 || yi >= h || xj < 0 || xj >= wd) continue;
              for (let ci = 0; ci < cin; ci++) {
                acc += x[((b * h + yi) * wd + xj) * cin + ci] *
                  w[((a * k + c) * cin + ci) * cout + o];
              }
            }
          }
          out[((b * ho + i) * wo + j) * cout + o] = acc;
        }
      }
    }
  }
  return { data: out, shape: [n, ho, wo, cout] };
}
