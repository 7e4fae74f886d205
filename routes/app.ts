/**
 * The Hono app factory. Dependencies (loaded models, limits, the queue) come in as arguments,
 * so tests build an app without a network and the server fills in the models once loaded.
 *
 * @module
 */
import { Hono } from "hono";
import { InferenceQueue, type ServedModel } from "../lib/serve.ts";
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
  /** Inference jobs that may wait; more get 503 (default 16). */
  queue: number;
  /** Time allowed to upload a body (default 30 s). */
  bodyTimeoutMs: number;
}

/** Default limits. */
export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 10 * 1024 * 1024,
  maxPixels: 40_000_000,
  queue: 16,
  bodyTimeoutMs: 30_000,
};

/** Everything the routes read; `models` is empty until loaded. */
export interface ServerState {
  models: ServedModel[];
  loadError?: string;
  limits: Limits;
  queue: InferenceQueue;
  metrics: Metrics;
}

/** Builds the server state for a set of models (empty while loading). */
export function createState(models: ServedModel[] = [], limits: Partial<Limits> = {}): ServerState {
  const all = { ...DEFAULT_LIMITS, ...limits };
  return { models, limits: all, queue: new InferenceQueue(all.queue), metrics: new Metrics() };
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
    await next();
    const ms = performance.now() - started;
    const route = c.req.routePath && c.req.routePath !== "/*" ? c.req.routePath : "other";
    state.metrics.observeRequest(route, c.res.status, ms / 1000);
    options.log?.(`${c.req.method} ${c.req.path} ${c.res.status} ${ms.toFixed(1)}ms`);
  });
  app.route("/", healthRoutes(state));
  app.route("/", modelRoutes(state));
  app.route("/", metricsRoutes(state.metrics, () => state.queue.depth));
  app.route("/", classifyRoutes(state));
  app.notFound((c) => {
    const path = c.req.path;
    const allowed = ROUTES[path] ?? (/^\/v2\/models\/[^/]+(\/ready)?$/.test(path) ? ["GET"] : null);
    if (allowed) {
      c.header("Allow", allowed.join(", "));
      return c.json(
        {
          error: {
            code: "method_not_allowed",
            message: `${c.req.method} ${path}: expected ${allowed.join(" or ")}`,
          },
        },
        405,
      );
    }
    return c.json(
      { error: { code: "not_found", message: `No route ${c.req.method} ${path}` } },
      404,
    );
  });
  app.onError(onError);
  return app;
}

export { HttpError };
