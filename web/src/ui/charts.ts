// Small SVG charts drawn from the platform's own figures: no library, nothing loaded from elsewhere.
// Each chart is a figure with a caption, and a table of the same numbers for screen readers and copying.

import { h } from "../lib/dom";

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 180;
const PAD = { top: 10, right: 10, bottom: 24, left: 44 };

export interface Series {
  name: string;
  color: string;
}

/** One bar per column, its series stacked (jobs per hour by state, seconds per stage). */
export interface Column {
  label: string;
  values: number[]; // one per series, in the series' order
}

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  return element;
}

function text(x: number, y: number, content: string, anchor = "middle"): SVGElement {
  const label = svg("text", { x, y, "text-anchor": anchor, class: "chart-label" });
  label.textContent = content;
  return label;
}

function frame(title: string, max: number, unit: string): SVGSVGElement {
  const root = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": title,
    class: "chart",
  }) as SVGSVGElement;
  const bottom = HEIGHT - PAD.bottom;
  root.append(
    svg("line", { x1: PAD.left, y1: bottom, x2: WIDTH - PAD.right, y2: bottom, class: "chart-axis" }),
    text(PAD.left - 6, PAD.top + 8, `${roundNicely(max)}${unit}`, "end"),
    text(PAD.left - 6, bottom, `0${unit}`, "end"),
  );
  return root;
}

function roundNicely(value: number): string {
  return value >= 10 ? String(Math.round(value)) : value.toFixed(1);
}

function scale(max: number): (value: number) => number {
  const span = HEIGHT - PAD.top - PAD.bottom;
  return (value) => (max > 0 ? (value / max) * span : 0);
}

function legend(series: Series[]): HTMLElement {
  return h(
    "ul",
    { class: "chart-legend" },
    series.map((s) => h("li", null, h("span", { class: "swatch", style: `background:${s.color}` }), s.name)),
  );
}

function dataTable(caption: string, header: string[], rows: (string | number)[][]): HTMLElement {
  return h(
    "table",
    { class: "visually-hidden" },
    h("caption", null, caption),
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        header.map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    h(
      "tbody",
      null,
      rows.map((row) =>
        h(
          "tr",
          null,
          row.map((cell) => h("td", null, String(cell))),
        ),
      ),
    ),
  );
}

export function stackedColumnChart(title: string, series: Series[], columns: Column[], unit = ""): HTMLElement {
  const max = Math.max(1, ...columns.map((column) => column.values.reduce((sum, v) => sum + v, 0)));
  const root = frame(title, max, unit);
  const height = scale(max);
  const step = (WIDTH - PAD.left - PAD.right) / Math.max(1, columns.length);
  const barWidth = Math.max(2, step * 0.7);
  const every = Math.ceil(columns.length / 8);
  columns.forEach((column, i) => {
    const x = PAD.left + i * step + (step - barWidth) / 2;
    let y = HEIGHT - PAD.bottom;
    series.forEach((serie, s) => {
      const value = column.values[s] ?? 0;
      const size = height(value);
      if (size <= 0) return;
      y -= size;
      const bar = svg("rect", { x, y, width: barWidth, height: size, fill: serie.color });
      const tip = svg("title", {});
      tip.textContent = `${column.label}: ${serie.name} ${roundNicely(value)}${unit}`;
      bar.append(tip);
      root.append(bar);
    });
    if (i % every === 0) root.append(text(x + barWidth / 2, HEIGHT - 6, column.label));
  });
  return h(
    "figure",
    { class: "chart-figure" },
    h("figcaption", null, title),
    root,
    legend(series),
    dataTable(
      title,
      ["", ...series.map((s) => s.name)],
      columns.map((column) => [column.label, ...series.map((_, s) => roundNicely(column.values[s] ?? 0))]),
    ),
  );
}

export interface Point {
  label: string;
  value: number;
}

/** A line over time (the queue's depth). */
export function lineChart(title: string, points: Point[], color: string): HTMLElement {
  const max = Math.max(1, ...points.map((p) => p.value));
  const root = frame(title, max, "");
  const height = scale(max);
  const step = (WIDTH - PAD.left - PAD.right) / Math.max(1, points.length - 1);
  const line = points.map((p, i) => `${PAD.left + i * step},${HEIGHT - PAD.bottom - height(p.value)}`).join(" ");
  root.append(svg("polyline", { points: line, fill: "none", stroke: color, "stroke-width": 2 }));
  const every = Math.ceil(points.length / 6);
  points.forEach((p, i) => {
    if (i % every === 0) root.append(text(PAD.left + i * step, HEIGHT - 6, p.label));
  });
  return h(
    "figure",
    { class: "chart-figure" },
    h("figcaption", null, title),
    root,
    dataTable(
      title,
      ["Time", "Jobs"],
      points.map((p) => [p.label, p.value]),
    ),
  );
}
