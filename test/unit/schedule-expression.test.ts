import { describe, expect, it } from 'vitest';
import { assertScheduleExpression, assertTimeZone } from '../../lambdas/domain/schedule-expression.js';
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
    expect(() => normalizeServicePolicy({ service: 'db', snapshot: { schedule: 'rate(1 hour)' }, retention: { schedule: 'cron(0 4 * * ? *)', daily: 7 }, drill: { schedule: 'cron(0 3 * * ? *)', timezone: 'Europe/Paris' } })).not.toThrow();
    expect(() => normalizeServicePolicy({ service: 'db', snapshot: { schedule: 'hourly' } })).toThrow(/snapshot.schedule "hourly"/);
    expect(() => normalizeServicePolicy({ service: 'db', retention: { schedule: 'cron(0 4 * * * *)', daily: 7 } })).toThrow(/retention.schedule/);
    expect(() => normalizeServicePolicy({ service: 'db', drill: { timezone: 'Paris' } })).toThrow(/drill.timezone "Paris" is not an IANA time zone/);
  });
});
