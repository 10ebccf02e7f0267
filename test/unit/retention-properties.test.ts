/**
 * Properties of the planner, checked with fast-check on fixed seeds (reproducible runs):
 *
 * - it agrees with a slow, obviously-restic reference that asks Luxon for every period
 *   of every snapshot (so the fast period keys and the cached UTC offsets are right,
 *   around DST changes and in zones with odd offsets);
 * - planning the kept set again deletes nothing;
 * - adding a newer snapshot never resurrects a deleted one;
 * - without keep-within or protections it keeps at most the sum of the counts.
 */
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { KEEP_RULES } from '../../lambdas/domain/keep-rules.js';
import { describeReason, planRetention, type RetentionCandidate } from '../../lambdas/domain/retention.js';
import { type RetentionPolicy, type RetentionRules, retentionRules } from '../../lambdas/domain/retention-policy.js';

const HOUR = 3_600_000;
// DST changes in 2026 (Europe: Mar 29, Oct 25 01:00Z; US: Mar 8 07:00Z, Nov 1 06:00Z) and New Year.
const PIVOTS = ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z', '2026-12-31T23:00:00Z'].map(Date.parse);
const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'Pacific/Chatham', 'America/St_Johns'];

const policyArb: fc.Arbitrary<RetentionPolicy> = fc
  .record({
    last: fc.integer({ min: 0, max: 5 }),
    hourly: fc.integer({ min: 0, max: 6 }),
    daily: fc.integer({ min: 0, max: 6 }),
    weekly: fc.integer({ min: 0, max: 4 }),
    monthly: fc.integer({ min: 0, max: 3 }),
    quarterly: fc.integer({ min: 0, max: 2 }),
    yearly: fc.integer({ min: 0, max: 2 }),
    within: fc.option(fc.record({ d: fc.integer({ min: 0, max: 4 }), h: fc.integer({ min: 0, max: 30 }) }), { nil: undefined }),
    timezone: fc.constantFrom(...ZONES),
  })
  .map(({ within, ...p }) => {
    const policy: RetentionPolicy = { ...p, ...(within ? { within: `${within.d}d${within.h}h` } : {}) };
    const keeps = KEEP_RULES.some((r) => (policy[r.jsonKey] ?? 0) > 0) || (within && within.d + within.h > 0);
    return keeps ? policy : { ...policy, last: 1 };
  });

/** Times around a pivot (many within hours of it), minute precision, duplicates possible. */
const minutesArb = fc.oneof(fc.integer({ min: -40 * 24 * 60, max: 40 * 24 * 60 }), fc.integer({ min: -36 * 60, max: 36 * 60 }));
const snapshotsArb = (max: number) =>
  fc
    .tuple(fc.constantFrom(...PIVOTS), fc.array(minutesArb, { minLength: 0, maxLength: max }), fc.array(fc.boolean(), { maxLength: max }))
    .map(([pivot, minutes, verified]) =>
      minutes.map((m, i): RetentionCandidate => ({ id: `s${String(i).padStart(3, '0')}`, time: pivot + m * 60_000, verified: verified[i] ?? false })),
    );

/** restic's ApplyPolicy, written plainly: Luxon formats every period of every snapshot. */
function referencePlan(snapshots: readonly RetentionCandidate[], rules: RetentionRules, now: number): Map<string, string[]> {
  const list = [...snapshots].sort((a, b) => b.time - a.time || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const zone = rules.timezone;
  const fmt = { hourly: 'yyyyMMddHH', daily: 'yyyyMMdd', weekly: 'kkkkWW', monthly: 'yyyyMM', quarterly: 'yyyyq', yearly: 'yyyy' } as const;
  const label = (rule: keyof typeof fmt, t: number) => DateTime.fromMillis(t, { zone }).toFormat(fmt[rule]);
  const latest = list.find((s) => s.time < now)?.time;
  let cutoff = Number.NEGATIVE_INFINITY;
  if (rules.within && latest !== undefined) {
    const d = rules.within.duration; // the arbitraries use days and hours only: Luxon's calendar days = Go's AddDate days
    cutoff = DateTime.fromMillis(latest, { zone }).minus({ days: d.days }).toMillis() - d.hours * HOUR;
  }
  const buckets = KEEP_RULES.map(({ name: rule }) => ({ rule, count: rules.counts[rule], last: undefined as string | undefined }));
  const out = new Map<string, string[]>();
  list.forEach((s, nr) => {
    const why: string[] = [];
    if (rules.within && s.time > cutoff) why.push(`within ${rules.within.text} of the newest`);
    for (const b of buckets) {
      if (b.count <= 0) continue;
      const val = b.rule === 'last' ? String(nr) : label(b.rule, s.time);
      if (val !== b.last || nr === list.length - 1) {
        const oldest = val === b.last;
        b.last = val;
        b.count--;
        why.push(describeReason({ kind: 'rule', rule: b.rule, oldest }, s.time, zone));
      }
    }
    if (why.length) out.set(s.id, why);
  });
  const newestVerified = list.find((s) => s.verified);
  if (newestVerified) out.set(newestVerified.id, [...(out.get(newestVerified.id) ?? []), 'newest verified snapshot (protected)']);
  return out;
}

function fastPlan(snapshots: readonly RetentionCandidate[], rules: RetentionRules, now: number): Map<string, string[]> {
  const p = planRetention(snapshots, rules, { now });
  const out = new Map<string, string[]>();
  snapshots.forEach((s, i) => {
    const why = p.reasons[i];
    if (why)
      out.set(
        s.id,
        why.map((r) => describeReason(r, s.time, rules.timezone)),
      );
  });
  return out;
}

const nowArb = fc.integer({ min: -41 * 24, max: 41 * 24 }).map((h) => h * HOUR);

describe('planner properties', () => {
  it('agrees with the plain reference implementation (reasons included)', () => {
    fc.assert(
      fc.property(snapshotsArb(60), policyArb, nowArb, (snaps, policy, nowDelta) => {
        const rules = retentionRules(policy, 'property');
        const now = (snaps[0]?.time ?? 0) + nowDelta;
        const fast = fastPlan(snaps, rules, now);
        const ref = referencePlan(snaps, rules, now);
        expect(Object.fromEntries(fast)).toEqual(Object.fromEntries(ref));
      }),
      { seed: 20261127, numRuns: 400 },
    );
  });

  it('planning the kept set again deletes nothing', () => {
    fc.assert(
      fc.property(snapshotsArb(80), policyArb, nowArb, (snaps, policy, nowDelta) => {
        const rules = retentionRules(policy, 'property');
        const now = (snaps[0]?.time ?? 0) + nowDelta;
        const first = planRetention(snaps, rules, { now });
        const kept = snaps.filter((_, i) => first.reasons[i] !== undefined);
        const again = planRetention(kept, rules, { now });
        expect(again.deleted).toBe(0);
      }),
      { seed: 4242, numRuns: 400 },
    );
  });

  it('adding a newer snapshot never resurrects a deleted one', () => {
    fc.assert(
      fc.property(
        snapshotsArb(80).filter((s) => s.length > 0),
        policyArb,
        nowArb,
        fc.integer({ min: 0, max: 10 * 24 * 60 }),
        fc.boolean(),
        (snaps, policy, nowDelta, laterMinutes, verified) => {
          const rules = retentionRules(policy, 'property');
          const now = snaps[0]!.time + nowDelta;
          const newest = Math.max(...snaps.map((s) => s.time));
          const before = planRetention(snaps, rules, { now });
          const grown = [...snaps, { id: 'z-new', time: newest + 1 + laterMinutes * 60_000, verified }];
          const after = planRetention(grown, rules, { now });
          snaps.forEach((s, i) => {
            if (before.reasons[i] === undefined) expect(after.reasons[i], `${s.id} was deleted, then kept`).toBeUndefined();
          });
        },
      ),
      { seed: 77, numRuns: 400 },
    );
  });

  it('without keep-within and protections, keeps at most the sum of the counts (oldest included)', () => {
    fc.assert(
      fc.property(snapshotsArb(80), policyArb, (snaps, policy) => {
        const { within: _w, ...counted } = policy;
        const rules = retentionRules(KEEP_RULES.some((r) => (counted[r.jsonKey] ?? 0) > 0) ? counted : { ...counted, last: 1 }, 'property');
        const plain = snaps.map(({ id, time }) => ({ id, time }));
        const p = planRetention(plain, rules, { now: Number.MAX_SAFE_INTEGER });
        const sum = KEEP_RULES.reduce((acc, r) => acc + rules.counts[r.name], 0);
        expect(p.kept).toBeLessThanOrEqual(sum);
        if (plain.length > 0) expect(p.kept).toBeGreaterThan(0);
      }),
      { seed: 9, numRuns: 300 },
    );
  });

  it('gives every kept snapshot at least one reason and a deleted one none, in any input order', () => {
    fc.assert(
      fc.property(snapshotsArb(40), policyArb, fc.integer(), (snaps, policy, shuffleSeed) => {
        const rules = retentionRules(policy, 'property');
        const now = (snaps[0]?.time ?? 0) + HOUR;
        const shuffled = [...snaps].sort((a, b) => ((a.time * 31 + shuffleSeed) % 97) - ((b.time * 31 + shuffleSeed) % 97));
        const a = fastPlan(snaps, rules, now);
        const b = fastPlan(shuffled, rules, now);
        expect(Object.fromEntries(b)).toEqual(Object.fromEntries(a));
        for (const why of a.values()) expect(why.length).toBeGreaterThan(0);
      }),
      { seed: 1234, numRuns: 200 },
    );
  });
});
