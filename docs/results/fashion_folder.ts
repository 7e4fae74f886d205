/**
 * Writes Fashion-MNIST images as PNG files into class folders, a realistic folder dataset for
 * the "Your own data" measurements (docs/results/folder_dataset.md):
 *
 *   deno run -A docs/results/fashion_folder.ts OUT [PER_CLASS=100] [SIDE=28]
 *
 * OUT/<class>/<index>.png, grey, taken from the first test images of Debian's
 * dataset-fashion-mnist (/usr/share/datasets/fashion-mnist); SIDE ≠ 28 enlarges them with
 * libvips (Lanczos) first, so that decoding and resizing have real work to do.
 */
import sharp from "sharp";
import { DEBIAN_FASHION_DIR, FASHION_CLASSES, loadFashionMnist } from "../../lib/data/fashion_mnist.ts";

const [out, perClassArg = "100", sideArg = "28"] = Deno.args;
if (!out) throw new Error("usage: fashion_folder.ts OUT [PER_CLASS] [SIDE]");
const perClass = Number(perClassArg), side = Number(sideArg);
const { test } = await loadFashionMnist(DEBIAN_FASHION_DIR);
// loadFashionMnist pads to 32×32 with a 2-pixel border; the PNGs hold the original 28×28.
const counts = new Array(10).fill(0);
const names = FASHION_CLASSES.map((n) => n.replace(/[^A-Za-z0-9-]+/g, "-"));
for (const n of names) await Deno.mkdir(`${out}/${n}`, { recursive: true });
const px = new Uint8Array(28 * 28);
for (let i = 0; i < test.count && counts.some((c) => c < perClass); i++) {
  const label = test.labels[i];
  if (counts[label] >= perClass) continue;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) px[y * 28 + x] = test.images[i * 1024 + (y + 2) * 32 + x + 2];
  }
  let img = sharp(px, { raw: { width: 28, height: 28, channels: 1 } });
  if (side !== 28) img = img.resize(side, side, { kernel: "lanczos3" });
  await Deno.writeFile(`${out}/${names[label]}/${String(i).padStart(5, "0")}.png`, await img.png().toBuffer());
  counts[label]++;
}
console.log(`wrote ${counts.reduce((a, b) => a + b)} PNGs (${side}×${side}) into ${out}/<class>/`);
