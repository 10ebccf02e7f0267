import { describe, expect, it } from 'vitest';
import { OperationFailedError, UsageError } from '../../lambdas/domain/errors.js';
import { chooseSnapshotAt, parseTimeSelector } from '../../lambdas/domain/time-selector.js';

// Thursday 2026-11-26 10:30:00 UTC (11:30 in Paris).
const NOW = Date.parse('2026-11-26T10:30:00Z');
const at = (text: string, zone = 'UTC') => new Date(parseTimeSelector(text, { now: NOW, zone })).toISOString();

describe('parseTimeSelector', () => {
  it('reads ISO times, with an offset as given and without one in the zone', () => {
    expect(at('2026-11-20T08:00:00Z', 'Europe/Paris')).toBe('2026-11-20T08:00:00.000Z');
    expect(at('2026-11-20T08:00+02:00')).toBe('2026-11-20T06:00:00.000Z');
    expect(at('2026-11-20 08:00', 'Europe/Paris')).toBe('2026-11-20T07:00:00.000Z');
    expect(at('2026-11-20', 'America/New_York')).toBe('2026-11-20T05:00:00.000Z');
  });

  it('reads durations before now', () => {
    expect(at('2h')).toBe('2026-11-26T08:30:00.000Z');
    expect(at('1h30m ago')).toBe('2026-11-26T09:00:00.000Z');
    expect(at('3d')).toBe('2026-11-23T10:30:00.000Z');
    expect(at('90s')).toBe('2026-11-26T10:28:30.000Z');
    expect(at('now')).toBe('2026-11-26T10:30:00.000Z');
  });

  it('reads yesterday/today with a time of day in the zone, across a day boundary of the zone', () => {
    expect(at('yesterday 18:00', 'Europe/Paris')).toBe('2026-11-25T17:00:00.000Z');
    expect(at('yesterday 18:00')).toBe('2026-11-25T18:00:00.000Z');
    expect(at('today 09:15:30', 'Europe/Paris')).toBe('2026-11-26T08:15:30.000Z');
    // Without a time: the end of that day.
    expect(at('yesterday')).toBe('2026-11-25T23:59:59.999Z');
    // In Tokyo it is already 19:30 on the 26th; yesterday is the 25th there.
    expect(at('yesterday 18:00', 'Asia/Tokyo')).toBe('2026-11-25T09:00:00.000Z');
  });

  it('reads a bare time of day as the most recent one', () => {
    expect(at('09:00')).toBe('2026-11-26T09:00:00.000Z');
    expect(at('23:00')).toBe('2026-11-25T23:00:00.000Z');
  });

  it('refuses what it cannot read, naming the value', () => {
    for (const bad of ['', 'tomorrowish', 'yesterday 25:00', '2026-13-01', '2h later']) {
      expect(() => at(bad)).toThrow(UsageError);
    }
    expect(() => at('soon')).toThrow(/--at "soon" is not a time/);
    expect(() => at('2h', 'Mars/Olympus')).toThrow(/--tz "Mars\/Olympus" is not an IANA time zone/);
  });
});

describe('chooseSnapshotAt', () => {
  const snaps = [
    { id: 'c', createdAt: '2026-11-26T10:00:00.000Z' },
    { id: 'b', createdAt: '2026-11-26T06:00:00.000Z' },
    { id: 'a', createdAt: '2026-11-25T18:00:00.000Z' },
  ];
  const what = { service: 'kv', text: 'T' };

  it('picks the newest snapshot taken at or before the time, with its age then', () => {
    expect(chooseSnapshotAt(snaps, Date.parse('2026-11-26T09:00:00Z'), what)).toEqual({ snapshot: snaps[1], ageSeconds: 3 * 3600 });
    expect(chooseSnapshotAt(snaps, Date.parse('2026-11-26T06:00:00Z'), what).snapshot.id).toBe('b');
    expect(chooseSnapshotAt(snaps, Date.parse('2026-11-27T00:00:00Z'), what).snapshot.id).toBe('c');
  });

  it('refuses a time before the oldest snapshot, naming its time', () => {
    expect(() => chooseSnapshotAt(snaps, Date.parse('2026-11-25T17:59:59Z'), what)).toThrow(UsageError);
    expect(() => chooseSnapshotAt(snaps, Date.parse('2026-11-25T17:59:59Z'), what)).toThrow(
      /before the oldest complete snapshot of kv, a taken 2026-11-25T18:00:00.000Z/,
    );
    expect(() => chooseSnapshotAt([], NOW, what)).toThrow(OperationFailedError);
  });
});
