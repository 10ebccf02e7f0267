import { describe, expect, it } from 'vitest';
import { UsageError } from '../../lambdas/domain/errors.js';
import { assertScheduleExpression, assertTimeZone, nextFireTime, nextFireTimes, parseScheduleExpression } from '../../lambdas/domain/schedule-expression.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';

describe('assertScheduleExpression', () => {
  it.each([
    'rate(1 minute)',
    'rate(5 minutes)',
    'rate(1 hour)',
    'rate(12 hours)',
    'rate(1 day)',
    'rate(7 days)',
    'cron(0 3 * * ? *)',
    'cron(15 10 ? * 6L 2022-2030)',
    'cron(0/15 * * * ? *)',
    'cron(0 8 1 JAN,JUL ? *)',
    'cron(0 18 ? * MON-FRI *)',
    'cron(0 0 L * ? *)',
    'cron(0 0 15W * ? *)',
    'cron(0 9 ? * 2#1 *)',
    'cron(30 3 ? * SUN#2 *)',
  ])('accepts %s', (expression) => {
    expect(() => assertScheduleExpression('drill.schedule', expression)).not.toThrow();
  });

  it.each([
    ['cron(0 3 * * * *)', /exactly one of day-of-month and day-of-week must be "\?"/],
    ['cron(0 3 ? * ? *)', /exactly one of day-of-month and day-of-week/],
    ['cron(0 3 * * ?)', /cron needs 6 fields, this one has 5/],
    ['cron(60 3 * * ? *)', /minutes: 60 is out of range for minutes \(0-59\)/],
    ['cron(0 24 * * ? *)', /hours: 24 is out of range/],
    ['cron(0 3 32 * ? *)', /day-of-month: 32 is out of range/],
    ['cron(0 3 ? FOO * *)', /month: "FOO" is not a month value/],
    ['cron(0 3 ? * MON-XYZ *)', /day-of-week: "XYZ" is not a day-of-week value/],
    ['cron(0/0 3 * * ? *)', /the step in "0\/0" must be a whole number of at least 1/],
    ['cron(? 3 * * ? *)', /"\?" is only allowed in a day field/],
    ['rate(0 minutes)', /the value must be at least 1/],
    ['rate(5 minute)', /use the plural unit: rate\(5 minutes\)/],
    ['rate(1 hours)', /use the singular unit: rate\(1 hour\)/],
    ['rate(2 weeks)', /it is not "<value> <unit>"/],
    ['at(2027-01-01T00:00:00)', /one-time schedule/],
    ['every day', /neither rate\(\.\.\.\) nor cron\(\.\.\.\)/],
  ])('refuses %s, naming the value and the fix', (expression, message) => {
    let error: unknown;
    try {
      assertScheduleExpression('drill.schedule', expression);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(Error);
    const e = error as Error & { hint?: string };
    expect(e.message).toContain(`drill.schedule ${JSON.stringify(expression)} is not a valid schedule`);
    expect(e.message).toMatch(message);
    expect(e.hint).toMatch(/cron\(0 3 \* \* \? \*\)|rate\(6 hours\)/);
  });
});

describe('assertTimeZone', () => {
  it('accepts IANA names and refuses others', () => {
    for (const tz of ['UTC', 'Etc/UTC', 'Europe/Paris', 'America/New_York']) expect(() => assertTimeZone('drill.timezone', tz)).not.toThrow();
    expect(() => assertTimeZone('drill.timezone', 'Mars/Olympus_Mons')).toThrow(/drill.timezone "Mars\/Olympus_Mons" is not an IANA time zone/);
  });
});

describe('normalizeServicePolicy schedules', () => {
  it('checks every section: snapshot, retention, drill, and their time zones', () => {
    expect(() =>
      normalizeServicePolicy({
        service: 'db',
        snapshot: { schedule: 'rate(1 hour)' },
        retention: { schedule: 'cron(0 4 * * ? *)', daily: 7 },
        drill: { schedule: 'cron(0 3 * * ? *)', timezone: 'Europe/Paris' },
      }),
    ).not.toThrow();
    expect(() => normalizeServicePolicy({ service: 'db', snapshot: { schedule: 'hourly' } })).toThrow(/snapshot.schedule "hourly"/);
    expect(() => normalizeServicePolicy({ service: 'db', retention: { schedule: 'cron(0 4 * * * *)', daily: 7 } })).toThrow(/retention.schedule/);
    expect(() => normalizeServicePolicy({ service: 'db', drill: { timezone: 'Paris' } })).toThrow(/drill.timezone "Paris" is not an IANA time zone/);
  });
});

const t = (iso: string) => Date.parse(iso);
const iso = (ms: number[]) => ms.map((m) => new Date(m).toISOString());
/** Friday 2026-11-27 09:00 UTC. */
const FRIDAY = t('2026-11-27T09:00:00Z');

function next(expression: string, count = 3, { tz = 'UTC', after = FRIDAY } = {}) {
  return iso(nextFireTimes(parseScheduleExpression(expression, tz), after, after, count));
}

describe('evaluating AWS cron expressions (EventBridge Scheduler dialect)', () => {
  it('GIVEN the examples of the AWS documentation WHEN evaluated THEN they fire when AWS says', () => {
    expect(next('cron(0 10 * * ? *)')).toEqual(['2026-11-27T10:00:00.000Z', '2026-11-28T10:00:00.000Z', '2026-11-29T10:00:00.000Z']);
    expect(next('cron(15 12 * * ? *)', 1)).toEqual(['2026-11-27T12:15:00.000Z']);
    // Monday to Friday, with names.
    expect(next('cron(0 18 ? * MON-FRI *)')).toEqual(['2026-11-27T18:00:00.000Z', '2026-11-30T18:00:00.000Z', '2026-12-01T18:00:00.000Z']);
    // A numeric start with a step: every 15 minutes from :00.
    expect(next('cron(0/15 * * * ? *)')).toEqual(['2026-11-27T09:15:00.000Z', '2026-11-27T09:30:00.000Z', '2026-11-27T09:45:00.000Z']);
    expect(next('cron(5/20 9 * * ? *)')).toEqual(['2026-11-27T09:05:00.000Z', '2026-11-27T09:25:00.000Z', '2026-11-27T09:45:00.000Z']);
    expect(next('cron(0 8 1 * ? *)', 2)).toEqual(['2026-12-01T08:00:00.000Z', '2027-01-01T08:00:00.000Z']);
  });

  it('GIVEN AWS day-of-week numbers THEN 1 is Sunday and 2#1 is the first Monday', () => {
    expect(next('cron(0 3 ? * 1 *)', 2)).toEqual(['2026-11-29T03:00:00.000Z', '2026-12-06T03:00:00.000Z']);
    expect(next('cron(0 9 ? * 2#1 *)', 2)).toEqual(['2026-12-07T09:00:00.000Z', '2027-01-04T09:00:00.000Z']);
    expect(next('cron(0 0 ? * 6L *)', 2)).toEqual(['2026-12-25T00:00:00.000Z', '2027-01-29T00:00:00.000Z']);
  });

  it('GIVEN L and W in day-of-month and a year THEN last days, nearest weekdays and only that year', () => {
    expect(next('cron(0 0 L * ? *)', 2)).toEqual(['2026-11-30T00:00:00.000Z', '2026-12-31T00:00:00.000Z']);
    // 2027-01-03 is a Sunday: the nearest weekday is Monday the 4th.
    expect(next('cron(0 0 3W * ? *)', 2)).toEqual(['2026-12-03T00:00:00.000Z', '2027-01-04T00:00:00.000Z']);
    expect(next('cron(0 3 1 1 ? 2028)', 2)).toEqual(['2028-01-01T03:00:00.000Z']);
  });

  it('GIVEN a time zone THEN the wall clock of that zone counts, across DST', () => {
    // 03:00 in Berlin is 02:00 UTC in winter and 01:00 UTC in summer.
    expect(next('cron(0 3 * * ? *)', 1, { tz: 'Europe/Berlin' })).toEqual(['2026-11-28T02:00:00.000Z']);
    expect(next('cron(0 3 * * ? *)', 1, { tz: 'Europe/Berlin', after: t('2027-06-01T00:00:00Z') })).toEqual(['2027-06-01T01:00:00.000Z']);
  });

  it('GIVEN a wall-clock time skipped in spring THEN that day is skipped; GIVEN one repeated in autumn THEN it fires once', () => {
    // Europe/Berlin: 2027-03-28 02:00 → 03:00; 2027-10-31 03:00 → 02:00.
    expect(next('cron(30 2 * * ? *)', 2, { tz: 'Europe/Berlin', after: t('2027-03-27T02:00:00Z') })).toEqual([
      '2027-03-29T00:30:00.000Z',
      '2027-03-30T00:30:00.000Z',
    ]);
    expect(next('cron(30 2 * * ? *)', 2, { tz: 'Europe/Berlin', after: t('2027-10-30T12:00:00Z') })).toEqual([
      '2027-10-31T00:30:00.000Z',
      '2027-11-01T01:30:00.000Z',
    ]);
  });

  it('GIVEN malformed expressions THEN a UsageError says what is wrong', () => {
    // The same checks as policies get (assertScheduleExpression), plus at(...).
    expect(() => parseScheduleExpression('cron(0 3 * * *)')).toThrow(/cron needs 6 fields/);
    expect(() => parseScheduleExpression('cron(0 3 * * MON *)')).toThrow(/exactly one of day-of-month and day-of-week/);
    expect(() => parseScheduleExpression('cron(0 25 * * ? *)')).toThrow(UsageError);
    expect(() => parseScheduleExpression('every 5 minutes')).toThrow(/neither rate/);
    expect(() => parseScheduleExpression('rate(0 minutes)')).toThrow(/at least 1/);
    expect(() => parseScheduleExpression('rate(5 weeks)')).toThrow(/is not "<value> <unit>"/);
    expect(() => parseScheduleExpression('rate(5 minutes)', 'Mars/Olympus')).toThrow(/IANA time zone/);
    expect(() => parseScheduleExpression('at(tomorrow)')).toThrow(/at\(yyyy-mm-ddThh:mm:ss\)/);
  });
});

describe('evaluating rate and at expressions', () => {
  it('GIVEN rate(15 minutes) started at S THEN it fires at S + 15 min, S + 30 min, … and days are 24 h', () => {
    const s = parseScheduleExpression('rate(15 minutes)');
    expect(iso([nextFireTime(s, FRIDAY, FRIDAY)!, nextFireTime(s, FRIDAY + 20 * 60_000, FRIDAY)!])).toEqual([
      '2026-11-27T09:15:00.000Z',
      '2026-11-27T09:30:00.000Z',
    ]);
    const day = parseScheduleExpression('rate(1 day)', 'Europe/Berlin');
    // Across the spring DST change a day is still 24 hours of elapsed time.
    const start = t('2027-03-27T12:00:00Z');
    expect(iso([nextFireTime(day, start, start)!])).toEqual(['2027-03-28T12:00:00.000Z']);
    expect(parseScheduleExpression('rate(1 minute)')).toMatchObject({ periodMs: 60_000 });
  });

  it('GIVEN at(...) in a zone THEN it fires once, at that wall-clock time', () => {
    const at = parseScheduleExpression('at(2026-11-27T15:30:00)', 'America/New_York');
    expect(nextFireTime(at, FRIDAY, FRIDAY)).toBe(t('2026-11-27T20:30:00Z'));
    expect(nextFireTime(at, t('2026-11-27T20:30:00Z'), FRIDAY)).toBeUndefined();
  });
});
