/**
 * The Hono app factory. Dependencies (loaded models, limits, the queue) come in as a
 * {@linkcode ServerState} (state.ts), so tests build an app without a network and the server
 * fills in the models once loaded.
 *
 * @module
 */
import { Hono } from "hono";
import { classifyRoutes } from "./classify.ts";
import { HttpError, onError } from "./errors.ts";
import { healthRoutes } from "./health.ts";
import { inferRoutes } from "./infer.ts";
import { metricsRoutes } from "./metrics.ts";
import { modelRoutes } from "./models.ts";
import { pageRoutes } from "./page.ts";
import type { ServerState } from "./state.ts";

/**
 * Creates the app.
 *
 * @example
 * ```ts
 * import { createState } from "./state.ts";
 * // createState(await loadModels("checkpoints")) serves trained models; with none the app starts
 * // and answers /health while /ready says 503
 * const app = createApp(createState());
 * const res = await app.request("/health"); // 200 {"status":"ok"}
 * // Deno.serve({ port: 8000 }, app.fetch) puts it on a port
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
  app.route("/", inferRoutes(state));
  app.route("/", pageRoutes());
  // The 405 table comes from the routes mounted above, so it cannot drift from them.
  const table = allowedMethods(app);
  // Not a throw: Hono runs notFound outside the handlers' try, so the log line would be lost.
  app.notFound((c) => {
    const path = c.req.path;
    const allowed = table(path);
    if (allowed.length === 0) {
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

/**
 * The methods each mounted path answers, as a lookup from a request path (Hono's `:param`
 * segments match any one segment). Middleware (`ALL`, `/*`) is not a route.
 */
function allowedMethods(app: Hono): (path: string) => string[] {
  const routes = app.routes
    .filter((r) => r.method !== "ALL" && !r.path.includes("*"))
    .map((r) => ({
      method: r.method,
      pattern: new RegExp(
        "^" +
          r.path.split("/").map((s) => s.startsWith(":") ? "[^/]+" : RegExp.escape(s)).join("/") +
          "$",
      ),
    }));
  return (path) => [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))];
}

export { HttpError };
export { createState, DEFAULT_LIMITS, type Limits, type ServerState } from "./state.ts";
