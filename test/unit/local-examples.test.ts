/** Local mode's examples (`--example`) and the status view's drill checks (lambdas/local/examples.ts, status-view.ts). */
import { describe, expect, it } from 'vitest';
import type { DrillRecord } from '../../lambdas/domain/drills.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import { drillChecksStatus, localExample } from '../../lambdas/local/examples.js';
import type { LocalStatus } from '../../lambdas/local/local-mode.js';
import { renderStatus } from '../../lambdas/local/status-view.js';

describe('--example', () => {
  it('GIVEN no name THEN kv; GIVEN a misspelt one THEN a usage error naming it with did-you-mean', () => {
    expect(localExample(undefined).name).toBe('kv');
    let error: unknown;
    try {
      localExample('postgress');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toBe('--example "postgress" is not an example');
    expect((error as UsageError).hint).toContain('did you mean "postgres"');
  });
});

describe('the status view of drill checks', () => {
  const policy = normalizeServicePolicy({
    service: 'pg',
    recipe: 'postgres',
    drill: {
      checks: [{ type: 'integrity' }, { type: 'sql', name: 'kv has rows', query: 'select count(*) from kv', expect: { atLeast: 1 } }],
    },
  });
  const drill = (drillId: string, status: DrillRecord['status'], checks: { name: string; status: 'passed' | 'failed' }[]) =>
    ({
      drillId,
      status,
      agent: {
        outcome: status === 'passed' ? 'passed' : 'failed',
        reason: '',
        startedAt: '',
        reportedAt: '',
        checks: checks.map((c) => ({ ...c, durationSeconds: 1.5, message: `${c.name} said so` })),
      },
    }) as unknown as DrillRecord;

  it('GIVEN a policy without recipe or checks THEN nothing is shown', () => {
    expect(drillChecksStatus(normalizeServicePolicy({ service: 'kv' }), [])).toEqual({});
  });

  it("GIVEN drills THEN the recipe's checks and the policy's carry the newest finished drill's result, and the view prints them", () => {
    const drills = [
      drill('d3', 'running', []),
      drill('d2', 'failed', [
        { name: 'open', status: 'passed' },
        { name: 'canary', status: 'failed' },
      ]),
      drill('d1', 'passed', [{ name: 'integrity', status: 'passed' }]),
    ];
    const { checks } = drillChecksStatus(policy, drills);
    expect(checks).toEqual({
      recipe: 'postgres',
      items: [
        { name: 'open', type: 'open', status: 'passed', durationSeconds: 1.5, message: 'open said so' },
        { name: 'canary', type: 'canary', status: 'failed', durationSeconds: 1.5, message: 'canary said so' },
        { name: 'integrity', type: 'integrity' },
        { name: 'kv has rows', type: 'sql' },
      ],
    });
    const status: LocalStatus = {
      at: 0,
      service: 'pg',
      speed: 60,
      ephemeral: true,
      store: 'memory',
      stateDir: '/tmp/x',
      members: [],
      snapshots: [],
      drills: [],
      ...(checks ? { checks } : {}),
      schedules: [],
      activity: [],
      reports: [],
    };
    const text = renderStatus(status);
    expect(text).toContain('drill checks (postgres recipe)');
    expect(text).toMatch(/canary[ │]+canary[ │]+failed[ │]+1\.5 s[ │]+canary said so/);
    expect(text).toMatch(/kv has rows[ │]+sql[ │]+-[ │]+-[ │]/);
  });
});
