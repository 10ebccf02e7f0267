/**
 * A small time-series chart as inline SVG markup (no script, no external reference), for
 * the HTML report's RTO and RPO trends: one line through the measurements in time order,
 * a dot per drill coloured by its verdict (with a tooltip), and the target as a dashed line.
 */
import escapeHtml from 'escape-html';
import { formatSeconds } from '../drills.js';

export interface ChartPoint {
  /** Epoch milliseconds. */
  t: number;
  /** Seconds. */
  v: number;
  /** Tooltip. */
  label: string;
  /** CSS class of the dot (the drill verdict). */
  cls: string;
}

export interface ChartOptions {
  title: string;
  points: readonly ChartPoint[];
  target: number | null;
  width?: number;
  height?: number;
}

const f = (n: number) => (Math.round(n * 10) / 10).toString();

export function lineChart(options: ChartOptions): string {
  const width = options.width ?? 520;
  const height = options.height ?? 180;
  const m = { top: 24, right: 16, bottom: 28, left: 64 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const points = [...options.points].sort((a, b) => a.t - b.t);
  const title = escapeHtml(options.title);
  const open = `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${title}">`;
  const heading = `<text class="chart-title" x="${m.left}" y="16">${title}</text>`;
  if (points.length === 0) {
    return `${open}${heading}<text class="chart-empty" x="${f(m.left + w / 2)}" y="${f(m.top + h / 2)}" text-anchor="middle">no measurements yet</text></svg>`;
  }
  const t0 = points[0]!.t;
  const t1 = points[points.length - 1]!.t;
  const vMax = Math.max(...points.map((p) => p.v), options.target ?? 0) * 1.15 || 1;
  const x = (t: number) => m.left + (t1 === t0 ? w / 2 : ((t - t0) / (t1 - t0)) * w);
  const y = (v: number) => m.top + h - (v / vMax) * h;

  const parts = [open, heading];
  // Axes and three gridlines with labels.
  parts.push(`<line class="axis" x1="${m.left}" y1="${m.top + h}" x2="${m.left + w}" y2="${m.top + h}"/>`);
  parts.push(`<line class="axis" x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + h}"/>`);
  for (const frac of [0, 0.5, 1]) {
    const v = (vMax / 1.15) * frac;
    parts.push(`<line class="grid" x1="${m.left}" y1="${f(y(v))}" x2="${m.left + w}" y2="${f(y(v))}"/>`);
    parts.push(`<text class="tick" x="${m.left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${escapeHtml(formatSeconds(Math.round(v * 10) / 10))}</text>`);
  }
  const day = (t: number) => new Date(t).toISOString().slice(0, 10);
  parts.push(`<text class="tick" x="${m.left}" y="${height - 8}" text-anchor="start">${day(t0)}</text>`);
  if (t1 !== t0) parts.push(`<text class="tick" x="${m.left + w}" y="${height - 8}" text-anchor="end">${day(t1)}</text>`);
  if (options.target !== null) {
    const ty = f(y(options.target));
    parts.push(`<line class="target" x1="${m.left}" y1="${ty}" x2="${m.left + w}" y2="${ty}"/>`);
    parts.push(
      `<text class="target-label" x="${m.left + w}" y="${f(y(options.target) - 4)}" text-anchor="end">target ${escapeHtml(formatSeconds(options.target))}</text>`,
    );
  }
  if (points.length > 1) {
    parts.push(`<polyline class="series" points="${points.map((p) => `${f(x(p.t))},${f(y(p.v))}`).join(' ')}"/>`);
  }
  for (const p of points) {
    parts.push(`<circle class="dot ${escapeHtml(p.cls)}" cx="${f(x(p.t))}" cy="${f(y(p.v))}" r="4"><title>${escapeHtml(p.label)}</title></circle>`);
  }
  parts.push('</svg>');
  return parts.join('');
}
