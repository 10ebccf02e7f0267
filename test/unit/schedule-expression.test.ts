import { describe, expect, it } from 'vitest';
import { nextFireTime, nextFireTimes, parseScheduleExpression } from '../../lambdas/domain/schedule-expression.js';
import { UsageError } from '../../lambdas/domain/errors.js';

const t = (iso: string) => Date.parse(iso);
const iso = (ms: number[]) => ms.map((m) => new Date(m).toISOString());
/** Friday 2026-11-27 09:00 UTC. */
const FRIDAY = t('2026-11-27T09:00:00Z');

function next(expression: string, count = 3, { tz = 'UTC', after = FRIDAY } = {}) {
  return iso(nextFireTimes(parseScheduleExpression(expression, tz), after, after, count));
}

describe('AWS cron expressions (EventBridge Scheduler dialect)', () => {
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
    expect(next('cron(30 2 * * ? *)', 2, { tz: 'Europe/Berlin', after: t('2027-03-27T02:00:00Z') })).toEqual(['2027-03-29T00:30:00.000Z', '2027-03-30T00:30:00.000Z']);
    expect(next('cron(30 2 * * ? *)', 2, { tz: 'Europe/Berlin', after: t('2027-10-30T12:00:00Z') })).toEqual(['2027-10-31T00:30:00.000Z', '2027-11-01T01:30:00.000Z']);
  });

  it('GIVEN malformed expressions THEN a UsageError says what is wrong', () => {
    expect(() => parseScheduleExpression('cron(0 3 * * *)')).toThrow(/has 5 fields/);
    expect(() => parseScheduleExpression('cron(0 3 * * MON *)')).toThrow(/`\?` in exactly one/);
    expect(() => parseScheduleExpression('cron(0 3 ? * ? *)')).toThrow(/`\?` in exactly one/);
    expect(() => parseScheduleExpression('cron(0 25 * * ? *)')).toThrow(UsageError);
    expect(() => parseScheduleExpression('every 5 minutes')).toThrow(/is not rate/);
    expect(() => parseScheduleExpression('rate(0 minutes)')).toThrow(/positive whole number/);
    expect(() => parseScheduleExpression('rate(5 weeks)')).toThrow(/minutes, hours or days/);
    expect(() => parseScheduleExpression('rate(5 minutes)', 'Mars/Olympus')).toThrow(/IANA time zone/);
  });
});

describe('rate and at expressions', () => {
  it('GIVEN rate(15 minutes) started at S THEN it fires at S + 15 min, S + 30 min, … and days are 24 h', () => {
    const s = parseScheduleExpression('rate(15 minutes)');
    expect(iso([nextFireTime(s, FRIDAY, FRIDAY)!, nextFireTime(s, FRIDAY + 20 * 60_000, FRIDAY)!])).toEqual(['2026-11-27T09:15:00.000Z', '2026-11-27T09:30:00.000Z']);
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
