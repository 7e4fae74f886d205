/**
 * Middleware shared by the routes that need loaded models or take a body:
 *
 * - {@linkcode requireReady}: 503 `shutting_down` once shutdown has begun, 503 `loading` until
 *   the models are loaded (with the load error when loading failed);
 * - {@linkcode limitDeclaredBody}: 413 `body_too_large` when the declared `Content-Length` is
 *   over `--max-body-bytes`, before a byte of the body is read (the read itself counts the bytes
 *   again: lib/serve/request.ts `readLimited`).
 *
 * Errors are thrown as {@linkcode HttpError}, so each route group's error handler gives them its
 * own shape (the Open Inference Protocol's `{ "error": "..." }` on /v2).
 *
 * @module
 */
import { createMiddleware } from "hono/factory";
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
 * new Hono().post("/classify", requireReady(state), handler);
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
 * new Hono().post("/classify", limitDeclaredBody(state), handler);
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
