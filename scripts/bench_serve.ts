/**
 * `deno task bench:serve`: latency and throughput of `POST /classify` with the default
 * transforms (original + rotations 90/180/270) through every loaded model, and of the Open
 * Inference Protocol's `POST /v2/models/{name}/infer` (one FP32 image at that model's input
 * size with `parameters.rotate` 90,180,270: the same four images through one model), sent as
 * JSON numbers and again in the binary tensor data extension (the same image as raw FP32 bytes
 * after a JSON header, and the outputs back as bytes), over real
 * HTTP on this machine (server and client in this one process, as `deno task serve` would
 * serve it), at 1 and 8 concurrent clients, and the process's RSS after each phase, to show
 * that memory does not grow with requests.
 *
 * Without checkpoints it serves small-preset models with random weights and says so: speed
 * does not depend on the weights.
 *
 * @module
 */
import { encode as encodePng } from "fast-png";
import { BACKEND_NAMES, setBackend } from "../lib/kernels/backend.ts";
import { CheckpointError, loadModels, saveCheckpoint } from "../lib/model/checkpoint.ts";
import { countParams, createModel, MODEL_NAMES, modelConfig } from "../lib/model/models.ts";
import { fp32Bytes, HEADER_LENGTH } from "../lib/serve/binary_tensor.ts";
import { classifyBatch } from "../lib/serve/classify.ts";
import { createApp, createState } from "../routes/app.ts";
import { expectedOneOf } from "../lib/validate.ts";
import { z } from "zod";
import { optionsHelp, parseOptions, runMain, UsageError } from "./cli.ts";

/** The flags of `deno task bench:serve`, their defaults and help (scripts/cli.ts). */
const BenchServeOptionsSchema = z.strictObject({
  checkpoints: z.string().min(1).default("checkpoints").meta({
    arg: "DIR",
    help: "one folder per model to serve (default {default}; without them: small-preset models " +
      `with random weights), of ${MODEL_NAMES.join(", ")}`,
  }),
  requests: z.number().int().min(1).default(200).meta({
    arg: "N",
    help: "requests per concurrency level",
  }),
  rounds: z.number().int().min(0).default(5).meta({
    arg: "N",
    help: "extra rounds of N requests at concurrency 8, to watch memory",
  }),
  backend: z.enum(BACKEND_NAMES).default("wasm"),
  // Text, read as WxH below (one message for both numbers).
  size: z.string().default("64x48").meta({ arg: "WxH", help: "uploaded PNG size" }),
  inferModel: z.enum(MODEL_NAMES).optional().meta({
    help: "the model of the OIP-infer rows (default symmetric if loaded, else the first loaded)",
  }),
});

const HELP = `Usage: deno task bench:serve [flags]

${optionsHelp(BenchServeOptionsSchema)}`;

async function randomCheckpoints(backend: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "symlab_bench_serve_" });
  for (const name of MODEL_NAMES) {
    const config = modelConfig(name, { numClasses: 100 });
    const model = createModel(name, { numClasses: 100 });
    await saveCheckpoint(`${dir}/${name}`, model, {
      meta: {
        model: name,
        config,
        dataset: {
          name: "random",
          source: "bench_serve: untrained weights",
          classNames: [...Array(100).keys()].map(String),
        },
        epoch: 0,
        history: [],
        backend,
        params: countParams(model),
        training: { inputSize: [32, 32] },
      },
    });
    model.dispose();
  }
  return dir;
}

/** Peak resident set size of this process so far (VmHWM), in MB; NaN off Linux. */
async function peakRssMb(): Promise<number> {
  const status = await Deno.readTextFile("/proc/self/status").catch(() => "");
  const kb = Number(status.match(/VmHWM:\s*(\d+) kB/)?.[1] ?? NaN);
  return kb / 1024;
}

const MB = 1024 * 1024;
// The task runs with --v8-flags=--expose-gc: V8 grows its heap lazily (RSS rose ~2.5 MB per
// 200 requests without it and stayed flat over 5000 with a GC first, 2026-11-25), so each
// sample collects garbage first and shows what is really retained.
const gc = (globalThis as { gc?: () => void }).gc;
const memory = (): [number, number] => {
  gc?.();
  const m = Deno.memoryUsage();
  return [m.rss / MB, m.heapUsed / MB];
};

async function main(): Promise<number> {
  const { help, options } = parseOptions(BenchServeOptionsSchema, Deno.args);
  if (help) {
    console.log(HELP);
    return 0;
  }
  const { requests: n, rounds, backend: backendName, inferModel: inferName } = options;
  const wh = options.size.match(/^([1-9]\d*)x([1-9]\d*)$/);
  if (!wh) throw new UsageError(`--size: expected WxH in positive integers, got "${options.size}"`);
  const [w, h] = [Number(wh[1]), Number(wh[2])];
  const rss: [string, [number, number]][] = [["start", memory()]];
  const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0];
  const backend = await setBackend(backendName);
  console.log(`backend: ${backend.name} (${backend.reason})`);
  let dir = options.checkpoints;
  let temp: string | undefined;
  let models;
  try {
    models = await loadModels(dir);
    console.log(`serving checkpoints from ${dir}`);
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    dir = temp = await randomCheckpoints(backend.name);
    models = await loadModels(dir);
    console.log(
      `${e.message}\n-> serving small-preset models with RANDOM weights (32×32×3, 100 classes)`,
    );
  }
  rss.push(["models loaded", memory()]);
  const state = createState(models);
  const app = createApp(state);
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}/classify`;

  const pixels = new Uint8Array(w * h * 3).map((_, i) => (i * 37) % 256);
  const png = encodePng({ width: w, height: h, data: pixels, channels: 3 });
  const send = async () => {
    const form = new FormData();
    form.append("img", new File([png as Uint8Array<ArrayBuffer>], "x.png"));
    const res = await fetch(url, { method: "POST", body: form });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    await res.json();
  };
  // The OIP request: one FP32 HWC image at the model's size, as a KServe client sends it.
  const inferModel = inferName === undefined
    ? (models.find((m) => m.name === "symmetric") ?? models[0])
    : models.find((m) => m.name === inferName);
  if (!inferModel) {
    const names = models.map((m) => m.name);
    throw new UsageError(`--infer-model: ${expectedOneOf(names)} (loaded), got "${inferName}"`);
  }
  const [ih, iw] = inferModel.inputSize, ic = inferModel.channels;
  const inferUrl = `http://127.0.0.1:${server.addr.port}/v2/models/${inferModel.name}/infer`;
  const image = Array.from({ length: ih * iw * ic }, (_, i) => ((i * 37) % 256) / 255);
  const inferBody = JSON.stringify({
    id: "bench",
    parameters: { rotate: "90,180,270" },
    inputs: [{ name: "img", shape: [1, ih, iw, ic], datatype: "FP32", data: image }],
  });
  // The same request in the binary tensor data extension, the outputs asked back as bytes.
  const imageBytes = fp32Bytes(image);
  const binaryHeader = new TextEncoder().encode(JSON.stringify({
    id: "bench",
    parameters: { rotate: "90,180,270", binary_data_output: true },
    inputs: [{
      name: "img",
      shape: [1, ih, iw, ic],
      datatype: "FP32",
      parameters: { binary_data_size: imageBytes.length },
    }],
  }));
  const binaryBody = new Uint8Array(binaryHeader.length + imageBytes.length);
  binaryBody.set(binaryHeader);
  binaryBody.set(imageBytes, binaryHeader.length);
  const sendInfer = async () => {
    const res = await fetch(inferUrl, {
      method: "POST",
      body: inferBody,
      headers: { "content-type": "application/json" },
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    await res.json();
  };
  const sendBinary = async () => {
    const res = await fetch(inferUrl, {
      method: "POST",
      body: binaryBody,
      headers: {
        "content-type": "application/octet-stream",
        [HEADER_LENGTH]: String(binaryHeader.length),
      },
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    // What a client does with the reply: the JSON header, then the probabilities' bytes.
    const bytes = new Uint8Array(await res.arrayBuffer());
    const length = Number(res.headers.get(HEADER_LENGTH));
    JSON.parse(new TextDecoder().decode(bytes.subarray(0, length)));
    new Float32Array(bytes.slice(length).buffer);
  };
  const run = async (concurrency: number, count: number, once = send) => {
    const latencies: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next++ < count) {
        const t = performance.now();
        await once();
        latencies.push(performance.now() - t);
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const q = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    return { concurrency, count, p50: q(0.5), p99: q(0.99), rps: count / seconds };
  };

  // Model-call time alone, without HTTP, decoding or JSON: one image + 3 turns, both models.
  const blank = { data: pixels, width: w, height: h, sourceType: "png" as const };
  const turns = [90, 180, 270].map((value) => ({ kind: "rotate" as const, value }));
  const modelMs: number[] = [];
  for (let i = 0; i < 30; i++) {
    const [results] = await classifyBatch([{ image: blank, models, transforms: turns, k: 5 }]);
    if (i >= 10) modelMs.push(results.reduce((s, r) => s + r.ms, 0));
  }
  modelMs.sort((a, b) => a - b);

  for (let i = 0; i < 20; i++) await send(); // warm-up
  rss.push(["after warm-up", memory()]);
  const rows = [];
  for (const concurrency of [1, 8]) {
    rows.push({ route: "classify" as const, ...await run(concurrency, n) });
    rss.push([`after ${concurrency === 1 ? n : 2 * n} requests`, memory()]);
  }
  for (let r = 0; r < rounds; r++) {
    await run(8, n);
    rss.push([`after ${(r + 3) * n} requests`, memory()]);
  }
  for (let i = 0; i < 20; i++) await sendInfer(); // warm-up
  for (const concurrency of [1, 8]) {
    rows.push({ route: "infer" as const, ...await run(concurrency, n, sendInfer) });
    rss.push([`after ${concurrency === 1 ? "" : "2 × "}${n} OIP-infer requests`, memory()]);
  }
  for (let i = 0; i < 20; i++) await sendBinary(); // warm-up
  for (const concurrency of [1, 8]) {
    rows.push({ route: "binary" as const, ...await run(concurrency, n, sendBinary) });
    rss.push([
      `after ${concurrency === 1 ? "" : "2 × "}${n} OIP-infer binary requests`,
      memory(),
    ]);
  }
  const peak = await peakRssMb();
  await server.shutdown();
  if (temp) await Deno.remove(temp, { recursive: true });

  const cpu =
    (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(/model name\s*:\s*(.*)/)
      ?.[1] ?? "?";
  console.log(
    `\n${navigator.hardwareConcurrency} cores (${cpu}), load average ${load} before the run, ${
      new Date().toISOString().slice(0, 16)
    }Z, Deno ${Deno.version.deno}, backend ${backend.name}`,
  );
  const route = {
    classify:
      `POST /classify (${w}×${h} PNG, multipart; original + 3 rotations; every loaded model)`,
    infer: `OIP POST /v2/models/${inferModel.name}/infer (1 FP32 ${ih}×${iw}×${ic} image, JSON, ` +
      `${inferBody.length} bytes; parameters.rotate 90,180,270; ${inferModel.name} only)`,
    binary: `the same, binary tensor data extension (${binaryBody.length} bytes; outputs as bytes)`,
  };
  console.log(
    `Models: ${
      models.map((m) => `${m.name} (${m.meta.config.preset}, ${m.params} params)`).join(" + ")
    }; client and server in one process\n`,
  );
  console.log("| route | concurrency | requests | p50 ms | p99 ms | requests/s |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| ${route[r.route]} | ${r.concurrency} | ${r.count} | ${r.p50.toFixed(1)} | ${
        r.p99.toFixed(1)
      } | ${r.rps.toFixed(1)} |`,
    );
  }
  console.log(
    `\nModel calls alone (every loaded model, 4 images each, no HTTP/decode/JSON): median ${
      modelMs[modelMs.length >> 1].toFixed(1)
    } ms over ${modelMs.length} calls`,
  );
  console.log(
    `\n| memory${
      gc ? " (after a forced GC)" : " (no --expose-gc: V8 may not have collected)"
    } | RSS MB | JS heap used MB |\n|---|---:|---:|`,
  );
  for (const [when, [r, heap]] of rss) {
    console.log(`| ${when} | ${r.toFixed(0)} | ${heap.toFixed(1)} |`);
  }
  console.log(`| peak RSS (VmHWM) | ${peak.toFixed(0)} | |`);
  return 0;
}

if (import.meta.main) runMain(main);
