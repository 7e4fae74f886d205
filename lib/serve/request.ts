/**
 * What the HTTP routes share about reading a request, below routes/ so that no route imports
 * from another: {@linkcode HttpError} (a status and a stable code), {@linkcode readLimited}
 * (a body read within a byte limit and a time limit) and the transform lists of `/classify`'s
 * query and the Open Inference Protocol's `parameters` ({@linkcode TransformFields},
 * {@linkcode transformsOf}).
 *
 * @module
 */
import { z } from "zod";
import type { FlipAxis } from "../transforms.ts";
import type { Transform } from "./classify.ts";

/** An error with its HTTP status and a stable machine-readable code. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const list = (name: string, min: number, max: number) =>
  z.string().max(1000).transform((s, ctx) => {
    const values = s.split(",").map((v) => v.trim()).filter((v) => v !== "").map(Number);
    if (
      values.length === 0 || values.length > 32 ||
      values.some((v) => !Number.isFinite(v) || v < min || v > max)
    ) {
      ctx.addIssue({
        code: "custom",
        message: `${name}: expected 1–32 comma-separated numbers in [${min}, ${max}], got "${s}"`,
      });
      return z.NEVER;
    }
    return values;
  });

const flips = z.string().max(1000).transform((s, ctx) => {
  const values = s.split(",").map((v) => v.trim()).filter((v) => v !== "");
  if (values.length === 0 || values.length > 32 || values.some((v) => v !== "h" && v !== "v")) {
    ctx.addIssue({
      code: "custom",
      message: `flip: expected h, v or h,v (mirror left-right, upside down), got "${s}"`,
    });
    return z.NEVER;
  }
  return values as FlipAxis[];
});

/**
 * The transform fields as strings: `rotate` (comma-separated degrees, |θ| ≤ 10⁶), `scale`
 * (zoom factors in [0.1, 10]) and `flip` (`h`, `v` or `h,v`); each issue's message starts with
 * the field's name.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const q = z.object(TransformFields).parse({ rotate: "90,45" }); // { rotate: [90, 45] }
 * ```
 */
export const TransformFields = {
  rotate: list("rotate", -1e6, 1e6).optional(),
  scale: list("scale", 0.1, 10).optional(),
  flip: flips.optional(),
};

/**
 * The transforms of parsed transform fields, in the order rotations, zooms, flips.
 *
 * @example
 * ```ts
 * transformsOf({ rotate: [90], flip: ["h"] });
 * // [{ kind: "rotate", value: 90 }, { kind: "flip", value: "h" }]
 * ```
 */
export function transformsOf(
  query: { rotate?: number[]; scale?: number[]; flip?: FlipAxis[] },
): Transform[] {
  return [
    ...(query.rotate ?? []).map((value) => ({ kind: "rotate" as const, value })),
    ...(query.scale ?? []).map((value) => ({ kind: "scale" as const, value })),
    ...(query.flip ?? []).map((value) => ({ kind: "flip" as const, value })),
  ];
}

/**
 * Reads a body stream, refusing it as soon as it passes `limit` bytes (never buffers more):
 * {@linkcode HttpError} 413 `body_too_large`, 408 `body_timeout` after `timeoutMs`, 400
 * `body_aborted` when the stream breaks.
 *
 * @example
 * ```ts
 * const request = new Request("http://localhost/classify", { method: "POST", body: "an image" });
 * const body = await readLimited(request.body, 10 * 1024 * 1024, 30_000); // 8 bytes
 * ```
 */
export async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
  timeoutMs: number,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel("timeout").catch(() => {});
  }, timeoutMs);
  try {
    while (true) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw new HttpError(
          400,
          "body_aborted",
          `The request body ended before it was complete (${(e as Error).message})`,
        );
      }
      const { value, done } = chunk;
      if (timedOut) {
        throw new HttpError(
          408,
          "body_timeout",
          `The request body took longer than ${timeoutMs} ms to upload`,
        );
      }
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new HttpError(
          413,
          "body_too_large",
          `Request body is over the limit of ${limit} bytes`,
        );
      }
      chunks.push(value);
    }
  } finally {
    clearTimeout(timer);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
