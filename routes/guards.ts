/**
 * Middleware shared by the routes that need loaded models or take a body:
 *
 * - {@linkcode requireReady}: 503 `shutting_down` once shutdown has begun, 503 `loading` until
 *   the models are loaded (with the load error when loading failed);
 * - {@linkcode limitDeclaredBody}: 413 `body_too_large` when the declared `Content-Length` is
 *   over `--max-body-bytes`, before a byte of the body is read (the read itself counts the bytes
 *   again: lib/serve/request.ts `readLimited`);
 * - {@linkcode resolveModel}: 404 `unknown_model` for a `:name` that is not loaded or a
 *   `:version` that is not its version; the model and its version in `c.var` otherwise.
 *
 * Errors are thrown as {@linkcode HttpError}, so each route group's error handler gives them its
 * own shape (the Open Inference Protocol's `{ "error": "..." }` on /v2).
 *
 * @module
 */
import { createMiddleware } from "hono/factory";
import type { LoadedModel } from "../lib/model/checkpoint.ts";
import { HttpError } from "../lib/serve/request.ts";
import type { ServerState } from "./state.ts";

/** Whether the server takes inference requests: models loaded and not shutting down. */
export function isReady(state: ServerState): boolean {
  return state.models.length > 0 && !state.draining;
}

/**
 * Passes only when {@linkcode isReady}; otherwise 503 with the reason.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { onError } from "./errors.ts";
 * import { createState } from "./state.ts";
 * const state = createState();
 * const app = new Hono().post("/classify", requireReady(state), (c) => c.text("ok")).onError(onError);
 * (await app.request("/classify", { method: "POST" })).status; // 503: no model loaded yet
 * ```
 */
export function requireReady(state: ServerState) {
  return createMiddleware(async (_c, next) => {
    if (state.draining) {
      throw new HttpError(503, "shutting_down", "the server is shutting down; retry elsewhere");
    }
    if (state.models.length === 0) {
      throw new HttpError(
        503,
        "loading",
        state.loadError ?? "models are still loading; retry shortly",
      );
    }
    await next();
  });
}

/**
 * Refuses a request whose declared `Content-Length` is over `state.limits.maxBodyBytes` (413).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { onError } from "./errors.ts";
 * import { createState } from "./state.ts";
 * const state = createState();
 * const app = new Hono().post("/classify", limitDeclaredBody(state), (c) => c.text("ok")).onError(onError);
 * const big = { method: "POST", headers: { "content-length": String(100 << 20) }, body: "x" };
 * (await app.request("/classify", big)).status; // 413: over --max-body-bytes
 * ```
 */
export function limitDeclaredBody(state: ServerState) {
  return createMiddleware(async (c, next) => {
    const limit = state.limits.maxBodyBytes;
    const declared = Number(c.req.header("content-length") ?? NaN);
    if (declared > limit) {
      throw new HttpError(
        413,
        "body_too_large",
        `Request body of ${declared} bytes is over the limit of ${limit} bytes`,
      );
    }
    await next();
  });
}

/** The version of a served model in the Open Inference Protocol: its weights' hash, 12 digits. */
export function modelVersion(m: LoadedModel): string {
  return m.meta.weightsSha256.slice(0, 12);
}

/** What {@linkcode resolveModel} leaves in `c.var`. */
export type Served = { Variables: { served: LoadedModel; version: string } };

/**
 * Resolves the route's `:name` (and `:version` when the route has it) to a loaded model.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { onError } from "./errors.ts";
 * import { createState } from "./state.ts";
 * const state = createState();
 * const app = new Hono<Served>()
 *   .get("/v2/models/:name", resolveModel(state), (c) => c.json(c.var.served.name))
 *   .onError(onError);
 * (await app.request("/v2/models/symmetric")).status; // 404 unknown_model: none is loaded
 * ```
 */
export function resolveModel(state: ServerState) {
  return createMiddleware<Served>(async (c, next) => {
    const name = c.req.param("name") ?? "";
    const served = state.models.find((m) => m.name === name);
    if (!served) {
      throw new HttpError(
        404,
        "unknown_model",
        `No model "${name}": serving ${state.models.map((m) => m.name).join(", ") || "none yet"}`,
      );
    }
    const version = modelVersion(served);
    const asked = c.req.param("version");
    if (asked !== undefined && asked !== version) {
      throw new HttpError(
        404,
        "unknown_version",
        `Model "${name}" has version ${version}, not ${asked}`,
      );
    }
    c.set("served", served);
    c.set("version", version);
    await next();
  });
}
