/**
 * `POST /classify`: an image (multipart field `img`, or a raw body; PNG, JPEG, WebP, AVIF, TIFF
 * or the first frame of a GIF)
 * classified by each requested model together with its transforms, with an invariance score
 * `1 − JSD(p, q)` per transform.
 *
 * Query (validated with zod; 422 naming the field otherwise):
 * - `rotate`: comma-separated degrees, any real angle (|θ| ≤ 10⁶), counter-clockwise. Multiples
 *   of 90 use the exact rot90; other angles rotate about the centre with bilinear
 *   interpolation, and corners that come from outside the image are filled with 0 (black).
 * - `scale`: comma-separated zoom factors in [0.1, 10] about the centre (> 1 enlarges the
 *   centre and crops the border, < 1 shrinks the picture inside a black border).
 * - `flip`: `h` (mirror left-right), `v` (upside down) or `h,v` (each separately): exact
 *   array flips, scored like the other transforms.
 * - `model`: a loaded model's name (baseline, symmetric, p4m, scale, rotscale), a
 *   comma-separated list of them, `both` (baseline and symmetric) or `all` (default: every
 *   loaded model); 422 naming the loaded models otherwise.
 * - `topk`: 1–100 (default 5).
 * - `inputs=png`: each model's result also carries `inputs: { original, transforms: [...] }`,
 *   the images as that model saw them (resized, grey for a grey model, transformed) as base64
 *   PNGs at the model's input size.
 * Without `rotate`, `scale` and `flip`: `rotate=90,180,270`. At most 32 transforms per request. A key
 * given twice is read as one comma-separated list (`rotate=90&rotate=180` = `rotate=90,180`).
 *
 * Order of checks, cheapest first, so that a bad request costs little: query (422), readiness
 * (503), declared Content-Length (413), the body read with a running byte count (413 as soon as
 * it passes the limit; 408 if the upload is slower than the body timeout), type from the magic
 * bytes (400 unknown; 415 naming SVG, PDF and other types that are not decoded), pixel count from
 * the header that libvips reads without decoding (413); only then is the request queued (503 when
 * full), decoded (with libvips' own pixel limit at `maxPixels` too; 400 with the decoder's
 * reason for a truncated or corrupt file) and classified. A slow upload never holds the model:
 * its job is queued only once its body is complete.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import { ImageError, readImageHeader } from "../lib/image/decode.ts";
import type { LoadedModel } from "../lib/model/checkpoint.ts";
import type { Transform } from "../lib/serve/classify.ts";
import type { FlipAxis } from "../lib/transforms.ts";
import type { ServerState } from "./state.ts";
import { HttpError } from "./errors.ts";

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
 * The `model` query: names split on commas, `both` and `all` kept as they are; which names are
 * loaded is only known per request, so {@linkcode selectModels} checks them.
 */
const modelList = z.string().max(1000).transform((s, ctx) => {
  const names = s.split(",").map((v) => v.trim()).filter((v) => v !== "");
  if (names.length === 0) {
    ctx.addIssue({
      code: "custom",
      message: `model: expected a model name, a comma-separated list, both or all, got "${s}"`,
    });
    return z.NEVER;
  }
  return names;
});

/** The query of /classify. */
export const ClassifyQuery = z.object({
  rotate: list("rotate", -1e6, 1e6).optional(),
  scale: list("scale", 0.1, 10).optional(),
  flip: flips.optional(),
  model: modelList.default(["all"]),
  topk: z.coerce.number().int().min(1).max(100).default(5),
  inputs: z.literal("png", { error: 'inputs: expected "png"' }).optional(),
}).strict();

function queryError(issue: z.core.$ZodIssue): HttpError {
  const field = issue.path.join(".") ||
    (issue.code === "unrecognized_keys" ? issue.keys.join(",") : "query");
  const message = issue.message.startsWith(`${field}:`)
    ? issue.message
    : `${field}: ${issue.message}`;
  return new HttpError(422, "bad_query", message);
}

/**
 * The loaded models a `model` query names, in the order loaded: `all` is every loaded model,
 * `both` baseline and symmetric (those of them that are loaded), any other entry a model's
 * name. A name that is not loaded, or `both` with neither loaded, is a 422 naming the loaded
 * models.
 */
export function selectModels(names: string[], loaded: LoadedModel[]): LoadedModel[] {
  const serving = `serving ${loaded.map((m) => m.name).join(", ")}`;
  const chosen = new Set<LoadedModel>();
  for (const name of names) {
    if (name === "all") loaded.forEach((m) => chosen.add(m));
    else if (name === "both") {
      const pair = loaded.filter((m) => m.name === "baseline" || m.name === "symmetric");
      if (pair.length === 0) {
        throw new HttpError(
          422,
          "bad_query",
          `model: "both" needs baseline or symmetric (${serving})`,
        );
      }
      pair.forEach((m) => chosen.add(m));
    } else {
      const m = loaded.find((m) => m.name === name);
      if (!m) {
        throw new HttpError(
          422,
          "bad_query",
          `model: "${name}" is not loaded (${serving}; or both, all, or a comma-separated list)`,
        );
      }
      chosen.add(m);
    }
  }
  return loaded.filter((m) => chosen.has(m));
}

/** The transforms of a parsed query, in the order rotations, zooms, flips. */
export function transformsOf(
  query: { rotate?: number[]; scale?: number[]; flip?: FlipAxis[] },
): Transform[] {
  return [
    ...(query.rotate ?? []).map((value) => ({ kind: "rotate" as const, value })),
    ...(query.scale ?? []).map((value) => ({ kind: "scale" as const, value })),
    ...(query.flip ?? []).map((value) => ({ kind: "flip" as const, value })),
  ];
}

/** Reads a body stream, refusing it as soon as it passes `limit` bytes (never buffers more). */
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

/** Extracts the image bytes from a multipart form (field `img`) or a raw body. */
async function imageBytes(contentType: string, body: Uint8Array): Promise<Uint8Array> {
  if (/^multipart\/form-data/i.test(contentType)) {
    let form: FormData;
    try {
      form = await new Response(body as Uint8Array<ArrayBuffer>, {
        headers: { "content-type": contentType },
      }).formData();
    } catch {
      throw new HttpError(
        400,
        "bad_multipart",
        'Expected a multipart/form-data body with a file field "img"',
      );
    }
    const file = form.get("img");
    if (!(file instanceof File)) {
      throw new HttpError(400, "missing_image", 'Expected a file in the multipart field "img"');
    }
    return new Uint8Array(await file.arrayBuffer());
  }
  return body; // raw body: its type is decided by magic bytes, not by Content-Type
}

/** `POST /classify` over the server's state. */
export function classifyRoutes(state: ServerState): Hono {
  return new Hono().post("/classify", async (c) => {
    const raw = Object.fromEntries(
      Object.entries(c.req.queries()).map(([key, values]) => [key, values.join(",")]),
    );
    const parsed = ClassifyQuery.safeParse(raw);
    if (!parsed.success) throw queryError(parsed.error.issues[0]);
    const query = parsed.data;
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
    const wanted = selectModels(query.model, state.models);
    const { limits } = state;
    const declared = Number(c.req.header("content-length") ?? NaN);
    if (declared > limits.maxBodyBytes) {
      throw new HttpError(
        413,
        "body_too_large",
        `Request body of ${declared} bytes is over the limit of ${limits.maxBodyBytes} bytes`,
      );
    }
    const body = await readLimited(c.req.raw.body, limits.maxBodyBytes, limits.bodyTimeoutMs);
    const bytes = await imageBytes(c.req.header("content-type") ?? "", body);
    // Throws the ImageError for empty, unknown and unsupported bytes and a broken header.
    const header = await readImageHeader(bytes);
    if (header.width * header.height > limits.maxPixels) {
      throw new ImageError(
        "too_many_pixels",
        `Image of ${header.width}×${header.height} pixels is over the limit of ${limits.maxPixels} pixels`,
      );
    }
    const transforms = transformsOf(query);
    if (transforms.length === 0) {
      transforms.push(...[90, 180, 270].map((value) => ({ kind: "rotate" as const, value })));
    }
    if (transforms.length > 32) {
      throw new HttpError(
        422,
        "bad_query",
        `rotate, scale, flip: expected at most 32 transforms in all, got ${transforms.length}`,
      );
    }
    const started = performance.now();
    const { image, results } = await state.queue.classify({
      bytes,
      maxPixels: limits.maxPixels,
      models: wanted,
      transforms,
      k: query.topk,
      inputs: query.inputs === "png",
    });
    return c.json({
      image,
      transforms,
      models: Object.fromEntries(results.map((r) => [r.model, r])),
      ms: Number((performance.now() - started).toFixed(2)),
    });
  });
}
