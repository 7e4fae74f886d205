/**
 * `deno task serve`: the Hono inference server on Deno.serve. Listens at once (so /health
 * answers while models load; /ready and /classify say 503 until then), loads the checkpoints,
 * and shuts down gracefully on SIGINT/SIGTERM, finishing requests in flight.
 *
 * Where deployments expect it (KServe, Knative, Cloud Run): the port comes from `--port`, else
 * `PORT` (which Knative sets for a KServe custom container, 8080 by default), else 8000; the
 * checkpoints from `--checkpoints`, else `SYMLAB_CHECKPOINTS`, else `/mnt/models` when it exists
 * (where KServe's storage initializer puts the `storageUri`), else `checkpoints`. Explicit
 * beats implicit: a flag is what this command was told, `SYMLAB_CHECKPOINTS` is meant for
 * symlab alone, and `/mnt/models` is only a platform's convention. Both choices are printed
 * with the reason.
 *
 * @module
 */
import { BACKEND_NAMES, setBackend } from "../lib/kernels/backend.ts";
import { loadModels } from "../lib/model/checkpoint.ts";
import { classifyBatch } from "../lib/serve/classify.ts";
import { createApp, createState, DEFAULT_LIMITS } from "../routes/app.ts";
import { z } from "zod";
import { numberFlag, optionsHelp, parseOptions, runMain, UsageError } from "./cli.ts";

/** Where KServe mounts a model's `storageUri` in the container. */
export const KSERVE_MODEL_DIR = "/mnt/models";

/** A setting and why it was chosen, as `serve` prints it. */
export interface Chosen<T> {
  value: T;
  reason: string;
}

/**
 * The port: `--port`, else the `PORT` environment variable, else 8000 (0 picks a free port).
 *
 * @example
 * ```ts
 * choosePort(undefined, "8080"); // { value: 8080, reason: "from PORT" }
 * ```
 */
export function choosePort(flag: string | undefined, env: string | undefined): Chosen<number> {
  if (flag !== undefined) {
    return { value: numberFlag("port", flag, 8000, { integer: true, min: 0 }), reason: "--port" };
  }
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 65535 || env.trim() !== env) {
      throw new UsageError(`PORT: expected an integer port in 0–65535, got "${env}"`);
    }
    return { value: n, reason: "from PORT" };
  }
  return { value: 8000, reason: "default (no --port, no PORT)" };
}

/**
 * The checkpoint directory: `--checkpoints`, else `SYMLAB_CHECKPOINTS`, else KServe's
 * `/mnt/models` when it is a directory, else `checkpoints`.
 *
 * @example
 * ```ts
 * chooseCheckpoints(undefined, undefined, (dir) => dir === "/mnt/models").value; // "/mnt/models"
 * ```
 */
export function chooseCheckpoints(
  flag: string | undefined,
  env: string | undefined,
  isDir: (dir: string) => boolean,
): Chosen<string> {
  if (flag !== undefined) return { value: flag, reason: "--checkpoints" };
  if (env !== undefined && env !== "") return { value: env, reason: "from SYMLAB_CHECKPOINTS" };
  if (isDir(KSERVE_MODEL_DIR)) {
    return {
      value: KSERVE_MODEL_DIR,
      reason: "KServe's model mount (no --checkpoints, no SYMLAB_CHECKPOINTS)",
    };
  }
  return {
    value: "checkpoints",
    reason: `default (no --checkpoints, no SYMLAB_CHECKPOINTS, no ${KSERVE_MODEL_DIR})`,
  };
}

function isDirectory(dir: string): boolean {
  try {
    return Deno.statSync(dir).isDirectory;
  } catch {
    return false;
  }
}

/** A limit of the server: a positive integer, its default from DEFAULT_LIMITS. */
const limit = (fallback: number, help: string) =>
  z.number().int().min(1).default(fallback).meta({ arg: "N", help });

/** Every flag of `deno task serve`, its default and its help (scripts/cli.ts derives the flags). */
export const ServeOptionsSchema = z.strictObject({
  // Text: the flag, SYMLAB_CHECKPOINTS and KServe's mount are chosen between by chooseCheckpoints.
  checkpoints: z.string().min(1).optional().meta({
    arg: "DIR",
    help: "directory holding baseline/, symmetric/, p4m/, scale/ and/or rotscale/ (default: " +
      `$SYMLAB_CHECKPOINTS, else ${KSERVE_MODEL_DIR} if it exists, else checkpoints)`,
  }),
  // Text: choosePort checks it as it checks PORT.
  port: z.string().optional().meta({
    arg: "N",
    help: "(default: $PORT, else 8000; 0 picks a free port)",
  }),
  host: z.string().min(1).default("0.0.0.0").meta({ arg: "ADDR" }),
  backend: z.enum(BACKEND_NAMES).default("auto"),
  maxBodyBytes: limit(DEFAULT_LIMITS.maxBodyBytes, "largest upload, checked while reading"),
  maxPixels: limit(DEFAULT_LIMITS.maxPixels, "largest image, from its header before decoding"),
  queue: limit(DEFAULT_LIMITS.queue, "requests allowed to wait for the models before 503"),
  maxBatch: limit(
    DEFAULT_LIMITS.maxBatchImages,
    "most images (originals + transforms) micro-batched into one model call",
  ),
  bodyTimeoutMs: limit(DEFAULT_LIMITS.bodyTimeoutMs, "time allowed to upload a body before 408"),
  quiet: z.boolean().default(false).meta({ help: "no per-request log lines" }),
});

const HELP = `Usage: deno task serve [flags]

${optionsHelp(ServeOptionsSchema)}

Example: curl -F img=@cat.png 'http://localhost:8000/classify?rotate=90'`;

async function main(): Promise<number> {
  const { help, options } = parseOptions(ServeOptionsSchema, Deno.args);
  if (help) {
    console.log(HELP);
    return 0;
  }
  const port = choosePort(options.port, Deno.env.get("PORT"));
  const dir = chooseCheckpoints(
    options.checkpoints,
    Deno.env.get("SYMLAB_CHECKPOINTS"),
    isDirectory,
  );
  const limits = {
    maxBodyBytes: options.maxBodyBytes,
    maxPixels: options.maxPixels,
    queue: options.queue,
    maxBatchImages: options.maxBatch,
    bodyTimeoutMs: options.bodyTimeoutMs,
  };
  const backend = await setBackend(options.backend);
  console.log(`backend: ${backend.name} (${backend.reason})`);
  const state = createState([], limits);
  const app = createApp(state, { log: options.quiet ? undefined : (line) => console.log(line) });
  let resolveListening: (port: number) => void;
  const listening = new Promise<number>((r) => resolveListening = r);
  console.log(`port: ${port.value} (${port.reason}); checkpoints: ${dir.value} (${dir.reason})`);
  const server = Deno.serve({
    port: port.value,
    hostname: options.host,
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
    const models = await loadModels(dir.value, (line) => console.log(line));
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
