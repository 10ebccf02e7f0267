/**
 * EventBridge Scheduler expressions and time zones. Pure.
 *
 * Checking (`assertScheduleExpression`, `assertTimeZone`): before anything is deployed or
 * stored: a policy with `cron(0 3 * * * *)` (both day fields set) would otherwise be
 * refused by the Scheduler API at deploy time, or never fire. Recurring expressions only:
 * `rate(value unit)` and `cron(minutes hours day-of-month month day-of-week year)`, as the
 * Scheduler documents them
 * (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html). One-time
 * `at(...)` schedules make no sense for a snapshot, retention or drill policy.
 *
 * Evaluating (`parseScheduleExpression`, `nextFireTime`): when a checked expression fires,
 * in its time zone — local mode's scheduler stands in for EventBridge Scheduler with it.
 * Croner evaluates the cron (well tested: L, W, #, years, IANA zones); this module adapts
 * AWS's dialect to it and applies AWS's rules where Croner's defaults differ:
 * - day-of-week 1-7 is SUN-SAT (Quartz numbering, Croner's `alternativeWeekdays`);
 * - `5/15` (a numeric start with a step) means `5-59/15` (Croner only takes ranges or `*`);
 * - a wall-clock time that does not exist (skipped by a DST change in spring) is skipped,
 *   and a repeated one (autumn) fires once — AWS's documented behaviour, where Croner
 *   would move the first to the next valid minute.
 * Rate schedules fire at once and then every period from the schedule's start; `days` are
 * 24 hours of elapsed time, whatever DST does to the wall clock (as AWS documents).
 * `at(yyyy-mm-ddThh:mm:ss)` fires once.
 */
import { Cron } from 'croner';
import { DateTime } from 'luxon';
import { UsageError } from './errors.js';

const CRON_HINT =
  'write cron(minutes hours day-of-month month day-of-week year) with "?" in one of the two day fields, e.g. cron(0 3 * * ? *) for 03:00 every day';
const RATE_HINT = 'write rate(<whole number> minute|minutes|hour|hours|day|days), e.g. rate(6 hours)';

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldRule {
  name: string;
  min: number;
  max: number;
  /** Names accepted in place of numbers (JAN = 1, SUN = 1). */
  names?: string[];
  /** Extra single tokens accepted as a whole item (L, LW, ?...). */
  special?: RegExp;
}

const FIELDS: FieldRule[] = [
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31, special: /^(\?|L|LW|L-\d{1,2}|\d{1,2}W)$/ },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day-of-week', min: 1, max: 7, names: DAYS, special: /^(\?|L|[1-7]L|[A-Z]{3}L|[1-7]#[1-5]|[A-Z]{3}#[1-5])$/ },
  { name: 'year', min: 1970, max: 2199 },
];

function fieldValue(text: string, rule: FieldRule): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const i = rule.names?.indexOf(text.toUpperCase()) ?? -1;
  return i >= 0 ? i + 1 : undefined;
}

/** One comma-separated item of a cron field: `*`, `n`, `a-b`, `*\/k`, `n/k`, `a-b/k`, or a special. */
function checkItem(item: string, rule: FieldRule): string | undefined {
  if (rule.special?.test(item.toUpperCase())) {
    const dayNumber = /^(\d{1,2})W$/.exec(item) ?? /^L-(\d{1,2})$/.exec(item);
    if (dayNumber && (Number(dayNumber[1]) < 1 || Number(dayNumber[1]) > 31)) return `${item} names no day of the month`;
    const dayName = /^([A-Z]{3})(L|#\d)$/i.exec(item);
    if (dayName && !DAYS.includes(dayName[1]!.toUpperCase())) return `${dayName[1]} is not a day (${DAYS.join(', ')})`;
    return undefined;
  }
  const [range, step, ...rest] = item.split('/');
  if (rest.length > 0 || range === undefined || range === '') return `"${item}" is not a value, a range or a step`;
  if (step !== undefined && (!/^\d+$/.test(step) || Number(step) < 1)) return `the step in "${item}" must be a whole number of at least 1`;
  if (range === '*') return undefined;
  const bounds = range.split('-');
  if (bounds.length > 2) return `"${item}" is not a value or a range`;
  for (const b of bounds) {
    const v = fieldValue(b, rule);
    if (v === undefined) return `"${b}" is not a ${rule.name} value${rule.names ? ` (a number or one of ${rule.names.join(', ')})` : ''}`;
    if (v < rule.min || v > rule.max) return `${b} is out of range for ${rule.name} (${rule.min}-${rule.max})`;
  }
  return undefined;
}

/**
 * Throws a UsageError naming `path` and the bad expression when `expression` is not a
 * recurring EventBridge Scheduler expression.
 */
export function assertScheduleExpression(path: string, expression: string): void {
  const bad = (why: string, hint: string) => new UsageError(`${path} ${JSON.stringify(expression)} is not a valid schedule: ${why}`, { hint });
  const text = expression.trim();
  if (/^at\(/.test(text)) throw bad('at(...) is a one-time schedule; a policy needs a recurring one', `${RATE_HINT}, or ${CRON_HINT}`);
  const rate = /^rate\((.*)\)$/.exec(text);
  if (rate) {
    const m = /^(\d+) (minute|minutes|hour|hours|day|days)$/.exec(rate[1]!.trim());
    if (!m) throw bad('it is not "<value> <unit>"', RATE_HINT);
    const n = Number(m[1]);
    if (n < 1) throw bad('the value must be at least 1', RATE_HINT);
    if ((n === 1) !== !m[2]!.endsWith('s'))
      throw bad(n === 1 ? `use the singular unit: rate(1 ${m[2]!.replace(/s$/, '')})` : `use the plural unit: rate(${n} ${m[2]}s)`, RATE_HINT);
    return;
  }
  const cron = /^cron\((.*)\)$/.exec(text);
  if (!cron) throw bad('it is neither rate(...) nor cron(...)', `${RATE_HINT}, or ${CRON_HINT}`);
  const fields = cron[1]!.trim().split(/\s+/);
  if (fields.length !== 6) throw bad(`cron needs 6 fields, this one has ${fields.length}`, CRON_HINT);
  const [, , dom, , dow] = fields as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) {
    throw bad('exactly one of day-of-month and day-of-week must be "?"', CRON_HINT);
  }
  fields.forEach((field, i) => {
    const rule = FIELDS[i]!;
    for (const item of field.split(',')) {
      if (item === '?' && rule.name !== 'day-of-month' && rule.name !== 'day-of-week')
        throw bad(`"?" is only allowed in a day field, not in ${rule.name}`, CRON_HINT);
      const why = checkItem(item, rule);
      if (why) throw bad(`${rule.name}: ${why}`, CRON_HINT);
    }
  });
}

/** Throws a UsageError when `timezone` is not an IANA time zone this runtime knows. */
export function assertTimeZone(path: string, timezone: string): void {
  try {
    // Intl throws a RangeError for a zone it does not know; it accepts every IANA name.
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new UsageError(`${path} ${JSON.stringify(timezone)} is not an IANA time zone`, {
      hint: 'use a name such as "UTC", "Europe/Paris" or "America/New_York"',
    });
  }
}

// ---------------------------------------------------------------------------------------
// Evaluation

export type ScheduleExpression =
  | { kind: 'rate'; expression: string; timezone: string; periodMs: number }
  | { kind: 'cron'; expression: string; timezone: string; cron: Cron }
  | { kind: 'at'; expression: string; timezone: string; at: number };

const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** The highest value of each cron field, for `a/b` → `a-max/b`. */
const FIELD_MAX = [59, 23, 31, 12, 7, 2199] as const;

/**
 * Parses an expression for evaluation (rate and cron as `assertScheduleExpression` checks
 * them, plus one-time `at(...)`); throws UsageError naming what is wrong.
 */
export function parseScheduleExpression(expression: string, timezone = 'UTC', path = 'schedule'): ScheduleExpression {
  assertTimeZone(`${path} time zone`, timezone);
  const at = /^at\((.*)\)$/.exec(expression.trim());
  if (at) {
    const text = at[1]!.trim();
    const local = DateTime.fromISO(text, { zone: timezone });
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(text) || !local.isValid) {
      throw new UsageError(`${path} ${JSON.stringify(expression)} is not a valid schedule: write at(yyyy-mm-ddThh:mm:ss)`);
    }
    return { kind: 'at', expression, timezone, at: local.toMillis() };
  }
  assertScheduleExpression(path, expression);
  const body = /^(?:rate|cron)\((.*)\)$/.exec(expression.trim())![1]!.trim();
  if (expression.trim().startsWith('rate(')) {
    const r = /^(\d+) (minute|minutes|hour|hours|day|days)$/.exec(body)!;
    return { kind: 'rate', expression, timezone, periodMs: Number(r[1]) * UNIT_MS[r[2]!.replace(/s$/, '')]! };
  }
  const fields = body.split(/\s+/);
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
    throw new UsageError(`${path} ${JSON.stringify(expression)} is not a valid schedule: ${(err as Error).message}`);
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
