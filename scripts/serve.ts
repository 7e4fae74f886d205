/**
 * `deno task serve`: the Hono inference server on Deno.serve. Listens at once (so /health
 * answers while models load; /ready and /classify say 503 until then), loads the checkpoints,
 * and shuts down gracefully on SIGINT/SIGTERM, finishing requests in flight.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type BackendName, setBackend } from "../lib/kernels/backend.ts";
import { loadModels } from "../lib/model/checkpoint.ts";
import { classifyBatch } from "../lib/serve/classify.ts";
import { createApp, createState, DEFAULT_LIMITS } from "../routes/app.ts";

const HELP = `Usage: deno task serve [flags]

  --checkpoints DIR    directory holding baseline/ and/or symmetric/ (default checkpoints)
  --port N             (default 8000; 0 picks a free port)
  --host ADDR          (default 0.0.0.0)
  --backend NAME       auto | wasm | webgpu | cpu (default auto)
  --max-body-bytes N   largest upload, checked while reading (default ${DEFAULT_LIMITS.maxBodyBytes})
  --max-pixels N       largest image, from its header before decoding (default ${DEFAULT_LIMITS.maxPixels})
  --queue N            requests allowed to wait for the models before 503 (default ${DEFAULT_LIMITS.queue})
  --max-batch N        most images (originals + transforms) micro-batched into one model call
                       (default ${DEFAULT_LIMITS.maxBatchImages})
  --body-timeout-ms N  time allowed to upload a body before 408 (default ${DEFAULT_LIMITS.bodyTimeoutMs})
  --quiet              no per-request log lines
  --help

Example: curl -F img=@cat.png 'http://localhost:8000/classify?rotate=90'`;

function positiveInt(flag: string, v: string | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`--${flag}: expected an integer ≥ ${min}, got "${v}"`);
  }
  return n;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        checkpoints: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        backend: { type: "string" },
        "max-body-bytes": { type: "string" },
        "max-pixels": { type: "string" },
        queue: { type: "string" },
        "max-batch": { type: "string" },
        "body-timeout-ms": { type: "string" },
        quiet: { type: "boolean" },
        help: { type: "boolean" },
      },
    }));
  } catch (e) {
    console.error(`error: ${(e as Error).message}\nRun with --help for the flags.`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  let limits, port;
  try {
    port = positiveInt("port", values.port, 8000, 0);
    limits = {
      maxBodyBytes: positiveInt(
        "max-body-bytes",
        values["max-body-bytes"],
        DEFAULT_LIMITS.maxBodyBytes,
      ),
      maxPixels: positiveInt("max-pixels", values["max-pixels"], DEFAULT_LIMITS.maxPixels),
      queue: positiveInt("queue", values.queue, DEFAULT_LIMITS.queue),
      maxBatchImages: positiveInt("max-batch", values["max-batch"], DEFAULT_LIMITS.maxBatchImages),
      bodyTimeoutMs: positiveInt(
        "body-timeout-ms",
        values["body-timeout-ms"],
        DEFAULT_LIMITS.bodyTimeoutMs,
      ),
    };
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  const backendName = values.backend ?? "auto";
  if (!["auto", "wasm", "webgpu", "cpu"].includes(backendName)) {
    console.error(`error: --backend: expected auto, wasm, webgpu or cpu, got "${backendName}"`);
    return 2;
  }
  let backend;
  try {
    backend = await setBackend(backendName as BackendName);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
  console.log(`backend: ${backend.name} (${backend.reason})`);
  const state = createState([], limits);
  const app = createApp(state, { log: values.quiet ? undefined : (line) => console.log(line) });
  const dir = values.checkpoints ?? "checkpoints";
  let resolveListening: (port: number) => void;
  const listening = new Promise<number>((r) => resolveListening = r);
  const server = Deno.serve({
    port,
    hostname: values.host ?? "0.0.0.0",
    onListen: ({ hostname, port }) => {
      console.log(`listening on http://${hostname}:${port}`);
      resolveListening(port);
    },
  }, app.fetch);
  await listening;
  // Deno's shutdown() lets running handlers finish but cuts request bodies still uploading,
  // so first drain: new /classify requests and /ready get 503, and shutdown() waits until
  // every request in flight is done (at most the body timeout plus a minute). A second
  // signal stops at once.
  let signals = 0;
  const stop = async (signal: string) => {
    if (signals++ > 0) {
      console.log(`${signal} again: stopping now`);
      await server.shutdown();
      return;
    }
    state.draining = true;
    console.log(
      `${signal}: finishing ${state.inFlight} request(s) in flight, then exiting (again to force)`,
    );
    const deadline = Date.now() + limits.bodyTimeoutMs + 60_000;
    while (state.inFlight > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await server.shutdown();
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
  try {
    const models = await loadModels(dir, (line) => console.log(line));
    // One call per model before saying ready, so the first request does not pay for tfjs'
    // kernel and weight set-up.
    const started = performance.now();
    const side = 32;
    const blank = {
      data: new Uint8Array(side * side * 3),
      width: side,
      height: side,
      sourceType: "png" as const,
    };
    const transforms = [90, 180, 270].map((value) => ({ kind: "rotate" as const, value }));
    await state.queue.run(() => classifyBatch([{ image: blank, models, transforms, k: 1 }]));
    state.models = models;
    console.log(
      `ready: ${models.map((m) => m.name).join(", ")} (warm-up ${
        (performance.now() - started).toFixed(0)
      } ms; queue ${limits.queue} requests, batches ≤ ${limits.maxBatchImages} images)`,
    );
  } catch (e) {
    state.loadError = (e as Error).message;
    console.error(`error: ${state.loadError}`);
    await server.shutdown();
    return 1;
  }
  await server.finished;
  console.log("stopped");
  return 0;
}

if (import.meta.main) Deno.exit(await main());
