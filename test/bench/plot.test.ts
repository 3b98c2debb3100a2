import { describe, expect, it } from 'vitest';
import { Resvg } from '@resvg/resvg-js';
import { escapeXml, lineChartSvg, niceScale } from '../../bench/plot';

const chart = {
  title: 'Load test <standard>',
  xLabel: 'rate limit (jobs/s)',
  leftLabel: 'jobs/s',
  rightLabel: 'driver CPU %',
  xTickLabels: new Map([[40, 'none']]),
  series: [
    { name: 'throughput', axis: 'left' as const, color: '#1f77b4', points: [{ x: 10, y: 9.5 }, { x: 2, y: 2 }, { x: 40, y: 18 }] },
    { name: 'driver CPU', axis: 'right' as const, color: '#d62728', points: [{ x: 2, y: 20 }, { x: 10, y: 55 }, { x: 40, y: 97 }] },
  ],
};

describe('load-test plot', () => {
  it('picks round axis bounds', () => {
    expect(niceScale(18)).toEqual({ max: 20, step: 5 });
    expect(niceScale(3.6)).toEqual({ max: 4, step: 1 });
    expect(niceScale(97)).toEqual({ max: 100, step: 20 });
    expect(niceScale(0)).toEqual({ max: 1, step: 0.2 });
    expect(niceScale(Number.NaN)).toEqual({ max: 1, step: 0.2 });
  });

  it('draws each series as a path through its points in x order, on its own axis', () => {
    const svg = lineChartSvg(chart);
    const paths = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]!);
    expect(paths).toHaveLength(2);
    // Left axis 0..20 over 368 px of plot (480 - 48 - 64) from y = 416 up; x from 2 to 40 over
    // 656 px from x = 72: (2, 2) → (72, 379.2), (10, 9.5) → (210.1, 241.2), (40, 18) → (728, 84.8).
    expect(paths[0]).toBe('M72.0,379.2 L210.1,241.2 L728.0,84.8');
    expect(paths[1]).toMatch(/^M72\.0,/);
    expect(svg.match(/<circle /g)).toHaveLength(6);
    expect(svg).toContain('>none<');
    expect(svg).toContain('Load test &lt;standard&gt;');
    expect(svg).toContain('stroke-dasharray');
  });

  it('is valid SVG that renders to a PNG of its size', () => {
    const png = new Resvg(lineChartSvg({ ...chart, width: 640, height: 360 })).render();
    expect(png.width).toBe(640);
    expect(png.height).toBe(360);
    expect(png.asPng().subarray(1, 4).toString()).toBe('PNG');
  });

  it('escapes markup in labels', () => {
    expect(escapeXml('a<b & "c">')).toBe('a&lt;b &amp; &quot;c&quot;&gt;');
  });
});
