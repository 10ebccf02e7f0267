/**
 * The planner against hand-worked examples of restic's `forget` semantics, in UTC and in
 * time zones with DST changes (Europe/Berlin, America/New_York).
 *
 * Each example says why the answer is what it is; where the example is restic's own
 * (the snapshot times of restic's internal/data/snapshot_policy_test.go), the expected
 * keep lists are the ones restic ≥ 0.17 produces for the same policy.
 */
import { describe, expect, it } from 'vitest';
import { RetentionPolicyError } from '../../lambdas/domain/errors.js';
import { describeReason, plannedDeletions, planRetention, type RetentionCandidate, withinCutoff } from '../../lambdas/domain/retention.js';
import { parseRetentionSpec, retentionRules } from '../../lambdas/domain/retention-policy.js';

const ms = (iso: string) => {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new Error(`bad time ${iso}`);
  return t;
};

interface Outcome {
  keep: Record<string, string[]>;
  delete: string[];
}

/** Plans `snaps` (id → ISO time, or full candidates) and returns kept ids with reasons, and deleted ids. */
function plan(snaps: Record<string, string> | RetentionCandidate[], spec: string, options: { tz?: string; now?: string } = {}): Outcome {
  const candidates = Array.isArray(snaps) ? snaps : Object.entries(snaps).map(([id, time]) => ({ id, time: ms(time) }));
  const rules = retentionRules(parseRetentionSpec(spec), 'test', options.tz);
  const p = planRetention(candidates, rules, { now: ms(options.now ?? '2100-01-01T00:00:00Z') });
  const out: Outcome = { keep: {}, delete: [] };
  for (const i of p.order) {
    const c = candidates[i]!;
    const why = p.reasons[i];
    if (why) out.keep[c.id] = why.map((r) => describeReason(r, c.time, rules.timezone));
    else out.delete.push(c.id);
  }
  return out;
}

const keptIds = (o: Outcome) => Object.keys(o.keep);

describe('keep-last', () => {
  it('keeps the n newest, whatever their times', () => {
    const o = plan(
      { a: '2026-03-01T10:00:00Z', b: '2026-03-01T10:00:01Z', c: '2026-03-05T00:00:00Z', d: '2026-02-01T00:00:00Z', e: '2026-03-01T09:00:00Z' },
      'last=3',
    );
    expect(o.keep).toEqual({ c: ['last snapshot'], b: ['last snapshot'], a: ['last snapshot'] });
    expect(o.delete).toEqual(['e', 'd']);
  });

  it('keeps everything, without an "oldest" reason, when n exceeds the count', () => {
    const o = plan({ a: '2026-03-01T10:00:00Z', b: '2026-03-02T10:00:00Z' }, 'last=5');
    expect(o.keep).toEqual({ b: ['last snapshot'], a: ['last snapshot'] });
  });

  it('breaks ties in time by id, larger id first (catalog order)', () => {
    const o = plan({ x1: '2026-03-01T10:00:00Z', x3: '2026-03-01T10:00:00Z', x2: '2026-03-01T10:00:00Z' }, 'last=1');
    expect(keptIds(o)).toEqual(['x3']);
  });
});

describe('keep-daily / -hourly / -weekly / -monthly / -quarterly / -yearly', () => {
  // Newest first: 03-04 11:00, 03-04 10:00, 03-02 09:00, 03-01 20:00, 03-01 08:00 (UTC).
  const days = { a: '2026-03-01T08:00:00Z', b: '2026-03-01T20:00:00Z', c: '2026-03-02T09:00:00Z', d: '2026-03-04T10:00:00Z', e: '2026-03-04T11:00:00Z' };

  it('keeps the newest snapshot of each of the last n days that have one', () => {
    // Days with a snapshot: 03-04 (newest e), 03-02 (c), 03-01 (b). 03-03 has none and does not count.
    const o = plan(days, 'daily=3');
    expect(o.keep).toEqual({
      e: ['daily snapshot (2026-03-04)'],
      c: ['daily snapshot (2026-03-02)'],
      b: ['daily snapshot (2026-03-01)'],
    });
    expect(o.delete).toEqual(['d', 'a']);
  });

  it('keeps the oldest snapshot too when the rule still has count left (restic ≥ 0.17)', () => {
    // Only 3 days exist for daily=5: after b the rule has 2 left, so the oldest (a) is kept as well.
    const o = plan(days, 'daily=5');
    expect(o.keep.a).toEqual(['oldest daily snapshot (2026-03-01)']);
    expect(o.delete).toEqual(['d']);
  });

  it('does not keep the oldest when the rule is used up', () => {
    // Two days used up by e and c; the oldest (a) is not kept, whatever its day.
    expect(plan(days, 'daily=2').delete).toEqual(['d', 'b', 'a']);
  });

  it('counts hours as wall-clock hours', () => {
    const o = plan({ a: '2026-03-01T10:05:00Z', b: '2026-03-01T10:55:00Z', c: '2026-03-01T11:00:00Z', d: '2026-03-01T08:59:59Z' }, 'hourly=2');
    expect(o.keep).toEqual({ c: ['hourly snapshot (2026-03-01 11:00)'], b: ['hourly snapshot (2026-03-01 10:00)'] });
  });

  it('starts weeks on Monday (ISO weeks)', () => {
    // 2026-03-01 is a Sunday, 2026-03-02 a Monday; Saturday 02-28 shares Sunday's week (2026-W09).
    const o = plan({ sat: '2026-02-28T12:00:00Z', sun: '2026-03-01T23:00:00Z', mon: '2026-03-02T01:00:00Z', old: '2026-02-20T12:00:00Z' }, 'weekly=2');
    expect(o.keep).toEqual({ mon: ['weekly snapshot (2026-W10)'], sun: ['weekly snapshot (2026-W09)'] });
    expect(o.delete).toEqual(['sat', 'old']);
  });

  it('uses the ISO week-year across New Year', () => {
    // Mon 2026-12-28 … Sun 2027-01-03 are all ISO week 2026-W53.
    const o = plan(
      { mon: '2026-12-28T09:00:00Z', thu: '2026-12-31T09:00:00Z', fri: '2027-01-01T09:00:00Z', sun: '2027-01-03T09:00:00Z', next: '2027-01-04T09:00:00Z' },
      'weekly=2',
    );
    expect(o.keep).toEqual({ next: ['weekly snapshot (2027-W01)'], sun: ['weekly snapshot (2026-W53)'] });
  });

  it('keeps calendar months and years', () => {
    const snaps = { a: '2024-12-31T23:00:00Z', b: '2025-01-01T00:00:00Z', c: '2025-01-31T23:59:59Z', d: '2025-02-01T00:00:00Z', e: '2025-02-28T12:00:00Z' };
    expect(plan(snaps, 'monthly=2').keep).toEqual({ e: ['monthly snapshot (2025-02)'], c: ['monthly snapshot (2025-01)'] });
    expect(plan(snaps, 'yearly=2').keep).toEqual({ e: ['yearly snapshot (2025)'], a: ['yearly snapshot (2024)'] });
  });

  it('keeps calendar quarters: Jan-Mar, Apr-Jun, Jul-Sep, Oct-Dec', () => {
    // Newest first: Q3 2025 (aug, jul), Q2 (jun, apr), Q1 (mar), Q4 2024 (dec). Q3 starts Jul 1 00:00, not Jun 30.
    const snaps = {
      dec: '2024-12-31T23:59:59Z',
      mar: '2025-03-31T23:59:59Z',
      apr: '2025-04-01T00:00:00Z',
      jun: '2025-06-30T23:59:59Z',
      jul: '2025-07-01T00:00:00Z',
      aug: '2025-08-15T12:00:00Z',
    };
    const o = plan(snaps, 'quarterly=3');
    expect(o.keep).toEqual({ aug: ['quarterly snapshot (2025-Q3)'], jun: ['quarterly snapshot (2025-Q2)'], mar: ['quarterly snapshot (2025-Q1)'] });
    expect(o.delete).toEqual(['jul', 'apr', 'dec']);
    // With count left at the oldest snapshot, it is kept too (as for every counted rule).
    expect(plan(snaps, 'quarterly=9').keep.dec).toEqual(['quarterly snapshot (2024-Q4)']);
  });

  it("puts quarters in the policy's time zone", () => {
    // 2025-03-31T23:30Z is already April 1 (Q2) in Berlin (UTC+2 in summer time), but still Q1 in UTC and New York.
    const snaps = { edge: '2025-03-31T23:30:00Z', feb: '2025-02-10T12:00:00Z' };
    expect(plan(snaps, 'quarterly=1', { tz: 'UTC' }).keep).toEqual({ edge: ['quarterly snapshot (2025-Q1)'] });
    expect(plan(snaps, 'quarterly=2', { tz: 'Europe/Berlin' }).keep).toEqual({ edge: ['quarterly snapshot (2025-Q2)'], feb: ['quarterly snapshot (2025-Q1)'] });
    expect(plan(snaps, 'quarterly=2', { tz: 'America/New_York' }).keep).toEqual({
      edge: ['quarterly snapshot (2025-Q1)'],
      feb: ['oldest quarterly snapshot (2025-Q1)'],
    });
  });

  it("ORs the rules, listing every reason (restic's order: last, hourly, daily, weekly, monthly, yearly, then within first)", () => {
    const o = plan(days, 'last=1,daily=2,monthly=1,within=1h');
    expect(o.keep).toEqual({
      e: ['within 1h of the newest', 'last snapshot', 'daily snapshot (2026-03-04)', 'monthly snapshot (2026-03)'],
      c: ['daily snapshot (2026-03-02)'],
    });
    // quarterly sits between monthly and yearly.
    expect(plan(days, 'yearly=1,quarterly=1,monthly=1').keep).toEqual({
      e: ['monthly snapshot (2026-03)', 'quarterly snapshot (2026-Q1)', 'yearly snapshot (2026)'],
    });
  });
});

describe('keep-within', () => {
  it('counts back from the newest snapshot, not from now, and is strict', () => {
    // Newest 03-10 12:00; 2d back is 03-08 12:00. Exactly the cutoff is not "within".
    const o = plan({ n: '2026-03-10T12:00:00Z', edge: '2026-03-08T12:00:00Z', in: '2026-03-08T12:00:00.001Z', out: '2026-03-07T00:00:00Z' }, 'within=2d', {
      now: '2030-01-01T00:00:00Z',
    });
    expect(keptIds(o)).toEqual(['n', 'in']);
    expect(o.delete).toEqual(['edge', 'out']);
  });

  it('ignores snapshots in the future of now when finding the newest (and keeps them)', () => {
    const o = plan({ future: '2026-03-20T00:00:00Z', n: '2026-03-10T12:00:00Z', in: '2026-03-09T13:00:00Z', out: '2026-03-09T11:00:00Z' }, 'within=1d', {
      now: '2026-03-11T00:00:00Z',
    });
    expect(keptIds(o)).toEqual(['future', 'n', 'in']);
  });

  it('keeps everything when every snapshot is in the future (restic)', () => {
    const o = plan({ a: '2026-03-20T00:00:00Z', b: '2026-01-01T00:00:00Z' }, 'within=1h', { now: '2025-01-01T00:00:00Z' });
    expect(o.delete).toEqual([]);
  });

  it("subtracts months like Go's AddDate: March 31 minus one month is March 3", () => {
    // Feb 31 does not exist and normalises to Mar 3 (2026 is not a leap year), as in restic.
    const cutoff = withinCutoff(ms('2026-03-31T10:00:00Z'), { years: 0, months: 1, days: 0, hours: 0 }, 'UTC');
    expect(new Date(cutoff).toISOString()).toBe('2026-03-03T10:00:00.000Z');
    const o = plan({ n: '2026-03-31T10:00:00Z', a: '2026-03-03T10:00:01Z', b: '2026-03-02T10:00:00Z' }, 'within=1m');
    expect(keptIds(o)).toEqual(['n', 'a']);
  });

  it('applies years, months and days on the calendar, then hours as elapsed time', () => {
    const cutoff = withinCutoff(ms('2016-01-18T12:02:03Z'), { years: 0, months: 0, days: 13, hours: 23 }, 'UTC');
    expect(new Date(cutoff).toISOString()).toBe('2016-01-04T13:02:03.000Z');
    const leap = withinCutoff(ms('2024-02-29T00:00:00Z'), { years: 1, months: 0, days: 0, hours: 0 }, 'UTC');
    expect(new Date(leap).toISOString()).toBe('2023-03-01T00:00:00.000Z');
  });
});

describe("restic's own examples (snapshot_policy_test.go times, restic ≥ 0.17 results)", () => {
  // The times of restic's TestApplyPolicy, in UTC, in restic's input order.
  const times = [
    '2014-09-01 10:20:30',
    '2014-09-02 10:20:30',
    '2014-09-05 10:20:30',
    '2014-09-06 10:20:30',
    '2014-09-08 10:20:30',
    '2014-09-09 10:20:30',
    '2014-09-10 10:20:30',
    '2014-09-11 10:20:30',
    '2014-09-20 10:20:30',
    '2014-09-22 10:20:30',
    '2014-08-08 10:20:30',
    '2014-08-10 10:20:30',
    '2014-08-12 10:20:30',
    '2014-08-13 10:20:30',
    '2014-08-13 10:20:30.1',
    '2014-08-15 10:20:30',
    '2014-08-18 10:20:30',
    '2014-08-20 10:20:30',
    '2014-08-21 10:20:30',
    '2014-08-22 10:20:30',
    '2014-10-01 10:20:30',
    '2014-10-02 10:20:30',
    '2014-10-05 10:20:30',
    '2014-10-06 10:20:30',
    '2014-10-08 10:20:30',
    '2014-10-09 10:20:30',
    '2014-10-10 10:20:30',
    '2014-10-11 10:20:30',
    '2014-10-20 10:20:30',
    '2014-10-22 10:20:30',
    '2014-11-08 10:20:30',
    '2014-11-10 10:20:30',
    '2014-11-12 10:20:30',
    '2014-11-13 10:20:30',
    '2014-11-13 10:20:30.1',
    '2014-11-15 10:20:30',
    '2014-11-18 10:20:30',
    '2014-11-20 10:20:30',
    '2014-11-21 10:20:30',
    '2014-11-22 10:20:30',
    '2015-09-01 10:20:30',
    '2015-09-02 10:20:30',
    '2015-09-05 10:20:30',
    '2015-09-06 10:20:30',
    '2015-09-08 10:20:30',
    '2015-09-09 10:20:30',
    '2015-09-10 10:20:30',
    '2015-09-11 10:20:30',
    '2015-09-20 10:20:30',
    '2015-09-22 10:20:30',
    '2015-08-08 10:20:30',
    '2015-08-10 10:20:30',
    '2015-08-12 10:20:30',
    '2015-08-13 10:20:30',
    '2015-08-13 10:20:30.1',
    '2015-08-15 10:20:30',
    '2015-08-18 10:20:30',
    '2015-08-20 10:20:30',
    '2015-08-21 10:20:30',
    '2015-08-22 10:20:30',
    '2015-10-01 10:20:30',
    '2015-10-02 10:20:30',
    '2015-10-05 10:20:30',
    '2015-10-06 10:20:30',
    '2015-10-08 10:20:30',
    '2015-10-09 10:20:30',
    '2015-10-10 10:20:30',
    '2015-10-11 10:20:30',
    '2015-10-20 10:20:30',
    '2015-10-22 10:20:30',
    '2015-10-22 10:20:30',
    '2015-10-22 10:20:30',
    '2015-10-22 10:20:30',
    '2015-10-22 10:20:30',
    '2015-11-08 10:20:30',
    '2015-11-10 10:20:30',
    '2015-11-12 10:20:30',
    '2015-11-13 10:20:30',
    '2015-11-13 10:20:30.1',
    '2015-11-15 10:20:30',
    '2015-11-18 10:20:30',
    '2015-11-20 10:20:30',
    '2015-11-21 10:20:30',
    '2015-11-22 10:20:30',
    '2016-01-01 01:02:03',
    '2016-01-01 01:03:03',
    '2016-01-01 07:08:03',
    '2016-01-03 07:02:03',
    '2016-01-04 10:23:03',
    '2016-01-04 11:23:03',
    '2016-01-04 12:23:03',
    '2016-01-04 12:24:03',
    '2016-01-04 12:28:03',
    '2016-01-04 12:30:03',
    '2016-01-04 16:23:03',
    '2016-01-05 09:02:03',
    '2016-01-06 08:02:03',
    '2016-01-07 10:02:03',
    '2016-01-08 20:02:03',
    '2016-01-09 21:02:03',
    '2016-01-12 21:02:03',
    '2016-01-12 21:08:03',
    '2016-01-18 12:02:03',
  ];
  const snaps: RetentionCandidate[] = times.map((t, i) => ({ id: `s${String(i).padStart(3, '0')}`, time: ms(`${t.replace(' ', 'T')}Z`) }));
  const keptTimes = (spec: string) => {
    const o = plan(snaps, spec);
    return Object.entries(o.keep).map(([id, why]) => [new Date(snaps.find((s) => s.id === id)!.time).toISOString().replace('.000', ''), why.join('; ')]);
  };

  it('yearly=10: three years, then the oldest snapshot because 7 are left', () => {
    expect(keptTimes('yearly=10')).toEqual([
      ['2016-01-18T12:02:03Z', 'yearly snapshot (2016)'],
      ['2015-11-22T10:20:30Z', 'yearly snapshot (2015)'],
      ['2014-11-22T10:20:30Z', 'yearly snapshot (2014)'],
      ['2014-08-08T10:20:30Z', 'oldest yearly snapshot (2014)'],
    ]);
  });

  it('daily=2,weekly=2,monthly=6', () => {
    expect(keptTimes('daily=2,weekly=2,monthly=6').map(([t]) => t)).toEqual([
      '2016-01-18T12:02:03Z',
      '2016-01-12T21:08:03Z',
      '2015-11-22T10:20:30Z',
      '2015-10-22T10:20:30Z',
      '2015-09-22T10:20:30Z',
      '2015-08-22T10:20:30Z',
      '2014-11-22T10:20:30Z',
    ]);
  });

  it('within=13d23h', () => {
    expect(keptTimes('within=13d23h').map(([t]) => t)).toEqual([
      '2016-01-18T12:02:03Z',
      '2016-01-12T21:08:03Z',
      '2016-01-12T21:02:03Z',
      '2016-01-09T21:02:03Z',
      '2016-01-08T20:02:03Z',
      '2016-01-07T10:02:03Z',
      '2016-01-06T08:02:03Z',
      '2016-01-05T09:02:03Z',
      '2016-01-04T16:23:03Z',
    ]);
  });

  it('keeps the newest of five identical times once (ties do not make five periods)', () => {
    const o = plan(
      snaps.filter((s) => s.time === ms('2015-10-22T10:20:30Z')),
      'daily=1',
    );
    expect(keptIds(o)).toHaveLength(1);
  });
});

describe('time zones and DST', () => {
  it('puts days in the policy time zone, not UTC', () => {
    // 22:30Z and 23:30Z on 03-28 are one UTC day, but 23:30 and 00:30 (next day) in Berlin (UTC+1).
    const snaps = { late: '2026-03-28T23:30:00Z', evening: '2026-03-28T22:30:00Z', before: '2026-03-27T12:00:00Z' };
    expect(plan(snaps, 'daily=2').keep).toEqual({ late: ['daily snapshot (2026-03-28)'], before: ['daily snapshot (2026-03-27)'] });
    expect(plan(snaps, 'daily=2', { tz: 'Europe/Berlin' }).keep).toEqual({
      late: ['daily snapshot (2026-03-29)'],
      evening: ['daily snapshot (2026-03-28)'],
    });
  });

  it('Europe/Berlin spring forward: the 23-hour day and the skipped hour', () => {
    // 2026-03-29 01:00Z: 02:00 CET becomes 03:00 CEST. Local 03-29 runs 03-28T23:00Z .. 03-29T22:00Z (23 hours).
    const snaps = {
      firstOfDay: '2026-03-28T23:00:00Z', // 00:00 CET on the 29th
      beforeJump: '2026-03-29T00:59:59Z', // 01:59:59 CET
      afterJump: '2026-03-29T01:00:00Z', // 03:00:00 CEST
      lastOfDay: '2026-03-29T21:59:59Z', // 23:59:59 CEST on the 29th
      nextDay: '2026-03-29T22:00:00Z', // 00:00 CEST on the 30th
    };
    const daily = plan(snaps, 'daily=2', { tz: 'Europe/Berlin' });
    expect(daily.keep).toEqual({ nextDay: ['daily snapshot (2026-03-30)'], lastOfDay: ['daily snapshot (2026-03-29)'] });
    // Hours: 01:00 and 03:00 local are different hours (02:00 never happened).
    const hourly = plan({ beforeJump: snaps.beforeJump, afterJump: snaps.afterJump, earlier: '2026-03-29T00:30:00Z' }, 'hourly=2', { tz: 'Europe/Berlin' });
    expect(hourly.keep).toEqual({ afterJump: ['hourly snapshot (2026-03-29 03:00)'], beforeJump: ['hourly snapshot (2026-03-29 01:00)'] });
    expect(hourly.delete).toEqual(['earlier']);
  });

  it('Europe/Berlin fall back: the repeated hour is one wall-clock hour, the day has 25 hours', () => {
    // 2026-10-25 01:00Z: 03:00 CEST becomes 02:00 CET, so 02:00–03:00 local happens twice.
    const snaps = {
      cest: '2026-10-25T00:30:00Z', // 02:30 CEST
      cet: '2026-10-25T01:30:00Z', // 02:30 CET, one hour later
      earlyDay: '2026-10-24T22:00:00Z', // 00:00 CEST on the 25th
      lateDay: '2026-10-25T22:59:59Z', // 23:59:59 CET on the 25th
      older: '2026-10-24T21:59:59Z', // 23:59:59 CEST on the 24th
    };
    const hourly = plan({ cest: snaps.cest, cet: snaps.cet, before: '2026-10-24T23:30:00Z' }, 'hourly=2', { tz: 'Europe/Berlin' });
    // One bucket for both 02:30s: the CET one (newer) is kept for it, the next kept is 01:30 CEST.
    expect(hourly.keep).toEqual({ cet: ['hourly snapshot (2026-10-25 02:00)'], before: ['hourly snapshot (2026-10-25 01:00)'] });
    expect(hourly.delete).toEqual(['cest']);
    const daily = plan(snaps, 'daily=2', { tz: 'Europe/Berlin' });
    expect(daily.keep).toEqual({ lateDay: ['daily snapshot (2026-10-25)'], older: ['daily snapshot (2026-10-24)'] });
    expect(daily.delete).toEqual(['cet', 'cest', 'earlyDay']);
  });

  it('America/New_York: days, weeks and months follow Eastern time across both DST changes', () => {
    // Spring forward 2026-03-08 07:00Z (02:00 EST → 03:00 EDT): local midnight is 05:00Z before, 04:00Z after.
    const spring = plan({ a: '2026-03-08T04:59:59Z', b: '2026-03-08T05:00:00Z', c: '2026-03-09T03:59:59Z', d: '2026-03-09T04:00:00Z' }, 'daily=3', {
      tz: 'America/New_York',
    });
    expect(spring.keep).toEqual({ d: ['daily snapshot (2026-03-09)'], c: ['daily snapshot (2026-03-08)'], a: ['daily snapshot (2026-03-07)'] });
    // Fall back 2026-11-01 06:00Z. Sunday 11-01 23:30 EST is Monday 04:30Z: same ISO week as Monday 10-26 in New York.
    const weekly = plan({ sunNight: '2026-11-02T04:30:00Z', mon: '2026-10-26T12:00:00Z', prev: '2026-10-25T12:00:00Z' }, 'weekly=2', {
      tz: 'America/New_York',
    });
    expect(weekly.keep).toEqual({ sunNight: ['weekly snapshot (2026-W44)'], prev: ['weekly snapshot (2026-W43)'] });
    expect(plan({ sunNight: '2026-11-02T04:30:00Z', mon: '2026-10-26T12:00:00Z', prev: '2026-10-25T12:00:00Z' }, 'weekly=2').keep).toEqual({
      sunNight: ['weekly snapshot (2026-W45)'],
      mon: ['weekly snapshot (2026-W44)'],
    });
    // 2026-03-31 23:30 EDT is April 1st 03:30Z: March in New York.
    const monthly = plan({ endOfMarch: '2026-04-01T03:30:00Z', midMarch: '2026-03-15T12:00:00Z', feb: '2026-02-10T12:00:00Z' }, 'monthly=2', {
      tz: 'America/New_York',
    });
    expect(monthly.keep).toEqual({ endOfMarch: ['monthly snapshot (2026-03)'], feb: ['monthly snapshot (2026-02)'] });
  });

  it('keep-within across a DST change: calendar days are local, hours are elapsed', () => {
    // Newest 2026-03-29 12:00Z = 14:00 CEST. One day back on the Berlin calendar is 03-28 14:00 CET = 13:00Z (23 h earlier).
    const snaps = { n: '2026-03-29T12:00:00Z', a: '2026-03-28T13:30:00Z', b: '2026-03-28T12:30:00Z' };
    expect(keptIds(plan(snaps, 'within=1d', { tz: 'Europe/Berlin' }))).toEqual(['n', 'a']);
    expect(keptIds(plan(snaps, 'within=1d'))).toEqual(['n', 'a', 'b']);
    // 24h is elapsed time in any zone: the cutoff is 03-28 12:00Z.
    expect(keptIds(plan(snaps, 'within=24h', { tz: 'Europe/Berlin' }))).toEqual(['n', 'a', 'b']);
  });
});

describe('protections', () => {
  const base = (): RetentionCandidate[] => [
    { id: 'd', time: ms('2026-03-04T00:00:00Z') },
    { id: 'c', time: ms('2026-03-03T00:00:00Z'), verified: true },
    { id: 'b', time: ms('2026-03-02T00:00:00Z'), verified: true },
    { id: 'a', time: ms('2026-03-01T00:00:00Z') },
  ];
  const now = '2026-03-05T00:00:00Z';

  it('never deletes the newest verified snapshot (only the newest one is protected)', () => {
    const o = plan(base(), 'last=1', { now });
    expect(o.keep).toEqual({ d: ['last snapshot'], c: ['newest verified snapshot (protected)'] });
    expect(o.delete).toEqual(['b', 'a']);
  });

  it('keeps snapshots in use by a restore or a drill, naming the holders', () => {
    const snaps = base();
    snaps[3]!.inUseBy = ['drill:dr-1', 'restore:task-9'];
    expect(plan(snaps, 'last=1', { now }).keep.a).toEqual(['in use by drill:dr-1, restore:task-9 (protected)']);
  });

  it('keeps snapshots under Object Lock until their retain-until date, and under legal hold', () => {
    const snaps = base();
    snaps[2]!.retainUntil = ms('2026-03-06T00:00:00Z'); // b: still locked at `now`
    snaps[3]!.retainUntil = ms('2026-03-04T00:00:00Z'); // a: lock expired
    const o = plan(snaps, 'last=1', { now });
    expect(o.keep.b).toEqual(['S3 Object Lock until 2026-03-06T00:00:00.000Z (protected)']);
    expect(o.delete).toEqual(['a']);
    snaps[3]!.legalHold = true;
    expect(plan(snaps, 'last=1', { now }).keep.a).toEqual(['S3 Object Lock legal hold (protected)']);
  });

  it('adds protection reasons to rule reasons and does not count them against the rules', () => {
    const snaps = base();
    snaps[0]!.verified = true;
    const o = plan(snaps, 'last=2', { now });
    expect(o.keep).toEqual({ d: ['last snapshot', 'newest verified snapshot (protected)'], c: ['last snapshot'] });
  });

  it('lists deletions oldest first', () => {
    const snaps = base();
    const rules = retentionRules({ last: 1 }, 'test');
    const p = planRetention(snaps, rules, { now: ms(now) });
    expect(plannedDeletions(p).map((i) => snaps[i]!.id)).toEqual(['a', 'b']);
    expect(p).toMatchObject({ kept: 2, deleted: 2, keptByRules: 1 });
  });

  it('refuses, even with hand-built rules, a plan whose rules keep nothing', () => {
    const none = { counts: { last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, quarterly: 0, yearly: 0 }, timezone: 'UTC' };
    expect(() => planRetention(base(), none, { now: ms(now) })).toThrow('refusing a retention plan whose rules would delete all 4 snapshots');
    // Protections alone do not make such rules acceptable.
    expect(() => planRetention(base(), none, { now: ms(now) })).toThrow(RetentionPolicyError);
  });

  it('plans an empty catalog as nothing to do', () => {
    const p = planRetention([], retentionRules({ last: 1 }, 'test'), { now: 0 });
    expect(p).toMatchObject({ kept: 0, deleted: 0, anchor: undefined });
  });
});
