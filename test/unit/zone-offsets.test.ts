/**
 * The cached UTC offsets used to bucket snapshots agree with Luxon's exact answer, in every
 * IANA zone the runtime knows, for sorted runs of instants (the planner's access pattern)
 * and at the instant of each transition.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CELL_MS, ZoneOffsets } from '../../lambdas/domain/zone-offsets.js';

const FROM = Date.UTC(1970, 0, 1);
const TO = Date.UTC(2040, 0, 1);

describe('ZoneOffsets', () => {
  it('matches Luxon for sorted runs of instants in every zone, 1970–2040', () => {
    const zones = Intl.supportedValuesOf('timeZone');
    expect(zones.length).toBeGreaterThan(300);
    const runArb = fc
      .tuple(fc.integer({ min: FROM, max: TO }), fc.array(fc.integer({ min: 0, max: 3 * CELL_MS }), { minLength: 1, maxLength: 25 }), fc.boolean())
      .map(([start, steps, descending]) => {
        let t = start;
        const ts = steps.map((s) => (t += s));
        return descending ? ts.reverse() : ts;
      });
    for (const [i, zone] of zones.entries()) {
      const runs = fc.sample(runArb, { seed: 1000 + i, numRuns: 2 });
      for (const run of runs) {
        const cached = new ZoneOffsets(zone);
        const exact = new ZoneOffsets(zone);
        for (const t of run) expect(cached.offsetMs(t), `${zone} at ${new Date(t).toISOString()}`).toBe(exact.exactOffsetMs(t));
      }
    }
  });

  it.each(['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Pacific/Chatham', 'America/Santiago', 'Africa/Casablanca'])(
    'is exact to the millisecond around every transition of %s, 2024–2027',
    (zone) => {
      const exact = new ZoneOffsets(zone);
      let transitions = 0;
      let previous = exact.exactOffsetMs(Date.UTC(2024, 0, 1));
      for (let t = Date.UTC(2024, 0, 1); t < Date.UTC(2028, 0, 1); t += 30 * 60_000) {
        const o = exact.exactOffsetMs(t);
        if (o === previous) continue;
        previous = o;
        transitions++;
        // Find the first millisecond of the new offset the slow way, then ask the cache around it.
        let lo = t - 30 * 60_000;
        let hi = t;
        while (hi - lo > 1) {
          const mid = lo + Math.floor((hi - lo) / 2);
          if (exact.exactOffsetMs(mid) === o) hi = mid;
          else lo = mid;
        }
        for (const probe of [hi - 1, hi, hi + 1]) {
          expect(new ZoneOffsets(zone).offsetMs(probe), `${zone} at ${new Date(probe).toISOString()}`).toBe(exact.exactOffsetMs(probe));
        }
      }
      // Every zone listed changes its clocks at least twice a year (Casablanca: around Ramadan).
      expect(transitions).toBeGreaterThan(3);
    },
  );

  it('asks Luxon about once per day touched, not once per instant', () => {
    const offsets = new ZoneOffsets('Europe/Berlin');
    const start = Date.UTC(2026, 0, 1);
    for (let i = 0; i < 100_000; i++) offsets.offsetMs(start + i * 60_000); // 100k minutes ≈ 70 days
    expect(offsets.lookups).toBeLessThan(71 + 2 * 30);
  });

  it('knows UTC without asking', () => {
    const utc = new ZoneOffsets('UTC');
    expect(utc.offsetMs(Date.UTC(2026, 5, 1))).toBe(0);
    expect(utc.lookups).toBe(0);
    expect(() => new ZoneOffsets('Nowhere/Special')).toThrow(/not an IANA time zone/);
  });
});
