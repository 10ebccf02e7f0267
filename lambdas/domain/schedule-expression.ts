/**
 * EventBridge Scheduler schedule expressions — `rate(5 minutes)`, `cron(0 3 ? * MON-FRI *)`,
 * `at(2026-11-27T03:00:00)` — with their time zone, as local mode's scheduler evaluates them.
 * Pure: parse once, then ask for the next firing time after an instant.
 *
 * Cron evaluation is Croner's (well tested: L, W, #, years, IANA zones); this module adapts
 * AWS's dialect to it and applies AWS's rules where Croner's defaults differ:
 * - six fields, `minutes hours day-of-month month day-of-week year`, no seconds;
 * - exactly one of day-of-month and day-of-week is `?`;
 * - day-of-week 1-7 is SUN-SAT (Quartz numbering, Croner's `alternativeWeekdays`);
 * - `5/15` (a numeric start with a step) means `5-59/15` (Croner only takes ranges or `*`);
 * - a wall-clock time that does not exist (skipped by a DST change in spring) is skipped,
 *   and a repeated one (autumn) fires once — AWS's documented behaviour, where Croner
 *   would move the first to the next valid minute.
 * Rate schedules fire every period from the schedule's start; `days` are 24 hours of
 * elapsed time, whatever DST does to the wall clock (as AWS documents).
 */
import { Cron } from 'croner';
import { DateTime, IANAZone } from 'luxon';
import { UsageError } from './errors.js';

export type ScheduleExpression =
  | { kind: 'rate'; expression: string; timezone: string; periodMs: number }
  | { kind: 'cron'; expression: string; timezone: string; cron: Cron }
  | { kind: 'at'; expression: string; timezone: string; at: number };

const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** The highest value of each cron field, for `a/b` → `a-max/b`. */
const FIELD_MAX = [59, 23, 31, 12, 7, 2199] as const;
const FIELD_NAMES = ['minutes', 'hours', 'day-of-month', 'month', 'day-of-week', 'year'] as const;

function bad(expression: string, why: string, hint = 'EventBridge Scheduler takes rate(5 minutes), cron(0 3 * * ? *) or at(2026-11-27T03:00:00)'): UsageError {
  return new UsageError(`schedule expression ${JSON.stringify(expression)} ${why}`, { hint });
}

export function assertTimezone(timezone: string): string {
  if (!IANAZone.isValidZone(timezone)) {
    throw new UsageError(`time zone ${JSON.stringify(timezone)} is not an IANA time zone`, { hint: 'use a name like UTC, Europe/Berlin or America/New_York' });
  }
  return timezone;
}

/** Parses an EventBridge Scheduler expression; throws UsageError naming what is wrong. */
export function parseScheduleExpression(expression: string, timezone = 'UTC'): ScheduleExpression {
  assertTimezone(timezone);
  const m = /^(rate|cron|at)\((.*)\)$/.exec(expression.trim());
  if (!m) throw bad(expression, 'is not rate(...), cron(...) or at(...)');
  const body = m[2]!.trim();
  if (m[1] === 'rate') {
    const r = /^(\d+)\s+(minute|minutes|hour|hours|day|days)$/.exec(body);
    if (!r || Number(r[1]) < 1) throw bad(expression, 'is not a rate of a positive whole number of minutes, hours or days', 'e.g. rate(1 minute), rate(15 minutes), rate(2 hours), rate(1 day)');
    return { kind: 'rate', expression, timezone, periodMs: Number(r[1]) * UNIT_MS[r[2]!.replace(/s$/, '')]! };
  }
  if (m[1] === 'at') {
    const local = DateTime.fromISO(body, { zone: timezone });
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(body) || !local.isValid) throw bad(expression, 'is not at(yyyy-mm-ddThh:mm:ss)');
    return { kind: 'at', expression, timezone, at: local.toMillis() };
  }
  const fields = body.split(/\s+/);
  if (fields.length !== 6) throw bad(expression, `has ${fields.length} fields; AWS cron has 6: minutes hours day-of-month month day-of-week year`);
  const [dom, dow] = [fields[2]!, fields[4]!];
  if ((dom === '?') === (dow === '?')) {
    throw bad(expression, 'must have `?` in exactly one of day-of-month and day-of-week', 'e.g. cron(0 3 * * ? *) daily, cron(0 3 ? * MON *) on Mondays');
  }
  const croner = fields.map((f, i) => {
    // AWS's `5/15` starts at 5 and steps to the end of the field; Croner wants it as a range.
    const step = /^(\d+)\/(\d+)$/.exec(f);
    if (step) return `${step[1]}-${FIELD_MAX[i]}/${step[2]}`;
    return f === '?' ? '*' : f;
  });
  let cron: Cron;
  try {
    cron = new Cron(`0 ${croner.join(' ')}`, { timezone, alternativeWeekdays: true, paused: true });
  } catch (err) {
    const which = FIELD_NAMES.find((name) => (err as Error).message.toLowerCase().includes(name.replace(/-/g, ' '))) ?? 'a field';
    throw bad(expression, `is not valid (${which}): ${(err as Error).message}`);
  }
  return { kind: 'cron', expression, timezone, cron };
}

/**
 * The first firing strictly after `after` (epoch ms), or undefined when there is none (a
 * one-time schedule in the past, a cron whose years are over). `start` is when a rate
 * schedule started counting.
 */
export function nextFireTime(schedule: ScheduleExpression, after: number, start: number): number | undefined {
  switch (schedule.kind) {
    case 'rate': {
      const n = after < start ? 0 : Math.floor((after - start) / schedule.periodMs) + 1;
      return start + n * schedule.periodMs;
    }
    case 'at':
      return schedule.at > after ? schedule.at : undefined;
    case 'cron': {
      let from = new Date(after);
      // A few candidates at most: each skipped one is a DST gap, at most one per pass.
      for (let i = 0; i < 8; i++) {
        const next = schedule.cron.nextRun(from);
        if (!next) return undefined;
        // Croner moves a wall-clock time that does not exist to the next valid minute; AWS skips it.
        if (schedule.cron.match(next)) return next.getTime();
        from = next;
      }
      return undefined;
    }
  }
}

/** Several firings after `after`, for display and tests. */
export function nextFireTimes(schedule: ScheduleExpression, after: number, start: number, count: number): number[] {
  const out: number[] = [];
  let t = after;
  for (let i = 0; i < count; i++) {
    const next = nextFireTime(schedule, t, start);
    if (next === undefined) break;
    out.push(next);
    t = next;
  }
  return out;
}
