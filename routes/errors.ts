/**
 * The one place errors become HTTP responses: `{ "error": { "code", "message" } }` with the
 * status below. Never a stack trace.
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

/** Hono `onError` handler. */
export function onError(e: Error, c: Context): Response {
  const err = toHttpError(e);
  if (err.status === 500) console.error(`internal error: ${e.stack ?? e}`);
  return c.json({ error: { code: err.code, message: err.message } }, err.status as 500);
}
