// A small line chart as inline SVG, built with DOM calls (no library, no markup strings):
// one point per day that has a value, each with a <title> a screen reader and a hover show.

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 560;
const HEIGHT = 200;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

/** An SVG element; strings become text nodes, never markup. */
function s(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

/**
 * Draw `days` ([{date, ...}]) into the <svg> `svg`.
 * @param {SVGSVGElement} svg
 * @param {{date: string}[]} days every day of the window, oldest first
 * @param {{value: (day: object) => number|null, label: (value: number) => string,
 *   min?: number, max?: number, name: string}} series
 */
export function drawChart(svg, days, series) {
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute('role', 'img');
  const points = days
    .map((day, index) => ({ day, index, value: series.value(day) }))
    .filter((point) => point.value !== null && point.value !== undefined);
  const values = points.map((point) => point.value);
  const min = series.min ?? 0;
  const max = series.max ?? Math.max(1, ...values) * 1.1;
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (index) => PAD.left + (days.length > 1 ? (index / (days.length - 1)) * plotW : plotW / 2);
  const y = (value) => PAD.top + plotH - ((value - min) / (max - min || 1)) * plotH;

  const children = [
    s('title', {}, `${series.name} per day, ${points.length} of ${days.length} days with data`),
    s('line', { class: 'axis', x1: PAD.left, y1: PAD.top + plotH, x2: WIDTH - PAD.right, y2: PAD.top + plotH }),
    s('line', { class: 'axis', x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: PAD.top + plotH }),
    s('text', { class: 'tick', x: PAD.left - 6, y: y(max) + 4, 'text-anchor': 'end' }, series.label(max)),
    s('text', { class: 'tick', x: PAD.left - 6, y: y(min) + 4, 'text-anchor': 'end' }, series.label(min)),
  ];
  if (days.length) {
    children.push(
      s('text', { class: 'tick', x: x(0), y: HEIGHT - 8, 'text-anchor': 'start' }, days[0].date),
      s('text', { class: 'tick', x: x(days.length - 1), y: HEIGHT - 8, 'text-anchor': 'end' }, days[days.length - 1].date),
    );
  }
  if (points.length > 1) {
    const path = points.map((p) => `${x(p.index).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    children.push(s('polyline', { class: 'line', points: path, fill: 'none' }));
  }
  for (const point of points) {
    children.push(s('circle', {
      class: 'point', cx: x(point.index).toFixed(1), cy: y(point.value).toFixed(1), r: 4,
      dataset: { date: point.day.date, value: String(point.value) },
    }, s('title', {}, `${point.day.date}: ${series.label(point.value)}`)));
  }
  if (!points.length) {
    children.push(s('text', { class: 'chart-empty', x: WIDTH / 2, y: HEIGHT / 2, 'text-anchor': 'middle' }, 'not enough data yet'));
  }
  svg.replaceChildren(...children);
}
