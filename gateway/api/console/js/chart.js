// A small SVG line chart (no library): series of {x: epoch ms, y} points over a time range.

import {h} from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 640, H = 220, PAD = {left: 52, right: 24, top: 12, bottom: 26};

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) el.append(child instanceof Node ? child : String(child));
  return el;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (value <= m * step) return m * step;
  return 10 * step;
}

function clock(x) {
  return new Date(x).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
}

/**
 * `lineChart({title, series: [{name, points}], from, to, unit})` → a figure: the chart
 * (each point a circle with a tooltip) and its legend.
 */
export function lineChart({title, series, from, to, unit = ""}) {
  const ys = series.flatMap((one) => one.points.map((p) => p.y));
  const top = niceMax(Math.max(0, ...ys));
  const span = Math.max(1, to - from);
  const x = (t) => PAD.left + ((t - from) / span) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const svg = s("svg", {viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
                        "aria-label": title});
  for (let i = 0; i <= 4; i++) {
    const value = (top * i) / 4;
    svg.append(s("line", {class: i ? "grid" : "axis", x1: PAD.left, x2: W - PAD.right,
                          y1: y(value), y2: y(value)}),
               s("text", {x: PAD.left - 6, y: y(value) + 4, "text-anchor": "end"},
                 `${Math.round(value * 100) / 100}${unit}`));
  }
  for (let i = 0; i <= 4; i++) {
    const t = from + (span * i) / 4;
    const anchor = i === 0 ? "start" : i === 4 ? "end" : "middle";
    svg.append(s("text", {x: x(t), y: H - 8, "text-anchor": anchor}, clock(t)));
  }
  series.forEach((one, index) => {
    const points = [...one.points].sort((a, b) => a.x - b.x);
    if (points.length > 1) {
      svg.append(s("polyline", {class: `line s${index}`,
        points: points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ")}));
    }
    for (const p of points) {
      svg.append(s("circle", {class: `point s${index}`, cx: x(p.x).toFixed(1),
                              cy: y(p.y).toFixed(1), r: 4.5, "data-series": one.name},
        s("title", {}, `${one.name}: ${Math.round(p.y * 100) / 100}${unit} at ${clock(p.x)}`)));
    }
  });
  const empty = ys.length === 0 ? h("p", {class: "muted"}, "No data in this range yet.") : null;
  return h("figure", {class: "panel", "data-chart": title},
    h("h2", {}, title), svg, empty,
    h("div", {class: "legend"}, series.map((one, index) =>
      h("span", {}, h("i", {class: `s${index}`}), one.name))));
}

/** Nearest-rank percentile `q` (0..1) of sorted numbers. */
export function percentile(sorted, q) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
