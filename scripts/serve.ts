/**
 * `deno task serve`: the Hono inference server on Deno.serve. Listens at once (so /health
 * answers while models load; /ready and /classify say 503 until then), loads the checkpoints,
 * and shuts down gracefully on SIGINT/SIGTERM, finishing requests in flight.
 *
 * @module
 */
import { BACKEND_NAMES, setBackend } from "../lib/kernels/backend.ts";
import { loadModels } from "../lib/model/checkpoint.ts";
import { classifyBatch } from "../lib/serve/classify.ts";
import { createApp, createState, DEFAULT_LIMITS } from "../routes/app.ts";
import { choiceFlag, numberFlag, parseFlags, runMain } from "./cli.ts";

const HELP = `Usage: deno task serve [flags]

  --checkpoints DIR    directory holding baseline/ and/or symmetric/ (default checkpoints)
  --port N             (default 8000; 0 picks a free port)
  --host ADDR          (default 0.0.0.0)
  --backend NAME       ${BACKEND_NAMES.join(" | ")} (default auto)
  --max-body-bytes N   largest upload, checked while reading (default ${DEFAULT_LIMITS.maxBodyBytes})
  --max-pixels N       largest image, from its header before decoding (default ${DEFAULT_LIMITS.maxPixels})
  --queue N            requests allowed to wait for the models before 503 (default ${DEFAULT_LIMITS.queue})
  --max-batch N        most images (originals + transforms) micro-batched into one model call
                       (default ${DEFAULT_LIMITS.maxBatchImages})
  --body-timeout-ms N  time allowed to upload a body before 408 (default ${DEFAULT_LIMITS.bodyTimeoutMs})
  --quiet              no per-request log lines
  --help

Example: curl -F img=@cat.png 'http://localhost:8000/classify?rotate=90'`;

async function main(): Promise<number> {
  const values = parseFlags(Deno.args, {
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
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const count = (flag: keyof typeof values, fallback: number, min = 1) =>
    numberFlag(flag, values[flag] as string | undefined, fallback, { integer: true, min });
  const port = count("port", 8000, 0);
  const limits = {
    maxBodyBytes: count("max-body-bytes", DEFAULT_LIMITS.maxBodyBytes),
    maxPixels: count("max-pixels", DEFAULT_LIMITS.maxPixels),
    queue: count("queue", DEFAULT_LIMITS.queue),
    maxBatchImages: count("max-batch", DEFAULT_LIMITS.maxBatchImages),
    bodyTimeoutMs: count("body-timeout-ms", DEFAULT_LIMITS.bodyTimeoutMs),
  };
  const backend = await setBackend(choiceFlag("backend", values.backend, BACKEND_NAMES, "auto"));
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

if (import.meta.main) runMain(main);
