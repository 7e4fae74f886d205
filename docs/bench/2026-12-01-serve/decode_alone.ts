// Decode time of the bench:serve upload (fast-png of (i*37)%256), old (ea5ec74) vs new decoder,
// alone and 8 at a time; alternating rounds.
import { encode } from "fast-png";
const [w, h] = (Deno.args[0] ?? "64x48").split("x").map(Number);
const pixels = new Uint8Array(w * h * 3).map((_, i) => (i * 37) % 256);
const png = encode({ width: w, height: h, data: pixels, channels: 3 });
const oldM = await import("/tmp/b12/lib/image/decode.ts");
const newM = await import("/work/main/lib/image/decode.ts");
const dec = { before: (b: Uint8Array) => Promise.resolve(oldM.decodeImage(b)), after: (b: Uint8Array) => newM.decodeImage(b) };
const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
const res: Record<string, { one: number[]; eight: number[] }> = { before: { one: [], eight: [] }, after: { one: [], eight: [] } };
for (let round = 0; round < 6; round++) {
  for (const side of ["before", "after"] as const) {
    for (let i = 0; i < 5; i++) await dec[side](png);
    for (let i = 0; i < 40; i++) { const t = performance.now(); await dec[side](png); res[side].one.push(performance.now() - t); }
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await Promise.all(Array.from({ length: 8 }, () => dec[side](png)));
      res[side].eight.push(performance.now() - t);
    }
  }
}
console.log(`${w}×${h} PNG, ${png.length} bytes, load ${(await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ")}`);
for (const side of ["before", "after"]) console.log(`${side}: one decode median ${med(res[side].one).toFixed(2)} ms; 8 concurrent, all done median ${med(res[side].eight).toFixed(2)} ms`);
