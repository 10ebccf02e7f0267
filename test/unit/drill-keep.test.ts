import { describe, expect, it } from 'vitest';
import type { DrillStore } from '../../lambdas/adapters/drill-store.js';
import { stopOverdueDrills } from '../../lambdas/control/drills/finalize.js';
import { summarizeDrill } from '../../lambdas/domain/drill-report.js';
import { buildDrillRunTask, DRILL_ENV, type DrillRecord, keepExpired, keptConclusion } from '../../lambdas/domain/drills.js';
import { fixtureDrill } from '../support/drill-fixtures.js';

const NOW = new Date('2026-11-27T12:00:00Z');

function running(overrides: Partial<DrillRecord> = {}): DrillRecord {
  const d = fixtureDrill('kv', 0.1, { status: 'running', keep: { seconds: 3600 }, ...overrides });
  for (const k of ['finishedAt', 'finishedBy', 'reason', 'exitCode', 'stopCode', 'rtoSeconds', 'overTarget', 'withinTargets'] as const) delete d[k];
  return d;
}

describe('drill --keep', () => {
  it('tells the drill task to stay up', () => {
    const env = buildDrillRunTask(running()).overrides!.containerOverrides![0]!.environment!;
    expect(env).toContainEqual({ name: DRILL_ENV.keep, value: '3600' });
    expect(buildDrillRunTask(running({ keep: undefined })).overrides!.containerOverrides![0]!.environment!.map((e) => e.name)).not.toContain(DRILL_ENV.keep);
  });

  it('concludes from the agent result while the task runs, and starts the keep window', () => {
    const c = keptConclusion(running(), NOW)!;
    expect(c).toMatchObject({
      status: 'passed',
      finishedBy: 'agent',
      finishedAt: NOW.toISOString(),
      keep: { seconds: 3600, until: '2026-11-27T13:00:00.000Z' },
    });
    const failed = keptConclusion(running({ agent: { ...running().agent!, outcome: 'failed', reason: 'verify failed' } }), NOW)!;
    expect(failed).toMatchObject({ status: 'failed', reason: 'verify failed' });
    expect(keptConclusion(running({ agent: undefined }), NOW)).toBeUndefined();
    expect(keptConclusion(running({ keep: undefined }), NOW)).toBeUndefined();
  });

  it('expires once the window is over, and only once', () => {
    const done = { status: 'passed' as const, keep: { seconds: 60, until: '2026-11-27T11:59:00.000Z' } };
    expect(keepExpired(done, NOW)).toBe(true);
    expect(keepExpired({ ...done, keep: { ...done.keep, stoppedAt: '2026-11-27T11:59:30.000Z' } }, NOW)).toBe(false);
    expect(keepExpired({ ...done, keep: { seconds: 60, until: '2026-11-27T12:01:00.000Z' } }, NOW)).toBe(false);
    expect(keepExpired({ status: 'running', keep: done.keep }, NOW)).toBe(false);
  });

  it('is marked in the reports', () => {
    const d = fixtureDrill('kv', 1, { keep: { seconds: 3600, until: '2026-11-27T13:00:00.000Z' } });
    expect(summarizeDrill(d, 'deciding').reason).toMatch(/\[task kept for inspection until 2026-11-27T13:00:00.000Z\]$/);
  });

  it('the drill watchdog stops a kept task whose window is over, once', async () => {
    const kept = fixtureDrill('kv', 2, { keep: { seconds: 60, until: '2026-11-27T11:00:00.000Z' } });
    const fresh = fixtureDrill('kv', 0.5, { keep: { seconds: 7200, until: '2026-11-27T13:00:00.000Z' } });
    const records = new Map([kept, fresh].map((d) => [d.drillId, d]));
    const stopped: string[] = [];
    const drills = {
      name: 't',
      get: async (_s: string, id: string) => records.get(id),
      async *list(_s: string, o: { running?: boolean } = {}) {
        for (const d of records.values()) if (!o.running || d.status === 'running') yield d;
      },
      markKeepStopped: async (_s: string, id: string, at: string) => {
        const d = records.get(id)!;
        records.set(id, { ...d, keep: { ...d.keep!, stoppedAt: at } });
      },
    } as unknown as DrillStore;
    const deps = {
      drills,
      registry: { list: async () => ['kv'] } as never,
      launcher: { stopTask: async (_c: string, arn: string) => void stopped.push(arn) } as never,
      clock: () => NOW,
    };
    const r = await stopOverdueDrills(deps);
    expect(stopped).toEqual([kept.taskArn]);
    expect(r.keptStopped?.map((d) => d.drillId)).toEqual([kept.drillId]);
    await stopOverdueDrills(deps);
    expect(stopped).toHaveLength(1);
  });
});
