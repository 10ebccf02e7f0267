/**
 * The EMF document each finished drill emits: per-service dimension, 0/1 counts that
 * always appear (so alarms see data), and the measured seconds.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PowertoolsDrillMetrics } from '../../lambdas/adapters/drill-metrics.js';
import { fixtureDrill } from '../support/drill-fixtures.js';

function emitted(run: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    run();
  } finally {
    spy.mockRestore();
  }
  return lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

afterEach(() => vi.restoreAllMocks());

describe('PowertoolsDrillMetrics', () => {
  it('emits one EMF document per drill with the service as dimension', () => {
    const docs = emitted(() =>
      new PowertoolsDrillMetrics('LifeboatTest').drillFinished(fixtureDrill('billing-db', 2, { rtoSeconds: 80, rpoSeconds: 3600, snapshotAgeSeconds: 5400 })),
    );
    expect(docs).toHaveLength(1);
    const doc = docs[0]! as Record<string, unknown> & {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
    };
    const cw = doc._aws.CloudWatchMetrics[0]!;
    expect(cw.Namespace).toBe('LifeboatTest');
    expect(cw.Dimensions).toEqual([['service', 'ProtectedService']]);
    expect(doc.service).toBe('lifeboat');
    expect(doc.ProtectedService).toBe('billing-db');
    expect(Object.fromEntries(cw.Metrics.map((m) => [m.Name, m.Unit]))).toEqual({
      DrillsPassed: 'Count',
      DrillsFailed: 'Count',
      DrillsOverTarget: 'Count',
      DrillErrors: 'Count',
      DrillAlarm: 'Count',
      RestoreSeconds: 'Seconds',
      RtoSeconds: 'Seconds',
      SnapshotAgeSeconds: 'Seconds',
      RpoSeconds: 'Seconds',
    });
    expect(doc).toMatchObject({
      DrillsPassed: 1,
      DrillsFailed: 0,
      DrillsOverTarget: 0,
      DrillErrors: 0,
      DrillAlarm: 0,
      RestoreSeconds: 42.5,
      RtoSeconds: 80,
      SnapshotAgeSeconds: 5400,
      RpoSeconds: 3600,
    });
  });

  it.each([
    ['failed', { status: 'failed' as const, withinTargets: false }, { DrillsPassed: 0, DrillsFailed: 1, DrillsOverTarget: 0, DrillErrors: 0, DrillAlarm: 1 }],
    ['timed-out', { status: 'timed-out' as const, withinTargets: false }, { DrillsFailed: 1, DrillAlarm: 1 }],
    ['over target', { status: 'passed' as const, withinTargets: false, overTarget: ['rto' as const] }, { DrillsPassed: 0, DrillsOverTarget: 1, DrillAlarm: 1 }],
    ['error', { status: 'error' as const, withinTargets: false }, { DrillErrors: 1, DrillsFailed: 0, DrillAlarm: 1 }],
  ])('raises the alarm metric for a drill that %s', (_what, overrides, expected) => {
    const [doc] = emitted(() => new PowertoolsDrillMetrics('LifeboatTest').drillFinished(fixtureDrill('wiki', 1, overrides)));
    expect(doc).toMatchObject({ ProtectedService: 'wiki', ...expected });
  });
});
