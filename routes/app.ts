/**
 * The Hono app factory. Dependencies (loaded models, limits, the queue) come in as arguments,
 * so tests build an app without a network and the server fills in the models once loaded.
 *
 * @module
 */
import { Hono } from "hono";
import { InferenceQueue, type ServedModel } from "../lib/serve/classify.ts";
import { classifyRoutes } from "./classify.ts";
import { HttpError, onError } from "./errors.ts";
import { healthRoutes } from "./health.ts";
import { Metrics, metricsRoutes } from "./metrics.ts";
import { modelRoutes } from "./models.ts";

/** Limits of the server; every one is a `deno task serve` flag. */
export interface Limits {
  /** Largest request body, checked while reading (default 10 MiB). */
  maxBodyBytes: number;
  /** Largest image, checked from its header before decoding (default 40 MP). */
  maxPixels: number;
  /** Requests that may wait for the models; one more gets 503 (default 64). */
  queue: number;
  /** Most images (originals + transforms) in one micro-batched model call (default 64). */
  maxBatchImages: number;
  /** Time allowed to upload a body; a slower upload gets 408 (default 30 s). */
  bodyTimeoutMs: number;
}

/** Default limits. */
export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 10 * 1024 * 1024,
  maxPixels: 40_000_000,
  queue: 64,
  maxBatchImages: 64,
  bodyTimeoutMs: 30_000,
};

/** Everything the routes read; `models` is empty until loaded. */
export interface ServerState {
  models: ServedModel[];
  loadError?: string;
  limits: Limits;
  queue: InferenceQueue;
  metrics: Metrics;
  /** Requests being handled now (bodies still uploading included). */
  inFlight: number;
  /** Set on SIGINT/SIGTERM: /ready and /classify answer 503 while in-flight requests finish. */
  draining: boolean;
}

/** Builds the server state for a set of models (empty while loading). */
export function createState(models: ServedModel[] = [], limits: Partial<Limits> = {}): ServerState {
  const all = { ...DEFAULT_LIMITS, ...limits };
  const metrics = new Metrics();
  const queue = new InferenceQueue({
    capacity: all.queue,
    maxBatchImages: all.maxBatchImages,
    onModelCall: (_model, requests, images) => metrics.observeBatch(requests, images),
  });
  return { models, limits: all, queue, metrics, inFlight: 0, draining: false };
}

const ROUTES: Record<string, string[]> = {
  "/classify": ["POST"],
  "/health": ["GET"],
  "/ready": ["GET"],
  "/models": ["GET"],
  "/metrics": ["GET"],
  "/v2/health/live": ["GET"],
  "/v2/health/ready": ["GET"],
};

/**
 * Creates the app.
 *
 * @example
 * ```ts
 * const app = createApp(createState(await loadServedModels("checkpoints")));
 * Deno.serve({ port: 8000 }, app.fetch);
 * ```
 */
export function createApp(
  state: ServerState,
  options: { log?: (line: string) => void } = {},
): Hono {
  const app = new Hono();
  app.use(async (c, next) => {
    const started = performance.now();
    state.inFlight++;
    try {
      await next();
    } finally {
      state.inFlight--;
    }
    const ms = performance.now() - started;
    const route = c.req.routePath && c.req.routePath !== "/*" ? c.req.routePath : "other";
    state.metrics.observeRequest(route, c.res.status, ms / 1000);
    options.log?.(`${c.req.method} ${c.req.path} ${c.res.status} ${ms.toFixed(1)}ms`);
  });
  app.route("/", healthRoutes(state));
  app.route("/", modelRoutes(state));
  app.route(
    "/",
    metricsRoutes(state.metrics, () => ({
      queueDepth: state.queue.depth,
      queueCapacity: state.queue.capacity,
      modelsLoaded: state.models.length,
    })),
  );
  app.route("/", classifyRoutes(state));
  // Not a throw: Hono runs notFound outside the handlers' try, so the log line would be lost.
  app.notFound((c) => {
    const path = c.req.path;
    const allowed = ROUTES[path] ?? (/^\/v2\/models\/[^/]+(\/ready)?$/.test(path) ? ["GET"] : null);
    if (!allowed) {
      return onError(new HttpError(404, "not_found", `No route ${c.req.method} ${path}`), c);
    }
    c.header("Allow", allowed.join(", "));
    return onError(
      new HttpError(
        405,
        "method_not_allowed",
        `${c.req.method} ${path}: expected ${allowed.join(" or ")}`,
      ),
      c,
    );
  });
  app.onError(onError);
  return app;
}

export { HttpError };
