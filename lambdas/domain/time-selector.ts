/**
 * Point in time: what `--at TIME` means, and which snapshot a point in time selects.
 * Pure (the clock and the zone are passed in).
 *
 * TIME is one of:
 *   - an ISO 8601 time: `2026-11-27T18:00:00Z`, `2026-11-27T18:00+01:00`; without an
 *     offset (`2026-11-27 18:00`, `2026-11-27`) it is read in the zone (`--tz`);
 *   - a duration before now: `90s`, `15m`, `2h`, `1d`, `1w`, combined (`1h30m`), with an
 *     optional ` ago`;
 *   - `now`; `today` / `yesterday` with an optional `HH:MM[:SS]` in the zone (without a
 *     time: the end of that day, so the newest snapshot of the day is selected); a bare
 *     `HH:MM[:SS]` is the most recent such time (today, or yesterday if that is still ahead).
 */
import { DateTime } from 'luxon';
import { OperationFailedError, UsageError } from './errors.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const FORMS_HINT =
  'use an ISO time (2026-11-27T18:00:00Z, 2026-11-27 18:00), a duration before now (2h, 1h30m, 3d ago), now, today 09:00, yesterday 18:00 or 18:00';

function badTime(text: string, why: string): UsageError {
  return new UsageError(`--at ${JSON.stringify(text)} is not a time: ${why}`, { hint: FORMS_HINT });
}

/** Throws a UsageError naming the zone when it is not an IANA zone. */
export function assertZone(zone: string): string {
  if (!DateTime.now().setZone(zone).isValid) {
    throw new UsageError(`--tz ${JSON.stringify(zone)} is not an IANA time zone`, { hint: 'use a name such as "UTC", "Europe/Paris" or "America/New_York"' });
  }
  return zone;
}

function clock(text: string, spec: string): { hour: number; minute: number; second: number } {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(spec);
  if (!m) throw badTime(text, `"${spec}" is not a time of day like 18:00 or 18:00:30`);
  const [hour, minute, second] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (hour > 23 || minute > 59 || second > 59) throw badTime(text, `"${spec}" is not a time of day`);
  return { hour, minute, second };
}

/** Epoch milliseconds of `text`, relative to `now` and read in `zone` where it has no offset. */
export function parseTimeSelector(text: string, options: { now: number; zone: string }): number {
  const t = text.trim();
  const zone = assertZone(options.zone);
  const now = DateTime.fromMillis(options.now, { zone });
  if (t === '') throw badTime(text, 'it is empty');
  if (t.toLowerCase() === 'now') return options.now;

  const rel = /^((?:\d+(?:\.\d+)?\s*[smhdw]\s*)+)(?:ago)?$/i.exec(t);
  if (rel) {
    let ms = 0;
    for (const [, n, unit] of rel[1]!.matchAll(/(\d+(?:\.\d+)?)\s*([smhdw])/gi)) ms += Number(n) * UNIT_MS[unit!.toLowerCase()]!;
    return options.now - ms;
  }

  const day = /^(today|yesterday)(?:\s+(.+))?$/i.exec(t);
  if (day) {
    const base = day[1]!.toLowerCase() === 'today' ? now.startOf('day') : now.minus({ days: 1 }).startOf('day');
    if (!day[2]) return base.endOf('day').toMillis();
    return base.set(clock(text, day[2].trim())).toMillis();
  }

  if (/^\d{1,2}:\d{2}(:\d{2})?$/.test(t)) {
    const today = now.startOf('day').set(clock(text, t));
    return (today.toMillis() > options.now ? today.minus({ days: 1 }) : today).toMillis();
  }

  // ISO 8601; a space between date and time is accepted, as people type it.
  const iso = DateTime.fromISO(t.replace(/^(\d{4}-\d{2}-\d{2}) (\d)/, '$1T$2'), { zone, setZone: true });
  if (iso.isValid) return iso.toMillis();
  throw badTime(text, iso.invalidExplanation ?? 'unknown form');
}

/** A snapshot as point-in-time selection sees it. */
export interface TimedSnapshot {
  id: string;
  createdAt: string;
}

export interface PointInTimeChoice<S extends TimedSnapshot> {
  snapshot: S;
  /** How long before TIME the snapshot was taken. */
  ageSeconds: number;
}

/**
 * The newest snapshot taken at or before `at`, from complete snapshots newest first (an
 * iterable, so a long catalog is read only as far as needed). Throws a UsageError naming
 * the oldest snapshot's time when `at` is before it, an OperationFailedError when there is
 * no snapshot at all.
 */
export function chooseSnapshotAt<S extends TimedSnapshot>(newestFirst: Iterable<S>, at: number, what: { service: string; text: string }): PointInTimeChoice<S> {
  let oldest: S | undefined;
  for (const s of newestFirst) {
    const created = Date.parse(s.createdAt);
    if (created <= at) return { snapshot: s, ageSeconds: Math.round((at - created) / 100) / 10 };
    oldest = s;
  }
  if (!oldest) {
    throw new OperationFailedError(`service ${what.service} has no complete snapshot`, { hint: 'take one with `lifeboat snapshot` first' });
  }
  throw new UsageError(
    `--at ${JSON.stringify(what.text)} (${new Date(at).toISOString()}) is before the oldest complete snapshot of ${what.service}, ${oldest.id} taken ${oldest.createdAt}`,
    { hint: `pick a time at or after ${oldest.createdAt}, or list the snapshots with \`lifeboat snapshots --service ${what.service}\`` },
  );
}

/** Async form of chooseSnapshotAt, for the catalog's paged listing. */
export async function chooseSnapshotAtAsync<S extends TimedSnapshot>(
  newestFirst: AsyncIterable<S>,
  at: number,
  what: { service: string; text: string },
): Promise<PointInTimeChoice<S>> {
  const seen: S[] = [];
  for await (const s of newestFirst) {
    if (Date.parse(s.createdAt) <= at) return chooseSnapshotAt([s], at, what);
    // Only the oldest matters for the error; keep one.
    seen[0] = s;
  }
  return chooseSnapshotAt(seen, at, what);
}

/** The local IANA zone, the default of `--tz` (an operator types times as their clock shows them). */
export function systemZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}
