import { describe, expect, it } from 'vitest';
import { UsageError } from '../../lambdas/domain/errors.js';
import { assertServiceName, isSnapshotId, makeSnapshotId, snapshotIdTime } from '../../lambdas/domain/ids.js';

describe('snapshot ids', () => {
  it('encode the creation time and sort by it as strings', () => {
    const times = ['2026-11-27T08:17:35.123Z', '2026-11-27T08:17:35.124Z', '2027-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z'];
    const ids = times.map((t, i) => makeSnapshotId(new Date(t), Uint8Array.of(255 - i, 1, 2, 3)));
    expect(ids[0]).toBe('20261127T081735.123Z-ff010203');
    expect([...ids].sort()).toEqual([ids[3], ids[0], ids[1], ids[2]]);
    for (const [i, id] of ids.entries()) {
      expect(isSnapshotId(id)).toBe(true);
      expect(snapshotIdTime(id).toISOString()).toBe(times[i]);
    }
  });

  it('rejects strings that are not ids', () => {
    for (const s of ['latest', '20261127T081735Z-ff010203', '20261127T081735.123Z-FF010203', '']) expect(isSnapshotId(s)).toBe(false);
    expect(() => snapshotIdTime('yesterday')).toThrow(UsageError);
  });
});

describe('service names', () => {
  it('accept ECS-style names', () => {
    for (const n of ['postgres', 'wiki-prod', 'ci_server.1', 'A'.repeat(255)]) expect(assertServiceName(n)).toBe(n);
  });
  it.each([
    ['', /no service given/],
    ['a/b', /not valid/],
    ['a#b', /not valid/],
    ['-lead', /not valid/],
    ['x'.repeat(256), /not valid/],
  ])('reject %j', (n, msg) => expect(() => assertServiceName(n)).toThrow(msg));
});
