/**
 * Figures as SVG, rendered headlessly with Vega-Lite (vega-lite compiles, vega renders with
 * its "none" renderer). One small function per figure kind.
 *
 * @module
 */
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
