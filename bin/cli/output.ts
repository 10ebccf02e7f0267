/**
 * Human output helpers: sizes, durations, tables, progress. Data goes to stdout, messages
 * and progress to stderr; progress bars only on a terminal and never under CI.
 */
import cliProgress from 'cli-progress';
import type { CliIO } from './context.js';

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export function formatDuration(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : ms < 120_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

/** Left-aligned columns, two spaces apart, like `docker ps`. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

export function say(io: CliIO, line: string): void {
  io.stderr.write(`${line}\n`);
}

export interface ProgressReporter {
  update(done: number, total: number, label: string): void;
  stop(): void;
}

export function progressBar(io: CliIO, enabled: boolean): ProgressReporter {
  if (!enabled || !io.stderr.isTTY || io.env.CI) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      stream: io.stderr as NodeJS.WritableStream,
      format: '{label} [{bar}] {percentage}% {doneH}/{totalH}',
      hideCursor: true,
      clearOnComplete: true,
      formatValue: (v, _o, type) => String(v).padStart(type === 'percentage' ? 3 : 0),
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, label) {
      const payload = { label, doneH: formatBytes(done), totalH: formatBytes(total) };
      if (!started) {
        bar.start(Math.max(total, 1), done, payload);
        started = true;
      } else {
        bar.setTotal(Math.max(total, 1));
        bar.update(done, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
