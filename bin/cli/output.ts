/**
 * Human output helpers: sizes, durations, tables, progress. Data goes to stdout, messages
 * and progress to stderr; progress bars only on a terminal and never under CI.
 */
import cliProgress from 'cli-progress';
import type { SnapshotRecord } from '../../lambdas/domain/snapshot.js';
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

/**
 * One snapshot as `snapshot --json` and `snapshots --json` both print it: the same field
 * names (`files`, `dataBytes`, `storedBytes`, as `restore --json` has them), not the
 * catalog's attribute names. Fields the entry does not have are left out.
 */
export function snapshotDocument(r: SnapshotRecord): Record<string, unknown> {
  return {
    id: r.id,
    service: r.service,
    status: r.status,
    createdAt: r.createdAt,
    completedAt: r.completedAt,
    files: r.fileCount,
    entries: r.entryCount,
    parts: r.partCount,
    dataBytes: r.dataSize,
    storedBytes: r.size,
    manifestKey: r.manifestKey,
    manifestSha256: r.manifestSha256,
    store: r.store,
    reason: r.reason,
    term: r.term,
    sourceTask: r.sourceTask,
    sourceHost: r.sourceHost,
    warningCount: r.warningCount,
    verifiedAt: r.verifiedAt,
    suspectAt: r.suspectAt,
    suspectDrill: r.suspectDrill,
    expiringAt: r.expiringAt,
  };
}

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory, not a file',
  ENOTDIR: 'a part of its path is not a directory',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
};

/** A file system error in words, with its code for searching: `no such file (ENOENT)`. */
export function fileErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words = e.code ? FILE_ERRORS[e.code] : undefined;
  return words ? `${words} (${e.code})` : (e.code ?? e.message);
}

// Epoch milliseconds between 2001 and 2100: a time, not a counter.
const EPOCH_MS = { from: 978_307_200_000, to: 4_102_444_800_000 };

/**
 * A member's data position for people. The agent's default position is the creation time
 * of the snapshot it restored (epoch ms), shown as that UTC time; a position command's own
 * number (a WAL offset, a sequence) is shown as it is.
 */
export function formatPosition(position: number | undefined): string {
  if (position === undefined) return '-';
  if (Number.isInteger(position) && position >= EPOCH_MS.from && position < EPOCH_MS.to) {
    return `${new Date(position).toISOString().slice(0, 19).replace('T', ' ')}Z`;
  }
  return String(position);
}

/**
 * Text from the catalog (ids, names, reasons) made safe for a terminal: C0 and C1 control
 * characters (ESC starts ANSI/OSC sequences that can rewrite the screen or the title) are
 * shown as `\xNN` escapes instead of being sent raw. Newlines and tabs pass.
 */
export function terminalSafe(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Left-aligned columns, two spaces apart, like `docker ps`; cells are made terminal-safe. */
export function formatTable(header: string[], unsafeRows: string[][]): string {
  const rows = unsafeRows.map((r) => r.map(terminalSafe));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

export function say(io: CliIO, line: string): void {
  io.stderr.write(`${terminalSafe(line)}\n`);
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
