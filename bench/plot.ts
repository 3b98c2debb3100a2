/**
 * A small line chart as SVG text, two y axes (left and right) over one x axis: what the load
 * test plots (throughput and driver CPU against the rate limit). Pure: numbers in, markup out;
 * bench/load-test.ts renders it to PNG with @resvg/resvg-js.
 */

export type Point = { x: number; y: number };
export type Series = { name: string; axis: 'left' | 'right'; color: string; points: Point[] };
export type Chart = {
  title: string;
  xLabel: string;
  leftLabel: string;
  rightLabel: string;
  series: Series[];
  /** Text under each x tick, when the x values stand for something else (e.g. "none"). */
  xTickLabels?: Map<number, string>;
  width?: number;
  height?: number;
};

const MARGIN = { top: 48, right: 72, bottom: 64, left: 72 };

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A "nice" upper bound and step for an axis from 0 to `max` in about `ticks` steps. */
export function niceScale(max: number, ticks = 5): { max: number; step: number } {
  if (!(max > 0) || !Number.isFinite(max)) return { max: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  return { max: Math.ceil(max / step - 1e-9) * step, step };
}

const fmt = (v: number): string => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(v < 1 ? 2 : 1));

export function lineChartSvg(chart: Chart): string {
  const width = chart.width ?? 800;
  const height = chart.height ?? 480;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const all = chart.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xs = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b);
  const xMin = xs[0] ?? 0;
  const xMax = xs.length > 1 ? xs[xs.length - 1]! : xMin + 1;
  const axisMax = (axis: 'left' | 'right') =>
    niceScale(Math.max(0, ...chart.series.filter((s) => s.axis === axis).flatMap((s) => s.points.map((p) => p.y)).filter(Number.isFinite)));
  const scales = { left: axisMax('left'), right: axisMax('right') };
  const px = (x: number) => MARGIN.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const py = (axis: 'left' | 'right', y: number) => MARGIN.top + plotH - (y / scales[axis].max) * plotH;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="16">${escapeXml(chart.title)}</text>`);
  // Grid and left ticks.
  for (let v = 0; v <= scales.left.max + 1e-9; v += scales.left.step) {
    const y = py('left', v);
    parts.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e0e0e0"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (let v = 0; v <= scales.right.max + 1e-9; v += scales.right.step) {
    parts.push(`<text x="${MARGIN.left + plotW + 6}" y="${py('right', v) + 4}" text-anchor="start">${fmt(v)}</text>`);
  }
  for (const x of xs) {
    const label = chart.xTickLabels?.get(x) ?? fmt(x);
    parts.push(`<line x1="${px(x)}" y1="${MARGIN.top + plotH}" x2="${px(x)}" y2="${MARGIN.top + plotH + 5}" stroke="black"/>`);
    parts.push(`<text x="${px(x)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${escapeXml(label)}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="black"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${height - 16}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`);
  parts.push(`<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.leftLabel)}</text>`);
  parts.push(`<text transform="translate(${width - 14} ${MARGIN.top + plotH / 2}) rotate(90)" text-anchor="middle">${escapeXml(chart.rightLabel)}</text>`);
  // Series, then the legend.
  chart.series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    if (pts.length > 0) {
      const d = pts.map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(s.axis, p.y).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${escapeXml(s.color)}" stroke-width="2"${s.axis === 'right' ? ' stroke-dasharray="6 3"' : ''}/>`);
      for (const p of pts) parts.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(s.axis, p.y).toFixed(1)}" r="3" fill="${escapeXml(s.color)}"/>`);
    }
    const ly = MARGIN.top + 14 + i * 16;
    parts.push(`<line x1="${MARGIN.left + 10}" y1="${ly}" x2="${MARGIN.left + 30}" y2="${ly}" stroke="${escapeXml(s.color)}" stroke-width="2"/>`);
    parts.push(`<text x="${MARGIN.left + 36}" y="${ly + 4}">${escapeXml(`${s.name} (${s.axis})`)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
