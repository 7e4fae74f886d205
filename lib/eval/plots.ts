/**
 * Figures as SVG, rendered headlessly with Vega-Lite (vega-lite compiles, vega renders with
 * its "none" renderer), and as PNG rendered from that same SVG by libvips (librsvg, through
 * sharp) for slides and documents that do not take SVG. One small function per figure kind.
 *
 * @module
 */
import sharp from "sharp";
import * as vega from "vega";
import * as vl from "vega-lite";

type Datum = Record<string, string | number>;

/** Renders a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const compiled = vl.compile({
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    background: "white",
    ...spec,
  } as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Lines of y vs x, one per series (colour) and optional dash (second grouping). */
export function lineChart(
  title: string,
  values: Datum[],
  x: { field: string; title: string; scale?: Record<string, unknown> },
  y: { field: string; title: string },
  color = "model",
  dash?: string,
): Promise<string> {
  return renderSvg({
    title,
    width: 420,
    height: 240,
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: {
        field: x.field,
        type: "quantitative",
        title: x.title,
        scale: x.scale ?? { zero: false },
      },
      y: { field: y.field, type: "quantitative", title: y.title, scale: { domain: [0, 1] } },
      color: { field: color, type: "nominal" },
      ...(dash ? { strokeDash: { field: dash, type: "nominal" } } : {}),
    },
  });
}

/** Grouped bars of a value per model and category. */
export function barChart(
  title: string,
  values: Datum[],
  category: string,
  y: string,
): Promise<string> {
  return renderSvg({
    title,
    width: 300,
    height: 220,
    data: { values },
    mark: "bar",
    encoding: {
      x: { field: category, type: "nominal", title: null },
      xOffset: { field: "model" },
      y: { field: y, type: "quantitative", scale: { domain: [0, 1] }, title: "accuracy" },
      color: { field: "model", type: "nominal" },
    },
  });
}

/**
 * Resolution of the PNG figures: 3 pixels per SVG unit (216 dpi against the SVG's 72), so a
 * 420-wide chart is about 1600 pixels wide, sharp on a 1920-pixel slide at full width.
 */
export const PNG_SCALE = 3;

/**
 * Renders an SVG document to PNG with librsvg, at `scale` pixels per SVG unit on an opaque
 * background (the SVG's own, else white). Embedded `data:` images are drawn; references to
 * files or URLs are not followed (librsvg's default for SVGs loaded from memory).
 *
 * @example
 * ```ts
 * const values = [{ angle: 0, accuracy: 0.9, model: "baseline" }, { angle: 90, accuracy: 0.4, model: "baseline" }];
 * const svg = await lineChart("t", values, { field: "angle", title: "angle" }, { field: "accuracy", title: "accuracy" });
 * const png = await svgToPng(svg);
 * await Deno.writeFile(`${await Deno.makeTempDir()}/figure.png`, png);
 * ```
 */
export async function svgToPng(svg: string, scale: number = PNG_SCALE): Promise<Uint8Array> {
  if (!(scale > 0 && scale <= 16)) {
    throw new RangeError(`svgToPng: expected a scale in (0, 16], got ${scale}`);
  }
  const png = await sharp(new TextEncoder().encode(svg), { density: 72 * scale })
    .flatten({ background: "#ffffff" })
    .png({ compressionLevel: 9 })
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/**
 * Writes a figure as `<dir>/<name>.svg` and `<dir>/<name>.png` (rendered from the same SVG by
 * {@linkcode svgToPng}); returns the two file names.
 *
 * @example
 * ```ts
 * const values = [{ angle: 0, accuracy: 0.9, model: "baseline" }, { angle: 90, accuracy: 0.4, model: "baseline" }];
 * const svg = await lineChart("t", values, { field: "angle", title: "angle" }, { field: "accuracy", title: "accuracy" });
 * const [svgFile, pngFile] = await writeFigure(await Deno.makeTempDir(), "accuracy-vs-angle.svg", svg);
 * // "accuracy-vs-angle.svg", "accuracy-vs-angle.png"
 * ```
 */
export async function writeFigure(
  dir: string,
  file: string,
  svg: string,
): Promise<[string, string]> {
  if (!file.endsWith(".svg")) {
    throw new RangeError(`writeFigure: expected a file name ending in .svg, got "${file}"`);
  }
  const png = file.replace(/\.svg$/, ".png");
  await Deno.writeTextFile(`${dir}/${file}`, svg);
  await Deno.writeFile(`${dir}/${png}`, await svgToPng(svg));
  return [file, png];
}
