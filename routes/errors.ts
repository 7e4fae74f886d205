/**
 * The one place errors become HTTP responses: `{ "error": { "code", "message" } }` with the
 * status below, and under /v2 the Open Inference Protocol's `{ "error": "<message>" }` with the
 * same status. Never a stack trace.
 *
 * @module
 */
import type { Context } from "hono";
import { ImageError } from "../lib/image/decode.ts";
import { QueueFullError } from "../lib/serve/queue.ts";
import { HttpError } from "../lib/serve/request.ts";

export { HttpError };

const IMAGE_STATUS: Record<ImageError["code"], number> = {
  empty: 400,
  not_image: 400,
  truncated: 400,
  corrupt: 400,
  zero_size: 400,
  decompression_bomb: 400,
  too_many_pixels: 413,
  unsupported_type: 415,
};

/** Maps any thrown value to its status, code and one-line message. */
export function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof ImageError) return new HttpError(IMAGE_STATUS[e.code] ?? 400, e.code, e.message);
  if (e instanceof QueueFullError) return new HttpError(503, "overloaded", e.message);
  return new HttpError(500, "internal", "internal error while handling the request");
}

/** Whether a path is the Open Inference Protocol's (`/v2`, `/v2/…`). */
export function isProtocolPath(path: string): boolean {
  return path === "/v2" || path.startsWith("/v2/");
}

/**
 * The Open Inference Protocol's error body, `{ "error": "<message>" }`, with the error's status,
 * or `clientStatus` for every status below 500 when given (infer answers 400 to every fault of
 * the request, as Triton does).
 */
export function protocolError(e: unknown, c: Context, clientStatus?: number): Response {
  const err = toHttpError(e);
  if (err.status === 500) console.error(`internal error: ${(e as Error)?.stack ?? e}`);
  const status = err.status < 500 && clientStatus ? clientStatus : err.status;
  return c.json({ error: err.message }, status as 500);
}

/** Hono `onError` handler: the protocol's shape under /v2, `{ error: { code, message } }` elsewhere. */
export function onError(e: Error, c: Context): Response {
  if (isProtocolPath(c.req.path)) return protocolError(e, c);
  const err = toHttpError(e);
  if (err.status === 500) console.error(`internal error: ${e.stack ?? e}`);
  return c.json({ error: { code: err.code, message: err.message } }, err.status as 500);
}
