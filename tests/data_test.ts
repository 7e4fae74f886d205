import assert from "node:assert/strict";
import {
  batches,
  channelStats,
  CIFAR100,
  DatasetError,
  generateSynthetic,
  loadDataset,
  SYNTHETIC_CLASSES,
} from "../lib/data/mod.ts";
import { downloadFile, extractTarGz } from "../lib/data/download.ts";
import { loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import { md5 } from "../lib/data/md5.ts";
import { readTar } from "../lib/data/tar.ts";

// ---- fixtures in the real formats, made in code ----

/** A ustar archive of regular files. */
function tar(files: { name: string; data: Uint8Array }[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const f of files) {
    const h = new Uint8Array(512);
    h.set(enc.encode(f.name), 0);
    const field = (s: string, at: number) => h.set(enc.encode(s), at);
    field("0000644\0", 100);
    field("0000000\0", 108);
    field("0000000\0", 116);
    field(f.data.length.toString(8).padStart(11, "0") + "\0", 124);
    field("00000000000\0", 136);
    h[156] = "0".charCodeAt(0);
    field("ustar\0", 257);
    field("00", 263);
    h.fill(32, 148, 156);
    const sum = h.reduce((a, b) => a + b, 0);
    field(sum.toString(8).padStart(6, "0") + "\0 ", 148);
    blocks.push(h, f.data, new Uint8Array((512 - (f.data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((s, b) => s + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** CIFAR-100 records: coarse, fine, then 1024 R, 1024 G, 1024 B; pixel values encode (i, c, p). */
function cifarRecords(n: number, offset: number): Uint8Array {
  const rec = 2 + 3072;
  const out = new Uint8Array(n * rec);
  for (let i = 0; i < n; i++) {
    out[i * rec] = (i + offset) % 20;
    out[i * rec + 1] = (i + offset) % 100;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) out[i * rec + 2 + c * 1024 + p] = (i * 7 + c * 50 + p) % 256;
    }
  }
  return out;
}

const names = Array.from({ length: 100 }, (_, i) => `class_${i}`);
const archive: Uint8Array<ArrayBuffer> = await gzip(tar([
  { name: "cifar-100-binary/train.bin", data: cifarRecords(20, 0) },
  { name: "cifar-100-binary/test.bin", data: cifarRecords(10, 5) },
  {
    name: "cifar-100-binary/fine_label_names.txt",
    data: new TextEncoder().encode(names.join("\n") + "\n"),
  },
]));
const archiveMd5 = md5(archive);

/** A local server for the archive: honours Range; `?drop` cuts the first response in half. */
function serve() {
  const ranges: string[] = [];
  let dropped = false;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    const range = req.headers.get("range");
    if (range) ranges.push(range);
    if (url.pathname === "/corrupt.tar.gz") {
      const bad = archive.slice();
      bad[100] ^= 0xff;
      return new Response(bad);
    }
    if (url.searchParams.has("drop") && !dropped) {
      dropped = true;
      const half = archive.subarray(0, Math.floor(archive.length / 2));
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(half);
          setTimeout(() => controller.error(new Error("connection lost")), 50);
        },
      });
      return new Response(body, { headers: { "content-length": String(archive.length) } });
    }
    const m = range?.match(/bytes=(\d+)-/);
    if (m && !url.searchParams.has("norange")) {
      const start = Number(m[1]);
      return new Response(archive.slice(start) as Uint8Array<ArrayBuffer>, {
        status: 206,
        headers: { "content-range": `bytes ${start}-${archive.length - 1}/${archive.length}` },
      });
    }
    return new Response(archive as Uint8Array<ArrayBuffer>);
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  return { server, base, ranges };
}

// ---- MD5, tar ----

Deno.test("MD5 matches RFC 1321 test vectors and is chunking-independent", () => {
  const enc = new TextEncoder();
  assert.equal(md5(enc.encode("")), "d41d8cd98f00b204e9800998ecf8427e");
  assert.equal(md5(enc.encode("abc")), "900150983cd24fb0d6963f7d28e17f72");
  assert.equal(
    md5(
      enc.encode(
        "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
      ),
    ),
    "57edf4a22be3c955ac49da2e2107b67a",
  );
});

Deno.test("tar reader yields files and refuses unsafe paths on extraction", async () => {
  const entries = [];
  const stream = new Blob([archive as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  for await (const e of readTar(stream, "mem.tar.gz")) entries.push(e.name);
  assert.deepEqual(entries, [
    "cifar-100-binary/train.bin",
    "cifar-100-binary/test.bin",
    "cifar-100-binary/fine_label_names.txt",
  ]);
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(
    `${dir}/evil.tar.gz`,
    await gzip(tar([{ name: "../evil", data: new Uint8Array(3) }])),
  );
  await assert.rejects(extractTarGz(`${dir}/evil.tar.gz`, `${dir}/out`), /unsafe path/);
  await Deno.writeFile(`${dir}/cut.tar.gz`, archive.subarray(0, archive.length - 200));
  await assert.rejects(extractTarGz(`${dir}/cut.tar.gz`, `${dir}/out2`), DatasetError);
  await assert.rejects(Deno.stat(`${dir}/out2/cifar-100-binary`), Deno.errors.NotFound);
  await Deno.remove(dir, { recursive: true });
});

// ---- CIFAR-100 download, verification, extraction, loading ----

Deno.test("cifar100 downloads, verifies MD5, extracts and loads the exact pixels", async () => {
  const { server, base } = serve();
  const cache = await Deno.makeTempDir();
  const { dataset, reason } = await loadDataset({
    name: "cifar100",
    cacheDir: cache,
    urls: { cifar100: `${base}/cifar-100-binary.tar.gz` },
    md5s: { cifar100: archiveMd5 },
    progress: false,
  });
  assert.match(reason, /downloaded/);
  assert.equal(dataset.train.count, 20);
  assert.equal(dataset.test.count, 10);
  assert.deepEqual(dataset.classNames, names);
  // Record 3, pixel p = 5 (row 0, col 5): R = (3·7 + 5), G = R + 50, B = R + 100; fine label 3.
  const at = (3 * 1024 + 5) * 3;
  assert.deepEqual(Array.from(dataset.train.images.subarray(at, at + 3)), [26, 76, 126]);
  assert.equal(dataset.train.labels[3], 3);
  assert.equal(dataset.test.labels[0], 5);
  // Second load is offline: from the cache.
  const again = await loadDataset({ name: "cifar100", cacheDir: cache, download: false });
  assert.match(again.reason, /cached/);
  // --data-dir pointing at the extracted copy works too.
  const direct = await loadDataset({ name: "cifar100", dataDir: `${cache}/cifar-100-binary` });
  assert.equal(direct.dataset.train.count, 20);
  await server.shutdown();
  await Deno.remove(cache, { recursive: true });
});

Deno.test("an MD5 mismatch is refused and leaves no file where a complete one is expected", async () => {
  const { server, base } = serve();
  const dir = await Deno.makeTempDir();
  await assert.rejects(
    downloadFile(`${base}/corrupt.tar.gz`, `${dir}/a.tar.gz`, { md5: archiveMd5 }),
    (e: Error) =>
      e instanceof DatasetError && e.message.includes("MD5 mismatch") &&
      e.message.includes(archiveMd5),
  );
  assert.deepEqual([...Deno.readDirSync(dir)], []);
  await server.shutdown();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an interrupted download resumes with a Range request", async () => {
  const { server, base, ranges } = serve();
  const dir = await Deno.makeTempDir();
  const dest = `${dir}/a.tar.gz`;
  await assert.rejects(downloadFile(`${base}/a.tar.gz?drop`, dest, { md5: archiveMd5 }), /resume/);
  const partSize = (await Deno.stat(`${dest}.part`)).size;
  assert.ok(partSize > 0 && partSize < archive.length);
  await assert.rejects(Deno.stat(dest), Deno.errors.NotFound);
  await downloadFile(`${base}/a.tar.gz?drop`, dest, { md5: archiveMd5 });
  assert.deepEqual(ranges, [`bytes=${partSize}-`]);
  assert.equal(md5(await Deno.readFile(dest)), archiveMd5);
  await server.shutdown();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a server that ignores Range makes the download restart cleanly", async () => {
  const { server, base } = serve();
  const dir = await Deno.makeTempDir();
  const dest = `${dir}/a.tar.gz`;
  await Deno.writeFile(`${dest}.part`, new Uint8Array(1000).fill(7)); // stale partial
  await downloadFile(`${base}/a.tar.gz?norange`, dest, { md5: archiveMd5 });
  assert.equal(md5(await Deno.readFile(dest)), archiveMd5);
  await server.shutdown();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("truncated or malformed CIFAR files fail naming the file", async () => {
  const dir = await Deno.makeTempDir();
  const d = `${dir}/cifar-100-binary`;
  await Deno.mkdir(d);
  await Deno.writeTextFile(`${d}/fine_label_names.txt`, names.join("\n"));
  await Deno.writeFile(`${d}/train.bin`, cifarRecords(3, 0).subarray(0, 5000));
  await Deno.writeFile(`${d}/test.bin`, cifarRecords(2, 0));
  await assert.rejects(
    loadDataset({ name: "cifar100", dataDir: dir }),
    (e: Error) =>
      e instanceof DatasetError && e.message.includes("train.bin") && /truncated/.test(e.message),
  );
  const bad = cifarRecords(3, 0);
  bad[1] = 200; // fine label out of range
  await Deno.writeFile(`${d}/train.bin`, bad);
  await assert.rejects(
    loadDataset({ name: "cifar100", dataDir: dir }),
    /train\.bin: record 0 has label 200/,
  );
  await assert.rejects(
    loadDataset({ name: "cifar100", dataDir: `${dir}/nope` }),
    /no extracted cifar-100-binary/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("auto falls back to the synthetic set when CIFAR-100 cannot be downloaded", async () => {
  const closed = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close(); // nothing listens there now
  const cache = await Deno.makeTempDir();
  const { dataset, reason } = await loadDataset({
    name: "auto",
    cacheDir: cache,
    urls: { cifar100: `http://127.0.0.1:${port}/cifar-100-binary.tar.gz` },
    syntheticTrain: 100,
    syntheticTest: 20,
  });
  assert.equal(dataset.name, "synthetic");
  assert.match(reason, /^auto: CIFAR-100 is not cached and could not be downloaded .*synthetic/);
  await assert.rejects(Deno.stat(`${cache}/${CIFAR100.archive}`), Deno.errors.NotFound);
  await Deno.remove(cache, { recursive: true });
});

// ---- Fashion-MNIST (IDX) ----

function idx(rank: 1 | 3, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * rank + data.length);
  const view = new DataView(out.buffer);
  out.set([0, 0, 8, rank]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * rank);
  return out;
}

Deno.test("Fashion-MNIST IDX files load (gzipped or not), padded to 32×32", async () => {
  const dir = await Deno.makeTempDir();
  const img = new Uint8Array(3 * 28 * 28).map((_, i) => i % 251);
  await Deno.writeFile(`${dir}/train-images-idx3-ubyte.gz`, await gzip(idx(3, [3, 28, 28], img)));
  await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, idx(1, [3], Uint8Array.of(0, 9, 4)));
  await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, idx(3, [1, 28, 28], img.subarray(0, 784)));
  await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx(1, [1], Uint8Array.of(2)));
  const { train, test } = await loadFashionMnist(dir);
  assert.deepEqual([train.count, train.height, train.width, train.channels], [3, 32, 32, 1]);
  assert.deepEqual(Array.from(train.labels), [0, 9, 4]);
  assert.equal(train.images[0], 0); // border
  assert.equal(train.images[(1 * 32 * 32) + (2 * 32 + 2)], img[784]); // image 1, pixel (0, 0)
  assert.equal(test.count, 1);
  await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, Uint8Array.of(0, 0, 8, 3, 0, 0, 0, 1));
  await assert.rejects(loadFashionMnist(dir), /t10k-labels-idx1-ubyte: expected an IDX file/);
  await Deno.remove(dir, { recursive: true });
});

const debian = await Deno.stat("/usr/share/datasets/fashion-mnist").then(() => true, () => false);
Deno.test({
  name: "Debian's dataset-fashion-mnist loads with 60,000 + 10,000 images in 10 classes",
  ignore: !debian,
  fn: async () => {
    const { dataset, reason } = await loadDataset({ name: "fashion-mnist" });
    assert.match(reason, /Debian/);
    assert.equal(dataset.train.count, 60_000);
    assert.equal(dataset.test.count, 10_000);
    assert.equal(Math.max(...dataset.train.labels), 9);
  },
});

// ---- synthetic ----

Deno.test("synthetic set: deterministic per seed, balanced, canonical orientation", () => {
  const a = generateSynthetic({ seed: 5, train: 500, test: 100 });
  const b = generateSynthetic({ seed: 5, train: 500, test: 100 });
  const c = generateSynthetic({ seed: 6, train: 500, test: 100 });
  assert.deepEqual(a.train.images, b.train.images);
  assert.notDeepEqual(a.train.images, c.train.images);
  assert.equal(a.classNames.length, 10);
  const counts = new Array(10).fill(0);
  a.train.labels.forEach((l) => counts[l]++);
  assert.deepEqual(counts, new Array(10).fill(50));
  // Mean foreground mask per class: the "L" class is far from its own 90° turn; the disk not.
  const big = generateSynthetic({ seed: 1, train: 2000, test: 10 });
  const asymmetry = (label: number) => {
    const mean = new Float64Array(32 * 32);
    let n = 0;
    for (let i = 0; i < big.train.count; i++) {
      if (big.train.labels[i] !== label) continue;
      n++;
      for (let p = 0; p < 1024; p++) {
        const px = big.train.images.subarray((i * 1024 + p) * 3, (i * 1024 + p) * 3 + 3);
        mean[p] += (px[0] + px[1] + px[2]) / 765;
      }
    }
    let d = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) d += Math.abs(mean[y * 32 + x] - mean[x * 32 + (31 - y)]) / n;
    }
    return d / 1024;
  };
  const l = SYNTHETIC_CLASSES.indexOf("L"), disk = SYNTHETIC_CLASSES.indexOf("disk");
  assert.ok(asymmetry(l) > 2 * asymmetry(disk), `L ${asymmetry(l)} vs disk ${asymmetry(disk)}`);
});

// ---- batching ----

Deno.test("batches: every image once per epoch, order fixed by (seed, epoch)", () => {
  const { train } = generateSynthetic({ seed: 2, train: 100, test: 10 });
  const order = (seed: number, epoch: number) => {
    const seen: number[] = [];
    for (const b of batches(train, { batchSize: 32, shuffle: true, seed, epoch })) {
      for (let i = 0; i < b.size; i++) {
        // identify images by their first 8 bytes
        const img = Array.from(b.x.subarray(i * 3072, i * 3072 + 8), (v) => Math.round(v * 255));
        seen.push(
          [...Array(train.count).keys()].find((k) =>
            img.every((v, j) => v === train.images[k * 3072 + j])
          )!,
        );
      }
    }
    return seen;
  };
  const e0 = order(1, 0);
  assert.deepEqual([...e0].sort((a, b) => a - b), [...Array(100).keys()]);
  assert.deepEqual(order(1, 0), e0);
  assert.notDeepEqual(order(1, 1), e0);
  assert.equal(
    [...batches(train, { batchSize: 32, shuffle: false, seed: 0, epoch: 0, dropLast: true })]
      .length,
    3,
  );
});

Deno.test("batch augmentation: rot90 is an exact turn, shift stays in [0, 1]", () => {
  const { train } = generateSynthetic({ seed: 2, train: 8, test: 1 });
  const plain = [...batches(train, { batchSize: 8, shuffle: false, seed: 0, epoch: 0 })][0].x;
  const rotated = [...batches(train, {
    batchSize: 8,
    shuffle: false,
    seed: 0,
    epoch: 0,
    augment: { rotate: "rot90" },
  })][0].x;
  for (let i = 0; i < 8; i++) {
    const img = (x: Float32Array, y: number, z: number, c: number) =>
      x[i * 3072 + (y * 32 + z) * 3 + c];
    const matches = [0, 1, 2, 3].filter((k) => {
      for (let y = 0; y < 32; y++) {
        for (let z = 0; z < 32; z++) {
          // source of a counter-clockwise turn by k
          let [sy, sz] = [y, z];
          for (let t = 0; t < k; t++) [sy, sz] = [sz, 31 - sy];
          if (img(rotated, y, z, 0) !== img(plain, sy, sz, 0)) return false;
        }
      }
      return true;
    });
    assert.ok(matches.length >= 1, `image ${i} is not an exact quarter turn`);
  }
  const shifted = [...batches(train, {
    batchSize: 8,
    shuffle: false,
    seed: 0,
    epoch: 0,
    augment: { shift: 4, rotate: "any" },
  })][0].x;
  assert.ok(shifted.every((v) => v >= 0 && v <= 1));
  const stats = channelStats(train);
  assert.equal(stats.mean.length, 3);
  assert.ok(stats.std.every((s) => s > 0));
});
