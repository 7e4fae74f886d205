/**
 * The real server as a subprocess: curl against it, a bounded mixed load, graceful SIGTERM.
 */
import assert from "node:assert/strict";
import { multipart, pngWithHeader, testPng, trainTinyCheckpoints } from "./server_fixtures.ts";
import { useBackend } from "./helpers.ts";

await useBackend("wasm");

async function startServer(dir: string, extra: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "scripts/serve.ts",
      "--checkpoints",
      dir,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--backend",
      "wasm",
      "--quiet",
      ...extra,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let port = 0;
  while (!out.includes("ready:")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited early: ${out}`);
    out += value;
    port = Number(out.match(/listening on http:\/\/[^:]+:(\d+)/)?.[1] ?? port);
  }
  return { child, port, reader, out: () => out };
}

Deno.test("curl -F img=@… /classify?rotate=90 against the real server, then SIGTERM", async () => {
  const dir = await Deno.makeTempDir();
  await trainTinyCheckpoints(dir);
  await Deno.writeFile(`${dir}/cat.png`, testPng());
  const server = await startServer(dir);
  const base = `http://127.0.0.1:${server.port}`;
  const curl = await new Deno.Command("curl", {
    args: ["-sS", "-F", `img=@${dir}/cat.png`, `${base}/classify?rotate=90`],
    stdout: "piped",
  }).output();
  assert.equal(curl.code, 0);
  const body = JSON.parse(new TextDecoder().decode(curl.stdout));
  assert.deepEqual(body.image, { type: "png", width: 24, height: 24 });
  assert.deepEqual(body.transforms, [{ kind: "rotate", value: 90 }]);
  for (const name of ["baseline", "symmetric"]) {
    const m = body.models[name];
    assert.equal(m.model, name);
    assert.equal(m.original.top.length, 5);
    assert.equal(m.transforms[0].value, 90);
    assert.equal(typeof m.transforms[0].top1Agrees, "boolean");
    assert.equal(typeof m.ms, "number");
  }
  assert.ok(Math.abs(body.models.symmetric.transforms[0].invariance - 1) <= 1e-4);
  assert.ok(body.models.baseline.transforms[0].invariance < 1 - 1e-3);

  // An upload in flight when SIGTERM arrives is finished; meanwhile /ready says 503.
  const png = testPng();
  let finish!: () => void;
  const gate = new Promise<void>((r) => finish = r);
  let sent = 0;
  const slow = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent === 1) await gate;
      if (sent < 2) controller.enqueue(sent++ === 0 ? png.subarray(0, 100) : png.subarray(100));
      else controller.close();
    },
  });
  const inFlight = fetch(`${base}/classify?rotate=180`, {
    method: "POST",
    body: slow,
    headers: { "content-type": "image/png" },
  });
  await new Promise((r) => setTimeout(r, 200)); // the server has the headers and 100 bytes
  server.child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 100));
  const ready = await fetch(`${base}/ready`);
  assert.equal(ready.status, 503);
  assert.equal((await ready.json()).error.code, "shutting_down");
  finish();
  const res = await inFlight;
  assert.equal(res.status, 200);
  assert.equal((await res.json()).transforms[0].value, 180);
  const status = await server.child.status;
  let rest = "";
  while (true) {
    const { value, done } = await server.reader.read();
    if (done) break;
    rest += value;
  }
  await server.child.stderr.cancel();
  assert.equal(status.code, 0);
  assert.match(rest, /SIGTERM: finishing 1 request\(s\) in flight/);
  assert.match(rest, /stopped/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bounded load: 200 requests, 8 concurrent, good ones succeed, bad ones get their error", async () => {
  const dir = await Deno.makeTempDir();
  await trainTinyCheckpoints(dir);
  const server = await startServer(dir, ["--max-body-bytes", "100000", "--max-pixels", "1000000"]);
  const base = `http://127.0.0.1:${server.port}`;
  const png = testPng();
  const jpeg = await Deno.readFile(new URL("./fixtures/images/baseline.jpg", import.meta.url));
  const raw = (bytes: Uint8Array, type: string) => () => ({
    body: bytes.slice(),
    headers: { "content-type": type },
  });
  const form = (bytes: Uint8Array) => () => ({ body: multipart(bytes), headers: {} });
  const cases = [
    { make: form(png), path: "/classify?rotate=90", status: 200 },
    { make: raw(jpeg, "image/jpeg"), path: "/classify?scale=0.5,2&rotate=30", status: 200 },
    { make: form(png), path: "/classify", status: 200 },
    { make: form(new TextEncoder().encode("nope")), path: "/classify", status: 400 },
    { make: form(png.subarray(0, png.length - 20)), path: "/classify", status: 400 },
    { make: form(new TextEncoder().encode("GIF89a....")), path: "/classify", status: 400 },
    { make: form(new TextEncoder().encode("%PDF-1.7\n")), path: "/classify", status: 415 },
    { make: form(new Uint8Array(150_000)), path: "/classify", status: 413 },
    { make: form(pngWithHeader(2000, 2000)), path: "/classify", status: 413 },
    { make: form(png), path: "/classify?rotate=x", status: 422 },
    { make: form(png), path: "/classify?topk=0", status: 422 },
    { make: form(png), path: "/nope", status: 404 },
  ];
  let next = 0;
  const failures: string[] = [];
  const counts = new Map<number, number>();
  const worker = async () => {
    while (next < 200) {
      const i = next++;
      const c = cases[i % cases.length];
      const { body, headers } = c.make();
      const res = await fetch(`${base}${c.path}`, { method: "POST", body, headers });
      const json = await res.json();
      counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
      if (res.status !== c.status) failures.push(`#${i}: ${res.status} ${JSON.stringify(json)}`);
      if (c.status === 200 && !json.models?.symmetric) failures.push(`#${i}: no results`);
      if (c.status !== 200 && !json.error?.code) failures.push(`#${i}: no error body`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  assert.deepEqual(failures, []);
  assert.equal([...counts.values()].reduce((a, b) => a + b, 0), 200);
  assert.equal((await fetch(`${base}/health`)).status, 200);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /symlab_inference_queue_depth 0\n/);
  server.child.kill("SIGTERM");
  assert.equal((await server.child.status).code, 0);
  await server.reader.cancel();
  await server.child.stderr.cancel();
  await Deno.remove(dir, { recursive: true });
});
