/**
 * Folder datasets (lib/data/folder.ts): a small folder built here with sharp (three classes in
 * PNG, JPEG, WebP, TIFF, GIF and AVIF, one truncated PNG, one text file), then labels, the
 * stratified split and its seed, the decode cache and its invalidation, the skipped-file line,
 * the one-line errors, and train → eval → serve through the real scripts.
 */
import assert from "node:assert/strict";
import sharp from "sharp";
import { DatasetError, loadDataset } from "../lib/data/mod.ts";
import { assertSameSplit, decodeFile, loadFolder, stratifiedSplit } from "../lib/data/folder.ts";
import { decodeImage } from "../lib/image/decode.ts";
import { toModelInput } from "../lib/image/resample.ts";
import { validateSpec } from "../lib/experiment/spec.ts";
import { trainTask } from "../lib/experiment/cell.ts";
import { loadModels } from "../lib/model/checkpoint.ts";
import { createApp, createState } from "../routes/app.ts";
import { useBackend } from "./helpers.ts";

const FORMATS = ["png", "jpg", "webp", "tiff", "gif", "avif"] as const;
/** Class i is dominated by colour channel i, so a label can be checked from the pixels. */
const CLASSES = ["blue", "green", "red"]; // sorted, as the loader names them
const DOMINANT: Record<string, number> = { red: 0, green: 1, blue: 2 };

/** A 40×36 image of class `cls` with a per-image pattern (not a flat colour). */
async function makeImage(
  cls: string,
  k: number,
  format: string,
  grey = false,
): Promise<Uint8Array> {
  const w = 40, h = 36;
  const px = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = 3 * (y * w + x);
      const wave = ((x * (k + 1) + y * 3) % 17) * 4;
      for (let c = 0; c < 3; c++) px[p + c] = 30 + wave;
      if (!grey) px[p + DOMINANT[cls]] = 200 + (wave % 50);
    }
  }
  let img = sharp(px, { raw: { width: w, height: h, channels: 3 } });
  if (grey) img = img.toColourspace("b-w");
  const f = format === "jpg" ? "jpeg" : format as "png" | "webp" | "tiff" | "gif" | "avif";
  // Lossless AVIF: the default lossy one would blur the class colour into the pattern.
  const out = f === "avif" ? img.avif({ lossless: true }) : img.toFormat(f);
  return new Uint8Array(await out.toBuffer());
}

/** DIR/<class>/<k>.<fmt> for `counts[i]` images of class i, plus the bad files. */
async function makeFolder(
  dir: string,
  counts = [10, 10, 15],
  options: { grey?: boolean; bad?: boolean } = {},
): Promise<void> {
  for (const [i, cls] of CLASSES.entries()) {
    await Deno.mkdir(`${dir}/${cls}`, { recursive: true });
    for (let k = 0; k < counts[i]; k++) {
      const fmt = FORMATS[k % FORMATS.length];
      await Deno.writeFile(
        `${dir}/${cls}/${String(k).padStart(2, "0")}.${fmt}`,
        await makeImage(cls, k, fmt, options.grey),
      );
    }
  }
  if (options.bad !== false) {
    const png = await makeImage("red", 99, "png");
    await Deno.writeFile(`${dir}/red/broken.png`, png.subarray(0, png.length >> 1));
    await Deno.writeTextFile(`${dir}/green/notes.txt`, "labelled by hand on Tuesday\n");
    await Deno.writeTextFile(`${dir}/.DS_Store`, "hidden: ignored silently");
  }
}

const tmp = await Deno.makeTempDir({ prefix: "symlab-folder-" });
const DATA = `${tmp}/data`;
await makeFolder(DATA);
const quiet = { progress: false as const };

/** The mean of each channel of image `i` of a split. */
function channelMeans(
  s: { images: Uint8Array; height: number; width: number; channels: number },
  i: number,
) {
  const px = s.height * s.width, c = s.channels;
  const sums = new Array(c).fill(0);
  for (let p = 0; p < px; p++) {
    for (let k = 0; k < c; k++) sums[k] += s.images[(i * px + p) * c + k];
  }
  return sums.map((v) => v / px);
}

Deno.test("folder: class names are the sorted folders and every label matches its image", async () => {
  const lines: string[] = [];
  const { dataset, report } = await loadFolder({ dir: DATA, ...quiet, log: (l) => lines.push(l) });
  assert.deepEqual(dataset.classNames, CLASSES);
  assert.equal(dataset.name, "folder");
  assert.equal(dataset.train.channels, 3);
  assert.equal(dataset.train.height, 32);
  assert.equal(dataset.train.count + dataset.test.count, 35);
  assert.equal(report.files, 36); // 35 images + broken.png (notes.txt is not an image by name)
  for (const split of [dataset.train, dataset.test]) {
    for (let i = 0; i < split.count; i++) {
      const m = channelMeans(split, i);
      const dominant = m.indexOf(Math.max(...m));
      assert.equal(CLASSES[split.labels[i]], ["red", "green", "blue"][dominant], `image ${i}`);
    }
  }
});

Deno.test("folder: pixels are the server's decode + toModelInput, as bytes round(255·x)", async () => {
  // train/ + test/ keeps the files' order, so image 0 of train is train/blue/00.png.
  const dir = `${tmp}/given`;
  for (const part of ["train", "test"]) {
    for (const cls of CLASSES) {
      await Deno.mkdir(`${dir}/${part}/${cls}`, { recursive: true });
      for (const k of [0, 1]) {
        await Deno.writeFile(`${dir}/${part}/${cls}/${k}.png`, await makeImage(cls, k + 3, "png"));
      }
    }
  }
  for (const size of [16, 48]) { // shrinking (area average) and enlarging (bilinear)
    const { dataset } = await loadFolder({ dir, size, ...quiet });
    assert.equal(dataset.split!.layout, "train-test");
    assert.equal(dataset.train.count, 6);
    assert.equal(dataset.test.count, 6);
    const bytes = await Deno.readFile(`${dir}/train/blue/0.png`);
    const ref = toModelInput(await decodeImage(bytes), { height: size, width: size, channels: 3 });
    const got = dataset.train.images.subarray(0, size * size * 3);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i] / 255 - ref[i]));
    assert.ok(worst <= 0.5 / 255 + 1e-7, `max |byte/255 − server input| = ${worst}`);
    assert.deepEqual(Array.from(dataset.train.labels), [0, 0, 1, 1, 2, 2]);
  }
});

Deno.test("folder: grey stays one channel unless channels 3 is asked for", async () => {
  const dir = `${tmp}/grey`;
  await makeFolder(dir, [4, 4, 4], { grey: true, bad: false });
  const auto = await loadFolder({ dir, ...quiet });
  assert.equal(auto.dataset.train.channels, 1);
  assert.equal(auto.dataset.split!.channels, 1);
  const rgb = await loadFolder({ dir, channels: 3, ...quiet });
  assert.equal(rgb.dataset.train.channels, 3);
  // Same split, same grey values, replicated in R, G and B.
  const a = auto.dataset.train, b = rgb.dataset.train;
  assert.deepEqual(Array.from(a.labels), Array.from(b.labels));
  let worst = 0;
  for (let i = 0; i < a.images.length; i++) {
    for (let c = 0; c < 3; c++) {
      worst = Math.max(worst, Math.abs(a.images[i] - b.images[3 * i + c]));
    }
  }
  assert.ok(worst <= 1, `grey vs RGB of a grey image differ by ${worst} levels`);
  const e = await decodeFile(await Deno.readFile(`${dir}/red/00.png`), 8, "auto");
  assert.ok("pixels" in e && e.channels === 1);
});

Deno.test("folder: the split is stratified, seeded, and recorded", async () => {
  const { dataset: d1 } = await loadFolder({ dir: DATA, ...quiet });
  const perClass = (labels: Int32Array) =>
    CLASSES.map((_, c) => labels.filter((l) => l === c).length);
  // red has 15 images + broken.png: the split is drawn over its 16 files, round(0.2·16) = 3 to
  // test, and broken.png then drops out of whichever part it fell in.
  const test = perClass(d1.test.labels), train = perClass(d1.train.labels);
  assert.deepEqual(test.slice(0, 2), [2, 2]);
  assert.ok(test[2] === 3 || test[2] === 2, `red test ${test[2]}`);
  assert.deepEqual(train.map((n, c) => n + test[c]), [10, 10, 15]);
  const rec = d1.split!;
  assert.equal(rec.layout, "class-folders");
  assert.deepEqual([rec.seed, rec.testFraction, rec.size, rec.channels], [1, 0.2, 32, 3]);
  assert.match(rec.testSha256, /^[0-9a-f]{64}$/);
  // The same seed gives the same images in the same order; another seed other test files.
  const { dataset: d2 } = await loadFolder({ dir: DATA, ...quiet });
  assert.deepEqual(d2.split, rec);
  assert.deepEqual(d2.test.images, d1.test.images);
  assert.deepEqual(d2.train.labels, d1.train.labels);
  const { dataset: d3 } = await loadFolder({ dir: DATA, splitSeed: 2, ...quiet });
  assert.notEqual(d3.split!.testSha256, rec.testSha256);
  assert.deepEqual(perClass(d3.test.labels).slice(0, 2), [2, 2]);
  assert.throws(
    () => assertSameSplit(rec, d3.split!, "ckpt/meta.json"),
    /ckpt\/meta\.json records/,
  );
  assertSameSplit(rec, d2.split!, "ckpt/meta.json");
  // Proportional per class, at least one test image each, never a whole class.
  const labels = Int32Array.from([...Array(40)].map((_, i) => (i < 30 ? 0 : i < 37 ? 1 : 2)));
  const s = stratifiedSplit(labels, 0.25, 7);
  const count = (idx: number[], c: number) => idx.filter((i) => labels[i] === c).length;
  assert.deepEqual([0, 1, 2].map((c) => count(s.test, c)), [8, 2, 1]); // round(7.5)=8, round(1.75)=2, max(1, round(.75))
  assert.deepEqual(new Set([...s.train, ...s.test]).size, 40);
  assert.throws(
    () => stratifiedSplit(Int32Array.from([0, 0, 1]), 0.5, 1),
    /at least two per class/,
  );
});

Deno.test("folder: the decode cache is hit on the second load and follows changed files", async () => {
  const dir = `${tmp}/cached`, cacheDir = `${tmp}/cache`;
  await makeFolder(dir, [12, 12, 12]);
  let t = performance.now();
  const first = await loadFolder({ dir, cacheDir, ...quiet });
  const firstMs = performance.now() - t;
  assert.equal(first.report.decoded, 37);
  t = performance.now();
  const second = await loadFolder({ dir, cacheDir, ...quiet });
  const secondMs = performance.now() - t;
  assert.equal(second.report.decoded, 0, "nothing decoded on a hit");
  assert.equal(second.report.fromCache, 37);
  assert.ok(
    secondMs < firstMs,
    `cache ${secondMs.toFixed(0)} ms vs decode ${firstMs.toFixed(0)} ms`,
  );
  assert.deepEqual(second.dataset.train.images, first.dataset.train.images);
  assert.deepEqual(second.report.skipped, first.report.skipped, "bad files remembered too");
  // Another size is another cache.
  assert.equal((await loadFolder({ dir, cacheDir, size: 16, ...quiet })).report.decoded, 37);
  // Touching a file (new mtime) decodes that file alone.
  const file = `${dir}/green/00.png`;
  await Deno.utime(file, new Date(), new Date(Date.now() + 5000));
  const touched = await loadFolder({ dir, cacheDir, ...quiet });
  assert.equal(touched.report.decoded, 1);
  assert.deepEqual(touched.dataset.train.images, first.dataset.train.images);
  // Replacing its content changes the pixels it gives.
  await Deno.writeFile(file, await makeImage("green", 11, "png"));
  const replaced = await loadFolder({ dir, cacheDir, ...quiet });
  assert.equal(replaced.report.decoded, 1);
  const all = (d: typeof first.dataset) => [d.train.images, d.test.images];
  assert.notDeepEqual(all(replaced.dataset), all(first.dataset));
  // A damaged cache file is rebuilt, not trusted.
  await Deno.writeTextFile(second.report.cachePath!, "not a cache");
  assert.equal((await loadFolder({ dir, cacheDir, ...quiet })).report.decoded, 37);
});

Deno.test("folder: bad files are skipped in one summary line; progress counts files", async () => {
  const lines: string[] = [];
  const progress: string[] = [];
  const { report } = await loadFolder({
    dir: DATA,
    log: (l) => lines.push(l),
    progress: (s) => progress.push(s),
  });
  const skipped = lines.filter((l) => l.startsWith("skipped"));
  assert.equal(skipped.length, 1, lines.join("\n"));
  assert.match(skipped[0], /^skipped 2 of 37 files: /);
  assert.match(skipped[0], /green\/notes\.txt \(not an image by its name\)/);
  assert.match(skipped[0], /red\/broken\.png \(Expected a complete PNG, got one cut short/);
  assert.ok(!skipped[0].includes("\n") && !skipped[0].includes(".DS_Store"));
  assert.equal(report.skipped.length, 2);
  assert.match(progress.at(-1)!, /^decoding 36\/36 .* files\/s ETA/);
});

Deno.test("folder: no images, one class, an empty class are one-line errors naming the folder", async () => {
  const cases: [string, (d: string) => Promise<void>, RegExp][] = [
    ["missing", async () => {}, /missing: no such folder/],
    ["none", async (d) => {
      await Deno.mkdir(`${d}/a`, { recursive: true });
      await Deno.mkdir(`${d}/b`);
      await Deno.writeTextFile(`${d}/a/readme.md`, "x");
    }, /none: no images in its 2 class folder/],
    ["flat", async (d) => {
      await Deno.mkdir(d);
      await Deno.writeFile(`${d}/x.png`, await makeImage("red", 1, "png"));
    }, /flat: no class folders/],
    ["single", async (d) => {
      await Deno.mkdir(`${d}/only`, { recursive: true });
      await Deno.writeFile(`${d}/only/1.png`, await makeImage("red", 1, "png"));
    }, /single: only one class folder \("only"\)/],
    ["empty", async (d) => {
      for (const c of ["a", "b"]) await Deno.mkdir(`${d}/${c}`, { recursive: true });
      await Deno.writeFile(`${d}/a/1.png`, await makeImage("red", 1, "png"));
    }, /empty\/b: no images/],
    ["allbad", async (d) => {
      for (const c of ["a", "b"]) await Deno.mkdir(`${d}/${c}`, { recursive: true });
      await Deno.writeFile(`${d}/a/1.png`, await makeImage("red", 1, "png"));
      await Deno.writeFile(`${d}/a/2.png`, await makeImage("red", 2, "png"));
      await Deno.writeTextFile(`${d}/b/1.png`, "not a png at all");
    }, /allbad\/b: none of its images could be decoded/],
    ["halfsplit", async (d) => {
      await Deno.mkdir(`${d}/train/a`, { recursive: true });
    }, /halfsplit: has train\/ but no test\//],
    ["stray", async (d) => {
      for (const p of ["train/a", "train/b", "test/a", "test/c"]) {
        await Deno.mkdir(`${d}/${p}`, { recursive: true });
        await Deno.writeFile(`${d}/${p}/1.png`, await makeImage("red", 1, "png"));
      }
    }, /stray\/test\/c: a class that .*stray\/train\/ does not have/],
  ];
  for (const [name, make, pattern] of cases) {
    const dir = `${tmp}/err-${name}`;
    await make(dir);
    await assert.rejects(loadFolder({ dir, ...quiet }), (e: Error) => {
      assert.ok(e instanceof DatasetError, `${name}: ${e}`);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes("\n"), `${name}: one line`);
      return true;
    });
  }
  await assert.rejects(
    loadDataset({ name: "folder", progress: false }),
    /folder: needs a data dir \(--data-dir DIR/,
  );
  await assert.rejects(loadFolder({ dir: DATA, size: 2 }), /Invalid folder options: size/);
});

Deno.test("experiment files accept dataset folder with dataDir and pass its options to train", () => {
  const base = { name: "f", models: ["baseline"], seeds: [1], epochs: 1 };
  assert.throws(
    () => validateSpec({ ...base, dataset: "folder" }),
    /dataDir: dataset folder needs/,
  );
  assert.throws(
    () => validateSpec({ ...base, dataset: "synthetic", folder: { size: 32 } }),
    /folder: applies to dataset folder only/,
  );
  const spec = validateSpec({
    ...base,
    dataset: "folder",
    dataDir: DATA,
    folder: { size: 48, channels: 1, splitSeed: 3 },
  });
  const task = trainTask(
    spec,
    {
      id: "x",
      index: 0,
      model: "baseline",
      seed: 1,
      size: 1,
      augment: "shift",
    },
    { ckpt: "c" },
    false,
  );
  assert.deepEqual(
    [task.dataset, task.dataDir, task.size, task.channels, task.testFraction, task.splitSeed],
    ["folder", DATA, 48, 1, undefined, 3],
  );
});

/** Runs a script as `deno run -A`, returning its exit code and output (stderr appended). */
async function runScript(script: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`../scripts/${script}`, import.meta.url).pathname, ...args],
    env: { SYMLAB_CACHE: `${tmp}/cache-e2e` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

Deno.test("folder end to end: train tiny, evaluate, serve with the folder's class names", async () => {
  const ckpt = `${tmp}/ckpt`, reports = `${tmp}/reports`;
  const train = await runScript("train.ts", [
    ...["--dataset", "folder", "--data-dir", DATA, "--preset", "tiny", "--epochs", "1"],
    ...["--batch-size", "8", "--backend", "wasm", "--out", ckpt],
  ]);
  assert.equal(train.code, 0, train.text);
  assert.match(train.text, /skipped 2 of 37 files: /);
  assert.match(train.text, /held out for validation/);
  const meta = JSON.parse(await Deno.readTextFile(`${ckpt}/symmetric/meta.json`));
  assert.deepEqual(meta.dataset.classNames, CLASSES);
  assert.equal(meta.dataset.name, "folder");
  assert.equal(meta.dataset.split.seed, 1);
  assert.equal(meta.dataset.split.testFraction, 0.2);
  assert.match(meta.dataset.split.testSha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(meta.training.inputSize, [32, 32]);

  const evaluated = await runScript("eval.ts", [
    ...["--checkpoints", ckpt, "--sweep", "quick", "--limit", "6", "--adv-limit", "2"],
    ...["--backend", "wasm", "--out", reports],
  ]);
  assert.equal(evaluated.code, 0, evaluated.text);
  assert.match(evaluated.text, /decode cache: all 36 images/, "eval reads the training decode");
  const report = JSON.parse(await Deno.readTextFile(`${reports}/report.json`));
  assert.equal(report.dataset.name, "folder");
  assert.equal(report.dataset.testImages, 6);

  // A folder whose split changed since training is refused, in one line naming meta.json.
  await Deno.writeFile(`${DATA}/blue/zz-new.png`, await makeImage("blue", 42, "png"));
  const changed = await runScript("eval.ts", [
    ...["--checkpoints", ckpt, "--sweep", "quick", "--limit", "6", "--backend", "wasm"],
    ...["--out", `${tmp}/reports2`],
  ]);
  await Deno.remove(`${DATA}/blue/zz-new.png`);
  assert.equal(changed.code, 1, changed.text);
  assert.match(changed.text, /error: .*data: its split .* is not the one .*meta\.json records/);

  await useBackend("wasm");
  const models = await loadModels(ckpt);
  const app = createApp(createState(models));
  const listed = await (await app.request("/models")).json();
  for (const m of listed.models) {
    assert.deepEqual(m.classNames, CLASSES);
    assert.equal(m.dataset, "folder");
    assert.deepEqual(m.inputSize, [32, 32, 3]);
  }
  const form = new FormData();
  const upload = await makeImage("red", 5, "png");
  form.append(
    "img",
    new File([upload as Uint8Array<ArrayBuffer>], "red.png", { type: "image/png" }),
  );
  const res = await app.request("/classify", { method: "POST", body: form });
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json();
  for (const name of ["baseline", "symmetric"]) {
    const top = body.models[name].original.top as { label: string; index: number }[];
    assert.equal(top.length, 3, "top-k is capped at the 3 classes");
    assert.deepEqual(top.map((t) => t.label).sort(), CLASSES);
    for (const t of top) assert.equal(t.label, CLASSES[t.index]);
  }
  for (const m of models) m.model.dispose();
});

Deno.test("folder: remove the test folders", async () => {
  await Deno.remove(tmp, { recursive: true });
});
