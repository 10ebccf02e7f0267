/** GC's pure decisions (domain/gc.ts). */
import { describe, expect, it } from 'vitest';
import type { IndexPack } from '../../lambdas/domain/blob-index.js';
import { orphanSnapshotObjects, planIndexRewrite, planMark, planSweep, unindexedPacks } from '../../lambdas/domain/gc.js';
import { validateRetentionPolicy } from '../../lambdas/domain/retention-policy.js';

const h = (c: string) => c.repeat(64);
const pack = (id: string, blobs: [string, number][]): IndexPack => {
  let at = 8;
  return {
    id: h(id),
    size: 8 + blobs.reduce((s, [, n]) => s + n, 0) + 100,
    blobs: blobs.map(([b, n]) => {
      const row: [string, number, number, number, number] = [h(b), at, n, n, 0];
      at += n;
      return row;
    }),
  };
};
const NOW = 1_000_000_000;
const OLD = NOW - 10_000;
const stored = (...ps: IndexPack[]) => new Map(ps.map((p) => [p.id, { id: p.id, size: p.size, lastModified: OLD }]));

describe('planMark', () => {
  const a = pack('a', [
    ['1', 100],
    ['2', 100],
  ]);
  const b = pack('b', [
    ['3', 100],
    ['4', 300],
  ]);
  const c = pack('c', [['5', 100]]);

  it('calls a pack with no referenced blob garbage, one under half live sparse, the rest live', () => {
    const plan = planMark({
      indexPacks: [a, b, c],
      stored: stored(a, b, c),
      referenced: new Set([h('1'), h('2'), h('3')]),
      condemned: new Set(),
      now: NOW,
      graceMs: 1000,
    });
    expect(plan.garbage).toEqual([h('c')]);
    expect(plan.sparse).toEqual([h('b')]);
    expect([...plan.homes]).toEqual([[h('3'), h('b')]]);
    expect(plan.packs.find((p) => p.id === h('a'))?.state).toBe('live');
  });

  it('leaves packs younger than the grace alone, and packs already condemned to their sweep', () => {
    const s = stored(a, b, c);
    s.set(h('c'), { ...s.get(h('c'))!, lastModified: NOW - 10 });
    const plan = planMark({ indexPacks: [a, b, c], stored: s, referenced: new Set(), condemned: new Set([h('a')]), now: NOW, graceMs: 1000 });
    expect(plan.garbage).toEqual([h('b')]);
    expect(plan.packs.map((p) => p.state)).toEqual(['condemned', 'garbage', 'young']);
  });

  it('homes a duplicated blob in one pack, so the other copy is dead bytes', () => {
    const dup = pack('d', [['1', 100]]);
    const plan = planMark({ indexPacks: [a, dup], stored: stored(a, dup), referenced: new Set([h('1'), h('2')]), condemned: new Set(), now: NOW, graceMs: 0 });
    expect(plan.garbage).toEqual([h('d')]);
  });

  it('reports referenced blobs no usable pack holds (pending rescue or damage)', () => {
    const plan = planMark({ indexPacks: [a], stored: stored(a), referenced: new Set([h('1'), h('9')]), condemned: new Set(), now: NOW, graceMs: 0 });
    expect(plan.unhomed).toEqual([h('9')]);
  });
});

describe('planSweep', () => {
  const list = { key: 'l', createdAt: NOW - 5000, packs: [h('a'), h('b')] };
  const base = {
    list,
    now: NOW,
    graceMs: 1000,
    uploading: [],
    referenced: new Set<string>(),
    surviving: new Set<string>(),
    packBlobs: new Map([
      [h('a'), [h('1')]],
      [h('b'), [h('2')]],
    ]),
    skewMs: 100,
  };

  it('waits for the grace to pass', () => {
    expect(planSweep({ ...base, graceMs: 10_000 }).action).toBe('wait');
  });

  it('waits for a snapshot that began before the list (up to clock skew), not for one after it', () => {
    expect(planSweep({ ...base, uploading: [{ id: 's', createdAt: list.createdAt + 50 }] }).action).toBe('wait');
    expect(planSweep({ ...base, uploading: [{ id: 's', createdAt: list.createdAt + 500 }] }).action).toBe('sweep');
  });

  it('rescues a pack holding a referenced blob found nowhere else', () => {
    expect(planSweep({ ...base, referenced: new Set([h('1'), h('2')]), surviving: new Set([h('2')]) })).toEqual({
      action: 'sweep',
      doomed: [h('b')],
      rescued: [h('a')],
    });
  });
});

describe('planIndexRewrite', () => {
  it('replaces only the files that list a doomed pack, keeping their other packs once', () => {
    const a = pack('a', [['1', 1]]);
    const b = pack('b', [['2', 1]]);
    const c = pack('c', [['3', 1]]);
    const r = planIndexRewrite(
      [
        { key: 'x', packs: [a, b] },
        { key: 'y', packs: [c] },
        { key: 'z', packs: [b] },
      ],
      new Set([h('a')]),
    );
    expect(r.replace).toEqual(['x']);
    expect(r.keep.map((p) => p.id)).toEqual([h('b')]);
  });
});

describe('leftovers', () => {
  it('removes an unindexed pack only when old and older than every snapshot still uploading', () => {
    const ps = [
      { id: 'old', size: 1, lastModified: OLD },
      { id: 'young', size: 1, lastModified: NOW },
      { id: 'indexed', size: 1, lastModified: OLD },
    ];
    expect(unindexedPacks({ stored: ps, indexed: new Set(['indexed']), uploading: [], now: NOW, graceMs: 1000 })).toEqual(['old']);
    expect(unindexedPacks({ stored: ps, indexed: new Set(), uploading: [{ id: 's', createdAt: OLD - 1 }], now: NOW, graceMs: 1000, skewMs: 0 })).toEqual([]);
  });

  it('removes old snapshot objects whose snapshot has no catalog entry', () => {
    const objs = [
      { key: 'k1', snapshotId: 'gone', lastModified: OLD },
      { key: 'k2', snapshotId: 'gone', lastModified: NOW },
      { key: 'k3', snapshotId: 'kept', lastModified: OLD },
      { key: 'k4', snapshotId: 'gone' },
    ];
    expect(orphanSnapshotObjects(objs, new Set(['kept']), NOW, 1000)).toEqual(['k1']);
  });
});

describe('the grace in the policy', () => {
  it('accepts a whole number of seconds of at least an hour and names the bad value otherwise', () => {
    expect(() => validateRetentionPolicy({ gcGraceSeconds: 7200 })).not.toThrow();
    expect(() => validateRetentionPolicy({ gcGraceSeconds: 60 })).toThrow(/gcGraceSeconds is 60; .*at least 3600/);
    expect(() => validateRetentionPolicy({ gcGraceSeconds: '1d' as never })).toThrow(/gcGraceSeconds is "1d"/);
  });
});
