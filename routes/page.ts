/**
 * `GET /`: a page to try the models in a browser, and `GET /static/…`, every byte it needs
 * (its CSS, its script and a few sample images). Nothing comes from another origin, so the page
 * works offline, and the Content-Security-Policy says so to the browser.
 *
 * The page is plain HTML from `hono/html` with one ES module (static/page.js) that calls the
 * JSON API the way a client would: `GET /models` for the models to offer, `POST
 * /classify?…&inputs=png` for the results. No build step.
 *
 * @module
 */
import { Hono } from "hono";
import { html } from "hono/html";
import { HttpError } from "./errors.ts";

/** The files under routes/static/ that are served, with their types (nothing else is). */
export const STATIC_FILES: Readonly<Record<string, string>> = {
  "page.css": "text/css; charset=utf-8",
  "page.js": "text/javascript; charset=utf-8",
  "favicon.svg": "image/svg+xml",
  "samples/cat.jpg": "image/jpeg",
  "samples/coffee.jpg": "image/jpeg",
  "samples/ankle-boot.png": "image/png",
  "samples/trouser.png": "image/png",
  "samples/sneaker.png": "image/png",
  "samples/bag.png": "image/png",
};

/** The bundled samples offered on the page: file under static/samples/ and its caption. */
export const SAMPLES: readonly { file: string; caption: string }[] = [
  { file: "cat.jpg", caption: "a cat (photo)" },
  { file: "coffee.jpg", caption: "coffee (photo)" },
  { file: "ankle-boot.png", caption: "ankle boot" },
  { file: "trouser.png", caption: "trouser" },
  { file: "sneaker.png", caption: "sneaker" },
  { file: "bag.png", caption: "bag" },
];

const ROTATIONS = [90, 180, 270, 45, 30, 15];
const ZOOMS = [0.5, 0.75, 1.5, 2];
/** The mirrors `/classify?flip=` takes, with what the page calls them. */
const FLIPS: readonly [string, string][] = [["h", "left-right"], ["v", "upside down"]];
/** Checked when the page opens: the three quarter turns, as `/classify` does by default. */
const DEFAULT_ROTATIONS = new Set([90, 180, 270]);

/** Same-origin only; `data:` and `blob:` images are the API's PNGs and the chosen file. */
const CSP = "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function page() {
  const check = (name: string, value: number | string, label: string, checked: boolean) =>
    html`
      <label
        class="chip"><input type="checkbox" name="${name}" value="${value}" ${checked
          ? "checked"
          : ""}> ${label}</label>
    `;
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>symlab — does the model keep its answer?</title>
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
        <link rel="stylesheet" href="/static/page.css">
        <script type="module" src="/static/page.js"></script>
      </head>
      <body>
        <header>
          <h1>symlab</h1>
          <p>Drop a picture, turn or zoom it, and see which model keeps its answer. The
          <strong>invariance score</strong> is 1 − JSD(p, q) in bits between the class probabilities of
          the original (p) and of the transformed picture (q): 1 means the same prediction, 0 disjoint
          ones.</p>
        </header>
        <main>
          <form id="form" novalidate>
            <fieldset id="image-set">
              <legend>1. A picture</legend>
              <label id="drop" class="drop" for="file">
                <input id="file" name="img" type="file" accept="image/*" class="visually-hidden">
                <img id="preview" alt="" hidden>
                <span id="drop-text">Choose a file, or drop one here</span>
              </label>
              <p class="hint">Or a sample:</p>
              <div class="samples" role="group" aria-label="Sample pictures">
              ${SAMPLES.map((s) =>
                html`
                  <button type="button" class="sample" data-sample="/static/samples/${s.file}"
                    title="${s.caption}"><img src="/static/samples/${s
                      .file}" alt="" width="48" height="48"><span>${s.caption}</span></button>
                `
              )}
            </div>
            </fieldset>
            <fieldset>
              <legend>2. Transforms</legend>
              <div class="row" role="group" aria-label="Rotations (degrees, counter-clockwise)">
              <span class="what">Rotate</span>
              ${ROTATIONS.map((r) => check("rotate", r, `${r}°`, DEFAULT_ROTATIONS.has(r)))}
            </div>
              <div class="row" role="group" aria-label="Zoom factors about the centre">
              <span class="what">Zoom</span>
              ${ZOOMS.map((z) => check("scale", z, `×${z}`, false))}
            </div>
              <div class="row" role="group" aria-label="Mirrors (exact flips)">
              <span class="what">Flip</span>
              ${FLIPS.map(([v, label]) => check("flip", v, label, false))}
            </div>
              <div class="row">
                <label
                  class="text">Other angles <input id="rotate-more" name="rotate-more" inputmode="decimal" placeholder="e.g. 10, -60" autocomplete="off"></label>
                <label
                  class="text">Other zooms <input id="scale-more" name="scale-more" inputmode="decimal" placeholder="e.g. 1.25" autocomplete="off"></label>
              </div>
            </fieldset>
            <fieldset>
              <legend>3. Models</legend>
              <div id="models" class="row" role="group"
                aria-label="Models"><span class="hint">loading the list of models…</span></div>
              <label class="text">Top classes <select id="topk" name="topk">
              <option>3</option><option selected>5</option><option>10</option>
            </select></label>
            </fieldset>
            <div class="actions">
              <button id="go" type="submit" class="primary">Classify</button>
              <span id="status" role="status" aria-live="polite"></span>
            </div>
          </form>
          <div id="error" class="error" role="alert" hidden></div>
          <section id="results" aria-live="polite" aria-label="Results"></section>
        </main>
        <footer>
          <p>Everything on this page comes from this server. JSON API: <code>POST /classify</code>,
        <code>GET /models</code>, and the Open Inference Protocol's <code>POST /v2/models/{name}/infer</code>.</p>
        </footer>
      </body>
    </html>
  `;
}

/** `GET /` and `GET /static/{file}` (only the files in {@linkcode STATIC_FILES}). */
export function pageRoutes(): Hono {
  const cache = new Map<string, Uint8Array>();
  const serve = async (name: string) => {
    const type = STATIC_FILES[name];
    if (!type) return null;
    let bytes = cache.get(name);
    if (!bytes) {
      bytes = await Deno.readFile(new URL(`./static/${name}`, import.meta.url));
      cache.set(name, bytes);
    }
    return new Response(bytes as Uint8Array<ArrayBuffer>, {
      headers: {
        "content-type": type,
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
      },
    });
  };
  const notFound = (name: string): never => {
    throw new HttpError(404, "not_found", `No static file "${name}"`);
  };
  return new Hono()
    .get("/", async (c) => {
      c.header("content-security-policy", CSP);
      return c.html(await page());
    })
    .get(
      "/static/:name",
      async (c) => (await serve(c.req.param("name"))) ?? notFound(c.req.param("name")),
    )
    .get(
      "/static/samples/:name",
      async (c) =>
        (await serve(`samples/${c.req.param("name")}`)) ??
          notFound(`samples/${c.req.param("name")}`),
    );
}
