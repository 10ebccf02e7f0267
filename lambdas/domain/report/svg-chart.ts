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
  /** Seconds; null: nothing was measured (drawn as a cross on the time axis). */
  v: number | null;
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
  const measured = points.filter((p): p is ChartPoint & { v: number } => p.v !== null);
  const t0 = points[0]!.t;
  const t1 = points[points.length - 1]!.t;
  const vMax = Math.max(0, ...measured.map((p) => p.v), options.target ?? 0) * 1.15 || 1;
  // Points at the same instant (or a degenerate range) are spread by their order, so every
  // drill keeps its own place on the axis.
  const distinct = new Set(points.map((p) => p.t)).size === points.length;
  const xs = new Map<ChartPoint, number>(
    points.map((p, i) => [p, m.left + (points.length === 1 ? w / 2 : distinct ? ((p.t - t0) / (t1 - t0)) * w : (i / (points.length - 1)) * w)]),
  );
  const x = (p: ChartPoint) => xs.get(p)!;
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
  const label = axisLabel(t1 - t0);
  parts.push(`<text class="tick" x="${m.left}" y="${height - 8}" text-anchor="start">${label(t0)}</text>`);
  if (points.length > 1) parts.push(`<text class="tick" x="${m.left + w}" y="${height - 8}" text-anchor="end">${label(t1)}</text>`);
  if (options.target !== null) {
    const ty = f(y(options.target));
    parts.push(`<line class="target" x1="${m.left}" y1="${ty}" x2="${m.left + w}" y2="${ty}"/>`);
    parts.push(
      `<text class="target-label" x="${m.left + w}" y="${f(y(options.target) - 4)}" text-anchor="end">target ${escapeHtml(formatSeconds(options.target))}</text>`,
    );
  }
  if (measured.length > 1) {
    parts.push(`<polyline class="series" points="${measured.map((p) => `${f(x(p))},${f(y(p.v))}`).join(' ')}"/>`);
  }
  for (const p of points) {
    if (p.v === null) {
      const cx = x(p);
      const cy = m.top + h;
      parts.push(
        `<path class="miss ${escapeHtml(p.cls)}" d="M${f(cx - 4)} ${f(cy - 4)}L${f(cx + 4)} ${f(cy + 4)}M${f(cx - 4)} ${f(cy + 4)}L${f(cx + 4)} ${f(cy - 4)}"><title>${escapeHtml(p.label)}</title></path>`,
      );
    } else {
      parts.push(`<circle class="dot ${escapeHtml(p.cls)}" cx="${f(x(p))}" cy="${f(y(p.v))}" r="4"><title>${escapeHtml(p.label)}</title></circle>`);
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Time labels as precise as the range needs: days apart show the date, hours apart the
 * time to the minute, drills seconds apart the time to the second (UTC, like the report).
 */
export function axisLabel(spanMs: number): (t: number) => string {
  if (spanMs >= 2 * 86_400_000) return (t) => new Date(t).toISOString().slice(0, 10);
  if (spanMs >= 10 * 60_000) return (t) => new Date(t).toISOString().slice(5, 16).replace('T', ' ');
  return (t) => new Date(t).toISOString().slice(11, 19);
}

const ICON_PATH: Record<string, string> = {
  pass: 'M4 8.5l2.5 2.5L12 5.5',
  fail: 'M5 5l6 6M11 5l-6 6',
  'timed-out': 'M5 5l6 6M11 5l-6 6',
  'over-target': 'M8 4v5M8 11.5v.5',
  error: 'M8 4v5M8 11.5v.5',
  stale: 'M8 4.5V8l2.5 1.5',
  none: 'M5 8h6',
  running: 'M8 4.5V8l2.5 1.5',
};

/**
 * A verdict as a small inline SVG badge (a tick, a cross, …): emoji need a font that a
 * headless browser or a minimal Linux desktop often lacks, and render as tofu boxes.
 */
export function verdictIcon(verdict: string): string {
  const d = ICON_PATH[verdict] ?? ICON_PATH.none!;
  return `<svg class="icon v-${escapeHtml(verdict)}" viewBox="0 0 16 16" width="16" height="16" role="img" aria-label="${escapeHtml(verdict)}"><circle cx="8" cy="8" r="8" fill="currentColor"/><path d="${d}" stroke="#fff" stroke-width="2" fill="none" stroke-linecap="round"/></svg>`;
}
