/**
 * A seeded fuzz of convolution shapes, native (wasm + oneDNN, every conv sent to oneDNN) against
 * the cpu backend's plain loops, for every pass: forward, input gradient, filter gradient.
 * Run as a child process by `native_fuzz_test.ts`, once per oneDNN ISA (`ONEDNN_MAX_CPU_ISA` must
 * be set before the library loads, hence a process each) while other processes load the cores:
 * the oneDNN 2.6 defect it was written for (uxlfoundation/oneDNN#6035, 1×1 stride > 1 filter
 * gradient with IC below the kernel's block) gave wrong numbers only with several OpenMP threads
 * racing on a busy machine.
 *
 *   deno run -A tests/native_fuzz.ts [--cases N] [--seed S] [--rounds R]
 *
 * Prints one JSON line: `{ isa, cases, rounds, mismatches: [{ name, pass, index, got, want,
 * impl }], routes }`, where `impl` is the oneDNN implementation a mismatching pass ran on (or
 * the route symlab took instead), and `routes` counts the routes taken over all cases.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import { setBackend } from "../lib/kernels/backend.ts";
import { setNativeEnabled, setNativeThresholds } from "../lib/kernels/mod.ts";
import { convRoute } from "../lib/kernels/native/kernels.ts";
import { mulberry32 } from "../lib/data/rng.ts";
import { randomTensor } from "./helpers.ts";

/** One fuzzed convolution: shapes, stride, padding, dilation. */
export interface FuzzConv {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: [number, number];
  pad: "same" | "valid" | [[0, 0], [number, number], [number, number], [0, 0]];
  dilations: number;
}

/**
 * `count` shapes, the two known-bad ones first, then seeded: kernels 1×1 (half of them: the family of the defect), 3×3, and some
 * 2×2, 1×3 and 5×5; strides 1–3 (each axis); IC and OC from 1 to 40 (above AVX-512's block of
 * 16 and AVX2's of 8) with the small ones over-sampled; odd and even H and W; same, valid and
 * explicit padding; dilation 2 on some stride-1 forward passes (tfjs has no gradient there).
 */
export function fuzzShapes(count: number, seed: number): FuzzConv[] {
  const next = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: T[]) => xs[Math.floor(next() * xs.length)];
  const channels = () => pick([1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 24, 31, 32, 40]);
  // First the shapes that failed on oneDNN 2.6's AVX2 kernels under load (issue 22, and this
  // fuzz's first run on 2026-12-07), then the seeded ones.
  const shapes: FuzzConv[] = [
    { x: [2, 10, 6, 3], filter: [1, 1, 3, 7], strides: [2, 2], pad: "valid", dilations: 1 },
    { x: [4, 8, 10, 2], filter: [1, 1, 2, 24], strides: [2, 2], pad: "same", dilations: 1 },
  ];
  while (shapes.length < count) {
    const [kh, kw] = next() < 0.5 ? [1, 1] : pick([[3, 3], [3, 3], [3, 3], [2, 2], [1, 3], [5, 5]]);
    const strides: [number, number] = next() < 0.25 ? [int(1, 3), int(1, 3)] : (() => {
      const s = int(1, 3);
      return [s, s];
    })();
    const dilations = strides[0] === 1 && strides[1] === 1 && kh > 1 && next() < 0.15 ? 2 : 1;
    const h = int(Math.max(kh * dilations, 3), 13), w = int(Math.max(kw * dilations, 3), 13);
    const r = next();
    const pad: FuzzConv["pad"] = r < 0.4
      ? "valid"
      : r < 0.8
      ? "same"
      : [[0, 0], [int(0, kh - 1), int(0, kh - 1)], [int(0, kw - 1), int(0, kw - 1)], [0, 0]];
    shapes.push({
      x: [int(1, 4), h, w, channels()],
      filter: [kh, kw, 0, channels()],
      strides,
      pad,
      dilations,
    });
    shapes.at(-1)!.filter[2] = shapes.at(-1)!.x[3];
  }
  return shapes;
}

/** A shape's name, as the test prints it. */
export function fuzzName(c: FuzzConv): string {
  return `x${JSON.stringify(c.x)} w${JSON.stringify(c.filter)} strides ${
    JSON.stringify(c.strides)
  } pad ${JSON.stringify(c.pad)}${c.dilations > 1 ? ` dilations ${c.dilations}` : ""}`;
}

export const PASSES = ["forward", "backwardData", "backwardWeights"] as const;

/** y, dx, dW of Σ conv(x, w)·r for seeded x, w, r (y only when dilated). */
function run(c: FuzzConv, seed: number): Float32Array[] {
  return tf.tidy(() => {
    const x = randomTensor<tf.Rank.R4>(c.x, seed);
    const w = randomTensor<tf.Rank.R4>(c.filter, seed + 1);
    const f = (x: tf.Tensor4D, w: tf.Tensor4D) =>
      tf.conv2d(x, w, c.strides, c.pad as never, "NHWC", c.dilations);
    const y = f(x, w);
    if (c.dilations > 1) return [y.dataSync() as Float32Array];
    const r = randomTensor(y.shape, seed + 2);
    const [dx, dw] = tf.grads((x: tf.Tensor, w: tf.Tensor) =>
      f(x as tf.Tensor4D, w as tf.Tensor4D).mul(r).sum()
    )([x, w]);
    return [y, dx, dw].map((t) => t.dataSync() as Float32Array);
  });
}

/** The first element where |got − want| > 1e-4·(1 + max|want|), or -1. */
export function firstMismatch(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) return 0;
  let scale = 1;
  for (const v of want) scale = Math.max(scale, Math.abs(v) + 1);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= 1e-4 * scale)) return i;
  }
  return -1;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cases: { type: "string", default: "160" },
      seed: { type: "string", default: "2026" },
      rounds: { type: "string", default: "3" },
    },
  });
  const shapes = fuzzShapes(Number(values.cases), Number(values.seed));
  await setBackend("cpu");
  const want = shapes.map((c, i) => run(c, 100 + 3 * i));
  await setBackend("wasm");
  if (!setNativeEnabled(true).enabled) throw new Error("oneDNN did not load");
  setNativeThresholds({ minConvMacs: 0 });
  const mismatches: unknown[] = [];
  const routes: Record<string, number> = {};
  // Rounds: the defect is a race, so every shape runs more than once.
  for (let round = 0; round < Number(values.rounds); round++) {
    shapes.forEach((c, i) => {
      const got = run(c, 100 + 3 * i);
      got.forEach((g, j) => {
        const pass = PASSES[j];
        const route = convRoute(pass, c.x, c.filter, c.strides, c.pad, c.dilations);
        if (round === 0) routes[route] = (routes[route] ?? 0) + 1;
        const at = firstMismatch(g, want[i][j]);
        if (at >= 0) {
          mismatches.push({
            name: fuzzName(c),
            round,
            pass,
            index: at,
            got: g[at],
            want: want[i][j][at],
            impl: route,
          });
        }
      });
    });
  }
  console.log(JSON.stringify({
    isa: Deno.env.get("ONEDNN_MAX_CPU_ISA") ?? "default",
    cases: shapes.length,
    rounds: Number(values.rounds),
    mismatches,
    routes,
  }));
}

if (import.meta.main) await main();
