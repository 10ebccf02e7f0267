/**
 * The pure side of `lifeboat check`: percentages, the seeded subset of packs, the verdict.
 */
import { describe, expect, it } from 'vitest';
import {
  buildCheckReport,
  describeReadData,
  MAX_PROBLEMS_LISTED,
  ProblemList,
  parsePercent,
  type SnapshotCheck,
  selectSubset,
} from '../../lambdas/domain/check.js';
import { UsageError } from '../../lambdas/domain/errors.js';

describe('parsePercent', () => {
  it.each([
    ['10%', 10],
    ['10', 10],
    [' 2.5 % ', 2.5],
    ['100%', 100],
  ])('%s → %s', (text, n) => expect(parsePercent(text)).toBe(n));

  it.each(['0', '0%', '101%', '-5%', 'ten', '', '5%%', '1e2'])('refuses %j with a UsageError naming it', (text) => {
    expect(() => parsePercent(text)).toThrow(UsageError);
    expect(() => parsePercent(text)).toThrow(`--read-data-subset ${JSON.stringify(text)} is not a percentage between 0 and 100`);
  });
});

describe('selectSubset', () => {
  const keys = Array.from({ length: 200 }, (_, i) => `pack:${i.toString(16).padStart(64, '0')}`);

  it('picks ceil(N%) of the keys, at least one, and the same ones for the same seed', () => {
    expect(selectSubset(keys, 10, 'a').size).toBe(20);
    expect(selectSubset(keys, 0.1, 'a').size).toBe(1);
    expect(selectSubset(keys, 100, 'a').size).toBe(200);
    expect(selectSubset([], 50, 'a').size).toBe(0);
    expect([...selectSubset(keys, 10, 'a')]).toEqual([...selectSubset([...keys].reverse(), 10, 'a')]);
  });

  it('different seeds pick different packs, and rotating seeds covers them all', () => {
    expect(selectSubset(keys, 10, 'a')).not.toEqual(selectSubset(keys, 10, 'b'));
    const seen = new Set<string>();
    for (let day = 0; day < 150 && seen.size < keys.length; day++) for (const k of selectSubset(keys, 10, `day-${day}`)) seen.add(k);
    expect(seen.size).toBe(keys.length);
  });
});

describe('the report', () => {
  const snap = (id: string, result: SnapshotCheck['result']): SnapshotCheck => ({
    service: 's',
    id,
    status: 'complete',
    format: 'v2',
    result,
    problems: result === 'damaged' ? ['pack x is missing'] : [],
    problemCount: result === 'damaged' ? 1 : 0,
    objects: 1,
  });
  const counts = { packsChecked: 1, partsChecked: 0, packsRead: 0, partsRead: 0, bytesRead: 10, durationMs: 5 };

  it('is ok (exit 0) with no damaged snapshot; deleting ones do not count as damage', () => {
    const r = buildCheckReport({
      readData: { mode: 'none' },
      services: ['s'],
      snapshots: [snap('a', 'ok'), snap('b', 'deleting')],
      damagedObjects: [],
      counts,
    });
    expect(r).toMatchObject({ verdict: 'ok', exitCode: 0, damaged: [], summary: { snapshotsChecked: 2, damagedSnapshots: 0, deletingSnapshots: 1 } });
  });

  it('is damaged (exit 1) listing each damaged snapshot', () => {
    const r = buildCheckReport({ readData: { mode: 'all' }, services: ['s'], snapshots: [snap('a', 'damaged'), snap('b', 'ok')], damagedObjects: [], counts });
    expect(r).toMatchObject({ verdict: 'damaged', exitCode: 1, summary: { damagedSnapshots: 1 } });
    expect(r.damaged.map((d) => d.id)).toEqual(['a']);
  });

  it('says how the subset was chosen', () => {
    expect(describeReadData({ mode: 'subset', percent: 10, seed: 'n', selection: 'seeded' })).toBe(
      '10% of packs and parts read and verified, chosen by --seed n',
    );
    expect(describeReadData({ mode: 'subset', percent: 5, seed: 'ab12', selection: 'random' })).toMatch(/chosen at random \(seed ab12; pass --seed ab12/);
  });

  it('keeps at most MAX_PROBLEMS_LISTED problems per snapshot, and counts them all', () => {
    const p = new ProblemList();
    for (let i = 0; i < MAX_PROBLEMS_LISTED + 7; i++) p.add(`problem ${i}`);
    expect(p.items).toHaveLength(MAX_PROBLEMS_LISTED);
    expect(p.count).toBe(MAX_PROBLEMS_LISTED + 7);
  });
});
