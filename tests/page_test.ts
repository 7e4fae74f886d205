/**
 * The web page in-process (`app.request()`): the HTML, every file it refers to served from this
 * server (no other origin anywhere), and `/classify?inputs=png`, the inputs as the model saw
 * them, checked pixel for pixel.
 */
import assert from "node:assert/strict";
import { decode as decodePng, encode as encodePng } from "fast-png";
import { loadModels } from "../lib/model/checkpoint.ts";
import { createApp, createState } from "../routes/app.ts";
import { SAMPLES, STATIC_FILES } from "../routes/page.ts";
import { useBackend } from "./helpers.ts";
import { multipart, trainTinyCheckpoints } from "./server_fixtures.ts";

await useBackend("wasm");
const dir = await Deno.makeTempDir();
await trainTinyCheckpoints(dir);
const app = createApp(createState(await loadModels(dir)));

/** Every `src=`/`href=` in a document, and every `url(…)`/`import` target in CSS or JS. */
function references(text: string): string[] {
  return [
    ...[...text.matchAll(/\b(?:src|href)\s*=\s*"([^"]*)"/g)].map((m) => m[1]),
    ...[...text.matchAll(/url\(\s*['"]?([^'")]*)/g)].map((m) => m[1]),
    ...[...text.matchAll(/\bimport\s*(?:[^"'()]*from\s*)?["']([^"']+)["']/g)].map((m) => m[1]),
  ];
}

Deno.test("GET / is the page: a file input, samples, transforms, models, and a same-origin CSP", async () => {
  const res = await app.request("/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'self'/);
  assert.doesNotMatch(csp, /https?:/);
  const page = await res.text();
  assert.match(page, /<input id="file" name="img" type="file" accept="image\/\*"/);
  assert.match(page, /<label id="drop" class="drop" for="file">/);
  for (const s of SAMPLES) {
    assert.ok(page.includes(`data-sample="/static/samples/${s.file}"`), s.file);
  }
  for (const r of [90, 180, 270, 45]) {
    assert.ok(page.includes(`name="rotate" value="${r}"`), `${r}`);
  }
  for (const z of [0.5, 2]) assert.ok(page.includes(`name="scale" value="${z}"`), `${z}`);
  assert.match(page, /<div id="models"/);
  assert.match(page, /<div id="error" class="error" role="alert" hidden>/);
  assert.match(page, /<span id="status" role="status"/);
  assert.match(page, /<meta name="viewport" content="width=device-width/);
  assert.doesNotMatch(page, /https?:\/\//, "no absolute URL: nothing from another origin");
});

Deno.test("every file the page refers to is served from here with its type; nothing else is", async () => {
  const page = await (await app.request("/")).text();
  const seen = new Set<string>();
  const queue = references(page);
  while (queue.length > 0) {
    const ref = queue.shift()!;
    if (seen.has(ref)) continue;
    seen.add(ref);
    assert.ok(ref.startsWith("/static/"), `same-origin path, got ${ref}`);
    const res = await app.request(ref);
    assert.equal(res.status, 200, ref);
    const type = res.headers.get("content-type") ?? "";
    assert.equal(type, STATIC_FILES[ref.slice("/static/".length)], ref);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    if (/css|javascript/.test(type)) {
      const text = await res.text();
      assert.doesNotMatch(text, /https?:\/\//, `${ref}: no absolute URL`);
      assert.doesNotMatch(text, /@import|@font-face/, `${ref}: no fonts or imported sheets`);
      queue.push(...references(text).filter((r) => !r.startsWith("data:")));
    } else {
      const bytes = new Uint8Array(await res.arrayBuffer());
      assert.ok(bytes.length > 100, `${ref}: ${bytes.length} bytes`);
    }
  }
  assert.ok(seen.has("/static/page.js") && seen.has("/static/page.css"));
  assert.equal([...seen].filter((s) => s.startsWith("/static/samples/")).length, SAMPLES.length);
  // Only the listed files: no directory walking, no other names.
  for (const path of ["/static/../deno.json", "/static/page.ts", "/static/samples/README.md"]) {
    const res = await app.request(path);
    assert.equal(res.status, 404, path);
    assert.equal((await res.json()).error.code, "not_found");
  }
});

Deno.test("the bundled samples classify through /classify", async () => {
  for (const s of SAMPLES) {
    const bytes = new Uint8Array(
      await (await app.request(`/static/samples/${s.file}`)).arrayBuffer(),
    );
    const res = await app.request("/classify?rotate=90", {
      method: "POST",
      body: multipart(bytes),
    });
    assert.equal(res.status, 200, `${s.file}: ${await res.clone().text()}`);
  }
});

Deno.test("/classify?inputs=png returns the inputs as the model saw them, pixel for pixel", async () => {
  // 16×16 is the tiny models' input size, so resizing is the identity and the PNGs must hold
  // exactly these bytes, turned as rot90 turns them (out[i][j] = in[j][W−1−i]).
  const n = 16;
  const rgb = new Uint8Array(n * n * 3).map((_, i) => (i * 53 + (i >> 4) * 7) % 256);
  const res = await app.request("/classify?rotate=90,180,33&scale=2&inputs=png", {
    method: "POST",
    body: multipart(encodePng({ width: n, height: n, data: rgb, channels: 3, depth: 8 })),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json();
  const at = (img: Uint8Array, y: number, x: number) =>
    img.subarray((y * n + x) * 3, (y * n + x) * 3 + 3);
  for (const name of ["baseline", "symmetric"]) {
    const { inputs } = body.models[name];
    assert.deepEqual(Object.keys(inputs), ["original", "transforms"]);
    assert.equal(inputs.transforms.length, 4);
    const png = (b64: string) => {
      const img = decodePng(Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)));
      assert.equal(img.width, n);
      assert.equal(img.height, n);
      assert.equal(img.channels, 3);
      assert.equal(img.depth, 8);
      return img.data as Uint8Array;
    };
    const original = png(inputs.original);
    assert.deepEqual(original, rgb);
    const r90 = png(inputs.transforms[0]), r180 = png(inputs.transforms[1]);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        assert.deepEqual(at(r90, i, j), at(rgb, j, n - 1 - i), `rotate 90 at ${i},${j}`);
        assert.deepEqual(at(r180, i, j), at(rgb, n - 1 - i, n - 1 - j), `rotate 180 at ${i},${j}`);
      }
    }
    // 33° leaves black corners (filled with 0); zoom ×2 keeps the centre only.
    const r33 = png(inputs.transforms[2]);
    assert.deepEqual([...at(r33, 0, 0)], [0, 0, 0]);
    assert.notDeepEqual(png(inputs.transforms[3]), rgb);
  }
  // Without the flag there are no inputs; another value is a 422 naming the field.
  const plain = await (await app.request("/classify?rotate=90", {
    method: "POST",
    body: multipart(encodePng({ width: n, height: n, data: rgb, channels: 3, depth: 8 })),
  })).json();
  assert.equal(plain.models.symmetric.inputs, undefined);
  const bad = await app.request("/classify?inputs=jpeg", { method: "POST", body: multipart(rgb) });
  assert.equal(bad.status, 422);
  assert.match((await bad.json()).error.message, /^inputs: expected "png"/);
});
