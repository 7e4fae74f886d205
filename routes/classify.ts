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
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { ImageError, readImageHeader } from "../lib/image/decode.ts";
import type { LoadedModel } from "../lib/model/checkpoint.ts";
import { HttpError, readLimited, TransformFields, transformsOf } from "../lib/serve/request.ts";
import { limitDeclaredBody, requireReady } from "./guards.ts";
import type { ServerState } from "./state.ts";

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
  ...TransformFields,
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

/** Validates the query (422) into `c.var.query`, before the readiness and body checks. */
const parseQuery = createMiddleware<{ Variables: { query: z.infer<typeof ClassifyQuery> } }>(
  async (c, next) => {
    const raw = Object.fromEntries(
      Object.entries(c.req.queries()).map(([key, values]) => [key, values.join(",")]),
    );
    const parsed = ClassifyQuery.safeParse(raw);
    if (!parsed.success) throw queryError(parsed.error.issues[0]);
    c.set("query", parsed.data);
    await next();
  },
);

/** `POST /classify` over the server's state. */
export function classifyRoutes(state: ServerState): Hono {
  return new Hono().post(
    "/classify",
    parseQuery,
    requireReady(state),
    limitDeclaredBody(state),
    async (c) => {
      const query = c.var.query;
      const wanted = selectModels(query.model, state.models);
      const { limits } = state;
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
    },
  );
}
