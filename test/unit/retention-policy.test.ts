/**
 * Retention policy text form, validation, and the refusals: an empty policy and one that
 * keeps nothing are errors that name the policy and say how to fix it.
 */
import { describe, expect, it } from 'vitest';
import { RetentionPolicyError } from '../../lambdas/domain/errors.js';
import { formatRetentionSpec, parseKeepWithin, parseRetentionSpec, retentionRules, validateRetentionPolicy } from '../../lambdas/domain/retention-policy.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';

describe('parseRetentionSpec', () => {
  it('reads the documented form', () => {
    expect(parseRetentionSpec('last=3,daily=7,weekly=4,monthly=12,yearly=2,within=2d')).toEqual({
      last: 3,
      daily: 7,
      weekly: 4,
      monthly: 12,
      yearly: 2,
      within: '2d',
    });
  });

  it("accepts restic's keep- prefix, spaces and hourly", () => {
    expect(parseRetentionSpec(' keep-hourly = 24 , keep-within=1y6m ')).toEqual({ hourly: 24, within: '1y6m' });
  });

  it('round-trips through the canonical form', () => {
    const text = 'last=3,hourly=1,daily=7,weekly=4,monthly=12,yearly=2,within=1y2m3d4h';
    expect(formatRetentionSpec(parseRetentionSpec(text))).toBe(text);
  });

  it('reads quarterly (and keep-quarterly), written between monthly and yearly', () => {
    expect(parseRetentionSpec('yearly=2,keep-quarterly=4')).toEqual({ yearly: 2, quarterly: 4 });
    expect(formatRetentionSpec(parseRetentionSpec('yearly=2,quarterly=4,monthly=6'))).toBe('monthly=6,quarterly=4,yearly=2');
    expect(retentionRules(parseRetentionSpec('quarterly=4'), 'x').counts.quarterly).toBe(4);
  });

  it('names every rule and what it keeps when one is unknown', () => {
    try {
      parseRetentionSpec('fortnightly=2');
      expect.unreachable();
    } catch (err) {
      expect((err as RetentionPolicyError).message).toBe(
        'unknown retention rule "fortnightly"; rules are last, hourly, daily, weekly, monthly, quarterly, yearly, within',
      );
      expect((err as RetentionPolicyError).hint).toMatch(/quarterly=n keeps the newest snapshot of each of the last n calendar quarters/);
      expect((err as RetentionPolicyError).hint).toMatch(/within=d keeps every snapshot newer than the newest one minus a duration/);
    }
  });

  it.each([
    ['daily', /has no "="/],
    ['dayly=7', /unknown retention rule "dayly".*rules are last, hourly, daily/s],
    ['daily=7,daily=8', /"daily" is given twice/],
    ['daily=-1', /daily="-1" must be a whole number/],
    ['daily=1.5', /whole number/],
    ['within=2w', /unknown unit "w"/],
    ['within=2', /no unit after 2/],
    ['within=1d1d', /unit "d" given twice/],
    ['within=', /it is empty/],
  ])('rejects %j with a message naming the mistake', (text, message) => {
    expect(() => parseRetentionSpec(text)).toThrow(RetentionPolicyError);
    expect(() => parseRetentionSpec(text)).toThrow(message);
  });
});

describe('parseKeepWithin', () => {
  it("reads restic's units: y, m (months), d, h", () => {
    expect(parseKeepWithin('1y2m3d4h')).toEqual({ years: 1, months: 2, days: 3, hours: 4 });
    expect(parseKeepWithin('36h')).toEqual({ years: 0, months: 0, days: 0, hours: 36 });
    expect(parseKeepWithin('1m14d')).toEqual({ years: 0, months: 1, days: 14, hours: 0 });
  });
});

describe('retentionRules (refusals)', () => {
  it('refuses an empty policy, naming whose it is and how to fix it', () => {
    const attempt = () => retentionRules({}, 'service wiki');
    expect(attempt).toThrow(RetentionPolicyError);
    expect(attempt).toThrow('the retention policy of service wiki is empty: it has no keep rule, so it would delete every snapshot; refusing');
    try {
      attempt();
    } catch (err) {
      expect((err as RetentionPolicyError).exitCode).toBe(2);
      expect((err as RetentionPolicyError).hint).toMatch(/last=7,daily=14/);
    }
  });

  it('refuses a policy whose rules keep nothing (it would delete every snapshot)', () => {
    expect(() => retentionRules({ last: 0, daily: 0 }, 'service wiki')).toThrow(
      'the retention policy "last=0,daily=0" of service wiki keeps nothing: it would delete every snapshot; refusing',
    );
    expect(() => retentionRules({ within: '0d' }, '--policy')).toThrow(/"within=0d" of --policy keeps nothing/);
  });

  it('a schedule or time zone alone is still an empty policy', () => {
    expect(() => retentionRules({ schedule: 'rate(1 day)', timezone: 'Europe/Berlin' }, 'service x')).toThrow(/is empty/);
  });

  it('fills zeros and the time zone (UTC by default, the override first)', () => {
    expect(retentionRules({ daily: 7, within: '2d' }, 'x')).toEqual({
      counts: { last: 0, hourly: 0, daily: 7, weekly: 0, monthly: 0, quarterly: 0, yearly: 0 },
      within: { text: '2d', duration: { years: 0, months: 0, days: 2, hours: 0 } },
      timezone: 'UTC',
    });
    expect(retentionRules({ last: 1, timezone: 'Europe/Berlin' }, 'x').timezone).toBe('Europe/Berlin');
    expect(retentionRules({ last: 1, timezone: 'Europe/Berlin' }, 'x', 'America/New_York').timezone).toBe('America/New_York');
  });

  it('rejects an unknown time zone', () => {
    expect(() => retentionRules({ last: 1 }, 'x', 'Mars/Olympus')).toThrow(/"Mars\/Olympus" is not an IANA time zone/);
  });
});

describe('validateRetentionPolicy (stored service policies)', () => {
  it.each([
    [{ daily: -1 }, /retention.daily is -1/],
    [{ daily: 2.5 }, /retention.daily is 2.5/],
    [{ quarterly: -1 }, /retention.quarterly is -1; it must be a whole number/],
    [{ within: 'soon' }, /retention.within "soon" is not a valid duration/],
    [{ timezone: 'Berlin' }, /retention.timezone "Berlin" is not an IANA time zone/],
    [{ reapAfterSeconds: 60 }, /reapAfterSeconds is 60; .* at least 3600/],
  ])('rejects %j', (retention, message) => {
    expect(() => validateRetentionPolicy(retention as never)).toThrow(message);
    expect(() => normalizeServicePolicy({ service: 'db', retention: retention as never })).toThrow(message);
  });

  it('wants the reap threshold longer than the snapshot deadline', () => {
    expect(() => normalizeServicePolicy({ service: 'db', snapshot: { deadlineSeconds: 7200 }, retention: { reapAfterSeconds: 3600 } })).toThrow(
      'retention.reapAfterSeconds (3600) must be longer than snapshot.deadlineSeconds (7200)',
    );
    expect(() => normalizeServicePolicy({ service: 'db', snapshot: { deadlineSeconds: 90_000 } })).toThrow(/reapAfterSeconds \(86400\)/);
    expect(() => normalizeServicePolicy({ service: 'db', snapshot: { deadlineSeconds: 3600 }, retention: { reapAfterSeconds: 7200 } })).not.toThrow();
  });

  it('allows an empty section (the service is then never swept)', () => {
    expect(() => validateRetentionPolicy({})).not.toThrow();
  });
});
